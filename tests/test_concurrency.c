/*
 * Concurrent access: readers on other threads and in other processes ask
 * for status while a writer drives; two processes drive different tasks
 * of one store; a killed reader's slot is reclaimed while the writer
 * keeps the store open; status readers do not make the file grow.
 *
 * Every answer a reader gets must be one committed snapshot: along each
 * branch of a fan-out the finished nodes are a prefix, a node that has
 * not finished is the last one with a record, the converge gateway
 * finishes only after every branch, and from one reader's view nothing
 * ever un-finishes.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/api_int.h"
#include "fixture.h"
#include "shapes.h"
#include "store/mem.h"

#define BRANCHES 4
#define LEN      8
#define TASKS    6

static rattan_engine *open_dir(const char *dir, rattan_durability d) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = d;
  o.clock.kind = RATTAN_CLOCK_VIRTUAL;
  o.clock.start_us = T0;
  rattan_engine *e;
  char msg[512];
  ASSERT_OK(rattan_open(dir, &o, &e, msg, sizeof msg), msg);
  return e;
}

static void create_tasks(rattan_engine *e, int first, int n) {
  char *json = shape_fan_out(BRANCHES, LEN);
  ASSERT(json);
  for (int i = first; i < first + n; i++) {
    char id[RATTAN_ID_MAX + 1], want[16];
    snprintf(want, sizeof want, "t%d", i);
    rattan_task_options o = {.id = want};
    ASSERT_OK(rattan_task_create(e, json, strlen(json), &o, id),
              rattan_errmsg(e));
    ASSERT_OK(rattan_task_start(e, want), rattan_errmsg(e));
  }
  rt_free(json);
}

/* The state of node id in a parsed status answer ("" when it has none). */
static const char *state_of(json_t *children, const char *id) {
  json_t *n = json_object_get(children, id);
  const char *s = json_string_value(json_object_get(n, "state"));
  return s ? s : "";
}

/* Checks one answer against the snapshot rules; returns the number of
 * finished nodes, or -1 (with why filled in) when the answer is torn. */
static int check_answer(const char *text, size_t len, char *why, size_t n) {
  json_t *j = json_loadb(text, len, 0, NULL);
  json_t *ch = json_object_get(json_object_get(j, "data"), "children");
  int finished = 0, bad = 0;
  if (!j) {
    snprintf(why, n, "not JSON");
    return -1;
  }
  int ends_done = 1;
  for (int b = 0; b < BRANCHES && !bad; b++) {
    int open = 0; /* a node of this branch is not finished */
    for (int i = 0; i < LEN && !bad; i++) {
      char id[32];
      snprintf(id, sizeof id, "a%d_%d", b, i);
      const char *s = state_of(ch, id);
      if (open && *s) {
        snprintf(why, n, "%s is %s after an unfinished node", id, s);
        bad = 1;
      }
      if (!strcmp(s, "FINISHED"))
        finished++;
      else
        open = 1;
    }
    ends_done &= !open;
  }
  if (!bad && !strcmp(state_of(ch, "cg"), "FINISHED") && !ends_done) {
    snprintf(why, n, "cg finished before every branch");
    bad = 1;
  }
  if (!bad && !strcmp(state_of(ch, "e"), "FINISHED") &&
      strcmp(state_of(ch, "cg"), "FINISHED")) {
    snprintf(why, n, "e finished before cg");
    bad = 1;
  }
  json_decref(j);
  return bad ? -1 : finished;
}

typedef struct reader {
  rattan_engine *e;
  volatile int *stop;
  long answers;
  int last[TASKS];
  char why[160];
  int torn;
} reader;

/* One round over every task; 0, or -1 with r->why on a torn or shrinking
 * answer. */
