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
    "  creates a task (state CREATED) from a pipeline definition and prints\n"
    "  its id\n"
    "  --id ID         the task id (default: the next free number)\n"
    "  --name NAME     the task name (default: the pipeline's name)\n"
    "  --template ID   the template to use from an export holding several\n"
    "exit codes: 0 created; 1 refused or invalid; 2 usage\n";

static void print_problem(void *ctx, const char *path, const char *reason) {
  fprintf(ctx, "%s: %s\n", path, reason);
}

/* Parses "FILE [--opt VALUE]...": names[i] gets the value of "--"names[i].
 * Returns the file or NULL after printing usage. */
static const char *parse_args(int argc, char **argv, const char *usage,
                              const char *const *names, const char **vals,
                              int n) {
  const char *file = NULL;
  for (int i = 1; i < argc; i++) {
    if (is_help(argv[i])) {
      fputs(usage, stdout);
      exit(EXIT_DONE);
    }
    int k = 0;
    for (; k < n; k++)
      if (argv[i][0] == '-' && argv[i][1] == '-' &&
          !strcmp(argv[i] + 2, names[k]))
        break;
    if (k < n && i + 1 < argc) {
      vals[k] = argv[++i];
    } else if (argv[i][0] == '-' && strcmp(argv[i], "-")) {
      fprintf(stderr, "rattan %s: unknown option \"%s\"\n%s", argv[0], argv[i],
              usage);
      return NULL;
    } else if (!file) {
      file = argv[i];
    } else {
      fprintf(stderr, "rattan %s: unexpected argument \"%s\"\n%s", argv[0],
              argv[i], usage);
      return NULL;
    }
  }
  if (!file)
    fprintf(stderr, "rattan %s: TREE.json is required\n%s", argv[0], usage);
  return file;
}

int cmd_validate(const cli *c, int argc, char **argv) {
  (void)c;
  static const char *const names[] = {"template"};
  const char *vals[1] = {NULL};
  const char *file = parse_args(argc, argv, validate_usage, names, vals, 1);
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

int cmd_create(const cli *c, int argc, char **argv) {
  static const char *const names[] = {"id", "name", "template"};
  const char *vals[3] = {NULL, NULL, NULL};
  const char *file = parse_args(argc, argv, create_usage, names, vals, 3);
  if (!file) return EXIT_USAGE;
  char *text;
  size_t len;
  if (read_file(file, &text, &len)) return EXIT_REFUSED;
  rattan_engine *e = cli_open(c);
  if (!e) {
    free(text);
    return EXIT_REFUSED;
  }
  rattan_task_options o = {.id = vals[0],
                           .name = vals[1],
                           .template_id = vals[2],
                           .on_problem = print_problem,
                           .ctx = stderr};
  char id[RATTAN_ID_MAX + 1];
  int rc = rattan_task_create(e, text, len, &o, id);
  free(text);
  if (rc == RATTAN_OK)
    puts(id);
  else if (rc != RATTAN_EDEF)
    fprintf(stderr, "rattan create: %s\n", rattan_errmsg(e));
  rattan_close(e);
  return rc == RATTAN_OK ? EXIT_DONE : EXIT_REFUSED;
}
