/*
 * The bad-input sweep: one table of everything a caller can get wrong,
 * run against one store holding a task in a known state (a finished
 * activity, a failed one, one waiting on a callback). Each row must give
 * its error code, a message naming what is wrong and where (the JSON
 * path or byte offset, the node, the state), and leave every record of
 * the store exactly as it was.
 */
#include "api/api_int.h"
#include "exec_util.h"
#include "fixture.h"
#include "store/mem.h"

enum kind { DEF, OP, REPLAY };

typedef struct row {
  const char *name;
  enum kind kind;
  int want;          /* the error code */
  const char *where; /* a text the message must hold */
  /* DEF: the definition text (len 0: strlen). OP: the call. REPLAY: the
   * export of task "t", damaged by damage(). */
  const char *text;
  size_t len;
  int (*op)(rattan_engine *e, const char *wver);
  void (*damage)(buf *x);
} row;

/* ---- Operations ------------------------------------------------------------
 */

static int op_retry_finished(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_node_retry(e, "t", "done", NULL);
}
static int op_retry_bad_inputs(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_node_retry(e, "t", "bad", "{\"x\": ");
}
static int op_skip_running(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_node_skip(e, "t", "w");
}
static int op_skip_exg_activity(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_node_skip_exg(e, "t", "bad", "nosuchflow");
}
static int op_subprocess_pause_activity(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_subprocess_pause(e, "t", "w");
}
static int op_forced_fail_finished(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_node_forced_fail(e, "t", "done", "x");
}
static int op_callback_wrong_version(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_node_callback(e, "t", "w", "{}",
                              "v00000000000000000000000000000000");
}
static int op_callback_bad_data(rattan_engine *e, const char *v) {
  return rattan_node_callback(e, "t", "w", "{\"a\":}", v);
}
static int op_callback_not_waiting(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_node_callback(e, "t", "bad", "{}", NULL);
}
static int op_unknown_node(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_node_skip(e, "t", "nosuchnode");
}
static int op_unknown_task(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_task_pause(e, "nosuchtask");
}
static int op_long_node_id(rattan_engine *e, const char *v) {
  (void)v;
  char id[300];
  memset(id, 'n', sizeof id - 1);
  id[sizeof id - 1] = '\0';
  return rattan_node_retry(e, "t", id, NULL);
}
static int op_second_start(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_task_start(e, "t");
}
static int op_resume_running(rattan_engine *e, const char *v) {
  (void)v;
  return rattan_task_resume(e, "t");
}
static int op_huge_callback(rattan_engine *e, const char *v) {
  /* 64 MiB of nesting: refused by the parser's depth limit, not by
   * running out of stack or memory. */
  size_t n = 64u << 20;
  char *data = malloc(n + 1);
  ASSERT(data);
  memset(data, '[', n);
  data[n] = '\0';
  int rc = rattan_node_callback(e, "t", "w", data, v);
  free(data);
  return rc;
}
static int op_status_unknown(rattan_engine *e, const char *v) {
  (void)v;
  rattan_state st;
  return rattan_task_state(e, "nosuchtask", &st);
}

/* ---- Journals
 * ----------------------------------------------------------------
 */

static void cut_half(buf *x) {
  x->len /= 2;
}
static void flip_middle(buf *x) {
  x->data[x->len / 2] ^= 0x40;
}
static void empty(buf *x) {
  x->len = 0;
}
static void claim_huge(buf *x) {
  /* The first item becomes an array claiming 2^64-1 entries. */
  static const uint8_t huge[] = {0x9B, 0xFF, 0xFF, 0xFF, 0xFF,
                                 0xFF, 0xFF, 0xFF, 0xFF};
  x->len = sizeof huge;
  memcpy(x->data, huge, sizeof huge);
}
static void trailing(buf *x) {
  static const uint8_t junk[] = {0xFF, 0x00};
  ASSERT_EQ(buf_append(x, junk, sizeof junk), 0);
}

