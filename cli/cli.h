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
  int tz_offset_min; /* --tz, for times in status output */
} cli;

/* Reads a whole file ("-" for stdin) into *out (free with free()); prints
 * the reason and returns -1 on failure. */
int read_file(const char *path, char **out, size_t *len);

/* Parses argv[1..]: npos positional arguments into pos (what names them
 * when missing) and "--"names[i] VALUE options into vals[i]; --help
 * prints usage and exits. Returns -1 after printing usage on a mistake. */
int cli_args(int argc, char **argv, const char *usage, const char *const *names,
             const char **vals, int n, const char **pos, int npos,
             const char *what);

/* Opens the engine on cli->db; prints the reason on failure. */
rattan_engine *cli_open(const cli *c);

/* True if argv[i] is "--help" or "-h". */
int is_help(const char *arg);

/* The options of the commands that create a task (create, run), in the
 * order cli_create takes their values (NULL when not given). */
#define CLI_CREATE_OPTS 4
extern const char *const cli_create_names[CLI_CREATE_OPTS];
/* Creates a task from the definition in file with the values of the
 * options above; prints problems and errors to stderr and returns -1 on
 * failure. */
int cli_create(rattan_engine *e, const char *cmd, const char *file,
               const char *const *vals, char out[RATTAN_ID_MAX + 1]);

/* The status options every status-printing command takes: the flags
 * (--with-ex-data, --pretty), taken out of argv, then the values named
 * by cli_status_names, which the command passes to cli_args and then to
 * cli_status_values (-1 after printing usage on a bad one). */
#define CLI_STATUS_OPTS 4
extern const char *const cli_status_names[CLI_STATUS_OPTS];
void cli_status_flags(const cli *c, int *argc, char **argv,
                      rattan_status_options *o);
int cli_status_values(const char *cmd, const char *const *vals,
                      const char *usage, rattan_status_options *o);
/* Prints the task's status envelope; returns the exit code. */
int cli_print_status(rattan_engine *e, const char *cmd, const char *task,
                     const rattan_status_options *o);
/* ISO 8601 with a zone to microseconds since the epoch; -1 if not. */
int cli_parse_time(const char *s, int64_t *out);

/* Called by cli_drive after each rattan_drive call (waiting 0) and, while
 * it sleeps until a due time with a real clock, about every 100 ms
 * (waiting 1). A non-zero return stops driving and is returned. */
typedef int (*cli_tick_fn)(void *ctx, rattan_engine *e, int waiting);
/* Drives the task until nothing can move without an operator; with a
 * real clock it also waits for due polls, so timers run out. budget is
 * the steps per rattan_drive call (0: no limit); tick may be NULL.
 * Returns 0 or the rattan error that stopped it. */
int cli_drive(const cli *c, rattan_engine *e, const char *task, unsigned budget,
              cli_tick_fn tick, void *ctx);
/* run --watch: drives the started task like cli_drive while showing its
 * nodes on stdout (cli/watch.c); the final tree is always shown. */
int cli_watch(const cli *c, rattan_engine *e, const char *task);

int cmd_validate(const cli *c, int argc, char **argv);
int cmd_create(const cli *c, int argc, char **argv);
int cmd_start(const cli *c, int argc, char **argv);
int cmd_run(const cli *c, int argc, char **argv);
int cmd_drive(const cli *c, int argc, char **argv);
int cmd_operate(const cli *c, int argc, char **argv);
int cmd_node(const cli *c, int argc, char **argv);
int cmd_status(const cli *c, int argc, char **argv);
int cmd_detail(const cli *c, int argc, char **argv);
int cmd_tasks(const cli *c, int argc, char **argv);
int cmd_export(const cli *c, int argc, char **argv);
int cmd_replay(const cli *c, int argc, char **argv);
int cmd_serve(const cli *c, int argc, char **argv);

#endif
