/* The state table: every (from, to) pair, allowed and refused. */
#include <stdio.h>

#include "fixture.h"

/* bamboo's classic-line table (reference/bamboo-engine.md 2.1), plus our
 * CREATED row: records are created in RUNNING or SUSPENDED only. */
static const char *const allowed[][2] = {
    {"CREATED", "RUNNING"},   {"CREATED", "SUSPENDED"}, {"READY", "RUNNING"},
    {"READY", "SUSPENDED"},   {"RUNNING", "FINISHED"},  {"RUNNING", "FAILED"},
    {"RUNNING", "REVOKED"},   {"RUNNING", "SUSPENDED"}, {"SUSPENDED", "READY"},
    {"SUSPENDED", "REVOKED"}, {"SUSPENDED", "RUNNING"}, {"FINISHED", "RUNNING"},
    {"FINISHED", "FAILED"},   {"FAILED", "READY"},      {"FAILED", "FINISHED"},
};

static int expected(int from, int to) {
  for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
    if (!strcmp(allowed[i][0], rattan_state_name(from)) &&
        !strcmp(allowed[i][1], rattan_state_name(to)))
      return 1;
  return 0;
}

void test_state_names(void) {
  const char *names[] = {"CREATED", "READY",    "RUNNING", "SUSPENDED",
                         "BLOCKED", "FINISHED", "FAILED",  "REVOKED"};
  for (int s = 0; s < RATTAN_STATE_COUNT; s++)
    ASSERT_STR(rattan_state_name(s), names[s]);
  ASSERT(rattan_state_name(-1) == NULL);
  ASSERT(rattan_state_name(RATTAN_STATE_COUNT) == NULL);
}

void test_state_table(void) {
  int n = 0;
  for (int from = 0; from < RATTAN_STATE_COUNT; from++)
    for (int to = 0; to < RATTAN_STATE_COUNT; to++) {
      ASSERT_EQ(eng_can_transit(from, to), expected(from, to));
      n += expected(from, to);
    }
  ASSERT_EQ(n, 15);
  ASSERT(!eng_can_transit(-1, 0));
  ASSERT(!eng_can_transit(0, RATTAN_STATE_COUNT));
}

typedef struct pair_ctx {
  const char *node;
  int from, to;
  int rc;
  errbuf report;
} pair_ctx;

static int seed_record(eng_txn *t, void *ctx, errbuf *err) {
  pair_ctx *p = ctx;
  st_state r = {.state = (uint8_t)p->from,
                .loop = 1,
                .inner_loop = 1,
                .created = T0,
                .started = T0,
                .archived = ST_NO_TIME};
  eng_new_version(t, r.version);
  st_why why = {"seed", -1, NULL};
  int rc = eng_journal(t, "t", NULL, "seed", err);
  return rc ? rc : st_state_put(eng_txn_store(t), "t", p->node, &r, &why, err);
}

/* Tries the edge and commits whatever eng_transit wrote, even when it
 * refused: so a refusal that wrote anything would show in the store. */
static int try_edge(eng_txn *t, void *ctx, errbuf *err) {
  (void)err;
  pair_ctx *p = ctx;
  eng_change c = {.action = ACT_SET, .to = p->to};
  int rc = eng_journal(t, "t", NULL, "transit", err);
  if (rc) return rc;
  p->rc = eng_transit(t, "t", p->node, &c, NULL, &p->report);
  return 0;
}

/* Every pair through eng_transit on a stored record: allowed edges change
 * the state and add one journal entry; refused ones name the node, the
 * from and the to state and change nothing. */
void test_state_pairs_stored(void) {
  eng *e = fx_open("db", 0);
  errbuf err = {0};
  for (int from = 0; from < RATTAN_STATE_COUNT; from++)
    for (int to = 0; to < RATTAN_STATE_COUNT; to++) {
      char node[32];
      snprintf(node, sizeof node, "n_%d_%d", from, to);
      pair_ctx p = {.node = node, .from = from, .to = to};
      if (from != RATTAN_STATE_CREATED)
        ASSERT_OK(eng_write(e, seed_record, &p, &err), err.msg);
      uint64_t before = fx_journal(e);
      buf dump0 = fx_dump(e);
      ASSERT_OK(eng_write(e, try_edge, &p, &err), err.msg);
      if (expected(from, to)) {
        ASSERT_OK(p.rc, p.report.msg);
        ASSERT_EQ(fx_get(e, node).state, to);
        ASSERT_EQ(fx_journal(e), before + 1);
      } else {
        ASSERT_ERR(p.rc, RATTAN_ESTATE);
        char want[96];
        snprintf(want, sizeof want, "node %s: %s -> %s is not allowed", node,
                 rattan_state_name(from), rattan_state_name(to));
        ASSERT_STR(p.report.msg, want);
        buf dump1 = fx_dump(e);
        ASSERT_EQ(dump1.len, dump0.len);
        ASSERT(memcmp(dump0.data, dump1.data, dump0.len) == 0);
        buf_free(&dump1);
      }
      buf_free(&dump0);
    }
  eng_close(e);
}

/* Actions are stricter than the table: each names what it needs. */
void test_state_action_preconditions(void) {
  eng *e = fx_open("db", 0);
  errbuf err = {0};
  eng_change retry = {.action = ACT_RETRY};
  fx_do(e, "a", ACT_RUN);
  ASSERT_ERR(fx_transit(e, "t", "a", &retry, NULL, &err), RATTAN_ESTATE);
  ASSERT_STR(err.msg, "node a: RUNNING -> READY is not allowed");
  fx_do(e, "a", ACT_PAUSE);
  /* SUSPENDED -> READY is an edge, but retry needs FAILED. */
  ASSERT_ERR(fx_transit(e, "t", "a", &retry, NULL, &err), RATTAN_ESTATE);
  ASSERT_STR(err.msg,
             "node a: SUSPENDED -> READY is not allowed for retry "
             "(needs FAILED)");
  eng_change skip = {.action = ACT_SKIP};
  ASSERT_ERR(fx_transit(e, "t", "nothing", &skip, NULL, &err), RATTAN_ESTATE);
  ASSERT_CONTAINS(err.msg, "node nothing: CREATED -> FINISHED");
  ASSERT(!fx_has(e, "nothing"));
  eng_change bad = {.action = ACT_COUNT};
  ASSERT_ERR(fx_transit(e, "t", "a", &bad, NULL, &err), RATTAN_EINVAL);
  eng_change badto = {.action = ACT_SET, .to = 99};
  ASSERT_ERR(fx_transit(e, "t", "a", &badto, NULL, &err), RATTAN_EINVAL);
  ASSERT_CONTAINS(err.msg, "unknown target state 99");
  eng_change longid = {.action = ACT_SET, .to = RATTAN_STATE_RUNNING};
  char id[80];
  memset(id, 'x', sizeof id - 1);
  id[sizeof id - 1] = '\0';
  ASSERT_ERR(fx_transit(e, "t", id, &longid, NULL, &err), RATTAN_EINVAL);
  ASSERT_CONTAINS(err.msg, "longer than 64 bytes");
  eng_close(e);
}
