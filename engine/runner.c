/*
 * The runner: bamboo's push loop without a thread of its own.
 *
 * eng_drive repeats one step at a time until nothing can move: push the
 * first runnable process one node, or run a due poll, a pending callback
 * or a timeout. Every step that changes state is one write transaction
 * with its journal events. A service activity's component runs between
 * two of them, never inside one: the first stores the RUNNING record and
 * the rendered inputs and marks the process "in flight", the second
 * stores the result. A crash in between runs the component again (at
 * least once); a result is never stored twice, because the second
 * transaction first checks the node's version and the in-flight mark.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "run_int.h"

/* ---- Definitions ----------------------------------------------------------
 */

/* glibc's qsort_r (the build defines _GNU_SOURCE): the definition being
 * sorted travels in the argument, not in a global. */
static int by_id_cmp(const void *a, const void *b, void *d) {
  return strcmp(node_id(d, *(const uint32_t *)a),
                node_id(d, *(const uint32_t *)b));
}

void def_index(const st_def *d, uint32_t *by_id) {
  for (uint32_t i = 0; i < d->n_nodes; i++)
    by_id[i] = i;
  qsort_r(by_id, d->n_nodes, sizeof *by_id, by_id_cmp, (void *)d);
}

/* Empties slot s. */
static void slot_free(eng *e, struct def_slot *s) {
  e->def_nodes -= s->task[0] ? s->d.n_nodes : 0;
  st_def_free(&s->d);
  rt_free(s->by_id);
  s->by_id = NULL;
  s->task[0] = '\0';
}

int run_def(eng *e, st_txn *st, const char *task, const st_def **d,
            const uint32_t **by_id, errbuf *err) {
  for (unsigned i = 0; i < RUN_DEF_SLOTS; i++)
    if (e->defs[i].task[0] == task[0] && !strcmp(e->defs[i].task, task)) {
      *d = &e->defs[i].d;
      if (by_id) *by_id = e->defs[i].by_id;
      return 0;
    }
  struct def_slot *s = &e->defs[e->def_next];
  slot_free(e, s);
  int rc = st_def_get(st, task, &s->d, err);
  if (!rc && !(s->by_id = rt_malloc((s->d.n_nodes ? s->d.n_nodes : 1) *
                                    sizeof *s->by_id)))
    rc = err_set(err, RATTAN_ENOMEM, "task %s: out of memory", task);
  if (rc) {
    st_def_free(&s->d);
    return rc;
  }
  def_index(&s->d, s->by_id);
  snprintf(s->task, sizeof s->task, "%s", task);
  e->def_nodes += s->d.n_nodes;
  /* Over the budget, the other slots go, oldest first. */
  unsigned mine = e->def_next;
  e->def_next = (e->def_next + 1) % RUN_DEF_SLOTS;
  for (unsigned i = e->def_next; e->def_nodes > RUN_DEF_NODES && i != mine;
       i = (i + 1) % RUN_DEF_SLOTS)
    slot_free(e, &e->defs[i]);
  *d = &s->d;
  if (by_id) *by_id = s->by_id;
  return 0;
}

void run_def_cache_free(eng *e) {
  for (unsigned i = 0; i < RUN_DEF_SLOTS; i++)
    slot_free(e, &e->defs[i]);
}

int run_init(run *r, eng_txn *t, const char *task, const char *kind,
             errbuf *err) {
  *r = (run){.e = eng_txn_engine(t), .t = t, .task = task, .err = err};
  r->st = eng_txn_store(t);
  int rc = run_def(r->e, r->st, task, &r->d, &r->by_id, err);
  return rc ? rc : eng_journal(t, task, r->d, kind, err);
}

uint32_t def_find(const st_def *d, const uint32_t *by_id, const char *id) {
  size_t lo = 0, hi = d->n_nodes;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(node_id(d, by_id[mid]), id);
    if (c == 0) return by_id[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return ST_NONE;
}

/* ---- Steps ----------------------------------------------------------------
 */

enum { CALL_NONE, CALL_EXECUTE, CALL_SCHEDULE };

/* One unit of work: a process to push, or a schedule to run. What a
 * transaction run fills in is reset at its start (runs may repeat). */
typedef struct step {
  char task[ST_ID_MAX + 1];
  uint32_t pid;
  char node[ST_ID_MAX + 1]; /* schedules, and activities to call */
  int call;                 /* CALL_*: a component to run after commit */
  int timeout;              /* a schedule past its deadline */
  st_state rec;             /* the node's record the call belongs to */
  st_sched sched;
  json_t *inputs, *outputs;
  /* CALL_EXECUTE: the execution data push stored, whose inputs and
   * outputs are the two above; apply starts from it instead of reading
   * it back (nothing else writes it while the node runs at this
   * version, which apply checks first). */
  json_t *data;
  char *callback; /* the callback data, JSON text */
  /* The call's result, for the apply transaction. */
  int ok, finish;
  int64_t poll_after;
  char *ex_data; /* owned */
} step;

static void step_reset(step *s) {
  json_decref(s->inputs);
  json_decref(s->outputs);
  json_decref(s->data);
  rt_free(s->callback);
  s->inputs = s->outputs = s->data = NULL;
  s->callback = NULL;
  s->call = CALL_NONE;
}

static int put_proc(run *r, const st_proc *p) {
  return st_proc_put(r->st, r->task, p, r->err);
}

static int transit(run *r, uint32_t ni, int action, st_state *out) {
  eng_change c = {.action = action};
  return eng_transit(r->t, r->task, node_id(r->d, ni), &c, out, r->err);
}

static int transit_id(run *r, const char *id, const eng_change *c,
                      st_state *out) {
  return eng_transit(r->t, r->task, id, c, out, r->err);
}

/* Fails the RUNNING node ni with ex_data; its process sleeps. */
static int fail_node(run *r, st_proc *p, uint32_t ni, json_t *data,
                     const char *ex_data) {
  const char *id = node_id(r->d, ni);
  int rc = transit(r, ni, ACT_FAIL, NULL);
  if (rc) return rc;
  json_t *own = data ? NULL : (data = data_load(r, id));
  if (!data) return r->err->code;
  rc = data_fail(r, id, data, ex_data);
  json_decref(own);
  p->status = ST_PROC_SLEEP;
  p->inflight = 0;
  return rc ? rc : put_proc(r, p);
}

/* Starts a child process per flow, each toward the converge gateway; the
 * parent sleeps there until every child arrives. */
int run_fork(run *r, st_proc *p, const uint32_t *flows, size_t n,
             uint32_t converge) {
  uint32_t next;
  int rc = st_proc_next_id(r->st, r->task, &next, r->err);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    st_proc c = *p;
    c.id = next++;
    c.parent = p->id;
    c.need_ack = 0;
    c.cur = r->d->flows[flows[i]].target;
    c.dest = converge;
    c.status = ST_PROC_RUN;
    c.inflight = 0;
    c.suspended_by[0] = '\0';
    if ((rc = put_proc(r, &c))) return rc;
  }
  p->need_ack = (uint32_t)n;
  p->cur = converge;
  p->status = n ? ST_PROC_SLEEP : ST_PROC_RUN;
  return put_proc(r, p);
}

