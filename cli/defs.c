/* rattan validate and rattan create. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char validate_usage[] =
    "usage: rattan validate TREE.json [--template ID]\n"
    "  checks a pipeline definition (bamboo tree, SOPS web tree or SOPS\n"
    "  export); prints \"ok\", or one problem a line as \"PATH: reason\"\n"
    "  --template ID   the template of an export to check (default: every\n"
    "                  template that is not another's subprocess)\n"
    "exit codes: 0 valid; 1 invalid; 2 usage\n";

static const char create_usage[] =
    "usage: rattan create TREE.json [--id ID] [--name NAME] [--template ID]\n"
    "                     [--project P]\n"
    "  creates a task (state CREATED) from a pipeline definition and prints\n"
    "  its id\n"
    "  --id ID         the task id (default: the next free number)\n"
    "  --name NAME     the task name (default: the pipeline's name)\n"
    "  --template ID   the template to use from an export holding several\n"
    "  --project P     the project (SOPS's bk_biz_id) the task belongs to\n"
    "exit codes: 0 created; 1 refused or invalid; 2 usage\n";

static void print_problem(void *ctx, const char *path, const char *reason) {
  fprintf(ctx, "%s: %s\n", path, reason);
}

/* FILE [--opt VALUE]...: the file, or NULL after printing usage. */
static const char *file_arg(int argc, char **argv, const char *usage,
                            const char *const *names, const char **vals,
                            int n) {
  const char *file = NULL;
  return cli_args(argc, argv, usage, names, vals, n, &file, 1, "TREE.json")
             ? NULL
             : file;
}

int cmd_validate(const cli *c, int argc, char **argv) {
  (void)c;
  static const char *const names[] = {"template"};
  const char *vals[1] = {NULL};
  const char *file = file_arg(argc, argv, validate_usage, names, vals, 1);
  if (!file) return EXIT_USAGE;
  char *text;
  size_t len;
  if (read_file(file, &text, &len)) return EXIT_REFUSED;
  int rc = rattan_validate(text, len, vals[0], print_problem, stdout);
  free(text);
  if (rc == RATTAN_OK) {
    puts("ok");
    return EXIT_DONE;
  }
  if (rc != RATTAN_EDEF)
    fprintf(stderr, "rattan validate: %s\n", rattan_strerror(rc));
  return EXIT_REFUSED;
}

const char *const cli_create_names[CLI_CREATE_OPTS] = {"id", "name", "template",
                                                       "project"};

int cli_create(rattan_engine *e, const char *cmd, const char *file,
               const char *const *vals, char out[RATTAN_ID_MAX + 1]) {
  char *text;
  size_t len;
  if (read_file(file, &text, &len)) return -1;
  rattan_task_options o = {.id = vals[0],
                           .name = vals[1],
                           .template_id = vals[2],
                           .project = vals[3],
                           .on_problem = print_problem,
                           .ctx = stderr};
  int rc = rattan_task_create(e, text, len, &o, out);
  free(text);
  if (rc && rc != RATTAN_EDEF)
    fprintf(stderr, "rattan %s: %s\n", cmd, rattan_errmsg(e));
  return rc ? -1 : 0;
}

int cmd_create(const cli *c, int argc, char **argv) {
  const char *vals[CLI_CREATE_OPTS] = {NULL};
  const char *file = file_arg(argc, argv, create_usage, cli_create_names, vals,
                              CLI_CREATE_OPTS);
  if (!file) return EXIT_USAGE;
  rattan_engine *e = cli_open(c);
  if (!e) return EXIT_REFUSED;
  char id[RATTAN_ID_MAX + 1];
  int rc = cli_create(e, "create", file, vals, id);
  if (rc == 0) puts(id);
  rattan_close(e);
  return rc ? EXIT_REFUSED : EXIT_DONE;
}
