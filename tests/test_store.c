/* The store: persistence across reopen, failed writes, map growth,
 * schema refusal, corrupt records and stale readers. */
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "store/store_int.h"

static void scenario(eng *e) {
  fx_do(e, "t", ACT_RUN);
  fx_do(e, "a", ACT_RUN);
  fx_do(e, "a", ACT_FAIL);
  fx_do(e, "a", ACT_RETRY);
  fx_do(e, "a", ACT_RUN);
  fx_do(e, "a", ACT_FINISH);
  fx_do(e, "b", ACT_PAUSE);
  fx_do(e, "a", ACT_RUN);
}

static void assert_same(buf *x, buf *y) {
  ASSERT_EQ(x->len, y->len);
  ASSERT(memcmp(x->data, y->data, x->len) == 0);
}

void test_store_reopen_identical(void) {
  eng *e = fx_open("db", 0);
  scenario(e);
  buf before = fx_dump(e);
  uint64_t n = fx_journal(e);
  ASSERT_EQ(n, 8);
  st_state a = fx_get(e, "a");
  eng_close(e);
  e = fx_open("db", 0);
  buf after = fx_dump(e);
  assert_same(&before, &after);
  st_state a2 = fx_get(e, "a");
  ASSERT_EQ(a2.loop, 2);
  ASSERT_STR(a2.version, a.version);
  ASSERT_EQ(a2.started, a.started);
  /* Each journal entry is one CBOR map naming its action and node. */
  st_txn *t;
  st_slice ev;
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  ASSERT_OK(st_journal_get(t, "t", 4, &ev, &err), err.msg);
  ASSERT(((const uint8_t *)ev.ptr)[0] >> 5 == 5); /* a CBOR map */
  ASSERT(memmem(ev.ptr, ev.len, "\x65retry", 6));
  ASSERT(memmem(ev.ptr, ev.len,
                "\x61"
                "a",
                2));
  ASSERT_ERR(st_journal_get(t, "t", 9, &ev, &err), RATTAN_ENOTFOUND);
  st_read_end(t);
  buf_free(&before);
  buf_free(&after);
  eng_close(e);
}

/* A failing put or commit leaves no state, no journal entry and no
 * consumed version behind. */
void test_store_failed_write_leaves_nothing(void) {
  const int codes[] = {RATTAN_ENOSPC, RATTAN_EIO};
  for (int what = ST_FAULT_PUT; what <= ST_FAULT_COMMIT; what++)
    for (int c = 0; c < 2; c++) {
      char name[32];
      snprintf(name, sizeof name, "db%d%d", what, c);
      eng *e = fx_open(name, 0);
      fx_do(e, "t", ACT_RUN);
      buf before = fx_dump(e);
      /* A fresh node's run puts its state, then its journal entry. */
      st_fault(eng_store(e), what, what == ST_FAULT_PUT ? 2 : 1, codes[c]);
      eng_change run = {.action = ACT_RUN};
      errbuf err = {0};
      ASSERT_ERR(fx_transit(e, "t", "a", &run, NULL, &err), codes[c]);
      ASSERT(err.msg[0]);
      ASSERT(!fx_has(e, "a"));
      buf after = fx_dump(e);
      assert_same(&before, &after);
      /* The version the failed write drew is drawn again. */
      st_state a = fx_do(e, "a", ACT_RUN);
      eng *ref = fx_open("ref", 0);
      fx_do(ref, "t", ACT_RUN);
      ASSERT_STR(fx_do(ref, "a", ACT_RUN).version, a.version);
      eng_close(ref);
      ASSERT_EQ(fx_journal(e), 2);
      buf_free(&before);
      buf_free(&after);
      eng_close(e);
      char path[512];
      snprintf(path, sizeof path, "rm -rf %s", test_path("ref"));
      ASSERT_EQ(system(path), 0);
    }
}

/* A simulated MDB_MAP_FULL: the map grows and the write is redone once,
 * with no duplicate journal entry. */
