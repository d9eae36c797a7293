/*
 * The expression evaluator (see expr.h): a recursive-descent parser that
 * evaluates as it parses. The branch a short-circuit skips is parsed in
 * "skip" mode: checked for syntax, nothing looked up or computed.
 */
#include "expr.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rattan.h"

#define MAX_DEPTH 64          /* nested parentheses, lists, calls */
#define MAX_STR   (1u << 20)  /* bytes a string operation may build */
#define MAX_ARENA (64u << 20) /* bytes one arena may hold */

/* ---- Arena -----------------------------------------------------------------
 */

struct chunk {
  struct chunk *next;
  size_t size;
  max_align_t data[];
};

void *ar_alloc(arena *a, size_t n) {
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (!a->head || a->cap - a->used < n) {
    size_t size = n > 4096 ? n : 4096;
    if (size > MAX_ARENA - a->total) return NULL; /* bounds any evaluation */
    a->total += size;
    struct chunk *c = rt_malloc(sizeof *c + size);
    if (!c) return NULL;
    c->next = a->head;
    c->size = size;
    a->head = c;
    a->used = 0;
    a->cap = size;
  }
  void *p = (char *)a->head->data + a->used;
  a->used += n;
  return p;
}

void ar_free(arena *a) {
  for (struct chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    rt_free(c);
  }
  *a = (arena){0};
}

/* ---- Parser state ----------------------------------------------------------
 */

typedef struct ev {
  const char *src, *p, *end;
  expr_lookup lookup;
  void *ctx;
  arena *a;
  errbuf *err;
  int rc;   /* first error, 0 while fine */
  int skip; /* parsing only: a short-circuited branch */
  int depth;
} ev;

static xv none_value = {.kind = XV_NONE};

