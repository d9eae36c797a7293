/*
 * JSON text in and out of jansson values. jdump: the compact JSON text of a
 * jansson value, byte for byte what json_dumps(v, JSON_COMPACT |
 * JSON_ENCODE_ANY) writes, appended to a buffer. The runner stores every
 * activity's execution data twice per run; jansson's own writer goes through a
 * callback per token, snprintf per integer and a fresh allocation per call,
 * which cost more than the rest of the step.
 *
 * jansson's rules kept here: object keys in the object's own (insertion)
 * order; strings escaped for '"', '\\' and control characters only
 * (\b \f \n \r \t by name, others as \u00XX in upper case), '/' and
 * non-ASCII as they are; invalid UTF-8 is an error. Reals go through
 * jansson itself, whose formatting has rules of its own.
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"

static int put(buf *b, const char *s, size_t n) {
  return buf_append(b, s, n) ? -1 : 0;
}

static int put_string(buf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  if (put(b, "\"", 1)) return -1;
  size_t plain = 0; /* bytes at s[i - plain .. i) to copy as they are */
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\') {
      size_t len = rt_utf8_seq(s + i, n - i);
      if (!len) return -1;
      i += len;
      plain += len;
      continue;
    }
    if (put(b, str + i - plain, plain)) return -1;
    plain = 0;
    char seq[8];
    const char *esc = seq;
    size_t elen = 2;
    seq[0] = '\\';
    switch (c) {
      case '"':
      case '\\':
        seq[1] = (char)c;
        break;
      case '\b':
        seq[1] = 'b';
        break;
      case '\f':
        seq[1] = 'f';
        break;
      case '\n':
        seq[1] = 'n';
        break;
      case '\r':
        seq[1] = 'r';
        break;
      case '\t':
        seq[1] = 't';
        break;
      default:
        esc = "\\u00";
        elen = 4;
        if (put(b, esc, elen)) return -1;
        seq[0] = "0123456789ABCDEF"[c >> 4];
        seq[1] = "0123456789ABCDEF"[c & 15];
        esc = seq;
        elen = 2;
        break;
    }
    if (put(b, esc, elen)) return -1;
    i++;
  }
  if (put(b, str + n - plain, plain)) return -1;
  return put(b, "\"", 1);
}

static int put_int(buf *b, json_int_t v) {
  char digits[24];
  size_t i = sizeof digits;
  /* Negated as unsigned, so the most negative value works too. */
  unsigned long long u =
      v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    digits[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) digits[--i] = '-';
  return put(b, digits + i, sizeof digits - i);
}

static int put_real(buf *b, const json_t *v) {
  char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) return -1;
  int rc = put(b, text, strlen(text));
  rt_free(text); /* jansson allocates with rattan's allocator */
  return rc;
}

int jdump(const json_t *v, buf *b) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      const char *k;
      size_t klen;
      json_t *x;
      int first = 1;
      if (put(b, "{", 1)) return -1;
      json_object_keylen_foreach((json_t *)v, k, klen, x) {
        if ((!first && put(b, ",", 1)) || put_string(b, k, klen) ||
            put(b, ":", 1) || jdump(x, b))
          return -1;
        first = 0;
      }
      return put(b, "}", 1);
    }
    case JSON_ARRAY: {
      if (put(b, "[", 1)) return -1;
      for (size_t i = 0; i < json_array_size(v); i++)
        if ((i && put(b, ",", 1)) || jdump(json_array_get(v, i), b)) return -1;
      return put(b, "]", 1);
    }
    case JSON_STRING:
      return put_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
      return put_int(b, json_integer_value(v));
    case JSON_REAL:
      return put_real(b, v);
    case JSON_TRUE:
      return put(b, "true", 4);
    case JSON_FALSE:
      return put(b, "false", 5);
    case JSON_NULL:
      return put(b, "null", 4);
  }
  return -1;
}

char *jdump_text(const json_t *v) {
  buf b = {0};
  if (!v || jdump(v, &b) || buf_append(&b, "", 1)) {
    buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}

json_t *jparse(const char *p, size_t n, size_t flags, json_error_t *je) {
  unsigned failures = rt_alloc_failures();
  json_t *j = json_loadb(p, n, flags, je);
  if (j && rt_alloc_failures() != failures) {
    json_decref(j);
    return NULL;
  }
  return j;
}

json_t *jparse_str(const char *s, size_t flags, json_error_t *je) {
  return jparse(s, strlen(s), flags, je);
}
