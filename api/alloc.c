/* rattan_set_allocator: one hook for our allocations and jansson's. */
#include <jansson.h>

#include "api_int.h"

static void *json_alloc(size_t n) {
  return rt_malloc(n);
}
static void json_release(void *p) {
  rt_free(p);
}

int rattan_set_allocator(const rattan_allocator *a) {
  int rc = rt_set_allocator(a);
  if (rc == 0) json_set_alloc_funcs(json_alloc, json_release);
  return rc;
}