/* A child reached its converge gateway: it ends, and the last one to
 * arrive wakes the parent, which runs the gateway. */
static int child_arrive(run *r, const st_proc *p) {
  st_proc parent;
  int rc = st_proc_get(r->st, r->task, p->parent, &parent, r->err);
  if (rc == RATTAN_ENOTFOUND)
    return err_set(r->err, RATTAN_ECORRUPT,
                   "task %s: process %u has no parent %u", r->task, p->id,
                   p->parent);
  if (rc || (rc = st_proc_del(r->st, r->task, p->id, r->err))) return rc;
  if (parent.need_ack) parent.need_ack--;
  if (parent.need_ack == 0) parent.status = ST_PROC_RUN;
  return put_proc(r, &parent);
}

static int suspend(run *r, st_proc *p, const char *by) {
  p->status = ST_PROC_SUSPEND;
  snprintf(p->suspended_by, sizeof p->suspended_by, "%s", by);
  return put_proc(r, p);
}

/* Evaluates the gateway's conditions into hits (flow indices). On an
 * evaluation error returns non-zero with the ex_data text in why. */
static int evaluate(run *r, uint32_t ni, uint32_t pipe, uint32_t *hits,
                    size_t *n_hits, char *why, size_t why_len) {
  const st_def *d = r->d;
  const st_def_node *g = &d->nodes[ni];
  cx c;
  int rc = cx_open(&c, r, pipe);
  if (rc) return rc;
  *n_hits = 0;
  for (uint32_t i = 0; i < g->n_out; i++) {
    const st_def_flow *f = &d->flows[g->out + i];
    if (f->cond == ST_NONE || g->out + i == g->default_flow) continue;
    int hit = 0;
    if ((rc = cx_condition(&c, d->pool + f->cond, &hit))) {
      snprintf(why, why_len, "evaluate[%s] of flow %s failed: %s",
               d->pool + f->cond, d->pool + f->id, cx_why(&c));
      cx_close(&c);
      return rc == RATTAN_ENOMEM ? rc : RATTAN_EINVAL;
    }
    if (hit) hits[(*n_hits)++] = g->out + i;
  }
  cx_close(&c);
  return 0;
}

/* Names the flows in why: "[f1, f2]". */
static void flow_list(const st_def *d, const uint32_t *flows, size_t n,
                      char *why, size_t len, const char *lead) {
  size_t at = (size_t)snprintf(why, len, "%s[", lead);
  for (size_t i = 0; i < n && at < len; i++)
    at += (size_t)snprintf(why + at, len - at, "%s%s", i ? ", " : "",
                           d->pool + d->flows[flows[i]].id);
  if (at < len) snprintf(why + at, len - at, "]");
}

/* Exclusive and conditional parallel gateways: bamboo's ONLY rule. */
static int run_gateway(run *r, st_proc *p, uint32_t ni, uint32_t pipe) {
  const st_def *d = r->d;
  const st_def_node *g = &d->nodes[ni];
  uint32_t stack_hits[16], *hits = stack_hits;
  size_t n = 0;
  char why[1024];
  if (g->n_out > 16 && !(hits = rt_malloc(g->n_out * sizeof *hits)))
    return err_set(r->err, RATTAN_ENOMEM, "gateway: out of memory");
  int rc = evaluate(r, ni, pipe, hits, &n, why, sizeof why);
  if (rc == RATTAN_EINVAL) {
    rc = fail_node(r, p, ni, NULL, why);
    goto out_free_hits;
  }
  if (rc) goto out_free_hits;
  if (n == 0 && g->default_flow != ST_NONE) hits[n++] = g->default_flow;
  if (n == 0) {
    snprintf(why, sizeof why,
             "all conditions of branches are not meet (gateway %s)",
             node_id(d, ni));
    rc = fail_node(r, p, ni, NULL, why);
  } else if (n > 1 && g->type == ST_EXCLUSIVE_GW) {
    flow_list(d, hits, n, why, sizeof why, "multiple conditions meet: ");
    rc = fail_node(r, p, ni, NULL, why);
  } else if ((rc = transit(r, ni, ACT_FINISH, NULL)) == 0) {
    if (g->type == ST_EXCLUSIVE_GW) {
      p->cur = d->flows[hits[0]].target;
      rc = put_proc(r, p);
    } else {
      rc = run_fork(r, p, hits, n, g->converge);
    }
  }
out_free_hits:
  if (hits != stack_hits) rt_free(hits);
  return rc;
}

