/* The rattan command: output and exit codes (DESIGN.md's contract). */
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "test.h"

static int run(const char *args, char *out, size_t cap) {
  return cu_rattan(args, out, cap);
}

void test_cli_commands(void) {
  char out[8192];
  ASSERT_EQ(run("version", out, sizeof out), 0);
  ASSERT_STR(out, "rattan " RATTAN_VERSION_STRING "\n");
  ASSERT_EQ(run("--help", out, sizeof out), 0);
  ASSERT_CONTAINS(out, "validate TREE.json");
  const char *cmds[] = {"version", "validate", "create"};
  for (int i = 0; i < 3; i++) {
    char args[64];
    snprintf(args, sizeof args, "%s --help", cmds[i]);
    ASSERT_EQ(run(args, out, sizeof out), 0);
    ASSERT_CONTAINS(out, "usage: rattan");
  }
  ASSERT_EQ(run("frobnicate", out, sizeof out), 2);
  ASSERT_CONTAINS(out, "unknown command \"frobnicate\"");
  ASSERT_EQ(run("--clock yesterday version", out, sizeof out), 2);
  ASSERT_CONTAINS(out, "bad value \"yesterday\" for --clock");
  ASSERT_EQ(run("validate", out, sizeof out), 2);

  ASSERT_EQ(run("validate tests/data/loop-sample.json", out, sizeof out), 0);
  ASSERT_STR(out, "ok\n");
  /* Without --template, every top-level template of an export. */
  ASSERT_EQ(
      run("validate tests/data/subprocess-gateways.json", out, sizeof out), 0);
  ASSERT_STR(out, "ok\n");
  ASSERT_EQ(run("validate tests/data/subprocess-gateways.json --template "
                "5ad26a77856c360585209702f5d3e614",
                out, sizeof out),
            0);
  FILE *f = fopen(test_path("bad.json"), "w");
  ASSERT(f);
  fputs("{\"id\": \"p\", \"flows\": {}}", f);
  fclose(f);
  char args[600];
  snprintf(args, sizeof args, "validate %s", test_path("bad.json"));
  ASSERT_EQ(run(args, out, sizeof out), 1);
  ASSERT_STR(out, "start_event: missing\nend_event: missing\n");
  ASSERT_EQ(run("validate /no/such/file.json", out, sizeof out), 1);
  ASSERT_CONTAINS(out, "/no/such/file.json: No such file");

  ASSERT_EQ(run("--clock fixed:2021-03-10T11:45:54+08:00 --seed 1 create "
                "tests/data/loop-sample.json",
                out, sizeof out),
            0);
  ASSERT_STR(out, "1\n");
  ASSERT_EQ(run("create tests/data/loop-sample.json --id r1 --name 'Release 1'",
                out, sizeof out),
            0);
  ASSERT_STR(out, "r1\n");
  ASSERT_EQ(run("create tests/data/loop-sample.json --id r1", out, sizeof out),
            1);
  ASSERT_STR(out, "rattan create: task r1 already exists\n");
  snprintf(args, sizeof args, "create %s", test_path("bad.json"));
  ASSERT_EQ(run(args, out, sizeof out), 1);
  ASSERT_CONTAINS(out, "start_event: missing");
}

/* run, drive, operate and node: the SOPS export with a subprocess runs
 * to its end through the command line alone, one process per command,
 * its virtual clock resuming where the store last saw it. */
