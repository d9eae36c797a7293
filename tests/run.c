/*
 * The test runner: runs every test of tests/list.h (or those whose names
 * contain the argument) in a child process with a fresh directory and a
 * time limit, then prints "N passed, N failed" and exits non-zero on any
 * failure. --list prints the names.
 */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define TEST_SECONDS 120

#define T(name) void test_##name(void);
#include "list.h"
#undef T

static const struct {
  const char *name;
  void (*fn)(void);
} tests[] = {
#define T(name) {#name, test_##name},
#include "list.h"
#undef T
};

static char dir[256];

const char *test_dir(void) {
  return dir;
}

const char *test_path(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *f) {
  (void)sb;
  (void)flag;
  (void)f;
  remove(p);
  return 0;
}

static int run_one(int i) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/rattan-test-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 0;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(TEST_SECONDS);
    tests[i].fn();
    exit(0); /* not _exit: LeakSanitizer checks at exit */
  }
  int status = 0;
  waitpid(pid, &status, 0);
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (ok)
    printf("ok    %s\n", tests[i].name);
  else if (WIFSIGNALED(status))
    printf("FAIL  %s (signal %d%s)\n", tests[i].name, WTERMSIG(status),
           WTERMSIG(status) == SIGALRM ? ": timed out" : "");
  else
    printf("FAIL  %s (exit %d)\n", tests[i].name, WEXITSTATUS(status));
  return ok;
}

int main(int argc, char **argv) {
  size_t n = sizeof tests / sizeof tests[0];
  const char *filter = argc > 1 ? argv[1] : NULL;
  if (filter && !strcmp(filter, "--list")) {
    for (size_t i = 0; i < n; i++)
      puts(tests[i].name);
    return 0;
  }
  int passed = 0, failed = 0;
  for (size_t i = 0; i < n; i++) {
    if (filter && !strstr(tests[i].name, filter)) continue;
    if (run_one((int)i))
      passed++;
    else
      failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed || passed == 0;
}

char *test_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) TEST_FAIL_("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  ASSERT(b && fread(b, 1, (size_t)n, f) == (size_t)n);
  fclose(f);
  b[n] = '\0';
  if (len) *len = (size_t)n;
  return b;
}
