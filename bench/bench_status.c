/*
 * Status benchmark: rattan_task_status of tasks with 1,000, 10,000 and
 * 100,000 node records, in each format, next to two baselines measured in
 * the same run on the same records:
 *   scan      a raw LMDB cursor scan of the task's state records;
 *   scan+enc  the same scan feeding a minimal hand-written encoder (each
 *             record's id and a fixed body copied into one buffer): the
 *             least any status answer must cost.
 * Prints p50 and p99 milliseconds, the ratio of each p50 to scan+enc's,
 * and the answer's bytes per node.
 *
 * The records are written directly (one transaction of RUN and FINISH
 * transitions per node, as the runner would leave them), so building a
 * 100,000-node task takes seconds, not a run of the whole pipeline.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api_int.h"
#include "tests/shapes.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void pct(double *v, int n, double *p50, double *p99) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  *p50 = v[n / 2];
  *p99 = v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
}

typedef struct fill {
  st_def d;
} fill;

/* Every node RUNNING then FINISHED, the root first, in one write. */
static int fill_run(eng_txn *t, void *ctx, errbuf *err) {
  fill *f = ctx;
  const char *root = f->d.pool + f->d.pipes[0].id;
  eng_change run = {.action = ACT_RUN, .root_id = root, .parent_id = ""};
  int rc = eng_transit(t, "t", root, &run, NULL, err);
  run.parent_id = root;
  eng_change fin = {.action = ACT_FINISH};
  for (uint32_t i = 0; !rc && i < f->d.n_nodes; i++) {
    const char *id = f->d.pool + f->d.nodes[i].id;
    if (!(rc = eng_transit(t, "t", id, &run, NULL, err)))
      rc = eng_transit(t, "t", id, &fin, NULL, err);
  }
  return rc;
}

/* The baselines, with the engine closed: the store's "states" database
 * opened with LMDB directly. */
static void baselines(const char *dir, int runs, double *scan, double *enc) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  MDB_cursor *c;
  if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
      mdb_env_set_mapsize(env, (size_t)8 << 30) ||
      mdb_env_open(env, dir, MDB_RDONLY, 0600))
    exit(1);
  char *out = malloc(64 << 20);
  for (int r = 0; r < runs; r++)
    for (int with_enc = 0; with_enc < 2; with_enc++) {
      double t0 = now_ms();
      mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
      mdb_dbi_open(txn, "states", 0, &dbi);
      mdb_cursor_open(txn, dbi, &c);
      MDB_val k = {2, "t"}, v;
      size_t len = 0, bytes = 0;
      for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
           rc == 0 && ((char *)k.mv_data)[0] == 't';
           rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        bytes += v.mv_size;
        if (!with_enc) continue;
        static const char body[] =
            "\": {\"state\": \"FINISHED\", \"loop\": 1, \"children\": {}}, ";
        out[len++] = '"';
        memcpy(out + len, (char *)k.mv_data + 2, k.mv_size - 2);
        len += k.mv_size - 2;
        memcpy(out + len, body, sizeof body - 1);
        len += sizeof body - 1;
      }
      mdb_cursor_close(c);
      mdb_txn_abort(txn);
      (with_enc ? enc : scan)[r] = now_ms() - t0;
      if (!bytes) exit(1);
    }
  free(out);
  mdb_env_close(env);
}

static void bench(int nodes, int runs, const char *tmp) {
  char dir[256];
  snprintf(dir, sizeof dir, "%s/n%d", tmp, nodes);
  mkdir(dir, 0700);
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  o.clock.kind = RATTAN_CLOCK_FIXED;
  o.clock.start_us = 1615347954000000LL;
  o.has_seed = 1;
  rattan_engine *e;
  char msg[256], id[RATTAN_ID_MAX + 1];
  /* Branches of 10 (or of 100 past 10,000 nodes: a gateway has at most
   * 1,000 flows). */
  int len = nodes > 10000 ? 100 : 10;
  char *tree = shape_fan_out(nodes / len, len);
  rattan_task_options to = {.id = "t"};
  if (rattan_open(dir, &o, &e, msg, sizeof msg) ||
      rattan_task_create(e, tree, strlen(tree), &to, id)) {
    fprintf(stderr, "setup: %s %s\n", msg, rattan_errmsg(e));
    exit(1);
  }
  rt_free(tree);
  fill f = {{0}};
  st_txn *t;
  errbuf err = {0};
  st_read_begin(eng_store(e->e), &t, &err);
  st_def_get(t, "t", &f.d, &err);
  st_read_end(t);
  if (eng_write(e->e, fill_run, &f, &err)) {
    fprintf(stderr, "fill: %s\n", err.msg);
    exit(1);
  }
  uint32_t records = f.d.n_nodes + 1;
  st_def_free(&f.d);

  double *v = malloc(sizeof *v * (size_t)runs), p50[5], p99[5];
  size_t bytes[3];
  static const char *const names[] = {"json", "msgpack", "cbor"};
  for (int fmt = 0; fmt < 3; fmt++) {
    rattan_status_options so;
    rattan_status_options_init(&so);
    so.format = (rattan_format)fmt;
    so.trace_id = "bench";
    for (int r = 0; r < runs; r++) {
      char *out;
      double t0 = now_ms();
      if (rattan_task_status(e, "t", &so, &out, &bytes[fmt])) exit(1);
      v[r] = now_ms() - t0;
      rattan_free(out);
    }
    pct(v, runs, &p50[fmt], &p99[fmt]);
  }
  rattan_close(e);
  double *scan = malloc(sizeof *scan * (size_t)runs);
  baselines(dir, runs, scan, v);
  pct(scan, runs, &p50[3], &p99[3]);
  pct(v, runs, &p50[4], &p99[4]);
  printf("%7u records, %d runs\n", records, runs);
  printf("  %-10s %10s %10s %10s %12s\n", "", "p50 ms", "p99 ms", "x enc",
         "bytes/node");
  for (int i = 0; i < 5; i++) {
    printf("  %-10s %10.2f %10.2f %10.1f",
           i < 3    ? names[i]
           : i == 3 ? "scan"
                    : "scan+enc",
           p50[i], p99[i], p50[i] / p50[4]);
    if (i < 3)
      printf(" %12.1f\n", (double)bytes[i] / records);
    else
      printf(" %12s\n", "");
  }
  free(scan);
  free(v);
}

int main(void) {
  char tmp[] = "/tmp/rattan-bench-XXXXXX";
  if (!mkdtemp(tmp)) return 1;
  printf("rattan_task_status against a raw LMDB scan (+ a minimal encoder)\n");
  bench(1000, 101, tmp);
  bench(10000, 51, tmp);
  bench(100000, 11, tmp);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) != 0;
}
