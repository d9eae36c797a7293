/* rattan_set_allocator: one hook for our allocations and jansson's. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "api_int.h"

/* jansson 2.14's lexer ignores a failure to grow its token buffer and then
 * asserts on what it finds there (lex_unget_unsave), which aborts the
 * process when memory runs out mid-token. So a block the host's allocator
 * refuses jansson comes from a small reserve instead. The refusal is
 * still counted (rt_alloc_failures), so the parse or dump that met it is
 * failed as out of memory by its caller (jparse, jdump_text), and the
 * blocks return to the reserve when jansson frees them. A block larger
 * than a slot, or one asked for when the reserve is empty, is refused. */
#define RESERVE_SLOTS 64
#define RESERVE_SLOT  4096

static _Alignas(max_align_t) unsigned char reserve[RESERVE_SLOTS][RESERVE_SLOT];
static uint64_t reserve_used; /* bit i: slot i is lent */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;

static void *from_reserve(size_t n) {
  void *p = NULL;
  if (n > RESERVE_SLOT) return NULL;
  pthread_mutex_lock(&reserve_lock);
  for (unsigned i = 0; i < RESERVE_SLOTS; i++)
    if (!(reserve_used & (UINT64_C(1) << i))) {
      reserve_used |= UINT64_C(1) << i;
      p = reserve[i];
      break;
    }
  pthread_mutex_unlock(&reserve_lock);
  return p;
}

static void *json_alloc(size_t n) {
  void *p = rt_malloc(n);
  return p ? p : from_reserve(n);
}

static void json_release(void *p) {
  uintptr_t at = (uintptr_t)p, lo = (uintptr_t)reserve;
  if (at >= lo && at < lo + sizeof reserve) {
    pthread_mutex_lock(&reserve_lock);
    reserve_used &= ~(UINT64_C(1) << ((at - lo) / RESERVE_SLOT));
    pthread_mutex_unlock(&reserve_lock);
    return;
  }
  rt_free(p);
}

int rattan_set_allocator(const rattan_allocator *a) {
  int rc = rt_set_allocator(a);
  if (rc == 0) json_set_alloc_funcs(json_alloc, json_release);
  return rc;
}
