/*
 * Engine workloads in NOSYNC (CPU-bound), through the public API.
 * Transitions are counted as work_durable.c defines them (2 per node that
 * runs, the root pipeline included).
 *
 *   3  CPU per transition (getrusage, user + system) driving a chain of
 *      1,000 no-ops ÷ B1 nosync's CPU per transition at 1 per commit
 *      (<= 1.5); wall per transition beside it for information.
 *   4  The same chain: wall microseconds per hop (one activity) (<= 20).
 *   5  bamboo's published shape, shape_fan_out(k, 10) for k = 10, 100,
 *      1,000: wall per node; the 10,000-node cost ÷ the 100-node cost
 *      (<= 1.2); the 1,000-node flow in seconds next to bamboo-engine's
 *      published 19.33 s (also in SYNC, as bamboo's figure is durable).
 *   6  1,000 tasks of bamboo's normal_pipeline (bench/normal_pipeline.json:
 *      parallel, exclusive and conditional parallel gateways and a 3-node
 *      subprocess, 20 nodes of which 19 run) started together and driven
 *      to the end: nodes/s.
 * Every run starts from a fresh store; creating the tasks is not timed
 * (workload 7 times it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drive.h"
#include "harness.h"
#include "store/mem.h"
#include "tests/shapes.h"
#include "workloads.h"

typedef struct timing {
  double wall_us, cpu_us;
} timing;

/* Creates tasks copies of json (ids p0, p1, ...), then times starting and
 * driving them all; checks that every one finished. *ran (when not NULL)
 * gets the nodes of p0 that ran. */
static timing tasks_run(const char *json, int tasks, rattan_durability d,
                        unsigned *ran) {
  char dir[512], id[32];
  bench_fresh_dir(dir, sizeof dir, "engine");
  rattan_engine *e = drive_open(dir, d);
  for (int i = 0; i < tasks; i++) {
    snprintf(id, sizeof id, "p%d", i);
    drive_create(e, json, id);
  }
  double c0 = cpu_us(), t0 = now_us();
  for (int i = 0; i < tasks; i++) {
    snprintf(id, sizeof id, "p%d", i);
    drive_start(e, id);
  }
  drive_all(e);
  timing t = {.wall_us = now_us() - t0, .cpu_us = cpu_us() - c0};
  for (int i = 0; i < tasks; i++) {
    snprintf(id, sizeof id, "p%d", i);
    drive_check_finished(e, id);
  }
  if (ran) *ran = drive_nodes_run(e, "p0");
  rattan_close(e);
  bench_remove_dir(dir);
  return t;
}

/* 3 and 4. */
static void chain(void) {
  int len = bench_pick(1000, 10), runs = bench_runs();
  char *json = shape_chain(len);
  if (!json) bench_die("out of memory");
  double trans = 2.0 * (len + 3), cpu[5], wall[5], hop[5];
  if (bench_warmup()) tasks_run(json, 1, RATTAN_DURABILITY_NOSYNC, NULL);
  for (int r = 0; r < runs; r++) {
    timing t = tasks_run(json, 1, RATTAN_DURABILITY_NOSYNC, NULL);
    cpu[r] = t.cpu_us / trans;
    wall[r] = t.wall_us / trans;
    hop[r] = t.wall_us / len;
  }
  rt_free(json);
  char name[ROW_NAME_MAX];
  snprintf(name, sizeof name, "3 chain of %d no-ops, nosync: CPU", len);
  row_samples("w3.cpu", name, "us/trans", cpu, runs, "b1.nosync.1.cpu",
              TARGET_LE, 1.5);
  snprintf(name, sizeof name, "3 chain of %d no-ops, nosync: wall", len);
  row_samples("w3.wall", name, "us/trans", wall, runs, "b1.nosync.1.wall",
              TARGET_NONE, 0);
  snprintf(name, sizeof name, "4 chain of %d no-ops, nosync: per hop", len);
  row_samples("w4.hop", name, "us/hop", hop, runs, NULL, TARGET_LE, 20);
}

