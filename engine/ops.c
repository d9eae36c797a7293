/*
 * Operator actions (bamboo's engine API): each is one write transaction
 * that checks its precondition, changes the records through eng_transit
 * (so the table is enforced and the change journaled), and wakes or stops
 * processes. None runs a node: the next eng_drive does.
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"

typedef struct op_ctx {
  const eng_op *op;
} op_ctx;

static int refuse(run *r, const char *node, const char *why) {
  return err_set(r->err, RATTAN_ESTATE, "task %s node %s: %s", r->task, node,
                 why);
}

/* The node's index, or RATTAN_EINVAL naming it. */
static int find_node(run *r, const char *id, uint32_t *ni) {
  if (!id)
    return err_set(r->err, RATTAN_EINVAL, "task %s: no node given", r->task);
  *ni = def_find(r->d, r->by_id, id);
  if (*ni == ST_NONE)
    return err_set(r->err, RATTAN_EINVAL, "task %s: no node %s", r->task, id);
  return 0;
}

/* The node's record (RATTAN_ESTATE "not started" when it has none). */
static int node_state(run *r, const char *id, st_state *s) {
  int rc = st_state_get(r->st, r->task, id, s, r->err);
  if (rc == RATTAN_ENOTFOUND)
    return err_set(r->err, RATTAN_ESTATE, "task %s node %s: not started",
                   r->task, id);
  return rc;
}

static int need_state(run *r, const char *id, const st_state *s, int want,
                      const char *op) {
  if (s->state == want) return 0;
  return err_set(r->err, RATTAN_ESTATE,
                 "task %s node %s: %s needs %s, the node is %s", r->task, id,
                 op, rattan_state_name(want), rattan_state_name(s->state));
}

typedef struct proc_at {
  uint32_t node;
  int status; /* -1: any */
  st_proc p;
  int found;
} proc_at;

static int match_proc(const st_proc *p, void *ctx) {
  proc_at *f = ctx;
  if (p->cur != f->node || (f->status >= 0 && p->status != f->status)) return 0;
  f->p = *p;
  f->found = 1;
  return 1;
}

/* The process whose current node is ni (and in status, unless -1). */
static int find_proc(run *r, uint32_t ni, int status, st_proc *out) {
  proc_at f = {.node = ni, .status = status};
  int rc = st_proc_each(r->st, r->task, match_proc, &f, r->err);
  if (rc < 0) return rc;
  if (!f.found)
    return refuse(r, node_id(r->d, ni), "no process is waiting at this node");
  *out = f.p;
  return 0;
}

typedef struct wake {
  run *r;
  const char *by;
  int rc;
} wake;

static int wake_one(const st_proc *p, void *ctx) {
  wake *w = ctx;
  if (p->status != ST_PROC_SUSPEND || strcmp(p->suspended_by, w->by)) return 0;
  st_proc q = *p;
  q.status = ST_PROC_RUN;
  q.suspended_by[0] = '\0';
  /* Puts while walking the same table would disturb the cursor: collect
   * by re-walking after each put instead. */
  w->rc = st_proc_put(w->r->st, w->r->task, &q, w->r->err);
  return w->rc ? w->rc : 1;
}

/* Makes every process suspended by id runnable again. */
static int wake_suspended(run *r, const char *id) {
  wake w = {r, id, 0};
  int rc;
  while ((rc = st_proc_each(r->st, r->task, wake_one, &w, r->err)) == 1) {
  }
  return rc < 0 ? rc : w.rc;
}

static int transit(run *r, const char *id, int action, st_state *out) {
  eng_change c = {.action = action};
  return eng_transit(r->t, r->task, id, &c, out, r->err);
}

/* A failed node's process goes on at next (a node index). */
static int continue_at(run *r, st_proc *p, uint32_t next) {
  p->cur = next;
  p->status = ST_PROC_RUN;
  p->inflight = 0;
  return st_proc_put(r->st, r->task, p, r->err);
}

