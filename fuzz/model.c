/* The reference model of the sequence fuzz target (see model.h). */
#include "model.h"

#include <string.h>

#include "rattan.h"

enum { MD_RUN, MD_SLEEP, MD_SUSPEND };

#define ROOT MD_NODES

void md_init(md_model *m, const md_graph *g, const md_fate *fate) {
  memset(m, 0, sizeof *m);
  m->g = g;
  m->fate = fate;
  m->known = 1;
  for (int i = 0; i < g->count; i++) {
    const md_node *n = &g->n[i];
    if (n->timeout || (n->kind == MD_ACT && n->comp == MD_POLL)) m->known = 0;
  }
}

int md_expect(const md_model *m, int node, md_rec *out) {
  if (!m->known) return 0;
  *out = m->rec[node];
  return 1;
}

/* ---- Records ----------------------------------------------------------------
 * The rules of JOURNAL.md's action table, for the fields md_rec keeps. */

static md_rec *rec(md_model *m, int i) {
  return &m->rec[i];
}

static int state(const md_model *m, int i) {
  return m->rec[i].state;
}

static void set_state(md_model *m, int i, int s) {
  m->rec[i].state = s;
}

/* A new version: what makes a waiting schedule stale. */
static void fresh(md_model *m, int i) {
  m->ver[i]++;
}

/* run: a first run, a READY node going on, or a re-entry. Returns 0 when
 * the rerun limit failed the node instead. */
static int run_node(md_model *m, int i) {
  md_rec *r = rec(m, i);
  unsigned limit = m->g->rerun_limit ? m->g->rerun_limit : 100;
  int exempt = i < MD_NODES && m->g->n[i].kind == MD_SUB;
  if (r->state == RATTAN_STATE_CREATED) {
    *r = (md_rec){RATTAN_STATE_RUNNING, 1, 0, 0, 0};
    fresh(m, i);
  } else if (r->state == RATTAN_STATE_FINISHED) {
    /* bamboo checks the loop before counting it: limit + 1 runs. */
    if (r->loop > limit && !exempt) {
      r->state = RATTAN_STATE_FAILED;
      return 0;
    }
    r->loop++;
    r->retry = 0;
    r->skip = r->ignored = 0;
    r->state = RATTAN_STATE_RUNNING;
    fresh(m, i);
  } else {
    r->state = RATTAN_STATE_RUNNING; /* READY */
  }
  return 1;
}

/* ---- Processes ----------------------------------------------------------- */

static md_proc *proc_by_id(md_model *m, unsigned id) {
  for (int k = 0; k < m->n_proc; k++)
    if (m->proc[k].id == id) return &m->proc[k];
  return NULL;
}

/* Removes p; the last process takes its slot. */
static void proc_del(md_model *m, md_proc *p) {
  *p = m->proc[--m->n_proc];
}

/* The process standing on node i (in status, or any when status < 0). */
static md_proc *proc_at(md_model *m, int i, int status) {
  for (int k = 0; k < m->n_proc; k++)
    if (m->proc[k].cur == i && (status < 0 || m->proc[k].status == status))
      return &m->proc[k];
  return NULL;
}

/* New process ids continue after the highest one alive. */
static unsigned next_pid(const md_model *m) {
  unsigned top = 0;
  for (int k = 0; k < m->n_proc; k++)
    if (m->proc[k].id > top) top = m->proc[k].id;
  return top + 1;
}

/* One child per target, each toward converge; the parent waits there.
 * Takes the parent by id: adding children may move it in the array. */
static void fork_to(md_model *m, unsigned parent, const int *targets, int n,
                    int converge) {
  unsigned id = next_pid(m);
  int sub = proc_by_id(m, parent)->sub;
  for (int k = 0; k < n && m->n_proc < MD_PROCS; k++)
    m->proc[m->n_proc++] = (md_proc){.id = id++,
                                     .parent = parent,
                                     .cur = targets[k],
                                     .dest = converge,
                                     .sub = sub,
                                     .status = MD_RUN,
                                     .by = -1};
  md_proc *p = proc_by_id(m, parent);
  p->need_ack = (unsigned)n;
  p->cur = converge;
  p->status = n ? MD_SLEEP : MD_RUN;
}

