/* CBOR writing into a buffer (see cbw.h). */
#include "cbw.h"

#include <cbor.h>
#include <string.h>

/* Encoded heads are at most 9 bytes. */
#define HEAD_MAX 9

int cbw_uint(buf *b, uint64_t v) {
  if (buf_reserve(b, HEAD_MAX)) return -1;
  b->len += cbor_encode_uint(v, b->data + b->len, b->cap - b->len);
  return 0;
}

int cbw_int(buf *b, int64_t v) {
  if (v >= 0) return cbw_uint(b, (uint64_t)v);
  if (buf_reserve(b, HEAD_MAX)) return -1;
  b->len +=
      cbor_encode_negint((uint64_t)(-1 - v), b->data + b->len, b->cap - b->len);
  return 0;
}

int cbw_text(buf *b, const char *s, size_t n) {
  if (buf_reserve(b, HEAD_MAX + n)) return -1;
  b->len += cbor_encode_string_start(n, b->data + b->len, b->cap - b->len);
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

int cbw_map(buf *b, size_t n) {
  if (buf_reserve(b, HEAD_MAX)) return -1;
  b->len += cbor_encode_map_start(n, b->data + b->len, b->cap - b->len);
  return 0;
}

int cbw_array(buf *b, size_t n) {
  if (buf_reserve(b, HEAD_MAX)) return -1;
  b->len += cbor_encode_array_start(n, b->data + b->len, b->cap - b->len);
  return 0;
}

int cbw_bool(buf *b, int v) {
  if (buf_reserve(b, 1)) return -1;
  b->len += cbor_encode_bool(v != 0, b->data + b->len, b->cap - b->len);
  return 0;
}

int cbw_null(buf *b) {
  if (buf_reserve(b, 1)) return -1;
  b->len += cbor_encode_null(b->data + b->len, b->cap - b->len);
  return 0;
}
