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

/* A new record, numbered in the task's creation order (status trees list
 * children in that order, as SOPS lists them in database row order). */
static int fresh_record(eng_txn *t, const char *task, st_state *r, int64_t now,
                        errbuf *err) {
  *r = (st_state){.loop = 1, .inner_loop = 1};
  r->created = now;
  r->started = r->archived = ST_NO_TIME;
  eng_new_version(t, r->version);
  return st_state_seq(t->st, task, &r->seq, err);
}

static void copy_id(char dst[ST_ID_MAX + 1], const char *src) {
  if (!src) return;
  size_t n = strlen(src);
  if (n > ST_ID_MAX) n = ST_ID_MAX;
  memcpy(dst, src, n);
  dst[n] = '\0';
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
  int from = rc ? RATTAN_STATE_CREATED : cur.state;
  int to = c->action == ACT_SET ? c->to : rules[c->action].to;
  int64_t now = eng_now(e);
  const char *note = NULL;
  char note_buf[64];
  int history = 0;

  if (to < 0 || to >= RATTAN_STATE_COUNT)
    return err_set(err, RATTAN_EINVAL, "node %s: unknown target state %d", node,
                   to);
  /* Past the rerun limit a re-entry fails the node instead (bamboo checks
   * loop > limit before incrementing, so a node runs limit + 1 times). */
  int rerun_limited = c->action == ACT_RUN && from == RATTAN_STATE_FINISHED &&
                      !c->is_subprocess && cur.loop > e->rerun_limit;
  if (rerun_limited) to = RATTAN_STATE_FAILED;
  int table_ok = eng_can_transit(from, to);
  if (!table_ok || !((rules[c->action].from >> from) & 1))
    return refuse(err, node, c->action, from, to, table_ok);

  if (from == RATTAN_STATE_CREATED) {
    if ((rc = fresh_record(t, task, &nx, now, err))) return rc;
  } else {
    nx = cur;
  }
  nx.state = (uint8_t)to;
  nx.refreshed = now;

  switch (c->action) {
    case ACT_RUN:
      if (rerun_limited) {
        nx.archived = now;
        snprintf(note_buf, sizeof note_buf,
                 "node execution exceed rerun limit %u", e->rerun_limit);
        note = note_buf;
        break;
      }
      if (from == RATTAN_STATE_FINISHED) {
        /* Re-entry. bamboo keeps archived_time here (a quirk kept). */
        nx.loop++;
        nx.inner_loop++;
        nx.skip = nx.retry = nx.error_ignored = 0;
        eng_new_version(t, nx.version);
        history = 1;
      }
      nx.started = now;
      copy_id(nx.root_id, c->root_id);
      copy_id(nx.parent_id, c->parent_id);
      break;
    case ACT_FINISH:
      nx.error_ignored = c->ignore_error != 0;
      nx.archived = now;
      break;
    case ACT_FAIL:
      nx.archived = now;
      break;
    case ACT_RETRY:
      nx.retry++;
      nx.started = nx.archived = ST_NO_TIME;
      eng_new_version(t, nx.version);
      history = 1;
      break;
    case ACT_SKIP:
      nx.skip = 1;
      nx.archived = now;
      eng_new_version(t, nx.version);
      history = 1;
      break;
    case ACT_FORCED_FAIL:
      nx.archived = now;
      eng_new_version(t, nx.version);
      break;
    case ACT_SET:
      if (to == RATTAN_STATE_RUNNING) nx.started = now;
      if (to == RATTAN_STATE_FINISHED || to == RATTAN_STATE_FAILED)
        nx.archived = now;
      break;
    default:
      break; /* pause, resume, revoke: state only */
  }

  if (history && (rc = st_history_add(t->st, task, node, &cur, err))) return rc;
  if ((rc = st_state_put(t->st, task, node, &nx, err))) return rc;
  st_event ev = {
      .kind = rerun_limited ? "rerun_limit" : action_names[c->action],
      .node = node,
      .from = from,
      .to = to,
      .rec = &nx,
      .at = now,
      .note = note};
  if ((rc = st_journal_append(t->st, task, &ev, NULL, err))) return rc;
  if (out) *out = nx;
  return 0;
}