/* 5. */
static void fan_out(void) {
  static const int full_k[] = {10, 100, 1000}, tiny_k[] = {2, 4, 8};
  /* Published, not measured: the divisor only places our figure. */
  bench_row ref = {.runs = 1, .med = 19.33, .min = 19.33, .max = 19.33};
  snprintf(ref.id, sizeof ref.id, "ref.bamboo.1000");
  snprintf(ref.name, sizeof ref.name,
           "bamboo-engine 1,000-node flow (published)");
  snprintf(ref.unit, sizeof ref.unit, "s");
  snprintf(ref.note, sizeof ref.note, "README, 100 gevent workers");
  row_put(&ref);
  int runs = bench_runs();
  for (int i = 0; i < 3; i++) {
    int k = bench_tiny() ? tiny_k[i] : full_k[i];
    char *json = shape_fan_out(k, 10);
    if (!json) bench_die("out of memory");
    /* k branches of 10, the gateways, the events and the root. */
    double nodes = 10.0 * k + 5, per[5], secs[5];
    if (bench_warmup()) tasks_run(json, 1, RATTAN_DURABILITY_NOSYNC, NULL);
    for (int r = 0; r < runs; r++) {
      timing t = tasks_run(json, 1, RATTAN_DURABILITY_NOSYNC, NULL);
      per[r] = t.wall_us / nodes;
      secs[r] = t.wall_us / 1e6;
    }
    char id[ROW_ID_MAX], name[ROW_NAME_MAX];
    snprintf(id, sizeof id, "w5.k%d", i);
    snprintf(name, sizeof name, "5 fan-out %d x 10 (%d nodes), nosync", k,
             10 * k + 5);
    /* The largest flow against the smallest (flat cost per node). */
    row_samples(id, name, "us/node", per, runs, i == 2 ? "w5.k0" : NULL,
                i == 2 ? TARGET_LE : TARGET_NONE, 1.2);
    if (i == 1) {
      snprintf(name, sizeof name, "5 fan-out %d x 10, nosync: whole flow", k);
      row_samples("w5.flow.nosync", name, "s", secs, runs, "ref.bamboo.1000",
                  TARGET_NONE, 0);
      if (*bench_durable_refusal()) {
        row_refused("w5.flow.sync", "5 same flow, sync",
                    bench_durable_refusal());
      } else {
        for (int r = 0; r < runs; r++)
          secs[r] =
              tasks_run(json, 1, RATTAN_DURABILITY_SYNC, NULL).wall_us / 1e6;
        snprintf(name, sizeof name, "5 fan-out %d x 10, sync: whole flow", k);
        row_samples("w5.flow.sync", name, "s", secs, runs, "ref.bamboo.1000",
                    TARGET_NONE, 0);
      }
    }
    rt_free(json);
  }
}

/* Reads bench/normal_pipeline.json (BENCH_SRC overrides bench/). */
static char *read_normal(void) {
  const char *src = getenv("BENCH_SRC");
  char path[512];
  snprintf(path, sizeof path, "%s/normal_pipeline.json",
           src && *src ? src : "bench");
  FILE *f = fopen(path, "rb");
  if (!f) bench_die("%s: cannot open (run from the source tree)", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *text = malloc((size_t)n + 1);
  if (!text || fread(text, 1, (size_t)n, f) != (size_t)n)
    bench_die("%s: cannot read", path);
  text[n] = '\0';
  fclose(f);
  return text;
}

/* 6. */
static void normal(void) {
  int tasks = bench_pick(1000, 3), runs = bench_runs();
  char *json = read_normal();
  double rate[5];
  unsigned ran = 0;
  if (bench_warmup()) tasks_run(json, tasks, RATTAN_DURABILITY_NOSYNC, NULL);
  for (int r = 0; r < runs; r++) {
    timing t = tasks_run(json, tasks, RATTAN_DURABILITY_NOSYNC, &ran);
    rate[r] = (double)tasks * ran / (t.wall_us / 1e6);
  }
  free(json);
  char name[ROW_NAME_MAX], note[48];
  snprintf(name, sizeof name, "6 %d normal_pipeline tasks at once, nosync",
           tasks);
  row_samples("w6.normal", name, "nodes/s", rate, runs, NULL, TARGET_NONE, 0);
  snprintf(note, sizeof note, "%u nodes run per task; bamboo ~63/s", ran);
  row_note(note);
}

void group_engine(void) {
  chain();
  fan_out();
  normal();
}
