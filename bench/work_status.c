/*
 * 8  get_task_status (sops-v2, the default options, a fixed trace_id) of
 *    tasks with 1,000, 10,000 and 100,000 node records, in JSON, msgpack
 *    and CBOR:
 *      p50 and p99 ÷ B3 (raw scan + same-output encoder) p50 and p99
 *      (<= 2); 100,000 ÷ 10,000 nodes at p50 (<= 12);
 *      at 10,000 nodes, p99 while another thread drives chains on the same
 *      engine (SYNC, a durable writer) ÷ idle p99 (<= 1.5);
 *      bench/bamboo_status.py (bamboo's get_pipeline_states dict tree,
 *      SOPS's formatting, json.dumps) for the same 10,000 nodes ÷ our JSON
 *      p50 (>= 10).
 *    Before anything is timed, each format's answer is compared byte for
 *    byte with B3's (raw_status.h): the floor must emit the same document.
 *
 * The records are written directly (one transaction of RUN and FINISH
 * transitions per node, as a run would leave them, through the engine's
 * own eng_transit), so a 100,000-node task takes seconds to build rather
 * than a run of the whole flow.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "drive.h"
#include "harness.h"
#include "raw_status.h"
#include "tests/shapes.h"
#include "workloads.h"

#define TRACE "0123456789abcdef0123456789abcdef"

static const char *const fmt_names[] = {"json", "msgpack", "cbor"};

/* The engine's p50 by format and size index, for the scaling rows. */
static double engine_p50[3][3];

/* ---- Building the task ----------------------------------------------------
 */

typedef struct fill {
  st_def d;
} fill;

/* Every node RUNNING then FINISHED, the root first, in one write. */
static int fill_run(eng_txn *t, void *ctx, errbuf *err) {
  fill *f = ctx;
  const char *root = f->d.pool + f->d.pipes[0].id;
  eng_change run = {.action = ACT_RUN, .root_id = root, .parent_id = ""};
  int rc = eng_journal(t, "t", &f->d, "bench", err);
  if (!rc) rc = eng_transit(t, "t", root, &run, NULL, err);
  run.parent_id = root;
  eng_change fin = {.action = ACT_FINISH};
  for (uint32_t i = 0; !rc && i < f->d.n_nodes; i++) {
    const char *id = f->d.pool + f->d.nodes[i].id;
    if (!(rc = eng_transit(t, "t", id, &run, NULL, err)))
      rc = eng_transit(t, "t", id, &fin, NULL, err);
  }
  if (!rc) rc = eng_transit(t, "t", root, &fin, NULL, err);
  return rc;
}

/* Task "t" of about nodes nodes (branches of 10, or of 100 past 10,000
 * nodes: a gateway has at most 1,000 flows), all FINISHED. */
static void build_task(rattan_engine *e, int nodes) {
  int len = nodes > 10000 ? 100 : 10;
  char *tree = shape_fan_out(nodes / len, len);
  if (!tree) bench_die("out of memory");
  drive_create(e, tree, "t");
  rt_free(tree);
  fill f = {{0}};
  st_txn *t;
  errbuf err = {0};
  if (st_read_begin(eng_store(e->e), &t, &err)) bench_die("%s", err.msg);
  if (st_def_get(t, "t", &f.d, &err)) bench_die("%s", err.msg);
  st_read_end(t);
  if (eng_write(e->e, fill_run, &f, &err)) bench_die("fill: %s", err.msg);
  st_def_free(&f.d);
}

/* ---- The engine's answers --------------------------------------------------
 */

static void engine_answer(rattan_engine *e, int fmt, char **out, size_t *len) {
  rattan_status_options so;
  rattan_status_options_init(&so);
  so.format = (rattan_format)fmt;
  so.trace_id = TRACE;
  if (rattan_task_status(e, "t", &so, out, len)) bench_die("status");
}

/* Times samples calls (milliseconds each) into v. */
static void time_status(rattan_engine *e, int fmt, double *v, int samples) {
  char *out;
  size_t len;
  for (int r = 0; r < samples; r++) {
    double t0 = now_us();
    engine_answer(e, fmt, &out, &len);
    v[r] = (now_us() - t0) / 1e3;
    rattan_free(out);
  }
}

/* ---- The concurrent writer --------------------------------------------------
 */

typedef struct writer {
  rattan_engine *e;
  char *chain;
  atomic_int stop;
  unsigned long steps;
  double secs;
} writer;

/* Creates, starts and drives chains one after another on the engine
 * until told to stop; the only thread that changes anything. */
static void *writer_main(void *p) {
  writer *w = p;
  double t0 = now_us();
  for (int i = 0; !atomic_load(&w->stop); i++) {
    char id[32];
    snprintf(id, sizeof id, "w%d", i);
    drive_create(w->e, w->chain, id);
    drive_start(w->e, id);
    rattan_drive_result r;
    do {
      if (rattan_drive(w->e, id, 8, &r)) bench_die("writer drive");
      w->steps += r.steps;
    } while (r.more && !atomic_load(&w->stop));
  }
  w->secs = (now_us() - t0) / 1e6;
  return NULL;
}