static xv *fail(ev *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static xv *fail(ev *e, int code, const char *fmt, ...) {
  if (e->rc) return NULL;
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  int n = (int)(e->end - e->src);
  err_set(e->err, code, "expression \"%.*s%s\": at byte %d: %s",
          n > 80 ? 80 : n, e->src, n > 80 ? "..." : "", (int)(e->p - e->src),
          why);
  e->rc = code;
  return NULL;
}

static xv *oom(ev *e) {
  return fail(e, RATTAN_ENOMEM, "out of memory");
}

static xv *mk(ev *e, xv_kind k) {
  xv *v = ar_alloc(e->a, sizeof *v);
  if (!v) return oom(e);
  v->kind = k;
  return v;
}

static xv *mk_int(ev *e, int64_t i) {
  xv *v = mk(e, XV_INT);
  if (v) v->u.i = i;
  return v;
}

static xv *mk_float(ev *e, double f) {
  xv *v = mk(e, XV_FLOAT);
  if (v) v->u.f = f;
  return v;
}

static xv *mk_bool(ev *e, int b) {
  xv *v = mk(e, XV_BOOL);
  if (v) v->u.b = b != 0;
  return v;
}

static xv *mk_str(ev *e, const char *s, size_t n) {
  if (n > MAX_STR) return fail(e, RATTAN_EINVAL, "string too long");
  xv *v = mk(e, XV_STR);
  char *p = v ? ar_alloc(e->a, n + 1) : NULL;
  if (!p) return v ? oom(e) : NULL;
  if (n) memcpy(p, s, n); /* s may be NULL when n is 0 */
  v->u.s.p = p;
  v->u.s.n = n;
  return v;
}

static xv *mk_list(ev *e, size_t n) {
  xv *v = mk(e, XV_LIST);
  if (!v) return NULL;
  v->u.l.n = n;
  v->u.l.items = ar_alloc(e->a, (n ? n : 1) * sizeof(xv *));
  return v->u.l.items ? v : oom(e);
}

static const char *kind_name(const xv *v) {
  static const char *const names[] = {"None", "bool", "int", "float",
                                      "str",  "list", "dict"};
  return names[v->kind];
}

/* ---- Lexing ---------------------------------------------------------------
 */

static void space(ev *e) {
  while (e->p < e->end &&
         (*e->p == ' ' || *e->p == '\t' || *e->p == '\n' || *e->p == '\r'))
    e->p++;
}

static int is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Consumes the operator or punctuation tok if it comes next. */
static int take(ev *e, const char *tok) {
  space(e);
  size_t n = strlen(tok);
  if ((size_t)(e->end - e->p) < n || memcmp(e->p, tok, n)) return 0;
  /* "=" is not "==", "<" is not "<=", "/" is not "//", "*" is not "**". */
  if (n == 1 && e->p + 1 < e->end && strchr("=<>!/*", *tok) &&
      (e->p[1] == '=' || (*tok == '/' && e->p[1] == '/') ||
       (*tok == '*' && e->p[1] == '*')))
    return 0;
  e->p += n;
  return 1;
}

/* Consumes keyword kw if it comes next as a whole word. */
static int keyword(ev *e, const char *kw) {
  space(e);
  size_t n = strlen(kw);
  if ((size_t)(e->end - e->p) < n || memcmp(e->p, kw, n)) return 0;
  if (e->p + n < e->end && is_name_char(e->p[n])) return 0;
  e->p += n;
  return 1;
}

/* ---- Values ---------------------------------------------------------------
 */

int xv_truthy(const xv *v) {
  switch (v->kind) {
    case XV_NONE:
      return 0;
    case XV_BOOL:
      return v->u.b;
    case XV_INT:
      return v->u.i != 0;
    case XV_FLOAT:
      return v->u.f != 0;
    case XV_STR:
      return v->u.s.n != 0;
    case XV_LIST:
      return v->u.l.n != 0;
    case XV_DICT:
      return v->u.d.n != 0;
  }
  return 0;
}

static int is_num(const xv *v) {
  return v->kind == XV_BOOL || v->kind == XV_INT || v->kind == XV_FLOAT;
}
static int64_t as_int(const xv *v) {
  return v->kind == XV_BOOL ? v->u.b : v->u.i;
}
static double as_float(const xv *v) {
  return v->kind == XV_FLOAT ? v->u.f : (double)as_int(v);
}

static int equal(const xv *a, const xv *b);

/* -1, 0, 1, or 2 when the two cannot be ordered. */
static int order(const xv *a, const xv *b) {
  if (is_num(a) && is_num(b)) {
    if (a->kind != XV_FLOAT && b->kind != XV_FLOAT)
      return as_int(a) < as_int(b) ? -1 : as_int(a) > as_int(b);
    double x = as_float(a), y = as_float(b);
    return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
  }
  if (a->kind == XV_STR && b->kind == XV_STR) {
    size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int c = memcmp(a->u.s.p, b->u.s.p, n);
    if (c) return c < 0 ? -1 : 1;
    return a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n;
  }
  if (a->kind == XV_LIST && b->kind == XV_LIST) {
    for (size_t k = 0; k < a->u.l.n && k < b->u.l.n; k++)
      if (!equal(a->u.l.items[k], b->u.l.items[k]))
        return order(a->u.l.items[k], b->u.l.items[k]);
    return a->u.l.n < b->u.l.n ? -1 : a->u.l.n > b->u.l.n;
  }
  return 2;
}

static int equal(const xv *a, const xv *b) {
  if (is_num(a) && is_num(b)) return order(a, b) == 0;
  if (a->kind != b->kind) return 0;
  switch (a->kind) {
    case XV_NONE:
      return 1;
    case XV_STR:
    case XV_LIST:
      return order(a, b) == 0;
    case XV_DICT:
      if (a->u.d.n != b->u.d.n) return 0;
      for (size_t k = 0; k < a->u.d.n; k++) {
        size_t j = 0;
        while (j < b->u.d.n && !equal(a->u.d.keys[k], b->u.d.keys[j]))
          j++;
        if (j == b->u.d.n || !equal(a->u.d.vals[k], b->u.d.vals[j])) return 0;
      }
      return 1;
    default:
      return 0;
  }
}

/* `needle in hay`; -1 when hay cannot hold anything. */
static int contains(const xv *hay, const xv *needle) {
  if (hay->kind == XV_STR) {
    if (needle->kind != XV_STR) return -1;
    if (needle->u.s.n == 0) return 1;
    return memmem(hay->u.s.p, hay->u.s.n, needle->u.s.p, needle->u.s.n) != NULL;
  }
  if (hay->kind == XV_LIST) {
    for (size_t k = 0; k < hay->u.l.n; k++)
      if (equal(hay->u.l.items[k], needle)) return 1;
    return 0;
  }
  if (hay->kind == XV_DICT) {
    for (size_t k = 0; k < hay->u.d.n; k++)
      if (equal(hay->u.d.keys[k], needle)) return 1;
    return 0;
  }
  return -1;
}

/* Code points in a UTF-8 string, and the byte offset of code point i. */
static size_t cp_count(const char *s, size_t n) {
  size_t c = 0;
  for (size_t k = 0; k < n; k++)
    c += ((unsigned char)s[k] & 0xc0) != 0x80;
  return c;
}

static size_t cp_offset(const char *s, size_t n, size_t i) {
  size_t k = 0;
  for (; k < n; k++)
    if (((unsigned char)s[k] & 0xc0) != 0x80 && i-- == 0) break;
  return k;
}

/* ---- Grammar ---------------------------------------------------------------
 */

static xv *expr(ev *e);

static xv *number(ev *e) {
  const char *s = e->p;
  while (e->p < e->end && ((*e->p >= '0' && *e->p <= '9') || *e->p == '_'))
    e->p++;
  int real = 0;
  if (e->p < e->end && *e->p == '.' &&
      !(e->p + 1 < e->end && is_name_start(e->p[1]))) {
    real = 1;
    e->p++;
    while (e->p < e->end && *e->p >= '0' && *e->p <= '9')
      e->p++;
  }
  if (e->p < e->end && (*e->p == 'e' || *e->p == 'E')) {
    real = 1;
    e->p++;
    if (e->p < e->end && (*e->p == '+' || *e->p == '-')) e->p++;
    while (e->p < e->end && *e->p >= '0' && *e->p <= '9')
      e->p++;
  }
  char text[64];
  size_t n = 0;
  for (const char *q = s; q < e->p && n < sizeof text - 1; q++)
    if (*q != '_') text[n++] = *q;
  text[n] = '\0';
  if ((size_t)(e->p - s) >= sizeof text)
    return fail(e, RATTAN_EINVAL, "number too long");
  if (e->skip) return &none_value;
  char *stop;
  errno = 0;
  if (real) {
    double f = strtod(text, &stop);
    if (*stop) return fail(e, RATTAN_EINVAL, "bad number \"%s\"", text);
    return mk_float(e, f);
  }
  long long i = strtoll(text, &stop, 10);
  if (*stop || errno) return fail(e, RATTAN_EINVAL, "bad number \"%s\"", text);
  return mk_int(e, i);
}

static xv *string(ev *e) {
  char q = *e->p++;
  buf b = {0};
  while (e->p < e->end && *e->p != q) {
    char c = *e->p++;
    if (c == '\\' && e->p < e->end) {
      char x = *e->p++;
      c = x == 'n'   ? '\n'
          : x == 't' ? '\t'
          : x == 'r' ? '\r'
          : x == '0' ? '\0'
                     : x;
      if (!strchr("ntr0\\'\"", x)) {
        if (buf_append(&b, "\\", 1)) goto out_oom;
      }
    }
    if (buf_append(&b, &c, 1)) goto out_oom;
  }
  if (e->p >= e->end) {
    buf_free(&b);
    return fail(e, RATTAN_EINVAL, "unterminated string");
  }
  e->p++;
  xv *v = e->skip ? &none_value : mk_str(e, (const char *)b.data, b.len);
  buf_free(&b);
  return v;
out_oom:
  buf_free(&b);
  return oom(e);
}

/* Arguments of a call: "(" [expr ("," expr)*] ")" into args[max]. */
static int call_args(ev *e, xv **args, int max) {
  int n = 0;
  if (take(e, ")")) return 0;
  do {
    xv *v = expr(e);
    if (!v) return -1;
    if (n == max) {
      fail(e, RATTAN_EINVAL, "too many arguments");
      return -1;
    }
    args[n++] = v;
  } while (take(e, ","));
  if (!take(e, ")")) {
    fail(e, RATTAN_EINVAL, "expected \")\"");
    return -1;
  }
  return n;
}

static xv *to_int(ev *e, xv *v) {
  if (v->kind == XV_INT) return v;
  if (v->kind == XV_BOOL) return mk_int(e, v->u.b);
  if (v->kind == XV_FLOAT) {
    if (!isfinite(v->u.f) || fabs(v->u.f) >= 9.2e18)
      return fail(e, RATTAN_EINVAL, "cannot convert %g to int", v->u.f);
    return mk_int(e, (int64_t)v->u.f);
  }
  if (v->kind == XV_STR) {
    char text[64];
    size_t a = 0, z = v->u.s.n;
    while (a < z && strchr(" \t\n\r", v->u.s.p[a]))
      a++;
    while (z > a && strchr(" \t\n\r", v->u.s.p[z - 1]))
      z--;
    if (z - a == 0 || z - a >= sizeof text)
      return fail(e, RATTAN_EINVAL, "invalid literal for int(): '%.*s'",
                  (int)(v->u.s.n > 40 ? 40 : v->u.s.n), v->u.s.p);
    memcpy(text, v->u.s.p + a, z - a);
    text[z - a] = '\0';
    char *stop;
    errno = 0;
    long long i = strtoll(text, &stop, 10);
    if (*stop || errno)
      return fail(e, RATTAN_EINVAL, "invalid literal for int(): '%s'", text);
    return mk_int(e, i);
  }
  return fail(e, RATTAN_EINVAL, "int() of a %s", kind_name(v));
}

static xv *to_str(ev *e, xv *v) {
  if (v->kind == XV_STR) return v;
  buf b = {0};
  if (xv_str(v, &b)) {
    buf_free(&b);
    return oom(e);
  }
  xv *s = mk_str(e, (const char *)b.data, b.len);
  buf_free(&b);
  return s;
}

/* A builtin function: len, int, str. */
static xv *builtin(ev *e, const char *name, size_t n) {
  xv *args[4];
  int argc = call_args(e, args, 4);
  if (argc < 0) return NULL;
  if (e->skip) return &none_value;
  if (argc != 1)
    return fail(e, RATTAN_EINVAL, "%.*s() takes one argument, %d given", (int)n,
                name, argc);
  xv *v = args[0];
  if (n == 3 && !memcmp(name, "len", 3)) {
    if (v->kind == XV_STR)
      return mk_int(e, (int64_t)cp_count(v->u.s.p, v->u.s.n));
    if (v->kind == XV_LIST) return mk_int(e, (int64_t)v->u.l.n);
    if (v->kind == XV_DICT) return mk_int(e, (int64_t)v->u.d.n);
    return fail(e, RATTAN_EINVAL, "len() of a %s", kind_name(v));
  }
  if (n == 3 && !memcmp(name, "int", 3)) return to_int(e, v);
  return to_str(e, v);
}

static int is_ws(char c) {
  return strchr(" \t\n\r\v\f", c) != NULL;
}

/* A method of a str: split, strip, lower, upper, replace, join. */
static xv *method(ev *e, xv *self, const char *name, size_t n) {
  xv *args[4];
  int argc = call_args(e, args, 4);
  if (argc < 0) return NULL;
  if (e->skip) return &none_value;
#define IS(s) (n == sizeof(s) - 1 && !memcmp(name, s, n))
  if (!IS("split") && !IS("strip") && !IS("lower") && !IS("upper") &&
      !IS("replace") && !IS("join"))
    return fail(e, RATTAN_EINVAL, "method \"%.*s\" is not allowed", (int)n,
                name);
  if (self->kind != XV_STR)
    return fail(e, RATTAN_EINVAL, "a %s has no method \"%.*s\"",
                kind_name(self), (int)n, name);
  const char *s = self->u.s.p;
  size_t len = self->u.s.n;
  for (int k = 0; k < argc; k++)
    if (args[k]->kind != XV_STR && !IS("join"))
      return fail(e, RATTAN_EINVAL, "%.*s() needs str arguments, not %s",
                  (int)n, name, kind_name(args[k]));
  if (IS("lower") || IS("upper")) {
    if (argc)
      return fail(e, RATTAN_EINVAL, "%.*s() takes no arguments", (int)n, name);
    xv *v = mk_str(e, s, len);
    if (!v) return NULL;
    char *p = (char *)v->u.s.p;
    for (size_t k = 0; k < len; k++)
      if (IS("lower") && p[k] >= 'A' && p[k] <= 'Z')
        p[k] = (char)(p[k] + 32);
      else if (IS("upper") && p[k] >= 'a' && p[k] <= 'z')
        p[k] = (char)(p[k] - 32);
    return v;
  }
  if (IS("strip")) {
    if (argc > 1)
      return fail(e, RATTAN_EINVAL, "strip() takes at most one argument");
    size_t a = 0, z = len;
    const xv *chars = argc ? args[0] : NULL;
#define STRIPPED(c) \
  (chars ? memchr(chars->u.s.p, (c), chars->u.s.n) != NULL : is_ws(c))
    while (a < z && STRIPPED(s[a]))
      a++;
    while (z > a && STRIPPED(s[z - 1]))
      z--;
#undef STRIPPED
    return mk_str(e, s + a, z - a);
  }
  if (IS("replace")) {
    if (argc != 2)
      return fail(e, RATTAN_EINVAL, "replace() takes two arguments");
    const xv *old = args[0], *new = args[1];
    buf b = {0};
    size_t k = 0;
    while (k <= len) {
      const char *hit = old->u.s.n
                            ? memmem(s + k, len - k, old->u.s.p, old->u.s.n)
                            : (k < len ? s + k : NULL);
      size_t upto = hit ? (size_t)(hit - s) : len;
      if (buf_append(&b, s + k, upto - k)) goto out_oom;
      if (!hit) break;
      if (buf_append(&b, new->u.s.p, new->u.s.n)) goto out_oom;
      if (b.len > MAX_STR) {
        buf_free(&b);
        return fail(e, RATTAN_EINVAL, "string too long");
      }
      if (old->u.s.n) {
        k = upto + old->u.s.n;
      } else { /* Python inserts between every character */
        size_t step = 1;
        while (upto + step < len &&
               ((unsigned char)s[upto + step] & 0xc0) == 0x80)
          step++;
        if (buf_append(&b, s + upto, step)) goto out_oom;
        k = upto + step;
        if (k == len && buf_append(&b, new->u.s.p, new->u.s.n)) goto out_oom;
        if (k == len) break;
      }
    }
    xv *v = mk_str(e, (const char *)b.data, b.len);
    buf_free(&b);
    return v;
  out_oom:
    buf_free(&b);
    return oom(e);
  }
  if (IS("split")) {
    if (argc > 1)
      return fail(e, RATTAN_EINVAL, "split() takes at most one argument");
    if (argc && args[0]->u.s.n == 0)
      return fail(e, RATTAN_EINVAL, "split() with an empty separator");
    /* Count, then fill: no growing. */
    size_t parts = 0;
    for (int pass = 0; pass < 2; pass++) {
      xv *list = pass ? mk_list(e, parts) : NULL;
      if (pass && !list) return NULL;
      size_t k = 0, made = 0;
      if (argc) {
        const xv *sep = args[0];
        for (;;) {
          const char *hit = memmem(s + k, len - k, sep->u.s.p, sep->u.s.n);
          size_t upto = hit ? (size_t)(hit - s) : len;
          if (pass && !(list->u.l.items[made] = mk_str(e, s + k, upto - k)))
            return NULL;
          made++;
          if (!hit) break;
          k = upto + sep->u.s.n;
        }
      } else {
        while (k < len) {
          while (k < len && is_ws(s[k]))
            k++;
          if (k == len) break;
          size_t a = k;
          while (k < len && !is_ws(s[k]))
            k++;
          if (pass && !(list->u.l.items[made] = mk_str(e, s + a, k - a)))
            return NULL;
          made++;
        }
      }
      parts = made;
      if (pass) return list;
    }
  }
  if (IS("join")) {
    if (argc != 1 || args[0]->kind != XV_LIST)
      return fail(e, RATTAN_EINVAL, "join() takes one list");
    buf b = {0};
    const xv *l = args[0];
    for (size_t k = 0; k < l->u.l.n; k++) {
      const xv *item = l->u.l.items[k];
      if (item->kind != XV_STR) {
        buf_free(&b);
        return fail(e, RATTAN_EINVAL, "join(): item %zu is a %s, not a str", k,
                    kind_name(item));
      }
      if ((k && buf_append(&b, s, len)) ||
          buf_append(&b, item->u.s.p, item->u.s.n) || b.len > MAX_STR) {
        buf_free(&b);
        return b.len > MAX_STR ? fail(e, RATTAN_EINVAL, "string too long")
                               : oom(e);
      }
    }
    xv *v = mk_str(e, (const char *)b.data, b.len);
    buf_free(&b);
    return v;
  }
#undef IS
  return fail(e, RATTAN_EINVAL, "method \"%.*s\" is not allowed", (int)n, name);
}

static xv *primary(ev *e) {
  space(e);
  if (e->p >= e->end) return fail(e, RATTAN_EINVAL, "unexpected end");
  char c = *e->p;
  if (c >= '0' && c <= '9') return number(e);
  if (c == '.' && e->p + 1 < e->end && e->p[1] >= '0' && e->p[1] <= '9')
    return number(e);
  if (c == '"' || c == '\'') return string(e);
  if (take(e, "(")) {
    xv *v = expr(e);
    if (v && !take(e, ")")) return fail(e, RATTAN_EINVAL, "expected \")\"");
    return v;
  }
  if (take(e, "[")) {
    xv *items[256];
    size_t n = 0;
    if (!take(e, "]")) {
      do {
        if (n == 256) return fail(e, RATTAN_EINVAL, "list literal too long");
        if (!(items[n++] = expr(e))) return NULL;
      } while (take(e, ","));
      if (!take(e, "]")) return fail(e, RATTAN_EINVAL, "expected \"]\"");
    }
    if (e->skip) return &none_value;
    xv *l = mk_list(e, n);
    if (l) memcpy(l->u.l.items, items, n * sizeof *items);
    return l;
  }
  if (!is_name_start(c)) return fail(e, RATTAN_EINVAL, "unexpected \"%c\"", c);
  const char *name = e->p;
  while (e->p < e->end && is_name_char(*e->p))
    e->p++;
  size_t n = (size_t)(e->p - name);
#define NAMED(s) (n == sizeof(s) - 1 && !memcmp(name, s, n))
  if (NAMED("True") || NAMED("False"))
    return e->skip ? &none_value : mk_bool(e, NAMED("True"));
  if (NAMED("None")) return &none_value;
  static const char *const reserved[] = {
      "and", "or", "not", "in", "is", "if", "else", "lambda", "for", "import"};
  for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++)
    if (n == strlen(reserved[k]) && !memcmp(name, reserved[k], n)) {
      e->p = name;
      return fail(e, RATTAN_EINVAL, "unexpected \"%s\"", reserved[k]);
    }
  if (take(e, "(")) {
    if (NAMED("len") || NAMED("int") || NAMED("str"))
      return builtin(e, name, n);
    e->p = name;
    return fail(e, RATTAN_EINVAL, "call of \"%.*s\" is not allowed", (int)n,
                name);
  }
#undef NAMED
  if (e->skip) return &none_value;
  xv *v = NULL;
  int rc = e->lookup ? e->lookup(e->ctx, name, n, e->a, &v) : RATTAN_ENOTFOUND;
  if (rc == RATTAN_ENOTFOUND) {
    e->p = name;
    return fail(e, rc, "name \"%.*s\" is not defined", (int)n, name);
  }
  if (rc) return fail(e, rc, "looking up \"%.*s\" failed", (int)n, name);
  return v;
}

