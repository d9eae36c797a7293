/*
 * Run state records: processes and the run queue, schedules, and the
 * per-node JSON texts (see store.h). Records are msgpack arrays led by a
 * format version, read with the bounded reader like every other record.
 */
#include <stdio.h>
#include <string.h>

#include "mp.h"
#include "rattan.h"
#include "store_int.h"

#define PROC_REC_VERSION  1
#define SCHED_REC_VERSION 1

/* Encodes with fn into the scratch buffer and puts the bytes under k. */
static int put_rec(st_txn *t, int db, const skey *k,
                   int (*fn)(msgpack_packer *pk, const void *r), const void *r,
                   const char *what, errbuf *err) {
  buf *b = st_scratch(t);
  size_t at = b->len;
  msgpack_packer pk;
  mp_packer_init(&pk, b);
  if (fn(&pk, r)) {
    b->len = at;
    return err_set(err, RATTAN_ENOMEM, "%s: out of memory", what);
  }
  int rc =
      st_put(t, db, key_slice(k), (st_slice){b->data + at, b->len - at}, err);
  b->len = at;
  return rc;
}

/* ---- Processes ---------------------------------------------------------- */

static int proc_key(skey *k, const char *task, uint32_t id, errbuf *err) {
  int rc = key_ids(k, task, NULL, err);
  if (!rc) key_be(k, id, 4);
  return rc;
}

static int proc_pack(msgpack_packer *pk, const void *r) {
  const st_proc *p = r;
  if (msgpack_pack_array(pk, 10) || msgpack_pack_uint8(pk, PROC_REC_VERSION) ||
      msgpack_pack_uint32(pk, p->id) || msgpack_pack_uint32(pk, p->parent) ||
      msgpack_pack_uint32(pk, p->need_ack) || msgpack_pack_uint32(pk, p->cur) ||
      msgpack_pack_uint32(pk, p->dest) || msgpack_pack_uint8(pk, p->status) ||
      msgpack_pack_uint8(pk, p->inflight) || msgpack_pack_array(pk, p->depth))
    return -1;
  for (unsigned i = 0; i < p->depth; i++)
    if (msgpack_pack_uint32(pk, p->stack[i])) return -1;
  return mp_pack_cstr(pk, p->suspended_by);
}

static int proc_decode(st_slice v, st_proc *p, errbuf *err) {
  mp_rd rd;
  mp_rd_init(&rd, v.ptr, v.len, "process record", err);
  uint32_t n, depth;
  uint64_t ver, id, parent, need, cur, dest, status, inflight;
  if (mp_read_array(&rd, &n)) return RATTAN_ECORRUPT;
  if (n < 10)
    return err_set(err, RATTAN_ECORRUPT, "process record: %u fields", n);
  if (mp_read_uint(&rd, UINT8_MAX, &ver) ||
      mp_read_uint(&rd, UINT32_MAX, &id) ||
      mp_read_uint(&rd, UINT32_MAX, &parent) ||
      mp_read_uint(&rd, UINT32_MAX, &need) ||
      mp_read_uint(&rd, UINT32_MAX, &cur) ||
      mp_read_uint(&rd, UINT32_MAX, &dest) ||
      mp_read_uint(&rd, ST_PROC_SUSPEND, &status) ||
      mp_read_uint(&rd, 1, &inflight) || mp_read_array(&rd, &depth))
    return RATTAN_ECORRUPT;
  if (depth > ST_STACK_MAX)
    return err_set(err, RATTAN_ECORRUPT,
                   "process record: stack of %u pipelines", depth);
  for (uint32_t i = 0; i < depth; i++) {
    uint64_t x;
    if (mp_read_uint(&rd, UINT32_MAX, &x)) return RATTAN_ECORRUPT;
    p->stack[i] = (uint32_t)x;
  }
  if (mp_read_cstr(&rd, p->suspended_by, ST_ID_MAX)) return RATTAN_ECORRUPT;
  for (uint32_t i = 10; i < n; i++)
    if (mp_skip(&rd, 32)) return RATTAN_ECORRUPT;
  if (mp_read_end(&rd)) return RATTAN_ECORRUPT;
  p->id = (uint32_t)id;
  p->parent = (uint32_t)parent;
  p->need_ack = (uint32_t)need;
  p->cur = (uint32_t)cur;
  p->dest = (uint32_t)dest;
  p->status = (uint8_t)status;
  p->inflight = (uint8_t)inflight;
  p->depth = (uint8_t)depth;
  return 0;
}

