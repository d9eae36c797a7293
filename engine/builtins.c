/*
 * The built-in components (see builtins.h). Their bookkeeping lives in
 * outputs whose keys start with '_', as bamboo components keep theirs, so
 * an engine that restarts finds it again. Nothing here keeps mutable
 * state.
 */
#include "builtins.h"

#include "engine.h"
#include "store/mem.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define US_PER_S  INT64_C(1000000)
#define MAX_WAIT  (INT64_C(10) * 366 * 86400 * US_PER_S) /* 10 years, in us */
#define TAIL_MAX  4096 /* bytes of a command's output kept as stdout */
#define PATH_CAP  4096 /* bytes of the shell's output file path */
#define MSG_MAX   (PATH_CAP + 256) /* an ex_data, path included */
#define VALUE_MAX 200 /* bytes of an input value quoted in an ex_data */

/* ---- Helpers ------------------------------------------------------------ */

/* Records ex_data as the reason the call fails; returns the non-zero
 * result a component function returns then. */
static int fail(rattan_call *c, const char *ex_data) {
  rattan_call_fail(c, ex_data);
  return 1;
}

/* Fails the call with "what: <errno text>". */
static int fail_sys(rattan_call *c, const char *what, int err) {
  char msg[MSG_MAX];
  if (snprintf(msg, sizeof msg, "%s: %s", what, strerror(err)) < 0)
    msg[0] = '\0';
  return fail(c, msg);
}

/* Checks the result rc of storing output key: 0, or 1 after failing the
 * call (a store or memory error must not pass for success). */
static int stored(rattan_call *c, const char *key, int rc) {
  char msg[MSG_MAX];
  if (rc == 0) return 0;
  snprintf(msg, sizeof msg, "cannot store output %s: %s", key,
           rattan_strerror(rc));
  return fail(c, msg);
}

static int put_int(rattan_call *c, const char *key, int64_t v) {
  return stored(c, key, rattan_call_set_output_int(c, key, v));
}

static int put_text(rattan_call *c, const char *key, const char *text) {
  return stored(c, key, rattan_call_set_output_text(c, key, text));
}

/* Reads back an integer output of an earlier step: 0, or -1 when it is
 * absent or its JSON text is not an integer. */
static int output_int(rattan_call *c, const char *key, int64_t *v) {
  const char *s = rattan_call_output(c, key);
  char *end;
  if (!s || !(*s == '-' || (*s >= '0' && *s <= '9'))) return -1;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *v = x;
  return 0;
}

/* The text of the string output key, copied into out (cap bytes with the
 * NUL): 0, or -1 when it is absent, not a string, or does not fit. */
static int text_output(rattan_call *c, const char *key, char *out, size_t cap) {
  const char *json = rattan_call_output(c, key);
  json_t *j = json ? jparse_str(json, JSON_DECODE_ANY, NULL) : NULL;
  size_t n = json_string_length(j);
  int ok = json_is_string(j) && n < cap && !memchr(json_string_value(j), 0, n);
  if (ok) memcpy(out, json_string_value(j), n + 1);
  json_decref(j);
  return ok ? 0 : -1;
}

/* ---- noop, and the execute step of pause -------------------------------- */

static int succeed(rattan_call *c, void *ctx) {
  (void)c, (void)ctx;
  return 0;
}

/* ---- fail ---------------------------------------------------------------- */

static int fail_execute(rattan_call *c, void *ctx) {
  const char *message = rattan_call_input_text(c, "message");
  (void)ctx;
  return fail(c, message && *message ? message : "failed");
}

/* ---- sleep_timer ---------------------------------------------------------
 * SOPS's timer. Input bk_timing is a number of seconds or a
 * "%Y-%m-%d %H:%M:%S" time; SOPS reads that time in the project's time
 * zone, rattan (which has none) reads it as UTC. A time already past
 * fails, as SOPS's does, unless input force_check is false. */

/* Reads "%Y-%m-%d %H:%M:%S" as Python's strptime does (year of 4 digits,
 * other fields of 1 or 2) into microseconds since the epoch, UTC. */