/* Resolves index i (negative from the end) against n items; -1 if out. */
static int64_t norm_index(int64_t i, size_t n) {
  if (i < 0) i += (int64_t)n;
  return i < 0 || (uint64_t)i >= n ? -1 : i;
}

static int64_t clamp_slice(const xv *v, int64_t dflt, size_t n) {
  if (!v) return dflt;
  int64_t i = as_int(v);
  if (i < 0) i += (int64_t)n;
  return i < 0 ? 0 : (uint64_t)i > n ? (int64_t)n : i;
}

static xv *subscript(ev *e, xv *v) {
  xv *lo = NULL, *hi = NULL;
  int slice = 0;
  space(e);
  if (!(e->p < e->end && *e->p == ':') && !(lo = expr(e))) return NULL;
  if (take(e, ":")) {
    slice = 1;
    space(e);
    if (!(e->p < e->end && *e->p == ']') && !(hi = expr(e))) return NULL;
  }
  if (!take(e, "]")) return fail(e, RATTAN_EINVAL, "expected \"]\"");
  if (e->skip) return &none_value;
  if (v->kind == XV_DICT && !slice) {
    for (size_t k = 0; k < v->u.d.n; k++)
      if (equal(v->u.d.keys[k], lo)) return v->u.d.vals[k];
    buf b = {0};
    xv_repr(lo, &b);
    fail(e, RATTAN_EINVAL, "key %.*s is not in the dict",
         (int)(b.len > 60 ? 60 : b.len), (const char *)b.data);
    buf_free(&b);
    return NULL;
  }
  if (v->kind != XV_LIST && v->kind != XV_STR)
    return fail(e, RATTAN_EINVAL, "a %s cannot be indexed", kind_name(v));
  if ((lo && !(lo->kind == XV_INT || lo->kind == XV_BOOL)) ||
      (hi && !(hi->kind == XV_INT || hi->kind == XV_BOOL)))
    return fail(e, RATTAN_EINVAL, "indices must be integers");
  size_t n = v->kind == XV_LIST ? v->u.l.n : cp_count(v->u.s.p, v->u.s.n);
  if (!slice) {
    int64_t i = norm_index(as_int(lo), n);
    if (i < 0)
      return fail(e, RATTAN_EINVAL, "index %lld out of range (length %zu)",
                  (long long)as_int(lo), n);
    if (v->kind == XV_LIST) return v->u.l.items[i];
    size_t a = cp_offset(v->u.s.p, v->u.s.n, (size_t)i);
    size_t z = cp_offset(v->u.s.p, v->u.s.n, (size_t)i + 1);
    return mk_str(e, v->u.s.p + a, z - a);
  }
  int64_t a = clamp_slice(lo, 0, n), z = clamp_slice(hi, (int64_t)n, n);
  if (z < a) z = a;
  if (v->kind == XV_LIST) {
    xv *l = mk_list(e, (size_t)(z - a));
    if (l)
      memcpy(l->u.l.items, v->u.l.items + a, (size_t)(z - a) * sizeof(xv *));
    return l;
  }
  size_t ba = cp_offset(v->u.s.p, v->u.s.n, (size_t)a);
  size_t bz = cp_offset(v->u.s.p, v->u.s.n, (size_t)z);
  return mk_str(e, v->u.s.p + ba, bz - ba);
}