/* Packs r with fn into out (the fuzz targets' round trips). */
static int encode_rec(int (*fn)(msgpack_packer *pk, const void *r),
                      const void *r, buf *out) {
  msgpack_packer pk;
  mp_packer_init(&pk, out);
  return fn(&pk, r) ? RATTAN_ENOMEM : 0;
}

int st_proc_encode(const st_proc *p, buf *out) {
  return encode_rec(proc_pack, p, out);
}

int st_proc_decode(const void *p, size_t n, st_proc *out, errbuf *err) {
  return proc_decode((st_slice){p, n}, out, err);
}

int st_proc_get(st_txn *t, const char *task, uint32_t id, st_proc *p,
                errbuf *err) {
  skey k;
  st_slice v;
  int rc = proc_key(&k, task, id, err);
  if (rc || (rc = st_get(t, ST_DB_PROCS, key_slice(&k), &v, err))) return rc;
  return proc_decode(v, p, err);
}

int st_proc_put(st_txn *t, const char *task, const st_proc *p, errbuf *err) {
  skey k;
  int rc = proc_key(&k, task, p->id, err);
  if (rc || (rc = jr_check(t, task, err)) ||
      (rc = put_rec(t, ST_DB_PROCS, &k, proc_pack, p, "process record", err)))
    return rc;
  st_slice v;
  if (p->status == ST_PROC_RUN) {
    /* Putting an entry that is there already would still copy its page
     * into the transaction, one more page to write at commit. */
    rc = st_get(t, ST_DB_RUNQ, key_slice(&k), &v, err);
    if (rc == RATTAN_ENOTFOUND)
      rc = st_put(t, ST_DB_RUNQ, key_slice(&k), (st_slice){"", 0}, err);
  } else
    rc = st_del(t, ST_DB_RUNQ, key_slice(&k), err);
  return rc ? rc : jr_proc(t, p->id, p, err);
}

int st_proc_del(st_txn *t, const char *task, uint32_t id, errbuf *err) {
  skey k;
  int rc = proc_key(&k, task, id, err);
  if (rc || (rc = jr_check(t, task, err)) ||
      (rc = st_del(t, ST_DB_RUNQ, key_slice(&k), err)) ||
      (rc = st_del(t, ST_DB_PROCS, key_slice(&k), err)))
    return rc;
  return jr_proc(t, id, NULL, err);
}

typedef struct proc_walk {
  int (*fn)(const st_proc *p, void *ctx);
  void *ctx;
  errbuf *err;
  int rc;
} proc_walk;

static int proc_one(st_slice k, st_slice v, void *ctx) {
  (void)k;
  proc_walk *w = ctx;
  st_proc p;
  if ((w->rc = proc_decode(v, &p, w->err))) return w->rc;
  return w->fn(&p, w->ctx);
}

int st_proc_each(st_txn *t, const char *task,
                 int (*fn)(const st_proc *p, void *ctx), void *ctx,
                 errbuf *err) {
  skey k;
  int rc = key_ids(&k, task, NULL, err);
  if (rc) return rc;
  proc_walk w = {fn, ctx, err, 0};
  return st_each(t, ST_DB_PROCS, key_slice(&k), proc_one, &w, err);
}

int st_proc_next_id(st_txn *t, const char *task, uint32_t *id, errbuf *err) {
  skey k;
  st_slice key, val;
  int rc = key_ids(&k, task, NULL, err);
  if (rc) return rc;
  rc = st_last(t, ST_DB_PROCS, key_slice(&k), &key, &val, err);
  if (rc == RATTAN_ENOTFOUND) {
    *id = 1;
    return 0;
  }
  if (rc) return rc;
  if (key.len != k.len + 4)
    return err_set(err, RATTAN_ECORRUPT, "task %s: bad process key", task);
  *id = (uint32_t)mp_get_be((const uint8_t *)key.ptr + k.len, 4) + 1;
  return 0;
}

