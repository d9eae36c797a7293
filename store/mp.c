/* msgpack writing and bounded reading (see mp.h). */
#include "mp.h"

#include <string.h>

#include "rattan.h"
#include "store.h"

static int buf_write(void *data, const char *p, size_t n) {
  return buf_append(data, p, n) ? -1 : 0;
}

void mp_packer_init(msgpack_packer *pk, buf *b) {
  msgpack_packer_init(pk, b, buf_write);
}

int mp_pack_cstr(msgpack_packer *pk, const char *s) {
  if (!s) return msgpack_pack_nil(pk);
  size_t n = strlen(s);
  return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

int mp_pack_time(msgpack_packer *pk, int64_t t) {
  return t == ST_NO_TIME ? msgpack_pack_nil(pk) : msgpack_pack_int64(pk, t);
}

void mp_rd_init(mp_rd *r, const void *p, size_t n, const char *what,
                errbuf *err) {
  r->start = r->p = p;
  r->end = r->start + n;
  r->what = what;
  r->err = err;
}

static int bad(mp_rd *r, const char *why) {
  return err_set(r->err, RATTAN_ECORRUPT, "%s: corrupt at byte %zu: %s",
                 r->what, (size_t)(r->p - r->start), why);
}

static size_t left(const mp_rd *r) {
  return (size_t)(r->end - r->p);
}

/* Reads an n-byte big-endian length or value following the type byte. */
static int take_be(mp_rd *r, int n, uint64_t *v) {
  if (left(r) < (size_t)n + 1) return bad(r, "truncated");
  *v = mp_get_be(r->p + 1, n);
  r->p += 1 + n;
  return 0;
}

int mp_read_array(mp_rd *r, uint32_t *n) {
  if (!left(r)) return bad(r, "truncated, expected an array");
  const uint8_t *at = r->p;
  uint8_t b = *r->p;
  uint64_t v = 0;
  if ((b & 0xf0) == 0x90) {
    v = b & 0x0f;
    r->p++;
  } else if (b == 0xdc) {
    if (take_be(r, 2, &v)) return RATTAN_ECORRUPT;
  } else if (b == 0xdd) {
    if (take_be(r, 4, &v)) return RATTAN_ECORRUPT;
  } else {
    return bad(r, "expected an array");
  }
  /* Every element takes at least one byte. */
  if (v > left(r)) {
    r->p = at;
    return bad(r, "array count exceeds the bytes present");
  }
  *n = (uint32_t)v;
  return 0;
}

int mp_read_uint_slow(mp_rd *r, uint64_t max, uint64_t *v) {
  if (!left(r)) return bad(r, "truncated, expected an integer");
  const uint8_t *at = r->p;
  uint8_t b = *r->p;
  if (b <= 0x7f) {
    *v = b;
    r->p++;
  } else if (b >= 0xcc && b <= 0xcf) {
    if (take_be(r, 1 << (b - 0xcc), v)) return RATTAN_ECORRUPT;
  } else if (b >= 0xd0 && b <= 0xd3) {
    /* msgpack-c packs non-negative signed values as uints, but accept a
     * non-negative signed encoding too. */
    int n = 1 << (b - 0xd0);
    if (take_be(r, n, v)) return RATTAN_ECORRUPT;
    if (*v >> (n * 8 - 1)) {
      r->p = at;
      return bad(r, "negative where a count was expected");
    }
  } else {
    return bad(r, "expected an unsigned integer");
  }
  if (*v > max) {
    r->p = at;
    return bad(r, "integer out of range");
  }
  return 0;
}

int mp_read_bool(mp_rd *r, uint8_t *v) {
  if (!left(r) || (*r->p != 0xc2 && *r->p != 0xc3))
    return bad(r, "expected a boolean");
  *v = *r->p++ == 0xc3;
  return 0;
}

int mp_read_int(mp_rd *r, int64_t min, int64_t max, int64_t *v) {
  if (!left(r)) return bad(r, "truncated, expected an integer");
  const uint8_t *at = r->p;
  uint8_t b = *r->p;
  uint64_t u;
  if (b <= 0x7f || (b >= 0xcc && b <= 0xcf)) {
    if (mp_read_uint_slow(r, INT64_MAX, &u)) return RATTAN_ECORRUPT;
    *v = (int64_t)u;
  } else if (b >= 0xe0) {
    *v = (int8_t)b;
    r->p++;
  } else if (b >= 0xd0 && b <= 0xd3) {
    int n = 1 << (b - 0xd0);
    if (take_be(r, n, &u)) return RATTAN_ECORRUPT;
    if (n < 8 && (u >> (n * 8 - 1))) u |= ~(uint64_t)0 << (n * 8);
    *v = (int64_t)u;
  } else {
    return bad(r, "expected an integer");
  }
  if (*v < min || *v > max) {
    r->p = at;
    return bad(r, "integer out of range");
  }
  return 0;
}

int mp_read_time_slow(mp_rd *r, int64_t *v) {
  if (left(r) && *r->p == 0xc0) {
    r->p++;
    *v = ST_NO_TIME;
    return 0;
  }
  return mp_read_int(r, INT64_MIN + 1, INT64_MAX, v);
}

int mp_read_bin(mp_rd *r, const uint8_t **p, uint32_t *n) {
  if (!left(r)) return bad(r, "truncated, expected bytes");
  const uint8_t *at = r->p;
  uint8_t b = *r->p;
  uint64_t len = 0;
  if (b < 0xc4 || b > 0xc6) return bad(r, "expected bytes");
  if (take_be(r, 1 << (b - 0xc4), &len)) return RATTAN_ECORRUPT;
  if (len > left(r)) {
    r->p = at;
    return bad(r, "length exceeds the bytes present");
  }
  *p = r->p;
  *n = (uint32_t)len;
  r->p += len;
  return 0;
}

int mp_read_cstr_slow(mp_rd *r, char *out, size_t max) {
  if (!left(r)) return bad(r, "truncated, expected a string");
  uint8_t b = *r->p;
  uint64_t n;
  const uint8_t *at = r->p;
  if ((b & 0xe0) == 0xa0) {
    n = b & 0x1f;
    r->p++;
  } else if (b >= 0xd9 && b <= 0xdb) {
    if (take_be(r, 1 << (b - 0xd9), &n)) return RATTAN_ECORRUPT;
  } else {
    return bad(r, "expected a string");
  }
  if (n > left(r)) {
    r->p = at;
    return bad(r, "string length exceeds the bytes present");
  }
  if (n > max) {
    r->p = at;
    return bad(r, "string too long");
  }
  if (memchr(r->p, 0, n)) {
    r->p = at;
    return bad(r, "string contains NUL");
  }
  memcpy(out, r->p, n);
  out[n] = '\0';
  r->p += n;
  return 0;
}

/* Sizes of the fixed-width items after the type byte, 0xc0..0xdf; -1 for
 * variable or invalid ones handled in mp_skip. */
static const signed char fixed_len[32] = {
    /* c0 nil, c1 never, c2 c3 bool, c4-c7 bin and ext */
    0, -1, 0, 0, -1, -1, -1, -1,
    /* c8 c9 ext, ca float, cb double, cc-cf uint */
    -1, -1, 4, 8, 1, 2, 4, 8,
    /* d0-d3 int, d4-d7 fixext 1, 2, 4, 8 (type byte included) */
    1, 2, 4, 8, 2, 3, 5, 9,
    /* d8 fixext 16, d9-df str, array, map */
    17, -1, -1, -1, -1, -1, -1, -1};

int mp_skip(mp_rd *r, int depth) {
  if (!left(r)) return bad(r, "truncated");
  if (depth <= 0) return bad(r, "nested too deeply");
  const uint8_t *at = r->p;
  uint8_t b = *r->p;
  uint64_t n = 0, count = 0;
  if (b <= 0x7f || b >= 0xe0) {
    r->p++;
    return 0;
  }
  if ((b & 0xe0) == 0xa0) {
    n = b & 0x1f;
    r->p++;
  } else if ((b & 0xf0) == 0x90) {
    count = b & 0x0f;
    r->p++;
  } else if ((b & 0xf0) == 0x80) {
    count = (uint64_t)(b & 0x0f) * 2;
    r->p++;
  } else if (b == 0xc1) {
    return bad(r, "invalid type byte 0xc1");
  } else if (b >= 0xc4 && b <= 0xc6) { /* bin 8/16/32 */
    if (take_be(r, 1 << (b - 0xc4), &n)) return RATTAN_ECORRUPT;
  } else if (b >= 0xc7 && b <= 0xc9) { /* ext 8/16/32: length, type */
    if (take_be(r, 1 << (b - 0xc7), &n)) return RATTAN_ECORRUPT;
    n += 1;
  } else if (b >= 0xd9 && b <= 0xdb) { /* str 8/16/32 */
    if (take_be(r, 1 << (b - 0xd9), &n)) return RATTAN_ECORRUPT;
  } else if (b == 0xdc || b == 0xdd) {
    if (take_be(r, b == 0xdc ? 2 : 4, &count)) return RATTAN_ECORRUPT;
  } else if (b == 0xde || b == 0xdf) {
    if (take_be(r, b == 0xde ? 2 : 4, &count)) return RATTAN_ECORRUPT;
    count *= 2;
  } else {
    int fl = fixed_len[b - 0xc0];
    if (left(r) < (size_t)fl + 1) return bad(r, "truncated");
    r->p += 1 + fl;
    return 0;
  }
  if (n > left(r)) {
    r->p = at;
    return bad(r, "length exceeds the bytes present");
  }
  r->p += n;
  if (count > left(r)) {
    r->p = at;
    return bad(r, "count exceeds the bytes present");
  }
  while (count--)
    if (mp_skip(r, depth - 1)) return RATTAN_ECORRUPT;
  return 0;
}

int mp_read_end(mp_rd *r) {
  return left(r) ? bad(r, "trailing bytes") : 0;
}
