/*
 * The rattan command. Uses include/rattan.h only.
 *
 * Exit codes: 0 done; 1 refused or invalid (reason on stderr, nothing
 * changed); 2 usage.
 */
#include <rattan.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: rattan [--db DIR] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  version    print the library version\n"
    "  help       this text (also --help)\n"
    "\n"
    "options:\n"
    "  --db DIR   the store directory (default $RATTAN_DB, else ./rattan.db)\n"
    "\n"
    "exit codes: 0 done; 1 refused or invalid; 2 usage\n";

static int cmd_version(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs("usage: rattan version\n  prints the library version\n", stdout);
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "rattan version: unexpected argument \"%s\"\n", argv[1]);
    return 2;
  }
  printf("rattan %s\n", rattan_version());
  return 0;
}

int main(int argc, char **argv) {
  int i = 1;
  while (i < argc && argv[i][0] == '-') {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--db") && i + 1 < argc) {
      i += 2; /* used by the commands that open a store */
      continue;
    }
    fprintf(stderr, "rattan: unknown option \"%s\"\n%s", argv[i], usage);
    return 2;
  }
  if (i >= argc) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[i];
  if (!strcmp(cmd, "version")) return cmd_version(argc - i, argv + i);
  if (!strcmp(cmd, "help")) {
    fputs(usage, stdout);
    return 0;
  }
  fprintf(stderr, "rattan: unknown command \"%s\"\n%s", cmd, usage);
  return 2;
}
