/* Definition building blocks (see defbuild.h). */
#include "defbuild.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rattan.h"

void diag_add(diag *d, const char *path, const char *fmt, ...) {
  if (d->count++ >= DIAG_MAX_LINES) return;
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  if (buf_append(&d->text, path, strlen(path) + 1) ||
      buf_append(&d->text, reason, strlen(reason) + 1))
    d->oom = 1;
}

void diag_each(const diag *d,
               void (*fn)(void *ctx, const char *path, const char *reason),
               void *ctx) {
  const char *p = (const char *)d->text.data, *end = p + d->text.len;
  while (p < end) {
    const char *reason = p + strlen(p) + 1;
    fn(ctx, p, reason);
    p = reason + strlen(reason) + 1;
  }
}

void diag_free(diag *d) {
  buf_free(&d->text);
  *d = (diag){0};
}

/* ---- idmap ----------------------------------------------------------------
 */

static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u;
  while (*s)
    h = (h ^ (uint8_t)*s++) * 16777619u;
  return h;
}

uint32_t idmap_get(const idmap *m, const char *key) {
  if (!m->cap) return ST_NONE;
  for (uint32_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->slots[i]) return ST_NONE;
    if (!strcmp(m->keys[i], key)) return m->slots[i] - 1;
  }
}

static int grow(idmap *m) {
  uint32_t cap = m->cap ? m->cap * 2 : 64;
  uint32_t *slots = rt_malloc(cap * sizeof *slots);
  const char **keys = rt_malloc(cap * sizeof *keys);
  if (!slots || !keys) {
    rt_free(slots);
    rt_free(keys);
    return -1;
  }
  memset(slots, 0, cap * sizeof *slots);
  for (uint32_t i = 0; i < m->cap; i++) {
    if (!m->slots[i]) continue;
    uint32_t j = hash(m->keys[i]) & (cap - 1);
    while (slots[j])
      j = (j + 1) & (cap - 1);
    slots[j] = m->slots[i];
    keys[j] = m->keys[i];
  }
  rt_free(m->slots);
  rt_free(m->keys);
  m->slots = slots;
  m->keys = keys;
  m->cap = cap;
  return 0;
}

uint32_t idmap_put(idmap *m, const char *key, uint32_t v) {
  if ((m->n + 1) * 2 > m->cap && grow(m)) return IDMAP_OOM;
  uint32_t i = hash(key) & (m->cap - 1);
  for (; m->slots[i]; i = (i + 1) & (m->cap - 1))
    if (!strcmp(m->keys[i], key)) return m->slots[i] - 1;
  m->slots[i] = v + 1;
  m->keys[i] = key;
  m->n++;
  return ST_NONE;
}

void idmap_free(idmap *m) {
  rt_free(m->slots);
  rt_free(m->keys);
  *m = (idmap){0};
}

/* ---- builder --------------------------------------------------------------
 */

/* Makes room for one more row of size sz in *rows; returns its index. */
static uint32_t add_row(builder *b, void **rows, uint32_t *n, uint32_t *cap,
                        size_t sz) {
  if (b->oom) return ST_NONE;
  if (*n == *cap) {
    uint32_t c = *cap ? *cap * 2 : 16;
    void *p = rt_realloc(*rows, c * sz);
    if (!p) {
      b->oom = 1;
      return ST_NONE;
    }
    *rows = p;
    *cap = c;
  }
  return (*n)++;
}

uint32_t b_node(builder *b) {
  uint32_t i = add_row(b, (void **)&b->d.nodes, &b->d.n_nodes, &b->cap_nodes,
                       sizeof(st_def_node));
  if (i != ST_NONE)
    b->d.nodes[i] = (st_def_node){.id = ST_NONE,
                                  .name = ST_NONE,
                                  .code = ST_NONE,
                                  .version = ST_NONE,
                                  .converge = ST_NONE,
                                  .child = ST_NONE,
                                  .default_flow = ST_NONE,
                                  .timeout = -1};
  return i;
}

uint32_t b_flow(builder *b) {
  uint32_t i = add_row(b, (void **)&b->d.flows, &b->d.n_flows, &b->cap_flows,
                       sizeof(st_def_flow));
  if (i != ST_NONE)
    b->d.flows[i] = (st_def_flow){.id = ST_NONE,
                                  .source = ST_NONE,
                                  .target = ST_NONE,
                                  .cond = ST_NONE,
                                  .cond_name = ST_NONE};
  return i;
}

uint32_t b_pipe(builder *b) {
  uint32_t i = add_row(b, (void **)&b->d.pipes, &b->d.n_pipes, &b->cap_pipes,
                       sizeof(st_def_pipe));
  if (i != ST_NONE)
    b->d.pipes[i] = (st_def_pipe){
        .id = ST_NONE, .node = ST_NONE, .start = ST_NONE, .end = ST_NONE};
  return i;
}

uint32_t b_var(builder *b) {
  uint32_t i = add_row(b, (void **)&b->d.vars, &b->d.n_vars, &b->cap_vars,
                       sizeof(st_def_var));
  if (i != ST_NONE)
    b->d.vars[i] =
        (st_def_var){.key = ST_NONE, .value = ST_NONE, .custom_type = ST_NONE};
  return i;
}

uint32_t b_ref(builder *b, uint32_t v) {
  uint32_t i = add_row(b, (void **)&b->d.refs, &b->d.n_refs, &b->cap_refs,
                       sizeof(uint32_t));
  if (i != ST_NONE) b->d.refs[i] = v;
  return i;
}

uint32_t b_strn(builder *b, const char *s, size_t n) {
  if (!s || b->oom) return ST_NONE;
  if (n >= UINT32_MAX / 2 - b->d.pool_len) {
    b->oom = 1;
    return ST_NONE;
  }
  if (b->d.pool_len + n + 1 > b->cap_pool) {
    uint32_t c = b->cap_pool ? b->cap_pool : 1024;
    while (c < b->d.pool_len + n + 1)
      c *= 2;
    char *p = rt_realloc(b->d.pool, c);
    if (!p) {
      b->oom = 1;
      return ST_NONE;
    }
    b->d.pool = p;
    b->cap_pool = c;
  }
  uint32_t at = b->d.pool_len;
  memcpy(b->d.pool + at, s, n);
  b->d.pool[at + n] = '\0';
  b->d.pool_len += (uint32_t)n + 1;
  return at;
}

uint32_t b_str(builder *b, const char *s) {
  return s ? b_strn(b, s, strlen(s)) : ST_NONE;
}

void b_finish(builder *b, st_def *out) {
  *out = b->d;
  *b = (builder){0};
}

void b_free(builder *b) {
  st_def_free(&b->d);
  *b = (builder){0};
}
