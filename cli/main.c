/*
 * The rattan command: global options, then one subcommand.
 * Uses include/rattan.h only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage[] =
    "usage: rattan [--db DIR] [--clock real|fixed:T|virtual:T] [--seed N]\n"
    "              [--tz +HHMM] [--durability sync|group|nosync] COMMAND ...\n"
    "\n"
    "commands:\n"
    "  version                 print the library version\n"
    "  validate TREE.json      check a pipeline definition\n"
    "  create TREE.json        create a task from it; prints the task id\n"
    "  start TASK              start a created task\n"
    "  run TREE.json           create, start and drive a task; prints its id\n"
    "  drive TASK              run a task until nothing can move; prints its\n"
    "                          state\n"
    "  operate TASK ACTION     start, pause, resume or revoke a task\n"
    "  node TASK NODE ACTION   retry, skip, callback, ... one node\n"
    "  status TASK             get_task_status, as SOPS answers it\n"
    "  detail TASK NODE        get_task_node_detail\n"
    "  tasks                   one line per task: id, state, name\n"
    "  export TASK > FILE      the task's journal as CBOR (JOURNAL.md)\n"
    "  replay FILE             rebuild a task from its journal and print its\n"
    "                          status, as of any event or time\n"
    "  serve                   SOPS's gateway API over HTTP; drives tasks\n"
    "  help                    this text (also --help)\n"
    "\n"
    "options:\n"
    "  --db DIR        the store directory (default $RATTAN_DB, else "
    "./rattan.db)\n"
    "  --clock C       real (default); fixed:T never moves; virtual:T starts "
    "at\n"
    "                  T and jumps to the next due time (T: ISO 8601 with "
    "zone)\n"
    "  --seed N        reproducible versions and generated ids\n"
    "  --tz +HHMM      the zone of times in status output (default +0800,\n"
    "                  as SOPS's Asia/Shanghai)\n"
    "  --durability D  group (default: a drive's steps committed together,\n"
    "                  flushed at most 2 ms apart and before any answer),\n"
    "                  sync (every commit flushed) or nosync (no flush)\n"
    "\n"
    "`rattan COMMAND --help` describes a command.\n"
    "exit codes: 0 done; 1 refused or invalid (reason on stderr); 2 usage\n";

int is_help(const char *arg) {
  return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int read_file(const char *path, char **out, size_t *len) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "rattan: %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  while (b) {
    n += fread(b + n, 1, cap - n, f);
    if (n < cap) break;
    char *nb = realloc(b, cap *= 2);
    if (!nb) free(b);
    b = nb;
  }
  int failed = !b || ferror(f);
  if (f != stdin) fclose(f);
  if (failed) {
    fprintf(stderr, "rattan: %s: %s\n", path,
            b ? "read error" : "out of memory");
    free(b);
    return -1;
  }
  *out = b;
  *len = n;
  return 0;
}

int cli_args(int argc, char **argv, const char *help, const char *const *names,
             const char **vals, int n, const char **pos, int npos,
             const char *what) {
  int got = 0;
  for (int i = 1; i < argc; i++) {
    if (is_help(argv[i])) {
      fputs(help, stdout);
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
              help);
      return -1;
    } else if (got < npos) {
      pos[got++] = argv[i];
    } else {
      fprintf(stderr, "rattan %s: unexpected argument \"%s\"\n%s", argv[0],
              argv[i], help);
      return -1;
    }
  }
  if (got < npos) {
    fprintf(stderr, "rattan %s: %s is required\n%s", argv[0], what, help);
    return -1;
  }
  return 0;
}

rattan_engine *cli_open(const cli *c) {
  rattan_engine *e;
  char msg[512];
  if (rattan_open(c->db, &c->opts, &e, msg, sizeof msg)) {
    fprintf(stderr, "rattan: %s\n", msg);
    return NULL;
  }
  return e;
}

/* "2021-03-10T11:45:54+08:00" (or Z, or +0800; a space for the T, and
 * fractional seconds, are accepted) to microseconds since the epoch. */
int cli_parse_time(const char *s, int64_t *out) {
  int y, mo, d, h, mi, n = 0;
  double sec;
  if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec,
             &n) < 6 ||
      n == 0)
    return -1;
  const char *z = s + n;
  int off = 0;
  if (*z == 'Z' && !z[1]) {
    off = 0;
  } else if ((*z == '+' || *z == '-') && strlen(z) >= 5) {
    int oh, om;
    if (sscanf(z + 1, "%2d:%2d", &oh, &om) != 2 &&
        sscanf(z + 1, "%2d%2d", &oh, &om) != 2)
      return -1;
    off = (oh * 60 + om) * (*z == '-' ? -1 : 1);
  } else {
    return -1;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 ||
      sec >= 61)
    return -1;
  /* Days from the civil date (proleptic Gregorian). */
  int yy = y - (mo <= 2);
  long era = (yy >= 0 ? yy : yy - 399) / 400;
  long yoe = yy - era * 400;
  long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  long days = era * 146097 + doe - 719468;
  int64_t secs = (int64_t)days * 86400 + h * 3600 + mi * 60 - off * 60;
  *out = secs * 1000000 + (int64_t)(sec * 1000000 + 0.5);
  return 0;
}