static int parse_time(const char *s, int64_t *us) {
  static const char sep[] = "-- ::";
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int f[6];
  for (int i = 0; i < 6; i++) {
    int len = 0, max = i == 0 ? 4 : 2;
    for (f[i] = 0; len < max && *s >= '0' && *s <= '9'; len++) {
      f[i] = f[i] * 10 + (*s++ - '0');
    }
    if (len < (i == 0 ? 4 : 1) || (i < 5 && *s++ != sep[i])) return -1;
  }
  int y = f[0], m = f[1], d = f[2];
  int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
  if (*s || y < 1 || m < 1 || m > 12 || d < 1 ||
      d > mdays[m - 1] + (m == 2 && leap) || f[3] > 23 || f[4] > 59 ||
      f[5] > 59) {
    return -1;
  }
  /* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
   * days_from_civil: years counted from March, in 400-year eras). */
  int64_t yy = y - (m <= 2), era = yy / 400, yoe = yy - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
  *us = ((days * 24 + f[3]) * 60 + f[4]) * 60 * US_PER_S + f[5] * US_PER_S;
  return 0;
}

/* Reads bk_timing as seconds: kind is the first byte of its JSON text. A
 * JSON number, or a string of digits with at
 * most one '.' (SOPS's str(timing).replace(".", "").isdigit() test, made
 * strict). 0, or -1 when it is not one. */
static int parse_seconds(char kind, const char *text, double *s) {
  char *end;
  if (kind == '"') {
    const char *dot = strchr(text, '.');
    size_t span = strspn(text, "0123456789.");
    /* Only digits and dots, one dot at most, one digit at least. */
    if (text[span] || (dot && strchr(dot + 1, '.')) || span == (dot != NULL)) {
      return -1;
    }
  } else if (kind != '-' && !(kind >= '0' && kind <= '9')) {
    return -1;
  }
  *s = strtod(text, &end);
  return *end ? -1 : 0;
}

/* The due time of the timer, in *due; 1 after failing the call. */
/* force_check: true unless the input says false (SOPS's default). */
static int force_check(rattan_call *c) {
  const char *v = rattan_call_input(c, "force_check");
  return !v || strcmp(v, "false");
}

static int timer_due(rattan_call *c, int64_t now, int64_t *due) {
  /* Only the first byte of the JSON text is kept: a string the call owns
   * need not outlive the next call on it. */
  const char *raw = rattan_call_input(c, "bk_timing");
  char kind = raw ? raw[0] : '\0', msg[MSG_MAX];
  const char *text = rattan_call_input_text(c, "bk_timing");
  double s;
  if (!raw || !text) return fail(c, "input bk_timing is missing");
  /* Quote at most VALUE_MAX bytes, never cutting a UTF-8 sequence. */
  size_t len = strlen(text);
  if (len > VALUE_MAX) {
    for (len = VALUE_MAX; len > 0 && (text[len] & 0xC0) == 0x80;) {
      len--;
    }
  }
  if (parse_seconds(kind, text, &s) == 0) {
    if (!(s >= 0 && s * US_PER_S <= MAX_WAIT)) {
      snprintf(msg, sizeof msg,
               "input bk_timing %.*s is not between 0 seconds and 10 years",
               (int)len, text);
      return fail(c, msg);
    }
    *due = now + (int64_t)(s * US_PER_S + 0.5);
  } else if (kind != '"' || parse_time(text, due)) {
    snprintf(msg, sizeof msg,
             "input bk_timing \"%.*s\" is neither seconds nor a time "
             "(%%Y-%%m-%%d %%H:%%M:%%S)",
             (int)len, text);
    return fail(c, msg);
  } else if (*due - now > MAX_WAIT) {
    snprintf(msg, sizeof msg, "input bk_timing %s is more than 10 years away",
             text);
    return fail(c, msg);
  } else if (*due <= now && force_check(c)) {
    /* SOPS's timer refuses a time already past unless told otherwise. */
    return fail(c, "Timing time needs to be later than current time");
  }
  return 0;
}

/* Stores the due time and asks for the first poll exactly then. */
static int timer_execute(rattan_call *c, void *ctx) {
  int64_t now = rattan_call_now(c), due;
  (void)ctx;
  if (timer_due(c, now, &due) || put_int(c, "_due_us", due)) return 1;
  rattan_call_poll_after(c, due > now ? due - now : 0);
  return 0;
}