/* ---- The table
 * -----------------------------------------------------------------
 */

#define DEF_ROW(n, t, at) \
  { n, DEF, RATTAN_EDEF, at, t, 0, NULL, NULL }
#define OP_ROW(n, w, f, at) \
  { n, OP, w, at, NULL, 0, f, NULL }
#define REPLAY_ROW(n, w, d, at) \
  { n, REPLAY, w, at, NULL, 0, NULL, d }

static const row rows[] = {
    DEF_ROW("not JSON", "{nope", "byte 5"),
    DEF_ROW("truncated", "{\"id\": \"p\", \"start_event\": {", "byte 28"),
    DEF_ROW("empty", "", "byte 0"),
    DEF_ROW("an array", "[1, 2]", "object"),
    DEF_ROW("no start event",
            "{\"id\":\"p\",\"activities\":{},\"gateways\":{},\"flows\":{},"
            "\"end_event\":{\"id\":\"e\",\"type\":\"EmptyEndEvent\","
            "\"incoming\":[],\"outgoing\":\"\"}}",
            "start_event"),
    DEF_ROW("flow to nowhere",
            "{\"id\":\"p\",\"start_event\":{\"id\":\"s\",\"type\":"
            "\"EmptyStartEvent\",\"incoming\":\"\",\"outgoing\":\"f1\"},"
            "\"activities\":{},\"gateways\":{},\"flows\":{\"f1\":{\"id\":"
            "\"f1\",\"source\":\"s\",\"target\":\"ghost\"}},\"end_event\":{"
            "\"id\":\"e\",\"type\":\"EmptyEndEvent\",\"incoming\":[],"
            "\"outgoing\":\"\"}}",
            "flows.f1.target"),
    DEF_ROW("duplicate key", "{\"id\":\"p\",\"id\":\"q\"}", "byte 14"),
    DEF_ROW("number past double", "{\"id\": 1e400}", "byte 12"),
    DEF_ROW("invalid UTF-8", "{\"id\": \"\xc0\x80\"}", "byte 8"),
    DEF_ROW("deep nesting", NULL, "byte 2049"), /* filled in below */
    OP_ROW("retry a finished node", RATTAN_ESTATE, op_retry_finished,
           "FINISHED"),
    OP_ROW("retry with inputs not JSON", RATTAN_EINVAL, op_retry_bad_inputs,
           "byte 6"),
    OP_ROW("skip a running node", RATTAN_ESTATE, op_skip_running, "RUNNING"),
    OP_ROW("skip an activity as a gateway", RATTAN_ESTATE, op_skip_exg_activity,
           "bad"),
    OP_ROW("pause an activity as a subprocess", RATTAN_ESTATE,
           op_subprocess_pause_activity, "w"),
    OP_ROW("forced fail of a finished node", RATTAN_ESTATE,
           op_forced_fail_finished, "done"),
    OP_ROW("callback with a wrong version", RATTAN_EVERSION,
           op_callback_wrong_version, "v00000000000000000000000000000000"),
    OP_ROW("callback data not JSON", RATTAN_EINVAL, op_callback_bad_data, "w"),
    OP_ROW("callback to a failed node", RATTAN_ESTATE, op_callback_not_waiting,
           "bad"),
    OP_ROW("unknown node", RATTAN_EINVAL, op_unknown_node, "nosuchnode"),
    OP_ROW("unknown task", RATTAN_ENOTFOUND, op_unknown_task, "nosuchtask"),
    OP_ROW("node id over the limit", RATTAN_EINVAL, op_long_node_id, "no node"),
    OP_ROW("second start", RATTAN_ESTATE, op_second_start, "t"),
    OP_ROW("resume a running task", RATTAN_ESTATE, op_resume_running,
           "RUNNING -> RUNNING"),
    OP_ROW("64 MiB of nesting as callback data", RATTAN_EINVAL,
           op_huge_callback, "byte 2049"),
    OP_ROW("state of an unknown task", RATTAN_ENOTFOUND, op_status_unknown,
           "nosuchtask"),
    REPLAY_ROW("journal cut in half", RATTAN_ECORRUPT, cut_half, "byte"),
    REPLAY_ROW("journal with a flipped bit", RATTAN_ECORRUPT, flip_middle,
               "byte"),
    REPLAY_ROW("empty journal", RATTAN_ECORRUPT, empty, "byte 0"),
    REPLAY_ROW("journal claiming 2^64 items", RATTAN_ECORRUPT, claim_huge,
               "larger than"),
    REPLAY_ROW("journal with trailing bytes", RATTAN_ECORRUPT, trailing,
               "byte"),
    REPLAY_ROW("journal of a task the store has", RATTAN_EEXIST, NULL,
               "already exists"),
};

