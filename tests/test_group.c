/*
 * Group commit: a drive's steps share one transaction, flushed once the
 * window has passed or the batch is full, and always before the drive
 * returns. The store a grouped drive leaves is the store a drive
 * committing every step leaves, record for record; a batch is invisible
 * to other threads until it commits; a failure or a kill loses the open
 * batch whole, and driving again ends in the same store.
 */
#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "shapes.h"
#include "store/mem.h"

/* The SOPS loop sample: timers, an exclusive gateway, four loop rounds. */
static const char *const sample = "tests/data/loop-sample.json";

/* A window no test run reaches, so only group_max and the end of a drive
 * close a batch. */
#define FOREVER_US 600000000u

/* fx_open's engine, with group commit on a flushed store. */
static eng *open_group(const char *name, unsigned window_us, unsigned max) {
  eng_config cfg = fx_config();
  cfg.store.nosync = 0;
  cfg.group = 1;
  cfg.group_window_us = window_us;
  cfg.group_max = max;
  return fx_open_with(name, &cfg);
}

static void start_file(eng *e, const char *path) {
  size_t len;
  char *json = test_slurp(path, &len);
  fx_start(e, json, len);
  free(json);
}

static void start_fan(eng *e, int branches, int len) {
  char *json = shape_fan_out(branches, len);
  ASSERT(json);
  fx_start(e, json, strlen(json));
  rt_free(json);
}

/* Drives task t until nothing moves: the steps taken and the commits
 * they took. */
static unsigned drive(eng *e, uint64_t *commits) {
  errbuf err = {0};
  eng_drive_result r;
  uint64_t before = st_last_txn(eng_store(e));
  ASSERT_OK(eng_drive(e, "t", 0, &r, &err), err.msg);
  ASSERT_EQ(r.next_due, ST_NO_TIME);
  ASSERT_EQ(r.more, 0);
  if (commits) *commits = st_last_txn(eng_store(e)) - before;
  return r.steps;
}

static void expect_same_store(eng *a, eng *b, const char *what) {
  buf x = fx_dump(a), y = fx_dump(b);
  if (x.len != y.len || memcmp(x.data, y.data, x.len))
    TEST_FAIL_("%s: the stores differ (%zu and %zu bytes)", what, x.len, y.len);
  buf_free(&x);
  buf_free(&y);
}

/* Every record, journal entry, version and time is the same whether each
 * step commits alone or the drive's steps share commits; only the number
 * of commits differs. */
void test_group_same_store(void) {
  eng *one = fx_open("one", 0);
  start_file(one, sample);
  uint64_t c1;
  unsigned steps = drive(one, &c1);
  ASSERT(c1 > steps); /* an activity's step takes two */
  eng *grp = open_group("grp", FOREVER_US, 0);
  start_file(grp, sample);
  uint64_t cg;
  ASSERT_EQ(drive(grp, &cg), steps);
  ASSERT_EQ(cg, 1); /* the default group_max (256) holds the whole drive */
  expect_same_store(one, grp, "grouped drive");
  eng_close(one);
  eng_close(grp);
}

/* group_max closes a batch after that many steps, the window after that
 * much time; the end of a drive closes the last one. */
void test_group_limits(void) {
  eng *e = open_group("max", FOREVER_US, 3);
  start_fan(e, 4, 5);
  uint64_t commits;
  unsigned steps = drive(e, &commits);
  ASSERT(steps > 20);
  ASSERT_EQ(commits, (steps + 2) / 3);
  eng_close(e);

  e = open_group("window", 1, 0); /* 1 us: every step outlives it */
  start_fan(e, 4, 5);
  ASSERT_EQ(drive(e, &commits), steps);
  ASSERT_EQ(commits, steps);
  eng_close(e);
}

/* ---- Visibility ------------------------------------------------------------
 * A component sees, on the driving thread, what its batch wrote; another
 * thread sees only what was committed. */

typedef struct peek {
  eng *e;
  int own, other; /* the first activity's state, or -1 for no record */
} peek;

static int first_state(eng *e) {
  st_txn *t;
  st_state r;
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  int rc = st_state_get(t, "t", "a0_0", &r, &err);
  st_read_end(t);
  if (rc == RATTAN_ENOTFOUND) return -1;
  ASSERT_OK(rc, err.msg);
  return r.state;
}

