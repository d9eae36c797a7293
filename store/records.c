/*
 * Record codecs: node state records, their history, and the store-wide
 * meta records (schema, version generator).
 *
 * Every record is a msgpack array whose first element is the record's
 * format version. A newer version only appends elements, so a reader
 * takes the elements it knows and skips the rest, and an older record is
 * read with defaults for what it lacks.
 */
#include <stdio.h>
#include <string.h>

#include "mp.h"
#include "rattan.h"
#include "store_int.h"

#define STATE_REC_VERSION 2
#define STATE_REC_FIELDS  13 /* in version 1, the version included */
#define STATE_REC_FIELDS2 15 /* version 2 appends seq and refreshed */
#define MAX_SKIP_DEPTH    32

int key_ids(skey *k, const char *task, const char *node, errbuf *err) {
  const char *ids[2] = {task, node};
  k->len = 0;
  for (int i = 0; i < 2 && ids[i]; i++) {
    size_t n = strlen(ids[i]);
    if (n == 0 || n > ST_ID_MAX)
      return err_set(err, RATTAN_EINVAL, "%s id \"%.64s\": %s",
                     i ? "node" : "task", ids[i],
                     n ? "longer than 64 bytes" : "empty");
    memcpy(k->b + k->len, ids[i], n + 1);
    k->len += n + 1;
  }
  return 0;
}

void key_be(skey *k, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--)
    k->b[k->len++] = (uint8_t)(v >> (8 * i));
}

st_slice key_slice(const skey *k) {
  return (st_slice){k->b, k->len};
}

/* ---- Node state records ------------------------------------------------ */

int st_state_encode(const st_state *r, buf *out) {
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  size_t start = out->len;
  if (msgpack_pack_array(&pk, STATE_REC_FIELDS2) ||
      msgpack_pack_uint8(&pk, STATE_REC_VERSION) ||
      msgpack_pack_uint8(&pk, r->state) || mp_pack_cstr(&pk, r->version) ||
      msgpack_pack_uint32(&pk, r->loop) ||
      msgpack_pack_uint32(&pk, r->inner_loop) ||
      msgpack_pack_uint32(&pk, r->retry) ||
      (r->skip ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) ||
      (r->error_ignored ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)) ||
      mp_pack_cstr(&pk, r->root_id) || mp_pack_cstr(&pk, r->parent_id) ||
      mp_pack_time(&pk, r->created) || mp_pack_time(&pk, r->started) ||
      mp_pack_time(&pk, r->archived) || msgpack_pack_uint32(&pk, r->seq) ||
      mp_pack_time(&pk, r->refreshed)) {
    out->len = start;
    return RATTAN_ENOMEM;
  }
  return 0;
}

int st_state_decode(const void *p, size_t n, st_state *r, errbuf *err) {
  mp_rd rd;
  mp_rd_init(&rd, p, n, "state record", err);
  uint32_t count;
  uint64_t ver, state, loop, inner, retry;
  if (mp_read_array(&rd, &count)) return RATTAN_ECORRUPT;
  if (count < STATE_REC_FIELDS)
    return err_set(err, RATTAN_ECORRUPT,
                   "state record: corrupt at byte 0: %u fields, expected %d",
                   count, STATE_REC_FIELDS);
  if (mp_read_uint(&rd, UINT8_MAX, &ver) ||
      mp_read_uint(&rd, RATTAN_STATE_COUNT - 1, &state) ||
      mp_read_cstr(&rd, r->version, ST_VERSION_LEN) ||
      mp_read_uint(&rd, UINT32_MAX, &loop) ||
      mp_read_uint(&rd, UINT32_MAX, &inner) ||
      mp_read_uint(&rd, UINT32_MAX, &retry) || mp_read_bool(&rd, &r->skip) ||
      mp_read_bool(&rd, &r->error_ignored) ||
      mp_read_cstr(&rd, r->root_id, ST_ID_MAX) ||
      mp_read_cstr(&rd, r->parent_id, ST_ID_MAX) ||
      mp_read_time(&rd, &r->created) || mp_read_time(&rd, &r->started) ||
      mp_read_time(&rd, &r->archived))
    return RATTAN_ECORRUPT;
  if (ver < 1)
    return err_set(err, RATTAN_ECORRUPT,
                   "state record: corrupt at byte 1: format version 0");
  /* Version 1 records lack seq and refreshed. */
  uint64_t seq = 0;
  r->refreshed = ST_NO_TIME;
  if (count >= STATE_REC_FIELDS2 &&
      (mp_read_uint(&rd, UINT32_MAX, &seq) || mp_read_time(&rd, &r->refreshed)))
    return RATTAN_ECORRUPT;
  r->seq = (uint32_t)seq;
  /* Fields appended by newer record versions. */
  for (uint32_t i = count >= STATE_REC_FIELDS2 ? STATE_REC_FIELDS2
                                               : STATE_REC_FIELDS;
       i < count; i++)
    if (mp_skip(&rd, MAX_SKIP_DEPTH)) return RATTAN_ECORRUPT;
  if (mp_read_end(&rd)) return RATTAN_ECORRUPT;
  r->state = (uint8_t)state;
  r->loop = (uint32_t)loop;
  r->inner_loop = (uint32_t)inner;
  r->retry = (uint32_t)retry;
  return 0;
}