void test_store_map_full_redo(void) {
  eng *e = fx_open("db", 0);
  size_t size0 = st_map_size(eng_store(e));
  st_fault(eng_store(e), ST_FAULT_PUT, 2, RATTAN_EFULL);
  fx_do(e, "a", ACT_RUN);
  ASSERT_EQ(st_map_size(eng_store(e)), 2 * size0);
  ASSERT_EQ(fx_journal(e), 1);
  ASSERT_EQ(fx_get(e, "a").state, RATTAN_STATE_RUNNING);
  st_fault(eng_store(e), ST_FAULT_COMMIT, 1, RATTAN_EFULL);
  fx_do(e, "a", ACT_FINISH);
  ASSERT_EQ(fx_journal(e), 2);
  eng_close(e);
}

typedef struct batch {
  int from, n;
} batch;

static int run_batch(eng_txn *t, void *ctx, errbuf *err) {
  batch *b = ctx;
  eng_change c = {.action = ACT_RUN, .root_id = "t", .parent_id = "t"};
  int rc = eng_journal(t, "t", NULL, "batch", err);
  if (rc) return rc;
  for (int i = b->from; i < b->from + b->n; i++) {
    char node[32];
    snprintf(node, sizeof node, "node-%06d", i);
    if ((rc = eng_transit(t, "t", node, &c, NULL, err))) return rc;
  }
  return 0;
}

static eng *open_sized(size_t map, size_t max) {
  eng_config cfg = {
      .store = {.nosync = 1, .map_size = map, .map_size_max = max},
      .clock = {.kind = RATTAN_CLOCK_FIXED, .start_us = T0},
      .has_seed = 1,
      .seed = 7};
  eng *e;
  errbuf err = {0};
  ASSERT_OK(eng_open(&e, test_dir(), &cfg, &err), err.msg);
  return e;
}

void test_store_map_growth(void) {
  eng *e = open_sized(64 << 10, 64 << 20);
  size_t size0 = st_map_size(eng_store(e));
  errbuf err = {0};
  for (int i = 0; i < 3000; i += 100) {
    batch b = {i, 100};
    ASSERT_OK(eng_write(e, run_batch, &b, &err), err.msg);
  }
  ASSERT(st_map_size(eng_store(e)) > size0);
  ASSERT_EQ(fx_journal(e), 30); /* one entry per transaction */
  ASSERT_EQ(fx_get(e, "node-002999").state, RATTAN_STATE_RUNNING);
  eng_close(e);
}

void test_store_map_full_at_max(void) {
  eng *e = open_sized(64 << 10, 256 << 10);
  errbuf err = {0};
  int rc = 0, i = 0;
  buf before = {0};
  for (; i < 100000; i += 50) {
    buf_free(&before);
    before = fx_dump(e);
    batch b = {i, 50};
    if ((rc = eng_write(e, run_batch, &b, &err))) break;
  }
  ASSERT_ERR(rc, RATTAN_EFULL);
  ASSERT_CONTAINS(err.msg, "map full at its maximum of 262144 bytes");
  ASSERT_EQ(st_map_size(eng_store(e)), 256 << 10);
  buf after = fx_dump(e);
  assert_same(&before, &after);
  ASSERT_EQ(fx_journal(e), (uint64_t)i / 50); /* whole batches only */
  buf_free(&before);
  buf_free(&after);
  eng_close(e);
  /* The store reopens intact and takes writes again once allowed to grow. */
  e = open_sized(64 << 10, 64 << 20);
  batch b = {i, 50};
  ASSERT_OK(eng_write(e, run_batch, &b, &err), err.msg);
  ASSERT_EQ(fx_journal(e), (uint64_t)i / 50 + 1);
  eng_close(e);
}

static int put_schema(eng_txn *t, void *ctx, errbuf *err) {
  return st_schema_put(eng_txn_store(t), *(uint64_t *)ctx, err);
}

