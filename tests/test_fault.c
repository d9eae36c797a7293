/*
 * Fault injection over the public API (issue 10, items 2 and 3).
 *
 * Allocation failures: through rattan_set_allocator, the 1st, 2nd, ...
 * allocation of a public call fails (that one only, and in a second
 * sweep every one from it on) until the call gets through without
 * reaching the failing allocation. Each failure must return
 * RATTAN_ENOMEM, free everything it allocated (the test allocator counts
 * live blocks; LeakSanitizer checks too) and leave the store as it was,
 * record for record (st_dump). A call that gets through must answer and
 * store exactly what it does in a store that never saw a failure.
 *
 * I/O failures: st_fault makes the nth put or commit of a write fail
 * with RATTAN_EIO or RATTAN_ENOSPC. The same holds, the message names
 * the store and what failed, and the engine's memory agrees with the
 * disk: the call made again, in the same engine or after a reopen,
 * stores exactly what it stores in a store that never failed (the
 * virtual clock's stored reading, the seeded version generator's
 * position and the definition cache are all behind that).
 *
 * rattan_drive commits many times, so its rule is: a failing drive
 * leaves the store exactly as the unfailed drive left it after k whole
 * commits (a step's transaction, or a batch of steps in GROUP mode),
 * where k is the number of commits the failing drive made; never half of
 * one. Driving on with nothing failing ends in the unfailed drive's
 * store.
 *
 * Each sweep prints one line with its failure points.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api_int.h"
#include "exec_util.h"
#include "fixture.h"
#include "shapes.h"

#define BIZ "2" /* every task's project */

/* ---- The counting allocator ---------------------------------------------
 * live counts blocks allocated through the hook and not freed (jansson's
 * included). While fail_at is set, calls counts allocations and the
 * fail_at-th fails (with forever, every one from it on). */

static long live, calls, fail_at;
static int forever;

/* Diagnostics: BT_AT=n (with BT_CASE=name, BT_ALL=1 for the "from then
 * on" sweep) prints the stack of allocation n when it fails. */
static long bt_at = -1;
static int should_fail(void) {
  if (!fail_at) return 0;
  ++calls;
  if (calls == bt_at) {
    void *f[32];
    fputs("=== BT\n", stderr);
    backtrace_symbols_fd(f, backtrace(f, 32), 2);
  }
  return forever ? calls >= fail_at : calls == fail_at;
}

static void *track[4096];
static long track_at[4096];
static void track_add(void *p) {
  if (!fail_at) return;
  for (int i = 0; i < 4096; i++)
    if (!track[i]) {
      track[i] = p;
      track_at[i] = calls;
      return;
    }
}
static void track_del(void *p) {
  for (int i = 0; i < 4096; i++)
    if (track[i] == p) track[i] = NULL;
}
static void track_report(void) {
  for (int i = 0; i < 4096; i++)
    if (track[i]) fprintf(stderr, "live from allocation %ld\n", track_at[i]);
}
static void track_clear(void) {
  memset(track, 0, sizeof track);
}

static void *t_malloc(size_t n, void *ctx) {
  (void)ctx;
  if (should_fail()) return NULL;
  void *p = malloc(n);
  if (p) live++;
  if (p) track_add(p);
  return p;
}

static void *t_realloc(void *p, size_t n, void *ctx) {
  (void)ctx;
  if (should_fail()) return NULL;
  void *q = realloc(p, n);
  if (q && !p) live++;
  if (q) {
    track_del(p);
    track_add(q);
  }
  return q;
}

static void t_free(void *p, void *ctx) {
  (void)ctx;
  if (p) live--;
  track_del(p);
  free(p);
}

static void use_test_allocator(void) {
  static const rattan_allocator a = {t_malloc, t_realloc, t_free, NULL};
  ASSERT_OK(rattan_set_allocator(&a), "set allocator");
}

/* Arms the fault: allocation n (and with all, every later one) fails. */
static void arm(long n, int all) {
  calls = 0;
  forever = all;
  fail_at = n;
}

/* Disarms it; returns whether the armed allocation was reached. */
static int disarm(void) {
  int hit = fail_at && calls >= fail_at;
  fail_at = 0;
  return hit;
}

/* ---- Bytes ------------------------------------------------------------------
 * Dumps and answers are kept in the C library's memory, outside the
 * hook, so keeping them never disturbs the live count. */

typedef struct bytes {
  char *p;
  size_t n;
} bytes;

static bytes bytes_of(const void *p, size_t n) {
  bytes b = {malloc(n ? n : 1), n};
  ASSERT(b.p);
  if (n) memcpy(b.p, p, n);
  return b;
}

static int bytes_eq(bytes a, bytes b) {
  return a.n == b.n && (a.n == 0 || !memcmp(a.p, b.p, a.n));
}

static void bytes_free(bytes *b) {
  free(b->p);
  *b = (bytes){0};
}

/* Every record of e's store. */
static bytes dump(rattan_engine *e) {
  buf b = fx_dump(e->e);
  bytes r = bytes_of(b.data, b.len);
  buf_free(&b);
  return r;
}

static void expect_dump(rattan_engine *e, bytes want, const char *what,
                        long n) {
  bytes got = dump(e);
  if (!bytes_eq(got, want))
    TEST_FAIL_("%s, point %ld: the store differs (%zu bytes, expected %zu)",
               what, n, got.n, want.n);
  bytes_free(&got);
}

/* Copies file from to file to (both whole, small). */
static __attribute__((unused)) void copy_file(const char *from,
                                              const char *to) {
  size_t n;
  char *b = test_slurp(from, &n);
  FILE *f = fopen(to, "wb");
  ASSERT(f);
  ASSERT_EQ(fwrite(b, 1, n, f), n);
  ASSERT_EQ(fclose(f), 0);
  free(b);
}

/* ---- Engines ----------------------------------------------------------------
 */

#define FOREVER_US 600000000u /* a group window no test reaches */

