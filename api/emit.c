/* The status encoders' writer (see emit.h).
 *
 * Every item is written straight into the buffer: one check for room per
 * item (growing it by doubling when short), then plain stores. msgpack and
 * CBOR heads are encoded here, in the smallest form, which is what
 * msgpack-c's packer and libcbor's encoders write (tests compare). */
#include "emit.h"

#include <cbor.h>
#include <stdio.h>
#include <string.h>

static int mp_write(void *data, const char *p, size_t n) {
  return buf_append(data, p, n) ? -1 : 0;
}

void em_init(emitter *m, em_format fmt, int pretty, buf *out) {
  *m = (emitter){.fmt = fmt, .pretty = pretty && fmt == EM_JSON, .out = out};
  msgpack_packer_init(&m->pk, out, mp_write);
}

/* Makes room for n more bytes: 1, or 0 with m->oom set (sticky). */
static inline int room(emitter *m, size_t n) {
  if (m->out->cap - m->out->len >= n) return 1;
  if (!m->oom && !buf_reserve(m->out, n)) return 1;
  m->oom = 1;
  return 0;
}

/* The write position; valid until the next call to room. */
static inline uint8_t *at(emitter *m) {
  return m->out->data + m->out->len;
}

static inline void raw(emitter *m, const char *s, size_t n) {
  if (!room(m, n)) return;
  memcpy(at(m), s, n);
  m->out->len += n;
}

/* Big-endian n-byte v at p. */
static inline uint8_t *be(uint8_t *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
  return p + n;
}

/* Heads of at most 9 bytes: msgpack's str, map and array heads, in the
 * smallest form (fix, then 8 bits for str only, 16, 32). */
enum { HEAD_MAX = 9 };

static inline uint8_t *mp_str_head(uint8_t *p, size_t n) {
  if (n < 32) {
    *p++ = (uint8_t)(0xa0 | n);
  } else if (n < 256) {
    *p++ = 0xd9;
    *p++ = (uint8_t)n;
  } else if (n < 65536) {
    *p++ = 0xda;
    p = be(p, n, 2);
  } else {
    *p++ = 0xdb;
    p = be(p, n, 4);
  }
  return p;
}

/* fix is 0x80 (map) or 0x90 (array); 16 and 32 bits at 0xde / 0xdc. */
static inline uint8_t *mp_container_head(uint8_t *p, size_t n, int list) {
  if (n < 16) {
    *p++ = (uint8_t)((list ? 0x90 : 0x80) | n);
  } else if (n < 65536) {
    *p++ = list ? 0xdc : 0xde;
    p = be(p, n, 2);
  } else {
    *p++ = list ? 0xdd : 0xdf;
    p = be(p, n, 4);
  }
  return p;
}

/* msgpack-c's msgpack_pack_int64: the smallest of fixint, int 8..64 for
 * negatives, uint 8..64 for positives. */
static inline uint8_t *mp_int(uint8_t *p, int64_t v) {
  if (v < -32) {
    if (v < -32768) {
      if (v < -2147483648LL) {
        *p++ = 0xd3;
        return be(p, (uint64_t)v, 8);
      }
      *p++ = 0xd2;
      return be(p, (uint64_t)v, 4);
    }
    if (v < -128) {
      *p++ = 0xd1;
      return be(p, (uint64_t)v, 2);
    }
    *p++ = 0xd0;
    return be(p, (uint64_t)v, 1);
  }
  if (v < 128) {
    *p++ = (uint8_t)v;
    return p;
  }
  if (v < 65536) {
    if (v < 256) {
      *p++ = 0xcc;
      return be(p, (uint64_t)v, 1);
    }
    *p++ = 0xcd;
    return be(p, (uint64_t)v, 2);
  }
  if (v < 4294967296LL) {
    *p++ = 0xce;
    return be(p, (uint64_t)v, 4);
  }
  *p++ = 0xcf;
  return be(p, (uint64_t)v, 8);
}

/* memcpy for the short strings most items are: fixed-size overlapping
 * moves the compiler inlines, instead of a call per item; never reads
 * outside the n bytes at s. */
static inline uint8_t *copy(uint8_t *d, const void *src, size_t n) {
  const uint8_t *s = src;
  if (n >= 16 && n <= 32) {
    memcpy(d, s, 16);
    memcpy(d + n - 16, s + n - 16, 16);
  } else if (n >= 8 && n < 16) {
    memcpy(d, s, 8);
    memcpy(d + n - 8, s + n - 8, 8);
  } else if (n >= 4 && n < 8) {
    memcpy(d, s, 4);
    memcpy(d + n - 4, s + n - 4, 4);
  } else if (n < 4) {
    for (size_t i = 0; i < n; i++)
      d[i] = s[i];
  } else {
    memcpy(d, s, n);
  }
  return d + n;
}

static inline void done(emitter *m, uint8_t *end) {
  m->out->len = (size_t)(end - m->out->data);
}