/* Wakes every process suspended by node i (ROOT: the task). */
static void wake(md_model *m, int by) {
  for (int k = 0; k < m->n_proc; k++)
    if (m->proc[k].status == MD_SUSPEND && m->proc[k].by == by) {
      m->proc[k].status = MD_RUN;
      m->proc[k].by = -1;
    }
}

/* ---- Running nodes ------------------------------------------------------- */

/* Maps the finished or failed activity's outputs into the context. */
static void extract(md_model *m, int i) {
  for (int v = 0; v < m->g->n_vars; v++) {
    const md_var *x = &m->g->var[v];
    if (x->src != i) continue;
    int loop = !strcmp(x->key, "_loop");
    if (!loop && m->g->n[i].comp == MD_MISSING) continue; /* no "v" */
    m->var_set[v] = 1;
    m->var_val[v] = loop ? (int)m->rec[i].loop : m->fate[i].value;
  }
}

/* Whether "${10 // (x - 1)}" fails to render in node i's pipeline. Only
 * the root pipeline declares x; its value until an activity sets it is
 * the definition's "", which cannot be divided either. Elsewhere the
 * splice names nothing and stays as written. */
static int render_fails(const md_model *m, int i) {
  if (!m->g->n_vars || strcmp(m->g->var[0].name, "x") || m->g->n[i].pipe >= 0)
    return 0;
  return !m->var_set[0] || m->var_val[0] == 1;
}

static void finish_activity(md_model *m, md_proc *p, int i, int ignored) {
  set_state(m, i, RATTAN_STATE_FINISHED);
  rec(m, i)->ignored = ignored;
  extract(m, i);
  p->cur = m->g->n[i].out[0];
  p->status = MD_RUN;
}

/* A component's result: success, or failure (ignored when the node is
 * error_ignorable). */
static void result(md_model *m, md_proc *p, int i, int ok) {
  if (ok) {
    finish_activity(m, p, i, 0);
  } else if (m->g->n[i].ignorable) {
    finish_activity(m, p, i, 1);
  } else {
    extract(m, i);
    set_state(m, i, RATTAN_STATE_FAILED);
    p->status = MD_SLEEP;
  }
}

/* An activity: its inputs (a retry's, if one gave any) are rendered,
 * then its component runs. A failed rendering fails the node before any
 * component runs, without outputs to map. */
static void activity(md_model *m, md_proc *p, int i) {
  const md_node *n = &m->g->n[i];
  if (m->inputs[i] && render_fails(m, i)) {
    set_state(m, i, RATTAN_STATE_FAILED);
    p->status = MD_SLEEP;
    return;
  }
  int fails = m->fate[i].fail || n->comp == MD_MISSING;
  if (fails || n->comp == MD_PLAIN) {
    result(m, p, i, !fails);
    return;
  }
  m->sched[i] = (md_sched){.live = 1, .ver = m->ver[i], .pid = p->id};
  p->status = MD_SLEEP;
}

/* Entering a subprocess renders its param "${10 // (x - 1)}"; a failure
 * fails the SubProcess node. */
static void subprocess(md_model *m, md_proc *p, int i) {
  if (render_fails(m, i)) {
    set_state(m, i, RATTAN_STATE_FAILED);
    p->status = MD_SLEEP;
    return;
  }
  p->sub = i;
  p->cur = m->g->n[i].start;
}

/* bamboo's ONLY rule over the conditions that hold. A condition on a
 * variable never set compares its "" (see render_fails), which is no
 * expression: the gateway fails. */