/* ---- Python
 * ------------------------------------------------------------------ */

/* bench/bamboo_status.py for nodes nodes, runs times: its median in ms,
 * or a negative value when python3 is absent. */
static double python_ms(int nodes, int runs) {
  if (system("command -v python3 >/dev/null 2>&1")) return -1;
  const char *src = getenv("BENCH_SRC");
  char cmd[600];
  snprintf(cmd, sizeof cmd, "python3 %s/bamboo_status.py %d %d",
           src && *src ? src : "bench", nodes, runs);
  FILE *f = popen(cmd, "r");
  double med = -1;
  if (!f || fscanf(f, "%lf", &med) != 1) bench_die("%s failed", cmd);
  /* Read to the end: closing early could cut the script's last write. */
  char rest[256];
  while (fgets(rest, sizeof rest, f))
    ;
  int st = pclose(f);
  if (st) bench_die("%s failed (status %d)", cmd, st);
  return med;
}

/* ---- Rows -------------------------------------------------------------------
 */

/* Two rows, p50 and p99 over the n samples in v; returns the p50. */
static double pct_rows(const char *id, const char *name, double *v, int n,
                       const char *base, double target) {
  double p50 = stat_pct(v, n, 50), p99 = stat_pct(v, n, 99);
  char rid[ROW_ID_MAX + 8], rname[ROW_NAME_MAX + 8], bid[ROW_ID_MAX + 8];
  /* Rows of one figure each: p50 and p99 over the samples. */
  for (int i = 0; i < 2; i++) {
    double x = i ? p99 : p50;
    snprintf(rid, sizeof rid, "%s.%s", id, i ? "p99" : "p50");
    snprintf(rname, sizeof rname, "%s %s", name, i ? "p99" : "p50");
    snprintf(bid, sizeof bid, "%s.%s", base ? base : "", i ? "p99" : "p50");
    bench_row r = {.runs = n,
                   .med = x,
                   .min = v[0],
                   .max = v[n - 1],
                   .op = base ? TARGET_LE : TARGET_NONE,
                   .target = target};
    str_copy(r.id, sizeof r.id, rid);
    str_copy(r.name, sizeof r.name, rname);
    snprintf(r.unit, sizeof r.unit, "ms");
    if (base) str_copy(r.base, sizeof r.base, bid);
    row_put(&r);
  }
  return p50;
}

static void check_same(const char *what, const char *a, size_t alen,
                       const char *b, size_t blen) {
  size_t i = 0;
  while (i < alen && i < blen && a[i] == b[i])
    i++;
  if (i == alen && i == blen) return;
  size_t from = i > 40 ? i - 40 : 0;
  fprintf(stderr,
          "bench: %s: B3 differs from rattan_task_status at byte %zu"
          " (lengths %zu, %zu)\n  engine: %.80s\n  B3:     %.80s\n",
          what, i, alen, blen, i < alen ? a + from : "",
          i < blen ? b + from : "");
  exit(1);
}

/* One task size: engine figures (idle, and under a writer when busy),
 * then, with the engine closed, B3 on the same records. */
