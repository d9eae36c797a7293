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

/* Drives task t until nothing moves; returns the drive's code. */
static int drive(eng *e) {
  errbuf err = {0};
  eng_drive_result r;
  int rc = eng_drive(e, "t", 0, &r, &err);
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

/* Runs the sample once uninterrupted, then once per fault: the nth
 * commit or put (n = 1, 1 + step, ...) of the drive fails, the engine is
 * closed, reopened and driven again, and the store must equal the
 * uninterrupted one. Returns how many runs failed. */
static int fail_each(int what, unsigned step) {
  size_t len;
  char *json = test_slurp(sample, &len);
  eng *e = fx_open("base", 0);
  fx_start(e, json, len);
  ASSERT_OK(drive(e), "baseline drive");
  ASSERT_EQ(root_state(e).state, RATTAN_STATE_FINISHED);
  buf want = fx_dump(e);
  eng_close(e);
  int failures = 0;
  /* Until the drive no longer reaches its nth commit or put. */
  for (unsigned n = 1;; n += step) {
    char name[32];
    snprintf(name, sizeof name, "f%u", n);
    e = fx_open(name, 0);
    fx_start(e, json, len);
    st_fault(eng_store(e), what, n, RATTAN_EIO);
    int rc = drive(e);
    st_fault(eng_store(e), what, 0, 0);
    eng_close(e);
    if (rc == 0) break;
    ASSERT_EQ(rc, RATTAN_EIO);
    failures++;
    e = fx_open(name, 0);
    ASSERT_OK(drive(e), name);
    buf got = fx_dump(e);
    if (got.len != want.len || memcmp(got.data, want.data, got.len))
      TEST_FAIL_("%s %u failed: the store differs from the baseline",
                 what == ST_FAULT_PUT ? "put" : "commit", n);
    buf_free(&got);
    eng_close(e);
  }
  buf_free(&want);
  free(json);
  return failures;
}

void test_crash_every_commit(void) {
  /* Each round commits 7 writes (two activities: run, result, poll; the
   * gateway), plus the start and end events: 30 in all. A run that never
   * failed would prove nothing. */
  ASSERT_EQ(fail_each(ST_FAULT_COMMIT, 1), 4 * 7 + 2);
}

/* A failed put (an I/O error in the middle of a write) drops the whole
 * transaction. Every 7th put keeps it short: writes have 2 to 10 puts. */
void test_crash_every_put(void) {
  ASSERT(fail_each(ST_FAULT_PUT, 7) >= 10);
}
