/*
 * Crash safety of execution: a write that fails at any commit leaves the
 * store as the previous commit left it, and driving again from a
 * reopened engine ends in exactly the store an uninterrupted run
 * produces: every record, history entry, execution datum and journal
 * entry, with the same versions and times (nothing lost, nothing done
 * twice).
 */
#include <sys/stat.h>

#include "fixture.h"

/* The SOPS loop sample: timers (polls on the virtual clock), an
 * exclusive gateway and four rounds of a loop. */
static const char *const sample = "tests/data/loop-sample.json";

static void start(eng *e, const char *json, size_t len) {
  errbuf err = {0};
  eng_problems probs = {0};
  eng_task_opts o = {.id = "t"};
  char id[ST_ID_MAX + 1];
  ASSERT_OK(eng_task_create(e, json, len, &o, &probs, id, &err), err.msg);
  eng_problems_free(&probs);
  eng_op op = {.kind = OP_START, .task = "t"};
  ASSERT_OK(eng_operate(e, &op, &err), err.msg);
}

/* Drives task t until nothing moves; returns the drive's code. */
static int drive(eng *e, unsigned *commits) {
  errbuf err = {0};
  eng_drive_result r;
  int rc = eng_drive(e, "t", 0, &r, &err);
  if (commits) *commits = r.steps;
  if (rc == 0) ASSERT_EQ(r.next_due, ST_NO_TIME);
  return rc;
}

static st_state root_state(eng *e) {
  st_txn *t;
  st_state s;
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  ASSERT_OK(st_state_get(t, "t", "n2125aebb4c8334f8ba4d575315a8d94", &s, &err),
            err.msg);
  st_read_end(t);
  return s;
}

void test_crash_every_commit(void) {
  size_t len;
  char *json = test_slurp(sample, &len);
  eng *e = fx_open("base", 0);
  start(e, json, len);
  ASSERT_OK(drive(e, NULL), "baseline drive");
  ASSERT_EQ(root_state(e).state, RATTAN_STATE_FINISHED);
  buf want = fx_dump(e);
  eng_close(e);

  /* Fail the nth commit of the drive, for every n until a drive no
   * longer reaches its nth commit. */
  int failures = 0;
  for (unsigned n = 1;; n++) {
    char name[32];
    snprintf(name, sizeof name, "c%u", n);
    e = fx_open(name, 0);
    start(e, json, len);
    st_fault(eng_store(e), ST_FAULT_COMMIT, n, RATTAN_EIO);
    int rc = drive(e, NULL);
    st_fault(eng_store(e), ST_FAULT_COMMIT, 0, 0);
    eng_close(e);
    if (rc == 0) break; /* n is past the last commit */
    ASSERT_EQ(rc, RATTAN_EIO);
    failures++;
    e = fx_open(name, 0);
    ASSERT_OK(drive(e, NULL), name);
    buf got = fx_dump(e);
    if (got.len != want.len || memcmp(got.data, want.data, got.len))
      TEST_FAIL_("commit %u failed: the store differs from the baseline", n);
    buf_free(&got);
    eng_close(e);
  }
  /* Each round commits 7 writes (two activities: run, result, poll; the
   * gateway), plus the start and end events: 30 in all. A run that never
   * failed would prove nothing. */
  ASSERT_EQ(failures, 4 * 7 + 2);
  buf_free(&want);
  free(json);
}

/* The same with a failed put (an I/O error in the middle of a write):
 * the whole transaction is dropped. */
void test_crash_every_put(void) {
  size_t len;
  char *json = test_slurp(sample, &len);
  eng *e = fx_open("base", 0);
  start(e, json, len);
  ASSERT_OK(drive(e, NULL), "baseline drive");
  buf want = fx_dump(e);
  eng_close(e);
  int failures = 0;
  /* Every 7th put, to keep the test short: writes have 2 to 10 puts. */
  for (unsigned n = 1;; n += 7) {
    char name[32];
    snprintf(name, sizeof name, "p%u", n);
    e = fx_open(name, 0);
    start(e, json, len);
    st_fault(eng_store(e), ST_FAULT_PUT, n, RATTAN_EIO);
    int rc = drive(e, NULL);
    st_fault(eng_store(e), ST_FAULT_PUT, 0, 0);
    eng_close(e);
    if (rc == 0) break;
    failures++;
    e = fx_open(name, 0);
    ASSERT_OK(drive(e, NULL), name);
    buf got = fx_dump(e);
    if (got.len != want.len || memcmp(got.data, want.data, got.len))
      TEST_FAIL_("put %u failed: the store differs from the baseline", n);
    buf_free(&got);
    eng_close(e);
  }
  ASSERT(failures >= 10);
  buf_free(&want);
  free(json);
}
