/*
 * The crash loop (reliability.md R1): shared by its writer and harness.
 *
 * A scenario is a fixed list of steps over several tasks, built from a
 * seed: creates, starts, drives and operator actions (retry, skip, pause,
 * resume, callbacks, forced fail, revoke) on a few pipeline shapes. The
 * writer process runs steps from a given index and reports each on a
 * pipe; the harness kills it, checks the store, and starts it again from
 * the first step the store does not hold yet. The run is deterministic
 * (seeded versions, a virtual clock, pure components), so an
 * uninterrupted run of the same scenario is the oracle: its journal after
 * each step tells which steps a store holds, and its final store is what
 * every interrupted run must end in.
 */
#ifndef RATTAN_CRASH_H
#define RATTAN_CRASH_H

#include <stddef.h>
#include <stdint.h>

#include "rattan.h"

#define CL_TASKS_MAX 16
#define CL_T0        1615347954000000LL /* the virtual clock's start */

enum cl_kind {
  K_CREATE,
  K_START,
  K_DRIVE,
  K_RETRY,
  K_SKIP,
  K_PAUSE,
  K_RESUME,
  K_NODE_PAUSE,
  K_NODE_RESUME,
  K_CALLBACK,
  K_FORCED_FAIL,
  K_REVOKE,
  K_COUNT
};

/* One step: a call of the public API on one task. */
typedef struct cl_step {
  int kind; /* enum cl_kind */
  int task; /* index into cl_scenario.tasks */
  char node[16];
  char text[32]; /* retry inputs or callback data; "" for none */
} cl_step;

typedef struct cl_scenario {
  uint64_t seed;
  int n_tasks;
  char tasks[CL_TASKS_MAX][12]; /* task ids "t0", "t1", ... */
  char *defs[CL_TASKS_MAX];     /* each task's definition, JSON (malloc) */
  cl_step *steps;
  size_t n_steps;
} cl_scenario;

/* Builds the scenario of seed; sample is the SOPS loop sample's JSON
 * (copied where used). 0, or -1 when out of memory. */
int cl_scenario_build(cl_scenario *sc, uint64_t seed, const char *sample,
                      size_t sample_len);
void cl_scenario_free(cl_scenario *sc);

/* The kind's name, for reports ("drive", "retry", ...). */
const char *cl_kind_name(int kind);

/* Opens dir (which must exist) as both processes do: the given
 * durability, a virtual clock at CL_T0, versions seeded with seed, group
 * commit closing batches after 5 steps, and the scenario's components
 * registered. 0 or the rattan error, with msg filled in. */
int cl_open(const char *dir, rattan_durability d, uint64_t seed,
            rattan_engine **out, char *msg, size_t msg_len);

/* Runs step s of sc on e; the rattan code, with msg filled in on error. */
int cl_step_run(rattan_engine *e, const cl_scenario *sc, const cl_step *s,
                char *msg, size_t msg_len);

/* The number of entries in task's journal (0 for an unknown task), or
 * UINT64_MAX when the store cannot be read. */
uint64_t cl_journal_count(rattan_engine *e, const char *task);

/* The writer: runs sc's steps from `from` in dir and reports on fd
 * ack_fd "b K" before step K, "a K SEQ" once step K returned (SEQ its
 * task's journal count then) and "d" after the last. kill_point
 * (ST_POINT_* or CL_POINT_ACK; -1 for none) and kill_n: SIGKILL itself
 * at the kill_n-th time that point is reached. Returns the exit code. */
#define CL_POINT_ACK 3 /* after ST_POINT_PUT, _PRECOMMIT, _COMMIT */
int cl_writer(const char *dir, const cl_scenario *sc, rattan_durability d,
              size_t from, int ack_fd, int kill_point, unsigned long kill_n);

#endif