/* End events finish their pipeline; a subprocess's returns to its parent. */
static int run_end(run *r, st_proc *p, uint32_t ni) {
  const st_def *d = r->d;
  uint32_t pipe = d->nodes[ni].pipe;
  const char *pid = pipe_id(d, pipe);
  json_t *outputs = json_object(), *data = NULL;
  st_state prec;
  int rc = outputs ? 0 : err_set(r->err, RATTAN_ENOMEM, "out of memory");
  if (rc || (rc = cx_outputs(r, pipe, outputs))) goto out_free;
  if ((rc = transit(r, ni, ACT_FINISH, NULL))) goto out_free;
  eng_change fin = {.action = ACT_FINISH};
  if ((rc = transit_id(r, pid, &fin, &prec))) goto out_free;
  if (!(data = data_load(r, pid))) {
    rc = r->err->code;
    goto out_free;
  }
  if ((d->pipes[pipe].node != ST_NONE &&
       (json_object_set_new(outputs, "_loop", json_integer(prec.loop)) ||
        json_object_set_new(outputs, "_inner_loop",
                            json_integer(prec.inner_loop)))) ||
      json_object_set(data, "outputs", outputs) ||
      (rc = data_save(r, pid, data))) {
    rc = rc ? rc : err_set(r->err, RATTAN_ENOMEM, "out of memory");
    goto out_free;
  }
  if (p->depth <= 1) {
    rc = st_proc_del(r->st, r->task, p->id, r->err);
    goto out_free;
  }
  p->depth--;
  uint32_t sp = d->pipes[pipe].node;
  if ((rc = cx_extract(r, p->stack[p->depth - 1], pid, outputs))) goto out_free;
  p->cur = node_next(d, sp);
  rc = put_proc(r, p);
out_free:
  json_decref(outputs);
  json_decref(data);
  return rc;
}

/* A subprocess: fresh context from its rendered params, inner_loop of its
 * nodes reset (so they count from 1 within this run), then its start. */
static int run_subprocess(run *r, st_proc *p, uint32_t ni,
                          const st_state *rec) {
  const st_def *d = r->d;
  const st_def_node *n = &d->nodes[ni];
  const char *sid = node_id(d, ni);
  if (p->depth >= ST_STACK_MAX)
    return err_set(r->err, RATTAN_ECORRUPT, "node %s: subprocesses too deep",
                   sid);
  for (uint32_t i = 0; i < d->n_nodes; i++) {
    st_state s;
    if (d->nodes[i].pipe != n->child) continue;
    int rc = st_state_get(r->st, r->task, node_id(d, i), &s, r->err);
    if (rc == RATTAN_ENOTFOUND) continue;
    if (rc) return rc;
    if (strcmp(s.parent_id, sid) || s.inner_loop == 0) continue;
    if ((rc = eng_reset_inner_loop(r->t, r->task, node_id(d, i), &s, r->err)))
      return rc;
  }
  cx parent;
  int rc = cx_open(&parent, r, p->stack[p->depth - 1]);
  if (!rc) rc = cx_pre_extract(&parent, sid, rec);
  if (rc) {
    cx_close(&parent);
    return rc;
  }
  json_t *params = json_object(), *data = NULL;
  for (uint32_t i = 0; params && i < n->n_vars; i++) {
    const st_def_var *v = &d->vars[n->vars + i];
    json_t *val;
    if ((rc = cx_render(&parent, d->pool + v->value, v->kind, &val))) {
      char why[ERRBUF_MAX + 128];
      snprintf(why, sizeof why, "param %s: %s", d->pool + v->key,
               cx_why(&parent));
      cx_close(&parent);
      json_decref(params);
      return rc == RATTAN_ENOMEM ? rc : fail_node(r, p, ni, NULL, why);
    }
    if (json_object_set_new(params, d->pool + v->key, val)) {
      cx_close(&parent);
      json_decref(params);
      return err_set(r->err, RATTAN_ENOMEM, "out of memory");
    }
  }
  cx_close(&parent);
  if (!params || !(data = data_load(r, sid)) ||
      json_object_set(data, "inputs", params)) {
    rc = params && !data ? r->err->code
                         : err_set(r->err, RATTAN_ENOMEM, "out of memory");
    goto out_free;
  }
  cx child = {.r = r, .pipe = n->child, .assigned = params};
  if ((rc = cx_save(&child)) || (rc = data_save(r, sid, data))) goto out_free;
  p->stack[p->depth++] = n->child;
  p->cur = d->pipes[n->child].start;
  rc = put_proc(r, p);
out_free:
  json_decref(params);
  json_decref(data);
  return rc;
}

/* A service activity: renders its inputs, stores them, and marks the
 * process in flight; the component runs after this transaction. */