static int op_start(run *r) {
  const char *root = pipe_id(r->d, 0);
  st_state s;
  int rc = st_state_get(r->st, r->task, root, &s, r->err);
  if (rc == 0)
    return err_set(r->err, RATTAN_ESTATE, "task %s: already started (%s)",
                   r->task, rattan_state_name(s.state));
  if (rc != RATTAN_ENOTFOUND) return rc;
  eng_change c = {.action = ACT_RUN, .root_id = root, .parent_id = ""};
  if ((rc = eng_transit(r->t, r->task, root, &c, NULL, r->err))) return rc;
  st_proc p = {.id = 1,
               .cur = r->d->pipes[0].start,
               .dest = ST_NONE,
               .status = ST_PROC_RUN,
               .depth = 1};
  return st_proc_put(r->st, r->task, &p, r->err);
}

typedef struct kill_ctx {
  run *r;
  int rc;
} kill_ctx;

static int kill_one(const st_proc *p, void *ctx) {
  kill_ctx *k = ctx;
  k->rc = st_proc_del(k->r->st, k->r->task, p->id, k->r->err);
  return k->rc ? k->rc : 1;
}

static int drop_sched(const char *task, const char *node, const st_sched *s,
                      void *ctx) {
  (void)s;
  kill_ctx *k = ctx;
  k->rc = st_sched_del(k->r->st, task, node, k->r->err);
  return k->rc ? k->rc : 1;
}

/* Revoke: the task is REVOKED and nothing of it runs again. bamboo lets
 * processes die at their next push; rattan removes them (and their
 * schedules) at once, which is the same for every observer. */
static int op_revoke(run *r) {
  int rc = transit(r, pipe_id(r->d, 0), ACT_REVOKE, NULL);
  kill_ctx k = {r, 0};
  while (!rc && (rc = st_proc_each(r->st, r->task, kill_one, &k, r->err)) == 1)
    rc = 0;
  while (!rc &&
         (rc = st_sched_each(r->st, r->task, drop_sched, &k, r->err)) == 1)
    rc = 0;
  return rc;
}

static int op_retry(run *r, uint32_t ni, const char *inputs, int subprocess) {
  const st_def_node *n = &r->d->nodes[ni];
  const char *id = node_id(r->d, ni);
  st_state s;
  st_proc p;
  int rc;
  if (subprocess != (n->type == ST_SUBPROCESS))
    return refuse(r, id,
                  subprocess ? "is not a subprocess"
                             : "is a subprocess: use retry_subprocess");
  if (n->type == ST_SERVICE_ACTIVITY && !(n->flags & ST_NF_RETRYABLE))
    return refuse(r, id, "is not retryable");
  if ((rc = node_state(r, id, &s)) ||
      (rc = need_state(r, id, &s, RATTAN_STATE_FAILED, "retry")) ||
      (rc = find_proc(r, ni, ST_PROC_SLEEP, &p)))
    return rc;
  if (inputs) {
    json_error_t je;
    unsigned failures = rt_alloc_failures();
    json_t *j = jparse_str(inputs, 0, &je);
    int ok = json_is_object(j);
    json_decref(j);
    /* jansson reports running out of memory as bad text. */
    if (!j && rt_alloc_failures() != failures)
      return err_set(r->err, RATTAN_ENOMEM,
                     "task %s node %s: retry inputs: out of memory", r->task,
                     id);
    if (!ok)
      return err_set(
          r->err, RATTAN_EINVAL, "task %s node %s: retry inputs: %s at byte %d",
          r->task, id, j ? "not a JSON object" : je.text, j ? 0 : je.position);
    if ((rc = st_data_put(r->st, r->task, id, ST_DATA_INPUTS, 0,
                          (st_slice){inputs, strlen(inputs)}, r->err)))
      return rc;
  }
  if ((rc = transit(r, id, ACT_RETRY, NULL))) return rc;
  /* A subprocess failed before its start event (its params): if it was
   * entered, leave it, so the retry enters it afresh. */
  if (subprocess && p.depth > 1 && p.stack[p.depth - 1] == n->child) p.depth--;
  return continue_at(r, &p, ni);
}

