/*
 * The expression language of conditions and ${...} splices: the subset of
 * Python that real SOPS templates write.
 *
 *   literals      1  2.5  "s"  's'  True  False  None  [a, b]
 *   names         looked up through the caller (context keys, _loop, ...)
 *   arithmetic    + - * / // %   (unary - +)
 *   comparisons   == != < <= > >=  in  not in  notin   (chains: a < b < c)
 *   logic         and  or  not   (short-circuit)
 *   indexing      x[i]  x[-1]  x[a:b]  d["k"]
 *   calls         len(x) int(x) str(x)
 *                 s.split([sep]) s.strip([chars]) s.lower() s.upper()
 *                 s.replace(old, new) sep.join(list)
 *
 * Anything else is an error naming the offset and what was found; nothing
 * outside this list can run. Values follow Python's rules (true division,
 * floor modulo, code-point string indexing, str() and repr() text).
 *
 * Values live in an arena owned by the caller: everything an evaluation
 * returns is valid until the arena is freed.
 */
#ifndef RATTAN_EXPR_H
#define RATTAN_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "store/err.h"
#include "store/mem.h"

typedef enum xv_kind {
  XV_NONE,
  XV_BOOL,
  XV_INT,
  XV_FLOAT,
  XV_STR,
  XV_LIST,
  XV_DICT
} xv_kind;

typedef struct xv xv;
struct xv {
  xv_kind kind;
  union {
    int b;
    int64_t i;
    double f;
    struct {
      const char *p; /* UTF-8, not NUL-terminated */
      size_t n;
    } s;
    struct {
      xv **items;
      size_t n;
    } l;
    struct {
      xv **keys, **vals;
      size_t n;
    } d;
  } u;
};

/* A bump allocator: many small allocations, one free. */
typedef struct arena {
  struct chunk *head;
  size_t used, cap;
  size_t total; /* bytes in all chunks, at most 64 MiB */
} arena;

/* NULL when out of memory or past the arena's 64 MiB. */
void *ar_alloc(arena *a, size_t n);
void ar_free(arena *a);

/* Looks a name up; sets *out and returns 0, or returns RATTAN_ENOTFOUND.
 * The value must live at least as long as the arena. */
typedef int (*expr_lookup)(void *ctx, const char *name, size_t n, arena *a,
                           xv **out);

/* Evaluates n bytes at src. Errors: RATTAN_ENOTFOUND for a name the
 * lookup does not know, RATTAN_EINVAL for anything else (syntax, types,
 * division by zero, calls outside the list), RATTAN_ENOMEM; the message
 * names the expression, the byte offset and the reason. */
int expr_eval(const char *src, size_t n, expr_lookup lookup, void *ctx,
              arena *a, xv **out, errbuf *err);

/* Renders n bytes of text holding ${...} splices (bamboo's Template
 * rules): a text that is exactly one ${name} with a known name gives that
 * value itself (a list stays a list); otherwise each ${expr} is replaced
 * by str() of its value and the result is a str. A splice naming an
 * unknown name stays as it is written, as bamboo leaves it; any other
 * error (syntax outside the language, types, division by zero) is
 * returned, naming the splice. */
int expr_render(const char *text, size_t n, expr_lookup lookup, void *ctx,
                arena *a, xv **out, errbuf *err);

/* Python's str(v) / repr(v), appended to out; RATTAN_ENOMEM on failure. */
int xv_str(const xv *v, buf *out);
int xv_repr(const xv *v, buf *out);

/* A JSON value as an expression value, in the arena; NULL when out of
 * memory. */
struct json_t;
xv *xv_from_json(arena *a, const struct json_t *j);

/* An expr_lookup over a jansson object (ctx): a name is a key of it. */
int expr_json_lookup(void *ctx, const char *name, size_t n, arena *a, xv **out);

/* Python truthiness. */
int xv_truthy(const xv *v);

#endif
