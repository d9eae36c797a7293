/*
 * The journal: one CBOR event per change, keyed by (task, sequence), in
 * the same write transaction as the change it records.
 *
 * An event is a CBOR map with text keys, so an exported journal describes
 * itself: {"seq", "kind", "at", "node"?, "from"?, "to"?, "rec"?, "note"?}.
 * "rec" is the node's whole state record after the change, so the journal
 * alone rebuilds every state. Encoding uses libcbor's encoding functions
 * into our buffer; nothing is allocated per event once the buffer has
 * grown.
 */
#include <string.h>

#include "cbw.h"
#include "mp.h"
#include "rattan.h"
#include "store_int.h"

static int put_text(buf *b, const char *s) {
  return cbw_text(b, s, strlen(s));
}

static int put_time(buf *b, int64_t t) {
  return t != ST_NO_TIME ? cbw_int(b, t) : cbw_null(b);
}

static int put_rec(buf *b, const st_state *r) {
  return cbw_map(b, 14) || put_text(b, "state") || cbw_uint(b, r->state) ||
         put_text(b, "version") || put_text(b, r->version) ||
         put_text(b, "loop") || cbw_uint(b, r->loop) ||
         put_text(b, "inner_loop") || cbw_uint(b, r->inner_loop) ||
         put_text(b, "retry") || cbw_uint(b, r->retry) || put_text(b, "skip") ||
         cbw_bool(b, r->skip) || put_text(b, "error_ignored") ||
         cbw_bool(b, r->error_ignored) || put_text(b, "root_id") ||
         put_text(b, r->root_id) || put_text(b, "parent_id") ||
         put_text(b, r->parent_id) || put_text(b, "created") ||
         put_time(b, r->created) || put_text(b, "started") ||
         put_time(b, r->started) || put_text(b, "archived") ||
         put_time(b, r->archived) || put_text(b, "refreshed") ||
         put_time(b, r->refreshed) || put_text(b, "seq") || cbw_uint(b, r->seq);
}

static int encode_event(buf *b, uint64_t seq, const st_event *ev) {
  size_t n = 3 + (ev->node != NULL) + 2 * (ev->from >= 0) + (ev->rec != NULL) +
             (ev->note != NULL);
  if (cbw_map(b, n) || put_text(b, "seq") || cbw_uint(b, seq) ||
      put_text(b, "kind") || put_text(b, ev->kind) || put_text(b, "at") ||
      put_time(b, ev->at))
    return -1;
  if (ev->node && (put_text(b, "node") || put_text(b, ev->node))) return -1;
  if (ev->from >= 0 && (put_text(b, "from") || cbw_uint(b, ev->from) ||
                        put_text(b, "to") || cbw_uint(b, ev->to)))
    return -1;
  if (ev->rec && (put_text(b, "rec") || put_rec(b, ev->rec))) return -1;
  if (ev->note && (put_text(b, "note") || put_text(b, ev->note))) return -1;
  return 0;
}

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

int st_journal_append(st_txn *t, const char *task, const st_event *ev,
                      uint64_t *seq, errbuf *err) {
  uint64_t last;
  int rc = st_journal_count(t, task, &last, err);
  if (rc) return rc;
  skey k;
  key_ids(&k, task, NULL, NULL);
  key_be(&k, last + 1, 8);
  buf *b = st_scratch(t);
  size_t at = b->len;
  if (encode_event(b, last + 1, ev)) {
    b->len = at;
    return err_set(err, RATTAN_ENOMEM, "journal of task %s: out of memory",
                   task);
  }
  rc = st_insert(t, ST_DB_JOURNAL, key_slice(&k),
                 (st_slice){b->data + at, b->len - at}, err);
  b->len = at;
  if (rc == 0 && seq) *seq = last + 1;
  return rc;
}

int st_journal_get(st_txn *t, const char *task, uint64_t seq, st_slice *out,
                   errbuf *err) {
  skey k;
  int rc = key_ids(&k, task, NULL, err);
  if (rc) return rc;
  key_be(&k, seq, 8);
  return st_get(t, ST_DB_JOURNAL, key_slice(&k), out, err);
}