static int op_skip(run *r, uint32_t ni, const eng_op *op) {
  const st_def *d = r->d;
  const st_def_node *n = &d->nodes[ni];
  const char *id = node_id(d, ni);
  st_state s;
  st_proc p;
  uint32_t flows[64], nf = 0;
  int rc;
  switch (op->kind) {
    case OP_SKIP:
      if (n->type != ST_SERVICE_ACTIVITY && n->type != ST_EMPTY_START)
        return refuse(r, id, "only activities and start events can be skipped");
      if (n->type == ST_SERVICE_ACTIVITY && !(n->flags & ST_NF_SKIPPABLE))
        return refuse(r, id, "is not skippable");
      break;
    case OP_SKIP_EXG:
    case OP_SKIP_CPG: {
      int want =
          op->kind == OP_SKIP_EXG ? ST_EXCLUSIVE_GW : ST_COND_PARALLEL_GW;
      if (n->type != want)
        return refuse(r, id,
                      op->kind == OP_SKIP_EXG
                          ? "is not an exclusive gateway"
                          : "is not a conditional parallel gateway");
      size_t want_n = op->kind == OP_SKIP_EXG ? 1 : op->n_flows;
      const char *const *names =
          op->kind == OP_SKIP_EXG ? &op->text : op->flows;
      if (want_n == 0 || want_n > 64 || !names)
        return err_set(r->err, RATTAN_EINVAL,
                       "task %s node %s: give 1 to 64 flow ids", r->task, id);
      for (size_t i = 0; i < want_n; i++) {
        uint32_t f = ST_NONE;
        for (uint32_t k = 0; names[i] && k < n->n_out; k++)
          if (!strcmp(d->pool + d->flows[n->out + k].id, names[i]))
            f = n->out + k;
        if (f == ST_NONE)
          return err_set(r->err, RATTAN_EINVAL,
                         "task %s node %s: %s is not an outgoing flow", r->task,
                         id, names[i] ? names[i] : "(null)");
        for (uint32_t k = 0; k < nf; k++)
          if (flows[k] == f)
            return err_set(r->err, RATTAN_EINVAL,
                           "task %s node %s: flow %s given twice", r->task, id,
                           names[i]);
        flows[nf++] = f;
      }
      break;
    }
  }
  if ((rc = node_state(r, id, &s)) ||
      (rc = need_state(r, id, &s, RATTAN_STATE_FAILED, "skip")) ||
      (rc = find_proc(r, ni, ST_PROC_SLEEP, &p)) ||
      (rc = transit(r, id, ACT_SKIP, NULL)))
    return rc;
  if (op->kind == OP_SKIP) return continue_at(r, &p, node_next(d, ni));
  if (op->kind == OP_SKIP_EXG)
    return continue_at(r, &p, d->flows[flows[0]].target);
  p.inflight = 0;
  return run_fork(r, &p, flows, nf, n->converge);
}

static int op_pause_node(run *r, uint32_t ni) {
  const char *id = node_id(r->d, ni);
  if (r->d->nodes[ni].type == ST_SUBPROCESS)
    return refuse(r, id, "is a subprocess: use pause_subproc");
  st_state s;
  int rc = st_state_get(r->st, r->task, id, &s, r->err);
  if (rc && rc != RATTAN_ENOTFOUND) return rc;
  /* An appointment: only for a node that has not started this round. The
   * table would let a RUNNING node be SUSPENDED, but bamboo then strands
   * its schedule; refusing keeps the intent. */
  if (rc == 0 && s.state != RATTAN_STATE_READY)
    return err_set(r->err, RATTAN_ESTATE,
                   "task %s node %s: pause needs a node not yet running, the "
                   "node is %s",
                   r->task, id, rattan_state_name(s.state));
  return transit(r, id, ACT_PAUSE, NULL);
}

static int op_resume_node(run *r, uint32_t ni, int subprocess) {
  const char *id = node_id(r->d, ni);
  if (subprocess != (r->d->nodes[ni].type == ST_SUBPROCESS))
    return refuse(r, id,
                  subprocess ? "is not a subprocess" : "is a subprocess");
  st_state s;
  int rc = node_state(r, id, &s);
  if (rc ||
      (rc = need_state(r, id, &s, RATTAN_STATE_SUSPENDED,
                       subprocess ? "resume_subproc" : "resume")) ||
      (rc = transit(r, id, subprocess ? ACT_RESUME_PIPELINE : ACT_RESUME_NODE,
                    NULL)))
    return rc;
  return wake_suspended(r, id);
}