static void newline(emitter *m) {
  raw(m, "\n", 1);
  for (int i = 0; i < m->depth; i++)
    raw(m, "    ", 4);
}

/* JSON: the separator before the next item of the open list or map, or
 * nothing when a map's key was just written. */
static inline void before_item(emitter *m) {
  if (m->after_key) {
    m->after_key = 0;
    return;
  }
  if (m->depth == 0) return;
  int d = m->depth - 1;
  if (m->written[d / 8] & (1u << d % 8))
    raw(m, m->pretty ? "," : ", ", m->pretty ? 1 : 2);
  if (m->pretty) newline(m);
  m->written[d / 8] |= (uint8_t)(1u << d % 8);
}

static void open_level(emitter *m, size_t n, int list) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    before_item(m);
    raw(m, list ? "[" : "{", 1);
  } else if (room(m, HEAD_MAX)) {
    done(m, m->fmt == EM_MSGPACK ? mp_container_head(at(m), n, list)
                                 : cbw_head(at(m), list ? 4 : 5, n));
  }
  if (m->depth >= EM_DEPTH_MAX) {
    m->oom = 1;
    return;
  }
  m->written[m->depth / 8] &= (uint8_t) ~(1u << m->depth % 8);
  m->depth++;
}

void em_map(emitter *m, size_t n) {
  open_level(m, n, 0);
}

void em_list(emitter *m, size_t n) {
  open_level(m, n, 1);
}

void em_end(emitter *m, int list) {
  if (m->oom || m->depth == 0) return;
  m->depth--;
  int items = (m->written[m->depth / 8] >> m->depth % 8) & 1;
  if (m->fmt != EM_JSON) return;
  if (m->pretty && items) newline(m);
  raw(m, list ? "]" : "}", 1);
}

/* Python's ensure_ascii escaping: printable ASCII as is, the usual
 * two-character escapes, everything else as \uXXXX (lowercase hex; code
 * points past U+FFFF as surrogate pairs). Bytes that are not UTF-8 (never
 * stored, but checked) become U+FFFD. */
static void json_text_escaped(emitter *m, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  raw(m, "\"", 1);
  while (p < end && !m->oom) {
    const unsigned char *run = p;
    while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
      p++;
    raw(m, (const char *)run, (size_t)(p - run));
    if (p == end) break;
    unsigned c = *p;
    const char *esc = c == '"'    ? "\\\""
                      : c == '\\' ? "\\\\"
                      : c == '\n' ? "\\n"
                      : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t"
                      : c == '\b' ? "\\b"
                      : c == '\f' ? "\\f"
                                  : NULL;
    if (esc) {
      raw(m, esc, 2);
      p++;
      continue;
    }
    uint32_t cp = 0xfffd;
    size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else {
      size_t need = (c & 0xe0) == 0xc0   ? 2
                    : (c & 0xf0) == 0xe0 ? 3
                    : (c & 0xf8) == 0xf0 ? 4
                                         : 0;
      uint32_t v = need == 2 ? c & 0x1f : need == 3 ? c & 0x0f : c & 0x07;
      size_t i = 1;
      for (; need && i < need && p + i < end && (p[i] & 0xc0) == 0x80; i++)
        v = v << 6 | (p[i] & 0x3f);
      if (need && i == need && v <= 0x10ffff &&
          v >= (need == 2   ? 0x80u
                : need == 3 ? 0x800u
                            : 0x10000u) &&
          !(v >= 0xd800 && v <= 0xdfff)) {
        cp = v;
        len = need;
      }
    }
    uint32_t units[2] = {cp, 0};
    int nu = 1;
    if (cp > 0xffff) {
      cp -= 0x10000;
      units[0] = 0xd800 | (cp >> 10);
      units[1] = 0xdc00 | (cp & 0x3ff);
      nu = 2;
    }
    for (int u = 0; u < nu; u++) {
      char e[6] = {'\\',
                   'u',
                   hex[units[u] >> 12],
                   hex[(units[u] >> 8) & 15],
                   hex[(units[u] >> 4) & 15],
                   hex[units[u] & 15]};
      raw(m, e, 6);
    }
    p += len;
  }
  raw(m, "\"", 1);
}

/* Whether json.dumps writes the byte as it is: printable ASCII but '"'
 * and '\\'. */
static inline int json_plain(uint8_t c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Whether all eight bytes in w are json_plain: the classic "has a byte
 * less than n" and "has a zero byte" word tests, which are exact for the
 * word as a whole. */
static inline int json_word_plain(uint64_t w) {
  const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  uint64_t ctl = (w - ones * 0x20) & ~w;
  uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\'),
           del = w ^ (ones * 0x7f);
  q = (q - ones) & ~q;
  bs = (bs - ones) & ~bs;
  del = (del - ones) & ~del;
  return !((ctl | q | bs | del | w) & high);
}

/* Whether all n bytes at p are json_plain, eight at a time. */
static inline int json_all_plain(const uint8_t *p, size_t n) {
  if (n < 8) {
    for (size_t i = 0; i < n; i++)
      if (!json_plain(p[i])) return 0;
    return 1;
  }
  uint64_t w;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    memcpy(&w, p + i, 8);
    if (!json_word_plain(w)) return 0;
  }
  memcpy(&w, p + n - 8, 8); /* the tail, overlapping */
  return json_word_plain(w);
}