typedef struct runq_first {
  char *task;
  uint32_t *id;
} runq_first;

static int runq_one(st_slice k, st_slice v, void *ctx) {
  (void)v;
  runq_first *f = ctx;
  const uint8_t *p = k.ptr, *nul = memchr(p, 0, k.len);
  size_t n = nul ? (size_t)(nul - p) : 0;
  if (!nul || n == 0 || n > ST_ID_MAX || k.len != n + 5) return RATTAN_ECORRUPT;
  memcpy(f->task, p, n);
  f->task[n] = '\0';
  *f->id = (uint32_t)mp_get_be(p + n + 1, 4);
  return 1;
}

int st_runq_first(st_txn *t, const char *task, char task_out[ST_ID_MAX + 1],
                  uint32_t *id, errbuf *err) {
  skey k = {.len = 0};
  int rc;
  if (task && (rc = key_ids(&k, task, NULL, err))) return rc;
  runq_first f = {task_out, id};
  rc = st_each(t, ST_DB_RUNQ, key_slice(&k), runq_one, &f, err);
  if (rc == 1) return 0;
  if (rc == RATTAN_ECORRUPT) return err_set(err, rc, "run queue: corrupt key");
  return rc ? rc : RATTAN_ENOTFOUND;
}

/* ---- Schedules ---------------------------------------------------------- */

static int sched_pack(msgpack_packer *pk, const void *r) {
  const st_sched *s = r;
  return msgpack_pack_array(pk, 8) ||
         msgpack_pack_uint8(pk, SCHED_REC_VERSION) ||
         mp_pack_cstr(pk, s->version) || msgpack_pack_uint8(pk, s->type) ||
         msgpack_pack_uint32(pk, s->pid) || msgpack_pack_uint32(pk, s->times) ||
         msgpack_pack_uint32(pk, s->pending) || mp_pack_time(pk, s->due) ||
         mp_pack_time(pk, s->deadline);
}

static int sched_decode(st_slice v, st_sched *s, errbuf *err) {
  mp_rd rd;
  mp_rd_init(&rd, v.ptr, v.len, "schedule record", err);
  uint32_t n;
  uint64_t ver, type, pid, times, pending;
  if (mp_read_array(&rd, &n)) return RATTAN_ECORRUPT;
  if (n < 8)
    return err_set(err, RATTAN_ECORRUPT, "schedule record: %u fields", n);
  if (mp_read_uint(&rd, UINT8_MAX, &ver) ||
      mp_read_cstr(&rd, s->version, ST_VERSION_LEN) ||
      mp_read_uint(&rd, 3, &type) || mp_read_uint(&rd, UINT32_MAX, &pid) ||
      mp_read_uint(&rd, UINT32_MAX, &times) ||
      mp_read_uint(&rd, UINT32_MAX, &pending) || mp_read_time(&rd, &s->due) ||
      mp_read_time(&rd, &s->deadline))
    return RATTAN_ECORRUPT;
  for (uint32_t i = 8; i < n; i++)
    if (mp_skip(&rd, 32)) return RATTAN_ECORRUPT;
  if (mp_read_end(&rd)) return RATTAN_ECORRUPT;
  s->type = (uint8_t)type;
  s->pid = (uint32_t)pid;
  s->times = (uint32_t)times;
  s->pending = (uint32_t)pending;
  return 0;
}

int st_sched_encode(const st_sched *s, buf *out) {
  return encode_rec(sched_pack, s, out);
}

int st_sched_decode(const void *p, size_t n, st_sched *out, errbuf *err) {
  return sched_decode((st_slice){p, n}, out, err);
}

static int node_key(skey *k, const char *task, const char *node, errbuf *err) {
  int rc = key_ids(k, task, node, err);
  if (!rc) k->len--; /* the key ends with the node id */
  return rc;
}