static xv *postfix(ev *e) {
  if (++e->depth > MAX_DEPTH)
    return fail(e, RATTAN_EINVAL, "nested too deeply");
  xv *v = primary(e);
  while (v) {
    if (take(e, "[")) {
      v = subscript(e, v);
    } else if (take(e, ".")) {
      space(e);
      const char *name = e->p;
      while (e->p < e->end && is_name_char(*e->p))
        e->p++;
      size_t n = (size_t)(e->p - name);
      if (!n) return fail(e, RATTAN_EINVAL, "expected a method name");
      if (!take(e, "(")) {
        e->p = name;
        return fail(e, RATTAN_EINVAL, "attribute \"%.*s\" is not allowed",
                    (int)n, name);
      }
      v = method(e, v, name, n);
    } else {
      break;
    }
  }
  e->depth--;
  return v;
}

static xv *unary(ev *e) {
  if (take(e, "-") || take(e, "+")) {
    int neg = e->p[-1] == '-';
    xv *v = unary(e);
    if (!v || e->skip) return v;
    if (!is_num(v))
      return fail(e, RATTAN_EINVAL, "bad operand for unary %c: %s",
                  neg ? '-' : '+', kind_name(v));
    if (v->kind == XV_FLOAT) return mk_float(e, neg ? -v->u.f : v->u.f);
    if (neg && as_int(v) == INT64_MIN)
      return fail(e, RATTAN_EINVAL, "integer overflow");
    return mk_int(e, neg ? -as_int(v) : as_int(v));
  }
  return postfix(e);
}

