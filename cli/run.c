/* rattan start, run, drive, operate and node. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char start_usage[] =
    "usage: rattan start TASK\n"
    "  starts a created task (nothing runs until drive)\n"
    "exit codes: 0 started; 1 refused; 2 usage\n";

static const char run_usage[] =
    "usage: rattan run TREE.json [--id ID] [--name NAME] [--template ID]\n"
    "                  [--project P] [--watch]\n"
    "  creates and starts a task, then drives it until nothing can move\n"
    "  without an operator (with a real clock: until its timers are done);\n"
    "  prints the task id\n"
    "  --watch  shows the task's nodes while it runs: on a terminal a tree\n"
    "           redrawn in place (colours unless NO_COLOR is set), else one\n"
    "           line per node change (time in the --tz zone, node id and\n"
    "           name, old -> new state, a failure's ex_data), then the\n"
    "           final tree; the task id comes last either way\n"
    "exit codes: 0 done; 1 refused or invalid; 2 usage\n";

static const char drive_usage[] =
    "usage: rattan drive TASK\n"
    "  drives a task like run does; prints the task's state\n"
    "exit codes: 0 done; 1 refused; 2 usage\n";

static const char operate_usage[] =
    "usage: rattan operate TASK start|pause|resume|revoke\n"
    "exit codes: 0 done; 1 refused (reason on stderr); 2 usage\n";

static const char node_usage[] =
    "usage: rattan node TASK NODE ACTION [--data JSON] [--flow-id F]\n"
    "                 [--flow-ids F,G] [--version V]\n"
    "  ACTION: retry [--data INPUTS] | skip | skip_exg --flow-id F |\n"
    "          skip_cpg --flow-ids F,G | pause | resume | pause_subproc |\n"
    "          resume_subproc | forced_fail [--data EX_DATA] |\n"
    "          callback [--data JSON] [--version V] | retry_subprocess\n"
    "exit codes: 0 done; 1 refused (reason on stderr); 2 usage\n";

/* Reports a failed call on e; EXIT_REFUSED. */
static int refused(rattan_engine *e, const char *cmd, int rc) {
  const char *msg = rattan_errmsg(e);
  fprintf(stderr, "rattan %s: %s\n", cmd, *msg ? msg : rattan_strerror(rc));
  return EXIT_REFUSED;
}

/* Sleeps us microseconds (restarting after signals). */
static void sleep_us(int64_t us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) && errno == EINTR) {
  }
}

/* How long a watched wait sleeps before the view is refreshed. */
#define TICK_US 100000

int cli_drive(const cli *c, rattan_engine *e, const char *task, unsigned budget,
              cli_tick_fn tick, void *ctx) {
  for (;;) {
    rattan_drive_result r;
    int rc = rattan_drive(e, task, budget, &r);
    if (!rc && tick) rc = tick(ctx, e, 0);
    if (rc) return rc;
    if (r.more) continue;
    if (r.next_due_us == RATTAN_NO_TIME ||
        c->opts.clock.kind != RATTAN_CLOCK_REAL)
      return 0;
    for (int64_t wait; (wait = r.next_due_us - rattan_now(e)) > 0;) {
      if (!tick) {
        sleep_us(wait);
        break;
      }
      sleep_us(wait < TICK_US ? wait : TICK_US);
      if ((rc = tick(ctx, e, 1))) return rc;
    }
  }
}

/* Flags without values, taken out of argv before cli_args. */
static int take_flag(int *argc, char **argv, const char *flag) {
  for (int i = 1; i < *argc; i++)
    if (!strcmp(argv[i], flag)) {
      memmove(argv + i, argv + i + 1, (size_t)(*argc - i) * sizeof *argv);
      (*argc)--;
      return 1;
    }
  return 0;
}

/* Opens the engine, runs fn on the task, closes. */
static int with_task(const cli *c, const char *cmd, const char *task,
                     int (*fn)(const cli *c, rattan_engine *e, const char *task,
                               void *ctx),
                     void *ctx) {
  rattan_engine *e = cli_open(c);
  if (!e) return EXIT_REFUSED;
  int rc = fn(c, e, task, ctx);
  int code = rc ? refused(e, cmd, rc) : EXIT_DONE;
  rattan_close(e);
  return code;
}