int st_sched_get(st_txn *t, const char *task, const char *node, st_sched *s,
                 errbuf *err) {
  skey k;
  st_slice v;
  int rc = node_key(&k, task, node, err);
  if (rc || (rc = st_get(t, ST_DB_SCHEDULES, key_slice(&k), &v, err)))
    return rc;
  return sched_decode(v, s, err);
}

int st_sched_put(st_txn *t, const char *task, const char *node,
                 const st_sched *s, errbuf *err) {
  skey k;
  int rc = node_key(&k, task, node, err);
  if (rc || (rc = jr_check(t, task, err)) ||
      (rc = put_rec(t, ST_DB_SCHEDULES, &k, sched_pack, s, "schedule record",
                    err)))
    return rc;
  return jr_sched(t, node, s, err);
}

int st_sched_del(st_txn *t, const char *task, const char *node, errbuf *err) {
  skey k;
  int rc = node_key(&k, task, node, err);
  if (rc || (rc = jr_check(t, task, err)) ||
      (rc = st_del(t, ST_DB_SCHEDULES, key_slice(&k), err)))
    return rc;
  return jr_sched(t, node, NULL, err);
}

typedef struct sched_walk {
  st_sched_fn fn;
  void *ctx;
  errbuf *err;
} sched_walk;

static int sched_one(st_slice k, st_slice v, void *ctx) {
  sched_walk *w = ctx;
  char task[ST_ID_MAX + 1], node[ST_ID_MAX + 1];
  const char *p = k.ptr, *nul = memchr(p, 0, k.len);
  size_t tn = nul ? (size_t)(nul - p) : 0, nn = nul ? k.len - tn - 1 : 0;
  if (!nul || !tn || tn > ST_ID_MAX || !nn || nn > ST_ID_MAX)
    return err_set(w->err, RATTAN_ECORRUPT, "schedules: corrupt key");
  memcpy(task, p, tn);
  task[tn] = '\0';
  memcpy(node, nul + 1, nn);
  node[nn] = '\0';
  st_sched s;
  int rc = sched_decode(v, &s, w->err);
  return rc ? rc : w->fn(task, node, &s, w->ctx);
}

int st_sched_each(st_txn *t, const char *task, st_sched_fn fn, void *ctx,
                  errbuf *err) {
  skey k = {.len = 0};
  int rc;
  if (task && (rc = key_ids(&k, task, NULL, err))) return rc;
  sched_walk w = {fn, ctx, err};
  return st_each(t, ST_DB_SCHEDULES, key_slice(&k), sched_one, &w, err);
}

/* ---- Per-node data ------------------------------------------------------ */

static int data_key(skey *k, const char *task, const char *node, int tag,
                    uint32_t idx, errbuf *err) {
  int rc = key_ids(k, task, node, err);
  if (rc) return rc;
  k->b[k->len++] = (uint8_t)tag;
  if (tag == ST_DATA_HISTORY) key_be(k, idx, 4);
  return 0;
}

int st_data_get(st_txn *t, const char *task, const char *node, int tag,
                uint32_t idx, st_slice *out, errbuf *err) {
  skey k;
  int rc = data_key(&k, task, node, tag, idx, err);
  return rc ? rc : st_get(t, ST_DB_DATA, key_slice(&k), out, err);
}

/* History copies are not journaled: the history change they come with
 * makes them again. */
int st_data_put(st_txn *t, const char *task, const char *node, int tag,
                uint32_t idx, st_slice val, errbuf *err) {
  skey k;
  int rc = data_key(&k, task, node, tag, idx, err);
  if (rc || (rc = jr_check(t, task, err)) ||
      (rc = st_put(t, ST_DB_DATA, key_slice(&k), val, err)))
    return rc;
  return tag == ST_DATA_HISTORY ? 0 : jr_data(t, node, tag, &val, err);
}

int st_data_del(st_txn *t, const char *task, const char *node, int tag,
                uint32_t idx, errbuf *err) {
  skey k;
  int rc = data_key(&k, task, node, tag, idx, err);
  if (rc || (rc = jr_check(t, task, err)) ||
      (rc = st_del(t, ST_DB_DATA, key_slice(&k), err)))
    return rc;
  return tag == ST_DATA_HISTORY ? 0 : jr_data(t, node, tag, NULL, err);
}
