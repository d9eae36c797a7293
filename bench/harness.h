/*
 * The benchmark harness: clocks, statistics, the result rows, the groups
 * they are measured in, the bench directory and the output (one table on
 * stdout, results.json).
 *
 * A row is one measured quantity: a median, min and max over the runs in
 * one unit, optionally compared with a baseline row (by id) measured in
 * the same `make bench` run. Rows are produced inside groups; each group
 * runs in a forked child (so ru_maxrss is the group's own peak) and sends
 * its rows back through a pipe. Ratios and targets are evaluated only when
 * the table is printed, after every group ran, so a workload may name a
 * baseline from an earlier group. Nothing here asserts a timing.
 */
#ifndef RATTAN_BENCH_HARNESS_H
#define RATTAN_BENCH_HARNESS_H

#include <stddef.h>

#define ROW_ID_MAX   48
#define ROW_NAME_MAX 96

/* How a row's target is read. With a baseline the target applies to the
 * ratio median / baseline median; without one, to the median itself. */
typedef enum target_op {
  TARGET_NONE = 0, /* informational */
  TARGET_GE = 1,   /* met when the value is at least the target */
  TARGET_LE = 2    /* met when the value is at most the target */
} target_op;

typedef struct bench_row {
  char id[ROW_ID_MAX];     /* stable key, e.g. "b1.sync.1" */
  char name[ROW_NAME_MAX]; /* the table's label */
  char unit[16];
  int runs;
  double med, min, max;
  char base[ROW_ID_MAX]; /* the baseline row's id, "" for none */
  target_op op;
  double target;
  /* Set when the figure must not be reported (durable figures on tmpfs):
   * the row is printed with the reason and no numbers. */
  char refused[48];
  char note[48]; /* a short remark printed after the row */
} bench_row;

/* ---- Configuration ------------------------------------------------------ */

/* Parses BENCH_SIZE (tiny or full) and BENCH_DIR, creates the bench
 * directory (a fresh one under BENCH_DIR, default /var/tmp) and probes its
 * filesystem. Returns 0, or -1 after printing why. */
int bench_init(void);
/* Removes the bench directory. */
void bench_cleanup(void);
/* Non-zero for BENCH_SIZE=tiny: tiny sizes, one run, no warm-up. */
int bench_tiny(void);
/* full in a full run, tiny in a tiny one. */
int bench_pick(int full, int tiny);
/* Measured runs per workload (5, or 1 when tiny); a warm-up run precedes
 * them unless tiny. */
int bench_runs(void);
int bench_warmup(void);
/* The bench directory, and the text of a refused durable figure there
 * ("refused: tmpfs"; "" when the directory is not on tmpfs). */
const char *bench_root(void);
const char *bench_durable_refusal(void);
/* A fresh, empty directory path under the bench directory, unique per
 * call, in out (size n); the directory is created. Exits on failure. */
void bench_fresh_dir(char *out, size_t n, const char *tag);
/* Removes a directory made by bench_fresh_dir and all it holds. */
void bench_remove_dir(const char *dir);

/* ---- Clocks and statistics ----------------------------------------------- */

double now_us(void);
/* This process's user + system CPU time in microseconds. */
double cpu_us(void);
/* Sorts v (n > 0) and returns its p-th percentile (0..100), nearest
 * rank. */
double stat_pct(double *v, int n, double p);

/* Copies src into dst (size n), cut to fit, always NUL-terminated. */
void str_copy(char *dst, size_t n, const char *src);

/* ---- Rows and groups ----------------------------------------------------- */

/* Records a row in the current group. */
void row_put(const bench_row *r);
/* A row from n samples: median, min and max. Returns the median. */
double row_samples(const char *id, const char *name, const char *unit,
                   double *v, int n, const char *base, target_op op,
                   double target);
/* A row with nothing measured, printed with text instead of figures
 * ("refused: tmpfs", "skipped (no python3)"). */
void row_refused(const char *id, const char *name, const char *text);
/* Adds a note to the last row put by this process. */
void row_note(const char *note);

/* Runs fn in a forked child and gathers its rows; adds a "peak RSS" row
 * for the group. A child that fails (non-zero exit or signal) makes the
 * whole bench fail at the end. */
void group_run(const char *name, void (*fn)(void));
/* Non-zero when a group failed. */
int groups_failed(void);

/* ---- Output ----------------------------------------------------------------
 */

/* Prints the table of every row gathered. */
void table_print(void);
/* Writes results.json (machine and rows) to path. Returns 0 or -1. */
int results_write(const char *path);

/* Aborts the bench with a message (setup failures, never timings). */
_Noreturn void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