static int do_start(const cli *c, rattan_engine *e, const char *task,
                    void *ctx) {
  (void)c;
  (void)ctx;
  return rattan_task_start(e, task);
}

int cmd_start(const cli *c, int argc, char **argv) {
  const char *task;
  if (cli_args(argc, argv, start_usage, NULL, NULL, 0, &task, 1, "TASK"))
    return EXIT_USAGE;
  return with_task(c, "start", task, do_start, NULL);
}

int cmd_run(const cli *c, int argc, char **argv) {
  const char *vals[CLI_CREATE_OPTS] = {NULL}, *file;
  int watch = take_flag(&argc, argv, "--watch");
  if (cli_args(argc, argv, run_usage, cli_create_names, vals, CLI_CREATE_OPTS,
               &file, 1, "TREE.json"))
    return EXIT_USAGE;
  rattan_engine *e = cli_open(c);
  if (!e) return EXIT_REFUSED;
  char id[RATTAN_ID_MAX + 1];
  int code = EXIT_REFUSED;
  if (cli_create(e, "run", file, vals, id) == 0) {
    int rc = rattan_task_start(e, id);
    if (!rc)
      rc = watch ? cli_watch(c, e, id) : cli_drive(c, e, id, 0, NULL, NULL);
    /* The id is printed even when driving failed: the task exists. */
    puts(id);
    code = rc ? refused(e, "run", rc) : EXIT_DONE;
  }
  rattan_close(e);
  return code;
}

static int do_drive(const cli *c, rattan_engine *e, const char *task,
                    void *ctx) {
  (void)ctx;
  rattan_state st;
  int rc = cli_drive(c, e, task, 0, NULL, NULL);
  if (!rc) rc = rattan_task_state(e, task, &st);
  if (!rc) puts(rattan_state_name(st));
  return rc;
}

int cmd_drive(const cli *c, int argc, char **argv) {
  const char *task;
  if (cli_args(argc, argv, drive_usage, NULL, NULL, 0, &task, 1, "TASK"))
    return EXIT_USAGE;
  return with_task(c, "drive", task, do_drive, NULL);
}

static int do_operate(const cli *c, rattan_engine *e, const char *task,
                      void *ctx) {
  (void)c;
  const char *action = ctx;
  if (!strcmp(action, "start")) return rattan_task_start(e, task);
  if (!strcmp(action, "pause")) return rattan_task_pause(e, task);
  if (!strcmp(action, "resume")) return rattan_task_resume(e, task);
  return rattan_task_revoke(e, task);
}

int cmd_operate(const cli *c, int argc, char **argv) {
  const char *pos[2];
  if (cli_args(argc, argv, operate_usage, NULL, NULL, 0, pos, 2,
               "TASK and ACTION"))
    return EXIT_USAGE;
  static const char *const actions[] = {"start", "pause", "resume", "revoke"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(pos[1], actions[i]))
      return with_task(c, "operate", pos[0], do_operate, (void *)actions[i]);
  fprintf(stderr, "rattan operate: unknown action \"%s\"\n%s", pos[1],
          operate_usage);
  return EXIT_USAGE;
}

typedef struct node_args {
  const char *node, *action;
  const char *data, *flow, *flows, *version;
} node_args;

/* Splits "F,G" into at most 64 flow ids and skips them. */
static int skip_cpg(rattan_engine *e, const char *task, const node_args *a) {
  char *copy = strdup(a->flows);
  const char *ids[64];
  size_t n = 0;
  if (!copy) return RATTAN_ENOMEM;
  for (char *save, *t = strtok_r(copy, ",", &save); t && n < 64;
       t = strtok_r(NULL, ",", &save))
    ids[n++] = t;
  int rc = rattan_node_skip_cpg(e, task, a->node, ids, n);
  free(copy);
  return rc;
}

