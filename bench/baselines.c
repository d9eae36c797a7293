/*
 * The baselines every engine workload is divided by, measured first, in
 * the same bench directory:
 *   B0  4 KiB pwrite + fdatasync in a loop: what one flush costs here.
 *   B1  raw LMDB, 1, 10, 100 and 1,000 transitions per commit, each
 *       transition 3 puts (update a node's state record, append a history
 *       record, update the parent's state record) on a 10,000-node tree;
 *       in each durability mode: sync (default flags), nosync
 *       (MDB_NOSYNC | MDB_NOMETASYNC) and, for information, WRITEMAP with
 *       nosync.
 *   B2  raw LMDB bulk insert of 10,000 state-sized records in one txn.
 * (B3, the status floor, needs the engine's records: work_status.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "harness.h"
#include "raw.h"
#include "workloads.h"

#define TREE_NODES 10000 /* the tree B1 updates */

size_t raw_state_value(uint8_t *out) {
  st_state s = {.state = RATTAN_STATE_FINISHED,
                .loop = 1,
                .created = 1700000000000000LL,
                .started = 1700000000000000LL,
                .archived = 1700000000123456LL,
                .refreshed = 1700000000123456LL,
                .seq = 5000};
  snprintf(s.version, sizeof s.version, "v%032x", 0x1234abcdu);
  snprintf(s.root_id, sizeof s.root_id, "root");
  snprintf(s.parent_id, sizeof s.parent_id, "root");
  buf b = {0};
  if (st_state_encode(&s, &b) || b.len > 256) bench_die("state encode");
  memcpy(out, b.data, b.len);
  size_t n = b.len;
  buf_free(&b);
  return n;
}

size_t raw_state_key(char *out, size_t n, uint32_t i) {
  /* "t" NUL "a<branch>_<i>", as the fan-out shape's ids. */
  int len = snprintf(out, n, "t%ca%u_%u", 0, i / 10, i % 10);
  return (size_t)len;
}

/* ---- B0 ------------------------------------------------------------------ */

/* One run: iters × (pwrite 4 KiB at a rotating offset of a preallocated
 * 1 MiB file, then fdatasync); per-op latencies in lat. */
static void fdatasync_run(int iters, double *lat) {
  char dir[512], path[600];
  bench_fresh_dir(dir, sizeof dir, "b0");
  snprintf(path, sizeof path, "%s/file", dir);
  int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) bench_die("%s: %s", path, strerror(errno));
  static char block[4096];
  memset(block, 'x', sizeof block);
  for (int i = 0; i < 256; i++)
    if (pwrite(fd, block, sizeof block, (off_t)i * 4096) != 4096)
      bench_die("pwrite: %s", strerror(errno));
  if (fsync(fd)) bench_die("fsync: %s", strerror(errno));
  for (int i = 0; i < iters; i++) {
    block[0] = (char)i;
    double t0 = now_us();
    if (pwrite(fd, block, sizeof block, (off_t)(i % 256) * 4096) != 4096 ||
        fdatasync(fd))
      bench_die("pwrite+fdatasync: %s", strerror(errno));
    lat[i] = now_us() - t0;
  }
  close(fd);
  bench_remove_dir(dir);
}

static void b0(void) {
  const char *why = bench_durable_refusal();
  if (*why) {
    row_refused("b0.p50", "B0 4 KiB pwrite+fdatasync p50", why);
    return;
  }
  int iters = bench_pick(2000, 20), runs = bench_runs();
  double *lat = malloc(sizeof *lat * (size_t)iters);
  double p50[5], p99[5], mean[5], rate[5];
  if (!lat) bench_die("out of memory");
  if (bench_warmup()) fdatasync_run(iters / 4, lat);
  for (int r = 0; r < runs; r++) {
    fdatasync_run(iters, lat);
    double sum = 0;
    for (int i = 0; i < iters; i++)
      sum += lat[i];
    mean[r] = sum / iters;
    rate[r] = 1e6 / mean[r];
    p50[r] = stat_pct(lat, iters, 50);
    p99[r] = stat_pct(lat, iters, 99);
  }
  row_samples("b0.p50", "B0 4 KiB pwrite+fdatasync p50", "us", p50, runs, NULL,
              TARGET_NONE, 0);
  row_samples("b0.p99", "B0 4 KiB pwrite+fdatasync p99", "us", p99, runs, NULL,
              TARGET_NONE, 0);
  row_samples("b0.mean", "B0 4 KiB pwrite+fdatasync mean", "us", mean, runs,
              NULL, TARGET_NONE, 0);
  row_samples("b0.rate", "B0 4 KiB pwrite+fdatasync", "ops/s", rate, runs, NULL,
              TARGET_NONE, 0);
  free(lat);
}