static int run_activity(run *r, st_proc *p, uint32_t ni, const st_state *rec,
                        step *s) {
  const st_def *d = r->d;
  const char *id = node_id(d, ni);
  json_t *data = data_load(r, id);
  if (!data) return r->err->code;
  json_t *inputs = NULL, *outputs = json_object();
  char why[ERRBUF_MAX + 128];
  int rc = cx_inputs(r, ni, d->nodes[ni].pipe, rec, &inputs, why, sizeof why);
  if (rc && rc != RATTAN_EINVAL) goto out_free;
  /* Every value below or RATTAN_ENOMEM: data stored without one of them
   * would pass for a whole step. */
  json_t *into = rc ? outputs : inputs;
  int oom =
      !outputs || json_object_set_new(into, "_loop", json_integer(rec->loop)) ||
      json_object_set_new(into, "_inner_loop", json_integer(rec->inner_loop));
  if (!oom && rc)
    oom = json_object_set_new(outputs, "_result", json_false()) ||
          json_object_set(data, "outputs", outputs);
  else if (!oom)
    oom = json_object_set(data, "inputs", inputs) ||
          json_object_set(data, "outputs", outputs) ||
          json_object_set_new(data, "ex_data", json_null());
  if (oom) {
    rc = err_set(r->err, RATTAN_ENOMEM, "node %s: out of memory", id);
    goto out_free;
  }
  if (rc) {
    rc = fail_node(r, p, ni, data, why);
    goto out_free;
  }
  if ((rc = data_save(r, id, data))) goto out_free;
  p->inflight = 1;
  if ((rc = put_proc(r, p))) goto out_free;
  s->call = CALL_EXECUTE;
  s->rec = *rec;
  snprintf(s->node, sizeof s->node, "%s", id);
  s->inputs = inputs;
  s->outputs = outputs;
  s->data = data;
  return 0;
out_free:
  json_decref(data);
  json_decref(inputs);
  json_decref(outputs);
  return rc;
}

/* Pushes process s->pid one node (bamboo's Engine.execute, one round). */
static int push(eng_txn *t, void *ctx, errbuf *err) {
  step *s = ctx;
  step_reset(s);
  run r;
  st_proc p;
  int rc = run_init(&r, t, s->task, "push", err);
  if (rc || (rc = st_journal_arg_uint(r.st, "pid", s->pid, err))) return rc;
  /* A queue entry without a runnable process is dropped, so the drive
   * loop cannot pick it forever. */
  if ((rc = st_proc_get(r.st, s->task, s->pid, &p, err)))
    return rc == RATTAN_ENOTFOUND ? st_proc_del(r.st, s->task, s->pid, err)
                                  : rc;
  const st_def *d = r.d;
  uint32_t ni = p.cur;
  if (p.status != ST_PROC_RUN) return put_proc(&r, &p);
  if (ni >= d->n_nodes || p.depth == 0)
    return err_set(err, RATTAN_ECORRUPT, "task %s: process %u is corrupt",
                   s->task, p.id);
  if (p.dest != ST_NONE && ni == p.dest) return child_arrive(&r, &p);

  st_state st;
  for (unsigned i = 0; i < p.depth; i++) {
    const char *pid = pipe_id(d, p.stack[i]);
    if ((rc = st_state_get(r.st, s->task, pid, &st, err))) return rc;
    if (i == 0 && st.state == RATTAN_STATE_REVOKED)
      return st_proc_del(r.st, s->task, p.id, err);
    if (st.state == RATTAN_STATE_SUSPENDED) return suspend(&r, &p, pid);
  }
  const st_def_node *n = &d->nodes[ni];
  const char *id = node_id(d, ni);
  rc = st_state_get(r.st, s->task, id, &st, err);
  if (rc && rc != RATTAN_ENOTFOUND) return rc;
  if (rc == 0) {
    if (st.state == RATTAN_STATE_SUSPENDED) return suspend(&r, &p, id);
    if (st.state == RATTAN_STATE_RUNNING && p.inflight &&
        n->type == ST_SERVICE_ACTIVITY) {
      /* Interrupted after the inputs were stored: call again. */
      json_t *data = data_load(&r, id);
      if (!data) return err->code;
      s->call = CALL_EXECUTE;
      s->rec = st;
      snprintf(s->node, sizeof s->node, "%s", id);
      s->inputs = json_incref(json_object_get(data, "inputs"));
      s->outputs = json_object();
      json_decref(data);
      return s->outputs ? 0 : err_set(err, RATTAN_ENOMEM, "out of memory");
    }
    if (st.state != RATTAN_STATE_READY && st.state != RATTAN_STATE_FINISHED) {
      p.status = ST_PROC_SLEEP;
      return put_proc(&r, &p);
    }
  }
  eng_change run_change = {.action = ACT_RUN,
                           .is_subprocess = n->type == ST_SUBPROCESS,
                           .root_id = pipe_id(d, 0),
                           .parent_id = pipe_id(d, p.stack[p.depth - 1])};
  st_state rec;
  if ((rc = transit_id(&r, id, &run_change, &rec))) return rc;
  if (rec.state == RATTAN_STATE_FAILED) { /* past the rerun limit */
    char why[96];
    snprintf(why, sizeof why, "node execution exceed rerun limit %u",
             r.e->rerun_limit);
    json_t *data = data_load(&r, id);
    if (!data) return err->code;
    rc = data_fail(&r, id, data, why);
    json_decref(data);
    p.status = ST_PROC_SLEEP;
    return rc ? rc : put_proc(&r, &p);
  }
  switch (n->type) {
    case ST_EMPTY_START:
    case ST_CONVERGE_GW:
      if ((rc = transit(&r, ni, ACT_FINISH, NULL))) return rc;
      p.cur = node_next(d, ni);
      return put_proc(&r, &p);
    case ST_EMPTY_END:
    case ST_EXECUTABLE_END:
      return run_end(&r, &p, ni);
    case ST_EXCLUSIVE_GW:
    case ST_COND_PARALLEL_GW:
      return run_gateway(&r, &p, ni, p.stack[p.depth - 1]);
    case ST_PARALLEL_GW: {
      uint32_t *flows = rt_malloc((n->n_out ? n->n_out : 1) * sizeof *flows);
      if (!flows) return err_set(err, RATTAN_ENOMEM, "out of memory");
      for (uint32_t i = 0; i < n->n_out; i++)
        flows[i] = n->out + i;
      rc = transit(&r, ni, ACT_FINISH, NULL);
      if (!rc) rc = run_fork(&r, &p, flows, n->n_out, n->converge);
      rt_free(flows);
      return rc;
    }
    case ST_SUBPROCESS:
      return run_subprocess(&r, &p, ni, &rec);
    case ST_SERVICE_ACTIVITY:
      return run_activity(&r, &p, ni, &rec, s);
  }
  return err_set(err, RATTAN_ECORRUPT, "node %s: unknown type %d", id, n->type);
}

