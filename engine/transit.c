/*
 * Transitions: the counter, version and time rules of each state write
 * (engine.h lists them), checked against the state table, written with
 * their journal event.
 */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

static const char *const action_names[ACT_COUNT] = {
    [ACT_RUN] = "run",
    [ACT_FINISH] = "finish",
    [ACT_FAIL] = "fail",
    [ACT_RETRY] = "retry",
    [ACT_SKIP] = "skip",
    [ACT_FORCED_FAIL] = "forced_fail",
    [ACT_PAUSE] = "pause",
    [ACT_RESUME_NODE] = "resume",
    [ACT_RESUME_PIPELINE] = "resume_pipeline",
    [ACT_REVOKE] = "revoke",
    [ACT_SET] = "set",
};

#define B(s) (1u << RATTAN_STATE_##s)

/* The states each action may start from and the state it leads to
 * (ACT_SET: any, to change.to). ACT_RUN from FINISHED may lead to FAILED
 * instead (rerun limit), handled in eng_transit. */
static const struct {
  unsigned from;
  int to;
} rules[ACT_COUNT] = {
    [ACT_RUN] = {B(CREATED) | B(READY) | B(FINISHED), RATTAN_STATE_RUNNING},
    [ACT_FINISH] = {B(RUNNING), RATTAN_STATE_FINISHED},
    [ACT_FAIL] = {B(RUNNING), RATTAN_STATE_FAILED},
    [ACT_RETRY] = {B(FAILED), RATTAN_STATE_READY},
    [ACT_SKIP] = {B(FAILED), RATTAN_STATE_FINISHED},
    [ACT_FORCED_FAIL] = {B(RUNNING), RATTAN_STATE_FAILED},
    [ACT_PAUSE] = {B(CREATED) | B(READY) | B(RUNNING), RATTAN_STATE_SUSPENDED},
    [ACT_RESUME_NODE] = {B(SUSPENDED), RATTAN_STATE_READY},
    [ACT_RESUME_PIPELINE] = {B(SUSPENDED), RATTAN_STATE_RUNNING},
    [ACT_REVOKE] = {B(RUNNING) | B(SUSPENDED), RATTAN_STATE_REVOKED},
    [ACT_SET] = {~0u, -1},
};

/* Lists the states in mask as "A or B" into out. */
static void states_text(unsigned mask, char *out, size_t n) {
  out[0] = '\0';
  size_t len = 0;
  for (int s = 0; s < RATTAN_STATE_COUNT; s++) {
    if (!((mask >> s) & 1)) continue;
    int w = snprintf(out + len, n - len, "%s%s", len ? " or " : "",
                     rattan_state_name(s));
    if (w < 0 || (size_t)w >= n - len) return;
    len += (size_t)w;
  }
}

static int refuse(errbuf *err, const char *node, int action, int from, int to,
                  int table_ok) {
  if (!table_ok)
    return err_set(err, RATTAN_ESTATE, "node %s: %s -> %s is not allowed", node,
                   rattan_state_name(from), rattan_state_name(to));
  char need[96];
  states_text(rules[action].from, need, sizeof need);
  return err_set(err, RATTAN_ESTATE,
                 "node %s: %s -> %s is not allowed for %s (needs %s)", node,
                 rattan_state_name(from), rattan_state_name(to),
                 action_names[action], need);
}

