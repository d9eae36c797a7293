/* Counters, versions and times across retry, skip, re-entry and the
 * rerun limit (reference/bamboo-engine.md section 3). */
#include <ctype.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine_int.h"
#include "fixture.h"

static void assert_version_shape(const char *v) {
  ASSERT_EQ(strlen(v), ST_VERSION_LEN);
  ASSERT(v[0] == 'v');
  for (int i = 1; i < ST_VERSION_LEN; i++)
    ASSERT(isxdigit((unsigned char)v[i]) && !isupper((unsigned char)v[i]));
}

void test_counters_first_run(void) {
  eng *e = fx_open("db", 0);
  eng_change c = {.action = ACT_RUN, .root_id = "t", .parent_id = "sub"};
  st_state r;
  errbuf err = {0};
  ASSERT_OK(fx_transit(e, "t", "a", &c, &r, &err), err.msg);
  ASSERT_EQ(r.state, RATTAN_STATE_RUNNING);
  ASSERT_EQ(r.loop, 1);
  ASSERT_EQ(r.inner_loop, 1);
  ASSERT_EQ(r.retry, 0);
  ASSERT_EQ(r.skip, 0);
  ASSERT_EQ(r.created, T0);
  ASSERT_EQ(r.started, T0);
  ASSERT_EQ(r.archived, ST_NO_TIME);
  ASSERT_STR(r.root_id, "t");
  ASSERT_STR(r.parent_id, "sub");
  assert_version_shape(r.version);
  /* RUNNING -> FINISHED keeps the version and stamps the archive time. */
  eng_clock_advance(e, T0 + 1500000);
  st_state f = fx_do(e, "a", ACT_FINISH);
  ASSERT_STR(f.version, r.version);
  ASSERT_EQ(f.archived, T0 + 1500000);
  ASSERT_EQ(f.started, T0);
  ASSERT_EQ(f.error_ignored, 0);
  ASSERT_EQ(fx_journal(e), 2);
  eng_close(e);
}

void test_counters_retry(void) {
  eng *e = fx_open("db", 0);
  st_state run = fx_do(e, "a", ACT_RUN);
  eng_clock_advance(e, T0 + 2000000);
  st_state failed = fx_do(e, "a", ACT_FAIL);
  ASSERT_STR(failed.version, run.version);
  ASSERT_EQ(failed.archived, T0 + 2000000);
  st_state r = fx_do(e, "a", ACT_RETRY);
  ASSERT_EQ(r.state, RATTAN_STATE_READY);
  ASSERT_EQ(r.retry, 1);
  ASSERT_EQ(r.loop, 1);
  ASSERT_NE(strcmp(r.version, failed.version), 0);
  assert_version_shape(r.version);
  ASSERT_EQ(r.started, ST_NO_TIME);
  ASSERT_EQ(r.archived, ST_NO_TIME);
  /* The attempt before the retry is kept as history, unchanged. */
  ASSERT_EQ(fx_history(e, "a"), 1);
  st_txn *t;
  st_state h;
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  ASSERT_OK(st_history_get(t, "t", "a", 0, &h, &err), err.msg);
  st_read_end(t);
  ASSERT_EQ(h.state, RATTAN_STATE_FAILED);
  ASSERT_STR(h.version, failed.version);
  ASSERT_EQ(h.archived, T0 + 2000000);
  /* READY -> RUNNING keeps the counters; a second retry counts on. */
  st_state again = fx_do(e, "a", ACT_RUN);
  ASSERT_EQ(again.retry, 1);
  ASSERT_STR(again.version, r.version);
  fx_do(e, "a", ACT_FAIL);
  ASSERT_EQ(fx_do(e, "a", ACT_RETRY).retry, 2);
  ASSERT_EQ(fx_history(e, "a"), 2);
  eng_close(e);
}

void test_counters_skip(void) {
  eng *e = fx_open("db", 0);
  fx_do(e, "a", ACT_RUN);
  st_state failed = fx_do(e, "a", ACT_FAIL);
  eng_clock_advance(e, T0 + 7000000);
  st_state s = fx_do(e, "a", ACT_SKIP);
  ASSERT_EQ(s.state, RATTAN_STATE_FINISHED);
  ASSERT_EQ(s.skip, 1);
  ASSERT_NE(strcmp(s.version, failed.version), 0);
  ASSERT_EQ(s.archived, T0 + 7000000);
  ASSERT_EQ(s.started, T0); /* kept */
  ASSERT_EQ(s.retry, 0);
  ASSERT_EQ(fx_history(e, "a"), 1);
  eng_close(e);
}

