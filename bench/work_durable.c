/*
 * Durable workloads (refused on tmpfs).
 *
 * A transition is one node state change (a write of its state record):
 * a node that runs is entered (-> RUNNING) and left (-> FINISHED), so a
 * no-op activity, an event or a gateway is 2 transitions, and so is the
 * root pipeline. A chain of n activities therefore has 2 * (n + 3)
 * transitions: n activities, the start and end events and the root;
 * the root's first is made by starting the task, which is not timed.
 *
 *   1  One chain driven alone in SYNC: each transition is its own commit
 *      (the commits are counted from LMDB's txnid and printed as a check).
 *      transitions/s ÷ B1 sync at 1 transition per commit (>= 0.9), and ÷
 *      B0's fdatasyncs/s (>= 0.5).
 *   2  Group commit: 64 chains in flight in GROUP with a 2 ms window,
 *      driven together; durable transitions/s ÷ B1 sync at 100 per
 *      commit (>= 0.6).
 */
#include <stdio.h>
#include <stdlib.h>

#include "drive.h"
#include "store/mem.h"
#include "harness.h"
#include "tests/shapes.h"
#include "workloads.h"

/* Node state changes a drive makes in a chain of n activities: RUNNING
 * and FINISHED of the start event, each activity and the end event, and
 * the root's FINISHED (its RUNNING comes with the start). */
#define CHAIN_TRANSITIONS(n) (2.0 * ((n) + 2) + 1)

typedef struct durable_run {
  double per_s;         /* transitions per second */
  double commits_per_t; /* commits per transition */
} durable_run;

/* Creates and starts tasks chains of len activities, then times driving
 * all of them to the end. */
static durable_run chains_run(rattan_durability d, int tasks, int len) {
  char dir[512], id[32];
  bench_fresh_dir(dir, sizeof dir, "durable");
  char *json = shape_chain(len);
  if (!json) bench_die("out of memory");
  rattan_engine *e = drive_open(dir, d);
  for (int i = 0; i < tasks; i++) {
    snprintf(id, sizeof id, "c%d", i);
    drive_create(e, json, id);
  }
  rattan_close(e);
  uint64_t c0;
  e = drive_open(dir, d);
  /* In flight: every task started (each start is an operation, committed
   * and flushed alone) before the clock runs; the drive is what is
   * timed, and the root's RUNNING record, written by the start, is the
   * one transition not counted. */
  for (int i = 0; i < tasks; i++) {
    snprintf(id, sizeof id, "c%d", i);
    drive_start(e, id);
  }
  rattan_close(e);
  c0 = drive_commits(dir);
  e = drive_open(dir, d);
  double t0 = now_us();
  drive_all(e);
  double wall = now_us() - t0;
  for (int i = 0; i < tasks; i++) {
    snprintf(id, sizeof id, "c%d", i);
    drive_check_finished(e, id);
  }
  rattan_close(e);
  uint64_t c1 = drive_commits(dir);
  rt_free(json);
  bench_remove_dir(dir);
  double n = tasks * CHAIN_TRANSITIONS(len);
  return (durable_run){.per_s = n / (wall / 1e6),
                       .commits_per_t = (double)(c1 - c0) / n};
}

/* Rows id (and, when id2 is not NULL, id2 for the same samples against
 * base2) for tasks chains of len activities in mode d. */
static void durable_rows(const char *id, const char *name, rattan_durability d,
                         int tasks, int len, const char *base, double target,
                         const char *id2, const char *name2, const char *base2,
                         double target2) {
  if (*bench_durable_refusal()) {
    row_refused(id, name, bench_durable_refusal());
    return;
  }
  int runs = bench_runs();
  double v[5], cpt = 0;
  if (bench_warmup()) chains_run(d, tasks, len);
  for (int r = 0; r < runs; r++) {
    durable_run res = chains_run(d, tasks, len);
    v[r] = res.per_s;
    cpt = res.commits_per_t;
  }
  char note[48];
  snprintf(note, sizeof note, "%.2f commits/transition", cpt);
  row_samples(id, name, "trans/s", v, runs, base, TARGET_GE, target);
  row_note(note);
  if (id2)
    row_samples(id2, name2, "trans/s", v, runs, base2, TARGET_GE, target2);
}

void group_durable(void) {
  int len = bench_pick(200, 5);
  char name[ROW_NAME_MAX], name2[ROW_NAME_MAX];
  snprintf(name, sizeof name, "1 durable chain of %d no-ops, sync", len);
  snprintf(name2, sizeof name2, "1 same, vs raw fdatasync");
  durable_rows("w1.sync", name, RATTAN_DURABILITY_SYNC, 1, len, "b1.sync.1",
               0.9, "w1.sync.fdatasync", name2, "b0.rate", 0.5);
  int tasks = bench_pick(64, 4), glen = bench_pick(20, 3);
  snprintf(name, sizeof name, "2 group commit, %d chains of %d in flight",
           tasks, glen);
  durable_rows("w2.group", name, RATTAN_DURABILITY_GROUP, tasks, glen,
               "b1.sync.100", 0.6, NULL, NULL, NULL, 0);
}