static void gateway(md_model *m, md_proc *p, int i) {
  const md_node *n = &m->g->n[i];
  int targets[MD_OUT], hits = 0, bad = 0;
  for (int k = 0; k < n->n_out; k++) {
    const md_cond *c = &n->cond[k];
    if (k == n->dflt || c->var < 0) continue;
    if (!m->var_set[c->var]) {
      bad = 1;
      break;
    }
    int v = m->var_val[c->var];
    if (v >= c->lo && v <= c->hi) targets[hits++] = n->out[k];
  }
  if (!bad && hits == 0 && n->dflt >= 0) targets[hits++] = n->out[n->dflt];
  if (bad || hits == 0 || (hits > 1 && n->kind == MD_EXCLUSIVE)) {
    set_state(m, i, RATTAN_STATE_FAILED);
    p->status = MD_SLEEP;
    return;
  }
  set_state(m, i, RATTAN_STATE_FINISHED);
  if (n->kind == MD_EXCLUSIVE)
    p->cur = targets[0];
  else
    fork_to(m, p->id, targets, hits, n->converge);
}

/* Moves process p one node on: one step of rattan_drive. */
static void push(md_model *m, md_proc *p) {
  if (p->dest >= 0 && p->cur == p->dest) {
    unsigned id = p->parent;
    proc_del(m, p); /* moves another process into p's slot */
    md_proc *parent = proc_by_id(m, id);
    if (parent && parent->need_ack && --parent->need_ack == 0)
      parent->status = MD_RUN;
    return;
  }
  if (state(m, ROOT) == RATTAN_STATE_REVOKED) {
    proc_del(m, p);
    return;
  }
  /* The pipelines it is in, outermost first, then the node itself. */
  int i = p->cur, s = state(m, i), by = -1;
  if (state(m, ROOT) == RATTAN_STATE_SUSPENDED)
    by = ROOT;
  else if (p->sub >= 0 && state(m, p->sub) == RATTAN_STATE_SUSPENDED)
    by = p->sub;
  else if (s == RATTAN_STATE_SUSPENDED)
    by = i;
  if (by >= 0) {
    p->status = MD_SUSPEND;
    p->by = by;
    return;
  }
  if (s != RATTAN_STATE_CREATED && s != RATTAN_STATE_READY &&
      s != RATTAN_STATE_FINISHED) {
    p->status = MD_SLEEP;
    return;
  }
  if (!run_node(m, i)) {
    p->status = MD_SLEEP;
    return;
  }
  const md_node *n = &m->g->n[i];
  switch (n->kind) {
    case MD_START:
    case MD_CONVERGE:
      set_state(m, i, RATTAN_STATE_FINISHED);
      p->cur = n->out[0];
      break;
    case MD_END:
      set_state(m, i, RATTAN_STATE_FINISHED);
      if (n->pipe < 0) {
        set_state(m, ROOT, RATTAN_STATE_FINISHED);
        proc_del(m, p);
      } else { /* back to the parent pipeline, after the SubProcess */
        set_state(m, n->pipe, RATTAN_STATE_FINISHED);
        p->sub = -1;
        p->cur = m->g->n[n->pipe].out[0];
      }
      break;
    case MD_SUB:
      subprocess(m, p, i);
      break;
    case MD_PARALLEL:
      set_state(m, i, RATTAN_STATE_FINISHED);
      fork_to(m, p->id, n->out, n->n_out, n->converge);
      break;
    case MD_EXCLUSIVE:
    case MD_CONDPAR:
      gateway(m, p, i);
      break;
    case MD_ACT:
      activity(m, p, i);
      break;
  }
}

/* A waiting activity's schedule runs on its callback; one left by a node
 * that moved on is dropped. */
static void run_sched(md_model *m, int i) {
  md_sched *s = &m->sched[i];
  md_proc *p = proc_by_id(m, s->pid);
  int stale = state(m, i) != RATTAN_STATE_RUNNING || s->ver != m->ver[i];
  int ok = s->ok && !m->fate[i].fail;
  s->live = 0;
  if (stale || !p) return;
  result(m, p, i, ok);
}

