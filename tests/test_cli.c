/* The rattan command: output and exit codes (DESIGN.md's contract). */
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

/* Runs the rattan built beside this test runner with args (a shell
 * fragment); returns its exit code and its stdout + stderr in out. */
static int run(const char *args, char *out, size_t cap) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT(n > 0);
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  ASSERT(slash);
  *slash = '\0';
  char cmd[3 * PATH_MAX];
  snprintf(cmd, sizeof cmd, "RATTAN_DB='%s/db' '%s/rattan' %s 2>&1", test_dir(),
           self, args);
  FILE *p = popen(cmd, "r");
  ASSERT(p);
  size_t len = fread(out, 1, cap - 1, p);
  out[len] = '\0';
  int status = pclose(p);
  ASSERT(WIFEXITED(status));
  return WEXITSTATUS(status);
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
