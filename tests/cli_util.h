/* Running the programs built beside the test runner (the rattan command,
 * the examples) from tests. */
#ifndef RATTAN_CLI_UTIL_H
#define RATTAN_CLI_UTIL_H

#include <stddef.h>

/* The directory of this test runner, where rattan and examples/ are
 * built; static storage. */
const char *cu_bin_dir(void);
/* Runs the shell command cmd, its stderr joined to its stdout; returns
 * its exit code, with the output in out (at most cap - 1 bytes,
 * NUL-terminated). Aborts the test unless it exited normally. */
int cu_shell(const char *cmd, char *out, size_t cap);
/* cu_shell of the rattan beside this runner with args (a shell fragment)
 * on the store test_dir()/db. */
int cu_rattan(const char *args, char *out, size_t cap);

#endif