static int read_round(reader *r) {
  for (int t = 0; t < TASKS; t++) {
    char id[16], *out;
    size_t len;
    snprintf(id, sizeof id, "t%d", t);
    rattan_status_options o;
    rattan_status_options_init(&o);
    if (rattan_task_status(r->e, id, &o, &out, &len)) {
      snprintf(r->why, sizeof r->why, "%s: %s", id, rattan_errmsg(r->e));
      return -1;
    }
    int f = check_answer(out, len, r->why, sizeof r->why);
    rattan_free(out);
    if (f < 0) return -1;
    if (f < r->last[t]) {
      snprintf(r->why, sizeof r->why, "%s: %d finished after %d", id, f,
               r->last[t]);
      return -1;
    }
    r->last[t] = f;
    r->answers++;
  }
  return 0;
}

static void *read_loop(void *arg) {
  reader *r = arg;
  while (!*r->stop)
    if (read_round(r)) {
      r->torn = 1;
      break;
    }
  return NULL;
}

/* A reader process: waits for the store to exist (a byte on go), opens it
 * and reads until the writer is done (go closes); exits 0 if every answer
 * was whole and the last round saw every task finished. */
static void reader_process(const char *dir, int go) {
  char c;
  if (read(go, &c, 1) != 1) _exit(10);
  rattan_engine *e = open_dir(dir, RATTAN_DURABILITY_SYNC);
  volatile int stop = 0;
  reader r = {.e = e, .stop = &stop};
  int flags = 0;
  for (;;) {
    if (read_round(&r)) {
      fprintf(stderr, "  reader process: %s\n", r.why);
      _exit(11);
    }
    if (flags) break;
    /* The writer closes go when it is done: one more round then. */
    struct timeval tv = {0, 0};
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(go, &fds);
    if (select(go + 1, &fds, NULL, NULL, &tv) == 1) flags = 1;
  }
  for (int t = 0; t < TASKS; t++)
    if (r.last[t] != BRANCHES * LEN) _exit(12);
  rattan_close(e);
  _exit(r.answers > 0 ? 0 : 13);
}

void test_concurrency_snapshot_readers(void) {
  const char *dir = test_path("db");
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  /* Forked before this process opens the store: a process holds a
   * directory once, and a child would inherit the claim. */
  pid_t child = fork();
  ASSERT(child >= 0);
  if (child == 0) {
    close(go[1]);
    reader_process(dir, go[0]);
  }
  close(go[0]);
  rattan_engine *e = open_dir(dir, RATTAN_DURABILITY_GROUP);
  create_tasks(e, 0, TASKS);
  ASSERT_EQ(write(go[1], "g", 1), 1);
  volatile int stop = 0;
  reader r[2] = {{.e = e, .stop = &stop}, {.e = e, .stop = &stop}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    ASSERT_EQ(pthread_create(&th[i], NULL, read_loop, &r[i]), 0);
  rattan_drive_result res;
  unsigned steps = 0;
  do {
    /* Small slices: many commits for the readers to land between. */
    ASSERT_OK(rattan_drive(e, NULL, 3, &res), rattan_errmsg(e));
    steps += res.steps;
  } while (res.more);
  stop = 1;
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(pthread_join(th[i], NULL), 0);
    if (r[i].torn) TEST_FAIL_("reader thread %d: %s", i, r[i].why);
    ASSERT(r[i].answers > 0);
  }
  close(go[1]);
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  reader last = {.e = e, .stop = &stop};
  ASSERT_EQ(read_round(&last), 0);
  for (int t = 0; t < TASKS; t++)
    ASSERT_EQ(last.last[t], BRANCHES * LEN);
  ASSERT(steps > TASKS * BRANCHES * LEN);
  rattan_close(e);
}

/* ---- Two writers -----------------------------------------------------------
 * Two processes drive different tasks of one store at once: LMDB lets one
 * write at a time, and each task ends exactly as when driven alone. */

static void writer_process(const char *dir, int first, int n,
                           rattan_durability d) {
  rattan_engine *e = open_dir(dir, d);
  for (int i = first; i < first + n; i++) {
    char id[16];
    snprintf(id, sizeof id, "t%d", i);
    rattan_drive_result res;
    do {
      if (rattan_drive(e, id, 2, &res)) _exit(20);
    } while (res.more);
  }
  rattan_close(e);
  _exit(0);
}

