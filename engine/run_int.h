/*
 * Shared by the runner's files: runner.c (driving processes), ops.c
 * (operator actions), context.c (variables, rendering, outputs) and
 * call.c (components).
 */
#ifndef RATTAN_RUN_INT_H
#define RATTAN_RUN_INT_H

#include <jansson.h>

#include "engine_int.h"
#include "expr.h"

/* One write transaction's view of one task. */
typedef struct run {
  eng *e;
  eng_txn *t;
  st_txn *st;
  const char *task;
  const st_def *d;       /* owned by the engine's definition cache */
  const uint32_t *by_id; /* its node indices sorted by id */
  errbuf *err;
} run;

/* Sets up r for task inside t: loads (or reuses) the definition and opens
 * the journal entry of the task's changes, named kind. */
int run_init(run *r, eng_txn *t, const char *task, const char *kind,
             errbuf *err);

/* The task's definition, decoded once and cached by the engine: valid
 * until eng_close (definitions never change). */
int run_def(eng *e, st_txn *st, const char *task, const st_def **d,
            const uint32_t **by_id, errbuf *err);
void run_def_cache_free(eng *e);

static inline const char *node_id(const st_def *d, uint32_t i) {
  return d->pool + d->nodes[i].id;
}
/* A pipeline's id: the root's own, or its SubProcess node's. */
static inline const char *pipe_id(const st_def *d, uint32_t p) {
  return d->pool + d->pipes[p].id;
}
/* The target of the node's first outgoing flow, or ST_NONE. */
static inline uint32_t node_next(const st_def *d, uint32_t i) {
  const st_def_node *n = &d->nodes[i];
  return n->n_out ? d->flows[n->out].target : ST_NONE;
}

/* ---- Execution data ------------------------------------------------------
 * A node's execution data is JSON {"inputs", "outputs", "ex_data"}. */

/* The node's data (a new object with inputs {} and outputs {} when it has
 * none); the caller owns the reference. NULL with err set on failure. */
json_t *data_load(run *r, const char *node);
/* Appends json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)'s text to b
 * (jdump.c); -1 when out of memory or a string is not UTF-8. */
int jdump(const json_t *v, buf *b);
int data_save(run *r, const char *node, json_t *data);
/* Sets ex_data (NULL: keep) and stores the data. */
int data_fail(run *r, const char *node, json_t *data, const char *ex_data);

/* ---- Contexts -------------------------------------------------------------
 * A pipeline's context is its data.inputs from the definition plus the
 * values assigned since (outputs mapped in, subprocess params), stored as
 * a JSON object per pipeline. Names resolve through both: an assigned
 * value first, then the definition's variable, rendered on demand. */

typedef struct cx {
  run *r;
  uint32_t pipe;
  json_t *assigned; /* owned */
  arena ar;
  int depth;              /* splices being rendered, against reference cycles */
  errbuf why;             /* the reason a render failed, for ex_data */
  char inner[ERRBUF_MAX]; /* the innermost reason, when a variable's own
                             value failed to render */
} cx;

int cx_open(cx *c, run *r, uint32_t pipe);
/* Why the last render failed, the innermost reason included. */
const char *cx_why(cx *c);
void cx_close(cx *c);
int cx_save(cx *c);

/* Renders a variable's value (JSON text, as stored in the definition) of
 * the given kind: plain values as they are, splices with every string
 * rendered. *out is a new reference. Render errors return RATTAN_EINVAL
 * with the reason in c->why. */
int cx_render(cx *c, const char *json_text, int kind, json_t **out);
/* Renders and evaluates a gateway condition; *hit is its truth. */
int cx_condition(cx *c, const char *expr, int *hit);
/* Adds the values of the pipeline's data.outputs keys to out. */
int cx_outputs(run *r, uint32_t pipe, json_t *out);
/* The activity's rendered inputs (a new object in *out): the definition's,
 * or those given with its last retry. A render error returns
 * RATTAN_EINVAL with the ex_data text in why (*out is still set). */
int cx_inputs(run *r, uint32_t ni, uint32_t pipe, const st_state *rec,
              json_t **out, char *why, size_t why_len);
/* Assigns (in c only, not stored) the node's loop and inner_loop to the
 * variables that map its _loop / _inner_loop outputs: bamboo renders a
 * node's inputs with its own loop numbers already extracted. */
int cx_pre_extract(cx *c, const char *node, const st_state *rec);
/* Starts a child process per flow (see runner.c). */
int run_fork(run *r, st_proc *p, const uint32_t *flows, size_t n,
             uint32_t converge);
/* Assigns outputs of node src into the pipeline's variables that map
 * them (source_act / source_key); saves the context when any changed. */
int cx_extract(run *r, uint32_t pipe, const char *src, json_t *outputs);

/* ---- Components -----------------------------------------------------------
 */

typedef struct comp {
  char *code;
  rattan_component c;
} comp;

const comp *comp_find(eng *e, const char *code);
void comp_free_all(eng *e);

/* One component invocation (the public rattan_call). */
struct rattan_call {
  eng *e;
  const char *task, *node;
  unsigned loop, times;
  int64_t now;
  json_t *inputs;  /* borrowed */
  json_t *outputs; /* borrowed; the component adds to it */
  const char *callback_data;
  char *ex_data; /* rt_malloc'd */
  int finish;
  int64_t poll_after; /* RATTAN_NO_TIME: the interval */
  char **texts;       /* strings handed out, freed after the call */
  size_t n_texts;
  int oom;
};

/* A formatted string from rt_malloc, or NULL when out of memory. */
char *text_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees what the call handed out, ex_data included. */
void call_done(rattan_call *call);

#endif