int md_drive(md_model *m, unsigned budget) {
  unsigned steps = 0;
  for (; m->known && steps < budget; steps++) {
    md_proc *p = NULL;
    for (int k = 0; k < m->n_proc; k++)
      if (m->proc[k].status == MD_RUN && (!p || m->proc[k].id < p->id))
        p = &m->proc[k];
    if (p) {
      push(m, p);
      continue;
    }
    int first = -1;
    for (int i = 0; i < m->g->count; i++)
      if (m->sched[i].live && m->sched[i].pending &&
          (first < 0 || strcmp(m->g->n[i].id, m->g->n[first].id) < 0))
        first = i;
    if (first < 0) break;
    run_sched(m, first);
  }
  return m->known ? (int)steps : -1;
}

/* ---- Operations ---------------------------------------------------------- */

static int task_op(md_model *m, int op) {
  int s = state(m, ROOT);
  switch (op) {
    case MD_OP_START:
      if (s != RATTAN_STATE_CREATED) return RATTAN_ESTATE;
      run_node(m, ROOT);
      m->proc[0] = (md_proc){
          .id = 1, .cur = m->g->start, .dest = -1, .sub = -1, .by = -1};
      m->n_proc = 1;
      return RATTAN_OK;
    case MD_OP_PAUSE:
      if (s != RATTAN_STATE_RUNNING) return RATTAN_ESTATE;
      set_state(m, ROOT, RATTAN_STATE_SUSPENDED);
      return RATTAN_OK;
    case MD_OP_RESUME:
      if (s != RATTAN_STATE_SUSPENDED) return RATTAN_ESTATE;
      set_state(m, ROOT, RATTAN_STATE_RUNNING);
      wake(m, ROOT);
      return RATTAN_OK;
    default: /* MD_OP_REVOKE: nothing of the task runs again */
      if (s != RATTAN_STATE_RUNNING && s != RATTAN_STATE_SUSPENDED)
        return RATTAN_ESTATE;
      set_state(m, ROOT, RATTAN_STATE_REVOKED);
      m->n_proc = 0;
      memset(m->sched, 0, sizeof m->sched);
      return RATTAN_OK;
  }
}

/* retry, skip, skip_exg and skip_cpg of a FAILED node whose process
 * sleeps there. */
static int failed_op(md_model *m, int op, int i, const md_args *a) {
  const md_node *n = &m->g->n[i];
  if (state(m, i) != RATTAN_STATE_FAILED) return RATTAN_ESTATE;
  md_proc *p = proc_at(m, i, MD_SLEEP);
  if (!p) return RATTAN_ESTATE;
  if (op == MD_OP_RETRY) {
    if (a->inputs == MD_INPUTS_BAD) return RATTAN_EINVAL;
    if (a->inputs == MD_INPUTS_OBJECT) m->inputs[i] = 1;
    md_rec *r = rec(m, i);
    r->state = RATTAN_STATE_READY;
    r->retry++;
    fresh(m, i);
    p->status = MD_RUN;
    return RATTAN_OK;
  }
  set_state(m, i, RATTAN_STATE_FINISHED);
  rec(m, i)->skip = 1;
  fresh(m, i);
  if (op == MD_OP_SKIP) {
    p->cur = n->out[0];
    p->status = MD_RUN;
  } else if (op == MD_OP_SKIP_EXG) {
    p->cur = n->out[a->flows[0]];
    p->status = MD_RUN;
  } else {
    int targets[MD_OUT + 1];
    for (int k = 0; k < a->n_flows; k++)
      targets[k] = n->out[a->flows[k]];
    fork_to(m, p->id, targets, a->n_flows, n->converge);
  }
  return RATTAN_OK;
}

/* The flows of a skip_exg / skip_cpg: 1 (exg) or 1 to 64 (cpg), each an
 * outgoing flow of the node, none twice. */
