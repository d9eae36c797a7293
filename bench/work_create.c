/*
 * 7  Creating a task of bamboo's 10,000-node shape (shape_fan_out(1000,
 *    10)) with rattan_task_create: parse, validate, compile and store, in
 *    NOSYNC, per node ÷ B2's raw bulk insert per record (<= 3). Compiling
 *    alone (the internal def_compile, nothing stored) is shown beside it
 *    for information.
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "drive.h"
#include "harness.h"
#include "tests/shapes.h"
#include "workloads.h"

static double compile_only(const char *text, size_t len) {
  st_def d;
  diag dg = {0};
  double t0 = now_us();
  if (def_compile(text, len, NULL, &d, &dg, NULL)) bench_die("def_compile");
  double t = now_us() - t0;
  st_def_free(&d);
  diag_free(&dg);
  return t;
}

static double create_task(const char *text) {
  char dir[512];
  bench_fresh_dir(dir, sizeof dir, "create");
  rattan_engine *e = drive_open(dir, RATTAN_DURABILITY_NOSYNC);
  double t0 = now_us();
  drive_create(e, text, "t");
  double t = now_us() - t0;
  rattan_close(e);
  bench_remove_dir(dir);
  return t;
}

void group_create(void) {
  int branches = bench_pick(1000, 10), runs = bench_runs();
  char *text = shape_fan_out(branches, 10);
  if (!text) bench_die("out of memory");
  size_t len = strlen(text);
  double nodes = 10.0 * branches + 4, comp[5], full[5];
  if (bench_warmup()) {
    compile_only(text, len);
    create_task(text);
  }
  for (int r = 0; r < runs; r++) {
    comp[r] = compile_only(text, len) / nodes;
    full[r] = create_task(text) / nodes;
  }
  rt_free(text);
  char name[ROW_NAME_MAX];
  snprintf(name, sizeof name, "7 create a %.0f-node task (rattan_task_create)",
           nodes);
  row_samples("w7.create", name, "us/node", full, runs, "b2.bulk", TARGET_LE,
              3);
  snprintf(name, sizeof name, "7 parse + validate + compile only");
  row_samples("w7.compile", name, "us/node", comp, runs, "b2.bulk", TARGET_NONE,
              0);
}