static int timer_schedule(rattan_call *c, void *ctx) {
  int64_t now = rattan_call_now(c), due;
  (void)ctx;
  if (output_int(c, "_due_us", &due)) {
    return fail(c, "sleep_timer: output _due_us is missing or invalid");
  }
  if (now >= due) {
    rattan_call_finish_schedule(c);
  } else {
    rattan_call_poll_after(c, due - now);
  }
  return 0;
}

/* ---- pause ---------------------------------------------------------------
 * Waits for one callback; its data (null when none) becomes output
 * callback_data and the node finishes. */

static int pause_schedule(rattan_call *c, void *ctx) {
  const char *data = rattan_call_callback_data(c);
  (void)ctx;
  return stored(
      c, "callback_data",
      rattan_call_set_output(c, "callback_data", data ? data : "null"));
}

/* ---- shell ---------------------------------------------------------------
 * Runs input command with /bin/sh -c, its stdin from /dev/null and its
 * stdout and stderr into a temporary file; polls the child with waitpid.
 * Execute may run again after a crash (at least once): the command may
 * then start twice, so commands should be safe to repeat. The child is
 * only reaped by a poll: a node forced failed or revoked while the
 * command runs leaves it unreaped. The host must not set SIGCHLD to
 * SIG_IGN (children would reap themselves: "shell process lost"). */

/* Moves fd above the standard streams (a daemon may run with them
 * closed), so that the child's dup2 calls cannot clobber one another.
 * Returns the fd, or -1 with errno set (fd closed). */
static int above_std(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3), err = errno;
  close(fd);
  errno = err;
  return moved;
}

/* The child after fork: async-signal-safe calls only. A blocked mask and
 * ignored signals (hosts often ignore SIGPIPE) survive exec, so both are
 * reset. 127 is the shell's own "could not run" code. */
static _Noreturn void run_child(int in, int out, const char *command) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  if (dup2(in, 0) >= 0 && dup2(out, 1) >= 0 && dup2(out, 2) >= 0) {
    execl("/bin/sh", "sh", "-c", command, (char *)NULL);
  }
  _exit(127);
}