typedef struct mode {
  rattan_durability durability;
  size_t map_size, map_size_max;
} mode;

static const mode NOSYNC = {RATTAN_DURABILITY_NOSYNC, 0, 0};
static const mode SYNC = {RATTAN_DURABILITY_SYNC, 0, 0};
static const mode GROUP = {RATTAN_DURABILITY_GROUP, 0, 0};

/* A CALLBACK component that finishes on its callback with output got. It
 * ignores what storing the output returns: an allocation failure there
 * must come back from rattan_drive as RATTAN_ENOMEM regardless. */
static int wcb_execute(rattan_call *c, void *ctx) {
  (void)c;
  (void)ctx;
  return 0;
}
static int wcb_schedule(rattan_call *c, void *ctx) {
  (void)ctx;
  (void)rattan_call_set_output_int(c, "got", 1);
  return 0;
}

/* Opens the store in dir: virtual clock at XU_T0, seed 42, and (GROUP)
 * batches that only group_max (3) and the end of a drive close, so the
 * commits are the same on every run. Registers wcb. */
static rattan_engine *open_dir(const char *dir, mode m) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = m.durability;
  o.map_size = m.map_size;
  o.map_size_max = m.map_size_max;
  o.clock.kind = RATTAN_CLOCK_VIRTUAL;
  o.clock.start_us = XU_T0;
  o.has_seed = 1;
  o.seed = 42;
  o.group_window_us = FOREVER_US;
  o.group_max = 3;
  mkdir(dir, 0700);
  rattan_engine *e;
  char msg[512];
  ASSERT_OK(rattan_open(dir, &o, &e, msg, sizeof msg), msg);
  const rattan_component c = {
      "wcb", RATTAN_SCHEDULE_CALLBACK, 0, wcb_execute, wcb_schedule, NULL};
  ASSERT_OK(rattan_component_register(e, &c), rattan_errmsg(e));
  return e;
}

/* ---- The world
 * ---------------------------------------------------------------- One store
 * holding a task in every state a call needs, built once per test and copied
 * (data.mdb) into a fresh directory for each run. */

static char *tree_wait, *tree_drive, *tree_sops;
static bytes world_file; /* the world's data.mdb */
static bytes replay_src; /* an export of task "r", not in the world */

static void create(rattan_engine *e, const char *json, const char *id) {
  rattan_task_options o = {.id = id, .project = BIZ};
  char out[RATTAN_ID_MAX + 1];
  ASSERT_OK(rattan_task_create(e, json, strlen(json), &o, out),
            rattan_errmsg(e));
}

static void start(rattan_engine *e, const char *json, const char *id) {
  create(e, json, id);
  ASSERT_OK(rattan_task_start(e, id), rattan_errmsg(e));
}

static void drive_all(rattan_engine *e, const char *task) {
  rattan_drive_result r;
  do
    ASSERT_OK(rattan_drive(e, task, 0, &r), rattan_errmsg(e));
  while (r.more);
}

/* Compact JSON of tree p (consumed), in the C library's memory. */
static char *tree_text(json_t *p) {
  char *s = tb_json(p);
  char *r = strdup(s);
  ASSERT(r);
  rattan_free(s); /* jansson allocated it through the hook */
  return r;
}

/* p: s -> a -> sp (s_sp -> w -> x -> e_sp) -> b -> e, w waiting on a
 * callback. */
static char *make_wait(void) {
  json_t *p = tb_new("p", "s", "e");
  tb_act(p, "a", "noop");
  tb_sub(p, "sp", TB_LINE("sp", "s_sp w x e_sp", "wcb", "noop"));
  tb_act(p, "b", "noop");
  tb_link(p, "s a sp b e");
  return tree_text(p);
}

/* Every kind of step: an activity, an exclusive gateway, a timer (a poll
 * on the virtual clock), a parallel fork and join, a subprocess. */
static char *make_drive(void) {
  json_t *p = tb_new("p", "s", "e");
  tb_var(p, "${x}", "plain", J("1"));
  tb_act(p, "a", "noop");
  tb_fork(p, "eg", "ExclusiveGateway", "cg1");
  json_t *t = tb_act(p, "t", "sleep_timer");
  tb_in(t, "bk_timing", "plain", J("2"));
  tb_act(p, "z", "noop");
  tb_link(p, "s a eg t cg1");
  tb_link(p, "eg z cg1");
  tb_cond(p, "eg", "t", "${x} == 1");
  tb_cond(p, "eg", "z", "${x} != 1");
  tb_fork(p, "pg", "ParallelGateway", "cg2");
  tb_fan(p, "pg", "cg2", "x", 2, "noop");
  tb_link(p, "cg1 pg");
  tb_sub(p, "sp", TB_LINE("sp", "s2 y e2", "noop"));
  tb_link(p, "cg2 sp e");
  return tree_text(p);
}

