/*
 * The journal writer: one CBOR entry per write transaction and task, built
 * from the changes the store's writers report (store_int.h) and written
 * when the transaction commits. JOURNAL.md documents the format; in short
 * an entry is the map
 *
 *   {"seq", "kind", "at", "args"?, "changes": [change, ...], "crc"}
 *
 * where "crc" is the CRC-32C of every byte of the entry before the "crc"
 * key. Encoding uses libcbor's encoding functions into the frame's
 * buffers, which keep their memory across transactions: once they have
 * grown, writing an entry allocates nothing.
 */
#include <string.h>

#include "cbw.h"
#include "mp.h"
#include "rattan.h"
#include "store_int.h"

static const char *const proc_status_names[] = {"run", "sleep", "suspend"};
static const char *const data_tag_names[] = {[ST_DATA_EXEC] = "exec",
                                             [ST_DATA_CONTEXT] = "context",
                                             [ST_DATA_INPUTS] = "inputs",
                                             [ST_DATA_CALLBACKS] = "callbacks"};

void jr_reset(st_txn *t) {
  jframe *j = st_jframe(t);
  j->open = 0;
  j->args.len = j->changes.len = 0;
  j->n_args = j->n_changes = 0;
}

void jr_begin_txn(st_txn *t) {
  st_jframe(t)->last_task[0] = '\0';
}

void jr_free(st_txn *t) {
  buf_free(&st_jframe(t)->args);
  buf_free(&st_jframe(t)->changes);
}

int st_journal_begin(st_txn *t, const char *task, const st_def *d,
                     const char *kind, int64_t at, errbuf *err) {
  int rc = st_journal_end(t, NULL, err);
  if (rc) return rc;
  size_t n = strlen(task);
  if (n == 0 || n > ST_ID_MAX)
    return err_set(err, RATTAN_EINVAL, "task id \"%.64s\": %s", task,
                   n ? "longer than 64 bytes" : "empty");
  jr_reset(t);
  jframe *j = st_jframe(t);
  memcpy(j->task, task, n + 1);
  j->open = 1;
  j->def = d;
  j->kind = kind;
  j->at = at;
  return 0;
}

int jr_check(st_txn *t, const char *task, errbuf *err) {
  jframe *j = st_jframe(t);
  if (j->open && !strcmp(j->task, task)) return 0;
  if (j->open)
    return err_set(err, RATTAN_EINVAL,
                   "task %s: a change inside the journal entry of task %s",
                   task, j->task);
  return err_set(err, RATTAN_EINVAL,
                 "task %s: a change outside any journal entry", task);
}

static int text(buf *b, const char *s) {
  return cbw_text(b, s, strlen(s));
}

static int time_or_null(buf *b, int64_t us) {
  return us == ST_NO_TIME ? cbw_null(b) : cbw_int(b, us);
}

static int oom(st_txn *t, errbuf *err) {
  st_txn_fail(t);
  return err_set(err, RATTAN_ENOMEM, "journal of task %s: out of memory",
                 st_jframe(t)->task);
}

/* ---- Arguments ------------------------------------------------------------
 */

static int arg_done(st_txn *t, int bad, errbuf *err) {
  if (bad) return oom(t, err);
  st_jframe(t)->n_args++;
  return 0;
}

int st_journal_arg_text(st_txn *t, const char *key, const char *v, size_t n,
                        errbuf *err) {
  buf *b = &st_jframe(t)->args;
  return arg_done(t, text(b, key) || cbw_text(b, v, n), err);
}

int st_journal_arg_uint(st_txn *t, const char *key, uint64_t v, errbuf *err) {
  buf *b = &st_jframe(t)->args;
  return arg_done(t, text(b, key) || cbw_uint(b, v), err);
}

int st_journal_arg_bool(st_txn *t, const char *key, int v, errbuf *err) {
  buf *b = &st_jframe(t)->args;
  return arg_done(t, text(b, key) || cbw_bool(b, v), err);
}

int st_journal_arg_texts(st_txn *t, const char *key, const char *const *v,
                         size_t n, errbuf *err) {
  buf *b = &st_jframe(t)->args;
  int bad = text(b, key) || cbw_array(b, n);
  for (size_t i = 0; i < n && !bad; i++)
    bad = text(b, v[i]);
  return arg_done(t, bad, err);
}

int st_journal_args_raw(st_txn *t, const void *p, size_t len, unsigned n,
                        errbuf *err) {
  st_jframe(t)->args.len = 0;
  st_jframe(t)->n_args = 0;
  if (buf_append(&st_jframe(t)->args, p, len)) return oom(t, err);
  st_jframe(t)->n_args = n;
  return 0;
}

/* ---- Changes --------------------------------------------------------------
 */

