/*
 * Export and replay of a task's journal (JOURNAL.md).
 *
 * Replay rebuilds a task from its journal alone, no component called:
 * each change is checked (the node exists, the state table, the counter,
 * version and time rules of its action, history entries, process and
 * schedule fields, JSON texts) and applied through the same store writers
 * the engine uses, which journal it again. The entry written must then be
 * byte for byte the entry read: so the replayed task's journal is the
 * original's, and anything the checks let through that this library would
 * not have written is still refused. Everything happens in one write
 * transaction: a refused replay leaves the store as it was.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "defparse.h"
#include "run_int.h"

/* The entry kinds this library writes; the journal's must be one. */
static const char *const kinds[] = {
    "create",        "push",           "result",
    "timeout",       "drop_schedule",  "start",
    "pause",         "resume",         "revoke",
    "retry",         "skip",           "skip_exg",
    "skip_cpg",      "node_pause",     "node_resume",
    "pause_subproc", "resume_subproc", "retry_subprocess",
    "forced_fail",   "callback"};

int eng_export(eng *e, const char *task, buf *out, errbuf *err) {
  st_txn *t;
  st_jheader h = {.version = ST_JOURNAL_VERSION};
  st_def def;
  char *json = NULL;
  int rc = st_read_begin(e->st, &t, err);
  if (rc) return rc;
  if ((rc = st_task_get(t, task, &h.task, err))) {
    if (rc == RATTAN_ENOTFOUND) err_set(err, rc, "task %s: no such task", task);
    goto out_end;
  }
  if ((rc = st_def_get(t, task, &def, err))) goto out_end;
  json_t *tree = def_to_json(&def);
  st_def_free(&def);
  json = tree ? jdump_text(tree) : NULL;
  json_decref(tree);
  if (!json) {
    rc = err_set(err, RATTAN_ENOMEM, "task %s: out of memory", task);
    goto out_end;
  }
  h.engine = (st_slice){RATTAN_VERSION_STRING, strlen(RATTAN_VERSION_STRING)};
  h.clock = h.task.created;
  h.definition = (st_slice){json, strlen(json)};
  if ((rc = st_journal_count(t, task, &h.events, err))) goto out_end;
  if (st_journal_header(out, &h)) {
    rc = err_set(err, RATTAN_ENOMEM, "task %s: out of memory", task);
    goto out_end;
  }
  rc = st_journal_export(t, task, h.events, out, err);
out_end:
  rt_free(json);
  st_read_end(t);
  return rc;
}

/* ---- Replay ---------------------------------------------------------------
 */

typedef struct replay {
  st_jreader rd;
  st_jheader h;
  st_def def;
  uint32_t *by_id;
  const eng_replay_opts *o;
  eng_replay_result *res;
  st_txn *st;
  int task_made;
  char history_for[ST_ID_MAX + 1]; /* a history entry awaits its change */
  char why[ERRBUF_MAX];
} replay;

/* Refuses the change at off, saying what is wrong. */
static int bad(replay *r, size_t off, int code, const char *what) {
  return st_jr_fail(&r->rd, off, code, "%s", what);
}

/* Whether id is a node of the definition or its root pipeline. */
static int known(replay *r, const char *id) {
  return def_find(&r->def, r->by_id, id) != ST_NONE ||
         !strcmp(id, r->def.pool + r->def.pipes[0].id);
}

static uint32_t pipe_index(const st_def *d, const char *id) {
  for (uint32_t p = 0; p < d->n_pipes; p++)
    if (!strcmp(d->pool + d->pipes[p].id, id)) return p;
  return ST_NONE;
}

static int apply_task(replay *r, const st_jchange *c, errbuf *err) {
  const st_task *a = &c->task, *b = &r->h.task;
  if (r->task_made || r->rd.index != 1)
    return bad(r, c->off, RATTAN_ECORRUPT, "the task is created twice");
  if (strcmp(a->id, b->id) || strcmp(a->name, b->name) ||
      strcmp(a->root, b->root) || strcmp(a->project, b->project) ||
      a->created != b->created)
    return bad(r, c->off, RATTAN_ECORRUPT,
               "the task created is not the header's");
  r->task_made = 1;
  int rc = st_task_put(r->st, a, err);
  return rc ? rc : st_def_put(r->st, a->id, &r->def, err);
}

