/*
 * 9  Bytes per node on disk after creating and running bamboo's
 *    10,000-node flow to the end (NOSYNC): for each named database,
 *    (branch + leaf + overflow pages) × page size ÷ nodes run, from
 *    mdb_stat with the engine closed. The state records ("states") have a
 *    target (<= 110 B/node); histories, execution data, journal and the
 *    rest are reported separately.
 */
#include <lmdb.h>
#include <stdio.h>

#include "drive.h"
#include "harness.h"
#include "store/mem.h"
#include "tests/shapes.h"
#include "workloads.h"

void group_footprint(void) {
  static const char *const dbs[] = {
      "states", "histories", "data", "journal",   "definitions",
      "tasks",  "procs",     "runq", "schedules", "meta"};
  int branches = bench_pick(1000, 4);
  char dir[512];
  bench_fresh_dir(dir, sizeof dir, "footprint");
  char *json = shape_fan_out(branches, 10);
  if (!json) bench_die("out of memory");
  rattan_engine *e = drive_open(dir, RATTAN_DURABILITY_NOSYNC);
  drive_create(e, json, "t");
  drive_start(e, "t");
  drive_all(e);
  drive_check_finished(e, "t");
  /* Every node of the definition ran, plus the root pipeline. */
  double nodes = drive_nodes_run(e, "t") + 1.0;
  rattan_close(e);
  rt_free(json);

  MDB_env *env;
  MDB_txn *txn;
  if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
      mdb_env_open(env, dir, MDB_RDONLY, 0600) ||
      mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
    bench_die("raw open of %s", dir);
  double total = 0;
  for (size_t i = 0; i < sizeof dbs / sizeof *dbs; i++) {
    MDB_dbi dbi;
    MDB_stat st;
    if (mdb_dbi_open(txn, dbs[i], 0, &dbi) || mdb_stat(txn, dbi, &st))
      continue; /* a database this schema does not have */
    double b =
        (double)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) *
        st.ms_psize / nodes;
    total += b;
    char id[ROW_ID_MAX], name[ROW_NAME_MAX], note[48];
    snprintf(id, sizeof id, "w9.%s", dbs[i]);
    snprintf(name, sizeof name, "9 on disk after run, %.0f nodes: %s", nodes,
             dbs[i]);
    row_samples(id, name, "B/node", &b, 1, NULL,
                i == 0 ? TARGET_LE : TARGET_NONE, 110);
    snprintf(note, sizeof note, "%zu entries, depth %u", st.ms_entries,
             st.ms_depth);
    row_note(note);
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
  row_samples("w9.total", "9 on disk after run: all databases", "B/node",
              &total, 1, NULL, TARGET_NONE, 0);
  bench_remove_dir(dir);
}