static buf dump(rattan_engine *e) {
  return fx_dump(e->e);
}

void test_badinput_sweep(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_act(p, "done", "noop");
  tb_act(p, "bad", "fail");
  tb_act(p, "w", "cb");
  tb_link(p, "s pg done cg e");
  tb_link(p, "pg bad cg");
  tb_link(p, "pg w cg");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "bad", RATTAN_STATE_FAILED);
  EXPECT_STATE(e, "t", "w", RATTAN_STATE_RUNNING);
  char wver[40];
  snprintf(wver, sizeof wver, "%s", xu_node(e, "t", "w").version);
  void *xp;
  size_t xlen;
  ASSERT_OK(rattan_export(e, "t", &xp, &xlen), rattan_errmsg(e));

  size_t deep_n = 100000;
  char *deep = malloc(deep_n + 1);
  ASSERT(deep);
  memset(deep, '[', deep_n);
  deep[deep_n] = '\0';

  /* Damaged journals are replayed into an empty store of their own (the
   * task would otherwise be refused as existing before any byte is read);
   * the intact one into the store that has the task. */
  rattan_engine *fresh = xu_open("fresh", 0);
  buf before = dump(e), fresh_before = dump(fresh);
  size_t n = sizeof rows / sizeof rows[0];
  for (size_t i = 0; i < n; i++) {
    const row *r = &rows[i];
    int rc;
    if (r->kind == DEF) {
      const char *text = r->text ? r->text : deep;
      size_t len = r->len ? r->len : strlen(text);
      char id[RATTAN_ID_MAX + 1];
      rc = rattan_task_create(e, text, len, NULL, id);
    } else if (r->kind == OP) {
      rc = r->op(e, wver);
    } else {
      buf x = {0};
      ASSERT_EQ(buf_append(&x, xp, xlen), 0);
      if (r->damage) r->damage(&x);
      rc = rattan_replay(r->damage ? fresh : e, x.data, x.len, NULL, NULL);
      buf_free(&x);
    }
    rattan_engine *at = r->kind == REPLAY && r->damage ? fresh : e;
    if (rc != r->want)
      TEST_FAIL_("%s: got %s, expected %s (%s)", r->name, rattan_errname(rc),
                 rattan_errname(r->want), rattan_errmsg(at));
    if (!strstr(rattan_errmsg(at), r->where))
      TEST_FAIL_("%s: the message does not name %s: %s", r->name, r->where,
                 rattan_errmsg(at));
    const buf *want = at == e ? &before : &fresh_before;
    buf after = dump(at);
    if (after.len != want->len || memcmp(after.data, want->data, after.len))
      TEST_FAIL_("%s: the store changed", r->name);
    buf_free(&after);
  }
  printf("  %zu bad inputs refused, the store unchanged by each\n", n);
  buf_free(&before);
  buf_free(&fresh_before);
  rattan_close(fresh);
  free(deep);
  rattan_free(xp);
  /* The task still runs: the callback it waits for finishes the node. */
  xu_callback(e, "t", "w", "{}");
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "w", RATTAN_STATE_FINISHED);
  rattan_close(e);
}
