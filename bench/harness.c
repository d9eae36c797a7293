/* The benchmark harness (see harness.h). */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "machine.h"

static struct {
  int tiny;
  char root[256];
  char refusal[48];
  unsigned dirs; /* bench_fresh_dir's counter */
} cfg;

/* The rows: in a group's child, those it measured (sent to the parent
 * when the group ends); in the parent, every row gathered. */
static bench_row *rows;
static size_t n_rows, cap_rows;
static int failed;

_Noreturn void bench_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

/* ---- Configuration ------------------------------------------------------ */

int bench_init(void) {
  const char *size = getenv("BENCH_SIZE");
  if (size && *size && strcmp(size, "full") && strcmp(size, "tiny")) {
    fprintf(stderr, "bench: BENCH_SIZE must be tiny or full, not %s\n", size);
    return -1;
  }
  cfg.tiny = size && !strcmp(size, "tiny");
  /* /var/tmp, not /tmp: /tmp is tmpfs on many systems, where durable
   * figures mean nothing. */
  const char *base = getenv("BENCH_DIR");
  if (!base || !*base) base = "/var/tmp";
  if (mkdir(base, 0700) && errno != EEXIST) {
    fprintf(stderr, "bench: %s: %s\n", base, strerror(errno));
    return -1;
  }
  snprintf(cfg.root, sizeof cfg.root, "%s/rattan-bench-XXXXXX", base);
  if (!mkdtemp(cfg.root)) {
    fprintf(stderr, "bench: mkdtemp in %s: %s\n", base, strerror(errno));
    return -1;
  }
  machine_probe(cfg.root);
  if (machine_on_tmpfs())
    snprintf(cfg.refusal, sizeof cfg.refusal, "refused: %s", machine_fs());
  return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

void bench_remove_dir(const char *dir) {
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void bench_cleanup(void) {
  if (cfg.root[0]) bench_remove_dir(cfg.root);
}

int bench_tiny(void) {
  return cfg.tiny;
}

int bench_pick(int full, int tiny) {
  return cfg.tiny ? tiny : full;
}

int bench_runs(void) {
  return cfg.tiny ? 1 : 5;
}

int bench_warmup(void) {
  return !cfg.tiny;
}

const char *bench_root(void) {
  return cfg.root;
}

const char *bench_durable_refusal(void) {
  return cfg.refusal;
}

void bench_fresh_dir(char *out, size_t n, const char *tag) {
  /* The pid keeps directories of different groups apart. */
  int len =
      snprintf(out, n, "%s/%s-%d-%u", cfg.root, tag, (int)getpid(), cfg.dirs++);
  if (len < 0 || (size_t)len >= n) bench_die("directory name too long");
  if (mkdir(out, 0700)) bench_die("mkdir %s: %s", out, strerror(errno));
}

/* ---- Clocks and statistics ----------------------------------------------- */

double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double stat_pct(double *v, int n, double p) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  int i = (int)ceil(p / 100.0 * n) - 1;
  return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* ---- Rows and groups ----------------------------------------------------- */

void str_copy(char *dst, size_t n, const char *src) {
  size_t len = strlen(src);
  if (len >= n) len = n - 1;
  memcpy(dst, src, len);
  dst[len] = '\0';
}

void row_put(const bench_row *r) {
  if (n_rows == cap_rows) {
    cap_rows = cap_rows ? 2 * cap_rows : 64;
    rows = realloc(rows, cap_rows * sizeof *rows);
    if (!rows) bench_die("out of memory");
  }
  rows[n_rows++] = *r;
}

double row_samples(const char *id, const char *name, const char *unit,
                   double *v, int n, const char *base, target_op op,
                   double target) {
  bench_row r = {.runs = n, .op = op, .target = target};
  str_copy(r.id, sizeof r.id, id);
  str_copy(r.name, sizeof r.name, name);
  str_copy(r.unit, sizeof r.unit, unit);
  str_copy(r.base, sizeof r.base, base ? base : "");
  r.med = stat_pct(v, n, 50);
  r.min = v[0];
  r.max = v[n - 1];
  row_put(&r);
  return r.med;
}

void row_refused(const char *id, const char *name, const char *text) {
  bench_row r = {0};
  str_copy(r.id, sizeof r.id, id);
  str_copy(r.name, sizeof r.name, name);
  str_copy(r.refused, sizeof r.refused, text);
  row_put(&r);
}

void row_note(const char *note) {
  if (n_rows) snprintf(rows[n_rows - 1].note, sizeof rows->note, "%s", note);
}

void group_run(const char *name, void (*fn)(void)) {
  int fd[2];
  if (pipe(fd)) bench_die("pipe: %s", strerror(errno));
  fflush(stdout);
  fflush(stderr);
  size_t before = n_rows;
  pid_t pid = fork();
  if (pid < 0) bench_die("fork: %s", strerror(errno));
  if (pid == 0) {
    close(fd[0]);
    n_rows = 0; /* the child sends only its own rows */
    fn();
    for (size_t i = 0; i < n_rows; i++)
      if (write(fd[1], &rows[i], sizeof *rows) != (ssize_t)sizeof *rows)
        _exit(2);
    close(fd[1]);
    exit(0);
  }
  close(fd[1]);
  bench_row r;
  ssize_t got;
  while ((got = read(fd[0], &r, sizeof r)) == (ssize_t)sizeof r)
    row_put(&r);
  close(fd[0]);
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) bench_die("wait4: %s", strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status)) {
    fprintf(stderr, "bench: group %s failed (%s %d)\n", name,
            WIFEXITED(status) ? "exit" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    failed = 1;
    n_rows = before;
    return;
  }
  bench_row rss = {.runs = 1};
  snprintf(rss.id, sizeof rss.id, "rss.%s", name);
  snprintf(rss.name, sizeof rss.name, "peak RSS: %s", name);
  snprintf(rss.unit, sizeof rss.unit, "MiB");
  rss.med = rss.min = rss.max = (double)ru.ru_maxrss / 1024.0;
  row_put(&rss);
}

int groups_failed(void) {
  return failed;
}

/* ---- Output ----------------------------------------------------------------
 */

static const bench_row *find_row(const char *id) {
  for (size_t i = 0; i < n_rows; i++)
    if (!strcmp(rows[i].id, id)) return &rows[i];
  return NULL;
}

/* The row's ratio to its baseline (NAN without one, or when either side
 * was refused), and whether its target is met (-1: no target or nothing
 * to judge). */
static double row_ratio(const bench_row *r, int *met) {
  const bench_row *b = r->base[0] ? find_row(r->base) : NULL;
  double ratio = NAN, v = r->med;
  *met = -1;
  if (r->refused[0]) return NAN;
  if (r->base[0]) {
    if (!b || b->refused[0] || b->med == 0) return NAN;
    v = ratio = r->med / b->med;
  }
  if (r->op == TARGET_GE) *met = v >= r->target;
  if (r->op == TARGET_LE) *met = v <= r->target;
  return ratio;
}

/* Figures with about four significant digits, no exponent. */
static void fmt_num(char *out, size_t n, double v) {
  double a = fabs(v);
  snprintf(out, n,
           a >= 1e4   ? "%.0f"
           : a >= 100 ? "%.1f"
           : a >= 1   ? "%.2f"
                      : "%.4f",
           v);
}

void table_print(void) {
  printf("\n%-54s %-9s %10s %10s %10s  %-20s %8s %10s %s\n", "workload", "unit",
         "median", "min", "max", "baseline", "ratio", "target", "met");
  for (size_t i = 0; i < n_rows; i++) {
    const bench_row *r = &rows[i];
    if (r->refused[0]) {
      printf("%-54s %s\n", r->name, r->refused);
      continue;
    }
    char med[24], mn[24], mx[24], ratio_s[24] = "", target[40] = "";
    fmt_num(med, sizeof med, r->med);
    fmt_num(mn, sizeof mn, r->min);
    fmt_num(mx, sizeof mx, r->max);
    int met;
    double ratio = row_ratio(r, &met);
    if (!isnan(ratio)) fmt_num(ratio_s, sizeof ratio_s, ratio);
    if (r->op != TARGET_NONE) {
      char t[24];
      fmt_num(t, sizeof t, r->target);
      snprintf(target, sizeof target, "%s %s%s",
               r->op == TARGET_GE ? ">=" : "<=", t, r->base[0] ? "x" : "");
    }
    printf("%-54s %-9s %10s %10s %10s  %-20s %8s %10s %s%s%s\n", r->name,
           r->unit, med, mn, mx, r->base, ratio_s, target,
           met < 0   ? ""
           : met > 0 ? "yes"
                     : "NO",
           r->note[0] ? "  " : "", r->note);
  }
}

int results_write(const char *path) {
  json_t *root = json_object(), *list = json_array();
  json_object_set_new(root, "machine", machine_json());
  json_object_set_new(root, "size", json_string(cfg.tiny ? "tiny" : "full"));
  for (size_t i = 0; i < n_rows; i++) {
    const bench_row *r = &rows[i];
    json_t *o = json_pack("{s:s,s:s}", "id", r->id, "name", r->name);
    if (r->refused[0]) {
      json_object_set_new(o, "refused", json_string(r->refused));
    } else {
      int met;
      double ratio = row_ratio(r, &met);
      json_object_set_new(o, "unit", json_string(r->unit));
      json_object_set_new(o, "runs", json_integer(r->runs));
      json_object_set_new(o, "median", json_real(r->med));
      json_object_set_new(o, "min", json_real(r->min));
      json_object_set_new(o, "max", json_real(r->max));
      if (r->base[0]) json_object_set_new(o, "baseline", json_string(r->base));
      if (!isnan(ratio)) json_object_set_new(o, "ratio", json_real(ratio));
      if (r->op != TARGET_NONE) {
        json_object_set_new(
            o, "target",
            json_pack("{s:s,s:f}", "op",
                      r->op == TARGET_GE ? ">=" : "<=", "value", r->target));
        if (met >= 0) json_object_set_new(o, "met", json_boolean(met));
      }
    }
    if (r->note[0]) json_object_set_new(o, "note", json_string(r->note));
    json_array_append_new(list, o);
  }
  json_object_set_new(root, "rows", list);
  int rc = json_dump_file(root, path, JSON_INDENT(2)) ? -1 : 0;
  json_decref(root);
  return rc;
}