static void build_world(void) {
  tree_wait = make_wait();
  tree_drive = make_drive();
  size_t n;
  tree_sops = test_slurp("tests/data/loop-sample.json", &n);

  /* The export to replay comes from another store. */
  rattan_engine *e = open_dir(test_path("replay-src"), NOSYNC);
  start(e, tree_wait, "r");
  drive_all(e, "r");
  void *x;
  size_t xn;
  ASSERT_OK(rattan_export(e, "r", &x, &xn), rattan_errmsg(e));
  replay_src = bytes_of(x, xn);
  rattan_free(x);
  rattan_close(e);

  e = open_dir(test_path("world"), NOSYNC);
  create(e, tree_wait, "c"); /* created, never started */
  const char *waiting[] = {"w", "pz", "ns", "sz"};
  for (int i = 0; i < 4; i++) {
    start(e, tree_wait, waiting[i]);
    drive_all(e, waiting[i]);
  }
  ASSERT_OK(rattan_task_pause(e, "pz"), rattan_errmsg(e));
  ASSERT_OK(rattan_node_pause(e, "ns", "b"), rattan_errmsg(e));
  ASSERT_OK(rattan_subprocess_pause(e, "sz", "sp"), rattan_errmsg(e));

  /* f: a failed activity. */
  char *s = tree_text(TB_CHAIN("fail"));
  start(e, s, "f");
  drive_all(e, "f");
  free(s);
  /* eg: an exclusive gateway whose conditions all fail. */
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "eg", "ExclusiveGateway", "cg");
  tb_act(p, "x1", "noop");
  tb_act(p, "y", "noop");
  tb_link(p, "s eg x1 cg e");
  tb_link(p, "eg y cg");
  tb_cond(p, "eg", "x1", "True == False");
  tb_cond(p, "eg", "y", "True == False");
  s = tree_text(p);
  start(e, s, "eg");
  drive_all(e, "eg");
  free(s);
  /* cpg: a conditional parallel gateway whose conditions all fail. */
  p = tb_new("p", "s", "e");
  tb_fork(p, "cpg", "ConditionalParallelGateway", "cg");
  tb_fan(p, "cpg", "cg", "x", 3, "noop");
  for (int i = 0; i < 3; i++)
    tb_cond(p, "cpg", tb_nid("x", i), "1 == 2");
  tb_link(p, "s cpg");
  tb_link(p, "cg e");
  s = tree_text(p);
  start(e, s, "cpg");
  drive_all(e, "cpg");
  free(s);
  /* sr: a subprocess failed on its params. */
  json_t *c = TB_LINE("sp", "s_sp in e_sp", "noop");
  tb_var(c, "${v}", "plain", J("1"));
  p = tb_wrap(c);
  tb_param(tb_node(p, "sp"), "${v}", "splice", J("'${1 / 0}'"));
  s = tree_text(p);
  start(e, s, "sr");
  drive_all(e, "sr");
  free(s);
  /* d: started, to drive. */
  start(e, tree_drive, "d");
  ASSERT_EQ(xu_state(e, "f", "a1"), RATTAN_STATE_FAILED);
  ASSERT_EQ(xu_state(e, "eg", "eg"), RATTAN_STATE_FAILED);
  ASSERT_EQ(xu_state(e, "cpg", "cpg"), RATTAN_STATE_FAILED);
  ASSERT_EQ(xu_state(e, "sr", "sp"), RATTAN_STATE_FAILED);
  ASSERT_EQ(xu_state(e, "w", "w"), RATTAN_STATE_RUNNING);
  rattan_close(e);
  size_t wn;
  char *w = test_slurp(test_path("world/data.mdb"), &wn);
  world_file = (bytes){w, wn};
}

static void free_world(void) {
  free(tree_wait);
  free(tree_drive);
  free(tree_sops);
  bytes_free(&world_file);
  bytes_free(&replay_src);
}

/* A fresh copy of the world in test_dir()/name, opened. */
static rattan_engine *world_at(const char *name, mode m) {
  char dir[512], file[600];
  snprintf(dir, sizeof dir, "%s", test_path(name));
  mkdir(dir, 0700);
  snprintf(file, sizeof file, "%s/lock.mdb", dir);
  unlink(file);
  snprintf(file, sizeof file, "%s/data.mdb", dir);
  FILE *f = fopen(file, "wb");
  ASSERT(f);
  ASSERT_EQ(fwrite(world_file.p, 1, world_file.n, f), world_file.n);
  ASSERT_EQ(fclose(f), 0);
  return open_dir(dir, m);
}

/* ---- The calls --------------------------------------------------------------
 * Each makes one public call; an answer it returns goes into *out (the C
 * library's memory). On failure the call's documented outputs must be
 * empty: an answer allocated for a failure would be a leak to a caller
 * that trusts the documentation. */

typedef int (*call_fn)(rattan_engine *e, bytes *out);

typedef struct fcase {
  const char *name;
  call_fn call;
  int writes;   /* success changes the store */
  int final_rc; /* what the call returns when nothing fails */
} fcase;

static int c_create(rattan_engine *e, bytes *out) {
  rattan_task_options o = {.project = BIZ};
  char id[RATTAN_ID_MAX + 1] = "";
  int rc = rattan_task_create(e, tree_drive, strlen(tree_drive), &o, id);
  if (rc == 0) *out = bytes_of(id, strlen(id));
  return rc;
}
static int c_create_sops(rattan_engine *e, bytes *out) {
  rattan_task_options o = {.id = "sops", .project = BIZ};
  char id[RATTAN_ID_MAX + 1];
  (void)out;
  return rattan_task_create(e, tree_sops, strlen(tree_sops), &o, id);
}
static int c_create_invalid(rattan_engine *e, bytes *out) {
  static const char bad[] =
      "{\"id\":\"p\",\"start_event\":{\"id\":\"s\",\"type\":"
      "\"EmptyStartEvent\",\"incoming\":\"\",\"outgoing\":\"f1\"},"
      "\"activities\":{},\"gateways\":{},\"flows\":{\"f1\":{\"id\":\"f1\","
      "\"source\":\"s\",\"target\":\"nowhere\"}},\"end_event\":{\"id\":\"e\","
      "\"type\":\"EmptyEndEvent\",\"incoming\":[],\"outgoing\":\"\"},"
      "\"data\":{\"inputs\":{},\"outputs\":[]}}";
  char id[RATTAN_ID_MAX + 1];
  (void)out;
  return rattan_task_create(e, bad, sizeof bad - 1, NULL, id);
}
static int c_start(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_task_start(e, "c");
}
static int c_pause(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_task_pause(e, "w");
}
static int c_resume(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_task_resume(e, "pz");
}
static int c_revoke(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_task_revoke(e, "w");
}
static int c_retry(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_node_retry(e, "f", "a1", NULL);
}
static int c_retry_inputs(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_node_retry(e, "f", "a1", "{\"bit\":1,\"k\":\"${x}\"}");
}
static int c_skip(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_node_skip(e, "f", "a1");
}
static int c_skip_exg(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_node_skip_exg(e, "eg", "eg", tb_fid("eg", "x1"));
}
static int c_skip_cpg(rattan_engine *e, bytes *out) {
  (void)out;
  const char *flows[] = {tb_fid("cpg", "x0"), tb_fid("cpg", "x2")};
  return rattan_node_skip_cpg(e, "cpg", "cpg", flows, 2);
}
static int c_node_pause(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_node_pause(e, "w", "b");
}
static int c_node_resume(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_node_resume(e, "ns", "b");
}
static int c_sub_pause(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_subprocess_pause(e, "w", "sp");
}
static int c_sub_resume(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_subprocess_resume(e, "sz", "sp");
}
static int c_sub_retry(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_subprocess_retry(e, "sr", "sp");
}
static int c_forced_fail(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_node_forced_fail(e, "w", "w", "stopped by the operator");
}
static int c_callback(rattan_engine *e, bytes *out) {
  (void)out;
  return rattan_node_callback(e, "w", "w", "{\"ok\":[1,2,\"three\"]}", NULL);
}