/* The task's status with its versions and ids blanked: what must be the
 * same however the drives interleave (versions are drawn in commit
 * order, which interleaving changes; times come from the clock). */
static json_t *shape_of(rattan_engine *e, const char *task) {
  char *out;
  size_t len;
  rattan_status_options o;
  rattan_status_options_init(&o);
  ASSERT_OK(rattan_task_status(e, task, &o, &out, &len), rattan_errmsg(e));
  json_t *j = json_loadb(out, len, 0, NULL);
  rattan_free(out);
  json_t *ch = json_object_get(json_object_get(j, "data"), "children");
  const char *k;
  json_t *v;
  json_object_foreach(ch, k, v) {
    json_object_del(v, "version");
    json_object_del(v, "start_time");
    json_object_del(v, "finish_time");
    json_object_del(v, "elapsed_time");
  }
  json_t *d = json_incref(ch);
  json_decref(j);
  return d;
}

void test_concurrency_two_writers(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s", test_path("db"));
  rattan_engine *e = open_dir(dir, RATTAN_DURABILITY_SYNC);
  create_tasks(e, 0, TASKS);
  rattan_close(e);
  pid_t w[2];
  for (int i = 0; i < 2; i++) {
    w[i] = fork();
    ASSERT(w[i] >= 0);
    if (w[i] == 0)
      writer_process(dir, i * TASKS / 2, TASKS / 2,
                     i ? RATTAN_DURABILITY_GROUP : RATTAN_DURABILITY_SYNC);
  }
  for (int i = 0; i < 2; i++) {
    int status;
    ASSERT_EQ(waitpid(w[i], &status, 0), w[i]);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  /* The reference: one task driven alone in a store of its own. */
  rattan_engine *ref = open_dir(test_path("ref"), RATTAN_DURABILITY_NOSYNC);
  create_tasks(ref, 0, 1);
  rattan_drive_result res;
  ASSERT_OK(rattan_drive(ref, "t0", 0, &res), rattan_errmsg(ref));
  json_t *want = shape_of(ref, "t0");
  e = open_dir(dir, RATTAN_DURABILITY_SYNC);
  for (int t = 0; t < TASKS; t++) {
    char id[16];
    snprintf(id, sizeof id, "t%d", t);
    rattan_state st;
    ASSERT_OK(rattan_task_state(e, id, &st), rattan_errmsg(e));
    ASSERT_EQ(st, RATTAN_STATE_FINISHED);
    json_t *got = shape_of(e, id);
    if (!json_equal(got, want)) TEST_FAIL_("%s differs from a lone run", id);
    json_decref(got);
    /* Its journal replays, into a store of its own, to its status. */
    void *x;
    size_t xlen;
    ASSERT_OK(rattan_export(e, id, &x, &xlen), rattan_errmsg(e));
    char name[16];
    snprintf(name, sizeof name, "replay%d", t);
    rattan_engine *r = open_dir(test_path(name), RATTAN_DURABILITY_NOSYNC);
    ASSERT_OK(rattan_replay(r, x, xlen, NULL, NULL), rattan_errmsg(r));
    rattan_free(x);
    char *a, *b;
    size_t alen, blen;
    rattan_status_options o;
    rattan_status_options_init(&o);
    o.trace_id = "x";
    ASSERT_OK(rattan_task_status(e, id, &o, &a, &alen), rattan_errmsg(e));
    ASSERT_OK(rattan_task_status(r, id, &o, &b, &blen), rattan_errmsg(r));
    if (alen != blen || memcmp(a, b, alen))
      TEST_FAIL_("%s: replayed status differs:\n%.*s\n%.*s", id, (int)alen, a,
                 (int)blen, b);
    rattan_free(a);
    rattan_free(b);
    rattan_close(r);
  }
  json_decref(want);
  rattan_close(ref);
  rattan_close(e);
}

/* ---- Reader slots and file growth ------------------------------------------
 */

/* A process that opens the store, holds a read transaction and says so
 * on ready; it is killed holding it. */
static pid_t holder(const char *dir) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    st_store *s;
    st_txn *t;
    errbuf err = {0};
    if (st_open(&s, dir, NULL, &err) || st_read_begin(s, &t, &err)) _exit(30);
    if (write(ready[1], "r", 1) != 1) _exit(31);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  return pid;
}