static int op_pause_subproc(run *r, uint32_t ni) {
  const char *id = node_id(r->d, ni);
  if (r->d->nodes[ni].type != ST_SUBPROCESS)
    return refuse(r, id, "is not a subprocess");
  st_state s;
  int rc = node_state(r, id, &s);
  if (rc || (rc = need_state(r, id, &s, RATTAN_STATE_RUNNING, "pause_subproc")))
    return rc;
  return transit(r, id, ACT_PAUSE, NULL);
}

static int op_forced_fail(run *r, uint32_t ni, const char *ex_data) {
  const char *id = node_id(r->d, ni);
  if (r->d->nodes[ni].type != ST_SERVICE_ACTIVITY)
    return refuse(r, id, "only activities can be forced to fail");
  st_state s;
  st_proc p;
  int rc;
  if ((rc = node_state(r, id, &s)) ||
      (rc = need_state(r, id, &s, RATTAN_STATE_RUNNING, "forced_fail")) ||
      (rc = find_proc(r, ni, -1, &p)) ||
      (rc = transit(r, id, ACT_FORCED_FAIL, NULL)) ||
      (rc = st_sched_del(r->st, r->task, id, r->err)))
    return rc;
  json_t *data = data_load(r, id);
  if (!data) return r->err->code;
  json_t *out = json_object_get(data, "outputs");
  /* Both outputs or an error: data stored without them would pass for
   * the forced failure's. */
  if (json_object_set_new(out, "ex_data",
                          ex_data ? json_string(ex_data) : json_null()) ||
      json_object_set_new(out, "_forced_failed", json_true()))
    rc = err_set(r->err, RATTAN_ENOMEM, "task %s node %s: out of memory",
                 r->task, id);
  else
    rc = data_fail(r, id, data, ex_data ? ex_data : "forced fail");
  json_decref(data);
  p.status = ST_PROC_SLEEP;
  p.inflight = 0;
  return rc ? rc : st_proc_put(r->st, r->task, &p, r->err);
}

static int op_callback(run *r, uint32_t ni, const eng_op *op) {
  const char *id = node_id(r->d, ni);
  st_state s;
  st_sched sc;
  int rc = node_state(r, id, &s);
  if (rc || (rc = need_state(r, id, &s, RATTAN_STATE_RUNNING, "callback")))
    return rc;
  if (op->version && strcmp(op->version, s.version))
    return err_set(r->err, RATTAN_EVERSION,
                   "task %s node %s: callback for version %s, the node is at "
                   "%s",
                   r->task, id, op->version, s.version);
  rc = st_sched_get(r->st, r->task, id, &sc, r->err);
  if (rc == RATTAN_ENOTFOUND ||
      (rc == 0 && sc.type != RATTAN_SCHEDULE_CALLBACK &&
       sc.type != RATTAN_SCHEDULE_MULTI_CALLBACK))
    return refuse(r, id, "is not waiting for a callback");
  if (rc) return rc;
  if (sc.type == RATTAN_SCHEDULE_CALLBACK && sc.pending)
    return err_set(r->err, RATTAN_EBUSY,
                   "task %s node %s: a callback is already pending", r->task,
                   id);
  json_error_t je;
  unsigned failures = rt_alloc_failures();
  json_t *data =
      op->text ? jparse_str(op->text, JSON_DECODE_ANY, &je) : json_null();
  if (!data && rt_alloc_failures() != failures)
    return err_set(r->err, RATTAN_ENOMEM,
                   "task %s node %s: callback data: out of memory", r->task,
                   id);
  if (!data)
    return err_set(r->err, RATTAN_EINVAL,
                   "task %s node %s: callback data: %s at byte %d", r->task, id,
                   je.text, je.position);
  st_slice v;
  json_t *q = NULL;
  rc = st_data_get(r->st, r->task, id, ST_DATA_CALLBACKS, 0, &v, r->err);
  if (rc == 0) q = jparse(v.ptr, v.len, 0, &je);
  if (rc == RATTAN_ENOTFOUND || !sc.pending) {
    json_decref(q);
    q = json_array();
    rc = 0;
  }
  char *text = NULL;
  if (!rc && (!json_is_array(q) || json_array_append(q, data) ||
              !(text = jdump_text(q))))
    rc = err_set(r->err, RATTAN_ENOMEM, "callback: out of memory");
  json_decref(q);
  json_decref(data);
  sc.pending++;
  if (!rc)
    rc = st_data_put(r->st, r->task, id, ST_DATA_CALLBACKS, 0,
                     (st_slice){text, strlen(text)}, r->err);
  rt_free(text);
  return rc ? rc : st_sched_put(r->st, r->task, id, &sc, r->err);
}

