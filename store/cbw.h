/*
 * CBOR writing into a growable buffer: no item trees, nothing allocated
 * once the buffer has grown. Each call returns 0, or -1 when the buffer
 * cannot grow (it is then unchanged). Heads are written here in the
 * shortest form, as libcbor's encoders write them (libcbor decodes what
 * we write, in replay, the fuzzers and the tests). Used by the journal
 * and by the api's status encoder.
 */
#ifndef RATTAN_CBW_H
#define RATTAN_CBW_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

/* Encoded heads are at most 9 bytes. */
#define CBW_HEAD_MAX 9

/* Writes the head of major type major (0 to 7) with argument v at p, in
 * the shortest form; returns the end. p needs CBW_HEAD_MAX bytes. */
static inline uint8_t *cbw_head(uint8_t *p, unsigned major, uint64_t v) {
  uint8_t mt = (uint8_t)(major << 5);
  int n;
  if (v < 24) {
    *p++ = (uint8_t)(mt | v);
    return p;
  }
  if (v < 256) {
    *p++ = mt | 24;
    n = 1;
  } else if (v < 65536) {
    *p++ = mt | 25;
    n = 2;
  } else if (v < 4294967296ULL) {
    *p++ = mt | 26;
    n = 4;
  } else {
    *p++ = mt | 27;
    n = 8;
  }
  for (int i = n - 1; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
  return p + n;
}

int cbw_uint(buf *b, uint64_t v);
int cbw_int(buf *b, int64_t v);
/* A text string of n bytes (UTF-8 is the caller's business). */
int cbw_text(buf *b, const char *s, size_t n);
int cbw_map(buf *b, size_t n);
int cbw_array(buf *b, size_t n);
int cbw_bool(buf *b, int v);
int cbw_null(buf *b);

#endif
