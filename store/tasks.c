/*
 * Task records and their compiled definitions.
 *
 * A task record is [1, id, name, root pipeline id, created, project];
 * records written before the project was added end at created (project
 * ""), and later versions append fields. The definition is stored under the
 * task id in the definitions database, encoded by def.c.
 */
#include <stdio.h>
#include <string.h>

#include "mp.h"
#include "rattan.h"
#include "store_int.h"

#define TASK_REC_VERSION 1
#define TASK_REC_FIELDS  5 /* at least */

static int task_key(skey *k, const char *id, errbuf *err) {
  int rc = key_ids(k, id, NULL, err);
  if (rc == 0) k->len--; /* no trailing NUL: the key is the id */
  return rc;
}

static int decode_task(st_slice v, st_task *r, errbuf *err) {
  mp_rd rd;
  mp_rd_init(&rd, v.ptr, v.len, "task record", err);
  uint32_t n;
  uint64_t ver;
  if (mp_read_array(&rd, &n)) return RATTAN_ECORRUPT;
  if (n < TASK_REC_FIELDS)
    return err_set(err, RATTAN_ECORRUPT,
                   "task record: corrupt at byte 0: %u fields, expected %d", n,
                   TASK_REC_FIELDS);
  if (mp_read_uint(&rd, UINT8_MAX, &ver) ||
      mp_read_cstr(&rd, r->id, ST_ID_MAX) ||
      mp_read_cstr(&rd, r->name, ST_NAME_MAX) ||
      mp_read_cstr(&rd, r->root, ST_ID_MAX) || mp_read_time(&rd, &r->created))
    return RATTAN_ECORRUPT;
  r->project[0] = '\0';
  if (n > TASK_REC_FIELDS && mp_read_cstr(&rd, r->project, ST_ID_MAX))
    return RATTAN_ECORRUPT;
  for (uint32_t i = TASK_REC_FIELDS + 1; i < n; i++)
    if (mp_skip(&rd, 16)) return RATTAN_ECORRUPT;
  return mp_read_end(&rd);
}

int st_task_decode(const void *p, size_t n, st_task *r, errbuf *err) {
  return decode_task((st_slice){p, n}, r, err);
}

int st_task_get(st_txn *t, const char *id, st_task *r, errbuf *err) {
  skey k;
  st_slice v;
  int rc = task_key(&k, id, err);
  if (rc || (rc = st_get(t, ST_DB_TASKS, key_slice(&k), &v, err))) return rc;
  if (decode_task(v, r, err)) {
    char why[ERRBUF_MAX];
    snprintf(why, sizeof why, "%s", err ? err->msg : "");
    return err_set(err, RATTAN_ECORRUPT, "task %s: %s", id, why);
  }
  return 0;
}

int st_task_put(st_txn *t, const st_task *r, errbuf *err) {
  skey k;
  int rc = task_key(&k, r->id, err);
  if (rc || (rc = jr_check(t, r->id, err))) return rc;
  buf *b = st_scratch(t);
  size_t at = b->len;
  msgpack_packer pk;
  mp_packer_init(&pk, b);
  if (msgpack_pack_array(&pk, TASK_REC_FIELDS + 1) ||
      msgpack_pack_uint8(&pk, TASK_REC_VERSION) || mp_pack_cstr(&pk, r->id) ||
      mp_pack_cstr(&pk, r->name) || mp_pack_cstr(&pk, r->root) ||
      mp_pack_time(&pk, r->created) || mp_pack_cstr(&pk, r->project)) {
    b->len = at;
    return err_set(err, RATTAN_ENOMEM, "task %s: out of memory", r->id);
  }
  rc = st_put(t, ST_DB_TASKS, key_slice(&k),
              (st_slice){b->data + at, b->len - at}, err);
  b->len = at;
  return rc ? rc : jr_task(t, r, err);
}

typedef struct each_ctx {
  int (*fn)(const st_task *, void *);
  void *ctx;
  errbuf *err;
  int rc;
} each_ctx;

static int each_one(st_slice k, st_slice v, void *ctx) {
  (void)k;
  each_ctx *c = ctx;
  st_task r;
  if ((c->rc = decode_task(v, &r, c->err))) return c->rc;
  return c->fn(&r, c->ctx);
}

int st_task_each(st_txn *t, int (*fn)(const st_task *, void *), void *ctx,
                 errbuf *err) {
  each_ctx c = {fn, ctx, err, 0};
  return st_each(t, ST_DB_TASKS, (st_slice){0}, each_one, &c, err);
}

int st_task_seq(st_txn *t, uint64_t *next, errbuf *err) {
  static const st_slice seq_key = {"task_seq", 8};
  st_slice v;
  uint64_t last = 0;
  int rc = st_get(t, ST_DB_META, seq_key, &v, err);
  if (rc == 0) {
    if (v.len != 8)
      return err_set(err, RATTAN_ECORRUPT, "meta record \"task_seq\": corrupt");
    last = mp_get_be(v.ptr, 8);
  } else if (rc != RATTAN_ENOTFOUND) {
    return rc;
  }
  uint8_t b[8];
  mp_be64(b, last + 1);
  if ((rc = st_put(t, ST_DB_META, seq_key, (st_slice){b, 8}, err))) return rc;
  *next = last + 1;
  return 0;
}

/* The definition is not a journal change: an export carries it in its
 * header. */
int st_def_put(st_txn *t, const char *task, const st_def *d, errbuf *err) {
  skey k;
  int rc = task_key(&k, task, err);
  if (rc || (rc = jr_check(t, task, err))) return rc;
  buf *b = st_scratch(t);
  size_t at = b->len;
  if (st_def_encode(d, b))
    return err_set(err, RATTAN_ENOMEM, "task %s: definition: out of memory",
                   task);
  rc = st_put(t, ST_DB_DEFS, key_slice(&k),
              (st_slice){b->data + at, b->len - at}, err);
  b->len = at;
  return rc;
}

int st_def_get(st_txn *t, const char *task, st_def *d, errbuf *err) {
  skey k;
  st_slice v;
  memset(d, 0, sizeof *d);
  int rc = task_key(&k, task, err);
  if (rc || (rc = st_get(t, ST_DB_DEFS, key_slice(&k), &v, err))) return rc;
  if ((rc = st_def_decode(v.ptr, v.len, d, err))) {
    char why[ERRBUF_MAX];
    snprintf(why, sizeof why, "%s", err ? err->msg : "");
    st_def_free(d);
    return err_set(err, rc, "task %s: %s", task, why);
  }
  return 0;
}