/* An answer allocated by rattan (len bytes at p, or NULL) into *out. */
static int answer(int rc, void *p, size_t len, bytes *out) {
  if (rc == RATTAN_ENOMEM && p)
    TEST_FAIL_("RATTAN_ENOMEM with an answer of %zu bytes", len);
  if (p) *out = bytes_of(p, len);
  rattan_free(p);
  return rc;
}

static int status_in(rattan_engine *e, rattan_format f, const char *sub,
                     bytes *out) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.format = f;
  o.trace_id = "trace-1";
  o.with_ex_data = 1;
  o.subprocess_id = sub;
  char *s = NULL;
  size_t n = 0;
  int rc = rattan_task_status(e, "w", &o, &s, &n);
  return answer(rc, s, n, out);
}
static int c_status_json(rattan_engine *e, bytes *out) {
  return status_in(e, RATTAN_FORMAT_JSON, NULL, out);
}
static int c_status_msgpack(rattan_engine *e, bytes *out) {
  return status_in(e, RATTAN_FORMAT_MSGPACK, NULL, out);
}
static int c_status_cbor(rattan_engine *e, bytes *out) {
  return status_in(e, RATTAN_FORMAT_CBOR, NULL, out);
}
static int c_status_sub(rattan_engine *e, bytes *out) {
  return status_in(e, RATTAN_FORMAT_JSON, "sp", out);
}
static int c_tasks_status(rattan_engine *e, bytes *out) {
  const char *ids[] = {"w", "f", "sr"};
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.trace_id = "trace-1";
  char *s = NULL;
  size_t n = 0;
  int rc = rattan_tasks_status(e, ids, 3, 1, &o, &s, &n);
  return answer(rc, s, n, out);
}
static int c_node_detail(rattan_engine *e, bytes *out) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.trace_id = "trace-1";
  char *s = NULL;
  size_t n = 0;
  int rc = rattan_node_detail(e, "f", "a1", 0, &o, &s, &n);
  return answer(rc, s, n, out);
}
static int c_task_detail(rattan_engine *e, bytes *out) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.trace_id = "trace-1";
  char *s = NULL;
  size_t n = 0;
  int rc = rattan_task_detail(e, "w", &o, &s, &n);
  return answer(rc, s, n, out);
}
static int c_definition(rattan_engine *e, bytes *out) {
  char *s = NULL;
  size_t n = 0;
  int rc = rattan_task_definition(e, "w", &s, &n);
  return answer(rc, s, n, out);
}
static int c_node_data(rattan_engine *e, bytes *out) {
  char *s = NULL;
  size_t n = 0;
  int rc = rattan_node_data(e, "f", "a1", &s, &n);
  return answer(rc, s, n, out);
}
static int c_export(rattan_engine *e, bytes *out) {
  void *s = NULL;
  size_t n = 0;
  int rc = rattan_export(e, "w", &s, &n);
  return answer(rc, s, n, out);
}

/* rattan_task_nodes: the views, one line each, into a fixed buffer (no
 * allocation inside the callback). */
typedef struct lines {
  char text[8192];
  size_t len;
} lines;
static int view_line(void *ctx, const rattan_node_view *v) {
  lines *l = ctx;
  int n = snprintf(l->text + l->len, sizeof l->text - l->len,
                   "%s %s %s %u %d %u %s\n", v->id, v->name, v->type, v->depth,
                   (int)v->state, v->loop, v->ex_data ? v->ex_data : "-");
  ASSERT(n > 0 && (size_t)n < sizeof l->text - l->len);
  l->len += (size_t)n;
  return 0;
}
static int c_nodes(rattan_engine *e, bytes *out) {
  static lines l;
  l.len = 0;
  int rc = rattan_task_nodes(e, "w", view_line, &l);
  if (rc == 0) *out = bytes_of(l.text, l.len);
  return rc;
}

static int c_replay(rattan_engine *e, bytes *out) {
  rattan_replay_result r;
  int rc = rattan_replay(e, replay_src.p, replay_src.n, NULL, &r);
  if (rc == 0) *out = bytes_of(&r, sizeof r);
  return rc;
}

static int gateway(rattan_engine *e, const char *method, const char *path,
                   const char *body, bytes *out) {
  rattan_request rq;
  rattan_request_init(&rq);
  rq.method = method;
  rq.path = path;
  rq.body = body;
  rq.body_len = body ? strlen(body) : 0;
  rq.trace_id = "trace-1";
  rq.username = "alice";
  rq.base_url = "http://rattan/";
  char *s = NULL;
  size_t n = 0;
  int http = 0;
  int rc = rattan_gateway(e, &rq, &s, &n, &http);
  if (rc != RATTAN_ENOMEM) ASSERT_EQ(http, 200);
  return answer(rc, s, n, out);
}
static int c_gw_status(rattan_engine *e, bytes *out) {
  return gateway(e, "GET", "get_task_status/w/" BIZ "/", NULL, out);
}
static int c_gw_callback(rattan_engine *e, bytes *out) {
  return gateway(e, "POST", "node_callback/w/" BIZ "/",
                 "{\"node_id\": \"w\", \"callback_data\": {\"ok\": 1}}", out);
}
static int c_gw_forced_fail(rattan_engine *e, bytes *out) {
  return gateway(e, "POST", "operate_node/" BIZ "/w/",
                 "{\"node_id\": \"w\", \"action\": \"forced_fail\"}", out);
}