/* Python's floor division and modulo. */
static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static xv *arith(ev *e, char op, xv *a, xv *b) {
  if (e->skip) return &none_value;
  if (op == '+' && a->kind == XV_STR && b->kind == XV_STR) {
    if (a->u.s.n + b->u.s.n > MAX_STR)
      return fail(e, RATTAN_EINVAL, "string too long");
    xv *v = mk(e, XV_STR);
    char *p = v ? ar_alloc(e->a, a->u.s.n + b->u.s.n + 1) : NULL;
    if (!p) return v ? oom(e) : NULL;
    memcpy(p, a->u.s.p, a->u.s.n);
    memcpy(p + a->u.s.n, b->u.s.p, b->u.s.n);
    v->u.s.p = p;
    v->u.s.n = a->u.s.n + b->u.s.n;
    return v;
  }
  if (op == '+' && a->kind == XV_LIST && b->kind == XV_LIST) {
    xv *v = mk_list(e, a->u.l.n + b->u.l.n);
    if (!v) return NULL;
    memcpy(v->u.l.items, a->u.l.items, a->u.l.n * sizeof(xv *));
    memcpy(v->u.l.items + a->u.l.n, b->u.l.items, b->u.l.n * sizeof(xv *));
    return v;
  }
  if (op == '*' &&
      ((a->kind == XV_STR && (b->kind == XV_INT || b->kind == XV_BOOL)) ||
       (b->kind == XV_STR && (a->kind == XV_INT || a->kind == XV_BOOL)))) {
    const xv *str = a->kind == XV_STR ? a : b;
    int64_t times = as_int(a->kind == XV_STR ? b : a);
    if (times < 0 || str->u.s.n == 0) times = 0; /* no empty copying */
    if (str->u.s.n && (uint64_t)times > MAX_STR / str->u.s.n)
      return fail(e, RATTAN_EINVAL, "string too long");
    size_t total = str->u.s.n * (size_t)times;
    xv *v = mk(e, XV_STR);
    char *p = v ? ar_alloc(e->a, total + 1) : NULL;
    if (!p) return v ? oom(e) : NULL;
    for (int64_t k = 0; k < times; k++)
      memcpy(p + (size_t)k * str->u.s.n, str->u.s.p, str->u.s.n);
    v->u.s.p = p;
    v->u.s.n = total;
    return v;
  }
  if (!is_num(a) || !is_num(b))
    return fail(e, RATTAN_EINVAL, "unsupported operand types for %c: %s and %s",
                op == 'f' ? '/' : op, kind_name(a), kind_name(b));
  if (a->kind == XV_FLOAT || b->kind == XV_FLOAT || op == '/') {
    double x = as_float(a), y = as_float(b), r;
    if ((op == '/' || op == 'f' || op == '%') && y == 0)
      return fail(e, RATTAN_EINVAL, "division by zero");
    switch (op) {
      case '+':
        r = x + y;
        break;
      case '-':
        r = x - y;
        break;
      case '*':
        r = x * y;
        break;
      case '/':
        r = x / y;
        break;
      case 'f':
        r = floor(x / y);
        break;
      default:
        r = fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
    }
    return mk_float(e, r);
  }
  int64_t x = as_int(a), y = as_int(b), r;
  if ((op == 'f' || op == '%') && y == 0)
    return fail(e, RATTAN_EINVAL, "division by zero");
  int over = 0;
  switch (op) {
    case '+':
      over = __builtin_add_overflow(x, y, &r);
      break;
    case '-':
      over = __builtin_sub_overflow(x, y, &r);
      break;
    case '*':
      over = __builtin_mul_overflow(x, y, &r);
      break;
    case 'f':
      over = x == INT64_MIN && y == -1;
      r = over ? 0 : floordiv(x, y);
      break;
    default:
      r = y == -1 ? 0 : x - floordiv(x, y) * y;
  }
  if (over) return fail(e, RATTAN_EINVAL, "integer overflow");
  return mk_int(e, r);
}