void test_cli_run_and_operate(void) {
  char out[8192];
  const char *clock = "--clock virtual:2021-03-10T11:45:54+08:00 --seed 7 ";
  char args[512];
  snprintf(args, sizeof args, "%s run tests/data/loop-sample.json --id loop",
           clock);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_STR(out, "loop\n");
  ASSERT_EQ(run("drive loop", out, sizeof out), 0);
  ASSERT_STR(out, "FINISHED\n");

  snprintf(args, sizeof args,
           "%s run tests/data/subprocess-gateways.json --id sp --template "
           "5ad26a77856c360585209702f5d3e614",
           clock);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_STR(out, "sp\n");
  /* The parent's timer reads ${parent_test}, which nothing defines: it
   * fails, as in SOPS, and is skipped. */
  const char *timer = "nc9a4ab053d03d74ad3a36a7435b6eed";
  snprintf(args, sizeof args, "node sp %s retry_subprocess", timer);
  ASSERT_EQ(run(args, out, sizeof out), 1);
  ASSERT_CONTAINS(out, "is not a subprocess");
  snprintf(args, sizeof args, "node sp %s skip", timer);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_EQ(run(args, out, sizeof out), 1); /* skipped once only */
  ASSERT_CONTAINS(out, "skip needs FAILED, the node is FINISHED");
  ASSERT_EQ(run("node sp n85b38c0ea2b37c0a39c254873dcd1b6 callback --data "
                "'{\"ok\": 1}'",
                out, sizeof out),
            1); /* not reached yet */
  ASSERT_CONTAINS(out, "not started");
  ASSERT_EQ(run("drive sp", out, sizeof out), 0);
  ASSERT_STR(out, "RUNNING\n");
  ASSERT_EQ(run("operate sp pause", out, sizeof out), 0);
  ASSERT_EQ(run("operate sp pause", out, sizeof out), 1);
  ASSERT_CONTAINS(out, "pause needs RUNNING, the node is SUSPENDED");
  ASSERT_EQ(run("operate sp resume", out, sizeof out), 0);
  const char *pauses[] = {"n85b38c0ea2b37c0a39c254873dcd1b6",
                          "n0843c82737d300796a4085926bf830e",
                          "n50b402b290e3dc59ed78162b82c4548"};
  for (int i = 0; i < 3; i++) {
    snprintf(args, sizeof args, "node sp %s callback --data '{\"n\": %d}'",
             pauses[i], i);
    ASSERT_EQ(run(args, out, sizeof out), 0);
    ASSERT_EQ(run("drive sp", out, sizeof out), 0);
    ASSERT_STR(out, i < 2 ? "RUNNING\n" : "FINISHED\n");
  }
  ASSERT_EQ(run("operate sp revoke", out, sizeof out), 1);
  ASSERT_CONTAINS(out, "FINISHED -> REVOKED is not allowed");

  ASSERT_EQ(run("node sp x frobnicate", out, sizeof out), 2);
  ASSERT_CONTAINS(out, "unknown action \"frobnicate\"");
  ASSERT_EQ(run("node sp x skip_exg", out, sizeof out), 2);
  ASSERT_CONTAINS(out, "--flow-id is required");
  ASSERT_EQ(run("node sp nosuchnode skip", out, sizeof out), 1);
  ASSERT_CONTAINS(out, "task sp: no node nosuchnode");
  ASSERT_EQ(run("drive nosuchtask", out, sizeof out), 1);
  ASSERT_CONTAINS(out, "task nosuchtask: no such task");
  ASSERT_EQ(run("operate sp", out, sizeof out), 2);

  /* status, detail and tasks. */
  ASSERT_EQ(run("status sp --with-ex-data --trace-id abc", out, sizeof out), 0);
  ASSERT_CONTAINS(out, "{\"result\": true, \"data\": {\"id\": ");
  ASSERT_CONTAINS(out, "\"trace_id\": \"abc\"}\n");
  ASSERT_EQ(run("--tz -0130 status loop --profile bkflow", out, sizeof out), 0);
  ASSERT_CONTAINS(out, " -0130\"");
  ASSERT_EQ(run("status nosuch", out, sizeof out), 1);
  ASSERT_CONTAINS(out, "\"code\": 3540400");
  ASSERT_EQ(run("status sp --profile nope", out, sizeof out), 2);
  ASSERT_EQ(
      run("status sp --format cbor | head -c 1 | od -An -tx1", out, sizeof out),
      0);
  ASSERT_STR(out, " a5\n"); /* a CBOR map of 5: the envelope */
  snprintf(args, sizeof args, "detail sp %s --loop 1", timer);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_CONTAINS(out, "\"skip\": true");
  ASSERT_EQ(run("tasks", out, sizeof out), 0);
  ASSERT_CONTAINS(out, "loop\tFINISHED\t");
  ASSERT_CONTAINS(out, "sp\tFINISHED\t");
}