static int apply_state(replay *r, const st_jevent *ev, const st_jchange *c,
                       errbuf *err) {
  st_state cur;
  int rc = st_state_get(r->st, r->h.task.id, c->node, &cur, err);
  if (rc && rc != RATTAN_ENOTFOUND) return rc;
  int has = rc == 0;
  if (c->from != (has ? cur.state : -1)) {
    snprintf(r->why, sizeof r->why,
             "node %s: the change starts from %s but "
             "the node is %s",
             c->node, c->from < 0 ? "no record" : rattan_state_name(c->from),
             has ? rattan_state_name(cur.state) : "without a record");
    return bad(r, c->off, RATTAN_ESTATE, r->why);
  }
  char action[32], note[ERRBUF_MAX];
  snprintf(action, sizeof action, "%.*s", (int)c->action.len,
           (const char *)c->action.ptr);
  snprintf(note, sizeof note, "%.*s", (int)c->note.len,
           (const char *)c->note.ptr);
  uint32_t seq = 0;
  if (!has && (rc = st_state_seq(r->st, r->h.task.id, &seq, err))) return rc;
  int history;
  errbuf why = {0};
  if ((rc = eng_transit_check(c->node, action, has ? &cur : NULL, &c->rec,
                              ev->at, seq, &history, &why)))
    return bad(r, c->off, rc == RATTAN_ESTATE ? rc : RATTAN_ECORRUPT, why.msg);
  int mine = !strcmp(r->history_for, c->node);
  if (r->history_for[0] && !mine)
    return bad(r, c->off, RATTAN_ECORRUPT,
               "a history entry not followed by its node's change");
  if (history != mine) {
    snprintf(r->why, sizeof r->why, "node %s: %s %s its record to the history",
             c->node, action, history ? "moves" : "does not move");
    return bad(r, c->off, RATTAN_ESTATE, r->why);
  }
  r->history_for[0] = '\0';
  st_why w = {action, c->from, c->has_note ? note : NULL};
  return st_state_put(r->st, r->h.task.id, c->node, &c->rec, &w, err);
}

static int apply_history(replay *r, const st_jchange *c, errbuf *err) {
  st_state cur;
  uint32_t n;
  const char *task = r->h.task.id;
  int rc = st_state_get(r->st, task, c->node, &cur, err);
  if (rc == RATTAN_ENOTFOUND)
    return bad(r, c->off, RATTAN_ESTATE, "history of a node without a record");
  if (rc || (rc = st_history_count(r->st, task, c->node, &n, err))) return rc;
  if (c->index != n || eng_state_diff(&cur, &c->rec)) {
    snprintf(r->why, sizeof r->why,
             "node %s: history entry %u is not the node's record as entry %u",
             c->node, c->index, n);
    return bad(r, c->off, RATTAN_ECORRUPT, r->why);
  }
  snprintf(r->history_for, sizeof r->history_for, "%s", c->node);
  return st_history_add(r->st, task, c->node, &c->rec, err);
}

static int apply_data(replay *r, const st_jchange *c, errbuf *err) {
  const char *task = r->h.task.id;
  if (!c->present) return st_data_del(r->st, task, c->node, c->tag, 0, err);
  json_error_t je;
  unsigned failures = rt_alloc_failures();
  json_t *j = jparse(c->value.ptr, c->value.len, 0, &je);
  /* jansson reports running out of memory as bad text. */
  if (!j && rt_alloc_failures() != failures)
    return err_set(err, RATTAN_ENOMEM, "node %s: data: out of memory", c->node);
  int shape =
      c->tag == ST_DATA_CALLBACKS ? json_is_array(j) : json_is_object(j);
  json_decref(j);
  if (!shape) {
    snprintf(r->why, sizeof r->why, "node %s: data is not a JSON %s%s%s",
             c->node, c->tag == ST_DATA_CALLBACKS ? "array" : "object",
             j ? "" : ": ", j ? "" : je.text);
    return bad(r, c->off, RATTAN_ECORRUPT, r->why);
  }
  return st_data_put(r->st, task, c->node, c->tag, 0, c->value, err);
}