static int shell_execute(rattan_call *c, void *ctx) {
  const char *command = rattan_call_input_text(c, "command");
  const char *dir = getenv("TMPDIR");
  char path[PATH_CAP];
  int err;
  (void)ctx;
  if (!command || !*command) {
    return fail(c, "input command is missing or empty");
  }
  if (!dir || !*dir) dir = "/tmp";
  int len = snprintf(path, sizeof path, "%s/rattan-shell-XXXXXX", dir);
  if (len < 0 || (size_t)len >= sizeof path) {
    return fail(c, "shell: the TMPDIR path is too long");
  }
  int in = above_std(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (in < 0) return fail_sys(c, "shell: cannot open /dev/null", errno);
  int out = above_std(mkostemp(path, O_CLOEXEC));
  if (out < 0) {
    char msg[MSG_MAX];
    err = errno;
    close(in);
    snprintf(msg, sizeof msg, "shell: cannot create a temporary file in %s",
             dir);
    return fail_sys(c, msg, err);
  }
  /* No call on c between reading command and the fork: the string need
   * not outlive one. */
  pid_t pid = fork();
  if (pid == 0) run_child(in, out, command);
  err = errno;
  close(in);
  close(out);
  if (pid < 0) {
    (void)unlink(path);
    return fail_sys(c, "shell: cannot fork", err);
  }
  if (put_int(c, "_pid", pid) || put_text(c, "_log", path)) {
    /* Untracked, the child would never be reaped: stop it now (after
     * SIGKILL the wait is immediate). */
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    (void)unlink(path);
    return 1;
  }
  return 0;
}

/* Reads at most the last TAIL_MAX bytes of the file at path into tail
 * (TAIL_MAX + 1 bytes) and makes them valid UTF-8 text: a sequence cut at
 * the start is dropped, invalid bytes and NULs become '?'. Returns 0 with
 * *text in tail, or an errno value. */
static int read_tail(const char *path, char *tail, const char **text) {
  int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;
  size_t n = 0, skip = 0;
  if (fd < 0) return errno;
  off_t end = lseek(fd, 0, SEEK_END);
  off_t from = end > TAIL_MAX ? end - TAIL_MAX : 0;
  if (end < 0) err = errno;
  while (!err && n < TAIL_MAX && from + (off_t)n < end) {
    ssize_t r = pread(fd, tail + n, TAIL_MAX - n, from + (off_t)n);
    if (r < 0 && errno != EINTR) err = errno;
    if (r == 0) break;
    if (r > 0) n += (size_t)r;
  }
  close(fd);
  if (err) return err;
  unsigned char *s = (unsigned char *)tail;
  while (from > 0 && skip < 3 && skip < n && (s[skip] & 0xC0) == 0x80) {
    skip++;
  }
  for (size_t i = skip; i < n;) {
    size_t len = s[i] ? rt_utf8_seq(s + i, n - i) : 0;
    if (len == 0) s[i] = '?', len = 1;
    i += len;
  }
  tail[n] = '\0';
  *text = tail + skip;
  return 0;
}

/* One poll: nothing while the child runs; once it ended, outputs exit_code
 * (the exit status; 128 + N when killed by signal N, as sh reports it for
 * its own children) and stdout (the output's tail), then the file goes. */
static int shell_schedule(rattan_call *c, void *ctx) {
  char path[PATH_CAP], tail[TAIL_MAX + 1], msg[MSG_MAX];
  const char *text = NULL;
  int64_t pid;
  int status;
  (void)ctx;
  if (text_output(c, "_log", path, sizeof path) ||
      output_int(c, "_pid", &pid) || pid <= 0 || (pid_t)pid != pid) {
    return fail(c, "shell: outputs _pid and _log are missing or invalid");
  }
  pid_t r = waitpid((pid_t)pid, &status, WNOHANG);
  if (r == 0 || (r < 0 && errno == EINTR)) return 0; /* poll again */
  if (r < 0 && errno == ECHILD) {
    return fail(c, "shell process lost (engine restarted?)");
  }
  if (r < 0) return fail_sys(c, "shell: waitpid", errno);
  /* Without WUNTRACED, only an exit or a killing signal is reported. */
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (put_int(c, "exit_code", code)) return 1;
  int err = read_tail(path, tail, &text);
  (void)unlink(path); /* a stray temporary file is not worth a failure */
  if (err) {
    snprintf(msg, sizeof msg, "shell: cannot read the output %s", path);
    return fail_sys(c, msg, err);
  }
  if (put_text(c, "stdout", text)) return 1;
  if (WIFSIGNALED(status)) {
    snprintf(msg, sizeof msg, "command killed by signal %d", WTERMSIG(status));
    return fail(c, msg);
  }
  if (code != 0) {
    snprintf(msg, sizeof msg, "command exited with code %d", code);
    return fail(c, msg);
  }
  rattan_call_finish_schedule(c);
  return 0;
}

/* ---- The table ---------------------------------------------------------- */

static const rattan_component builtins[] = {
    {.code = "noop", .schedule = RATTAN_SCHEDULE_NONE, .execute = succeed},
    {.code = "fail", .schedule = RATTAN_SCHEDULE_NONE, .execute = fail_execute},
    {.code = "sleep_timer",
     .schedule = RATTAN_SCHEDULE_POLL,
     .interval_us = US_PER_S, /* a fallback: polls come at the due time */
     .execute = timer_execute,
     .schedule_fn = timer_schedule},
    {.code = "pause",
     .schedule = RATTAN_SCHEDULE_CALLBACK,
     .execute = succeed,
     .schedule_fn = pause_schedule},
    {.code = "pause_node", /* SOPS's name for the same component */
     .schedule = RATTAN_SCHEDULE_CALLBACK,
     .execute = succeed,
     .schedule_fn = pause_schedule},
    {.code = "shell",
     .schedule = RATTAN_SCHEDULE_POLL,
     .interval_us = US_PER_S / 10,
     .execute = shell_execute,
     .schedule_fn = shell_schedule},
};

const rattan_component *eng_builtins(size_t *n) {
  *n = sizeof builtins / sizeof builtins[0];
  return builtins;
}