static xv *term(ev *e) {
  xv *v = unary(e);
  while (v) {
    char op = take(e, "*")    ? '*'
              : take(e, "//") ? 'f'
              : take(e, "/")  ? '/'
              : take(e, "%")  ? '%'
                              : 0;
    if (!op) break;
    xv *r = unary(e);
    v = r ? arith(e, op, v, r) : NULL;
  }
  return v;
}

static xv *sum(ev *e) {
  xv *v = term(e);
  while (v) {
    char op = take(e, "+") ? '+' : take(e, "-") ? '-' : 0;
    if (!op) break;
    xv *r = term(e);
    v = r ? arith(e, op, v, r) : NULL;
  }
  return v;
}

enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE, C_IN, C_NOTIN };

static int comp_op(ev *e) {
  if (take(e, "==")) return C_EQ;
  if (take(e, "!=")) return C_NE;
  if (take(e, "<=")) return C_LE;
  if (take(e, ">=")) return C_GE;
  if (take(e, "<")) return C_LT;
  if (take(e, ">")) return C_GT;
  if (keyword(e, "in")) return C_IN;
  if (keyword(e, "notin")) return C_NOTIN;
  const char *at = e->p;
  if (keyword(e, "not")) {
    if (keyword(e, "in")) return C_NOTIN;
    e->p = at;
  }
  return -1;
}

