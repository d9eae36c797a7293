/*
 * The definition codec: st_def to msgpack and back.
 *
 * Layout (format version 1): [1, nodes, flows, pipes, vars, refs, pool]
 * where each table is an array of rows, each row an array of the fields
 * listed in the field tables below, refs is an array of uints and pool is
 * a bin. Rows may carry extra trailing fields (a newer format), which are
 * skipped. Decoding checks every index against its table and every string
 * against the pool, so the engine can follow them without checks.
 */
#include <stddef.h>
#include <string.h>

#include "def.h"
#include "mp.h"
#include "rattan.h"

#define DEF_FORMAT 1

/* What a field may hold, checked on decode. */
enum {
  F_STR,   /* pool offset or ST_NONE */
  F_NODE,  /* node index */
  F_NODE0, /* node index or ST_NONE */
  F_FLOW0, /* flow index or ST_NONE */
  F_PIPE,  /* pipeline index */
  F_COUNT, /* a count, range-checked with the field before it */
  F_U32,   /* any uint32 */
  F_I32,   /* int32 */
  F_TYPE,  /* node type */
  F_KIND,  /* var kind */
  F_U8     /* flags */
};

typedef struct field {
  size_t off;
  int kind;
} field;

#define FLD(type, name, kind) \
  { offsetof(type, name), kind }