static int flows_ok(const md_args *a) {
  if (a->n_flows < 1) return 0;
  for (int k = 0; k < a->n_flows; k++) {
    if (a->flows[k] < 0) return 0;
    for (int j = 0; j < k; j++)
      if (a->flows[j] == a->flows[k]) return 0;
  }
  return 1;
}

static int node_op(md_model *m, int op, int i, const md_args *a) {
  const md_node *n = &m->g->n[i];
  int s = state(m, i), sub = n->kind == MD_SUB;
  switch (op) {
    case MD_OP_RETRY:
      if (sub || n->locked) return RATTAN_ESTATE;
      return failed_op(m, op, i, a);
    case MD_OP_SKIP:
      if ((n->kind != MD_ACT && n->kind != MD_START) || n->locked)
        return RATTAN_ESTATE;
      return failed_op(m, op, i, a);
    case MD_OP_SKIP_EXG:
    case MD_OP_SKIP_CPG:
      if (n->kind != (op == MD_OP_SKIP_EXG ? MD_EXCLUSIVE : MD_CONDPAR))
        return RATTAN_ESTATE;
      if (!flows_ok(a)) return RATTAN_EINVAL;
      return failed_op(m, op, i, a);
    case MD_OP_NODE_PAUSE:
      /* An appointment for a node not yet running this round. */
      if (sub || (s != RATTAN_STATE_CREATED && s != RATTAN_STATE_READY))
        return RATTAN_ESTATE;
      set_state(m, i, RATTAN_STATE_SUSPENDED);
      if (s == RATTAN_STATE_CREATED) {
        *rec(m, i) = (md_rec){RATTAN_STATE_SUSPENDED, 1, 0, 0, 0};
        fresh(m, i);
      }
      return RATTAN_OK;
    case MD_OP_NODE_RESUME:
      if (sub || s != RATTAN_STATE_SUSPENDED) return RATTAN_ESTATE;
      set_state(m, i, RATTAN_STATE_READY);
      wake(m, i);
      return RATTAN_OK;
    case MD_OP_SUB_PAUSE:
      if (!sub || s != RATTAN_STATE_RUNNING) return RATTAN_ESTATE;
      set_state(m, i, RATTAN_STATE_SUSPENDED);
      return RATTAN_OK;
    case MD_OP_SUB_RESUME:
      if (!sub || s != RATTAN_STATE_SUSPENDED) return RATTAN_ESTATE;
      set_state(m, i, RATTAN_STATE_RUNNING);
      wake(m, i);
      return RATTAN_OK;
    case MD_OP_SUB_RETRY:
      if (!sub) return RATTAN_ESTATE;
      return failed_op(m, MD_OP_RETRY, i, a);
    case MD_OP_FORCED_FAIL: {
      if (n->kind != MD_ACT || s != RATTAN_STATE_RUNNING) return RATTAN_ESTATE;
      md_proc *p = proc_at(m, i, -1);
      if (!p) return RATTAN_ESTATE;
      set_state(m, i, RATTAN_STATE_FAILED);
      fresh(m, i);
      m->sched[i].live = 0;
      p->status = MD_SLEEP;
      return RATTAN_OK;
    }
    default: { /* MD_OP_CALLBACK */
      if (s != RATTAN_STATE_RUNNING) return RATTAN_ESTATE;
      if (a->version == MD_VER_STALE) return RATTAN_EVERSION;
      md_sched *sc = &m->sched[i];
      if (!sc->live) return RATTAN_ESTATE;
      if (sc->pending) return RATTAN_EBUSY;
      if (a->bad_data) return RATTAN_EINVAL;
      sc->pending = 1;
      sc->ok = a->ok;
      return RATTAN_OK;
    }
  }
}

int md_operate(md_model *m, int op, int node, const md_args *a) {
  if (!m->known) return 1;
  if (op <= MD_OP_REVOKE) return task_op(m, op);
  if (node < 0) return RATTAN_EINVAL;
  return node_op(m, op, node, a);
}