/* The journal's names of the operations (JOURNAL.md). */
static const char *const op_names[] = {[OP_START] = "start",
                                       [OP_PAUSE] = "pause",
                                       [OP_RESUME] = "resume",
                                       [OP_REVOKE] = "revoke",
                                       [OP_RETRY] = "retry",
                                       [OP_SKIP] = "skip",
                                       [OP_SKIP_EXG] = "skip_exg",
                                       [OP_SKIP_CPG] = "skip_cpg",
                                       [OP_NODE_PAUSE] = "node_pause",
                                       [OP_NODE_RESUME] = "node_resume",
                                       [OP_SUB_PAUSE] = "pause_subproc",
                                       [OP_SUB_RESUME] = "resume_subproc",
                                       [OP_SUB_RETRY] = "retry_subprocess",
                                       [OP_FORCED_FAIL] = "forced_fail",
                                       [OP_CALLBACK] = "callback"};

/* The operation's arguments, as its journal entry records them. */
static int op_args(run *r, const eng_op *op) {
  st_txn *st = r->st;
  int rc = 0;
  if (op->node)
    rc = st_journal_arg_text(st, "node", op->node, strlen(op->node), r->err);
  if (!rc && op->text)
    rc = st_journal_arg_text(st, "data", op->text, strlen(op->text), r->err);
  if (!rc && op->version)
    rc = st_journal_arg_text(st, "version", op->version, strlen(op->version),
                             r->err);
  if (!rc && op->flows)
    rc = st_journal_arg_texts(st, "flows", op->flows, op->n_flows, r->err);
  return rc;
}

static int op_run(eng_txn *t, void *ctx, errbuf *err) {
  const eng_op *op = ((op_ctx *)ctx)->op;
  run r;
  st_task task;
  if (op->kind < OP_START || op->kind > OP_CALLBACK)
    return err_set(err, RATTAN_EINVAL, "unknown operation %d", op->kind);
  int rc = st_task_get(eng_txn_store(t), op->task, &task, err);
  if (rc == RATTAN_ENOTFOUND)
    return err_set(err, RATTAN_ENOTFOUND, "task %s: no such task", op->task);
  if (rc || (rc = run_init(&r, t, op->task, op_names[op->kind], err)) ||
      (rc = op_args(&r, op)))
    return rc;
  const char *root = pipe_id(r.d, 0);
  uint32_t ni = ST_NONE;
  switch (op->kind) {
    case OP_START:
      return op_start(&r);
    case OP_PAUSE: {
      st_state s;
      if ((rc = node_state(&r, root, &s)) ||
          (rc = need_state(&r, root, &s, RATTAN_STATE_RUNNING, "pause")))
        return rc;
      return transit(&r, root, ACT_PAUSE, NULL);
    }
    case OP_RESUME:
      if ((rc = transit(&r, root, ACT_RESUME_PIPELINE, NULL))) return rc;
      return wake_suspended(&r, root);
    case OP_REVOKE:
      return op_revoke(&r);
    default:
      break;
  }
  if ((rc = find_node(&r, op->node, &ni))) return rc;
  switch (op->kind) {
    case OP_RETRY:
      return op_retry(&r, ni, op->text, 0);
    case OP_SUB_RETRY:
      return op_retry(&r, ni, NULL, 1);
    case OP_SKIP:
    case OP_SKIP_EXG:
    case OP_SKIP_CPG:
      return op_skip(&r, ni, op);
    case OP_NODE_PAUSE:
      return op_pause_node(&r, ni);
    case OP_NODE_RESUME:
      return op_resume_node(&r, ni, 0);
    case OP_SUB_PAUSE:
      return op_pause_subproc(&r, ni);
    case OP_SUB_RESUME:
      return op_resume_node(&r, ni, 1);
    case OP_FORCED_FAIL:
      return op_forced_fail(&r, ni, op->text);
    case OP_CALLBACK:
      return op_callback(&r, ni, op);
  }
  return err_set(err, RATTAN_EINVAL, "unknown operation %d", op->kind);
}