void test_store_newer_schema_refused(void) {
  eng *e = fx_open("db", 0);
  fx_do(e, "a", ACT_RUN);
  uint64_t newer = ST_SCHEMA_VERSION + 1;
  errbuf err = {0};
  ASSERT_OK(eng_write(e, put_schema, &newer, &err), err.msg);
  eng_close(e);
  eng_config cfg = {.store = {.nosync = 1}};
  ASSERT_ERR(eng_open(&e, test_path("db"), &cfg, &err), RATTAN_ESCHEMA);
  ASSERT(e == NULL);
  ASSERT_CONTAINS(err.msg, "schema 2 is newer than this library's (1)");
  ASSERT_CONTAINS(err.msg, test_path("db"));
  rattan_engine *re;
  char msg[512];
  ASSERT_ERR(rattan_open(test_path("db"), NULL, &re, msg, sizeof msg),
             RATTAN_ESCHEMA);
  ASSERT(re == NULL);
  ASSERT_CONTAINS(msg, "newer");
  /* An older or equal schema opens. */
  for (uint64_t v = 0; v <= ST_SCHEMA_VERSION; v++) {
    e = fx_open("db2", 0);
    ASSERT_OK(eng_write(e, put_schema, &v, &err), err.msg);
    eng_close(e);
    e = fx_open("db2", 0);
    eng_close(e);
  }
}

static int put_raw(eng_txn *t, void *ctx, errbuf *err) {
  const st_slice *v = ctx;
  return st_put(eng_txn_store(t), ST_DB_STATES, (st_slice){"t\0bad", 5}, *v,
                err);
}

void test_store_corrupt_record(void) {
  eng *e = fx_open("db", 0);
  errbuf err = {0};
  st_slice junk = {"\xdd\xff\xff\xff\xff", 5};
  ASSERT_OK(eng_write(e, put_raw, &junk, &err), err.msg);
  st_txn *t;
  st_state r;
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  ASSERT_ERR(st_state_get(t, "t", "bad", &r, &err), RATTAN_ECORRUPT);
  st_read_end(t);
  ASSERT_STR(err.msg,
             "task t node bad: state record: corrupt at byte 0: array count "
             "exceeds the bytes present");
  /* A transition on it fails the same way and writes nothing. */
  buf before = fx_dump(e);
  eng_change run = {.action = ACT_RUN};
  ASSERT_ERR(fx_transit(e, "t", "bad", &run, NULL, &err), RATTAN_ECORRUPT);
  buf after = fx_dump(e);
  assert_same(&before, &after);
  buf_free(&before);
  buf_free(&after);
  eng_close(e);
}

void test_store_open_twice_busy(void) {
  rattan_engine *a, *b;
  char msg[512];
  ASSERT_OK(rattan_open(test_dir(), NULL, &a, msg, sizeof msg), msg);
  ASSERT_ERR(rattan_open(test_dir(), NULL, &b, msg, sizeof msg), RATTAN_EBUSY);
  ASSERT(b == NULL);
  ASSERT_CONTAINS(msg, "already open in this process");
  rattan_close(a);
  ASSERT_OK(rattan_open(test_dir(), NULL, &b, msg, sizeof msg), msg);
  rattan_close(b);
}

/* Forks a process that opens the store, begins a read txn if `read`,
 * reports on the pipe and waits to be killed. */
static pid_t holder(int read_txn) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    st_store *s;
    st_txn *t;
    if (st_open(&s, test_dir(), NULL, NULL) ||
        (read_txn && st_read_begin(s, &t, NULL)))
      _exit(1);
    (void)!write(fds[1], "r", 1);
    pause();
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(fds[0], &c, 1), 1);
  close(fds[0]);
  close(fds[1]);
  return pid;
}

/* A reader killed while holding a snapshot leaves a slot that the next
 * open clears. Another process keeps the store open meanwhile, so LMDB
 * cannot simply reset its reader table. */
