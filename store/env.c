/*
 * The LMDB environment: open and close, transactions, the write loop that
 * grows the map on MDB_MAP_FULL, raw record access, dumps, the fault points
 * tests use and the crash loop's kill points. This is the only file that
 * calls mdb_txn_* and mdb_env_*; the record codecs build on st_get / st_put.
 */
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp.h"
#include "rattan.h"
#include "store.h"
#include "store_int.h"

#define DEFAULT_MAP_SIZE     ((size_t)64 << 20)
#define DEFAULT_MAP_SIZE_MAX ((size_t)256 << 30)

static const char *const db_names[ST_DB_COUNT] = {
    "meta",      "tasks",     "definitions", "states", "data",
    "histories", "schedules", "journal",     "procs",  "runq"};

struct st_txn {
  st_store *store;
  MDB_txn *txn;
  int write;
  int borrowed; /* a read view of the open batch: ending it ends nothing */
  int failed;   /* a put or del failed: only abort remains */
  int mapfull;  /* that failure was MDB_MAP_FULL */
  buf scratch;
  jframe j; /* the journal entry being built (write txns only) */
};

/* Map size changes (mdb_env_set_mapsize) remap the file, so they must not
 * overlap any transaction of this process: every transaction holds
 * resize_lock shared, a resize holds it exclusive. Writers are preferred,
 * so a steady stream of readers cannot starve a resize; the price is that
 * a thread must never begin a transaction while it holds another. */
struct st_store {
  pthread_rwlock_t resize_lock;
  MDB_env *env;
  MDB_dbi dbi[ST_DB_COUNT];
  size_t map_max;
  int panic; /* LMDB reported MDB_PANIC: every call fails */
  st_txn w;  /* the write txn; writes are serialized by contract */
  /* Group commit: while batch is set, w.txn is the open batch of thread
   * batch_owner. lost holds what happened to a batch that a plain
   * st_write had to commit on the batch's behalf and could not (0: it was
   * not lost), for the batch's owner to learn at its next batch call. */
  int batch;
  pthread_t batch_owner;
  int lost;
  int group;        /* batches commit without flushing their meta page */
  int unflushed;    /* a batch committed since the last full flush */
  unsigned commits; /* since open, for the periodic reader check */
  char dir[256];
  int stale_cleared; /* dead readers' slots mdb_reader_check cleared */
  struct {
    unsigned put_n, commit_n;
    int put_code, commit_code;
  } fault;
  void (*on_commit)(void *ctx); /* tests: see st_on_commit */
  void *on_commit_ctx;
};

/* Maps an LMDB or errno code to ours, with a message naming what failed. */
static int map_err(st_store *s, int rc, const char *what, errbuf *err) {
  int code;
  switch (rc) {
    case MDB_NOTFOUND:
      code = RATTAN_ENOTFOUND;
      break;
    case MDB_KEYEXIST:
      code = RATTAN_EEXIST;
      break;
    case MDB_MAP_FULL:
      code = RATTAN_EFULL;
      break;
    case MDB_READERS_FULL:
    case MDB_DBS_FULL:
    case MDB_TXN_FULL:
      code = RATTAN_ELIMIT;
      break;
    case MDB_BAD_VALSIZE:
      code = RATTAN_EINVAL;
      break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      code = RATTAN_ECORRUPT;
      break;
    case MDB_PANIC:
      code = RATTAN_EPANIC;
      if (s) s->panic = 1;
      break;
    case MDB_BAD_TXN:
      code = RATTAN_EBADTXN;
      break;
    case ENOMEM:
      code = RATTAN_ENOMEM;
      break;
    case ENOSPC:
      code = RATTAN_ENOSPC;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = RATTAN_EACCES;
      break;
    case EBUSY:
    case EAGAIN:
      code = RATTAN_EBUSY;
      break;
    default:
      code = RATTAN_EIO;
      break;
  }
  return err_set(err, code, "store %s: %s: %s", s ? s->dir : "?", what,
                 mdb_strerror(rc));
}