static const fcase creates[] = {
    {"create", c_create, 1, RATTAN_OK},
    {"create_sops", c_create_sops, 1, RATTAN_OK},
    {"create_invalid", c_create_invalid, 0, RATTAN_EDEF},
};

static const fcase operations[] = {
    {"start", c_start, 1, RATTAN_OK},
    {"pause", c_pause, 1, RATTAN_OK},
    {"resume", c_resume, 1, RATTAN_OK},
    {"revoke", c_revoke, 1, RATTAN_OK},
    {"retry", c_retry, 1, RATTAN_OK},
    {"retry_inputs", c_retry_inputs, 1, RATTAN_OK},
    {"skip", c_skip, 1, RATTAN_OK},
    {"skip_exg", c_skip_exg, 1, RATTAN_OK},
    {"skip_cpg", c_skip_cpg, 1, RATTAN_OK},
    {"node_pause", c_node_pause, 1, RATTAN_OK},
    {"node_resume", c_node_resume, 1, RATTAN_OK},
    {"subprocess_pause", c_sub_pause, 1, RATTAN_OK},
    {"subprocess_resume", c_sub_resume, 1, RATTAN_OK},
    {"subprocess_retry", c_sub_retry, 1, RATTAN_OK},
    {"forced_fail", c_forced_fail, 1, RATTAN_OK},
    {"callback", c_callback, 1, RATTAN_OK},
};

static const fcase reads[] = {
    {"status_json", c_status_json, 0, RATTAN_OK},
    {"status_msgpack", c_status_msgpack, 0, RATTAN_OK},
    {"status_cbor", c_status_cbor, 0, RATTAN_OK},
    {"status_subprocess", c_status_sub, 0, RATTAN_OK},
    {"tasks_status", c_tasks_status, 0, RATTAN_OK},
    {"node_detail", c_node_detail, 0, RATTAN_OK},
    {"task_detail", c_task_detail, 0, RATTAN_OK},
    {"task_nodes", c_nodes, 0, RATTAN_OK},
    {"definition", c_definition, 0, RATTAN_OK},
    {"node_data", c_node_data, 0, RATTAN_OK},
    {"export", c_export, 0, RATTAN_OK},
};

static const fcase others[] = {
    {"replay", c_replay, 1, RATTAN_OK},
    {"gateway_get", c_gw_status, 0, RATTAN_OK},
    {"gateway_callback", c_gw_callback, 1, RATTAN_OK},
    {"gateway_forced_fail", c_gw_forced_fail, 1, RATTAN_OK},
};

/* The call made once in a fresh world, nothing failing: its answer and
 * the store it leaves. */
typedef struct outcome {
  bytes out, store;
} outcome;

static outcome reference(const fcase *c, mode m) {
  rattan_engine *e = world_at("ref", m);
  outcome r = {0};
  ASSERT_ERR(c->call(e, &r.out), c->final_rc);
  r.store = dump(e);
  rattan_close(e);
  return r;
}

static void outcome_free(outcome *o) {
  bytes_free(&o->out);
  bytes_free(&o->store);
}

/* The call got through (rc is its final code): it must have answered and
 * stored what the reference did. */
static void expect_outcome(rattan_engine *e, const fcase *c, int rc, bytes out,
                           const outcome *ref, long n) {
  if (rc != c->final_rc)
    TEST_FAIL_("%s, point %ld: %s (%s)", c->name, n, rattan_errname(rc),
               rattan_errmsg(e));
  if (!bytes_eq(out, ref->out) && getenv("SHOW_DIFF"))
    fprintf(stderr, "got:  %.*s\nwant: %.*s\n", (int)out.n, out.p,
            (int)ref->out.n, ref->out.p);
  if (!bytes_eq(out, ref->out))
    TEST_FAIL_("%s, point %ld: the answer differs from the reference", c->name,
               n);
  expect_dump(e, ref->store, c->name, n);
}

/* ---- The allocation sweep
 * ------------------------------------------------------ Fails allocation n =
 * 1, 2, ... of c (with all: every one from n on) until the call no longer
 * reaches it. One engine serves the whole sweep (failures must not disturb it);
 * a write that gets through although an allocation failed (one it could do
 * without) is checked against the reference and the world restored for the next
 * point. Returns the number of points that failed the call. */
static long oom_sweep(const fcase *c, int all) {
  outcome ref = reference(c, NOSYNC);
  long live_closed = live;
  rattan_engine *e = world_at("oom", NOSYNC);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", test_path("oom"));
  bytes before = dump(e);
  long points = 0;
  for (long n = 1;; n++) {
    bytes out = {0};
    long live0 = live;
    track_clear();
    if (getenv("BT_AT") && !strcmp(getenv("BT_CASE"), c->name) &&
        n == atol(getenv("BT_AT")) && !all)
      bt_at = n;
    else
      bt_at = -1;
    arm(n, all);
    int rc = c->call(e, &out);
    int hit = disarm();
    if (!hit || rc == c->final_rc) {
      expect_outcome(e, c, rc, out, &ref, n);
      bytes_free(&out);
      if (!hit) break;
      if (c->writes) {
        rattan_close(e);
        e = world_at("oom", NOSYNC);
      }
      continue;
    }
    points++;
    if (rc != RATTAN_ENOMEM)
      TEST_FAIL_("%s, allocation %ld%s: %s (%s)", c->name, n, all ? " on" : "",
                 rattan_errname(rc), rattan_errmsg(e));
    if (out.p) TEST_FAIL_("%s, allocation %ld: an answer", c->name, n);
    expect_dump(e, before, c->name, n);
    if (live != live0) {
      /* Blocks a failed call leaves are a leak unless the engine owns
       * them: its definition cache and its write transaction's scratch
       * buffer fill once and stay until rattan_close. */
      rattan_close(e);
      if (live != live_closed) track_report();
      if (live != live_closed)
        TEST_FAIL_("%s, allocation %ld%s: %ld blocks leaked", c->name, n,
                   all ? " on" : "", live - live_closed);
      e = open_dir(dir, NOSYNC);
    }
  }
  rattan_close(e);
  ASSERT_EQ(live, live_closed);
  bytes_free(&before);
  outcome_free(&ref);
  return points;
}

