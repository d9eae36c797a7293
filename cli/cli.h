/* The rattan command's shared pieces. Uses include/rattan.h only. */
#ifndef RATTAN_CLI_H
#define RATTAN_CLI_H

#include <rattan.h>
#include <stddef.h>

/* Exit codes (DESIGN.md): done, refused or invalid, usage. */
enum { EXIT_DONE = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

/* Global options, parsed before the command. */
typedef struct cli {
  const char *db;
  rattan_options opts;
} cli;

/* Reads a whole file ("-" for stdin) into *out (free with free()); prints
 * the reason and returns -1 on failure. */
int read_file(const char *path, char **out, size_t *len);

/* Opens the engine on cli->db; prints the reason on failure. */
rattan_engine *cli_open(const cli *c);

/* True if argv[i] is "--help" or "-h". */
int is_help(const char *arg);

int cmd_validate(const cli *c, int argc, char **argv);
int cmd_create(const cli *c, int argc, char **argv);

#endif