static int change_done(st_txn *t, int bad, errbuf *err) {
  if (bad) return oom(t, err);
  st_jframe(t)->n_changes++;
  return 0;
}

int jr_task(st_txn *t, const st_task *r, errbuf *err) {
  buf *b = &st_jframe(t)->changes;
  /* "project" only when there is one: entries of tasks without one
   * keep the bytes they had before projects existed. */
  int bad = cbw_map(b, *r->project ? 6 : 5) || text(b, "type") ||
            text(b, "task") || text(b, "id") || text(b, r->id) ||
            text(b, "name") || text(b, r->name) || text(b, "root") ||
            text(b, r->root) || text(b, "created") ||
            time_or_null(b, r->created) ||
            (*r->project && (text(b, "project") || text(b, r->project)));
  return change_done(t, bad, err);
}

static int put_rec(buf *b, const st_state *r) {
  return cbw_map(b, 14) || text(b, "state") ||
         text(b, st_state_name(r->state)) || text(b, "version") ||
         text(b, r->version) || text(b, "loop") || cbw_uint(b, r->loop) ||
         text(b, "inner_loop") || cbw_uint(b, r->inner_loop) ||
         text(b, "retry") || cbw_uint(b, r->retry) || text(b, "skip") ||
         cbw_bool(b, r->skip) || text(b, "error_ignored") ||
         cbw_bool(b, r->error_ignored) || text(b, "root_id") ||
         text(b, r->root_id) || text(b, "parent_id") || text(b, r->parent_id) ||
         text(b, "created") || time_or_null(b, r->created) ||
         text(b, "started") || time_or_null(b, r->started) ||
         text(b, "archived") || time_or_null(b, r->archived) ||
         text(b, "refreshed") || time_or_null(b, r->refreshed) ||
         text(b, "seq") || cbw_uint(b, r->seq);
}

int jr_state(st_txn *t, const char *node, const st_state *r, const st_why *why,
             errbuf *err) {
  buf *b = &st_jframe(t)->changes;
  const char *from = why->from >= 0 ? st_state_name(why->from) : NULL;
  int bad = cbw_map(b, 6 + (why->note != NULL)) || text(b, "type") ||
            text(b, "state") || text(b, "node") || text(b, node) ||
            text(b, "action") || text(b, why->action) || text(b, "from") ||
            (from ? text(b, from) : cbw_null(b)) || text(b, "to") ||
            text(b, st_state_name(r->state)) || text(b, "rec") ||
            put_rec(b, r) ||
            (why->note && (text(b, "note") || text(b, why->note)));
  return change_done(t, bad, err);
}

int jr_history(st_txn *t, const char *node, uint32_t index, const st_state *r,
               errbuf *err) {
  buf *b = &st_jframe(t)->changes;
  int bad = cbw_map(b, 4) || text(b, "type") || text(b, "history") ||
            text(b, "node") || text(b, node) || text(b, "index") ||
            cbw_uint(b, index) || text(b, "rec") || put_rec(b, r);
  return change_done(t, bad, err);
}

int jr_data(st_txn *t, const char *node, int tag, const st_slice *val,
            errbuf *err) {
  buf *b = &st_jframe(t)->changes;
  int bad = cbw_map(b, 4) || text(b, "type") || text(b, "data") ||
            text(b, "node") || text(b, node) || text(b, "tag") ||
            text(b, data_tag_names[tag]) || text(b, "value") ||
            (val ? cbw_text(b, val->ptr, val->len) : cbw_null(b));
  return change_done(t, bad, err);
}

/* Node and pipeline indices are written as ids, which mean the same in
 * any store; an index the definition lacks cannot be journaled. */
static const char *node_name(const st_def *d, uint32_t i) {
  return d && i < d->n_nodes ? d->pool + d->nodes[i].id : NULL;
}

static const char *pipe_name(const st_def *d, uint32_t i) {
  return d && i < d->n_pipes ? d->pool + d->pipes[i].id : NULL;
}