/* Fault codes are ours; turn them back into what LMDB would return. */
static int fault_to_mdb(int code) {
  switch (code) {
    case RATTAN_EFULL:
      return MDB_MAP_FULL;
    case RATTAN_ENOSPC:
      return ENOSPC;
    default:
      return EIO;
  }
}

static int fault_hit(unsigned *n, int code) {
  if (*n == 0 || --*n != 0) return 0;
  return fault_to_mdb(code);
}

/* The crash loop's hook (store.h): NULL outside it. */
static void (*point_hook)(int point);

void st_set_point_hook(void (*fn)(int point)) {
  point_hook = fn;
}

static void at_point(int point) {
  if (point_hook) point_hook(point);
}

int st_stale_cleared(st_store *s) {
  return s->stale_cleared;
}

void st_on_commit(st_store *s, void (*fn)(void *ctx), void *ctx) {
  s->on_commit = fn;
  s->on_commit_ctx = ctx;
}

void st_fault(st_store *s, int what, unsigned n, int code) {
  if (what == ST_FAULT_PUT) {
    s->fault.put_n = n;
    s->fault.put_code = code;
  } else {
    s->fault.commit_n = n;
    s->fault.commit_code = code;
  }
}

/* Changes the map size (0: adopt the size another process set) with the
 * resize lock held exclusive; a failure leaves LMDB without a map, so the
 * store is unusable from then on. */
static int resize(st_store *s, size_t size, errbuf *err) {
  pthread_rwlock_wrlock(&s->resize_lock);
  int rc = mdb_env_set_mapsize(s->env, size);
  pthread_rwlock_unlock(&s->resize_lock);
  if (rc) {
    s->panic = 1;
    return map_err(s, rc, "resize map", err);
  }
  return 0;
}

/* Begins an LMDB txn holding the resize lock shared (released by
 * txn_end), adopting a map another process grew. */
static int txn_begin(st_store *s, unsigned flags, MDB_txn **out, errbuf *err) {
  for (;;) {
    pthread_rwlock_rdlock(&s->resize_lock);
    int rc = mdb_txn_begin(s->env, NULL, flags, out);
    if (rc == 0) return 0;
    pthread_rwlock_unlock(&s->resize_lock);
    if (rc != MDB_MAP_RESIZED) return map_err(s, rc, "begin transaction", err);
    if ((rc = resize(s, 0, err))) return rc;
  }
}

/* Ends what txn_begin began; the txn itself is already committed or
 * aborted. */
static void txn_end(st_store *s) {
  pthread_rwlock_unlock(&s->resize_lock);
}

size_t st_map_size(st_store *s) {
  MDB_envinfo info;
  mdb_env_info(s->env, &info);
  return info.me_mapsize;
}

static int count_line(const char *msg, void *ctx) {
  (void)msg;
  ++*(int *)ctx;
  return 0;
}

int st_reader_count(st_store *s) {
  int lines = 0;
  mdb_reader_list(s->env, count_line, &lines);
  return lines > 1 ? lines - 1 : 0; /* the first line is a header */
}

/* Every so many commits, the slots of readers whose process died are
 * cleared: a dead reader pins the snapshot it read, and until its slot
 * goes the pages freed since cannot be reused, so the file grows. Open
 * clears them too, but a writer may keep the store open for days. */
#define READER_CHECK_EVERY 256

static void committed(st_store *s) {
  int dead;
  if (++s->commits % READER_CHECK_EVERY == 0) mdb_reader_check(s->env, &dead);
  /* The test observer, if any: no transaction of the store is open. */
  if (s->on_commit) s->on_commit(s->on_commit_ctx);
}

/* Doubles the map up to the maximum. */
static int grow(st_store *s, errbuf *err) {
  size_t cur = st_map_size(s);
  if (cur >= s->map_max)
    return err_set(err, RATTAN_EFULL,
                   "store %s: map full at its maximum of %zu bytes "
                   "(raise map_size_max); nothing was written",
                   s->dir, s->map_max);
  size_t next = cur > s->map_max / 2 ? s->map_max : cur * 2;
  return resize(s, next, err);
}

/* Ends the write txn: aborts it when rc (the work's result) is an error
 * or the commit fault point fires, else commits it. Returns the LMDB or
 * fault code of the commit, 0 when it was committed or rc was set. */