/* ---- Results of component calls ------------------------------------------ */

/* Finishes the activity: FINISHED (error_ignored when ignoring a failure),
 * outputs into the context, the process goes on. */
static int finish_activity(run *r, st_proc *p, uint32_t ni, json_t *data,
                           int ignored) {
  const char *id = node_id(r->d, ni);
  eng_change c = {.action = ACT_FINISH, .ignore_error = ignored};
  int rc = transit_id(r, id, &c, NULL);
  if (rc || (rc = data_save(r, id, data)) ||
      (rc = cx_extract(r, r->d->nodes[ni].pipe, id,
                       json_object_get(data, "outputs"))))
    return rc;
  p->cur = node_next(r->d, ni);
  p->status = ST_PROC_RUN;
  p->inflight = 0;
  return put_proc(r, p);
}

/* Pops the oldest queued callback of the node. */
static int pop_callback(run *r, const char *id) {
  st_slice v;
  int rc = st_data_get(r->st, r->task, id, ST_DATA_CALLBACKS, 0, &v, r->err);
  if (rc) return rc == RATTAN_ENOTFOUND ? 0 : rc;
  json_error_t je;
  unsigned failures = rt_alloc_failures();
  json_t *q = jparse(v.ptr, v.len, 0, &je);
  if (!q && rt_alloc_failures() != failures)
    return err_set(r->err, RATTAN_ENOMEM, "node %s: out of memory", id);
  if (!json_is_array(q)) {
    json_decref(q);
    return err_set(r->err, RATTAN_ECORRUPT, "node %s: callback queue: %s", id,
                   je.text);
  }
  json_array_remove(q, 0);
  char *text = jdump_text(q);
  json_decref(q);
  if (!text) return err_set(r->err, RATTAN_ENOMEM, "out of memory");
  rc = st_data_put(r->st, r->task, id, ST_DATA_CALLBACKS, 0,
                   (st_slice){text, strlen(text)}, r->err);
  rt_free(text);
  return rc;
}

/* The component's result as the journal entry's arguments: its outputs
 * and ex_data also land in the execution data the entry changes. */
static int result_args(run *r, const step *s) {
  int rc = st_journal_arg_text(r->st, "node", s->node, strlen(s->node), r->err);
  if (!rc)
    rc = st_journal_arg_text(r->st, "call",
                             s->call == CALL_EXECUTE ? "execute" : "schedule",
                             s->call == CALL_EXECUTE ? 7 : 8, r->err);
  if (!rc) rc = st_journal_arg_bool(r->st, "ok", s->ok, r->err);
  if (!rc && s->finish) rc = st_journal_arg_bool(r->st, "finish", 1, r->err);
  if (!rc && s->ex_data)
    rc = st_journal_arg_text(r->st, "ex_data", s->ex_data, strlen(s->ex_data),
                             r->err);
  if (!rc && s->callback)
    rc = st_journal_arg_text(r->st, "callback", s->callback,
                             strlen(s->callback), r->err);
  if (!rc && s->poll_after != RATTAN_NO_TIME && s->poll_after >= 0)
    rc = st_journal_arg_uint(r->st, "poll_after", (uint64_t)s->poll_after,
                             r->err);
  return rc;
}

/* Stores the result of the call in s (bamboo's handler after execute or
 * schedule), unless the node moved on meanwhile (forced fail, revoke):
 * then the result is dropped, as bamboo's version check drops it. */
