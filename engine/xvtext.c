/*
 * Expression values as Python writes them: str() and repr(), including
 * the shortest round-tripping float text and string quoting.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "rattan.h"

static int put(buf *out, const char *s, size_t n) {
  return buf_append(out, s, n) ? RATTAN_ENOMEM : 0;
}

static int puts_(buf *out, const char *s) {
  return put(out, s, strlen(s));
}

/* repr(float): the shortest digits that read back to the same double,
 * written fixed when the exponent is in [-4, 16), else scientific. */
static int put_float(buf *out, double f) {
  if (isnan(f)) return puts_(out, "nan");
  if (isinf(f)) return puts_(out, f < 0 ? "-inf" : "inf");
  if (f == 0) return puts_(out, signbit(f) ? "-0.0" : "0.0");
  char e[40];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(e, sizeof e, "%.*e", prec, f);
    if (strtod(e, NULL) == f) break;
  }
  /* e: [-]d[.ddd]e[+-]XX */
  const char *p = e;
  int neg = *p == '-';
  if (neg) p++;
  char digits[24];
  size_t nd = 0;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[nd++] = *p;
  int exp = atoi(p + 1);
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  char t[64];
  size_t n = 0;
  if (neg) t[n++] = '-';
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      t[n++] = '0';
      t[n++] = '.';
      for (int k = -1; k > exp; k--)
        t[n++] = '0';
      memcpy(t + n, digits, nd);
      n += nd;
    } else {
      for (int k = 0; k <= exp; k++)
        t[n++] = (size_t)k < nd ? digits[k] : '0';
      t[n++] = '.';
      if ((size_t)exp + 1 < nd) {
        memcpy(t + n, digits + exp + 1, nd - (size_t)exp - 1);
        n += nd - (size_t)exp - 1;
      } else {
        t[n++] = '0';
      }
    }
  } else {
    t[n++] = digits[0];
    if (nd > 1) {
      t[n++] = '.';
      memcpy(t + n, digits + 1, nd - 1);
      n += nd - 1;
    }
    n += (size_t)snprintf(t + n, sizeof t - n, "e%c%02d", exp < 0 ? '-' : '+',
                          abs(exp));
  }
  return put(out, t, n);
}

/* repr(str): single quotes unless the text holds ' and no ", escapes for
 * the quote, backslash and control characters; other text as it is. */
static int put_quoted(buf *out, const char *s, size_t n) {
  char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
  if (put(out, &q, 1)) return RATTAN_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    const char *rep = NULL;
    if (c == '\\')
      rep = "\\\\";
    else if (c == (unsigned char)q)
      rep = q == '\'' ? "\\'" : "\\\"";
    else if (c == '\n')
      rep = "\\n";
    else if (c == '\r')
      rep = "\\r";
    else if (c == '\t')
      rep = "\\t";
    else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\x%02x", c);
      rep = esc;
    }
    if (rep ? puts_(out, rep) : put(out, (const char *)&c, 1))
      return RATTAN_ENOMEM;
  }
  return put(out, &q, 1);
}

static int text(const xv *v, buf *out, int repr) {
  char tmp[32];
  switch (v->kind) {
    case XV_NONE:
      return puts_(out, "None");
    case XV_BOOL:
      return puts_(out, v->u.b ? "True" : "False");
    case XV_INT:
      snprintf(tmp, sizeof tmp, "%lld", (long long)v->u.i);
      return puts_(out, tmp);
    case XV_FLOAT:
      return put_float(out, v->u.f);
    case XV_STR:
      return repr ? put_quoted(out, v->u.s.p, v->u.s.n)
                  : put(out, v->u.s.p, v->u.s.n);
    case XV_LIST:
      if (puts_(out, "[")) return RATTAN_ENOMEM;
      for (size_t k = 0; k < v->u.l.n; k++)
        if ((k && puts_(out, ", ")) || text(v->u.l.items[k], out, 1))
          return RATTAN_ENOMEM;
      return puts_(out, "]");
    case XV_DICT:
      if (puts_(out, "{")) return RATTAN_ENOMEM;
      for (size_t k = 0; k < v->u.d.n; k++)
        if ((k && puts_(out, ", ")) || text(v->u.d.keys[k], out, 1) ||
            puts_(out, ": ") || text(v->u.d.vals[k], out, 1))
          return RATTAN_ENOMEM;
      return puts_(out, "}");
  }
  return 0;
}

int xv_str(const xv *v, buf *out) {
  return text(v, out, 0);
}
int xv_repr(const xv *v, buf *out) {
  return text(v, out, 1);
}