int st_state_get(st_txn *t, const char *task, const char *node, st_state *r,
                 errbuf *err) {
  skey k;
  st_slice v;
  int rc = key_ids(&k, task, node, err);
  if (rc) return rc;
  k.len--; /* states keys end with the node id */
  if ((rc = st_get(t, ST_DB_STATES, key_slice(&k), &v, err))) return rc;
  if (st_state_decode(v.ptr, v.len, r, err)) {
    char why[ERRBUF_MAX];
    snprintf(why, sizeof why, "%s", err ? err->msg : "");
    return err_set(err, RATTAN_ECORRUPT, "task %s node %s: %s", task, node,
                   why);
  }
  return 0;
}

static const char *const state_names[RATTAN_STATE_COUNT] = {
    "CREATED", "READY",    "RUNNING", "SUSPENDED",
    "BLOCKED", "FINISHED", "FAILED",  "REVOKED"};

const char *st_state_name(int state) {
  if (state < 0 || state >= RATTAN_STATE_COUNT) return NULL;
  return state_names[state];
}

int st_state_parse(const char *s, size_t n) {
  for (int i = 0; i < RATTAN_STATE_COUNT; i++)
    if (strlen(state_names[i]) == n && !memcmp(state_names[i], s, n)) return i;
  return -1;
}

/* Encodes r into the txn's scratch buffer and puts it under k. */
static int put_state(st_txn *t, int db, const skey *k, const st_state *r,
                     errbuf *err) {
  buf *b = st_scratch(t);
  size_t at = b->len;
  if (st_state_encode(r, b))
    return err_set(err, RATTAN_ENOMEM, "state record: out of memory");
  int rc =
      st_put(t, db, key_slice(k), (st_slice){b->data + at, b->len - at}, err);
  b->len = at;
  return rc;
}

int st_state_put(st_txn *t, const char *task, const char *node,
                 const st_state *r, const st_why *why, errbuf *err) {
  skey k;
  int rc = key_ids(&k, task, node, err);
  if (rc || (rc = jr_check(t, task, err))) return rc;
  k.len--;
  if ((rc = put_state(t, ST_DB_STATES, &k, r, err))) return rc;
  return jr_state(t, node, r, why, err);
}

static int count_one(st_slice k, st_slice v, void *ctx) {
  (void)k;
  (void)v;
  ++*(uint32_t *)ctx;
  return 0;
}

int st_history_count(st_txn *t, const char *task, const char *node, uint32_t *n,
                     errbuf *err) {
  skey k;
  int rc = key_ids(&k, task, node, err);
  if (rc) return rc;
  *n = 0;
  return st_each(t, ST_DB_HISTORIES, key_slice(&k), count_one, n, err);
}

int st_history_add(st_txn *t, const char *task, const char *node,
                   const st_state *r, errbuf *err) {
  uint32_t n;
  int rc = st_history_count(t, task, node, &n, err);
  if (rc || (rc = jr_check(t, task, err))) return rc;
  skey k;
  key_ids(&k, task, node, NULL);
  key_be(&k, n, 4);
  if ((rc = put_state(t, ST_DB_HISTORIES, &k, r, err)) ||
      (rc = jr_history(t, node, n, r, err)))
    return rc;
  st_slice data;
  rc = st_data_get(t, task, node, ST_DATA_EXEC, 0, &data, err);
  if (rc == RATTAN_ENOTFOUND) return 0;
  if (rc) return rc;
  /* A value read in a write txn may move with the next put: copy it. */
  buf *b = st_scratch(t);
  size_t at = b->len;
  if (buf_append(b, data.ptr, data.len))
    return err_set(err, RATTAN_ENOMEM, "history: out of memory");
  rc = st_data_put(t, task, node, ST_DATA_HISTORY, n,
                   (st_slice){b->data + at, data.len}, err);
  b->len = at;
  return rc;
}

int st_history_get(st_txn *t, const char *task, const char *node, uint32_t i,
                   st_state *r, errbuf *err) {
  skey k;
  st_slice v;
  int rc = key_ids(&k, task, node, err);
  if (rc) return rc;
  key_be(&k, i, 4);
  if ((rc = st_get(t, ST_DB_HISTORIES, key_slice(&k), &v, err))) return rc;
  return st_state_decode(v.ptr, v.len, r, err);
}

/* ---- Meta records ------------------------------------------------------ */

static const st_slice schema_key = {"schema", 6};