static int apply(eng_txn *t, void *ctx, errbuf *err) {
  step *s = ctx;
  run r;
  int rc = run_init(&r, t, s->task, "result", err);
  if (rc || (rc = result_args(&r, s))) return rc;
  const st_def *d = r.d;
  uint32_t ni = def_find(d, r.by_id, s->node);
  st_state st;
  st_proc p;
  st_sched sc;
  if (ni == ST_NONE)
    return err_set(err, RATTAN_ECORRUPT, "node %s: not in the definition",
                   s->node);
  if ((rc = st_state_get(r.st, s->task, s->node, &st, err)))
    return rc == RATTAN_ENOTFOUND ? 0 : rc;
  if (st.state != RATTAN_STATE_RUNNING || strcmp(st.version, s->rec.version))
    return 0;
  if ((rc = st_proc_get(r.st, s->task, s->pid, &p, err)))
    return rc == RATTAN_ENOTFOUND ? 0 : rc;
  if (s->call == CALL_EXECUTE && (!p.inflight || p.cur != ni)) return 0;
  if (s->call == CALL_SCHEDULE) {
    rc = st_sched_get(r.st, s->task, s->node, &sc, err);
    if (rc) return rc == RATTAN_ENOTFOUND ? 0 : rc;
    if (sc.times != s->sched.times || strcmp(sc.version, st.version)) return 0;
  }
  json_t *data = s->data ? json_incref(s->data) : data_load(&r, s->node);
  if (!data) return err->code;
  json_t *out = s->outputs;
  /* All of the result or RATTAN_ENOMEM, never a result missing a part. */
  if (json_object_set_new(out, "_result", json_boolean(s->ok)) ||
      json_object_set_new(out, "_loop", json_integer(st.loop)) ||
      json_object_set_new(out, "_inner_loop", json_integer(st.inner_loop)) ||
      json_object_set(data, "outputs", out)) {
    rc = err_set(err, RATTAN_ENOMEM, "node %s: out of memory", s->node);
    goto out_free;
  }
  const comp *cp = comp_find(r.e, d->pool + d->nodes[ni].code);
  int type = cp ? (int)cp->c.schedule : RATTAN_SCHEDULE_NONE;
  if (s->call == CALL_SCHEDULE) {
    sc.times++;
    if (s->callback && sc.pending) {
      sc.pending--;
      if ((rc = pop_callback(&r, s->node))) goto out_free;
    }
  }
  int waits = s->ok && type != RATTAN_SCHEDULE_NONE && !s->finish &&
              !(s->call == CALL_SCHEDULE && type == RATTAN_SCHEDULE_CALLBACK);
  if (waits) {
    int64_t now = eng_txn_now(t);
    if (s->call == CALL_EXECUTE) {
      int32_t timeout = d->nodes[ni].timeout;
      sc = (st_sched){.type = (uint8_t)type, .pid = p.id};
      memcpy(sc.version, st.version, sizeof sc.version);
      sc.deadline = timeout > 0 && st.started != ST_NO_TIME
                        ? st.started + (int64_t)timeout * 1000000
                        : ST_NO_TIME;
      /* bamboo runs a poll's first schedule at once. */
      sc.due = ST_NO_TIME;
      if (type == RATTAN_SCHEDULE_POLL)
        sc.due = now + (s->poll_after != RATTAN_NO_TIME ? s->poll_after : 0);
      p.inflight = 0;
      p.status = ST_PROC_SLEEP;
      if ((rc = put_proc(&r, &p))) goto out_free;
    } else if (type == RATTAN_SCHEDULE_POLL) {
      sc.due = now + (s->poll_after != RATTAN_NO_TIME ? s->poll_after
                                                      : cp->c.interval_us);
    }
    if ((rc = st_sched_put(r.st, s->task, s->node, &sc, err)) ||
        (rc = data_save(&r, s->node, data)))
      goto out_free;
  } else {
    if (s->call == CALL_SCHEDULE &&
        (rc = st_sched_del(r.st, s->task, s->node, err)))
      goto out_free;
    if (s->ok) {
      rc = finish_activity(&r, &p, ni, data, 0);
    } else {
      const char *why = s->ex_data ? s->ex_data : "component failed";
      if (json_object_set_new(data, "ex_data", json_string(why)))
        rc = err_set(err, RATTAN_ENOMEM, "node %s: out of memory", s->node);
      else if (d->nodes[ni].flags & ST_NF_ERROR_IGNORABLE) {
        rc = finish_activity(&r, &p, ni, data, 1);
      } else if (!(rc = cx_extract(&r, d->nodes[ni].pipe, s->node, out))) {
        /* bamboo maps a failed activity's outputs too. */
        rc = fail_node(&r, &p, ni, data, why);
      }
    }
  }
out_free:
  json_decref(data);
  return rc;
}

/* A waiting activity past its timeout fails, as bamboo's node_timeout
 * contrib's forced_fail strategy does. */
static int time_out(eng_txn *t, void *ctx, errbuf *err) {
  step *s = ctx;
  run r;
  int rc = run_init(&r, t, s->task, "timeout", err);
  if (rc ||
      (rc = st_journal_arg_text(r.st, "node", s->node, strlen(s->node), err)))
    return rc;
  uint32_t ni = def_find(r.d, r.by_id, s->node);
  st_state st;
  st_proc p;
  if (ni == ST_NONE) return 0;
  if ((rc = st_sched_del(r.st, s->task, s->node, err)) ||
      (rc = st_state_get(r.st, s->task, s->node, &st, err)))
    return rc == RATTAN_ENOTFOUND ? 0 : rc;
  if (st.state != RATTAN_STATE_RUNNING || strcmp(st.version, s->sched.version))
    return 0;
  eng_change c = {.action = ACT_FORCED_FAIL};
  if ((rc = transit_id(&r, s->node, &c, NULL))) return rc;
  json_t *data = data_load(&r, s->node);
  if (!data) return err->code;
  char why[96];
  snprintf(why, sizeof why, "node timeout: ran longer than %d seconds",
           (int)r.d->nodes[ni].timeout);
  rc = json_object_set_new(json_object_get(data, "outputs"), "_forced_failed",
                           json_true())
           ? err_set(err, RATTAN_ENOMEM, "node %s: out of memory", s->node)
           : data_fail(&r, s->node, data, why);
  json_decref(data);
  if (rc || (rc = st_proc_get(r.st, s->task, s->sched.pid, &p, err)))
    return rc == RATTAN_ENOTFOUND ? 0 : rc;
  p.status = ST_PROC_SLEEP;
  p.inflight = 0;
  return put_proc(&r, &p);
}