static int apply_proc(replay *r, const st_jchange *c, errbuf *err) {
  const char *task = r->h.task.id;
  if (c->pid == 0) return bad(r, c->off, RATTAN_ECORRUPT, "process id 0");
  if (!c->present) return st_proc_del(r->st, task, c->pid, err);
  const st_jproc *j = &c->proc;
  st_proc p = {.id = c->pid,
               .parent = j->parent,
               .need_ack = j->need_ack,
               .status = j->status,
               .inflight = j->inflight,
               .depth = j->depth};
  p.cur = def_find(&r->def, r->by_id, j->cur);
  p.dest = j->dest[0] ? def_find(&r->def, r->by_id, j->dest) : ST_NONE;
  int named = p.cur != ST_NONE && (!j->dest[0] || p.dest != ST_NONE);
  for (unsigned i = 0; i < j->depth && named; i++)
    named = (p.stack[i] = pipe_index(&r->def, j->stack[i])) != ST_NONE;
  if (!named || (j->suspended_by[0] && !known(r, j->suspended_by))) {
    snprintf(r->why, sizeof r->why,
             "process %u names a node the definition lacks", c->pid);
    return bad(r, c->off, RATTAN_ECORRUPT, r->why);
  }
  memcpy(p.suspended_by, j->suspended_by, sizeof p.suspended_by);
  return st_proc_put(r->st, task, &p, err);
}

static int apply_sched(replay *r, const st_jchange *c, errbuf *err) {
  const char *task = r->h.task.id;
  if (def_find(&r->def, r->by_id, c->node) == ST_NONE) {
    snprintf(r->why, sizeof r->why,
             "node %s: a schedule of a node the "
             "definition lacks",
             c->node);
    return bad(r, c->off, RATTAN_ECORRUPT, r->why);
  }
  if (!c->present) return st_sched_del(r->st, task, c->node, err);
  if (!eng_version_ok(c->sched.version) || c->sched.type == 0)
    return bad(r, c->off, RATTAN_ECORRUPT,
               "a schedule with a bad version or "
               "type");
  return st_sched_put(r->st, task, c->node, &c->sched, err);
}

static int apply_change(replay *r, const st_jevent *ev, const st_jchange *c,
                        errbuf *err) {
  if (!r->task_made && c->type != ST_JC_TASK)
    return bad(r, c->off, RATTAN_ECORRUPT,
               "a change before the task is created");
  if (r->history_for[0] && c->type != ST_JC_STATE)
    return bad(r, c->off, RATTAN_ECORRUPT,
               "a history entry not followed by its node's change");
  if ((c->type == ST_JC_STATE || c->type == ST_JC_HISTORY ||
       c->type == ST_JC_DATA) &&
      !known(r, c->node)) {
    snprintf(r->why, sizeof r->why, "node %s: not in the definition", c->node);
    return bad(r, c->off, RATTAN_ECORRUPT, r->why);
  }
  switch (c->type) {
    case ST_JC_TASK:
      return apply_task(r, c, err);
    case ST_JC_STATE:
      return apply_state(r, ev, c, err);
    case ST_JC_HISTORY:
      return apply_history(r, c, err);
    case ST_JC_DATA:
      return apply_data(r, c, err);
    case ST_JC_PROC:
      return apply_proc(r, c, err);
    default:
      return apply_sched(r, c, err);
  }
}

static const char *kind_named(st_slice k) {
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
    if (strlen(kinds[i]) == k.len && !memcmp(kinds[i], k.ptr, k.len))
      return kinds[i];
  return NULL;
}

/* Applies one event; the rest of the item is read and checked too. */
static int replay_event(replay *r, const st_jevent *ev, errbuf *err) {
  st_jreader *rd = &r->rd;
  const char *kind = kind_named(ev->kind);
  if (!kind) {
    snprintf(r->why, sizeof r->why, "unknown event kind \"%.*s\"",
             (int)(ev->kind.len > 32 ? 32 : ev->kind.len),
             (const char *)ev->kind.ptr);
    return bad(r, rd->item, RATTAN_ECORRUPT, r->why);
  }
  if (ev->seq != rd->index || (rd->index == 1) != !strcmp(kind, "create")) {
    snprintf(r->why, sizeof r->why, "event %llu (%s) out of order",
             (unsigned long long)ev->seq, kind);
    return bad(r, rd->item, RATTAN_ECORRUPT, r->why);
  }
  int rc = st_journal_begin(r->st, r->h.task.id, &r->def, kind, ev->at, err);
  if (rc ||
      (ev->n_args && (rc = st_journal_args_raw(r->st, ev->args.ptr,
                                               ev->args.len, ev->n_args, err))))
    return rc;
  st_jchange c;
  for (uint32_t i = 0; i < ev->n_changes; i++)
    if ((rc = st_jr_change(rd, &c)) || (rc = apply_change(r, ev, &c, err)))
      return rc;
  if (r->history_for[0])
    return bad(r, rd->item, RATTAN_ECORRUPT,
               "a history entry not followed by its node's change");
  uint64_t seq;
  st_slice again;
  if ((rc = st_jr_event_end(rd)) || (rc = st_journal_end(r->st, &seq, err)) ||
      (rc = st_journal_get(r->st, r->h.task.id, seq, &again, err)))
    return rc;
  if (again.len != ev->bytes.len || memcmp(again.ptr, ev->bytes.ptr, again.len))
    return st_jr_fail(rd, rd->item, RATTAN_ECORRUPT,
                      "the event is not as this library writes it (fields "
                      "out of order, numbers not in their shortest form, or "
                      "values the rules would not give)");
  return 0;
}