/* s as a JSON string, then tail (tail_n bytes: ": " after a key). */
static void json_text(emitter *m, const char *s, size_t n, const char *tail,
                      size_t tail_n) {
  if (!json_all_plain((const uint8_t *)s, n)) {
    json_text_escaped(m, s, n);
    raw(m, tail, tail_n);
    return;
  }
  if (!room(m, n + 2 + tail_n)) return;
  uint8_t *o = at(m);
  *o++ = '"';
  o = copy(o, s, n);
  *o++ = '"';
  done(m, copy(o, tail, tail_n));
}

/* A msgpack or CBOR text string. */
static void bin_text(emitter *m, const char *s, size_t n) {
  if (!room(m, HEAD_MAX + n)) return;
  uint8_t *o =
      m->fmt == EM_MSGPACK ? mp_str_head(at(m), n) : cbw_head(at(m), 3, n);
  done(m, copy(o, s, n));
}

void em_strn(emitter *m, const char *s, size_t n) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    before_item(m);
    json_text(m, s, n, "", 0);
  } else {
    bin_text(m, s, n);
  }
}

void em_keyn(emitter *m, const char *k, size_t n) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    before_item(m);
    json_text(m, k, n, ": ", 2);
    m->after_key = 1;
  } else {
    bin_text(m, k, n);
  }
}

void em_keyl(emitter *m, const char *k, size_t n) {
  if (m->oom) return;
  if (m->fmt != EM_JSON) {
    bin_text(m, k, n);
    return;
  }
  before_item(m);
  if (!room(m, n + 4)) return;
  uint8_t *o = at(m);
  *o++ = '"';
  o = copy(o, k, n);
  memcpy(o, "\": ", 3);
  done(m, o + 3);
  m->after_key = 1;
}

void em_int(emitter *m, int64_t v) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    char t[24], *p = t + sizeof t;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
      *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    before_item(m);
    raw(m, p, (size_t)(t + sizeof t - p));
  } else if (room(m, HEAD_MAX)) {
    done(m, m->fmt == EM_MSGPACK ? mp_int(at(m), v)
            : v >= 0             ? cbw_head(at(m), 0, (uint64_t)v)
                                 : cbw_head(at(m), 1, (uint64_t)(-1 - v)));
  }
}

void em_bool(emitter *m, int v) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    before_item(m);
    raw(m, v ? "true" : "false", v ? 4 : 5);
  } else if (room(m, 1)) {
    *at(m) = m->fmt == EM_MSGPACK ? (v ? 0xc3 : 0xc2) : (v ? 0xf5 : 0xf4);
    m->out->len++;
  }
}

void em_null(emitter *m) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    before_item(m);
    raw(m, "null", 4);
  } else if (room(m, 1)) {
    *at(m) = m->fmt == EM_MSGPACK ? 0xc0 : 0xf6;
    m->out->len++;
  }
}

void em_str_or_null(emitter *m, const char *s) {
  if (s)
    em_str(m, s);
  else
    em_null(m);
}

void em_json(emitter *m, const json_t *j) {
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      const char *k;
      json_t *v;
      em_map(m, json_object_size(j));
      json_object_foreach((json_t *)j, k, v) {
        em_key(m, k);
        em_json(m, v);
      }
      em_end(m, 0);
      break;
    }
    case JSON_ARRAY:
      em_list(m, json_array_size(j));
      for (size_t i = 0; i < json_array_size(j); i++)
        em_json(m, json_array_get(j, i));
      em_end(m, 1);
      break;
    case JSON_STRING:
      em_strn(m, json_string_value(j), json_string_length(j));
      break;
    case JSON_INTEGER:
      em_int(m, json_integer_value(j));
      break;
    case JSON_REAL:
      em_real(m, json_real_value(j));
      break;
    case JSON_TRUE:
    case JSON_FALSE:
      em_bool(m, json_is_true(j));
      break;
    default:
      em_null(m);
  }
}

void em_real(emitter *m, double v) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    /* Python's repr of a float (json.dumps writes floats so). */
    buf t = {0};
    xv x = {.kind = XV_FLOAT, .u.f = v};
    before_item(m);
    if (xv_repr(&x, &t))
      m->oom = 1;
    else
      raw(m, (const char *)t.data, t.len);
    buf_free(&t);
  } else if (m->fmt == EM_MSGPACK) {
    if (msgpack_pack_double(&m->pk, v)) m->oom = 1;
  } else if (buf_reserve(m->out, 9)) {
    m->oom = 1;
  } else {
    m->out->len += cbor_encode_double(v, m->out->data + m->out->len,
                                      m->out->cap - m->out->len);
  }
}