static off_t file_size(const char *dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/data.mdb", dir);
  struct stat sb;
  ASSERT_EQ(stat(path, &sb), 0);
  return sb.st_size;
}

static void drive_all(rattan_engine *e) {
  rattan_drive_result res;
  do
    ASSERT_OK(rattan_drive(e, NULL, 0, &res), rattan_errmsg(e));
  while (res.more);
}

/* A reader killed while the writer has the store open: its slot pins an
 * old snapshot, so the file grows while it is there; the writer clears
 * dead readers' slots as it goes, so the pages come back without a
 * reopen. */
void test_concurrency_killed_reader_reclaimed(void) {
  const char *dir = test_path("db");
  rattan_engine *e = open_dir(dir, RATTAN_DURABILITY_NOSYNC);
  create_tasks(e, 0, TASKS);
  rattan_close(e);
  /* The holder opens the store before this process does again: a forked
   * child must not inherit an open environment. */
  pid_t h = holder(dir);
  e = open_dir(dir, RATTAN_DURABILITY_NOSYNC);
  st_store *s = eng_store(e->e);
  ASSERT_EQ(st_reader_count(s), 1);
  kill(h, SIGKILL);
  ASSERT_EQ(waitpid(h, NULL, 0), h);
  ASSERT_EQ(st_reader_count(s), 1);
  drive_all(e);
  ASSERT_EQ(st_reader_count(s), 0);
  rattan_close(e);
}

/* A long read pins the snapshot it reads: while it lasts the writer cannot
 * reuse the pages it frees, so the file grows with every commit. Once the
 * read ends the pages come back: the same work again grows the file by
 * its new data only. (rattan's own reads are short transactions.) */
typedef struct pin {
  st_store *s;
  int ready[2], release[2];
} pin;

static void *hold_snapshot(void *arg) {
  pin *p = arg;
  st_txn *t;
  errbuf err = {0};
  char c = st_read_begin(p->s, &t, &err) ? 'x' : 'r';
  if (write(p->ready[1], &c, 1) != 1 || c == 'x') return NULL;
  if (read(p->release[0], &c, 1) < 0) c = 0;
  st_read_end(t);
  return NULL;
}

void test_concurrency_long_read_growth_ends(void) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s", test_path("db"));
  /* A map big enough never to grow: growth waits for every reader. */
  rattan_engine *e = open_dir(dir, RATTAN_DURABILITY_NOSYNC);
  create_tasks(e, 0, TASKS);
  drive_all(e); /* a first run, so both phases below start warm */
  create_tasks(e, TASKS, 2 * TASKS);
  off_t s0 = file_size(dir);
  pin p = {.s = eng_store(e->e)};
  ASSERT_EQ(pipe(p.ready), 0);
  ASSERT_EQ(pipe(p.release), 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, hold_snapshot, &p), 0);
  char c;
  ASSERT_EQ(read(p.ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'r');
  for (int t = TASKS; t < 2 * TASKS; t++) {
    char id[16];
    snprintf(id, sizeof id, "t%d", t);
    rattan_drive_result res;
    ASSERT_OK(rattan_drive(e, id, 0, &res), rattan_errmsg(e));
  }
  off_t s1 = file_size(dir);
  ASSERT_EQ(write(p.release[1], "g", 1), 1);
  ASSERT_EQ(pthread_join(th, NULL), 0);
  drive_all(e);
  off_t s2 = file_size(dir);
  /* The same work: with the snapshot pinned, and after. */
  if (!(s1 - s0 > 3 * (s2 - s1)))
    TEST_FAIL_("growth %lld bytes while pinned, %lld after",
               (long long)(s1 - s0), (long long)(s2 - s1));
  for (int i = 0; i < 2; i++) {
    close(p.ready[i]);
    close(p.release[i]);
  }
  rattan_close(e);
}