/* Sweeps every case of the table both ways; each case must fail at no
 * fewer than min points, so no sweep passes by never failing. */
static void oom_table(const char *what, const fcase *cs, size_t n, long min) {
  char line[4096];
  size_t len = (size_t)snprintf(line, sizeof line, "oom: %s:", what);
  for (size_t i = 0; i < n; i++) {
    long once = oom_sweep(&cs[i], 0), on = oom_sweep(&cs[i], 1);
    if (once < min || on < min)
      TEST_FAIL_("%s: only %ld and %ld failure points", cs[i].name, once, on);
    len += (size_t)snprintf(line + len, sizeof line - len, " %s %ld/%ld",
                            cs[i].name, once, on);
  }
  printf("%s (points failing once/from then on)\n", line);
}

static void oom_begin(void) {
  use_test_allocator();
  build_world();
}

static void oom_end(void) {
  free_world();
  ASSERT_OK(rattan_set_allocator(NULL), "reset allocator");
}

void test_oom_create(void) {
  oom_begin();
  oom_table("create", creates, sizeof creates / sizeof creates[0], 20);
  oom_end();
}

void test_oom_operations(void) {
  oom_begin();
  oom_table("operations", operations, sizeof operations / sizeof operations[0],
            5);
  oom_end();
}

void test_oom_reads(void) {
  oom_begin();
  oom_table("reads", reads, sizeof reads / sizeof reads[0], 2);
  oom_end();
}

void test_oom_replay_gateway(void) {
  oom_begin();
  oom_table("replay and gateway", others, sizeof others / sizeof others[0], 5);
  oom_end();
}

/* ---- Drives
 * ------------------------------------------------------------------- The
 * reference drive of task d records the store after each of its commits
 * (st_on_commit): trail[k] is the store after k commits. */

typedef struct trail {
  rattan_engine *e;
  bytes at[512];
  size_t n;
} trail;

static void record(void *ctx) {
  trail *t = ctx;
  ASSERT(t->n < sizeof t->at / sizeof t->at[0]);
  t->at[t->n++] = dump(t->e);
}

static void trail_make(trail *t, mode m) {
  t->e = world_at("ref", m);
  t->n = 0;
  t->at[t->n++] = dump(t->e);
  st_on_commit(eng_store(t->e->e), record, t);
  drive_all(t->e, "d");
  ASSERT_EQ(xu_task_state(t->e, "d"), RATTAN_STATE_FINISHED);
  st_on_commit(eng_store(t->e->e), NULL, NULL);
  rattan_close(t->e);
}

static void trail_free(trail *t) {
  for (size_t i = 0; i < t->n; i++)
    bytes_free(&t->at[i]);
}

/* After a drive failed with k commits made: the store is the reference's
 * after k commits, and driving on ends in the reference's final store. */
static void drive_failed(rattan_engine *e, const trail *t, uint64_t k,
                         const char *what, long n) {
  if (k >= t->n)
    TEST_FAIL_("%s, point %ld: %llu commits", what, n, (unsigned long long)k);
  char when[64];
  snprintf(when, sizeof when, "%s after %llu commits", what,
           (unsigned long long)k);
  expect_dump(e, t->at[k], when, n);
  drive_all(e, "d");
  snprintf(when, sizeof when, "%s, driven on", what);
  expect_dump(e, t->at[t->n - 1], when, n);
}

/* Fails allocation n = 1, 2, ... of a drive of d (each from a fresh
 * world) until the drive gets through; every step-th point only, to
 * keep the sweep's time in bounds (step 1 in the normal build). */
static long oom_drive(mode m, int all, long step) {
  trail t;
  trail_make(&t, m);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", test_path("oom"));
  long points = 0;
  for (long n = 1;; n += step) {
    long live_closed = live;
    rattan_engine *e = world_at("oom", m);
    uint64_t txn0 = st_last_txn(eng_store(e->e));
    rattan_drive_result r;
    bt_at = getenv("BT_AT") && (!all) == !getenv("BT_ALL") &&
                    n == atol(getenv("BT_AT"))
                ? n
                : -1;
    arm(n, all);
    int rc = rattan_drive(e, "d", 0, &r);
    int hit = disarm();
    if (!hit) {
      ASSERT_OK(rc, rattan_errmsg(e));
      ASSERT_EQ(r.more, 0);
      expect_dump(e, t.at[t.n - 1], all ? "drive (on)" : "drive", n);
      rattan_close(e);
      break;
    }
    if (rc == 0) {
      /* An allocation the drive could do without: it must still reach
       * the reference (driving on if it stopped early). */
      drive_all(e, "d");
      expect_dump(e, t.at[t.n - 1],
                  m.durability == RATTAN_DURABILITY_GROUP
                      ? (all ? "group drive got through (on)"
                             : "group drive got through")
                      : (all ? "drive got through (on)" : "drive got through"),
                  n);
    } else {
      points++;
      if (rc != RATTAN_ENOMEM)
        TEST_FAIL_("drive, allocation %ld%s: %s (%s)", n, all ? " on" : "",
                   rattan_errname(rc), rattan_errmsg(e));
      drive_failed(e, &t, st_last_txn(eng_store(e->e)) - txn0, "drive", n);
    }
    rattan_close(e);
    if (live != live_closed)
      TEST_FAIL_("drive, allocation %ld%s: %ld blocks leaked", n,
                 all ? " on" : "", live - live_closed);
  }
  trail_free(&t);
  return points;
}