static void copy_id(char dst[ST_ID_MAX + 1], const char *src) {
  if (!src) return;
  size_t n = strlen(src);
  if (n > ST_ID_MAX) n = ST_ID_MAX;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* The record action makes of cur (NULL: the node has none) at now:
 * *fresh says it needs a new version, *history that cur goes to the
 * node's history first. c gives the run's ids (NULL keeps cur's) and the
 * finish's ignore_error. Pure, so replay checks recorded changes against
 * the very rules the engine applies. */
static void next_record(int action, int rerun_limited, const st_state *cur,
                        int to, int64_t now, const eng_change *c, st_state *nx,
                        int *fresh, int *history) {
  *fresh = *history = 0;
  if (!cur) {
    *nx = (st_state){.loop = 1, .inner_loop = 1};
    nx->created = now;
    nx->started = nx->archived = ST_NO_TIME;
    *fresh = 1;
  } else {
    *nx = *cur;
  }
  nx->state = (uint8_t)to;
  nx->refreshed = now;
  switch (action) {
    case ACT_RUN:
      if (rerun_limited) {
        nx->archived = now;
        break;
      }
      if (cur && cur->state == RATTAN_STATE_FINISHED) {
        /* Re-entry. bamboo keeps archived_time here (a quirk kept). */
        nx->loop++;
        nx->inner_loop++;
        nx->skip = nx->retry = nx->error_ignored = 0;
        *fresh = *history = 1;
      }
      nx->started = now;
      copy_id(nx->root_id, c->root_id);
      copy_id(nx->parent_id, c->parent_id);
      break;
    case ACT_FINISH:
      nx->error_ignored = c->ignore_error != 0;
      nx->archived = now;
      break;
    case ACT_FAIL:
      nx->archived = now;
      break;
    case ACT_RETRY:
      nx->retry++;
      nx->started = nx->archived = ST_NO_TIME;
      *fresh = *history = 1;
      break;
    case ACT_SKIP:
      nx->skip = 1;
      nx->archived = now;
      *fresh = *history = 1;
      break;
    case ACT_FORCED_FAIL:
      nx->archived = now;
      *fresh = 1;
      break;
    case ACT_SET:
      if (to == RATTAN_STATE_RUNNING) nx->started = now;
      if (to == RATTAN_STATE_FINISHED || to == RATTAN_STATE_FAILED)
        nx->archived = now;
      break;
    default:
      break; /* pause, resume, revoke: state only */
  }
}

/* Checks action from -> to against the table and the action's rules. */
static int allowed(const char *node, int action, int from, int to,
                   errbuf *err) {
  int table_ok = eng_can_transit(from, to);
  if (!table_ok || !((rules[action].from >> from) & 1))
    return refuse(err, node, action, from, to, table_ok);
  return 0;
}

int eng_transit(eng_txn *t, const char *task, const char *node,
                const eng_change *c, st_state *out, errbuf *err) {
  if (c->action < 0 || c->action >= ACT_COUNT)
    return err_set(err, RATTAN_EINVAL, "node %s: unknown action %d", node,
                   c->action);
  if ((c->root_id && strlen(c->root_id) > ST_ID_MAX) ||
      (c->parent_id && strlen(c->parent_id) > ST_ID_MAX))
    return err_set(err, RATTAN_EINVAL,
                   "node %s: root or parent id longer "
                   "than 64 bytes",
                   node);
  eng *e = t->e;
  st_state cur, nx;
  int rc = st_state_get(t->st, task, node, &cur, err);
  if (rc && rc != RATTAN_ENOTFOUND) return rc;
  int has = rc == 0;
  int from = has ? cur.state : RATTAN_STATE_CREATED;
  int to = c->action == ACT_SET ? c->to : rules[c->action].to;
  char note[64];
  int fresh, history;

  if (to < 0 || to >= RATTAN_STATE_COUNT)
    return err_set(err, RATTAN_EINVAL, "node %s: unknown target state %d", node,
                   to);
  /* Past the rerun limit a re-entry fails the node instead (bamboo checks
   * loop > limit before incrementing, so a node runs limit + 1 times). */
  int rerun_limited = c->action == ACT_RUN && from == RATTAN_STATE_FINISHED &&
                      !c->is_subprocess && cur.loop > e->rerun_limit;
  if (rerun_limited) to = RATTAN_STATE_FAILED;
  if ((rc = allowed(node, c->action, from, to, err))) return rc;
  next_record(c->action, rerun_limited, has ? &cur : NULL, to, t->now, c, &nx,
              &fresh, &history);
  if (fresh) eng_new_version(t, nx.version);
  /* Records are numbered in the task's creation order (status trees list
   * children in that order, as SOPS lists them in database row order). */
  if (!has && (rc = st_state_seq(t->st, task, &nx.seq, err))) return rc;
  if (rerun_limited)
    snprintf(note, sizeof note, "node execution exceed rerun limit %u",
             e->rerun_limit);
  st_why why = {rerun_limited ? "rerun_limit" : action_names[c->action],
                has ? from : -1, rerun_limited ? note : NULL};
  if (history && (rc = st_history_add(t->st, task, node, &cur, err))) return rc;
  if ((rc = st_state_put(t->st, task, node, &nx, &why, err))) return rc;
  if (out) *out = nx;
  return 0;
}

int eng_reset_inner_loop(eng_txn *t, const char *task, const char *node,
                         st_state *r, errbuf *err) {
  st_why why = {"inner_loop_reset", r->state, NULL};
  r->inner_loop = 0;
  return st_state_put(t->st, task, node, r, &why, err);
}

/* ---- Checking recorded changes (replay) ---------------------------------- */

static int action_named(const char *name) {
  for (int a = 0; a < ACT_COUNT; a++)
    if (!strcmp(action_names[a], name)) return a;
  return -1;
}

int eng_version_ok(const char *v) {
  if (v[0] != 'v' || strlen(v) != ST_VERSION_LEN) return 0;
  return strspn(v + 1, "0123456789abcdef") == ST_VERSION_LEN - 1;
}

const char *eng_state_diff(const st_state *a, const st_state *b) {
  if (a->state != b->state) return "state";
  if (strcmp(a->version, b->version)) return "version";
  if (a->loop != b->loop) return "loop";
  if (a->inner_loop != b->inner_loop) return "inner_loop";
  if (a->retry != b->retry) return "retry";
  if (a->skip != b->skip) return "skip";
  if (a->error_ignored != b->error_ignored) return "error_ignored";
  if (strcmp(a->root_id, b->root_id)) return "root_id";
  if (strcmp(a->parent_id, b->parent_id)) return "parent_id";
  if (a->created != b->created) return "created";
  if (a->started != b->started) return "started";
  if (a->archived != b->archived) return "archived";
  if (a->refreshed != b->refreshed) return "refreshed";
  if (a->seq != b->seq) return "seq";
  return NULL;
}

int eng_transit_check(const char *node, const char *action, const st_state *cur,
                      const st_state *rec, int64_t at, uint32_t seq,
                      int *history, errbuf *err) {
  int from = cur ? cur->state : RATTAN_STATE_CREATED;
  int to = rec->state;
  st_state want;
  int fresh = 0;
  *history = 0;
  if (!strcmp(action, "inner_loop_reset")) {
    if (!cur)
      return err_set(err, RATTAN_ESTATE,
                     "node %s: inner_loop_reset of a node without a record",
                     node);
    want = *cur;
    want.inner_loop = 0;
  } else {
    int rerun_limited = !strcmp(action, "rerun_limit");
    int a = rerun_limited ? ACT_RUN : action_named(action);
    if (a < 0)
      return err_set(err, RATTAN_EINVAL, "node %s: unknown action \"%s\"", node,
                     action);
    if (rerun_limited && from != RATTAN_STATE_FINISHED)
      return err_set(err, RATTAN_ESTATE,
                     "node %s: %s -> %s is not allowed for rerun_limit (needs "
                     "FINISHED)",
                     node, rattan_state_name(from), rattan_state_name(to));
    if (a != ACT_SET && !rerun_limited && to != rules[a].to)
      return refuse(err, node, a, from, to, eng_can_transit(from, to));
    int rc = allowed(node, a, from, to, err);
    if (rc) return rc;
    eng_change c = {.action = a,
                    .ignore_error = rec->error_ignored,
                    .root_id = rec->root_id,
                    .parent_id = rec->parent_id};
    next_record(a, rerun_limited, cur, to, at, &c, &want, &fresh, history);
  }
  if (fresh) {
    if (!eng_version_ok(rec->version) ||
        (cur && !strcmp(rec->version, cur->version)))
      return err_set(err, RATTAN_ESTATE,
                     "node %s: %s needs a new version, not \"%s\"", node,
                     action, rec->version);
    memcpy(want.version, rec->version, sizeof want.version);
  }
  if (!cur) want.seq = seq;
  const char *field = eng_state_diff(rec, &want);
  if (field)
    return err_set(err, RATTAN_ESTATE,
                   "node %s: %s %s -> %s breaks the rule for %s", node, action,
                   rattan_state_name(from), rattan_state_name(to), field);
  return 0;
}
