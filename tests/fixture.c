/* Helpers shared by the engine and store tests (see fixture.h). */
#include "fixture.h"

#include <sys/stat.h>

eng_config fx_config(void) {
  return (eng_config){.store = {.nosync = 1},
                      .clock = {.kind = RATTAN_CLOCK_VIRTUAL, .start_us = T0},
                      .has_seed = 1,
                      .seed = 42};
}

eng *fx_open_with(const char *name, const eng_config *cfg) {
  const char *dir = test_path(name);
  mkdir(dir, 0700);
  eng *e;
  errbuf err = {0};
  ASSERT_OK(eng_open(&e, dir, cfg, &err), err.msg);
  return e;
}

eng *fx_open(const char *name, unsigned rerun_limit) {
  eng_config cfg = fx_config();
  cfg.rerun_limit = rerun_limit;
  return fx_open_with(name, &cfg);
}

void fx_start(eng *e, const char *json, size_t len) {
  errbuf err = {0};
  eng_problems probs = {0};
  eng_task_opts o = {.id = "t"};
  char id[ST_ID_MAX + 1];
  ASSERT_OK(eng_task_create(e, json, len, &o, &probs, id, &err), err.msg);
  eng_problems_free(&probs);
  eng_op op = {.kind = OP_START, .task = "t"};
  ASSERT_OK(eng_operate(e, &op, &err), err.msg);
}

typedef struct one {
  const char *task, *node;
  const eng_change *c;
  st_state *out;
} one;

static int run_one(eng_txn *t, void *ctx, errbuf *err) {
  one *o = ctx;
  int rc = eng_journal(t, o->task, NULL, "transit", err);
  return rc ? rc : eng_transit(t, o->task, o->node, o->c, o->out, err);
}

int fx_transit(eng *e, const char *task, const char *node, const eng_change *c,
               st_state *out, errbuf *err) {
  one o = {task, node, c, out};
  return eng_write(e, run_one, &o, err);
}

st_state fx_do(eng *e, const char *node, int action) {
  eng_change c = {.action = action, .root_id = "t", .parent_id = "t"};
  st_state r;
  errbuf err = {0};
  ASSERT_OK(fx_transit(e, "t", node, &c, &r, &err), err.msg);
  return r;
}

st_state fx_get(eng *e, const char *node) {
  st_txn *t;
  st_state r;
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  ASSERT_OK(st_state_get(t, "t", node, &r, &err), err.msg);
  st_read_end(t);
  return r;
}

int fx_has(eng *e, const char *node) {
  st_txn *t;
  st_state r;
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  int rc = st_state_get(t, "t", node, &r, &err);
  st_read_end(t);
  if (rc && rc != RATTAN_ENOTFOUND) ASSERT_OK(rc, err.msg);
  return rc == 0;
}

uint64_t fx_journal(eng *e) {
  st_txn *t;
  uint64_t n;
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  ASSERT_OK(st_journal_count(t, "t", &n, &err), err.msg);
  st_read_end(t);
  return n;
}

uint32_t fx_history(eng *e, const char *node) {
  st_txn *t;
  uint32_t n;
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  ASSERT_OK(st_history_count(t, "t", node, &n, &err), err.msg);
  st_read_end(t);
  return n;
}

buf fx_dump(eng *e) {
  st_txn *t;
  buf b = {0};
  errbuf err = {0};
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  ASSERT_OK(st_dump(t, &b, &err), err.msg);
  st_read_end(t);
  return b;
}
