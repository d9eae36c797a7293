/* Fuzz target bodies (see targets.h). */
#include "targets.h"

#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int fuzz_record(const uint8_t *data, size_t size) {
  st_state r, again;
  if (st_state_decode(data, size, &r, NULL)) return 0;
  buf b = {0};
  if (st_state_encode(&r, &b)) return 0; /* out of memory */
  if (st_state_decode(b.data, b.len, &again, NULL)) abort();
  buf b2 = {0};
  if (st_state_encode(&again, &b2)) abort();
  if (b.len != b2.len || memcmp(b.data, b2.data, b.len)) abort();
  buf_free(&b);
  buf_free(&b2);
  return 0;
}