/* ---- Calling components -----------------------------------------------------
 */

/* Runs the component for s outside any transaction and keeps its result
 * in s. An unregistered code is a failure of the node, not an error. */
static int call_component(eng *e, step *s, errbuf *err) {
  st_txn *rt;
  const st_def *d;
  const uint32_t *by_id;
  int rc = st_read_begin(eng_store(e), &rt, err);
  if (rc) return rc;
  rc = run_def(e, rt, s->task, &d, &by_id, err);
  st_read_end(rt);
  if (rc) return rc;
  uint32_t ni = def_find(d, by_id, s->node);
  if (ni == ST_NONE)
    return err_set(err, RATTAN_ECORRUPT, "node %s: not in the definition",
                   s->node);
  const char *code = d->pool + d->nodes[ni].code;
  const comp *cp = comp_find(e, code);
  rattan_call call = {
      .e = e,
      .task = s->task,
      .node = s->node,
      .loop = s->rec.loop,
      .times = s->call == CALL_SCHEDULE ? s->sched.times + 1 : 0,
      .now = eng_now(e),
      .inputs = s->inputs,
      .outputs = s->outputs,
      .callback_data = s->callback,
      .poll_after = RATTAN_NO_TIME};
  rt_free(s->ex_data);
  s->ex_data = NULL;
  if (!cp) {
    s->ok = 0;
    s->ex_data = text_printf("component %s is not registered", code);
    return s->ex_data ? 0 : err_set(err, RATTAN_ENOMEM, "out of memory");
  }
  rattan_component_fn fn =
      s->call == CALL_EXECUTE ? cp->c.execute : cp->c.schedule_fn;
  if (!fn) {
    s->ok = 0;
    s->ex_data = text_printf("component %s has no schedule function", code);
    return s->ex_data ? 0 : err_set(err, RATTAN_ENOMEM, "out of memory");
  }
  s->ok = fn(&call, cp->c.ctx) == 0;
  s->finish = call.finish;
  s->poll_after = call.poll_after;
  s->ex_data = call.ex_data;
  call.ex_data = NULL;
  int oom = call.oom;
  call_done(&call);
  return oom ? err_set(err, RATTAN_ENOMEM, "node %s: out of memory", s->node)
             : 0;
}

/* ---- Driving ----------------------------------------------------------------
 */

typedef struct pick {
  const char *task; /* the filter, or NULL */
  int64_t now;
  step *s;
  int found;    /* s holds a schedule ready now */
  int64_t next; /* the earliest future due time, or ST_NO_TIME */
} pick;

static int64_t min_time(int64_t a, int64_t b) {
  if (a == ST_NO_TIME) return b;
  if (b == ST_NO_TIME) return a;
  return a < b ? a : b;
}

/* Picks the first schedule that is ready: a timeout or poll due, or a
 * callback waiting; notes the earliest future due time. */
static int pick_sched(const char *task, const char *node, const st_sched *sc,
                      void *ctx) {
  pick *k = ctx;
  int64_t at = min_time(sc->due, sc->deadline);
  if (sc->pending) at = k->now;
  if (at == ST_NO_TIME) return 0;
  if (at > k->now) {
    k->next = min_time(k->next, at);
    return 0;
  }
  snprintf(k->s->task, sizeof k->s->task, "%s", task);
  snprintf(k->s->node, sizeof k->s->node, "%s", node);
  k->s->sched = *sc;
  k->s->pid = sc->pid;
  k->s->timeout = sc->deadline != ST_NO_TIME && sc->deadline <= k->now;
  k->found = 1;
  return 1;
}

/* Loads what a schedule run needs: the record, the execution data and
 * the oldest callback. A schedule whose node moved on is dropped. */
static int load_schedule(eng *e, step *s, errbuf *err) {
  st_txn *rt;
  int rc = st_read_begin(eng_store(e), &rt, err);
  if (rc) return rc;
  st_slice v;
  run r = {.e = e, .st = rt, .task = s->task, .err = err};
  rc = st_state_get(rt, s->task, s->node, &s->rec, err);
  int stale = rc == RATTAN_ENOTFOUND ||
              (!rc && (s->rec.state != RATTAN_STATE_RUNNING ||
                       strcmp(s->rec.version, s->sched.version)));
  if (rc == RATTAN_ENOTFOUND) rc = 0;
  if (rc || stale) goto out_end;
  json_t *data = data_load(&r, s->node);
  if (!data) {
    rc = err->code;
    goto out_end;
  }
  s->inputs = json_incref(json_object_get(data, "inputs"));
  s->outputs = json_deep_copy(json_object_get(data, "outputs"));
  json_decref(data);
  if (!s->outputs) {
    rc = err_set(err, RATTAN_ENOMEM, "out of memory");
    goto out_end;
  }
  rc = st_data_get(rt, s->task, s->node, ST_DATA_CALLBACKS, 0, &v, err);
  if (rc == 0 && s->sched.pending) {
    json_error_t je;
    unsigned failures = rt_alloc_failures();
    json_t *q = jparse(v.ptr, v.len, 0, &je);
    json_t *first = json_array_get(q, 0);
    s->callback = first ? jdump_text(first) : NULL;
    json_decref(q);
    if (!s->callback && rt_alloc_failures() != failures)
      rc = err_set(err, RATTAN_ENOMEM, "node %s: callback queue: out of memory",
                   s->node);
    else if (!s->callback)
      rc = err_set(err, RATTAN_ECORRUPT, "node %s: callback queue: %s", s->node,
                   je.text);
  } else if (rc == RATTAN_ENOTFOUND) {
    rc = 0;
  }
out_end:
  st_read_end(rt);
  if (rc == 0 && stale) {
    s->call = CALL_NONE;
    return 1;
  }
  s->call = CALL_SCHEDULE;
  return rc;
}