static int do_node(const cli *c, rattan_engine *e, const char *task,
                   void *ctx) {
  (void)c;
  const node_args *a = ctx;
  const char *act = a->action, *node = a->node;
  if (!strcmp(act, "retry")) return rattan_node_retry(e, task, node, a->data);
  if (!strcmp(act, "skip")) return rattan_node_skip(e, task, node);
  if (!strcmp(act, "skip_exg"))
    return rattan_node_skip_exg(e, task, node, a->flow);
  if (!strcmp(act, "skip_cpg")) return skip_cpg(e, task, a);
  if (!strcmp(act, "pause")) return rattan_node_pause(e, task, node);
  if (!strcmp(act, "resume")) return rattan_node_resume(e, task, node);
  if (!strcmp(act, "pause_subproc"))
    return rattan_subprocess_pause(e, task, node);
  if (!strcmp(act, "resume_subproc"))
    return rattan_subprocess_resume(e, task, node);
  if (!strcmp(act, "retry_subprocess"))
    return rattan_subprocess_retry(e, task, node);
  if (!strcmp(act, "forced_fail"))
    return rattan_node_forced_fail(e, task, node, a->data);
  return rattan_node_callback(e, task, node, a->data, a->version);
}

int cmd_node(const cli *c, int argc, char **argv) {
  static const char *const names[] = {"data", "flow-id", "flow-ids", "version"};
  const char *vals[4] = {NULL, NULL, NULL, NULL}, *pos[3];
  if (cli_args(argc, argv, node_usage, names, vals, 4, pos, 3,
               "TASK, NODE and ACTION"))
    return EXIT_USAGE;
  static const char *const actions[] = {
      "retry",       "skip",     "skip_exg",        "skip_cpg",
      "pause",       "resume",   "pause_subproc",   "resume_subproc",
      "forced_fail", "callback", "retry_subprocess"};
  int known = 0;
  for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
    known |= !strcmp(pos[2], actions[i]);
  const char *missing = !known                                    ? "ACTION"
                        : !strcmp(pos[2], "skip_exg") && !vals[1] ? "--flow-id"
                        : !strcmp(pos[2], "skip_cpg") && !vals[2] ? "--flow-ids"
                                                                  : NULL;
  if (missing) {
    fprintf(stderr, "rattan node: %s \"%s\"\n%s",
            known ? "missing option for" : "unknown action", pos[2],
            node_usage);
    if (known) fprintf(stderr, "(%s is required)\n", missing);
    return EXIT_USAGE;
  }
  node_args a = {pos[1], pos[2], vals[0], vals[1], vals[2], vals[3]};
  return with_task(c, "node", pos[0], do_node, &a);
}

static const char detail_usage[] =
    "usage: rattan detail TASK NODE [--loop N] [--format json|msgpack|cbor]\n"
    "                   [--pretty] [--trace-id ID]\n"
    "  prints get_task_node_detail's envelope\n"
    "exit codes: 0 done; 1 an error envelope; 2 usage\n";

static const char tasks_usage[] =
    "usage: rattan tasks\n"
    "  one line per task: id, state, name (tab separated)\n";

/* Prints an answer (msgpack and CBOR as bytes). */
static int print_answer(rattan_engine *e, const char *cmd, int rc, char *text,
                        size_t len, int json) {
  if (text) {
    fwrite(text, 1, len, stdout);
    if (json) putchar('\n');
  } else {
    refused(e, cmd, rc);
  }
  rattan_free(text);
  return rc ? EXIT_REFUSED : EXIT_DONE;
}

int cmd_detail(const cli *c, int argc, char **argv) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.tz_offset_min = c->tz_offset_min;
  o.pretty = take_flag(&argc, argv, "--pretty");
  static const char *const names[] = {"loop", "format", "trace-id"};
  const char *vals[3] = {NULL, NULL, NULL}, *pos[2];
  if (cli_args(argc, argv, detail_usage, names, vals, 3, pos, 2,
               "TASK and NODE"))
    return EXIT_USAGE;
  static const char *const formats[] = {"json", "msgpack", "cbor"};
  int f = vals[1] ? -1 : 0;
  for (int i = 0; i < 3 && vals[1]; i++)
    if (!strcmp(vals[1], formats[i])) f = i;
  char *end = NULL;
  unsigned long loop = vals[0] ? strtoul(vals[0], &end, 10) : 0;
  if (f < 0 || (vals[0] && (!*vals[0] || *end || loop > UINT32_MAX))) {
    fprintf(stderr, "rattan detail: bad --%s\n%s", f < 0 ? "format" : "loop",
            detail_usage);
    return EXIT_USAGE;
  }
  o.format = (rattan_format)f;
  o.trace_id = vals[2];
  rattan_engine *e = cli_open(c);
  if (!e) return EXIT_REFUSED;
  char *text;
  size_t len;
  int rc =
      rattan_node_detail(e, pos[0], pos[1], (unsigned)loop, &o, &text, &len);
  int code = print_answer(e, "detail", rc, text, len, f == 0);
  rattan_close(e);
  return code;
}