int jr_proc(st_txn *t, uint32_t pid, const st_proc *p, errbuf *err) {
  buf *b = &st_jframe(t)->changes;
  int bad = cbw_map(b, 3) || text(b, "type") || text(b, "proc") ||
            text(b, "pid") || cbw_uint(b, pid) || text(b, "value");
  if (!p) return change_done(t, bad || cbw_null(b), err);
  const st_def *d = st_jframe(t)->def;
  const char *cur = node_name(d, p->cur);
  const char *dest = p->dest == ST_NONE ? NULL : node_name(d, p->dest);
  int named = cur && (p->dest == ST_NONE || dest);
  for (unsigned i = 0; i < p->depth && named; i++)
    named = pipe_name(d, p->stack[i]) != NULL;
  if (!named)
    return err_set(err, RATTAN_EINVAL,
                   "journal of task %s: process %u names a node the "
                   "definition lacks",
                   st_jframe(t)->task, pid);
  bad = bad || cbw_map(b, 8) || text(b, "parent") || cbw_uint(b, p->parent) ||
        text(b, "need_ack") || cbw_uint(b, p->need_ack) || text(b, "cur") ||
        text(b, cur) || text(b, "dest") ||
        (dest ? text(b, dest) : cbw_null(b)) || text(b, "status") ||
        text(b, proc_status_names[p->status]) || text(b, "inflight") ||
        cbw_bool(b, p->inflight) || text(b, "stack") || cbw_array(b, p->depth);
  for (unsigned i = 0; i < p->depth && !bad; i++)
    bad = text(b, pipe_name(d, p->stack[i]));
  bad = bad || text(b, "suspended_by") || text(b, p->suspended_by);
  return change_done(t, bad, err);
}

int jr_sched(st_txn *t, const char *node, const st_sched *s, errbuf *err) {
  buf *b = &st_jframe(t)->changes;
  int bad = cbw_map(b, 3) || text(b, "type") || text(b, "sched") ||
            text(b, "node") || text(b, node) || text(b, "value");
  if (!s) return change_done(t, bad || cbw_null(b), err);
  bad = bad || cbw_map(b, 7) || text(b, "version") || text(b, s->version) ||
        text(b, "type") || cbw_uint(b, s->type) || text(b, "pid") ||
        cbw_uint(b, s->pid) || text(b, "times") || cbw_uint(b, s->times) ||
        text(b, "pending") || cbw_uint(b, s->pending) || text(b, "due") ||
        time_or_null(b, s->due) || text(b, "deadline") ||
        time_or_null(b, s->deadline);
  return change_done(t, bad, err);
}

/* ---- Entries --------------------------------------------------------------
 */

int st_journal_count(st_txn *t, const char *task, uint64_t *n, errbuf *err) {
  skey k;
  st_slice lk, lv;
  int rc = key_ids(&k, task, NULL, err);
  if (rc) return rc;
  rc = st_last(t, ST_DB_JOURNAL, key_slice(&k), &lk, &lv, err);
  if (rc == RATTAN_ENOTFOUND) {
    *n = 0;
    return 0;
  }
  if (rc) return rc;
  if (lk.len != k.len + 8)
    return err_set(err, RATTAN_ECORRUPT, "journal of task %s: bad key", task);
  *n = mp_get_be((const uint8_t *)lk.ptr + k.len, 8);
  return 0;
}

int st_journal_end(st_txn *t, uint64_t *seq, errbuf *err) {
  jframe *j = st_jframe(t);
  if (seq) *seq = 0;
  if (!j->open) return 0;
  j->open = 0;
  if (j->n_changes == 0) return 0;
  uint64_t last;
  int rc = 0;
  if (!strcmp(j->last_task, j->task))
    last = j->last_seq;
  else
    rc = st_journal_count(t, j->task, &last, err);
  if (rc) return rc;
  buf *b = st_scratch(t);
  size_t at = b->len;
  int bad = cbw_map(b, 5 + (j->n_args > 0)) || text(b, "seq") ||
            cbw_uint(b, last + 1) || text(b, "kind") || text(b, j->kind) ||
            text(b, "at") || time_or_null(b, j->at);
  if (!bad && j->n_args)
    bad = text(b, "args") || cbw_map(b, j->n_args) ||
          buf_append(b, j->args.data, j->args.len);
  bad = bad || text(b, "changes") || cbw_array(b, j->n_changes) ||
        buf_append(b, j->changes.data, j->changes.len);
  if (!bad) {
    uint32_t crc = crc32c(0, b->data + at, b->len - at);
    bad = text(b, "crc") || cbw_uint(b, crc);
  }
  if (bad) {
    b->len = at;
    return oom(t, err);
  }
  skey k;
  key_ids(&k, j->task, NULL, NULL);
  key_be(&k, last + 1, 8);
  rc = st_insert(t, ST_DB_JOURNAL, key_slice(&k),
                 (st_slice){b->data + at, b->len - at}, err);
  b->len = at;
  if (rc) return rc;
  memcpy(j->last_task, j->task, sizeof j->last_task);
  j->last_seq = last + 1;
  if (seq) *seq = last + 1;
  return 0;
}

int st_journal_get(st_txn *t, const char *task, uint64_t seq, st_slice *out,
                   errbuf *err) {
  skey k;
  int rc = key_ids(&k, task, NULL, err);
  if (rc) return rc;
  key_be(&k, seq, 8);
  return st_get(t, ST_DB_JOURNAL, key_slice(&k), out, err);
}