static int compare(ev *e, int op, xv *a, xv *b) {
  if (op == C_EQ) return equal(a, b);
  if (op == C_NE) return !equal(a, b);
  if (op == C_IN || op == C_NOTIN) {
    int c = contains(b, a);
    if (c < 0) {
      fail(e, RATTAN_EINVAL,
           "\"in\" needs a str, list or dict on its right, "
           "not a %s",
           kind_name(b));
      return -1;
    }
    return op == C_IN ? c : !c;
  }
  int c = order(a, b);
  if (c == 2) {
    fail(e, RATTAN_EINVAL, "cannot order a %s and a %s", kind_name(a),
         kind_name(b));
    return -1;
  }
  return op == C_LT ? c < 0 : op == C_LE ? c <= 0 : op == C_GT ? c > 0 : c >= 0;
}

/* a op b op c ... is (a op b) and (b op c) and ..., short-circuiting. */
static xv *comparison(ev *e) {
  xv *left = sum(e);
  if (!left) return NULL;
  int op = comp_op(e);
  if (op < 0) return left;
  int result = 1, outer_skip = e->skip;
  while (op >= 0) {
    xv *right = sum(e);
    if (!right) return NULL;
    if (!e->skip) {
      int r = compare(e, op, left, right);
      if (r < 0) return NULL;
      if (!r) {
        result = 0;
        e->skip = 1; /* the rest is parsed, not evaluated */
      }
    }
    left = right;
    op = comp_op(e);
  }
  e->skip = outer_skip;
  return outer_skip ? &none_value : mk_bool(e, result);
}

static xv *not_expr(ev *e) {
  if (keyword(e, "not")) {
    xv *v = not_expr(e);
    if (!v || e->skip) return v;
    return mk_bool(e, !xv_truthy(v));
  }
  return comparison(e);
}

/* and / or return an operand, as Python's do. */
static xv *logic(ev *e, int is_or) {
  xv *v = is_or ? logic(e, 0) : not_expr(e);
  while (v && keyword(e, is_or ? "or" : "and")) {
    int outer_skip = e->skip;
    int decided = !e->skip && (is_or ? xv_truthy(v) : !xv_truthy(v));
    if (decided) e->skip = 1;
    xv *r = is_or ? logic(e, 0) : not_expr(e);
    e->skip = outer_skip;
    if (!r) return NULL;
    if (!decided) v = r;
  }
  return v;
}

static xv *expr(ev *e) {
  if (++e->depth > MAX_DEPTH)
    return fail(e, RATTAN_EINVAL, "nested too deeply");
  xv *v = logic(e, 1);
  e->depth--;
  return v;
}

int expr_eval(const char *src, size_t n, expr_lookup lookup, void *ctx,
              arena *a, xv **out, errbuf *err) {
  ev e = {src, src, src + n, lookup, ctx, a, err, 0, 0, 0};
  xv *v = expr(&e);
  if (v) {
    space(&e);
    if (e.p < e.end) v = fail(&e, RATTAN_EINVAL, "unexpected \"%c\"", *e.p);
  }
  if (!v) return e.rc ? e.rc : RATTAN_EINVAL;
  *out = v;
  return 0;
}

