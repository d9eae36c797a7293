/* rattan export and rattan replay. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char export_usage[] =
    "usage: rattan export TASK > FILE.cbor\n"
    "  writes the task's journal to stdout as a CBOR sequence: a header\n"
    "  (the task, its definition, versions) and one item per change\n"
    "exit codes: 0 done; 1 refused (unknown task, ...); 2 usage\n";

static const char replay_usage[] =
    "usage: rattan replay FILE.cbor [--at T | --events N] [--keep]\n"
    "                   [--subprocess-id ID] [--with-ex-data]\n"
    "                   [--profile sops-v2|sops-v1|bkflow]\n"
    "                   [--format json|msgpack|cbor] [--pretty]\n"
    "                   [--trace-id ID]\n"
    "  rebuilds the task of an exported journal (\"-\" reads stdin) without\n"
    "  running any component and prints its get_task_status envelope, as\n"
    "  of the last event, of time T (ISO 8601 with zone: the events up to\n"
    "  T), or of the first N events. The task is rebuilt in a temporary\n"
    "  store, or with --keep in the --db store (its id must be free).\n"
    "  A damaged journal is refused with the byte offset and event index.\n"
    "exit codes: 0 done; 1 refused (damaged journal, ...); 2 usage\n";

int cmd_export(const cli *c, int argc, char **argv) {
  const char *task;
  if (cli_args(argc, argv, export_usage, NULL, NULL, 0, &task, 1, "TASK"))
    return EXIT_USAGE;
  rattan_engine *e = cli_open(c);
  if (!e) return EXIT_REFUSED;
  void *out;
  size_t len;
  int rc = rattan_export(e, task, &out, &len);
  if (rc) {
    fprintf(stderr, "rattan export: %s\n", rattan_errmsg(e));
  } else if (fwrite(out, 1, len, stdout) != len || fflush(stdout)) {
    fprintf(stderr, "rattan export: writing: %s\n", strerror(errno));
    rc = -1;
  }
  rattan_free(out);
  rattan_close(e);
  return rc ? EXIT_REFUSED : EXIT_DONE;
}

/* Removes the temporary store (its files, then the directory). */
static void remove_store(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *ent;
  char path[4096];
  while (d && (ent = readdir(d))) {
    if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..")) continue;
    snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
    unlink(path);
  }
  if (d) closedir(d);
  rmdir(dir);
}

int cmd_replay(const cli *c, int argc, char **argv) {
  rattan_status_options so;
  cli_status_flags(c, &argc, argv, &so);
  int keep = 0;
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--keep")) {
      keep = 1;
      memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof *argv);
      argc--;
      break;
    }
  const char *names[CLI_STATUS_OPTS + 2], *vals[CLI_STATUS_OPTS + 2] = {NULL};
  memcpy(names, cli_status_names, sizeof cli_status_names);
  names[CLI_STATUS_OPTS] = "at";
  names[CLI_STATUS_OPTS + 1] = "events";
  const char *file;
  if (cli_args(argc, argv, replay_usage, names, vals, CLI_STATUS_OPTS + 2,
               &file, 1, "FILE") ||
      cli_status_values("replay", vals, replay_usage, &so))
    return EXIT_USAGE;
  rattan_replay_options ro;
  rattan_replay_options_init(&ro);
  const char *at = vals[CLI_STATUS_OPTS], *events = vals[CLI_STATUS_OPTS + 1];
  const char *bad = NULL;
  if (at && events) {
    bad = "--at and --events exclude each other";
  } else if (events) {
    char *end;
    errno = 0;
    ro.max_events = strtoull(events, &end, 10);
    if (errno || !*events || *end || events[0] == '-' || !ro.max_events)
      bad = "--events takes a number from 1";
  } else if (at && cli_parse_time(at, &ro.until_us)) {
    bad = "--at takes an ISO 8601 time with zone";
  }
  if (bad) {
    fprintf(stderr, "rattan replay: %s\n%s", bad, replay_usage);
    return EXIT_USAGE;
  }
  char *bytes;
  size_t len;
  if (read_file(file, &bytes, &len)) return EXIT_REFUSED;

  cli local = *c;
  char tmp[4096] = "";
  if (!keep) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/rattan-replay-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(tmp)) {
      fprintf(stderr, "rattan replay: %s: %s\n", tmp, strerror(errno));
      free(bytes);
      return EXIT_REFUSED;
    }
    local.db = tmp;
    local.opts.durability = RATTAN_DURABILITY_NOSYNC;
  }
  int code = EXIT_REFUSED;
  rattan_engine *e = cli_open(&local);
  if (e) {
    rattan_replay_result res;
    int rc = rattan_replay(e, bytes, len, &ro, &res);
    if (rc) {
      const char *msg = rattan_errmsg(e);
      fprintf(stderr, "rattan replay: %s: %s\n", file,
              *msg ? msg : rattan_strerror(rc));
    } else {
      so.now_us = ro.until_us != RATTAN_NO_TIME ? ro.until_us : res.last_us;
      code = cli_print_status(e, "replay", res.task, &so);
    }
    rattan_close(e);
  }
  if (!keep) remove_store(tmp);
  free(bytes);
  return code;
}