/* ---- B1 ------------------------------------------------------------------ */

typedef struct raw_env {
  char dir[512];
  MDB_env *env;
  MDB_dbi states, hist;
} raw_env;

static void raw_open(raw_env *r, const char *tag, unsigned flags) {
  bench_fresh_dir(r->dir, sizeof r->dir, tag);
  MDB_txn *txn;
  if (mdb_env_create(&r->env) || mdb_env_set_maxdbs(r->env, 4) ||
      mdb_env_set_mapsize(r->env, (size_t)1 << 30) ||
      mdb_env_open(r->env, r->dir, flags, 0600) ||
      mdb_txn_begin(r->env, NULL, 0, &txn) ||
      mdb_dbi_open(txn, "states", MDB_CREATE, &r->states) ||
      mdb_dbi_open(txn, "histories", MDB_CREATE, &r->hist) ||
      mdb_txn_commit(txn))
    bench_die("raw LMDB open in %s", r->dir);
}

static void raw_close(raw_env *r) {
  mdb_env_close(r->env);
  bench_remove_dir(r->dir);
}

/* Writes n state records (keys raw_state_key(0..n-1)) in one txn. */
static void raw_fill(raw_env *r, uint32_t n) {
  uint8_t val[256];
  char key[64];
  size_t vlen = raw_state_value(val);
  MDB_txn *txn;
  if (mdb_txn_begin(r->env, NULL, 0, &txn)) bench_die("txn");
  for (uint32_t i = 0; i < n; i++) {
    MDB_val k = {raw_state_key(key, sizeof key, i), key}, v = {vlen, val};
    if (mdb_put(txn, r->states, &k, &v, 0)) bench_die("put");
  }
  if (mdb_txn_commit(txn)) bench_die("commit");
}

typedef struct trans_result {
  double per_s;   /* transitions per second, wall */
  double cpu_us;  /* CPU microseconds per transition */
  double wall_us; /* wall microseconds per transition */
} trans_result;

/* One B1 run: n transitions, batch per commit, in a fresh store holding
 * a 10,000-node tree. A transition: the node's state record rewritten,
 * a history record appended under (node, be32 index), the parent's
 * state record rewritten. */
static trans_result b1_run(unsigned flags, int batch, int n) {
  raw_env r;
  raw_open(&r, "b1", flags);
  raw_fill(&r, TREE_NODES);
  uint8_t val[256];
  char key[64], hkey[72], root[] = "t\0root";
  size_t vlen = raw_state_value(val);
  MDB_txn *txn;
  double c0 = cpu_us(), t0 = now_us();
  for (int done = 0; done < n;) {
    if (mdb_txn_begin(r.env, NULL, 0, &txn)) bench_die("txn");
    for (int j = 0; j < batch && done < n; j++, done++) {
      uint32_t node = (uint32_t)done % TREE_NODES;
      size_t klen = raw_state_key(key, sizeof key, node);
      memcpy(hkey, key, klen);
      hkey[klen] = '\0';
      uint32_t idx = (uint32_t)done / TREE_NODES;
      for (int b = 0; b < 4; b++)
        hkey[klen + 1 + b] = (char)(idx >> (24 - 8 * b));
      val[vlen - 1] = (uint8_t)done; /* a changed record */
      MDB_val k = {klen, key}, hk = {klen + 5, hkey}, pk = {sizeof root, root},
              v = {vlen, val};
      if (mdb_put(txn, r.states, &k, &v, 0) ||
          mdb_put(txn, r.hist, &hk, &v, 0) ||
          mdb_put(txn, r.states, &pk, &v, 0))
        bench_die("put");
    }
    if (mdb_txn_commit(txn)) bench_die("commit");
  }
  double wall = now_us() - t0, cpu = cpu_us() - c0;
  raw_close(&r);
  return (trans_result){
      .per_s = n / (wall / 1e6), .cpu_us = cpu / n, .wall_us = wall / n};
}

