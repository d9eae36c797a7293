/* rattan run --watch: progress lines through a pipe, the live tree on a
 * pseudo-terminal. */
#include <fcntl.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli_util.h"
#include "test.h"

/* cu_rattan, which must get all of the output. */
static int run(const char *args, char *out, size_t cap) {
  int rc = cu_rattan(args, out, cap);
  ASSERT(strlen(out) < cap - 1);
  return rc;
}

/* The same on a pseudo-terminal of 100 x 40 (posix_openpt: no library
 * beyond libc), with env (shell assignments) before the command. */
static int run_tty(const char *env, const char *args, char *out, size_t cap) {
  char cmd[3 * PATH_MAX];
  snprintf(cmd, sizeof cmd, "%s RATTAN_DB='%s/db' exec '%s/rattan' %s 2>&1",
           env, test_dir(), cu_bin_dir(), args);
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT(m >= 0);
  ASSERT_EQ(grantpt(m), 0);
  ASSERT_EQ(unlockpt(m), 0);
  char name[256];
  ASSERT(ptsname(m));
  snprintf(name, sizeof name, "%s", ptsname(m));
  struct winsize ws = {.ws_row = 40, .ws_col = 100};
  ASSERT_EQ(ioctl(m, TIOCSWINSZ, &ws), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    setsid();
    int s = open(name, O_RDWR); /* the controlling terminal */
    if (s < 0) _exit(126);
    dup2(s, 0);
    dup2(s, 1);
    dup2(s, 2);
    if (s > 2) close(s);
    close(m);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  /* Read until every writer closed the terminal (EIO). */
  size_t len = 0;
  for (;;) {
    char chunk[4096];
    ssize_t n = read(m, chunk, sizeof chunk);
    if (n <= 0) break;
    size_t k = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
    memcpy(out + len, chunk, k);
    len += k;
  }
  out[len] = '\0';
  ASSERT(len < cap - 1);
  close(m);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status));
  return WEXITSTATUS(status);
}

/* The line of out holding needle (after from), as a copy in line. */
static const char *find_line(const char *out, const char *needle, char *line,
                             size_t cap) {
  const char *at = strstr(out, needle);
  if (!at) TEST_FAIL_("no line holds \"%s\" in:\n%s", needle, out);
  if (*needle == '\n') at++; /* a needle anchored at a line's start */
  const char *start = at;
  while (start > out && start[-1] != '\n')
    start--;
  size_t n = strcspn(start, "\r\n");
  ASSERT(n < cap);
  memcpy(line, start, n);
  line[n] = '\0';
  return start;
}

