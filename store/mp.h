/*
 * msgpack for stored records: writing through msgpack-c's packer into our
 * buffer, reading with a bounded pull reader of our own.
 *
 * The reader never allocates and checks every declared length or count
 * against the bytes actually present before using it, so a corrupt record
 * can only produce an error (with its byte offset), never a large
 * allocation or an out-of-bounds read. msgpack-c's own unpacker allocates
 * from declared counts, which is why it is not used here.
 */
#ifndef RATTAN_MP_H
#define RATTAN_MP_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "mem.h"

/* A packer whose output is appended to b; msgpack_pack_* return non-zero
 * once b cannot grow. */
void mp_packer_init(msgpack_packer *pk, buf *b);
/* Packs s as a str, or nil when s is NULL. */
int mp_pack_cstr(msgpack_packer *pk, const char *s);
/* Packs a time: an int64, or nil for ST_NO_TIME. */
int mp_pack_time(msgpack_packer *pk, int64_t t);

static inline uint64_t mp_get_be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

typedef struct mp_rd {
  const uint8_t *start, *p, *end;
  const char *what; /* names the record in error messages */
  errbuf *err;
} mp_rd;

void mp_rd_init(mp_rd *r, const void *p, size_t n, const char *what,
                errbuf *err);
/* Each reads one item of the named type or fails with RATTAN_ECORRUPT and
 * a message giving the byte offset. The readers of the items every
 * record is made of take their common encodings inline (status reads
 * thousands of records per call) and leave the rest, and every error, to
 * the _slow functions. */
int mp_read_array(mp_rd *r, uint32_t *n);
int mp_read_uint_slow(mp_rd *r, uint64_t max, uint64_t *v);
static inline int mp_read_uint(mp_rd *r, uint64_t max, uint64_t *v) {
  if (r->p < r->end && *r->p <= 0x7f && *r->p <= max) {
    *v = *r->p++;
    return 0;
  }
  return mp_read_uint_slow(r, max, v);
}
int mp_read_bool(mp_rd *r, uint8_t *v);
/* A signed integer in [min, max]. */
int mp_read_int(mp_rd *r, int64_t min, int64_t max, int64_t *v);
/* A bin item; *p points into the input, which the caller keeps alive. */
int mp_read_bin(mp_rd *r, const uint8_t **p, uint32_t *n);
/* A time: an int64 or nil (ST_NO_TIME). */
int mp_read_time_slow(mp_rd *r, int64_t *v);
static inline int mp_read_time(mp_rd *r, int64_t *v) {
  /* msgpack-c packs a time past 2^32 microseconds as a uint 64. */
  if (r->end - r->p >= 9 && *r->p == 0xcf && r->p[1] < 0x80) {
    *v = (int64_t)mp_get_be(r->p + 1, 8);
    r->p += 9;
    return 0;
  }
  if (r->p < r->end && *r->p == 0xc0) {
    r->p++;
    *v = INT64_MIN; /* ST_NO_TIME */
    return 0;
  }
  return mp_read_time_slow(r, v);
}
/* A str of at most max bytes with no NUL, copied into out[max + 1]. */
int mp_read_cstr_slow(mp_rd *r, char *out, size_t max);
static inline int mp_read_cstr(mp_rd *r, char *out, size_t max) {
  if (r->p < r->end && (*r->p & 0xe0) == 0xa0) {
    size_t n = *r->p & 0x1f;
    if (n <= max && (size_t)(r->end - r->p) > n && !memchr(r->p + 1, 0, n)) {
      memcpy(out, r->p + 1, n);
      out[n] = '\0';
      r->p += 1 + n;
      return 0;
    }
  }
  return mp_read_cstr_slow(r, out, max);
}
/* Skips one item of any type, nested at most depth levels. */
int mp_skip(mp_rd *r, int depth);
/* Fails unless every byte was consumed. */
int mp_read_end(mp_rd *r);

static inline void mp_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline void mp_be64(uint8_t *p, uint64_t v) {
  mp_be32(p, (uint32_t)(v >> 32));
  mp_be32(p + 4, (uint32_t)v);
}

#endif