void test_counters_reentry(void) {
  eng *e = fx_open("db", 0);
  fx_do(e, "a", ACT_RUN);
  fx_do(e, "a", ACT_FAIL);
  fx_do(e, "a", ACT_RETRY);
  fx_do(e, "a", ACT_RUN);
  eng_change ignore = {.action = ACT_FINISH, .ignore_error = 1};
  st_state fin;
  errbuf err = {0};
  eng_clock_advance(e, T0 + 3000000);
  ASSERT_OK(fx_transit(e, "t", "a", &ignore, &fin, &err), err.msg);
  ASSERT_EQ(fin.error_ignored, 1);
  ASSERT_EQ(fin.retry, 1);
  eng_clock_advance(e, T0 + 5000000);
  st_state re = fx_do(e, "a", ACT_RUN);
  ASSERT_EQ(re.state, RATTAN_STATE_RUNNING);
  ASSERT_EQ(re.loop, 2);
  ASSERT_EQ(re.inner_loop, 2);
  ASSERT_EQ(re.retry, 0);
  ASSERT_EQ(re.skip, 0);
  ASSERT_EQ(re.error_ignored, 0);
  ASSERT_NE(strcmp(re.version, fin.version), 0);
  ASSERT_EQ(re.started, T0 + 5000000);
  /* bamboo quirk kept: the archive time of the last run stays. */
  ASSERT_EQ(re.archived, T0 + 3000000);
  ASSERT_EQ(re.created, T0);
  ASSERT_EQ(fx_history(e, "a"), 2); /* the retry and the re-entry */
  eng_close(e);
}

/* bamboo checks loop > limit before incrementing: limit + 1 runs. */
void test_counters_rerun_limit(void) {
  eng *e = fx_open("db", 2);
  for (int i = 1; i <= 3; i++) {
    st_state r = fx_do(e, "a", ACT_RUN);
    ASSERT_EQ(r.loop, i);
    fx_do(e, "a", ACT_FINISH);
  }
  uint64_t before = fx_journal(e);
  eng_clock_advance(e, T0 + 9000000);
  st_state over = fx_do(e, "a", ACT_RUN);
  ASSERT_EQ(over.state, RATTAN_STATE_FAILED);
  ASSERT_EQ(over.loop, 3);
  ASSERT_EQ(over.archived, T0 + 9000000);
  ASSERT_EQ(fx_journal(e), before + 1);
  /* Subprocesses are exempt. */
  eng_change sub = {.action = ACT_RUN, .is_subprocess = 1};
  errbuf err = {0};
  for (int i = 1; i <= 4; i++) {
    st_state r;
    ASSERT_OK(fx_transit(e, "t", "sp", &sub, &r, &err), err.msg);
    ASSERT_EQ(r.loop, i);
    fx_do(e, "sp", ACT_FINISH);
  }
  eng_close(e);
}

void test_counters_forced_fail_pause_revoke(void) {
  eng *e = fx_open("db", 0);
  st_state run = fx_do(e, "a", ACT_RUN);
  eng_clock_advance(e, T0 + 4000000);
  st_state ff = fx_do(e, "a", ACT_FORCED_FAIL);
  ASSERT_EQ(ff.state, RATTAN_STATE_FAILED);
  ASSERT_NE(strcmp(ff.version, run.version), 0);
  ASSERT_EQ(ff.archived, T0 + 4000000);
  ASSERT_EQ(fx_history(e, "a"), 0);

  /* Pausing a node not yet reached creates its record, root and parent
   * empty; resuming makes it READY, and running it keeps its version. */
  st_state p = fx_do(e, "b", ACT_PAUSE);
  ASSERT_EQ(p.state, RATTAN_STATE_SUSPENDED);
  ASSERT_STR(p.root_id, "");
  ASSERT_STR(p.parent_id, "");
  ASSERT_EQ(p.started, ST_NO_TIME);
  st_state rs = fx_do(e, "b", ACT_RESUME_NODE);
  ASSERT_EQ(rs.state, RATTAN_STATE_READY);
  ASSERT_STR(rs.version, p.version);
  st_state rb = fx_do(e, "b", ACT_RUN);
  ASSERT_STR(rb.root_id, "t");
  ASSERT_EQ(rb.loop, 1);

  /* Pipeline pause, resume, revoke: times untouched, version kept. */
  st_state root = fx_do(e, "t", ACT_RUN);
  fx_do(e, "t", ACT_PAUSE);
  ASSERT_EQ(fx_do(e, "t", ACT_RESUME_PIPELINE).state, RATTAN_STATE_RUNNING);
  eng_clock_advance(e, T0 + 8000000);
  st_state rv = fx_do(e, "t", ACT_REVOKE);
  ASSERT_EQ(rv.state, RATTAN_STATE_REVOKED);
  ASSERT_EQ(rv.archived, ST_NO_TIME); /* bamboo sets no archive time */
  ASSERT_STR(rv.version, root.version);
  eng_change again = {.action = ACT_RUN};
  errbuf err = {0};
  ASSERT_ERR(fx_transit(e, "t", "t", &again, NULL, &err), RATTAN_ESTATE);
  ASSERT_STR(err.msg, "node t: REVOKED -> RUNNING is not allowed");
  eng_close(e);
}

typedef struct draw_ctx {
  int n;
  char (*out)[ST_VERSION_LEN + 1];
} draw_ctx;

static int draw(eng_txn *t, void *ctx, errbuf *err) {
  (void)err;
  draw_ctx *d = ctx;
  for (int i = 0; i < d->n; i++)
    eng_new_version(t, d->out[i]);
  return 0;
}