static int end_write(st_store *s, int rc) {
  st_txn *t = &s->w;
  int mrc = 0;
  if (rc || (mrc = fault_hit(&s->fault.commit_n, s->fault.commit_code))) {
    mdb_txn_abort(t->txn);
  } else {
    at_point(ST_POINT_PRECOMMIT);
    mrc = mdb_txn_commit(t->txn); /* frees the txn, even on failure */
    if (mrc == 0) at_point(ST_POINT_COMMIT);
  }
  t->txn = NULL;
  txn_end(s);
  return mrc;
}

int st_write(st_store *s, st_write_fn fn, void *ctx, errbuf *err) {
  if (s->panic)
    return err_set(err, RATTAN_EPANIC, "store %s: unusable after a fatal error",
                   s->dir);
  st_txn *t = &s->w;
  if (s->batch) {
    /* A write outside the batch (an operation a component makes while
     * its step's batch is open) must not ride on it: if the write failed
     * the batch would fail with it. So the batch commits first. */
    int rc = st_batch_commit(s, err);
    if (rc) {
      s->lost = rc;
      return rc == ST_AGAIN ? st_write(s, fn, ctx, err) : rc;
    }
  }
  for (;;) {
    int rc = txn_begin(s, 0, &t->txn, err);
    if (rc) return rc;
    t->failed = t->mapfull = 0;
    t->scratch.len = 0;
    jr_begin_txn(t);
    jr_reset(t);
    rc = fn(t, ctx, err);
    if (rc == 0) rc = st_journal_end(t, NULL, err);
    if (rc == 0 && t->failed)
      rc = err_set(err, RATTAN_EBADTXN,
                   "store %s: a write failed inside "
                   "the transaction",
                   s->dir);
    int mrc = end_write(s, rc);
    if (t->mapfull || mrc == MDB_MAP_FULL) {
      if ((rc = grow(s, err))) return rc;
      err_clear(err); /* the full map was handled */
      continue;
    }
    if (rc) return rc;
    if (mrc) return map_err(s, mrc, "commit", err);
    committed(s);
    /* A group store's commits leave their meta page unflushed. */
    if (s->group) s->unflushed = 1;
    return st_batch_flush(s, err);
  }
}

int st_batch_flush(st_store *s, errbuf *err) {
  if (!s->unflushed) return 0;
  int rc = mdb_env_sync(s->env, 1);
  if (rc) return map_err(s, rc, "flush", err);
  s->unflushed = 0;
  return 0;
}

/* Ends the open batch without writing anything of it. */
static void batch_abort(st_store *s) {
  mdb_txn_abort(s->w.txn);
  s->w.txn = NULL;
  s->batch = 0;
  txn_end(s);
}

int st_batch_write(st_store *s, st_write_fn fn, void *ctx, errbuf *err) {
  if (s->panic)
    return err_set(err, RATTAN_EPANIC, "store %s: unusable after a fatal error",
                   s->dir);
  int rc = s->lost;
  s->lost = 0;
  if (rc) return rc == ST_AGAIN ? ST_AGAIN : rc;
  st_txn *t = &s->w;
  if (!s->batch) {
    if ((rc = txn_begin(s, 0, &t->txn, err))) return rc;
    t->failed = t->mapfull = 0;
    jr_begin_txn(t);
    s->batch = 1;
    s->batch_owner = pthread_self();
  }
  t->scratch.len = 0;
  jr_reset(t);
  rc = fn(t, ctx, err);
  if (rc == 0) rc = st_journal_end(t, NULL, err);
  if (rc == 0 && t->failed)
    rc = err_set(err, RATTAN_EBADTXN,
                 "store %s: a write failed inside the transaction", s->dir);
  if (rc == 0) return 0;
  /* A change half made cannot be taken out of the batch alone. */
  batch_abort(s);
  if (!t->mapfull) return rc;
  if ((rc = grow(s, err))) return rc;
  err_clear(err);
  return ST_AGAIN;
}