static void *peek_other(void *arg) {
  peek *p = arg;
  p->other = first_state(p->e);
  return NULL;
}

static int peek_execute(rattan_call *c, void *ctx) {
  peek *p = ctx;
  if (strcmp(rattan_call_node(c), "a0_1")) return 0;
  p->own = first_state(p->e);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, peek_other, p), 0);
  pthread_join(th, NULL);
  return 0;
}

void test_group_invisible_until_commit(void) {
  eng *e = open_group("g", FOREVER_US, 0);
  peek p = {e, -2, -2};
  rattan_component c = {.code = "noop", .execute = peek_execute, .ctx = &p};
  errbuf err = {0};
  ASSERT_OK(eng_component_register(e, &c, &err), err.msg);
  start_fan(e, 1, 3);
  drive(e, NULL);
  ASSERT_EQ(p.own, RATTAN_STATE_FINISHED);
  ASSERT_EQ(p.other, -1);
  ASSERT_EQ(first_state(e), RATTAN_STATE_FINISHED);
  peek_other(&p);
  ASSERT_EQ(p.other, RATTAN_STATE_FINISHED);
  eng_close(e);
}

/* ---- Writes made by components ---------------------------------------------
 * A write outside the drive's steps (a component's operation) commits the
 * batch first, so its failure cannot take the batch with it. */

typedef struct reenter {
  eng *e;
  int refused, visible;
} reenter;

static int reenter_execute(rattan_call *c, void *ctx) {
  reenter *r = ctx;
  if (strcmp(rattan_call_node(c), "a0_2")) return 0;
  errbuf err = {0};
  eng_op op = {.kind = OP_START, .task = "t"}; /* started already */
  r->refused = eng_operate(r->e, &op, &err);
  peek p = {r->e, 0, -2};
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, peek_other, &p), 0);
  pthread_join(th, NULL);
  r->visible = p.other;
  return 0;
}

void test_group_component_writes(void) {
  eng *e = open_group("g", FOREVER_US, 0);
  reenter r = {e, 0, -2};
  rattan_component c = {.code = "noop", .execute = reenter_execute, .ctx = &r};
  errbuf err = {0};
  ASSERT_OK(eng_component_register(e, &c, &err), err.msg);
  start_fan(e, 1, 4);
  uint64_t commits;
  drive(e, &commits);
  ASSERT(r.refused != 0);
  /* The refused operation's attempt committed the batch before it. */
  ASSERT_EQ(r.visible, RATTAN_STATE_FINISHED);
  ASSERT_EQ(commits, 2);
  eng *one = fx_open("one", 0);
  start_fan(one, 1, 4);
  drive(one, NULL);
  expect_same_store(one, e, "component writes");
  eng_close(one);
  eng_close(e);
}

/* ---- Failures --------------------------------------------------------------
 * A failed put or commit loses the whole open batch and nothing else: the
 * store is what the last commit left, and driving again ends in the store
 * an uninterrupted drive leaves. */

static int fail_each(int what, unsigned step) {
  eng *base = fx_open("base", 0);
  start_fan(base, 3, 4);
  drive(base, NULL);
  buf want = fx_dump(base);
  eng_close(base);
  int failures = 0;
  for (unsigned n = 1;; n += step) {
    char name[32];
    snprintf(name, sizeof name, "f%u", n);
    eng *e = open_group(name, FOREVER_US, 3);
    start_fan(e, 3, 4);
    buf before = fx_dump(e);
    st_fault(eng_store(e), what, n, RATTAN_EIO);
    errbuf err = {0};
    eng_drive_result r;
    uint64_t txn = st_last_txn(eng_store(e));
    int rc = eng_drive(e, "t", 0, &r, &err);
    st_fault(eng_store(e), what, 0, 0);
    if (rc == 0) {
      eng_close(e);
      buf_free(&before);
      break;
    }
    ASSERT_EQ(rc, RATTAN_EIO);
    failures++;
    /* Whole batches of 3 steps committed before the failure, nothing
     * after it. */
    ASSERT_EQ(r.steps, 3 * (st_last_txn(eng_store(e)) - txn));
    if (r.steps == 0) {
      buf now = fx_dump(e);
      ASSERT(now.len == before.len && !memcmp(now.data, before.data, now.len));
      buf_free(&now);
    }
    buf_free(&before);
    eng_close(e);
    e = open_group(name, FOREVER_US, 3);
    drive(e, NULL);
    buf got = fx_dump(e);
    if (got.len != want.len || memcmp(got.data, want.data, got.len))
      TEST_FAIL_("%s %u: the store differs from the baseline",
                 what == ST_FAULT_PUT ? "put" : "commit", n);
    buf_free(&got);
    eng_close(e);
  }
  buf_free(&want);
  return failures;
}