static void b1_mode(const char *mode, unsigned flags, int durable) {
  static const int batches[] = {1, 10, 100, 1000};
  int runs = bench_runs();
  for (int bi = 0; bi < 4; bi++) {
    int batch = batches[bi];
    char id[ROW_ID_MAX], name[ROW_NAME_MAX];
    snprintf(id, sizeof id, "b1.%s.%d", mode, batch);
    snprintf(name, sizeof name, "B1 raw LMDB %s, %d transition%s/commit", mode,
             batch, batch > 1 ? "s" : "");
    if (durable && *bench_durable_refusal()) {
      row_refused(id, name, bench_durable_refusal());
      continue;
    }
    /* Enough transitions for a tenth of a second or more per run. */
    static const int sync_n[] = {400, 1000, 5000, 10000};
    static const int fast_n[] = {20000, 20000, 50000, 50000};
    int n = bench_pick(durable ? sync_n[bi] : fast_n[bi], 10 * batch);
    trans_result res[5];
    double v[5];
    if (bench_warmup()) b1_run(flags, batch, n / 4 > batch ? n / 4 : batch);
    for (int r = 0; r < runs; r++) {
      res[r] = b1_run(flags, batch, n);
      v[r] = res[r].per_s;
    }
    row_samples(id, name, "trans/s", v, runs, NULL, TARGET_NONE, 0);
    if (batch == 1 && !durable) {
      /* G3's denominator: CPU and wall per transition. */
      char cid[ROW_ID_MAX + 8], cname[ROW_NAME_MAX];
      for (int r = 0; r < runs; r++)
        v[r] = res[r].cpu_us;
      snprintf(cid, sizeof cid, "%s.cpu", id);
      snprintf(cname, sizeof cname, "B1 raw LMDB %s, 1/commit: CPU", mode);
      row_samples(cid, cname, "us/trans", v, runs, NULL, TARGET_NONE, 0);
      for (int r = 0; r < runs; r++)
        v[r] = res[r].wall_us;
      snprintf(cid, sizeof cid, "%s.wall", id);
      snprintf(cname, sizeof cname, "B1 raw LMDB %s, 1/commit: wall", mode);
      row_samples(cid, cname, "us/trans", v, runs, NULL, TARGET_NONE, 0);
    }
  }
}

/* ---- B2 ------------------------------------------------------------------ */

/* Microseconds to insert n state records into an empty store in one
 * nosync transaction, commit included. */
static double b2_run(uint32_t n) {
  raw_env r;
  raw_open(&r, "b2", MDB_NOSYNC | MDB_NOMETASYNC);
  double t0 = now_us();
  raw_fill(&r, n);
  double t = now_us() - t0;
  raw_close(&r);
  return t;
}

static void b2(void) {
  uint32_t n = (uint32_t)bench_pick(10000, 100);
  int runs = bench_runs();
  double v[5];
  if (bench_warmup()) b2_run(n);
  for (int r = 0; r < runs; r++)
    v[r] = b2_run(n) / n;
  char name[ROW_NAME_MAX];
  snprintf(name, sizeof name, "B2 raw LMDB bulk insert, %u records/txn", n);
  row_samples("b2.bulk", name, "us/record", v, runs, NULL, TARGET_NONE, 0);
}

void group_baselines(void) {
  b0();
  b1_mode("sync", 0, 1);
  b1_mode("nosync", MDB_NOSYNC | MDB_NOMETASYNC, 0);
  b1_mode("writemap", MDB_WRITEMAP | MDB_NOSYNC | MDB_NOMETASYNC, 0);
  b2();
}