int st_batch_commit(st_store *s, errbuf *err) {
  int rc = s->lost;
  s->lost = 0;
  if (rc || !s->batch) return rc;
  s->batch = 0;
  int mrc = end_write(s, 0);
  if (mrc == MDB_MAP_FULL) {
    if ((rc = grow(s, err))) return rc;
    err_clear(err);
    return ST_AGAIN;
  }
  if (mrc) return map_err(s, mrc, "commit", err);
  committed(s);
  if (s->group) s->unflushed = 1;
  return 0;
}

void st_batch_abort(st_store *s) {
  if (s->batch) batch_abort(s);
}

int st_batch_open(st_store *s) {
  return s->batch;
}

uint64_t st_last_txn(st_store *s) {
  MDB_envinfo info;
  mdb_env_info(s->env, &info);
  return info.me_last_txnid;
}

int st_read_begin(st_store *s, st_txn **out, errbuf *err) {
  *out = NULL;
  if (s->panic)
    return err_set(err, RATTAN_EPANIC, "store %s: unusable after a fatal error",
                   s->dir);
  st_txn *t = rt_malloc(sizeof *t);
  if (!t) return err_set(err, RATTAN_ENOMEM, "store %s: out of memory", s->dir);
  *t = (st_txn){.store = s};
  if (s->batch && pthread_equal(s->batch_owner, pthread_self())) {
    /* The batch's own thread reads what its batch wrote. */
    t->txn = s->w.txn;
    t->borrowed = 1;
    *out = t;
    return 0;
  }
  int rc = txn_begin(s, MDB_RDONLY, &t->txn, err);
  if (rc) {
    rt_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void st_read_end(st_txn *t) {
  if (!t) return;
  if (!t->borrowed) {
    mdb_txn_abort(t->txn);
    txn_end(t->store);
  }
  rt_free(t);
}

jframe *st_jframe(st_txn *t) {
  return &t->j;
}

void st_txn_fail(st_txn *t) {
  t->failed = 1;
}

buf *st_scratch(st_txn *t) {
  return &t->scratch;
}

static MDB_val val_of(st_slice s) {
  return (MDB_val){s.len, (void *)s.ptr};
}

int st_get(st_txn *t, int db, st_slice key, st_slice *val, errbuf *err) {
  if (t->failed)
    return err_set(err, RATTAN_EBADTXN, "store: transaction already failed");
  MDB_val k = val_of(key), v;
  int rc = mdb_get(t->txn, t->store->dbi[db], &k, &v);
  if (rc == MDB_NOTFOUND) return RATTAN_ENOTFOUND;
  if (rc) return map_err(t->store, rc, db_names[db], err);
  *val = (st_slice){v.mv_data, v.mv_size};
  return 0;
}

static int write_failed(st_txn *t, int rc, int db, const char *what,
                        errbuf *err) {
  t->failed = 1;
  t->mapfull = rc == MDB_MAP_FULL;
  char msg[64];
  snprintf(msg, sizeof msg, "%s in %s", what, db_names[db]);
  return map_err(t->store, rc, msg, err);
}

static int put(st_txn *t, int db, st_slice key, st_slice val, unsigned flags,
               errbuf *err) {
  if (t->failed)
    return err_set(err, RATTAN_EBADTXN, "store: transaction already failed");
  st_store *s = t->store;
  MDB_val k = val_of(key), v = val_of(val);
  int rc = fault_hit(&s->fault.put_n, s->fault.put_code);
  if (!rc) rc = mdb_put(t->txn, s->dbi[db], &k, &v, flags);
  if (rc) return write_failed(t, rc, db, flags ? "insert" : "put", err);
  at_point(ST_POINT_PUT);
  return 0;
}

int st_put(st_txn *t, int db, st_slice key, st_slice val, errbuf *err) {
  return put(t, db, key, val, 0, err);
}

int st_insert(st_txn *t, int db, st_slice key, st_slice val, errbuf *err) {
  return put(t, db, key, val, MDB_NOOVERWRITE, err);
}

int st_del(st_txn *t, int db, st_slice key, errbuf *err) {
  if (t->failed)
    return err_set(err, RATTAN_EBADTXN, "store: transaction already failed");
  MDB_val k = val_of(key);
  int rc = mdb_del(t->txn, t->store->dbi[db], &k, NULL);
  if (rc == MDB_NOTFOUND) return 0;
  return rc ? write_failed(t, rc, db, "delete", err) : 0;
}

int st_each(st_txn *t, int db, st_slice prefix, st_each_fn fn, void *ctx,
            errbuf *err) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(t->txn, t->store->dbi[db], &c);
  if (rc) return map_err(t->store, rc, db_names[db], err);
  MDB_val k = val_of(prefix), v;
  MDB_cursor_op op = prefix.len ? MDB_SET_RANGE : MDB_FIRST;
  int ret = 0;
  while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
    op = MDB_NEXT;
    if (prefix.len &&
        (k.mv_size < prefix.len || memcmp(k.mv_data, prefix.ptr, prefix.len)))
      break;
    ret = fn((st_slice){k.mv_data, k.mv_size}, (st_slice){v.mv_data, v.mv_size},
             ctx);
    if (ret) break;
  }
  mdb_cursor_close(c);
  if (rc && rc != MDB_NOTFOUND) return map_err(t->store, rc, db_names[db], err);
  return ret;
}

