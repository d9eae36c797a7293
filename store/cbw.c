/* CBOR writing into a buffer (see cbw.h). */
#include "cbw.h"

#include <string.h>

/* Appends the head of major type major with argument v. */
static int head(buf *b, unsigned major, uint64_t v) {
  if (buf_reserve(b, CBW_HEAD_MAX)) return -1;
  b->len = (size_t)(cbw_head(b->data + b->len, major, v) - b->data);
  return 0;
}

int cbw_uint(buf *b, uint64_t v) {
  return head(b, 0, v);
}

int cbw_int(buf *b, int64_t v) {
  return v >= 0 ? head(b, 0, (uint64_t)v) : head(b, 1, (uint64_t)(-1 - v));
}

int cbw_text(buf *b, const char *s, size_t n) {
  if (buf_reserve(b, CBW_HEAD_MAX + n)) return -1;
  b->len = (size_t)(cbw_head(b->data + b->len, 3, n) - b->data);
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

int cbw_map(buf *b, size_t n) {
  return head(b, 5, n);
}

int cbw_array(buf *b, size_t n) {
  return head(b, 4, n);
}

int cbw_bool(buf *b, int v) {
  if (buf_reserve(b, 1)) return -1;
  b->data[b->len++] = v ? 0xf5 : 0xf4;
  return 0;
}

int cbw_null(buf *b) {
  if (buf_reserve(b, 1)) return -1;
  b->data[b->len++] = 0xf6;
  return 0;
}
