/* The status encoders' writer (see emit.h). */
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

static void raw(emitter *m, const char *s, size_t n) {
  if (!m->oom && buf_append(m->out, s, n)) m->oom = 1;
}

static void newline(emitter *m) {
  raw(m, "\n", 1);
  for (int i = 0; i < m->depth; i++)
    raw(m, "    ", 4);
}

/* JSON: the separator before the next item of the open list or map, or
 * nothing when a map's key was just written. */
static void before_item(emitter *m) {
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
  } else if (m->fmt == EM_MSGPACK) {
    if (list ? msgpack_pack_array(&m->pk, n) : msgpack_pack_map(&m->pk, n))
      m->oom = 1;
  } else if (list ? cbw_array(m->out, n) : cbw_map(m->out, n)) {
    m->oom = 1;
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
static void json_text(emitter *m, const char *s, size_t n) {
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

void em_strn(emitter *m, const char *s, size_t n) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    before_item(m);
    json_text(m, s, n);
  } else if (m->fmt == EM_MSGPACK) {
    if (msgpack_pack_str(&m->pk, n) || msgpack_pack_str_body(&m->pk, s, n))
      m->oom = 1;
  } else if (cbw_text(m->out, s, n)) {
    m->oom = 1;
  }
}

void em_str(emitter *m, const char *s) {
  em_strn(m, s, strlen(s));
}

void em_key(emitter *m, const char *k) {
  em_str(m, k);
  if (m->fmt == EM_JSON) {
    raw(m, ": ", 2);
    m->after_key = 1;
  }
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
  } else if (m->fmt == EM_MSGPACK) {
    if (msgpack_pack_int64(&m->pk, v)) m->oom = 1;
  } else if (cbw_int(m->out, v)) {
    m->oom = 1;
  }
}

void em_bool(emitter *m, int v) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    before_item(m);
    raw(m, v ? "true" : "false", v ? 4 : 5);
  } else if (m->fmt == EM_MSGPACK) {
    if (v ? msgpack_pack_true(&m->pk) : msgpack_pack_false(&m->pk)) m->oom = 1;
  } else if (cbw_bool(m->out, v)) {
    m->oom = 1;
  }
}

void em_null(emitter *m) {
  if (m->oom) return;
  if (m->fmt == EM_JSON) {
    before_item(m);
    raw(m, "null", 4);
  } else if (m->fmt == EM_MSGPACK) {
    if (msgpack_pack_nil(&m->pk)) m->oom = 1;
  } else if (cbw_null(m->out)) {
    m->oom = 1;
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