int st_last(st_txn *t, int db, st_slice prefix, st_slice *key, st_slice *val,
            errbuf *err) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(t->txn, t->store->dbi[db], &c);
  if (rc) return map_err(t->store, rc, db_names[db], err);
  /* Position on the first key past every key with the prefix, then step
   * back one. */
  uint8_t next[KEY_MAX];
  memcpy(next, prefix.ptr, prefix.len);
  next[prefix.len - 1]++;
  MDB_val k = {prefix.len, next}, v;
  rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  if (rc == 0 || rc == MDB_NOTFOUND)
    rc = mdb_cursor_get(c, &k, &v, rc ? MDB_LAST : MDB_PREV);
  mdb_cursor_close(c);
  if (rc == MDB_NOTFOUND ||
      (rc == 0 &&
       (k.mv_size < prefix.len || memcmp(k.mv_data, prefix.ptr, prefix.len))))
    return RATTAN_ENOTFOUND;
  if (rc) return map_err(t->store, rc, db_names[db], err);
  *key = (st_slice){k.mv_data, k.mv_size};
  *val = (st_slice){v.mv_data, v.mv_size};
  return 0;
}

static int dump_one(st_slice k, st_slice v, void *ctx) {
  buf *out = ctx;
  uint8_t hdr[8];
  mp_be32(hdr, (uint32_t)k.len);
  mp_be32(hdr + 4, (uint32_t)v.len);
  if (buf_append(out, hdr, 4) || buf_append(out, k.ptr, k.len) ||
      buf_append(out, hdr + 4, 4) || buf_append(out, v.ptr, v.len))
    return RATTAN_ENOMEM;
  return 0;
}

int st_dump(st_txn *t, buf *out, errbuf *err) {
  for (int db = 0; db < ST_DB_COUNT; db++) {
    uint8_t tag = (uint8_t)db;
    if (buf_append(out, &tag, 1))
      return err_set(err, RATTAN_ENOMEM, "store dump: out of memory");
    int rc = st_each(t, db, (st_slice){0}, dump_one, out, err);
    if (rc == RATTAN_ENOMEM)
      return err_set(err, rc, "store dump: out of memory");
    if (rc) return rc;
  }
  return 0;
}