static void status_size(int size, int nodes, int samples, int busy) {
  char dir[512], id[ROW_ID_MAX], name[ROW_NAME_MAX], base[ROW_ID_MAX];
  bench_fresh_dir(dir, sizeof dir, "status");
  rattan_engine *e = drive_open(dir, RATTAN_DURABILITY_SYNC);
  build_task(e, nodes);
  double *v = malloc(sizeof *v * (size_t)samples);
  char *answers[3];
  size_t lens[3];
  if (!v) bench_die("out of memory");
  for (int fmt = 0; fmt < 3; fmt++) {
    engine_answer(e, fmt, &answers[fmt], &lens[fmt]); /* also a warm-up */
    time_status(e, fmt, v, samples);
    snprintf(id, sizeof id, "w8.%s.%d", fmt_names[fmt], nodes);
    snprintf(name, sizeof name, "8 status %d nodes, %s", nodes, fmt_names[fmt]);
    snprintf(base, sizeof base, "b3.%s.%d", fmt_names[fmt], nodes);
    engine_p50[fmt][size] = pct_rows(id, name, v, samples, base, 2);
    char note[48];
    snprintf(note, sizeof note, "%.1f B/node", (double)lens[fmt] / nodes);
    row_note(note);
  }
  if (busy) {
    writer w = {.e = e, .chain = shape_chain(50)};
    pthread_t th;
    if (!w.chain || pthread_create(&th, NULL, writer_main, &w))
      bench_die("writer thread");
    time_status(e, RATTAN_FORMAT_JSON, v, samples);
    atomic_store(&w.stop, 1);
    pthread_join(th, NULL);
    rt_free(w.chain);
    snprintf(id, sizeof id, "w8.busy.%d", nodes);
    snprintf(name, sizeof name, "8 status %d nodes, json, writer busy", nodes);
    double p99 = stat_pct(v, samples, 99);
    snprintf(base, sizeof base, "w8.json.%d.p99", nodes);
    bench_row r = {.runs = samples,
                   .med = p99,
                   .min = v[0],
                   .max = v[samples - 1],
                   .op = TARGET_LE,
                   .target = 1.5};
    char full[ROW_NAME_MAX + 8];
    snprintf(full, sizeof full, "%s.p99", id);
    str_copy(r.id, sizeof r.id, full);
    snprintf(full, sizeof full, "%s p99", name);
    str_copy(r.name, sizeof r.name, full);
    snprintf(r.unit, sizeof r.unit, "ms");
    str_copy(r.base, sizeof r.base, base);
    snprintf(r.note, sizeof r.note, "writer: %.0f steps/s",
             w.steps / (w.secs > 0 ? w.secs : 1));
    if (*bench_durable_refusal())
      snprintf(r.note, sizeof r.note, "writer not durable (tmpfs)");
    row_put(&r);
  }
  rattan_close(e);

  /* B3, with the engine closed: LMDB allows one environment per file
   * per process. */
  MDB_env *env;
  if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
      mdb_env_open(env, dir, MDB_RDONLY, 0600))
    bench_die("raw open of %s", dir);
  raw_answer a = {.task = "t",
                  .task_name = "bench",
                  .trace_id = TRACE,
                  .tz_offset_min = 480};
  for (int fmt = 0; fmt < 3; fmt++) {
    char *out;
    size_t len;
    raw_status(env, &a, (raw_format)fmt, &out, &len);
    check_same(fmt_names[fmt], answers[fmt], lens[fmt], out, len);
    free(out);
    rattan_free(answers[fmt]);
    for (int r = 0; r < samples; r++) {
      double t0 = now_us();
      raw_status(env, &a, (raw_format)fmt, &out, &len);
      v[r] = (now_us() - t0) / 1e3;
      free(out);
    }
    snprintf(id, sizeof id, "b3.%s.%d", fmt_names[fmt], nodes);
    snprintf(name, sizeof name, "B3 scan + same-output %s, %d nodes",
             fmt_names[fmt], nodes);
    pct_rows(id, name, v, samples, NULL, 0);
  }
  for (int which = 0; which < 2; which++) {
    for (int r = 0; r < samples; r++) {
      double t0 = now_us();
      if (which ? !raw_scan_ids(env, "t") : !raw_scan(env, "t"))
        bench_die("raw scan found nothing");
      v[r] = (now_us() - t0) / 1e3;
    }
    snprintf(id, sizeof id, "b3.%s.%d", which ? "ids" : "scan", nodes);
    snprintf(name, sizeof name, "B3 %s, %d nodes (floor, info)",
             which ? "scan + id-only encoder" : "scan only", nodes);
    pct_rows(id, name, v, samples, NULL, 0);
  }
  mdb_env_close(env);
  free(v);
  bench_remove_dir(dir);
}

void group_status(void) {
  static const int full_n[] = {1000, 10000, 100000}, tiny_n[] = {20, 100, 500};
  static const int full_s[] = {101, 51, 11};
  for (int i = 0; i < 3; i++)
    status_size(i, bench_tiny() ? tiny_n[i] : full_n[i],
                bench_tiny() ? 1 : full_s[i], i == 1);
  int big = bench_tiny() ? tiny_n[2] : full_n[2],
      mid = bench_tiny() ? tiny_n[1] : full_n[1];
  /* The scaling row: the large p50 again, against the middle one. */
  for (int fmt = 0; fmt < 3; fmt++) {
    char id[ROW_ID_MAX], name[ROW_NAME_MAX], base[ROW_ID_MAX];
    snprintf(id, sizeof id, "w8.scale.%s", fmt_names[fmt]);
    snprintf(name, sizeof name, "8 status p50, %d vs %d nodes, %s", big, mid,
             fmt_names[fmt]);
    snprintf(base, sizeof base, "w8.%s.%d.p50", fmt_names[fmt], mid);
    bench_row r = {.runs = 1,
                   .med = engine_p50[fmt][2],
                   .min = engine_p50[fmt][2],
                   .max = engine_p50[fmt][2],
                   .op = TARGET_LE,
                   .target = 12};
    str_copy(r.id, sizeof r.id, id);
    str_copy(r.name, sizeof r.name, name);
    snprintf(r.unit, sizeof r.unit, "ms");
    str_copy(r.base, sizeof r.base, base);
    row_put(&r);
  }
  double py = python_ms(mid, bench_pick(5, 1));
  char name[ROW_NAME_MAX], base[ROW_ID_MAX];
  snprintf(name, sizeof name,
           "8 python bamboo dict tree + json.dumps, %d nodes", mid);
  if (py < 0) {
    row_refused("w8.python", name, "skipped (no python3)");
    return;
  }
  snprintf(base, sizeof base, "w8.json.%d.p50", mid);
  row_samples("w8.python", name, "ms", &py, 1, base, TARGET_GE, 10);
}