static int indent_of(const char *line) {
  return (int)strspn(line, " ");
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

static void write_file(const char *name, const char *text) {
  FILE *f = fopen(test_path(name), "w");
  ASSERT(f);
  fputs(text, f);
  fclose(f);
}

#define CLOCK "--clock virtual:2021-03-10T11:45:54+08:00 --seed 7 "

/* Through a pipe: one line per change, with the node's id, name and
 * states; then the final tree in plain text; the task id last. */
void test_watch_plain_progress(void) {
  static char out[32768];
  ASSERT_EQ(run(CLOCK "run tests/data/loop-sample.json --id lp --watch", out,
                sizeof out),
            0);
  ASSERT(!strchr(out, '\x1b'));
  /* The task id comes last, as without --watch. */
  size_t len = strlen(out);
  ASSERT(len > 4);
  ASSERT_STR(out + len - 4, "\nlp\n");
  /* The root, the start event, the first timer: real ids, in order. */
  const char *root = strstr(out,
                            "2021-03-10 11:45:54 +0800  "
                            "n2125aebb4c8334f8ba4d575315a8d94 ");
  ASSERT(root);
  ASSERT_CONTAINS(root, "CREATED -> RUNNING\n");
  const char *pre = "node413dba1a74e3045da403e3be9cd5 循环前置节点  ";
  char want[256];
  snprintf(want, sizeof want, "%sCREATED -> RUNNING\n", pre);
  const char *run1 = strstr(out, want);
  ASSERT(run1);
  snprintf(want, sizeof want, "%sRUNNING -> FINISHED  (1s)\n", pre);
  const char *fin1 = strstr(out, want);
  ASSERT(fin1 && fin1 > run1);
  ASSERT_CONTAINS(out,
                  "node35061a03a927f28cab4297889487 (start)  CREATED -> "
                  "FINISHED  (0s)\n");
  /* The loop runs the timer again: FINISHED -> RUNNING with its loop. */
  snprintf(want, sizeof want, "%sFINISHED -> RUNNING  loop 2\n", pre);
  const char *again = strstr(out, want);
  ASSERT(again && again > fin1);
  /* The second timer of the last loop, on the virtual clock. */
  ASSERT_CONTAINS(out,
                  "2021-03-10 11:46:08 +0800  nodeb268d09815476dd8a37d373b89ff "
                  "定时  RUNNING -> FINISHED  (4s)  loop 4\n");
  ASSERT_EQ(count(out, "-> RUNNING"), 9); /* the root, 2 timers x 4 */
  /* Every change line comes before the final tree, which follows an
   * empty line. */
  const char *tree = strstr(out,
                            "\n\ntask lp  FINISHED  14s  5 nodes: 5 "
                            "FINISHED\n");
  ASSERT(tree);
  ASSERT(!strstr(tree, " -> "));
  char line[512];
  find_line(tree, "循环前置节点", line, sizeof line);
  ASSERT_EQ(indent_of(line), 2);
  ASSERT_CONTAINS(line, "FINISHED");
  ASSERT_CONTAINS(line, "loop 4");
  find_line(tree, "(exclusive gateway)", line, sizeof line);
  ASSERT_CONTAINS(line, "FINISHED");
  find_line(tree, "\n  (end)", line, sizeof line);
  ASSERT_CONTAINS(line, "FINISHED   0s");
  /* The pipeline at depth 0, named by the export, after the summary. */
  find_line(tree, "\n循环样例 ", line, sizeof line);
  ASSERT_EQ(indent_of(line), 0);
  ASSERT_CONTAINS(line, "FINISHED   14s");

  /* --help documents it. */
  ASSERT_EQ(run("run --help", out, sizeof out), 0);
  ASSERT_CONTAINS(out, "--watch");
}

static const char fail_tree[] =
    "{\"id\": \"p\", \"name\": \"release\",\n"
    " \"start_event\": {\"id\": \"s\", \"name\": \"\", \"type\": "
    "\"EmptyStartEvent\", \"incoming\": \"\", \"outgoing\": \"f1\"},\n"
    " \"end_event\": {\"id\": \"e\", \"name\": \"\", \"type\": "
    "\"EmptyEndEvent\", \"incoming\": [\"f3\"], \"outgoing\": \"\"},\n"
    " \"activities\": {\n"
    "  \"build\": {\"id\": \"build\", \"name\": \"build it\", \"type\": "
    "\"ServiceActivity\", \"incoming\": [\"f1\"], \"outgoing\": \"f2\",\n"
    "   \"error_ignorable\": false, \"skippable\": true, \"retryable\": true,\n"
    "   \"component\": {\"code\": \"noop\", \"inputs\": {}}},\n"
    "  \"deploy\": {\"id\": \"deploy\", \"name\": \"deploy it\", \"type\": "
    "\"ServiceActivity\", \"incoming\": [\"f2\"], \"outgoing\": \"f3\",\n"
    "   \"error_ignorable\": false, \"skippable\": true, \"retryable\": true,\n"
    "   \"component\": {\"code\": \"fail\", \"inputs\": {\"message\": "
    "{\"type\": \"plain\", \"value\": \"disk full\"}}}}},\n"
    " \"gateways\": {},\n"
    " \"flows\": {\n"
    "  \"f1\": {\"id\": \"f1\", \"source\": \"s\", \"target\": \"build\"},\n"
    "  \"f2\": {\"id\": \"f2\", \"source\": \"build\", \"target\": "
    "\"deploy\"},\n"
    "  \"f3\": {\"id\": \"f3\", \"source\": \"deploy\", \"target\": \"e\"}},\n"
    " \"data\": {\"inputs\": {}, \"outputs\": []}}\n";

/* A failing node: its line carries the ex_data; the exit code is plain
 * run's (a failed node is not an error of the command). */
void test_watch_failure(void) {
  static char out[16384];
  write_file("fail.json", fail_tree);
  char args[1024];
  snprintf(args, sizeof args,
           "--tz +0000 " CLOCK "run %s --id plain > /dev/null; echo $?",
           test_path("fail.json"));
  ASSERT_EQ(run(args, out, sizeof out), 0);
  int plain = atoi(out);
  ASSERT_STR(out, "0\n");
  snprintf(args, sizeof args, "--tz +0000 " CLOCK "run %s --id w --watch",
           test_path("fail.json"));
  ASSERT_EQ(run(args, out, sizeof out), plain);
  ASSERT(!strchr(out, '\x1b'));
  /* noop and fail are done within one step: the line goes from CREATED
   * (the view looks between steps). */
  ASSERT_CONTAINS(out,
                  "2021-03-10 03:45:54 +0000  build build it  CREATED -> "
                  "FINISHED  (0s)\n");
  char line[512];
  find_line(out, "-> FAILED", line, sizeof line);
  ASSERT_STR(line,
             "2021-03-10 03:45:54 +0000  deploy deploy it  CREATED -> "
             "FAILED  (0s)  disk full");
  ASSERT_EQ(count(out, "-> FAILED"), 1);
  /* The end event never ran: no line for it. */
  ASSERT(!strstr(out, "e (end)"));
  /* The final tree: the failed node, its ex_data below it, deeper. */
  const char *tree = strstr(out,
                            "\n\ntask w  FAILED  0s  4 nodes: 2 "
                            "FINISHED, 1 FAILED, 1 pending\n");
  ASSERT(tree);
  const char *at = find_line(tree, "deploy it", line, sizeof line);
  ASSERT_EQ(indent_of(line), 2);
  ASSERT_CONTAINS(line, "FAILED");
  at += strlen(line) + 1;
  find_line(at, "disk full", line, sizeof line);
  ASSERT_STR(line, "      disk full");
  find_line(tree, "(end)", line, sizeof line);
  ASSERT_STR(line, "  (end)      pending");
  size_t len = strlen(out);
  ASSERT_STR(out + len - 3, "\nw\n");
}

/* A subprocess's nodes sit one level deeper than its SubProcess node. */
void test_watch_subprocess(void) {
  static char out[16384];
  ASSERT_EQ(run(CLOCK "run tests/data/subprocess-gateways.json --id sp "
                      "--template 5ad26a77856c360585209702f5d3e614 --watch",
                out, sizeof out),
            0);
  const char *tree = strstr(out, "\n\ntask sp  ");
  ASSERT(tree);
  char line[512];
  const char *sub =
      find_line(tree, "yaml导出样例子流程 (subprocess)", line, sizeof line);
  int depth = indent_of(line);
  ASSERT_EQ(depth, 2);
  /* The next lines (the subprocess's nine nodes) are indented deeper,
   * then the parent's end event comes back to its level. */
  const char *p = strchr(sub, '\n') + 1;
  for (int i = 0; i < 9; i++) {
    const char *nl = strchr(p, '\n');
    ASSERT(nl);
    size_t n = (size_t)(nl - p);
    ASSERT(n < sizeof line);
    memcpy(line, p, n);
    line[n] = '\0';
    ASSERT_EQ(indent_of(line), depth + 2);
    ASSERT_CONTAINS(line, "pending");
    p = nl + 1;
  }
  ASSERT(!strncmp(p, "  (end)", 7));
  find_line(tree, "    (parallel gateway)", line, sizeof line);
  find_line(tree, "    (converge gateway)", line, sizeof line);
  /* The parent's timer failed, as in test_cli_run_and_operate. */
  find_line(out, "nc9a4ab053d03d74ad3a36a7435b6eed 定时  CREATED -> FAILED",
            line, sizeof line);
  ASSERT_CONTAINS(line, "${parent_test}");
}

static const char timer_tree[] =
    "{\"id\": \"p\", \"name\": \"wait\",\n"
    " \"start_event\": {\"id\": \"s\", \"name\": \"\", \"type\": "
    "\"EmptyStartEvent\", \"incoming\": \"\", \"outgoing\": \"f1\"},\n"
    " \"end_event\": {\"id\": \"e\", \"name\": \"\", \"type\": "
    "\"EmptyEndEvent\", \"incoming\": [\"f2\"], \"outgoing\": \"\"},\n"
    " \"activities\": {\n"
    "  \"t\": {\"id\": \"t\", \"name\": \"one second\", \"type\": "
    "\"ServiceActivity\", \"incoming\": [\"f1\"], \"outgoing\": \"f2\",\n"
    "   \"error_ignorable\": false, \"skippable\": true, \"retryable\": true,\n"
    "   \"component\": {\"code\": \"sleep_timer\", \"inputs\": {\"bk_timing\": "
    "{\"type\": \"plain\", \"value\": \"1\"}}}}},\n"
    " \"gateways\": {},\n"
    " \"flows\": {\n"
    "  \"f1\": {\"id\": \"f1\", \"source\": \"s\", \"target\": \"t\"},\n"
    "  \"f2\": {\"id\": \"f2\", \"source\": \"t\", \"target\": \"e\"}},\n"
    " \"data\": {\"inputs\": {}, \"outputs\": []}}\n";

/* On a terminal: frames redrawn in place (cursor up, clear), coloured
 * unless NO_COLOR; the final tree, then the id. */
void test_watch_tty(void) {
  static char out[1 << 18];
  ASSERT_EQ(run_tty("TERM=xterm NO_COLOR=",
                    CLOCK "run tests/data/loop-sample.json --id t --watch", out,
                    sizeof out),
            0);
  /* The first frame clears below the cursor; each later one first goes
   * back up over the last frame's 7 lines (summary, pipeline, 5 nodes). */
  ASSERT(!strncmp(out, "\x1b[J", 3));
  ASSERT(count(out, "\r\x1b[7A\x1b[J") >= 1);
  ASSERT_EQ(count(out, "\x1b[J"), count(out, "\x1b[7A") + 1);
  /* No change lines on a terminal. */
  ASSERT(!strstr(out, " -> "));
  const char *last = out;
  for (const char *p = out; (p = strstr(p, "\x1b[J")); p += 3)
    last = p + 3;
  ASSERT_CONTAINS(last, "\x1b[32mFINISHED\x1b[0m  14s  5 nodes: 5 FINISHED");
  ASSERT_CONTAINS(last, "\x1b[32mFINISHED\x1b[0m   1s  loop 4\r\n");
  ASSERT_CONTAINS(last, "(exclusive gateway)");
  size_t len = strlen(last);
  ASSERT(len > 5);
  ASSERT_STR(last + len - 5, "\r\nt\r\n");

  /* NO_COLOR: the same frames without colours. */
  ASSERT_EQ(run_tty("TERM=xterm NO_COLOR=1",
                    CLOCK "run tests/data/loop-sample.json --id nc --watch",
                    out, sizeof out),
            0);
  ASSERT(strstr(out, "\x1b[7A"));
  ASSERT(!strstr(out, "\x1b[32m"));
  ASSERT(!strstr(out, "\x1b[0m"));
  ASSERT_CONTAINS(out, "task nc  FINISHED  14s  5 nodes: 5 FINISHED\r\n");

  /* A real clock: the view is redrawn while the timer waits (at most
   * ten times a second), its time growing. */
  write_file("timer.json", timer_tree);
  char args[1024];
  snprintf(args, sizeof args, "--seed 7 run %s --id rt --watch",
           test_path("timer.json"));
  ASSERT_EQ(run_tty("TERM=xterm NO_COLOR=1", args, out, sizeof out), 0);
  int frames = count(out, "\x1b[J");
  ASSERT(frames >= 5);
  ASSERT(frames <= 40);
  ASSERT_CONTAINS(out, "  one second  RUNNING    0s\r\n");
  last = strstr(out, "task rt  FINISHED");
  ASSERT(last);
  ASSERT_CONTAINS(last, "  one second  FINISHED   1s\r\n");
  ASSERT_CONTAINS(last, "\r\nrt\r\n");
}