static int print_task(void *ctx, const char *id, const char *name,
                      rattan_state state) {
  (void)ctx;
  printf("%s\t%s\t%s\n", id, rattan_state_name(state), name);
  return 0;
}

int cmd_tasks(const cli *c, int argc, char **argv) {
  if (cli_args(argc, argv, tasks_usage, NULL, NULL, 0, NULL, 0, ""))
    return EXIT_USAGE;
  rattan_engine *e = cli_open(c);
  if (!e) return EXIT_REFUSED;
  int rc = rattan_task_each(e, print_task, NULL);
  if (rc) refused(e, "tasks", rc);
  rattan_close(e);
  return rc ? EXIT_REFUSED : EXIT_DONE;
}

static const char status_usage[] =
    "usage: rattan status TASK [--subprocess-id ID] [--with-ex-data]\n"
    "                   [--profile sops-v2|sops-v1|bkflow]\n"
    "                   [--format json|msgpack|cbor] [--pretty]\n"
    "                   [--trace-id ID]\n"
    "  prints get_task_status's whole envelope (msgpack and CBOR as bytes)\n"
    "exit codes: 0 done; 1 an error envelope (unknown task, ...); 2 usage\n";

const char *const cli_status_names[CLI_STATUS_OPTS] = {
    "subprocess-id", "profile", "format", "trace-id"};

void cli_status_flags(const cli *c, int *argc, char **argv,
                      rattan_status_options *o) {
  rattan_status_options_init(o);
  o->tz_offset_min = c->tz_offset_min;
  o->with_ex_data = take_flag(argc, argv, "--with-ex-data");
  o->pretty = take_flag(argc, argv, "--pretty");
}

int cli_status_values(const char *cmd, const char *const *vals,
                      const char *usage, rattan_status_options *o) {
  static const char *const profiles[] = {"sops-v2", "sops-v1", "bkflow"};
  static const char *const formats[] = {"json", "msgpack", "cbor"};
  int p = -1, f = -1;
  for (int i = 0; i < 3; i++) {
    if (vals[1] && !strcmp(vals[1], profiles[i])) p = i;
    if (vals[2] && !strcmp(vals[2], formats[i])) f = i;
  }
  if ((vals[1] && p < 0) || (vals[2] && f < 0)) {
    fprintf(stderr, "rattan %s: unknown %s \"%s\"\n%s", cmd,
            vals[1] && p < 0 ? "profile" : "format",
            vals[1] && p < 0 ? vals[1] : vals[2], usage);
    return -1;
  }
  if (p >= 0) o->profile = (rattan_profile)p;
  if (f >= 0) o->format = (rattan_format)f;
  o->subprocess_id = vals[0];
  o->trace_id = vals[3];
  return 0;
}

int cli_print_status(rattan_engine *e, const char *cmd, const char *task,
                     const rattan_status_options *o) {
  char *text;
  size_t len;
  int rc = rattan_task_status(e, task, o, &text, &len);
  return print_answer(e, cmd, rc, text, len, o->format == RATTAN_FORMAT_JSON);
}

int cmd_status(const cli *c, int argc, char **argv) {
  rattan_status_options o;
  cli_status_flags(c, &argc, argv, &o);
  const char *vals[CLI_STATUS_OPTS] = {NULL}, *task;
  if (cli_args(argc, argv, status_usage, cli_status_names, vals,
               CLI_STATUS_OPTS, &task, 1, "TASK") ||
      cli_status_values("status", vals, status_usage, &o))
    return EXIT_USAGE;
  rattan_engine *e = cli_open(c);
  if (!e) return EXIT_REFUSED;
  int code = cli_print_status(e, "status", task, &o);
  rattan_close(e);
  return code;
}