void test_group_failed_commit(void) {
  ASSERT(fail_each(ST_FAULT_COMMIT, 1) >= 5);
}

void test_group_failed_put(void) {
  ASSERT(fail_each(ST_FAULT_PUT, 7) >= 20);
}

/* A batch that fills the map is dropped, the map grows and the batch is
 * redone: the drive still ends in the baseline's store. */
void test_group_map_growth(void) {
  eng *base = fx_open("base", 0);
  start_fan(base, 20, 10);
  drive(base, NULL);
  eng_config cfg = fx_config();
  cfg.store = (st_config){.map_size = 256 << 10};
  cfg.group = 1;
  cfg.group_window_us = FOREVER_US;
  cfg.group_max = 1000;
  eng *e = fx_open_with("small", &cfg);
  size_t map = st_map_size(eng_store(e));
  start_fan(e, 20, 10);
  drive(e, NULL);
  ASSERT(st_map_size(eng_store(e)) > map);
  expect_same_store(base, e, "grown map");
  eng_close(base);
  eng_close(e);
}

/* ---- Kills -----------------------------------------------------------------
 * A process killed inside a batch leaves the store as the last commit left
 * it; a new process drives on to the baseline's store. */

static int kill_at;

static int die_execute(rattan_call *c, void *ctx) {
  (void)c;
  (void)ctx;
  if (--kill_at == 0) _exit(0);
  return 0;
}

void test_group_kill_mid_batch(void) {
  eng *base = fx_open("base", 0);
  start_fan(base, 4, 6);
  drive(base, NULL);
  for (int at = 1; at <= 24; at += 5) {
    char name[16];
    snprintf(name, sizeof name, "k%d", at);
    eng *e = open_group(name, FOREVER_US, 4);
    start_fan(e, 4, 6);
    eng_close(e);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
      e = open_group(name, FOREVER_US, 4);
      kill_at = at;
      rattan_component c = {.code = "noop", .execute = die_execute};
      errbuf err = {0};
      if (eng_component_register(e, &c, &err)) _exit(2);
      eng_drive_result r;
      eng_drive(e, "t", 0, &r, &err);
      _exit(3); /* the drive should not have ended */
    }
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    e = open_group(name, FOREVER_US, 4);
    drive(e, NULL);
    expect_same_store(base, e, name);
    eng_close(e);
  }
  eng_close(base);
}

/* ---- Options ---------------------------------------------------------------
 */

/* An unknown mode is refused by name; a caller built before the group
 * fields existed gets their defaults. */
void test_group_options(void) {
  rattan_options o;
  rattan_options_init(&o);
  rattan_engine *re;
  char msg[256];
  o.durability = (rattan_durability)3;
  ASSERT_ERR(rattan_open(test_path("bad"), &o, &re, msg, sizeof msg),
             RATTAN_EINVAL);
  ASSERT_CONTAINS(msg, "options.durability");
  o.durability = RATTAN_DURABILITY_GROUP;
  o.struct_size = offsetof(rattan_options, group_window_us);
  ASSERT_OK(rattan_open(test_path("old"), &o, &re, msg, sizeof msg), msg);
  char *json = shape_fan_out(2, 2);
  ASSERT(json);
  rattan_task_options to = {.id = "t"};
  char id[RATTAN_ID_MAX + 1];
  ASSERT_OK(rattan_task_create(re, json, strlen(json), &to, id),
            rattan_errmsg(re));
  rt_free(json);
  ASSERT_OK(rattan_task_start(re, "t"), rattan_errmsg(re));
  rattan_drive_result r;
  ASSERT_OK(rattan_drive(re, "t", 0, &r), rattan_errmsg(re));
  rattan_state st;
  ASSERT_OK(rattan_task_state(re, "t", &st), rattan_errmsg(re));
  ASSERT_EQ(st, RATTAN_STATE_FINISHED);
  rattan_close(re);
}