void test_store_stale_readers_cleared(void) {
  pid_t keeper = holder(0);
  pid_t reader = holder(1);
  kill(reader, SIGKILL);
  waitpid(reader, NULL, 0);
  st_store *s;
  errbuf err = {0};
  ASSERT_OK(st_open(&s, test_dir(), NULL, &err), err.msg);
  ASSERT_EQ(st_reader_count(s), 0);
  st_txn *t;
  ASSERT_OK(st_read_begin(s, &t, &err), err.msg);
  ASSERT_EQ(st_reader_count(s), 1);
  st_read_end(t);
  st_close(s);
  kill(keeper, SIGKILL);
  waitpid(keeper, NULL, 0);
}

/* A map too small even for the databases grows during open; an initial
 * size above the maximum is clamped to it. */
void test_store_open_sizes(void) {
  st_store *s;
  errbuf err = {0};
  st_config tiny = {.nosync = 1, .map_size = 8 << 10, .map_size_max = 1 << 20};
  ASSERT_OK(st_open(&s, test_dir(), &tiny, &err), err.msg);
  ASSERT(st_map_size(s) > (8 << 10));
  st_close(s);
  st_config capped = {.nosync = 1, .map_size_max = 1 << 20};
  ASSERT_OK(st_open(&s, test_path(""), &capped, &err), err.msg);
  ASSERT_EQ(st_map_size(s), 1 << 20);
  st_close(s);
}

typedef struct reader_ctx {
  eng *e;
  int fds[2];
  int decoded;
} reader_ctx;

static void *hold_read(void *arg) {
  reader_ctx *r = arg;
  st_txn *t;
  st_slice v;
  if (st_read_begin(eng_store(r->e), &t, NULL) ||
      st_get(t, ST_DB_STATES, (st_slice){"t\0a", 3}, &v, NULL))
    return NULL;
  (void)!write(r->fds[1], "r", 1);
  usleep(200 * 1000); /* the writer wants to grow the map meanwhile */
  st_state st;
  r->decoded = st_state_decode(v.ptr, v.len, &st, NULL) == 0 &&
               st.state == RATTAN_STATE_RUNNING;
  st_read_end(t);
  return NULL;
}

/* Growing the map remaps it, so it waits for open reads: a value
 * borrowed before stays readable. */
void test_store_growth_waits_for_readers(void) {
  eng *e = fx_open("db", 0);
  fx_do(e, "a", ACT_RUN);
  reader_ctx r = {.e = e};
  ASSERT_EQ(pipe(r.fds), 0);
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, hold_read, &r), 0);
  char c;
  ASSERT_EQ(read(r.fds[0], &c, 1), 1);
  size_t size0 = st_map_size(eng_store(e));
  st_fault(eng_store(e), ST_FAULT_PUT, 1, RATTAN_EFULL);
  fx_do(e, "b", ACT_RUN);
  pthread_join(th, NULL);
  ASSERT(r.decoded);
  ASSERT_EQ(st_map_size(eng_store(e)), 2 * size0);
  eng_close(e);
}

/* The journal checksum is CRC-32C: its published check value, and the
 * same sum whatever the split and alignment of the input (the sliced
 * loop and the byte loop agree). */
void test_store_crc32c(void) {
  ASSERT_EQ(crc32c(0, "123456789", 9), 0xE3069283u);
  ASSERT_EQ(crc32c(0, "", 0), 0);
  char text[64];
  for (int i = 0; i < 64; i++)
    text[i] = (char)(i * 37 + 11);
  for (size_t off = 0; off < 8; off++)
    for (size_t n = 0; off + n <= 64; n++) {
      uint32_t whole = crc32c(0, text + off, n);
      uint32_t bytes = 0;
      for (size_t i = 0; i < n; i++)
        bytes = crc32c(bytes, text + off + i, 1);
      ASSERT_EQ(whole, bytes);
    }
}