/* Puts [1, a, b] (or [1, a] when nb == 1) under k in the meta database. */
static int put_meta(st_txn *t, st_slice k, int nb, uint64_t a, uint64_t b,
                    errbuf *err) {
  buf *sb = st_scratch(t);
  size_t at = sb->len;
  msgpack_packer pk;
  mp_packer_init(&pk, sb);
  if (msgpack_pack_array(&pk, 1 + (size_t)nb) || msgpack_pack_uint8(&pk, 1) ||
      msgpack_pack_uint64(&pk, a) || (nb > 1 && msgpack_pack_uint64(&pk, b))) {
    sb->len = at;
    return err_set(err, RATTAN_ENOMEM, "meta record: out of memory");
  }
  int rc =
      st_put(t, ST_DB_META, k, (st_slice){sb->data + at, sb->len - at}, err);
  sb->len = at;
  return rc;
}

/* Reads the first nb numbers of a meta record. */
static int get_meta(st_txn *t, st_slice k, int nb, uint64_t *a, uint64_t *b,
                    errbuf *err) {
  st_slice v;
  int rc = st_get(t, ST_DB_META, k, &v, err);
  if (rc) return rc;
  char what[32];
  snprintf(what, sizeof what, "meta record \"%.*s\"",
           k.len < 8 ? (int)k.len : 3, (const char *)k.ptr);
  mp_rd rd;
  mp_rd_init(&rd, v.ptr, v.len, what, err);
  uint32_t n;
  uint64_t ver;
  if (mp_read_array(&rd, &n)) return RATTAN_ECORRUPT;
  if (n < 1 + (uint32_t)nb)
    return err_set(err, RATTAN_ECORRUPT, "%s: corrupt: %u fields", what, n);
  if (mp_read_uint(&rd, UINT8_MAX, &ver) || mp_read_uint(&rd, UINT64_MAX, a) ||
      (nb > 1 && mp_read_uint(&rd, UINT64_MAX, b)))
    return RATTAN_ECORRUPT;
  return 0;
}

/* One position per seed, so alternating seeds never repeat a version. */
static st_slice rng_key(uint8_t k[11], uint64_t seed) {
  memcpy(k, "rng", 3);
  mp_be64(k + 3, seed);
  return (st_slice){k, 11};
}

int st_rng_get(st_txn *t, uint64_t seed, uint64_t *pos, errbuf *err) {
  uint8_t k[11];
  uint64_t stored_seed;
  int rc = get_meta(t, rng_key(k, seed), 2, &stored_seed, pos, err);
  if (rc == 0 && stored_seed != seed)
    return err_set(err, RATTAN_ECORRUPT, "meta record \"rng\": wrong seed");
  return rc;
}

int st_rng_put(st_txn *t, uint64_t seed, uint64_t pos, errbuf *err) {
  uint8_t k[11];
  return put_meta(t, rng_key(k, seed), 2, seed, pos, err);
}

static const st_slice vclock_key = {"vclock", 6};

int st_vclock_get(st_txn *t, int64_t *us, errbuf *err) {
  uint64_t v;
  int rc = get_meta(t, vclock_key, 1, &v, NULL, err);
  if (!rc) *us = (int64_t)v;
  return rc;
}

int st_vclock_put(st_txn *t, int64_t us, errbuf *err) {
  return put_meta(t, vclock_key, 1, (uint64_t)us, 0, err);
}

int st_state_seq(st_txn *t, const char *task, uint32_t *seq, errbuf *err) {
  uint8_t k[5 + ST_ID_MAX];
  size_t n = strlen(task);
  if (n == 0 || n > ST_ID_MAX)
    return err_set(err, RATTAN_EINVAL, "task id \"%.64s\": bad length", task);
  memcpy(k, "nseq", 4);
  memcpy(k + 4, task, n);
  st_slice key = {k, 4 + n};
  uint64_t next;
  int rc = get_meta(t, key, 1, &next, NULL, err);
  if (rc == RATTAN_ENOTFOUND)
    next = 0;
  else if (rc)
    return rc;
  if (next >= UINT32_MAX)
    return err_set(err, RATTAN_ELIMIT, "task %s: too many node records", task);
  *seq = (uint32_t)next;
  return put_meta(t, key, 1, next + 1, 0, err);
}

int st_schema_put(st_txn *t, uint64_t schema, errbuf *err) {
  return put_meta(t, schema_key, 1, schema, 0, err);
}

int st_check_schema(st_txn *t, errbuf *err) {
  uint64_t schema;
  int rc = get_meta(t, schema_key, 1, &schema, NULL, err);
  if (rc == RATTAN_ENOTFOUND) return st_schema_put(t, ST_SCHEMA_VERSION, err);
  if (rc) return rc;
  if (schema > ST_SCHEMA_VERSION)
    return err_set(err, RATTAN_ESCHEMA,
                   "store schema %llu is newer than this library's (%d); "
                   "open it with a newer rattan",
                   (unsigned long long)schema, ST_SCHEMA_VERSION);
  return 0;
}
