/*
 * rattan's benchmark: `make bench` (BENCH_SIZE=tiny for a quick run that
 * only proves everything still builds and runs). Baselines first, then
 * the engine workloads, each group in its own child process; one table on
 * stdout and results.json (bench/results.json, or BENCH_RESULTS) with
 * the machine and every row. bench/README.md explains each row.
 *
 * Exit status: 0 when every group ran (targets missed are reported, never
 * fatal: nothing here asserts a timing), 1 otherwise.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "machine.h"
#include "workloads.h"

int main(void) {
  if (bench_init()) return 1;
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("rattan bench (%s)\n",
         bench_tiny() ? "tiny: no figure means anything" : "full");
  machine_print();
  if (*bench_durable_refusal())
    printf("durable figures: %s\n", bench_durable_refusal());
  static const struct {
    const char *name;
    void (*fn)(void);
  } groups[] = {
      {"baselines", group_baselines}, {"durable", group_durable},
      {"engine", group_engine},       {"create", group_create},
      {"status", group_status},       {"footprint", group_footprint},
  };
  for (size_t i = 0; i < sizeof groups / sizeof *groups; i++) {
    fprintf(stderr, "bench: %s...\n", groups[i].name);
    group_run(groups[i].name, groups[i].fn);
  }
  table_print();

  /* A tiny run writes its results into the bench directory and reads them
   * back (the file must be valid JSON); a full one keeps them. */
  const char *path = getenv("BENCH_RESULTS");
  char tiny_path[512];
  if (bench_tiny()) {
    snprintf(tiny_path, sizeof tiny_path, "%s/results.json", bench_root());
    path = tiny_path;
  } else if (!path || !*path) {
    path = "bench/results.json";
  }
  int rc = groups_failed();
  if (results_write(path)) {
    fprintf(stderr, "bench: cannot write %s\n", path);
    rc = 1;
  } else if (bench_tiny()) {
    json_error_t je;
    json_t *back = json_load_file(path, 0, &je);
    if (!back) {
      fprintf(stderr, "bench: %s: %s\n", path, je.text);
      rc = 1;
    }
    json_decref(back);
  } else {
    printf("\nresults: %s\n", path);
  }
  bench_cleanup();
  return rc ? 1 : 0;
}