/* Sanitizer builds run a third of the points: the sweep would take
 * minutes. */
#if defined(__SANITIZE_ADDRESS__)
#define DRIVE_STEP 3
#else
#define DRIVE_STEP 1
#endif

void test_oom_drive(void) {
  oom_begin();
  long once = oom_drive(NOSYNC, 0, DRIVE_STEP);
  long on = oom_drive(NOSYNC, 1, DRIVE_STEP);
  long g_once = oom_drive(GROUP, 0, DRIVE_STEP);
  long g_on = oom_drive(GROUP, 1, DRIVE_STEP);
  printf(
      "oom: drive: per-step commits %ld/%ld, group commit %ld/%ld "
      "(points failing once/from then on, every %dth)\n",
      once, on, g_once, g_on, DRIVE_STEP);
  ASSERT(once >= 100 / DRIVE_STEP && g_once >= 100 / DRIVE_STEP);
  ASSERT(on >= 100 / DRIVE_STEP && g_on >= 100 / DRIVE_STEP);
  oom_end();
}

/* ---- I/O failures
 * --------------------------------------------------------------- st_fault
 * fails the nth put or commit with code. */

static const char *const what_name[] = {"put", "commit"};

/* A store error's message names the store and what failed. */
static void expect_io_message(rattan_engine *e, const char *dir, int what) {
  const char *msg = rattan_errmsg(e);
  ASSERT_CONTAINS(msg, "store ");
  ASSERT_CONTAINS(msg, dir);
  if (what == ST_FAULT_COMMIT)
    ASSERT_CONTAINS(msg, "commit");
  else if (!strstr(msg, "put in") && !strstr(msg, "insert in"))
    TEST_FAIL_("no failed put named: %s", msg);
}

/* Fails put or commit n = 1, 2, ... of write c with code, each time in a
 * fresh world: the call fails with code, names the store, changes
 * nothing; made again (after a reopen on odd n) it stores what the
 * reference stores. Returns the points. */
static long io_sweep(const fcase *c, mode m, int what, int code) {
  outcome ref = reference(c, m);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", test_path("io"));
  long points = 0;
  for (long n = 1;; n++) {
    rattan_engine *e = world_at("io", m);
    bytes before = dump(e), out = {0};
    st_fault(eng_store(e->e), what, (unsigned)n, code);
    int rc = c->call(e, &out);
    st_fault(eng_store(e->e), what, 0, 0);
    if (rc == c->final_rc) {
      expect_outcome(e, c, rc, out, &ref, n);
      bytes_free(&out);
      bytes_free(&before);
      rattan_close(e);
      break;
    }
    points++;
    if (rc != code)
      TEST_FAIL_("%s, %s %ld: %s (%s)", c->name, what_name[what], n,
                 rattan_errname(rc), rattan_errmsg(e));
    if (c->call != c_gw_callback && c->call != c_gw_forced_fail)
      expect_io_message(e, dir, what);
    expect_dump(e, before, c->name, n);
    bytes_free(&out); /* the gateway answers a store error with a view */
    if (n % 2) {
      rattan_close(e);
      e = open_dir(dir, m);
    }
    rc = c->call(e, &out);
    expect_outcome(e, c, rc, out, &ref, n);
    bytes_free(&out);
    bytes_free(&before);
    rattan_close(e);
  }
  outcome_free(&ref);
  return points;
}

static long io_table(const fcase *cs, size_t n, mode m, char *line,
                     size_t cap) {
  static const int codes[] = {RATTAN_EIO, RATTAN_ENOSPC};
  long total = 0;
  size_t len = strlen(line);
  for (size_t i = 0; i < n; i++) {
    if (!cs[i].writes) continue;
    long p = 0;
    for (int what = ST_FAULT_PUT; what <= ST_FAULT_COMMIT; what++)
      for (int k = 0; k < 2; k++) {
        long one = io_sweep(&cs[i], m, what, codes[k]);
        if (one < 1)
          TEST_FAIL_("%s: no %s failed", cs[i].name, what_name[what]);
        p += one;
      }
    len += (size_t)snprintf(line + len, cap - len, " %s %ld", cs[i].name, p);
    total += p;
  }
  return total;
}

void test_fault_io_writes(void) {
  oom_begin();
  char line[4096] = "io: writes (put and commit, EIO and ENOSPC, SYNC):";
  long total = io_table(creates, 3, SYNC, line, sizeof line);
  total += io_table(operations, sizeof operations / sizeof operations[0], SYNC,
                    line, sizeof line);
  total += io_table(others, sizeof others / sizeof others[0], SYNC, line,
                    sizeof line);
  printf("%s; %ld points\n", line, total);
  oom_end();
}

/* Fails put or commit n = 1, 2, ... of a drive of d; the drive fails
 * with code after whole commits only, and driving on (in the same engine
 * on even n, after a reopen on odd n) reaches the reference. */
static long io_drive(mode m, int what, int code) {
  trail t;
  trail_make(&t, m);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", test_path("io"));
  long points = 0;
  for (long n = 1;; n++) {
    rattan_engine *e = world_at("io", m);
    uint64_t txn0 = st_last_txn(eng_store(e->e));
    st_fault(eng_store(e->e), what, (unsigned)n, code);
    rattan_drive_result r;
    int rc = rattan_drive(e, "d", 0, &r);
    st_fault(eng_store(e->e), what, 0, 0);
    if (rc == 0) {
      ASSERT_EQ(r.more, 0);
      expect_dump(e, t.at[t.n - 1], "drive", n);
      rattan_close(e);
      break;
    }
    points++;
    if (rc != code)
      TEST_FAIL_("drive, %s %ld: %s (%s)", what_name[what], n,
                 rattan_errname(rc), rattan_errmsg(e));
    expect_io_message(e, dir, what);
    uint64_t k = st_last_txn(eng_store(e->e)) - txn0;
    if (n % 2) {
      rattan_close(e);
      e = open_dir(dir, m);
    }
    char what_s[64];
    snprintf(what_s, sizeof what_s, "drive %s %s %s",
             m.durability == RATTAN_DURABILITY_GROUP ? "group" : "sync",
             what_name[what], code == RATTAN_EIO ? "EIO" : "ENOSPC");
    drive_failed(e, &t, k, what_s, n);
    rattan_close(e);
  }
  trail_free(&t);
  return points;
}