static int drop_schedule(eng_txn *t, void *ctx, errbuf *err) {
  step *s = ctx;
  st_txn *st = eng_txn_store(t);
  int rc = eng_journal(t, s->task, NULL, "drop_schedule", err);
  if (rc ||
      (rc = st_journal_arg_text(st, "node", s->node, strlen(s->node), err)))
    return rc;
  return st_sched_del(st, s->task, s->node, err);
}

/* Finds the next piece of work into s: 1 if there is one, 0 if not (with
 * *next the earliest due time). */
static int find_work(eng *e, const char *task, step *s, int64_t *next,
                     errbuf *err) {
  st_txn *rt;
  int rc = st_read_begin(eng_store(e), &rt, err);
  if (rc) return rc;
  rc = st_runq_first(rt, task, s->task, &s->pid, err);
  if (rc == 0) {
    st_read_end(rt);
    s->node[0] = '\0';
    return 1;
  }
  pick k = {.task = task, .now = eng_now(e), .s = s, .next = ST_NO_TIME};
  if (rc == RATTAN_ENOTFOUND) rc = st_sched_each(rt, task, pick_sched, &k, err);
  st_read_end(rt);
  if (rc < 0) return rc;
  *next = k.next;
  return k.found;
}

/* Does one piece of work. */
static int work(eng *e, step *s, errbuf *err) {
  int rc;
  if (s->node[0] == '\0') {
    if ((rc = eng_step_write(e, push, s, err)) || s->call == CALL_NONE)
      return rc;
  } else if (s->timeout) {
    return eng_step_write(e, time_out, s, err);
  } else {
    rc = load_schedule(e, s, err);
    if (rc == 1) return eng_step_write(e, drop_schedule, s, err);
    if (rc) return rc;
  }
  if ((rc = call_component(e, s, err))) return rc;
  return eng_step_write(e, apply, s, err);
}

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Group commit's bookkeeping for one drive: the steps in the open batch
 * and when it began. */
typedef struct batch {
  unsigned steps;
  int64_t began;
} batch;

/* Commits the open batch. A failed commit loses the batch, so its steps
 * leave the count (ST_AGAIN: the loss can be redone at once). */
static int commit(eng *e, batch *b, eng_drive_result *res, errbuf *err) {
  int rc = eng_batch_commit(e, err);
  if (rc) res->steps -= b->steps;
  b->steps = 0;
  return rc;
}

int eng_drive(eng *e, const char *task, unsigned budget, eng_drive_result *res,
              errbuf *err) {
  *res = (eng_drive_result){.next_due = ST_NO_TIME};
  step s = {0};
  batch b = {0};
  int rc;
  for (;;) {
    int64_t next = ST_NO_TIME;
    rc = find_work(e, task, &s, &next, err);
    if (rc < 0) break;
    int spent = budget && res->steps >= budget;
    if (rc == 0) {
      /* Everything waits on a due time: a virtual clock jumps to it (a
       * jump is work like any other, so a spent budget leaves it). */
      int jump = next != ST_NO_TIME && e->clock.kind == RATTAN_CLOCK_VIRTUAL;
      if (jump && !spent) {
        eng_clock_advance(e, next);
        continue;
      }
      res->next_due = next;
      res->more = jump;
      rc = 0;
      break;
    }
    if (spent) {
      res->more = 1;
      rc = 0;
      break;
    }
    if (e->group && b.steps == 0) b.began = mono_us();
    rc = work(e, &s, err);
    step_reset(&s);
    rt_free(s.ex_data);
    s.ex_data = NULL;
    if (rc == ST_AGAIN) { /* the batch was lost: redo it from the store */
      res->steps -= b.steps;
      b.steps = 0;
      continue;
    }
    if (rc) break;
    res->steps++;
    if (!e->group) continue;
    b.steps++;
    if (b.steps >= e->group_max ||
        mono_us() - b.began >= (int64_t)e->group_window_us) {
      rc = commit(e, &b, res, err);
      if (rc && rc != ST_AGAIN) break;
    }
  }
  step_reset(&s);
  /* Nothing is reported done before it is durable: the last batch
   * commits, then every batch of the drive is flushed. A drive that
   * fails loses its open batch (a failed write took it already), so the
   * store is as its last whole batch left it. */
  if (e->group) {
    if (rc < 0) {
      eng_batch_abort(e);
      res->steps -= b.steps;
      b.steps = 0;
    }
    int crc = commit(e, &b, res, err);
    if (crc == 0) crc = st_batch_flush(e->st, err);
    if (crc == ST_AGAIN)
      res->more = 1; /* lost after all: the caller drives again */
    else if (crc)
      rc = crc;
  }
  return rc < 0 ? rc : 0;
}