static int global_option(cli *c, const char *opt, const char *val) {
  if (!strcmp(opt, "--db")) {
    c->db = val;
  } else if (!strcmp(opt, "--seed")) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    if (errno || *end || !*val) return -1;
    c->opts.has_seed = 1;
    c->opts.seed = v;
  } else if (!strcmp(opt, "--durability")) {
    if (!strcmp(val, "group"))
      c->opts.durability = RATTAN_DURABILITY_GROUP;
    else if (!strcmp(val, "sync"))
      c->opts.durability = RATTAN_DURABILITY_SYNC;
    else if (!strcmp(val, "nosync"))
      c->opts.durability = RATTAN_DURABILITY_NOSYNC;
    else
      return -1;
  } else if (!strcmp(opt, "--tz")) {
    /* +HHMM or -HHMM */
    int h, m;
    char sign;
    if (strlen(val) != 5 || sscanf(val, "%c%2d%2d", &sign, &h, &m) != 3 ||
        (sign != '+' && sign != '-') || h > 23 || m > 59)
      return -1;
    c->tz_offset_min = (sign == '-' ? -1 : 1) * (h * 60 + m);
  } else if (!strcmp(opt, "--clock")) {
    if (!strcmp(val, "real")) {
      c->opts.clock.kind = RATTAN_CLOCK_REAL;
    } else if (!strncmp(val, "fixed:", 6) &&
               !cli_parse_time(val + 6, &c->opts.clock.start_us)) {
      c->opts.clock.kind = RATTAN_CLOCK_FIXED;
    } else if (!strncmp(val, "virtual:", 8) &&
               !cli_parse_time(val + 8, &c->opts.clock.start_us)) {
      c->opts.clock.kind = RATTAN_CLOCK_VIRTUAL;
    } else {
      return -1;
    }
  } else {
    return -2;
  }
  return 0;
}

int main(int argc, char **argv) {
  cli c = {.tz_offset_min = 480};
  rattan_options_init(&c.opts);
  c.opts.durability = RATTAN_DURABILITY_GROUP;
  c.db = getenv("RATTAN_DB");
  if (!c.db || !*c.db) c.db = "rattan.db";
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i += 2) {
    if (is_help(argv[i])) {
      fputs(usage, stdout);
      return EXIT_DONE;
    }
    int rc = i + 1 < argc ? global_option(&c, argv[i], argv[i + 1]) : -2;
    if (rc == -1)
      fprintf(stderr, "rattan: bad value \"%s\" for %s\n", argv[i + 1],
              argv[i]);
    else if (rc)
      fprintf(stderr, "rattan: unknown option \"%s\"\n", argv[i]);
    if (rc) {
      fputs(usage, stderr);
      return EXIT_USAGE;
    }
  }
  if (i >= argc) {
    fputs(usage, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[i];
  argc -= i;
  argv += i;
  if (!strcmp(cmd, "version")) {
    if (argc > 1 && is_help(argv[1])) {
      fputs("usage: rattan version\n  prints the library version\n", stdout);
      return EXIT_DONE;
    }
    if (argc > 1) {
      fprintf(stderr, "rattan version: unexpected argument \"%s\"\n", argv[1]);
      return EXIT_USAGE;
    }
    printf("rattan %s\n", rattan_version());
    return EXIT_DONE;
  }
  if (!strcmp(cmd, "validate")) return cmd_validate(&c, argc, argv);
  if (!strcmp(cmd, "create")) return cmd_create(&c, argc, argv);
  if (!strcmp(cmd, "start")) return cmd_start(&c, argc, argv);
  if (!strcmp(cmd, "run")) return cmd_run(&c, argc, argv);
  if (!strcmp(cmd, "drive")) return cmd_drive(&c, argc, argv);
  if (!strcmp(cmd, "operate")) return cmd_operate(&c, argc, argv);
  if (!strcmp(cmd, "node")) return cmd_node(&c, argc, argv);
  if (!strcmp(cmd, "status")) return cmd_status(&c, argc, argv);
  if (!strcmp(cmd, "detail")) return cmd_detail(&c, argc, argv);
  if (!strcmp(cmd, "tasks")) return cmd_tasks(&c, argc, argv);
  if (!strcmp(cmd, "export")) return cmd_export(&c, argc, argv);
  if (!strcmp(cmd, "replay")) return cmd_replay(&c, argc, argv);
  if (!strcmp(cmd, "serve")) return cmd_serve(&c, argc, argv);
  if (!strcmp(cmd, "help")) {
    fputs(usage, stdout);
    return EXIT_DONE;
  }
  fprintf(stderr, "rattan: unknown command \"%s\"\n%s", cmd, usage);
  return EXIT_USAGE;
}