static int replay_run(eng_txn *t, void *ctx, errbuf *err) {
  replay *r = ctx;
  st_task old;
  r->st = eng_txn_store(t);
  r->task_made = 0;
  r->history_for[0] = '\0';
  *r->res = (eng_replay_result){.total = r->h.events, .last_at = ST_NO_TIME};
  snprintf(r->res->task, sizeof r->res->task, "%s", r->h.task.id);
  int rc = st_task_get(r->st, r->h.task.id, &old, err);
  if (rc == 0)
    return err_set(err, RATTAN_EEXIST, "task %s already exists in this store",
                   r->h.task.id);
  if (rc != RATTAN_ENOTFOUND) return rc;
  /* The reader restarts after the header on every run of this callback. */
  st_jreader rd0 = r->rd;
  for (;;) {
    st_jevent ev;
    if (r->o->max_events && r->res->events == r->o->max_events) break;
    rc = st_jr_event(&r->rd, &ev);
    if (rc == RATTAN_ENOTFOUND) break;
    if (rc) goto out;
    if (r->rd.index > r->h.events) {
      rc = st_jr_fail(&r->rd, r->rd.item, RATTAN_ECORRUPT,
                      "more events than the %llu the header announces",
                      (unsigned long long)r->h.events);
      goto out;
    }
    /* The first event past the time is read (and checked) to find it. */
    if (r->o->until != ST_NO_TIME && ev.at > r->o->until) break;
    if ((rc = replay_event(r, &ev, err))) goto out;
    r->res->events++;
    r->res->last_at = ev.at;
  }
  rc = 0;
  if (r->rd.off == r->rd.n && r->rd.index != r->h.events) {
    /* The missing event is where the input ends. */
    uint64_t present = r->rd.index++;
    rc = st_jr_fail(&r->rd, r->rd.off, RATTAN_ECORRUPT,
                    "truncated: the header announces %llu events, %llu "
                    "are present",
                    (unsigned long long)r->h.events,
                    (unsigned long long)present);
  } else if (r->res->events == 0) {
    rc = err_set(err, RATTAN_EINVAL,
                 "journal of task %s: no event within the limit", r->h.task.id);
  }
out:
  r->rd = rd0;
  return rc;
}

int eng_replay(eng *e, const void *p, size_t n, const eng_replay_opts *o,
               eng_replay_result *res, errbuf *err) {
  replay r = {.o = o, .res = res};
  *res = (eng_replay_result){.last_at = ST_NO_TIME};
  st_jr_init(&r.rd, p, n, err);
  int rc = st_jr_header(&r.rd, &r.h);
  if (rc) return rc;
  diag problems = {0};
  def_options dopt = {0};
  rc = def_compile(r.h.definition.ptr, r.h.definition.len, &dopt, &r.def,
                   &problems, NULL);
  if (rc == RATTAN_EDEF) {
    const char *path = (const char *)problems.text.data;
    rc = st_jr_fail(&r.rd, r.h.definition_at, RATTAN_ECORRUPT,
                    "definition: %s: %s", path, path + strlen(path) + 1);
  } else if (rc) {
    err_set(err, rc, "journal: out of memory");
  }
  diag_free(&problems);
  if (rc) return rc;
  if (strcmp(r.def.pool + r.def.pipes[0].id, r.h.task.root)) {
    rc = st_jr_fail(&r.rd, r.h.root_at, RATTAN_ECORRUPT,
                    "root %s is not the definition's", r.h.task.root);
    goto out_free_def;
  }
  r.by_id = rt_malloc((r.def.n_nodes + 1) * sizeof *r.by_id);
  if (!r.by_id) {
    rc = err_set(err, RATTAN_ENOMEM, "journal: out of memory");
    goto out_free_def;
  }
  def_index(&r.def, r.by_id);
  rc = eng_write(e, replay_run, &r, err);
  rt_free(r.by_id);
out_free_def:
  st_def_free(&r.def);
  return rc;
}
