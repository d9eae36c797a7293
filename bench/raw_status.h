/*
 * B3, the floor of get_task_status: a raw LMDB cursor scan of a task's
 * state records plus a hand-written encoder that emits exactly the
 * document rattan_task_status emits for them (sops-v2 profile, +08:00,
 * the same keys, order, time strings, envelope and trace_id), in JSON
 * (direct byte copies), msgpack (msgpack-c's msgpack_pack_* into an
 * sbuffer) or CBOR (libcbor's cbor_encode_* into a buffer).
 *
 * No generality: it serves the tasks the bench builds and nothing else.
 * Every record is FINISHED or RUNNING-free (no state folding), every node
 * is a direct child of the root pipeline (bamboo's fan-out shape), no
 * node has a name, no id needs escaping, and the records' creation
 * numbers (seq) are 0..n-1. work_status.c checks byte equality with the
 * engine's answer before timing anything, so a broken assumption stops
 * the bench instead of flattering the engine.
 */
#ifndef RATTAN_BENCH_RAW_STATUS_H
#define RATTAN_BENCH_RAW_STATUS_H

#include <lmdb.h>
#include <stddef.h>

typedef enum raw_format { RAW_JSON, RAW_MSGPACK, RAW_CBOR } raw_format;

/* What the answer says besides the records. */
typedef struct raw_answer {
  const char *task;      /* the task id (the records' key prefix) */
  const char *task_name; /* the root entry's "name" */
  const char *trace_id;
  int tz_offset_min;
} raw_answer;

/* One read transaction over the "states" database of an open environment:
 * the answer in fmt, in *out (length *len), which the caller frees with
 * free(). */
void raw_status(MDB_env *env, const raw_answer *a, raw_format fmt, char **out,
                size_t *len);

/* The scan alone (reads every record's value bytes); returns the number
 * of records. */
size_t raw_scan(MDB_env *env, const char *task);

/* The scan feeding the cheapest possible encoder (each record's id and a
 * fixed body copied into one buffer): a floor below any real answer,
 * for information. Returns the bytes written. */
size_t raw_scan_ids(MDB_env *env, const char *task);

#endif
