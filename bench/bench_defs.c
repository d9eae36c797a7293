/*
 * Definitions benchmark: parse + validate + compile + store of a
 * 10,000-node tree (a parallel gateway fanning out to 1,000 branches of 10
 * activities), per node, next to a raw LMDB write of the same number of
 * records measured in the same run, in one transaction each, nosync.
 *
 * Prints one row per workload: median, min and max microseconds per node
 * over RUNS runs after a warm-up, and the ratio of each median to the raw
 * baseline's.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/defparse.h"
#include "tests/shapes.h"

#define RUNS     7
#define BRANCHES 1000
#define LEN      10

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static char tmpdir[64];

static void fresh_dir(char *out, size_t n, int k) {
  snprintf(out, n, "%s/run%d", tmpdir, k);
  mkdir(out, 0700);
}

/* The baseline: nodes records of about the size of a compiled node row,
 * keyed like state records, written in one transaction. */
static double raw_lmdb(int k, uint32_t nodes) {
  char dir[128];
  fresh_dir(dir, sizeof dir, 1000 + k);
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 1u << 30) ||
      mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOMETASYNC, 0600))
    exit(1);
  double t0 = now_us();
  mdb_txn_begin(env, NULL, 0, &txn);
  mdb_dbi_open(txn, NULL, 0, &dbi);
  char key[64], val[96];
  memset(val, 'x', sizeof val);
  for (uint32_t i = 0; i < nodes; i++) {
    memcpy(key, "task", 5); /* task \0 node, as state keys are */
    int kn = 5 + snprintf(key + 5, sizeof key - 5, "node-%u", i);
    MDB_val kv = {(size_t)kn, key}, vv = {sizeof val, val};
    if (mdb_put(txn, dbi, &kv, &vv, 0)) exit(1);
  }
  if (mdb_txn_commit(txn)) exit(1);
  double t = now_us() - t0;
  mdb_env_close(env);
  return t;
}

static double compile_only(const char *text, size_t len) {
  st_def d;
  diag dg = {0};
  double t0 = now_us();
  if (def_compile(text, len, NULL, &d, &dg, NULL)) exit(1);
  double t = now_us() - t0;
  st_def_free(&d);
  diag_free(&dg);
  return t;
}

static double create_task(int k, const char *text, size_t len) {
  char dir[128];
  fresh_dir(dir, sizeof dir, k);
  eng_config cfg = {.store = {.nosync = 1}};
  eng *e;
  errbuf err = {0};
  if (eng_open(&e, dir, &cfg, &err)) exit(1);
  eng_task_opts o = {0};
  eng_problems pr = {0};
  char id[ST_ID_MAX + 1];
  double t0 = now_us();
  if (eng_task_create(e, text, len, &o, &pr, id, &err)) {
    fprintf(stderr, "bench: %s\n", err.msg);
    exit(1);
  }
  double t = now_us() - t0;
  eng_problems_free(&pr);
  eng_close(e);
  return t;
}

static void row(const char *name, double *v, uint32_t nodes, double base) {
  qsort(v, RUNS, sizeof *v, cmp);
  double med = v[RUNS / 2] / nodes;
  printf("%-44s %8.3f %8.3f %8.3f   %6.2fx\n", name, med, v[0] / nodes,
         v[RUNS - 1] / nodes, base > 0 ? med / base : 1.0);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/rattan-bench-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  char *text = shape_fan_out(BRANCHES, LEN);
  size_t len = strlen(text);
  uint32_t nodes = BRANCHES * LEN + 4;
  double raw[RUNS], comp[RUNS], full[RUNS];
  raw_lmdb(-1, nodes); /* warm-up */
  compile_only(text, len);
  create_task(-1, text, len);
  for (int k = 0; k < RUNS; k++) {
    raw[k] = raw_lmdb(k, nodes);
    comp[k] = compile_only(text, len);
    full[k] = create_task(k, text, len);
  }
  printf("definitions: %u nodes, %zu bytes of JSON, %d runs\n", nodes, len,
         RUNS);
  printf("%-44s %8s %8s %8s   %7s\n", "workload (us per node)", "median", "min",
         "max", "vs raw");
  row("raw LMDB: one txn, one put per node", raw, nodes, 0);
  double base = raw[RUNS / 2] / nodes;
  row("parse + validate + compile", comp, nodes, base);
  row("parse + validate + compile + store (task)", full, nodes, base);
  rt_free(text);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  return system(cmd) != 0;
}
