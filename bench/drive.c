/* Engine chores for the workloads (see drive.h). */
#include "drive.h"

#include <lmdb.h>
#include <string.h>

#include "harness.h"

rattan_engine *drive_open(const char *dir, rattan_durability d) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = d;
  o.has_seed = 1;
  o.seed = 1;
  o.group_window_us = 2000;
  rattan_engine *e;
  char msg[512];
  if (rattan_open(dir, &o, &e, msg, sizeof msg)) bench_die("open: %s", msg);
  return e;
}

void drive_create(rattan_engine *e, const char *json, const char *id) {
  rattan_task_options to = {.id = id, .name = "bench"};
  char out[RATTAN_ID_MAX + 1];
  if (rattan_task_create(e, json, strlen(json), &to, out))
    bench_die("create %s: %s", id, rattan_errmsg(e));
}

void drive_start(rattan_engine *e, const char *id) {
  if (rattan_task_start(e, id)) bench_die("start %s: %s", id, rattan_errmsg(e));
}

void drive_all(rattan_engine *e) {
  rattan_drive_result r;
  do {
    if (rattan_drive(e, NULL, 0, &r)) bench_die("drive: %s", rattan_errmsg(e));
  } while (r.more);
}

void drive_check_finished(rattan_engine *e, const char *id) {
  rattan_state s;
  if (rattan_task_state(e, id, &s) || s != RATTAN_STATE_FINISHED)
    bench_die("task %s did not finish", id);
}

static int count_run(void *ctx, const rattan_node_view *v) {
  if (v->depth > 0 && v->state != RATTAN_STATE_CREATED) ++*(unsigned *)ctx;
  return 0;
}

unsigned drive_nodes_run(rattan_engine *e, const char *id) {
  unsigned n = 0;
  if (rattan_task_nodes(e, id, count_run, &n)) bench_die("nodes of %s", id);
  return n;
}

uint64_t drive_commits(const char *dir) {
  MDB_env *env;
  MDB_envinfo info;
  if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
      mdb_env_open(env, dir, MDB_RDONLY, 0600) || mdb_env_info(env, &info))
    bench_die("raw open of %s", dir);
  mdb_env_close(env);
  return (uint64_t)info.me_last_txnid;
}