/* Same seed, same versions; a reopened engine continues where the stored
 * position says, so it never repeats a version. */
void test_versions_seeded(void) {
  char a[8][ST_VERSION_LEN + 1], b[8][ST_VERSION_LEN + 1];
  errbuf err = {0};
  eng *e1 = fx_open("one", 0);
  eng *e2 = fx_open("two", 0);
  draw_ctx d1 = {4, a}, d2 = {8, b};
  ASSERT_OK(eng_write(e1, draw, &d1, &err), err.msg);
  ASSERT_OK(eng_write(e2, draw, &d2, &err), err.msg);
  eng_close(e1);
  e1 = fx_open("one", 0);
  draw_ctx d3 = {4, a + 4};
  ASSERT_OK(eng_write(e1, draw, &d3, &err), err.msg);
  for (int i = 0; i < 8; i++) {
    assert_version_shape(a[i]);
    ASSERT_STR(a[i], b[i]);
    for (int j = 0; j < i; j++)
      ASSERT_NE(strcmp(a[i], a[j]), 0);
  }
  eng_close(e1);
  eng_close(e2);
}

/* Two processes with the same seed on one store, and seeds used in
 * turn, never draw the same version. */
void test_versions_shared_store(void) {
  char v[12][ST_VERSION_LEN + 1];
  errbuf err = {0};
  eng *e = fx_open("db", 0);
  draw_ctx d = {2, v};
  ASSERT_OK(eng_write(e, draw, &d, &err), err.msg);
  pid_t pid = fork();
  if (pid == 0) {
    eng *other = fx_open("db", 0);
    draw_ctx dc = {2, v + 2};
    _exit(eng_write(other, draw, &dc, NULL) ? 1 : 0);
  }
  int status;
  waitpid(pid, &status, 0);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  d = (draw_ctx){2, v + 2};
  ASSERT_OK(eng_write(e, draw, &d, &err), err.msg);
  eng_close(e);
  /* The child drew versions 2 and 3, so the parent's are 4 and 5. */
  eng *ref = fx_open("ref", 0);
  draw_ctx dr = {6, v + 4};
  ASSERT_OK(eng_write(ref, draw, &dr, &err), err.msg);
  eng_close(ref);
  ASSERT_STR(v[2], v[8]);
  ASSERT_STR(v[3], v[9]);
  /* Seeds in turn: 42, 7, then 42 again continues where 42 stopped
   * (at 6), so it repeats none of 42's first six (ref's v[4..9]). */
  eng_config cfg = {.store = {.nosync = 1}, .has_seed = 1, .seed = 7};
  ASSERT_OK(eng_open(&e, test_path("db"), &cfg, &err), err.msg);
  d = (draw_ctx){2, v + 10};
  ASSERT_OK(eng_write(e, draw, &d, &err), err.msg);
  eng_close(e);
  e = fx_open("db", 0);
  d = (draw_ctx){2, v};
  ASSERT_OK(eng_write(e, draw, &d, &err), err.msg);
  eng_close(e);
  for (int i = 0; i < 2; i++)
    for (int j = 4; j < 12; j++)
      ASSERT_NE(strcmp(v[i], v[j]), 0);
}

static int64_t ticks;
static int64_t tick_clock(void *ctx) {
  (void)ctx;
  return ticks += 1000;
}

void test_clock_kinds(void) {
  eng_config cfg = {.store = {.nosync = 1},
                    .clock = {.kind = RATTAN_CLOCK_FIXED, .start_us = T0}};
  eng *e;
  errbuf err = {0};
  ASSERT_OK(eng_open(&e, test_dir(), &cfg, &err), err.msg);
  ASSERT_EQ(eng_now(e), T0);
  eng_clock_advance(e, T0 + 5);
  ASSERT_EQ(eng_now(e), T0); /* fixed never moves */
  eng_close(e);

  cfg.clock = (rattan_clock){.kind = RATTAN_CLOCK_VIRTUAL, .start_us = T0};
  ASSERT_OK(eng_open(&e, test_dir(), &cfg, &err), err.msg);
  eng_clock_advance(e, T0 + 60000000);
  ASSERT_EQ(eng_now(e), T0 + 60000000);
  eng_clock_advance(e, T0); /* never backwards */
  ASSERT_EQ(eng_now(e), T0 + 60000000);
  eng_close(e);

  cfg.clock = (rattan_clock){.kind = RATTAN_CLOCK_HOOK, .now_us = tick_clock};
  ASSERT_OK(eng_open(&e, test_dir(), &cfg, &err), err.msg);
  st_state r = fx_do(e, "a", ACT_RUN);
  ASSERT_EQ(r.started, ticks);
  eng_close(e);

  cfg.clock = (rattan_clock){.kind = RATTAN_CLOCK_REAL};
  ASSERT_OK(eng_open(&e, test_dir(), &cfg, &err), err.msg);
  ASSERT(eng_now(e) > T0); /* after 2021 */
  eng_close(e);
}
