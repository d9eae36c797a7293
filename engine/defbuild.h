/*
 * Building a compiled definition (store/def.h) while parsing a tree:
 * growable tables, the string pool, an id index, and the list of
 * problems found so far.
 */
#ifndef RATTAN_DEFBUILD_H
#define RATTAN_DEFBUILD_H

#include "engine.h"

#define DIAG_MAX_LINES 1000

void diag_add(diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_free(diag *d);
/* Calls fn for each stored problem, in the order found. */
void diag_each(const diag *d,
               void (*fn)(void *ctx, const char *path, const char *reason),
               void *ctx);

/* An open-addressing index from id strings to uint32 values. */
typedef struct idmap {
  uint32_t *slots; /* value + 1, 0 = empty */
  const char **keys;
  uint32_t cap, n;
} idmap;

/* Returns the value for key, or ST_NONE. */
uint32_t idmap_get(const idmap *m, const char *key);
#define IDMAP_OOM (ST_NONE - 1)

/* Adds key -> v unless present; returns the existing value, ST_NONE after
 * an insert, or IDMAP_OOM when out of memory. key must outlive m. */
uint32_t idmap_put(idmap *m, const char *key, uint32_t v);
void idmap_free(idmap *m);

typedef struct builder {
  st_def d; /* the tables being filled */
  uint32_t cap_nodes, cap_flows, cap_pipes, cap_vars, cap_refs, cap_pool;
  int oom;
} builder;

/* Each returns the new row's index (zeroed, strings ST_NONE) or ST_NONE
 * when out of memory (b->oom is set then). Pointers into the tables are
 * invalidated by the next add. */
uint32_t b_node(builder *b);
uint32_t b_flow(builder *b);
uint32_t b_pipe(builder *b);
uint32_t b_var(builder *b);
uint32_t b_ref(builder *b, uint32_t v);
/* Copies s (n bytes, no NUL required) into the pool; ST_NONE for NULL or
 * when out of memory. */
uint32_t b_str(builder *b, const char *s);
uint32_t b_strn(builder *b, const char *s, size_t n);
/* Moves the tables out into *out (trimmed) and resets b. */
void b_finish(builder *b, st_def *out);
void b_free(builder *b);

#endif