void test_fault_io_drive(void) {
  oom_begin();
  long p[2][2][2];
  const mode ms[2] = {SYNC, GROUP};
  for (int mi = 0; mi < 2; mi++)
    for (int what = 0; what < 2; what++) {
      p[mi][what][0] = io_drive(ms[mi], what, RATTAN_EIO);
      p[mi][what][1] = io_drive(ms[mi], what, RATTAN_ENOSPC);
      ASSERT(p[mi][what][0] >= 5 && p[mi][what][1] >= 5);
    }
  printf(
      "io: drive: SYNC puts %ld+%ld commits %ld+%ld, GROUP puts %ld+%ld "
      "commits %ld+%ld (EIO+ENOSPC)\n",
      p[0][0][0], p[0][0][1], p[0][1][0], p[0][1][1], p[1][0][0], p[1][0][1],
      p[1][1][0], p[1][1][1]);
  oom_end();
}

/* ---- A full disk
 * ---------------------------------------------------------------- The store
 * on a 2 MiB tmpfs, with a filler file taking most of it: tasks are
 * created and driven (group commit) until a call fails for want of
 * space. The failure names the store, leaves it as the previous call
 * left it, and once the filler is gone the store reopens intact and
 * every task runs to its end. Needs mount(2) (root, or CAP_SYS_ADMIN):
 * without it the test says it skipped. */

static int fill_disk(const char *dir) {
  char path[600];
  snprintf(path, sizeof path, "%s/filler", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return -1;
  static char block[64 << 10];
  /* Leave about 384 KiB: room for some tasks, not for all. */
  struct stat sb;
  for (int i = 0; i < 32; i++)
    if (write(fd, block, sizeof block) != (ssize_t)sizeof block) break;
  if (fstat(fd, &sb) == 0 && sb.st_size > (1 << 20) + (512 << 10))
    if (ftruncate(fd, (1 << 20) + (512 << 10)) != 0) sb.st_size = 0;
  close(fd);
  return 0;
}

static void full_disk_run(const char *dir) {
  char db[600];
  snprintf(db, sizeof db, "%s/db", dir);
  mode m = {RATTAN_DURABILITY_GROUP, 0, 0};
  rattan_engine *e = open_dir(db, m);
  ASSERT_EQ(fill_disk(dir), 0);
  char *json = shape_fan_out(3, 4);
  ASSERT(json);
  int rc = 0, driving = 0;
  unsigned created = 0;
  bytes before = {0};
  for (unsigned i = 0; rc == 0 && i < 1000; i++) {
    char tid[16], id[RATTAN_ID_MAX + 1];
    snprintf(tid, sizeof tid, "t%u", i);
    bytes_free(&before);
    before = dump(e);
    rattan_task_options o = {.id = tid};
    rc = rattan_task_create(e, json, strlen(json), &o, id);
    if (rc) break;
    created++;
    bytes_free(&before);
    before = dump(e);
    if ((rc = rattan_task_start(e, tid))) break;
    bytes_free(&before);
    before = dump(e);
    rattan_drive_result r;
    driving = 1;
    rc = rattan_drive(e, tid, 0, &r);
    driving = rc != 0;
  }
  if (rc != RATTAN_ENOSPC && rc != RATTAN_EIO && rc != RATTAN_EFULL)
    TEST_FAIL_("no failure for want of space: %s (%s)", rattan_errname(rc),
               rattan_errmsg(e));
  ASSERT_CONTAINS(rattan_errmsg(e), db);
  ASSERT(created > 1);
  printf("  full disk: %s after %u tasks (%s)\n", rattan_errname(rc), created,
         driving ? "in a drive" : "in a create or start");
  fflush(stdout);
  /* A failed create or start changed nothing; a failed drive kept its
   * whole earlier batches, and that is what must reopen. */
  if (driving) {
    bytes_free(&before);
    before = dump(e);
  } else {
    expect_dump(e, before, "full disk", (long)created);
  }
  rattan_close(e);
  char path[600];
  snprintf(path, sizeof path, "%s/filler", dir);
  ASSERT_EQ(unlink(path), 0);
  e = open_dir(db, m);
  expect_dump(e, before, "full disk, reopened", (long)created);
  for (unsigned i = 0; i < created; i++) {
    char tid[16];
    snprintf(tid, sizeof tid, "t%u", i);
    rc = rattan_task_start(e, tid);
    ASSERT(rc == 0 || rc == RATTAN_ESTATE);
  }
  drive_all(e, NULL);
  for (unsigned i = 0; i < created; i++) {
    char tid[16];
    snprintf(tid, sizeof tid, "t%u", i);
    ASSERT_EQ(xu_task_state(e, tid), RATTAN_STATE_FINISHED);
  }
  bytes_free(&before);
  rt_free(json);
  rattan_close(e);
}

void test_fault_full_disk(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s", test_path("tmpfs"));
  ASSERT_EQ(mkdir(dir, 0700), 0);
  if (mount("tmpfs", dir, "tmpfs", 0, "size=2m")) {
    printf("  skipped: cannot mount a tmpfs (%s)\n", strerror(errno));
    return;
  }
  /* The work runs in a child, so the tmpfs is unmounted whatever
   * happens to it. */
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    full_disk_run(dir);
    _exit(0);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_EQ(umount2(dir, MNT_DETACH), 0);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
