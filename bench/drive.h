/* Engine chores shared by the workloads, through the public API. Every
 * function exits the bench on an error: a workload that fails to run is a
 * bug to fix, never a figure to print. */
#ifndef RATTAN_BENCH_DRIVE_H
#define RATTAN_BENCH_DRIVE_H

#include <stdint.h>

#include "rattan.h"

/* Opens an engine on dir with durability d (GROUP: a 2 ms window) and a
 * fixed seed. */
rattan_engine *drive_open(const char *dir, rattan_durability d);
/* Creates task id from the definition (NUL-terminated JSON). */
void drive_create(rattan_engine *e, const char *json, const char *id);
void drive_start(rattan_engine *e, const char *id);
/* Drives every task until nothing can move. */
void drive_all(rattan_engine *e);
/* Exits unless task id is FINISHED. */
void drive_check_finished(rattan_engine *e, const char *id);
/* The number of nodes of task id that ran (state not CREATED), the root
 * pipeline excluded. */
unsigned drive_nodes_run(rattan_engine *e, const char *id);
/* The store's last committed transaction id (LMDB's txnid), read with the
 * engine closed: the difference between two readings counts commits. */
uint64_t drive_commits(const char *dir);

#endif
