/*
 * The compiled pipeline definition: the persisted form of a task's tree.
 *
 * Flat tables with indices instead of pointers, and every string in one
 * pool, so a definition is a handful of allocations however large, reads
 * back without JSON, and validates its own indices when decoded. The
 * engine compiles trees into it and walks it while running; the store
 * encodes it (msgpack) and decodes it.
 *
 * Strings are pool offsets (NUL-terminated); ST_NONE marks an absent
 * index or string. Pipeline 0 is the root; a subprocess's pipeline is
 * named by its SubProcess node.
 */
#ifndef RATTAN_DEF_H
#define RATTAN_DEF_H

#include <stdint.h>

#include "err.h"
#include "mem.h"

#define ST_NONE UINT32_MAX

/* Node types; stored values, never renumber. */
enum st_node_type {
  ST_EMPTY_START,
  ST_EMPTY_END,
  ST_EXECUTABLE_END,
  ST_SERVICE_ACTIVITY,
  ST_SUBPROCESS,
  ST_EXCLUSIVE_GW,
  ST_PARALLEL_GW,
  ST_COND_PARALLEL_GW,
  ST_CONVERGE_GW,
  ST_NODE_TYPES
};

/* Node flags. */
enum {
  ST_NF_SKIPPABLE = 1,
  ST_NF_RETRYABLE = 2,
  ST_NF_ERROR_IGNORABLE = 4,
  ST_NF_OPTIONAL = 8
};

typedef struct st_def_node {
  uint32_t id, name;
  uint32_t code;    /* component code, or an executable end event's type */
  uint32_t version; /* component version */
  uint32_t pipe;    /* the pipeline the node belongs to */
  uint32_t out;     /* outgoing flows: out .. out + n_out - 1, in order */
  uint32_t n_out;
  uint32_t n_in;         /* incoming flows */
  uint32_t converge;     /* parallel gateways: their converge gateway */
  uint32_t child;        /* SubProcess: its pipeline */
  uint32_t default_flow; /* exclusive / conditional parallel gateways */
  uint32_t vars;         /* component inputs or subprocess params: */
  uint32_t n_vars;       /*   vars .. vars + n_vars - 1 */
  int32_t timeout;       /* seconds, -1 for none */
  uint8_t type;          /* enum st_node_type */
  uint8_t flags;         /* ST_NF_* */
} st_def_node;

typedef struct st_def_flow {
  uint32_t id;
  uint32_t source, target; /* node indices */
  uint32_t cond;           /* a gateway condition's expression, or ST_NONE */
  uint32_t cond_name;      /* its display name, or ST_NONE */
  uint8_t is_default;
} st_def_flow;

/* Variable kinds. */
enum { ST_VAR_PLAIN, ST_VAR_SPLICE, ST_VAR_LAZY, ST_VAR_KINDS };
/* Variable flags. */
enum { ST_VF_IS_PARAM = 1, ST_VF_NEED_RENDER = 2 };

typedef struct st_def_var {
  uint32_t key;
  uint32_t value;       /* the value as compact JSON text */
  uint32_t custom_type; /* lazy variables: their type, else ST_NONE */
  uint32_t srcs;        /* output mappings: refs[srcs + 2i] is the source */
  uint32_t n_srcs;      /*   node id, refs[srcs + 2i + 1] its output key */
  uint8_t kind;         /* ST_VAR_* */
  uint8_t flags;        /* ST_VF_* */
} st_def_var;

typedef struct st_def_pipe {
  uint32_t id;
  uint32_t node;  /* the SubProcess node, ST_NONE for the root */
  uint32_t start; /* node indices */
  uint32_t end;
  uint32_t vars; /* data.inputs: vars .. vars + n_vars - 1 */
  uint32_t n_vars;
  uint32_t outputs; /* data.outputs: refs[outputs + i] are the keys */
  uint32_t n_outputs;
} st_def_pipe;

typedef struct st_def {
  uint32_t n_nodes, n_flows, n_pipes, n_vars, n_refs, pool_len;
  st_def_node *nodes;
  st_def_flow *flows;
  st_def_pipe *pipes;
  st_def_var *vars;
  uint32_t *refs; /* pool offsets, for lists of strings */
  char *pool;
} st_def;

/* The string at pool offset s, or NULL for ST_NONE. */
static inline const char *st_str(const st_def *d, uint32_t s) {
  return s == ST_NONE ? NULL : d->pool + s;
}

/* Frees the tables of d (not d itself); a zeroed st_def is fine. */
void st_def_free(st_def *d);

/* Appends the msgpack encoding of d to out; RATTAN_ENOMEM on failure. */
int st_def_encode(const st_def *d, buf *out);

/* Decodes n bytes at p into *d (which the caller frees with st_def_free,
 * also after a failure). Every index and pool offset is checked, and no
 * table is allocated larger than the bytes present allow. */
int st_def_decode(const void *p, size_t n, st_def *d, errbuf *err);

#endif