int eng_operate(eng *e, const eng_op *op, errbuf *err) {
  op_ctx c = {op};
  return eng_write(e, op_run, &c, err);
}

/* ---- Reading ----------------------------------------------------------------
 */

typedef struct read_ctx {
  const char *task, *node;
  int64_t hist;
  uint32_t idx, n;
  st_state *s;
  char *json;
  size_t len;
} read_ctx;

/* Reads inside a read transaction; fn gets the store txn. */
static int with_read(eng *e, int (*fn)(st_txn *t, read_ctx *c, errbuf *err),
                     read_ctx *c, errbuf *err) {
  st_txn *t;
  int rc = st_read_begin(eng_store(e), &t, err);
  if (rc) return rc;
  rc = fn(t, c, err);
  st_read_end(t);
  return rc;
}

static int read_state(st_txn *t, read_ctx *c, errbuf *err) {
  int rc = st_state_get(t, c->task, c->node, c->s, err);
  if (rc == RATTAN_ENOTFOUND)
    err_set(err, rc, "task %s node %s: not started", c->task, c->node);
  return rc;
}

static int read_data(st_txn *t, read_ctx *c, errbuf *err) {
  st_slice v;
  int rc = c->hist < 0
               ? st_data_get(t, c->task, c->node, ST_DATA_EXEC, 0, &v, err)
               : st_data_get(t, c->task, c->node, ST_DATA_HISTORY,
                             (uint32_t)c->hist, &v, err);
  if (rc == RATTAN_ENOTFOUND)
    return err_set(err, rc, "task %s node %s: no execution data", c->task,
                   c->node);
  if (rc) return rc;
  if (!(c->json = rt_malloc(v.len + 1)))
    return err_set(err, RATTAN_ENOMEM, "out of memory");
  memcpy(c->json, v.ptr, v.len);
  c->json[v.len] = '\0';
  c->len = v.len;
  return 0;
}

static int read_history(st_txn *t, read_ctx *c, errbuf *err) {
  int rc = st_history_get(t, c->task, c->node, c->idx, c->s, err);
  if (rc == RATTAN_ENOTFOUND)
    err_set(err, rc, "task %s node %s: no attempt %u", c->task, c->node,
            c->idx);
  return rc;
}

static int read_history_count(st_txn *t, read_ctx *c, errbuf *err) {
  return st_history_count(t, c->task, c->node, &c->n, err);
}

int eng_node_get(eng *e, const char *task, const char *node, st_state *s,
                 errbuf *err) {
  read_ctx c = {.task = task, .node = node, .s = s};
  return with_read(e, read_state, &c, err);
}

int eng_node_data(eng *e, const char *task, const char *node, int64_t hist,
                  char **json, size_t *len, errbuf *err) {
  read_ctx c = {.task = task, .node = node, .hist = hist};
  int rc = with_read(e, read_data, &c, err);
  *json = c.json;
  if (len) *len = c.len;
  return rc;
}

int eng_node_history(eng *e, const char *task, const char *node, uint32_t i,
                     st_state *s, errbuf *err) {
  read_ctx c = {.task = task, .node = node, .idx = i, .s = s};
  return with_read(e, read_history, &c, err);
}

int eng_node_history_count(eng *e, const char *task, const char *node,
                           uint32_t *n, errbuf *err) {
  read_ctx c = {.task = task, .node = node};
  int rc = with_read(e, read_history_count, &c, err);
  *n = c.n;
  return rc;
}