/* ---- A map at its maximum ---------------------------------------------------
 * The map grows up to map_size_max; past that a write fails with
 * RATTAN_EFULL, says how to get room, and leaves the store exactly as it
 * was (a drive keeps its whole earlier commits); reads go on, and a
 * reopen with a larger maximum drives on to the end. */
void test_group_map_full(void) {
  for (int group = 0; group < 2; group++) {
    char name[16];
    snprintf(name, sizeof name, "full%d", group);
    eng_config cfg = fx_config();
    cfg.store = (st_config){
        .nosync = 1, .map_size = 256 << 10, .map_size_max = 1 << 20};
    cfg.group = group;
    eng *e = fx_open_with(name, &cfg);
    char *json = shape_fan_out(4, 5);
    ASSERT(json);
    errbuf err = {0};
    int rc = 0;
    char id[ST_ID_MAX + 1];
    unsigned created = 0;
    /* Tasks until the map is full: creating or driving them. */
    for (unsigned i = 0; rc == 0 && i < 100; i++) {
      eng_problems probs = {0};
      char tid[16];
      snprintf(tid, sizeof tid, "t%u", i);
      eng_task_opts o = {.id = tid};
      buf before = fx_dump(e);
      rc = eng_task_create(e, json, strlen(json), &o, &probs, id, &err);
      eng_problems_free(&probs);
      if (rc == 0) {
        created++;
        eng_op op = {.kind = OP_START, .task = tid};
        rc = eng_operate(e, &op, &err);
      }
      if (rc == 0) {
        buf_free(&before);
        eng_drive_result r;
        before = fx_dump(e);
        uint64_t txn = st_last_txn(eng_store(e));
        rc = eng_drive(e, tid, 0, &r, &err);
        /* A failed drive keeps whole commits only: none, in group mode
         * with one batch per drive here, or some in the other. */
        if (rc && (group || st_last_txn(eng_store(e)) == txn)) {
          buf now = fx_dump(e);
          ASSERT(now.len == before.len &&
                 !memcmp(now.data, before.data, now.len));
          buf_free(&now);
        }
      } else {
        buf now = fx_dump(e);
        ASSERT(now.len == before.len &&
               !memcmp(now.data, before.data, now.len));
        buf_free(&now);
      }
      buf_free(&before);
    }
    ASSERT_EQ(rc, RATTAN_EFULL);
    ASSERT_CONTAINS(err.msg, "map_size_max");
    ASSERT(created > 1);
    ASSERT_EQ(st_map_size(eng_store(e)), 1 << 20);
    /* Reads go on. */
    st_txn *t;
    st_task task;
    ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
    ASSERT_OK(st_task_get(t, "t0", &task, &err), err.msg);
    st_read_end(t);
    eng_close(e);
    cfg.store.map_size_max = 64 << 20;
    e = fx_open_with(name, &cfg);
    /* The last task may have been created but not started. */
    for (unsigned i = 0; i < created; i++) {
      char tid[16];
      snprintf(tid, sizeof tid, "t%u", i);
      eng_op op = {.kind = OP_START, .task = tid};
      rc = eng_operate(e, &op, &err);
      ASSERT(rc == 0 || rc == RATTAN_ESTATE);
    }
    eng_drive_result r;
    ASSERT_OK(eng_drive(e, NULL, 0, &r, &err), err.msg);
    for (unsigned i = 0; i < created; i++) {
      char tid[16];
      snprintf(tid, sizeof tid, "t%u", i);
      ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
      st_state root;
      ASSERT_OK(st_state_get(t, tid, "root", &root, &err), err.msg);
      st_read_end(t);
      ASSERT_EQ(root.state, RATTAN_STATE_FINISHED);
    }
    rt_free(json);
    eng_close(e);
  }
}