int st_dump_task(st_txn *t, const char *task, buf *out, errbuf *err) {
  skey k;
  int rc = key_ids(&k, task, NULL, err);
  if (rc) return rc;
  /* The state creation counter is the task's one meta record. */
  char meta[4 + ST_ID_MAX];
  memcpy(meta, "nseq", 4);
  memcpy(meta + 4, task, k.len - 1);
  st_slice exact[ST_DB_COUNT] = {[ST_DB_META] = {meta, 4 + k.len - 1},
                                 [ST_DB_TASKS] = {task, k.len - 1},
                                 [ST_DB_DEFS] = {task, k.len - 1}};
  for (int db = 0; db < ST_DB_COUNT; db++) {
    uint8_t tag = (uint8_t)db;
    st_slice v;
    if (buf_append(out, &tag, 1))
      return err_set(err, RATTAN_ENOMEM, "store dump: out of memory");
    if (exact[db].ptr) {
      rc = st_get(t, db, exact[db], &v, err);
      if (rc == 0) rc = dump_one(exact[db], v, out);
      if (rc == RATTAN_ENOTFOUND) rc = 0;
    } else {
      rc = st_each(t, db, key_slice(&k), dump_one, out, err);
    }
    if (rc == RATTAN_ENOMEM)
      return err_set(err, rc, "store dump: out of memory");
    if (rc) return rc;
  }
  return 0;
}

/* ---- Open and close ----------------------------------------------------- */

static int open_dbs(st_txn *t, void *ctx, errbuf *err) {
  (void)ctx;
  st_store *s = t->store;
  for (int i = 0; i < ST_DB_COUNT; i++) {
    int rc = mdb_dbi_open(t->txn, db_names[i], MDB_CREATE, &s->dbi[i]);
    if (rc) return write_failed(t, rc, i, "open", err);
  }
  int rc = st_check_schema(t, err);
  if (rc == RATTAN_ESCHEMA) {
    char why[ERRBUF_MAX];
    snprintf(why, sizeof why, "%s", err ? err->msg : "");
    err_set(err, rc, "store %s: %s", s->dir, why);
  }
  return rc;
}

int st_open(st_store **out, const char *dir, const st_config *cfg,
            errbuf *err) {
  *out = NULL;
  if (strlen(dir) >= sizeof((st_store *)0)->dir)
    return err_set(err, RATTAN_EINVAL, "store %.40s...: path too long", dir);
  st_store *s = rt_malloc(sizeof *s);
  if (!s) return err_set(err, RATTAN_ENOMEM, "store %s: out of memory", dir);
  *s = (st_store){0};
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&s->resize_lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  s->w.store = s;
  s->w.write = 1;
  strcpy(s->dir, dir);
  size_t map = cfg && cfg->map_size ? cfg->map_size : DEFAULT_MAP_SIZE;
  s->map_max =
      cfg && cfg->map_size_max ? cfg->map_size_max : DEFAULT_MAP_SIZE_MAX;
  if (map > s->map_max) map = s->map_max;

  int ret;
  int rc = mdb_env_create(&s->env);
  if (rc) {
    ret = map_err(s, rc, "create environment", err);
    goto out_free_store;
  }
  unsigned flags = MDB_NOTLS;
  if (cfg && cfg->nosync)
    flags |= MDB_NOSYNC | MDB_NOMETASYNC;
  else if (cfg && cfg->group)
    flags |= MDB_NOMETASYNC;
  s->group = cfg && cfg->group && !cfg->nosync;
  if ((rc = mdb_env_set_maxdbs(s->env, ST_DB_COUNT)) ||
      (rc = mdb_env_set_mapsize(s->env, map)) ||
      (rc = mdb_env_open(s->env, dir, flags, 0600))) {
    ret = map_err(s, rc, "open", err);
    goto out_close_env;
  }
  int dead = 0;
  if ((rc = mdb_reader_check(s->env, &dead))) {
    ret = map_err(s, rc, "clear stale readers", err);
    goto out_close_env;
  }
  s->stale_cleared = dead;
  if ((ret = st_write(s, open_dbs, NULL, err))) goto out_close_env;
  *out = s;
  return 0;

out_close_env:
  mdb_env_close(s->env);
out_free_store:
  buf_free(&s->w.scratch);
  jr_free(&s->w);
  pthread_rwlock_destroy(&s->resize_lock);
  rt_free(s);
  return ret;
}

void st_close(st_store *s) {
  if (!s) return;
  if (s->batch) batch_abort(s);
  st_batch_flush(s, NULL); /* best effort: a failed drive may leave one */
  mdb_env_close(s->env);
  buf_free(&s->w.scratch);
  jr_free(&s->w);
  pthread_rwlock_destroy(&s->resize_lock);
  rt_free(s);
}