xv *xv_from_json(arena *a, const json_t *j) {
  xv *v = ar_alloc(a, sizeof *v);
  if (!v) return NULL;
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      size_t n = json_object_size(j), k = 0;
      v->kind = XV_DICT;
      v->u.d.n = n;
      v->u.d.keys = ar_alloc(a, (n ? n : 1) * sizeof(xv *));
      v->u.d.vals = ar_alloc(a, (n ? n : 1) * sizeof(xv *));
      if (!v->u.d.keys || !v->u.d.vals) return NULL;
      const char *key;
      json_t *val;
      json_object_foreach((json_t *)j, key, val) {
        xv *kv = ar_alloc(a, sizeof *kv);
        char *p = ar_alloc(a, strlen(key) + 1);
        if (!kv || !p) return NULL;
        memcpy(p, key, strlen(key));
        *kv = (xv){.kind = XV_STR, .u.s = {p, strlen(key)}};
        v->u.d.keys[k] = kv;
        if (!(v->u.d.vals[k++] = xv_from_json(a, val))) return NULL;
      }
      return v;
    }
    case JSON_ARRAY: {
      size_t n = json_array_size(j);
      v->kind = XV_LIST;
      v->u.l.n = n;
      v->u.l.items = ar_alloc(a, (n ? n : 1) * sizeof(xv *));
      if (!v->u.l.items) return NULL;
      for (size_t k = 0; k < n; k++)
        if (!(v->u.l.items[k] = xv_from_json(a, json_array_get(j, k))))
          return NULL;
      return v;
    }
    case JSON_STRING: {
      size_t n = json_string_length(j);
      char *p = ar_alloc(a, n + 1);
      if (!p) return NULL;
      memcpy(p, json_string_value(j), n);
      *v = (xv){.kind = XV_STR, .u.s = {p, n}};
      return v;
    }
    case JSON_INTEGER:
      *v = (xv){.kind = XV_INT, .u.i = json_integer_value(j)};
      return v;
    case JSON_REAL:
      *v = (xv){.kind = XV_FLOAT, .u.f = json_real_value(j)};
      return v;
    case JSON_TRUE:
    case JSON_FALSE:
      *v = (xv){.kind = XV_BOOL, .u.b = json_is_true(j)};
      return v;
    default:
      *v = (xv){.kind = XV_NONE};
      return v;
  }
}

/* The end of the splice starting at p ("${" then no "$", "{", "}" or "#"
 * up to "}"), or NULL if p does not start one (bamboo's pattern). */
static const char *splice_end(const char *p, const char *end) {
  if (end - p < 3 || p[0] != '$' || p[1] != '{') return NULL;
  const char *q = p + 2;
  while (q < end && !strchr("${}#", *q))
    q++;
  return q < end && *q == '}' && q > p + 2 ? q + 1 : NULL;
}

int expr_render(const char *text, size_t n, expr_lookup lookup, void *ctx,
                arena *a, xv **out, errbuf *err) {
  const char *end = text + n;
  const char *whole = splice_end(text, end);
  if (whole == end) {
    /* One splice and nothing else: a plain name gives its value as is. */
    const char *b = text + 2, *z = end - 1;
    while (b < z && *b == ' ')
      b++;
    while (z > b && z[-1] == ' ')
      z--;
    int plain = z > b && is_name_start(*b);
    for (const char *q = b; q < z && plain; q++)
      plain = is_name_char(*q);
    if (plain && lookup && lookup(ctx, b, (size_t)(z - b), a, out) == 0)
      return 0;
  }
  buf b = {0};
  int rc = 0;
  for (const char *p = text; p < end;) {
    const char *e = splice_end(p, end);
    if (!e) {
      if (buf_append(&b, p, 1)) goto out_oom;
      p++;
      continue;
    }
    xv *v;
    rc = expr_eval(p + 2, (size_t)(e - p - 3), lookup, ctx, a, &v, err);
    if (rc == RATTAN_ENOTFOUND) { /* kept as written */
      if (buf_append(&b, p, (size_t)(e - p))) goto out_oom;
      rc = 0;
    } else if (rc) {
      goto out_free;
    } else if (xv_str(v, &b)) {
      goto out_oom;
    }
    if (b.len > MAX_STR) {
      rc = err_set(err, RATTAN_EINVAL, "rendered text longer than %u bytes",
                   MAX_STR);
      goto out_free;
    }
    p = e;
  }
  xv *s = ar_alloc(a, sizeof *s);
  char *copy = s ? ar_alloc(a, b.len + 1) : NULL;
  if (!copy) goto out_oom;
  if (b.len) memcpy(copy, b.data, b.len);
  *s = (xv){.kind = XV_STR, .u.s = {copy, b.len}};
  *out = s;
  buf_free(&b);
  return 0;
out_oom:
  rc = err_set(err, RATTAN_ENOMEM, "rendering: out of memory");
out_free:
  buf_free(&b);
  return rc;
}

int expr_json_lookup(void *ctx, const char *name, size_t n, arena *a,
                     xv **out) {
  json_t *v = json_object_getn(ctx, name, n);
  if (!v) return RATTAN_ENOTFOUND;
  *out = xv_from_json(a, v);
  return *out ? 0 : RATTAN_ENOMEM;
}
