/* Fuzz target bodies (see targets.h). */
#include "targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/defparse.h"
#include "engine/expr.h"
#include "rattan.h"
#include "scratch.h"
#include "store/store.h"

/* Decodes with dec; what decodes must encode, decode and encode again to
 * the same bytes. */
#define ROUND_TRIP(type, dec, enc)                                     \
  do {                                                                 \
    type r, again;                                                     \
    if (dec(data, size, &r, NULL)) return 0;                           \
    buf b = {0}, b2 = {0};                                             \
    if (enc(&r, &b)) return 0; /* out of memory */                     \
    if (dec(b.data, b.len, &again, NULL) || enc(&again, &b2)) abort(); \
    if (b.len != b2.len || memcmp(b.data, b2.data, b.len)) abort();    \
    buf_free(&b);                                                      \
    buf_free(&b2);                                                     \
  } while (0)

int fuzz_record(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  int kind = data[0] % 4;
  data++, size--;
  switch (kind) {
    case 0:
      ROUND_TRIP(st_state, st_state_decode, st_state_encode);
      break;
    case 1:
      ROUND_TRIP(st_proc, st_proc_decode, st_proc_encode);
      break;
    case 2:
      ROUND_TRIP(st_sched, st_sched_decode, st_sched_encode);
      break;
    default: {
      st_task t;
      st_def d;
      /* Task records have no encoder of their own outside a txn; both
       * readers must simply survive. */
      st_task_decode(data, size, &t, NULL);
      st_def_decode(data, size, &d, NULL);
      st_def_free(&d); /* after a failure too, as st_def_decode says */
    }
  }
  return 0;
}

/* Small limits keep each run fast; the parser's limits are tested
 * elsewhere. */
int fuzz_definition(const uint8_t *data, size_t size) {
  def_options o = {.max_nodes = 2000, .max_bytes = 1 << 20};
  st_def d, again;
  diag dg = {0};
  int rc = def_compile((const char *)data, size, &o, &d, &dg, NULL);
  diag_free(&dg);
  if (rc) return 0;
  json_t *j = def_to_json(&d);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (text) {
    diag dg2 = {0};
    if (def_compile(text, strlen(text), NULL, &again, &dg2, NULL)) abort();
    if (again.n_nodes != d.n_nodes || again.n_flows != d.n_flows ||
        again.n_vars != d.n_vars || again.n_pipes != d.n_pipes)
      abort();
    for (uint32_t i = 0; i < d.n_nodes; i++)
      if (again.nodes[i].converge != d.nodes[i].converge) abort();
    st_def_free(&again);
    diag_free(&dg2);
    rt_free(text);
  }
  buf b = {0};
  if (st_def_encode(&d, &b) == 0) {
    if (st_def_decode(b.data, b.len, &again, NULL)) abort();
    st_def_free(&again);
  }
  buf_free(&b);
  st_def_free(&d);
  return 0;
}

int fuzz_expr(const uint8_t *data, size_t size) {
  static json_t *ctx;
  if (!ctx)
    ctx = json_loads(
        "{\"s\": \"1,2,3\", \"n\": 2, \"f\": 0.5, \"l\": [1, \"a\", "
        "null], \"d\": {\"k\": [true]}}",
        0, NULL);
  arena a = {0};
  xv *v;
  errbuf err;
  if (expr_eval((const char *)data, size, expr_json_lookup, ctx, &a, &v,
                &err) == 0) {
    buf b = {0};
    if (xv_str(v, &b) == 0) xv_repr(v, &b);
    buf_free(&b);
  }
  if (expr_render((const char *)data, size, expr_json_lookup, ctx, &a, &v,
                  &err) == 0) {
    buf b = {0};
    xv_repr(v, &b);
    buf_free(&b);
  }
  ar_free(&a);
  return 0;
}

/* ---- Journals: one store for the process, emptied after each accepted
 * replay. */

static char journal_dir[64];
static rattan_engine *journal_engine;

static void journal_wipe(void) {
  rattan_close(journal_engine);
  journal_engine = NULL;
  fz_empty_dir(journal_dir);
}

static void journal_cleanup(void) {
  journal_wipe();
  rmdir(journal_dir);
}

static int count_task(void *ctx, const char *id, const char *name,
                      rattan_state state) {
  (void)id;
  (void)name;
  (void)state;
  ++*(int *)ctx;
  return 0;
}

int fuzz_journal(const uint8_t *data, size_t size) {
  if (!journal_dir[0]) {
    if (fz_scratch_dir(journal_dir, sizeof journal_dir, "journal")) abort();
    atexit(journal_cleanup);
  }
  if (!journal_engine) {
    rattan_options o;
    rattan_options_init(&o);
    o.durability = RATTAN_DURABILITY_NOSYNC;
    char msg[256];
    if (rattan_open(journal_dir, &o, &journal_engine, msg, sizeof msg)) abort();
  }
  rattan_replay_result res;
  int rc = rattan_replay(journal_engine, data, size, NULL, &res);
  if (rc == RATTAN_ENOMEM) return 0;
  if (rc) {
    int n = 0;
    if (rattan_task_each(journal_engine, count_task, &n) || n) abort();
    return 0;
  }
  void *out;
  size_t len;
  if (rattan_export(journal_engine, res.task, &out, &len)) abort();
  /* The events come back byte for byte; the header names the same task
   * (its definition text and engine version are the exporter's own). */
  st_jreader a, b;
  st_jheader ha, hb;
  st_jr_init(&a, data, size, NULL);
  st_jr_init(&b, out, len, NULL);
  if (st_jr_header(&a, &ha) || st_jr_header(&b, &hb)) abort();
  if (size - a.off != len - b.off ||
      memcmp(data + a.off, (uint8_t *)out + b.off, len - b.off) ||
      strcmp(ha.task.id, hb.task.id) || strcmp(ha.task.name, hb.task.name) ||
      strcmp(ha.task.root, hb.task.root) ||
      ha.task.created != hb.task.created || ha.events != hb.events)
    abort();
  rattan_free(out);
  journal_wipe();
  return 0;
}