/* export and replay: the replayed status is the live one, limits, bad
 * arguments, damaged files, --keep. */
void test_cli_export_replay(void) {
  char out[16384], live[16384], args[4 * PATH_MAX];
  const char *dir = test_dir();
  ASSERT_EQ(run("--clock virtual:2021-03-10T11:45:54+08:00 --seed 7 run "
                "tests/data/loop-sample.json --id loop",
                out, sizeof out),
            0);
  snprintf(args, sizeof args, "export loop > '%s/x.cbor'", dir);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_STR(out, "");
  ASSERT_EQ(
      run("status loop --trace-id t --profile sops-v1", live, sizeof live), 0);
  snprintf(args, sizeof args,
           "replay '%s/x.cbor' --trace-id t --profile sops-v1", dir);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_STR(out, live);
  /* The first event only: a created task. */
  snprintf(args, sizeof args, "replay '%s/x.cbor' --events 1", dir);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_CONTAINS(out, "\"state\": \"CREATED\"");
  snprintf(args, sizeof args,
           "replay '%s/x.cbor' --at 2021-03-10T11:45:54+08:00 --pretty", dir);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_CONTAINS(out, "\n    \"data\": {");
  snprintf(args, sizeof args,
           "replay '%s/x.cbor' --at 2021-03-10T11:45:53+08:00", dir);
  ASSERT_EQ(run(args, out, sizeof out), 1);
  ASSERT_CONTAINS(out, "no event within the limit");
  const char *bad[] = {"--at yesterday", "--events 0", "--events -3",
                       "--events 2 --at 2021-03-10T11:45:54Z", "--format xml"};
  for (int i = 0; i < 5; i++) {
    snprintf(args, sizeof args, "replay '%s/x.cbor' %s", dir, bad[i]);
    ASSERT_EQ(run(args, out, sizeof out), 2);
    ASSERT_CONTAINS(out, "usage: rattan replay");
  }
  ASSERT_EQ(run("replay /nonexistent.cbor", out, sizeof out), 1);
  ASSERT_CONTAINS(out, "/nonexistent.cbor");
  snprintf(args, sizeof args, "version; head -c 5000 '%s/x.cbor' > '%s/y.cbor'",
           dir, dir);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  snprintf(args, sizeof args, "replay '%s/y.cbor'", dir);
  ASSERT_EQ(run(args, out, sizeof out), 1);
  ASSERT_CONTAINS(out, "y.cbor: journal: event ");
  ASSERT_CONTAINS(out, ": truncated: the item needs ");
  /* --keep: into the --db store, where the task must not exist yet. */
  snprintf(args, sizeof args, "replay --keep '%s/x.cbor'", dir);
  ASSERT_EQ(run(args, out, sizeof out), 1);
  ASSERT_CONTAINS(out, "task loop already exists in this store");
  /* run() puts the binary before the first command only. */
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT(n > 0);
  self[n] = '\0';
  *strrchr(self, '/') = '\0';
  mkdir(test_path("other"), 0700);
  snprintf(args, sizeof args,
           "--db '%s/other' replay --keep '%s/x.cbor' > /dev/null && "
           "'%s/rattan' --db '%s/other' export loop | cmp - '%s/x.cbor'",
           dir, dir, self, dir, dir);
  ASSERT_EQ(run(args, out, sizeof out), 0);
  ASSERT_STR(out, "");
  ASSERT_EQ(run("export nosuch", out, sizeof out), 1);
  ASSERT_CONTAINS(out, "task nosuch: no such task");
  ASSERT_EQ(run("export", out, sizeof out), 2);
  ASSERT_EQ(run("export --help", out, sizeof out), 0);
  ASSERT_CONTAINS(out, "usage: rattan export TASK");
  ASSERT_EQ(run("replay --help", out, sizeof out), 0);
  ASSERT_CONTAINS(out, "--at T | --events N");
}
