/* Running the programs built beside the test runner. */
#include "cli_util.h"

#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

const char *cu_bin_dir(void) {
  static char self[PATH_MAX];
  if (!*self) {
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT(n > 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    ASSERT(slash);
    *slash = '\0';
  }
  return self;
}

int cu_shell(const char *cmd, char *out, size_t cap) {
  char full[4 * PATH_MAX];
  ASSERT((size_t)snprintf(full, sizeof full, "%s 2>&1", cmd) < sizeof full);
  FILE *p = popen(full, "r");
  ASSERT(p);
  size_t len = fread(out, 1, cap - 1, p);
  out[len] = '\0';
  int status = pclose(p);
  ASSERT(WIFEXITED(status));
  return WEXITSTATUS(status);
}

int cu_rattan(const char *args, char *out, size_t cap) {
  char cmd[3 * PATH_MAX];
  ASSERT((size_t)snprintf(cmd, sizeof cmd, "RATTAN_DB='%s/db' '%s/rattan' %s",
                          test_dir(), cu_bin_dir(), args) < sizeof cmd);
  return cu_shell(cmd, out, cap);
}
