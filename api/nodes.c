/*
 * rattan_task_nodes: every node of a task's definition with its record,
 * in an order people read a pipeline in.
 *
 * Each pipeline's nodes come in reverse postorder of a depth-first walk
 * from its start event that takes outgoing flows last to first: a
 * gateway's branches then come one after another in flow order, a
 * converge gateway after all of its branches, and a loop's way back is
 * the walk's back edge, so it changes nothing.
 */
#include <string.h>

#include "api_int.h"
#include "status_int.h"

typedef struct nodes_walk {
  const eng_status *st;
  const st_def *d;
  uint32_t *rec;   /* per definition node: its record, or NO_NODE */
  uint32_t *order; /* one pipeline's nodes, in the order they are shown */
  uint32_t *stack; /* the depth-first walk: node, next flow (pairs) */
  uint8_t *seen;
  rattan_node_fn fn;
  void *ctx;
} nodes_walk;

static int emit(nodes_walk *w, uint32_t rec, const char *id, const char *name,
                const char *type, const char *code, unsigned depth) {
  rattan_node_view v = {.id = id,
                        .name = name ? name : "",
                        .type = type,
                        .code = code,
                        .depth = depth,
                        .state = RATTAN_STATE_CREATED,
                        .started_us = RATTAN_NO_TIME,
                        .archived_us = RATTAN_NO_TIME};
  if (rec != NO_NODE) {
    const eng_status_node *n = &w->st->nodes[rec];
    v.state = (rattan_state)n->s.state;
    v.loop = n->s.loop;
    v.retry = n->s.retry;
    v.skip = n->s.skip;
    v.error_ignored = n->s.error_ignored;
    v.started_us = n->s.started;
    v.archived_us = n->s.archived;
    v.elapsed_s = st_elapsed(&n->s, w->st->now);
    if (n->ex_data != ST_NONE)
      v.ex_data = (const char *)w->st->pool.data + n->ex_data;
  }
  return w->fn(w->ctx, &v);
}

/* Fills w->order with pipeline p's nodes; returns how many. */
static uint32_t order_pipe(nodes_walk *w, uint32_t p) {
  const st_def *d = w->d;
  uint32_t n = 0, top = 0, start = d->pipes[p].start;
  w->seen[start] = 1;
  w->stack[top++] = start;
  w->stack[top++] = d->nodes[start].n_out;
  while (top) {
    uint32_t node = w->stack[top - 2], *left = &w->stack[top - 1];
    if (*left == 0) {
      w->order[n++] = node;
      top -= 2;
      continue;
    }
    uint32_t t = d->flows[d->nodes[node].out + --*left].target;
    if (!w->seen[t]) {
      w->seen[t] = 1;
      w->stack[top++] = t;
      w->stack[top++] = d->nodes[t].n_out;
    }
  }
  for (uint32_t i = 0; i < n / 2; i++) {
    uint32_t x = w->order[i];
    w->order[i] = w->order[n - 1 - i];
    w->order[n - 1 - i] = x;
  }
  return n;
}

static int walk_pipe(nodes_walk *w, uint32_t p, unsigned depth) {
  const st_def *d = w->d;
  uint32_t n = order_pipe(w, p);
  /* order is reused by the subprocesses below: keep this pipeline's. */
  uint32_t *mine = rt_malloc((n ? n : 1) * sizeof *mine);
  if (!mine) return RATTAN_ENOMEM;
  memcpy(mine, w->order, n * sizeof *mine);
  int rc = 0;
  for (uint32_t i = 0; i < n && !rc; i++) {
    const st_def_node *nd = &d->nodes[mine[i]];
    rc = emit(w, w->rec[mine[i]], st_str(d, nd->id), st_str(d, nd->name),
              def_node_type_name(nd->type),
              nd->type == ST_SERVICE_ACTIVITY ? st_str(d, nd->code) : NULL,
              depth);
    if (!rc && nd->type == ST_SUBPROCESS)
      rc = walk_pipe(w, nd->child, depth + 1);
  }
  rt_free(mine);
  return rc;
}

int rattan_task_nodes(rattan_engine *re, const char *task, rattan_node_fn fn,
                      void *ctx) {
  if (!re || !task || !fn) return RATTAN_EINVAL;
  errbuf err = {0};
  eng_status st;
  int rc = eng_status_load(re->e, task, NULL, ST_NO_TIME, &st, &err);
  if (rc) goto out_status;
  const st_def *d = st.def;
  size_t n = d->n_nodes ? d->n_nodes : 1;
  nodes_walk w = {.st = &st, .d = d, .fn = fn, .ctx = ctx};
  w.rec = rt_malloc(n * sizeof *w.rec);
  w.order = rt_malloc(n * sizeof *w.order);
  w.stack = rt_malloc(2 * n * sizeof *w.stack);
  w.seen = rt_malloc(n);
  if (!w.rec || !w.order || !w.stack || !w.seen) {
    rc = RATTAN_ENOMEM;
    goto out_tables;
  }
  memset(w.seen, 0, n);
  for (size_t i = 0; i < n; i++)
    w.rec[i] = NO_NODE;
  for (size_t i = 0; i < st.n; i++)
    if (st.nodes[i].def != ST_NONE) w.rec[st.nodes[i].def] = (uint32_t)i;
  rc = emit(&w, st.n ? st.root : NO_NODE, st.task.root, st.task.name,
            "Pipeline", NULL, 0);
  if (!rc) rc = walk_pipe(&w, 0, 1);
out_tables:
  rt_free(w.rec);
  rt_free(w.order);
  rt_free(w.stack);
  rt_free(w.seen);
out_status:
  eng_status_free(&st);
  return rc;
}