static const field node_fields[] = {
    FLD(st_def_node, id, F_STR),
    FLD(st_def_node, name, F_STR),
    FLD(st_def_node, code, F_STR),
    FLD(st_def_node, version, F_STR),
    FLD(st_def_node, pipe, F_PIPE),
    FLD(st_def_node, out, F_U32),
    FLD(st_def_node, n_out, F_COUNT),
    FLD(st_def_node, n_in, F_U32),
    FLD(st_def_node, converge, F_NODE0),
    FLD(st_def_node, child, F_U32),
    FLD(st_def_node, default_flow, F_FLOW0),
    FLD(st_def_node, vars, F_U32),
    FLD(st_def_node, n_vars, F_COUNT),
    FLD(st_def_node, timeout, F_I32),
    FLD(st_def_node, type, F_TYPE),
    FLD(st_def_node, flags, F_U8),
};
static const field flow_fields[] = {
    FLD(st_def_flow, id, F_STR),        FLD(st_def_flow, source, F_NODE),
    FLD(st_def_flow, target, F_NODE),   FLD(st_def_flow, cond, F_STR),
    FLD(st_def_flow, cond_name, F_STR), FLD(st_def_flow, is_default, F_U8),
};
static const field pipe_fields[] = {
    FLD(st_def_pipe, id, F_STR),      FLD(st_def_pipe, node, F_NODE0),
    FLD(st_def_pipe, start, F_NODE),  FLD(st_def_pipe, end, F_NODE),
    FLD(st_def_pipe, vars, F_U32),    FLD(st_def_pipe, n_vars, F_COUNT),
    FLD(st_def_pipe, outputs, F_U32), FLD(st_def_pipe, n_outputs, F_COUNT),
};
static const field var_fields[] = {
    FLD(st_def_var, key, F_STR),         FLD(st_def_var, value, F_STR),
    FLD(st_def_var, custom_type, F_STR), FLD(st_def_var, srcs, F_U32),
    FLD(st_def_var, n_srcs, F_COUNT),    FLD(st_def_var, kind, F_KIND),
    FLD(st_def_var, flags, F_U8),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

typedef struct table {
  const char *name;
  const field *fields;
  size_t n_fields, row_size;
} table;

static const table tables[4] = {
    {"nodes", node_fields, NFIELDS(node_fields), sizeof(st_def_node)},
    {"flows", flow_fields, NFIELDS(flow_fields), sizeof(st_def_flow)},
    {"pipes", pipe_fields, NFIELDS(pipe_fields), sizeof(st_def_pipe)},
    {"vars", var_fields, NFIELDS(var_fields), sizeof(st_def_var)},
};

static uint32_t *row_u32(void *row, const field *f) {
  return (uint32_t *)((char *)row + f->off);
}

void st_def_free(st_def *d) {
  rt_free(d->nodes);
  rt_free(d->flows);
  rt_free(d->pipes);
  rt_free(d->vars);
  rt_free(d->refs);
  rt_free(d->pool);
  memset(d, 0, sizeof *d);
}

/* ---- Encoding ------------------------------------------------------------ */

static int pack_field(msgpack_packer *pk, const void *row, const field *f) {
  const char *p = (const char *)row + f->off;
  switch (f->kind) {
    case F_I32:
      return msgpack_pack_int32(pk, *(const int32_t *)p);
    case F_TYPE:
    case F_KIND:
    case F_U8:
      return msgpack_pack_uint8(pk, *(const uint8_t *)p);
    default:
      return msgpack_pack_uint32(pk, *(const uint32_t *)p);
  }
}

static int pack_table(msgpack_packer *pk, const table *t, const void *rows,
                      uint32_t n) {
  if (msgpack_pack_array(pk, n)) return -1;
  for (uint32_t i = 0; i < n; i++) {
    const char *row = (const char *)rows + i * t->row_size;
    if (msgpack_pack_array(pk, t->n_fields)) return -1;
    for (size_t j = 0; j < t->n_fields; j++)
      if (pack_field(pk, row, &t->fields[j])) return -1;
  }
  return 0;
}

int st_def_encode(const st_def *d, buf *out) {
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  size_t start = out->len;
  const void *rows[4] = {d->nodes, d->flows, d->pipes, d->vars};
  const uint32_t counts[4] = {d->n_nodes, d->n_flows, d->n_pipes, d->n_vars};
  int rc = msgpack_pack_array(&pk, 7) || msgpack_pack_uint8(&pk, DEF_FORMAT);
  for (int i = 0; i < 4 && !rc; i++)
    rc = pack_table(&pk, &tables[i], rows[i], counts[i]);
  if (!rc) rc = msgpack_pack_array(&pk, d->n_refs);
  for (uint32_t i = 0; i < d->n_refs && !rc; i++)
    rc = msgpack_pack_uint32(&pk, d->refs[i]);
  if (!rc)
    rc = msgpack_pack_bin(&pk, d->pool_len) ||
         msgpack_pack_bin_body(&pk, d->pool, d->pool_len);
  if (rc) {
    out->len = start;
    return RATTAN_ENOMEM;
  }
  return 0;
}

/* ---- Decoding ------------------------------------------------------------ */

static int read_table(mp_rd *r, const table *t, void **rows, uint32_t *n) {
  if (mp_read_array(r, n)) return RATTAN_ECORRUPT;
  /* A row takes at least its array header and one byte a field: checking
   * that first keeps the allocation within a small multiple of the input. */
  if (*n > (size_t)(r->end - r->p) / (t->n_fields + 1))
    return err_set(r->err, RATTAN_ECORRUPT,
                   "definition: %s: %u rows cannot fit in the bytes present",
                   t->name, *n);
  *rows = rt_malloc((size_t)*n * t->row_size);
  if (!*rows)
    return err_set(r->err, RATTAN_ENOMEM, "definition: out of memory");
  memset(*rows, 0, (size_t)*n * t->row_size);
  for (uint32_t i = 0; i < *n; i++) {
    char *row = (char *)*rows + i * t->row_size;
    uint32_t nf;
    if (mp_read_array(r, &nf)) return RATTAN_ECORRUPT;
    if (nf < t->n_fields)
      return err_set(r->err, RATTAN_ECORRUPT,
                     "definition: %s[%u]: %u fields, expected %zu", t->name, i,
                     nf, t->n_fields);
    for (size_t j = 0; j < t->n_fields; j++) {
      const field *f = &t->fields[j];
      uint64_t u;
      int64_t v;
      switch (f->kind) {
        case F_I32:
          if (mp_read_int(r, INT32_MIN, INT32_MAX, &v)) return RATTAN_ECORRUPT;
          *(int32_t *)(row + f->off) = (int32_t)v;
          break;
        case F_TYPE:
        case F_KIND:
        case F_U8:
          if (mp_read_uint(r,
                           f->kind == F_TYPE   ? ST_NODE_TYPES - 1
                           : f->kind == F_KIND ? ST_VAR_KINDS - 1
                                               : UINT8_MAX,
                           &u))
            return RATTAN_ECORRUPT;
          *(uint8_t *)(row + f->off) = (uint8_t)u;
          break;
        default:
          if (mp_read_uint(r, UINT32_MAX, &u)) return RATTAN_ECORRUPT;
          *row_u32(row, f) = (uint32_t)u;
      }
    }
    for (uint32_t j = (uint32_t)t->n_fields; j < nf; j++)
      if (mp_skip(r, 16)) return RATTAN_ECORRUPT;
  }
  return 0;
}

/* Checks that [start, start + n) lies within limit. */
static int range_ok(uint32_t start, uint32_t n, uint32_t limit) {
  return start <= limit && n <= limit - start;
}

static int check_shape(const st_def *d, errbuf *err);

/* Checks every index field of every row; the first bad one is reported. */
static int check_refs(const st_def *d, errbuf *err) {
  const void *rows[4] = {d->nodes, d->flows, d->pipes, d->vars};
  const uint32_t counts[4] = {d->n_nodes, d->n_flows, d->n_pipes, d->n_vars};
  for (int t = 0; t < 4; t++) {
    const table *tb = &tables[t];
    for (uint32_t i = 0; i < counts[t]; i++) {
      void *row = (char *)rows[t] + i * tb->row_size;
      for (size_t j = 0; j < tb->n_fields; j++) {
        const field *f = &tb->fields[j];
        if (f->kind >= F_I32) continue;
        uint32_t v = *row_u32(row, f);
        int ok = 1;
        switch (f->kind) {
          case F_STR:
            ok = v == ST_NONE || v < d->pool_len;
            break;
          case F_NODE:
            ok = v < d->n_nodes;
            break;
          case F_NODE0:
            ok = v == ST_NONE || v < d->n_nodes;
            break;
          case F_FLOW0:
            ok = v == ST_NONE || v < d->n_flows;
            break;
          case F_PIPE:
            ok = v < d->n_pipes;
            break;
          case F_COUNT: {
            /* A count follows its range start; the table it indexes
             * depends on the row. Output mappings are pairs of refs. */
            uint32_t start = *row_u32(row, f - 1);
            if (t == 0 && f->off == offsetof(st_def_node, n_out))
              ok = range_ok(start, v, d->n_flows);
            else if (t == 2 && f->off == offsetof(st_def_pipe, n_outputs))
              ok = range_ok(start, v, d->n_refs);
            else if (t == 3)
              ok = start <= d->n_refs && v <= (d->n_refs - start) / 2;
            else
              ok = range_ok(start, v, d->n_vars);
            break;
          }
        }
        if (!ok)
          return err_set(err, RATTAN_ECORRUPT,
                         "definition: %s[%u]: field %zu out of range (%u)",
                         tb->name, i, j, v);
      }
    }
  }
  for (uint32_t i = 0; i < d->n_refs; i++)
    if (d->refs[i] >= d->pool_len)
      return err_set(err, RATTAN_ECORRUPT, "definition: refs[%u] out of range",
                     i);
  return check_shape(d, err);
}

/* The structure the engine relies on beyond index ranges: pipelines form
 * a tree rooted at pipeline 0 (each child after its parent), every
 * SubProcess node and its pipeline name each other, start and end events
 * are what they claim, and every edge stays inside one pipeline. */
static int check_shape(const st_def *d, errbuf *err) {
#define BAD_SHAPE(...) return err_set(err, RATTAN_ECORRUPT, __VA_ARGS__)
  if (d->n_pipes == 0) BAD_SHAPE("definition: no pipeline");
  for (uint32_t p = 0; p < d->n_pipes; p++) {
    const st_def_pipe *pp = &d->pipes[p];
    const st_def_node *s = &d->nodes[pp->start], *e = &d->nodes[pp->end];
    if (s->type != ST_EMPTY_START || s->pipe != p ||
        (e->type != ST_EMPTY_END && e->type != ST_EXECUTABLE_END) ||
        e->pipe != p)
      BAD_SHAPE("definition: pipes[%u]: bad start or end event", p);
    if ((p == 0) != (pp->node == ST_NONE))
      BAD_SHAPE("definition: pipes[%u]: bad subprocess link", p);
    if (p && (d->nodes[pp->node].type != ST_SUBPROCESS ||
              d->nodes[pp->node].child != p || d->nodes[pp->node].pipe >= p))
      BAD_SHAPE("definition: pipes[%u]: bad subprocess link", p);
  }
  for (uint32_t i = 0; i < d->n_nodes; i++) {
    const st_def_node *n = &d->nodes[i];
    if ((n->type == ST_SUBPROCESS) != (n->child != ST_NONE) ||
        (n->child != ST_NONE &&
         (n->child >= d->n_pipes || d->pipes[n->child].node != i)))
      BAD_SHAPE("definition: nodes[%u]: bad subprocess link", i);
    if (n->converge != ST_NONE &&
        (d->nodes[n->converge].type != ST_CONVERGE_GW ||
         d->nodes[n->converge].pipe != n->pipe))
      BAD_SHAPE("definition: nodes[%u]: bad converge gateway", i);
    if (n->default_flow != ST_NONE && d->flows[n->default_flow].source != i)
      BAD_SHAPE("definition: nodes[%u]: bad default flow", i);
    for (uint32_t f = n->out; f < n->out + n->n_out; f++)
      if (d->flows[f].source != i)
        BAD_SHAPE("definition: nodes[%u]: flow %u is not its own", i, f);
  }
  for (uint32_t f = 0; f < d->n_flows; f++)
    if (d->nodes[d->flows[f].source].pipe != d->nodes[d->flows[f].target].pipe)
      BAD_SHAPE("definition: flows[%u]: crosses pipelines", f);
#undef BAD_SHAPE
  return 0;
}

int st_def_decode(const void *p, size_t n, st_def *d, errbuf *err) {
  memset(d, 0, sizeof *d);
  mp_rd r;
  mp_rd_init(&r, p, n, "definition", err);
  uint32_t count;
  uint64_t ver;
  if (mp_read_array(&r, &count)) return RATTAN_ECORRUPT;
  if (count < 7)
    return err_set(err, RATTAN_ECORRUPT, "definition: %u parts, expected 7",
                   count);
  if (mp_read_uint(&r, UINT8_MAX, &ver)) return RATTAN_ECORRUPT;
  if (ver != DEF_FORMAT)
    return err_set(err, RATTAN_ECORRUPT,
                   "definition: format %llu, this library reads %d",
                   (unsigned long long)ver, DEF_FORMAT);
  void **rows[4] = {(void **)&d->nodes, (void **)&d->flows, (void **)&d->pipes,
                    (void **)&d->vars};
  uint32_t *counts[4] = {&d->n_nodes, &d->n_flows, &d->n_pipes, &d->n_vars};
  for (int i = 0; i < 4; i++) {
    int rc = read_table(&r, &tables[i], rows[i], counts[i]);
    if (rc) return rc;
  }
  if (mp_read_array(&r, &d->n_refs)) return RATTAN_ECORRUPT;
  d->refs = rt_malloc((size_t)d->n_refs * sizeof *d->refs);
  if (!d->refs) return err_set(err, RATTAN_ENOMEM, "definition: out of memory");
  for (uint32_t i = 0; i < d->n_refs; i++) {
    uint64_t u;
    if (mp_read_uint(&r, UINT32_MAX, &u)) return RATTAN_ECORRUPT;
    d->refs[i] = (uint32_t)u;
  }
  const uint8_t *pool;
  if (mp_read_bin(&r, &pool, &d->pool_len)) return RATTAN_ECORRUPT;
  if (d->pool_len == 0 || pool[d->pool_len - 1] != '\0')
    return err_set(err, RATTAN_ECORRUPT,
                   "definition: string pool not NUL-terminated");
  if (!rt_utf8_valid(pool, d->pool_len))
    return err_set(err, RATTAN_ECORRUPT, "definition: string pool not UTF-8");
  d->pool = rt_malloc(d->pool_len);
  if (!d->pool) return err_set(err, RATTAN_ENOMEM, "definition: out of memory");
  memcpy(d->pool, pool, d->pool_len);
  for (uint32_t i = 7; i < count; i++)
    if (mp_skip(&r, 16)) return RATTAN_ECORRUPT;
  if (mp_read_end(&r)) return RATTAN_ECORRUPT;
  return check_refs(d, err);
}
