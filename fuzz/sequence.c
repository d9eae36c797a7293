/*
 * The sequence fuzz target: a small pipeline and a script of steps, run
 * on a real store, with invariants checked after every step.
 *
 * Input format (every byte string is a valid input; missing bytes read
 * as 0, values wrap):
 *   byte 0  shape: (b & 7) % 6 picks linear, parallel, exclusive,
 *           conditional parallel, subprocess or loop (see build_shape);
 *           bit 3 makes the first activity neither retryable nor
 *           skippable.
 *   byte 1  components, 2 bits per activity in node order: 0 finishes
 *           in execute, 1 is not registered, 2 waits for a callback, 3
 *           polls.
 *   byte 2  flags: bits 0-1 a timeout of 2, 4 or 6 s on waiting
 *           activities (0: none); bit 2 the second activity is
 *           error_ignorable; bits 3-4 the cycles run 2 + n rounds;
 *           bits 5-6 the rerun limit (0: the default); bit 7 the
 *           gateways' second flow is their default.
 *   then    steps, two bytes each (at most SQ_STEPS): the kind, b % 24
 *           in enum sq_kind's order (SQ_KINDS and up drive too), and the
 *           argument. Its low 5 bits pick a node, (a & 31) % (nodes + 2),
 *           the last two being the root pipeline's id and an id the task
 *           lacks; its high 3 bits (x) are the kind's own: success sets
 *           the node's value to x & 3, operations read op_prepare's. A
 *           drive's budget is a & 7: 64, 1, 2, 3, 4, 6, 8 or 16 steps.
 *
 * Each input runs in a fresh nosync store with a virtual clock and a
 * fixed seed. After every step: the model's prediction (model.h), the
 * records' counters against their earlier values, the status tree
 * against the records; around each operation, that a refusal changed
 * nothing; around a reopen, that the store reads back the same; every
 * SQ_REPLAY_EVERY steps and at the end, that the export replays into an
 * empty store to the same records, status bytes and export.
 *
 * With RATTAN_SEQ_TRACE set in the environment each step is printed
 * with the records after it (trace()).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api_int.h"
#include "fuzz/model.h"
#include "fuzz/scratch.h"
#include "fuzz/targets.h"

#define SQ_STEPS        64
#define SQ_REPLAY_EVERY 16
#define SQ_T0           1615347954000000LL /* 2021-03-10 03:45:54 UTC */
#define SQ_TASK         "t"
#define SQ_TRACE        "sequence-trace"

enum sq_kind {
  SQ_DRIVE,
  SQ_START,
  SQ_SUCCESS,
  SQ_FAILURE,
  SQ_POLL,
  SQ_CALLBACK,
  SQ_RETRY,
  SQ_SKIP,
  SQ_SKIP_EXG,
  SQ_SKIP_CPG,
  SQ_PAUSE,
  SQ_RESUME,
  SQ_NODE_PAUSE,
  SQ_NODE_RESUME,
  SQ_SUB_PAUSE,
  SQ_SUB_RESUME,
  SQ_SUB_RETRY,
  SQ_REVOKE,
  SQ_FORCED_FAIL,
  SQ_REOPEN,
  SQ_STATUS,
  SQ_KINDS
};

static const char *const kind_names[SQ_KINDS] = {
    [SQ_DRIVE] = "drive",
    [SQ_START] = "start",
    [SQ_SUCCESS] = "success",
    [SQ_FAILURE] = "failure",
    [SQ_POLL] = "poll",
    [SQ_CALLBACK] = "callback",
    [SQ_RETRY] = "retry",
    [SQ_SKIP] = "skip",
    [SQ_SKIP_EXG] = "skip_exg",
    [SQ_SKIP_CPG] = "skip_cpg",
    [SQ_PAUSE] = "pause",
    [SQ_RESUME] = "resume",
    [SQ_NODE_PAUSE] = "node_pause",
    [SQ_NODE_RESUME] = "node_resume",
    [SQ_SUB_PAUSE] = "subprocess_pause",
    [SQ_SUB_RESUME] = "subprocess_resume",
    [SQ_SUB_RETRY] = "subprocess_retry",
    [SQ_REVOKE] = "revoke",
    [SQ_FORCED_FAIL] = "forced_fail",
    [SQ_REOPEN] = "reopen",
    [SQ_STATUS] = "status"};

/* What one input runs on. Static: the components' context must outlive
 * the engine, and nothing of it survives into the next input
 * (fuzz_sequence clears it). */
typedef struct seq {
  md_graph g;
  md_fate fate[MD_NODES];
  md_model model;
  rattan_engine *e;
  int step;
  /* Each node's record (index MD_NODES: the root's) after this step
   * and after the previous one, with its history count. */
  rattan_node_info cur[MD_NODES + 1], last[MD_NODES + 1];
  int has[MD_NODES + 1], had[MD_NODES + 1];
  unsigned hist[MD_NODES + 1], hist_last[MD_NODES + 1];
} seq;

static seq S;
static char base_dir[64], live_dir[80], replay_dir[80];

/* ---- Failing ----------------------------------------------------------------
 * A violated invariant: one line naming the check and the values, then
 * abort(). */

__attribute__((format(printf, 1, 2), noreturn)) static void fail(
    const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "fuzz_sequence: step %d: ", S.step);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

static void ok_or_fail(int rc, rattan_engine *e, const char *what) {
  if (rc) fail("%s: %s (%s)", what, rattan_errname(rc), rattan_errmsg(e));
}

static const char *sname(int s) {
  const char *n = rattan_state_name(s);
  return n ? n : "?";
}

/* ---- Shapes -------------------------------------------------------------- */

static int add(md_graph *g, const char *id, int kind, int pipe) {
  md_node *n = &g->n[g->count];
  *n = (md_node){.kind = kind, .pipe = pipe, .dflt = -1, .converge = -1};
  snprintf(n->id, sizeof n->id, "%s", id);
  return g->count++;
}

/* Flows from node a to each of the following nodes, in order. */
static void flow_to(md_graph *g, int a, int b) {
  md_node *n = &g->n[a];
  n->cond[n->n_out] = (md_cond){.var = -1};
  n->flow[n->n_out] = g->n_flows++;
  n->out[n->n_out++] = b;
}

static void chain(md_graph *g, const int *ids, int n) {
  for (int i = 0; i + 1 < n; i++)
    flow_to(g, ids[i], ids[i + 1]);
}

static void cond(md_graph *g, int gw, int k, int var, int lo, int hi) {
  g->n[gw].cond[k] = (md_cond){var, lo, hi};
}

/* ${x}: a1's output v. */
static void var_x(md_graph *g, int a1) {
  g->var[g->n_vars++] = (md_var){"x", a1, "v"};
}

/* A gateway gw forking to b and c, which meet at cg: conditions (when
 * conditional) x in [0, 1] for b and x in [1, 2] for c, so x = 1 takes
 * both and x = 3 neither; with dflt, c is the default flow. */
static void fork_two(md_graph *g, int gw, int b, int c, int cg, int dflt) {
  flow_to(g, gw, b);
  flow_to(g, gw, c);
  flow_to(g, b, cg);
  flow_to(g, c, cg);
  if (g->n[gw].kind == MD_PARALLEL) return;
  cond(g, gw, 0, 0, 0, 1);
  cond(g, gw, 1, 0, 1, 2);
  if (dflt) {
    g->n[gw].dflt = 1;
    g->n[gw].cond[1].var = -1;
  }
}

/* The shapes (ids in the order nodes are added):
 *   0 linear       s a1 a2 a3 e
 *   1 parallel     s pg (b1 b2 | c1) cg d1 e
 *   2 exclusive    s a1 xg (b1 | c1) cg e, on ${x}
 *   3 cond. par.   s a1 cpg (b1 | c1) cg e, on ${x}
 *   4 subprocess   s a1 sp[ss x1 x2 se] a2 lg e, lg back to a1 while
 *                  a2's _loop < N; sp's param "${10 // (x - 1)}" fails
 *                  it when x = 1
 *   5 loop         s a1 a2 lg e, lg back to a1 while a2's _loop < N */
/* lg after a2: back to a1 while a2's _loop < times, else on to e. */
static void loop_back(md_graph *g, int a1, int a2, int lg, int e, int times) {
  flow_to(g, a2, lg);
  flow_to(g, lg, a1);
  flow_to(g, lg, e);
  cond(g, lg, 0, g->n_vars, 0, times - 1);
  cond(g, lg, 1, g->n_vars, times, 1000);
  g->var[g->n_vars++] = (md_var){"n", a2, "_loop"};
}

static void build_shape(md_graph *g, const uint8_t p[3]) {
  memset(g, 0, sizeof *g);
  snprintf(g->root, sizeof g->root, "p");
  int shape = (p[0] & 7) % 6, dflt = p[2] >> 7;
  int times = 2 + ((p[2] >> 3) & 3);
  switch (shape) {
    case 0: {
      int n[] = {add(g, "s", MD_START, -1), add(g, "a1", MD_ACT, -1),
                 add(g, "a2", MD_ACT, -1), add(g, "a3", MD_ACT, -1),
                 add(g, "e", MD_END, -1)};
      chain(g, n, 5);
      break;
    }
    case 1: {
      int s = add(g, "s", MD_START, -1), pg = add(g, "pg", MD_PARALLEL, -1);
      int b1 = add(g, "b1", MD_ACT, -1), b2 = add(g, "b2", MD_ACT, -1);
      int c1 = add(g, "c1", MD_ACT, -1), cg = add(g, "cg", MD_CONVERGE, -1);
      int d1 = add(g, "d1", MD_ACT, -1), e = add(g, "e", MD_END, -1);
      flow_to(g, s, pg);
      flow_to(g, pg, b1);
      flow_to(g, pg, c1);
      flow_to(g, b1, b2);
      flow_to(g, b2, cg);
      flow_to(g, c1, cg);
      int tail[] = {cg, d1, e};
      chain(g, tail, 3);
      g->n[pg].converge = cg;
      break;
    }
    case 2:
    case 3: {
      int s = add(g, "s", MD_START, -1), a1 = add(g, "a1", MD_ACT, -1);
      int gw = add(g, shape == 2 ? "xg" : "cpg",
                   shape == 2 ? MD_EXCLUSIVE : MD_CONDPAR, -1);
      int b1 = add(g, "b1", MD_ACT, -1), c1 = add(g, "c1", MD_ACT, -1);
      int cg = add(g, "cg", MD_CONVERGE, -1), e = add(g, "e", MD_END, -1);
      int head[] = {s, a1, gw};
      chain(g, head, 3);
      fork_two(g, gw, b1, c1, cg, dflt);
      flow_to(g, cg, e);
      g->n[gw].converge = cg;
      var_x(g, a1);
      break;
    }
    case 4: {
      int s = add(g, "s", MD_START, -1), a1 = add(g, "a1", MD_ACT, -1);
      int sp = add(g, "sp", MD_SUB, -1);
      int ss = add(g, "ss", MD_START, sp), x1 = add(g, "x1", MD_ACT, sp);
      int x2 = add(g, "x2", MD_ACT, sp), se = add(g, "se", MD_END, sp);
      int a2 = add(g, "a2", MD_ACT, -1), lg = add(g, "lg", MD_EXCLUSIVE, -1);
      int e = add(g, "e", MD_END, -1);
      int outer[] = {s, a1, sp, a2}, inner[] = {ss, x1, x2, se};
      chain(g, outer, 4);
      chain(g, inner, 4);
      g->n[sp].start = ss;
      g->n[sp].end = se;
      var_x(g, a1);
      loop_back(g, a1, a2, lg, e, times);
      break;
    }
    default: {
      int s = add(g, "s", MD_START, -1), a1 = add(g, "a1", MD_ACT, -1);
      int a2 = add(g, "a2", MD_ACT, -1), lg = add(g, "lg", MD_EXCLUSIVE, -1);
      int e = add(g, "e", MD_END, -1);
      int n[] = {s, a1, a2};
      chain(g, n, 3);
      loop_back(g, a1, a2, lg, e, times);
      break;
    }
  }
  g->start = 0;
  for (int i = 0; i < g->count; i++)
    if (g->n[i].kind == MD_END && g->n[i].pipe < 0) g->end = i;
  int k = 0;
  for (int i = 0; i < g->count; i++) {
    md_node *n = &g->n[i];
    if (n->kind != MD_ACT) continue;
    static const int comps[4] = {MD_PLAIN, MD_MISSING, MD_CALLBACK, MD_POLL};
    n->comp = comps[(p[1] >> (2 * (k % 4))) & 3];
    if (n->comp >= MD_CALLBACK) n->timeout = 2 * (p[2] & 3);
    n->ignorable = k == 1 && (p[2] & 4);
    n->locked = k == 0 && (p[0] & 8);
    k++;
  }
  g->rerun_limit = (p[2] >> 5) & 3;
}

/* ---- The pipeline_tree of a graph ---------------------------------------- */

/* By enum md_comp; no component is registered for "sq_none". */
static const char *const comp_codes[] = {"sq", "sq_none", "sq_cb", "sq_poll"};

static json_t *flow_ids(const md_graph *g, int node, int incoming) {
  json_t *a = json_array();
  char id[16];
  for (int i = 0; i < g->count; i++)
    for (int k = 0; k < g->n[i].n_out; k++)
      if (incoming ? g->n[i].out[k] == node : i == node) {
        snprintf(id, sizeof id, "f%d", g->n[i].flow[k]);
        json_array_append_new(a, json_string(id));
      }
  return a;
}

/* A list of flow ids as the node type wants it: a text for one-way
 * nodes, a list for gateways. */
static json_t *flows_as(json_t *list, int as_list) {
  if (as_list) return list;
  json_t *t = json_string(
      json_array_size(list) ? json_string_value(json_array_get(list, 0)) : "");
  json_decref(list);
  return t;
}

static const char *gateway_type(int kind) {
  switch (kind) {
    case MD_PARALLEL:
      return "ParallelGateway";
    case MD_EXCLUSIVE:
      return "ExclusiveGateway";
    case MD_CONDPAR:
      return "ConditionalParallelGateway";
    default:
      return "ConvergeGateway";
  }
}

static json_t *pipeline_json(const md_graph *g, int pipe);

static json_t *node_json(const md_graph *g, int i) {
  const md_node *n = &g->n[i];
  int many = n->kind == MD_PARALLEL || n->kind == MD_EXCLUSIVE ||
             n->kind == MD_CONDPAR;
  json_t *j = json_pack("{s:s,s:s,s:o,s:o}", "id", n->id, "name",
                        n->kind == MD_ACT || n->kind == MD_SUB ? n->id : "",
                        "incoming", flows_as(flow_ids(g, i, 1), 1), "outgoing",
                        flows_as(flow_ids(g, i, 0), many));
  char text[96], fid[16];
  switch (n->kind) {
    case MD_ACT:
      json_object_set_new(j, "type", json_string("ServiceActivity"));
      json_object_set_new(
          j, "component",
          json_pack("{s:s,s:{}}", "code", comp_codes[n->comp], "inputs"));
      json_object_set_new(j, "error_ignorable", json_boolean(n->ignorable));
      json_object_set_new(j, "skippable", json_boolean(!n->locked));
      json_object_set_new(j, "retryable", json_boolean(!n->locked));
      json_object_set_new(j, "optional", json_false());
      json_object_set_new(j, "timeout",
                          n->timeout ? json_integer(n->timeout) : json_null());
      break;
    case MD_SUB:
      json_object_set_new(j, "type", json_string("SubProcess"));
      json_object_set_new(j, "params",
                          json_pack("{s:{s:s,s:s}}", "d", "type", "splice",
                                    "value", "${10 // (x - 1)}"));
      json_object_set_new(j, "pipeline", pipeline_json(g, i));
      break;
    default: {
      json_object_set_new(j, "type", json_string(gateway_type(n->kind)));
      json_t *conds = json_object();
      for (int k = 0; k < n->n_out; k++) {
        const md_cond *c = &n->cond[k];
        if (c->var < 0) continue;
        const char *v = g->var[c->var].name;
        snprintf(text, sizeof text, "${%s} >= %d and ${%s} <= %d", v, c->lo, v,
                 c->hi);
        snprintf(fid, sizeof fid, "f%d", n->flow[k]);
        json_object_set_new(conds, fid, json_pack("{s:s}", "evaluate", text));
      }
      if (json_object_size(conds)) json_object_set(j, "conditions", conds);
      json_decref(conds);
      if (n->dflt >= 0) {
        snprintf(fid, sizeof fid, "f%d", n->flow[n->dflt]);
        json_object_set_new(
            j, "default_condition",
            json_pack("{s:s,s:s}", "name", "default", "flow_id", fid));
      }
    }
  }
  return j;
}

/* The pipeline of the SubProcess node pipe (-1: the root). */
static json_t *pipeline_json(const md_graph *g, int pipe) {
  int start = pipe < 0 ? g->start : g->n[pipe].start;
  int end = pipe < 0 ? g->end : g->n[pipe].end;
  json_t *acts = json_object(), *gws = json_object(), *flows = json_object(),
         *inputs = json_object();
  char fid[16];
  for (int i = 0; i < g->count; i++) {
    const md_node *n = &g->n[i];
    if (n->pipe != pipe) continue;
    for (int k = 0; k < n->n_out; k++) {
      snprintf(fid, sizeof fid, "f%d", n->flow[k]);
      json_object_set_new(
          flows, fid,
          json_pack("{s:s,s:s,s:s,s:b}", "id", fid, "source", n->id, "target",
                    g->n[n->out[k]].id, "is_default", k == n->dflt));
    }
    if (n->kind == MD_ACT || n->kind == MD_SUB)
      json_object_set_new(acts, n->id, node_json(g, i));
    else if (n->kind != MD_START && n->kind != MD_END)
      json_object_set_new(gws, n->id, node_json(g, i));
  }
  for (int v = 0; pipe < 0 && v < g->n_vars; v++) {
    char key[16];
    snprintf(key, sizeof key, "${%s}", g->var[v].name);
    json_object_set_new(
        inputs, key,
        json_pack("{s:s,s:s,s:s,s:s}", "type", "splice", "value", "",
                  "source_act", g->n[g->var[v].src].id, "source_key",
                  g->var[v].key));
  }
  return json_pack(
      "{s:s,s:{s:s,s:s,s:s,s:s,s:o},s:{s:s,s:s,s:s,s:o,s:s},s:o,s:o,s:o,"
      "s:{s:o,s:[]}}",
      "id", pipe < 0 ? g->root : g->n[pipe].id, "start_event", "id",
      g->n[start].id, "type", "EmptyStartEvent", "name", "", "incoming", "",
      "outgoing", flows_as(flow_ids(g, start, 0), 0), "end_event", "id",
      g->n[end].id, "type", "EmptyEndEvent", "name", "", "incoming",
      flow_ids(g, end, 1), "outgoing", "", "activities", acts, "gateways", gws,
      "flows", flows, "data", "inputs", inputs, "outputs");
}

/* ---- Components -------------------------------------------------------------
 * Their outcome is the script's (S.fate of the node); each writes output
 * "v", the node's value, which ${x} maps. */

static md_fate *fate_of(rattan_call *c) {
  const char *id = rattan_call_node(c);
  for (int i = 0; i < S.g.count; i++)
    if (!strcmp(S.g.n[i].id, id)) return &S.fate[i];
  fail("component called for node %s, not in the graph", id);
}

/* Sets v; fails when the script says so. A polling node with a value
 * asks for its next poll after v / 2 seconds instead of the interval. */
static int outcome(rattan_call *c, int ok, void *ctx) {
  md_fate *f = fate_of(c);
  if (rattan_call_set_output_int(c, "v", f->value)) fail("set_output_int");
  if ((intptr_t)ctx == MD_POLL && f->value)
    rattan_call_poll_after(c, f->value * 500000LL);
  if (ok && !f->fail) return 0;
  rattan_call_fail(c, "scripted failure");
  return 1;
}

static int c_execute(rattan_call *c, void *ctx) {
  return outcome(c, 1, ctx);
}

/* A callback's data {"ok": true} finishes the node; anything else fails
 * it. */
static int c_callback(rattan_call *c, void *ctx) {
  const char *data = rattan_call_callback_data(c);
  json_t *j = data ? json_loads(data, JSON_DECODE_ANY, NULL) : NULL;
  int ok = json_is_true(json_object_get(j, "ok"));
  json_decref(j);
  return outcome(c, ok, ctx);
}

static int c_poll(rattan_call *c, void *ctx) {
  md_fate *f = fate_of(c);
  if (!f->fail && f->poll_done) {
    f->poll_done = 0;
    rattan_call_finish_schedule(c);
  }
  return outcome(c, 1, ctx);
}

/* Each component's ctx is its enum md_comp. */
static void register_components(rattan_engine *e) {
  const rattan_component cs[] = {{.code = comp_codes[MD_PLAIN],
                                  .execute = c_execute,
                                  .ctx = (void *)(intptr_t)MD_PLAIN},
                                 {.code = comp_codes[MD_CALLBACK],
                                  .schedule = RATTAN_SCHEDULE_CALLBACK,
                                  .execute = c_execute,
                                  .schedule_fn = c_callback,
                                  .ctx = (void *)(intptr_t)MD_CALLBACK},
                                 {.code = comp_codes[MD_POLL],
                                  .schedule = RATTAN_SCHEDULE_POLL,
                                  .interval_us = 1000000,
                                  .execute = c_execute,
                                  .schedule_fn = c_poll,
                                  .ctx = (void *)(intptr_t)MD_POLL}};
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
    ok_or_fail(rattan_component_register(e, &cs[i]), e, "register");
}

/* ---- Stores -------------------------------------------------------------- */

static void cleanup(void) {
  rattan_close(S.e);
  S.e = NULL;
  fz_empty_dir(live_dir);
  fz_empty_dir(replay_dir);
  rmdir(live_dir);
  rmdir(replay_dir);
  rmdir(base_dir);
}

static void make_dirs(void) {
  if (fz_scratch_dir(base_dir, sizeof base_dir, "seq"))
    fail("mkdtemp %s", base_dir);
  snprintf(live_dir, sizeof live_dir, "%s/live", base_dir);
  snprintf(replay_dir, sizeof replay_dir, "%s/replay", base_dir);
  atexit(cleanup);
}

/* The live store: nosync, a virtual clock, a fixed seed, the graph's
 * rerun limit; the replay store needs no clock of its own. */
static rattan_engine *open_store(const char *dir, int live) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  o.clock.kind = live ? RATTAN_CLOCK_VIRTUAL : RATTAN_CLOCK_FIXED;
  o.clock.start_us = SQ_T0;
  o.has_seed = 1;
  o.seed = 7;
  o.rerun_limit = S.g.rerun_limit;
  rattan_engine *e;
  char msg[256];
  if (rattan_open(dir, &o, &e, msg, sizeof msg)) fail("open %s: %s", dir, msg);
  if (live) register_components(e);
  return e;
}

/* The task's records (st_dump_task): equal dumps, equal tasks. */
static buf dump_task(rattan_engine *re) {
  st_txn *t;
  errbuf err = {0};
  buf b = {0};
  if (st_read_begin(eng_store(re->e), &t, &err)) fail("dump: %s", err.msg);
  int rc = st_dump_task(t, SQ_TASK, &b, &err);
  st_read_end(t);
  if (rc) fail("dump: %s", err.msg);
  return b;
}

static uint64_t journal_count(rattan_engine *re) {
  st_txn *t;
  errbuf err = {0};
  uint64_t n = 0;
  if (st_read_begin(eng_store(re->e), &t, &err)) fail("journal: %s", err.msg);
  int rc = st_journal_count(t, SQ_TASK, &n, &err);
  st_read_end(t);
  if (rc) fail("journal count: %s", err.msg);
  return n;
}

static int buf_same(const buf *a, const buf *b) {
  return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/* The status answer, as of the fixed moment now. */
static char *status_of(rattan_engine *e, int profile, int format, int ex,
                       int64_t now, size_t *len) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.profile = (rattan_profile)profile;
  o.format = (rattan_format)format;
  o.with_ex_data = ex;
  o.trace_id = SQ_TRACE;
  o.now_us = now;
  char *out = NULL;
  int rc = rattan_task_status(e, SQ_TASK, &o, &out, len);
  if (rc || !out)
    fail("status profile %d format %d: %s", profile, format,
         out ? out : rattan_errname(rc));
  return out;
}

/* ---- Checks -------------------------------------------------------------- */

/* The node's record; 0 when it has none. */
static int node_get(const char *id, rattan_node_info *i) {
  int rc = rattan_node_get(S.e, SQ_TASK, id, i);
  if (rc == RATTAN_ENOTFOUND) return 0;
  ok_or_fail(rc, S.e, id);
  return 1;
}

static const char *id_of(int i) {
  return i == MD_NODES ? S.g.root : S.g.n[i].id;
}

/* The index of id in S.cur, or -1. */
static int index_of(const char *id) {
  if (!strcmp(id, S.g.root)) return MD_NODES;
  for (int i = 0; i < S.g.count; i++)
    if (!strcmp(S.g.n[i].id, id)) return i;
  return -1;
}

/* Reads every record into S.cur: the checks after a step all compare
 * against this one reading. */
static void read_records(void) {
  for (int i = 0; i <= MD_NODES; i++) {
    if (i < MD_NODES && i >= S.g.count) continue;
    S.has[i] = node_get(id_of(i), &S.cur[i]);
    S.hist[i] = 0;
    if (S.has[i])
      ok_or_fail(rattan_node_history_count(S.e, SQ_TASK, id_of(i), &S.hist[i]),
                 S.e, "history count");
  }
}

/* A record's times as the rules set them: RUNNING has a start,
 * FINISHED and FAILED an archive time not before it, READY neither (a
 * retry clears them, a paused node never had them); none before the
 * record's creation or after the engine clock. */
static void check_times(const char *id, const rattan_node_info *n,
                        int64_t now) {
  const int64_t none = RATTAN_NO_TIME;
  int64_t st = n->started_us, ar = n->archived_us;
  int ended =
      n->state == RATTAN_STATE_FINISHED || n->state == RATTAN_STATE_FAILED;
  if ((n->state == RATTAN_STATE_RUNNING && st == none) ||
      (ended && (ar == none || (st != none && ar < st))) ||
      (n->state == RATTAN_STATE_READY && (st != none || ar != none)) ||
      n->created_us > now || (st != none && (st < n->created_us || st > now)) ||
      (ar != none && (ar < n->created_us || ar > now)))
    fail(
        "node %s: %s with times created %lld started %lld archived %lld, "
        "clock %lld",
        id, sname(n->state), (long long)n->created_us, (long long)st,
        (long long)ar, (long long)now);
}

/* Counters move only forward: a record, once written, stays; its
 * creation time never changes; its loop never shrinks, nor its retry
 * within one loop, nor its history. A new version comes with a new
 * loop, retry, skip or state (retry, skip, re-entry, forced fail), and
 * a new loop, retry or skip always brings one. After an operation (one
 * transaction) each changed state is an edge of the table. */
static void check_counters(int op) {
  int64_t now = rattan_now(S.e);
  for (int i = 0; i <= MD_NODES; i++) {
    if (i < MD_NODES && i >= S.g.count) continue;
    const rattan_node_info *n = &S.cur[i], *o = &S.last[i];
    if (S.has[i]) check_times(id_of(i), n, now);
    if (S.had[i] && !S.has[i])
      fail("node %s: its record disappeared", id_of(i));
    if (S.had[i] && S.has[i]) {
      int counted =
          n->loop != o->loop || n->retry != o->retry || n->skip != o->skip;
      int versioned = strcmp(n->version, o->version) != 0;
      if (n->created_us != o->created_us || n->loop < o->loop ||
          (n->loop == o->loop && n->retry < o->retry) ||
          S.hist[i] < S.hist_last[i] || (counted && !versioned) ||
          (versioned && !counted && n->state == o->state))
        fail(
            "node %s: %s loop %u retry %u skip %d history %u created %lld "
            "%s after %s loop %u retry %u skip %d history %u created %lld %s",
            id_of(i), sname(n->state), n->loop, n->retry, n->skip, S.hist[i],
            (long long)n->created_us, n->version, sname(o->state), o->loop,
            o->retry, o->skip, S.hist_last[i], (long long)o->created_us,
            o->version);
    }
    int from = S.had[i] ? (int)o->state : RATTAN_STATE_CREATED;
    int to = S.has[i] ? (int)n->state : RATTAN_STATE_CREATED;
    if (op && from != to && !eng_can_transit(from, to))
      fail("node %s: %s -> %s in one operation is no edge of the table",
           id_of(i), sname(from), sname(to));
  }
  memcpy(S.last, S.cur, sizeof S.last);
  memcpy(S.had, S.has, sizeof S.had);
  memcpy(S.hist_last, S.hist, sizeof S.hist_last);
}

/* The model's prediction equals the records. */
static void check_model(void) {
  for (int i = 0; i <= MD_NODES; i++) {
    if (i < MD_NODES && i >= S.g.count) continue;
    md_rec want;
    if (!md_expect(&S.model, i, &want)) return;
    const rattan_node_info *n = &S.cur[i];
    md_rec got = {RATTAN_STATE_CREATED, 0, 0, 0, 0};
    if (S.has[i])
      got =
          (md_rec){(int)n->state, n->loop, n->retry, n->skip, n->error_ignored};
    if (got.state != want.state ||
        (want.state != RATTAN_STATE_CREATED &&
         (got.loop != want.loop || got.retry != want.retry ||
          got.skip != want.skip || got.ignored != want.ignored)))
      fail(
          "model: node %s is %s loop %u retry %u skip %d ignored %d, the "
          "model says %s loop %u retry %u skip %d ignored %d",
          id_of(i), sname(got.state), got.loop, got.retry, got.skip,
          got.ignored, sname(want.state), want.loop, want.retry, want.skip,
          want.ignored);
  }
}

/* One node of the status tree and its subtree: every node is a stored
 * record of the root; a leaf shows its record's state and counters, a
 * parent its own state or, while RUNNING, the state folded from its
 * children. Returns the number of nodes. */
static int check_tree_node(json_t *node, const char *key) {
  const char *id = json_string_value(json_object_get(node, "id"));
  json_t *children = json_object_get(node, "children");
  if (!id || (key && strcmp(key, id)) || !json_is_object(children))
    fail("status tree: node %s has no id or children", key ? key : "(top)");
  int i = index_of(id);
  if (i < 0 || !S.has[i] || strcmp(S.cur[i].root_id, S.g.root))
    fail("status tree: node %s is no record of the task", id);
  const rattan_node_info n = S.cur[i];
  const char *st = json_string_value(json_object_get(node, "state"));
  int folded = json_object_size(children) && n.state == RATTAN_STATE_RUNNING;
  if (!st ||
      (strcmp(st, sname(n.state)) &&
       !(folded && (!strcmp(st, "FAILED") || !strcmp(st, "NODE_SUSPENDED")))))
    fail("status tree: node %s shows %s, its record is %s", id,
         st ? st : "no state", sname(n.state));
  json_int_t loop = json_integer_value(json_object_get(node, "loop"));
  json_int_t retry = json_integer_value(json_object_get(node, "retry"));
  json_t *skip = json_object_get(node, "skip");
  if (loop != n.loop || retry != n.retry || !json_is_boolean(skip) ||
      json_is_true(skip) != !!n.skip)
    fail(
        "status tree: node %s shows loop %lld retry %lld skip %d, its record "
        "loop %u retry %u skip %d",
        id, (long long)loop, (long long)retry, json_is_true(skip), n.loop,
        n.retry, n.skip);
  int count = 1;
  const char *k;
  json_t *c;
  json_object_foreach(children, k, c) count += check_tree_node(c, k);
  return count;
}

/* The status answer parses, and its tree holds exactly the task's
 * records under its root. */
static void check_status(void) {
  size_t len;
  char *out = status_of(S.e, RATTAN_PROFILE_SOPS_V2, RATTAN_FORMAT_JSON, 1,
                        rattan_now(S.e), &len);
  json_error_t je;
  json_t *j = json_loadb(out, len, 0, &je);
  if (!j) fail("status does not parse: %s: %.200s", je.text, out);
  json_t *data = json_object_get(j, "data");
  if (!json_is_true(json_object_get(j, "result")) || !json_is_object(data))
    fail("status: no result: %.200s", out);
  if (!S.has[MD_NODES]) {
    const char *st = json_string_value(json_object_get(data, "state"));
    if (!st || strcmp(st, "CREATED"))
      fail("status of a task never started: %.200s", out);
  } else {
    int shown = check_tree_node(data, NULL), stored = 1;
    for (int i = 0; i < S.g.count; i++)
      stored += S.has[i] && !strcmp(S.cur[i].root_id, S.g.root);
    if (shown != stored)
      fail("status tree shows %d nodes, the task has %d records", shown,
           stored);
  }
  json_decref(j);
  rattan_free(out);
}

/* The answers compared between stores: sops-v2 as JSON and CBOR, and one
 * more profile and format chosen by the step (each is too slow to take
 * every time). */
static void compare_status(rattan_engine *a, rattan_engine *b, int64_t now,
                           const char *what) {
  const int formats[][3] = {{RATTAN_PROFILE_SOPS_V2, RATTAN_FORMAT_JSON, 0},
                            {RATTAN_PROFILE_SOPS_V2, RATTAN_FORMAT_CBOR, 0},
                            {S.step % 3, S.step / 3 % 3, S.step / 9 % 2}};
  for (int f = 0; f < 3; f++) {
    size_t la, lb;
    char *x =
        status_of(a, formats[f][0], formats[f][1], formats[f][2], now, &la);
    char *y =
        status_of(b, formats[f][0], formats[f][1], formats[f][2], now, &lb);
    if (la != lb || memcmp(x, y, la))
      fail(
          "%s: status (profile %d format %d ex_data %d) differs: %zu and "
          "%zu bytes",
          what, formats[f][0], formats[f][1], formats[f][2], la, lb);
    rattan_free(x);
    rattan_free(y);
  }
}

/* The export replays into an empty store (rattan_replay checks every
 * change against the table and the counter, version and time rules, and
 * each event's re-encoding against its bytes) to the same records, the
 * same answers and the same export. */
static void check_replay(void) {
  void *x, *y;
  size_t lx, ly;
  ok_or_fail(rattan_export(S.e, SQ_TASK, &x, &lx), S.e, "export");
  fz_empty_dir(replay_dir);
  rattan_engine *b = open_store(replay_dir, 0);
  rattan_replay_result r;
  int rc = rattan_replay(b, x, lx, NULL, &r);
  if (rc)
    fail("replay refused the export: %s (%s)", rattan_errname(rc),
         rattan_errmsg(b));
  if (strcmp(r.task, SQ_TASK) || r.events != r.total)
    fail("replay: task %s, %llu of %llu events", r.task,
         (unsigned long long)r.events, (unsigned long long)r.total);
  buf da = dump_task(S.e), db = dump_task(b);
  if (!buf_same(&da, &db))
    fail("replay: the records differ (%zu and %zu bytes)", da.len, db.len);
  buf_free(&da);
  buf_free(&db);
  compare_status(S.e, b, rattan_now(S.e), "replay");
  ok_or_fail(rattan_export(b, SQ_TASK, &y, &ly), b, "export of the replay");
  if (lx != ly || memcmp(x, y, lx))
    fail("replay: exports back %zu bytes, not the %zu read", ly, lx);
  rattan_free(x);
  rattan_free(y);
  rattan_close(b);
}

/* Closing and opening the store again reads back the same records and
 * answers. */
static void reopen(void) {
  buf before = dump_task(S.e);
  int64_t now = rattan_now(S.e);
  size_t la, lb;
  char *x =
      status_of(S.e, RATTAN_PROFILE_SOPS_V2, RATTAN_FORMAT_JSON, 1, now, &la);
  rattan_close(S.e);
  S.e = open_store(live_dir, 1);
  buf after = dump_task(S.e);
  if (!buf_same(&before, &after))
    fail("reopen: the records differ (%zu and %zu bytes)", before.len,
         after.len);
  char *y =
      status_of(S.e, RATTAN_PROFILE_SOPS_V2, RATTAN_FORMAT_JSON, 1, now, &lb);
  if (la != lb || memcmp(x, y, la)) fail("reopen: the status differs");
  rattan_free(x);
  rattan_free(y);
  buf_free(&before);
  buf_free(&after);
}

/* ---- Steps --------------------------------------------------------------- */

/* A JSON text rattan gave must parse; frees it. */
static void parses(char *json, size_t len, const char *what) {
  json_t *j = json_loadb(json, len, 0, NULL);
  if (!j) fail("%s does not parse: %.200s", what, json);
  json_decref(j);
  rattan_free(json);
}

/* The node's execution data and every earlier attempt's record and
 * data: each readable, each JSON that parses. */
static void query_data(const char *id) {
  char *json;
  size_t len;
  unsigned n;
  int rc = rattan_node_data(S.e, SQ_TASK, id, &json, &len);
  if (rc == 0)
    parses(json, len, "node data");
  else if (rc != RATTAN_ENOTFOUND)
    ok_or_fail(rc, S.e, "node data");
  ok_or_fail(rattan_node_history_count(S.e, SQ_TASK, id, &n), S.e, "history");
  for (unsigned i = 0; i < n; i++) {
    rattan_node_info info;
    json = NULL;
    ok_or_fail(rattan_node_history(S.e, SQ_TASK, id, i, &info, &json, &len),
               S.e, "history");
    if (json) parses(json, len, "history data");
  }
}

/* Answers a host may ask for besides the status tree: each must be
 * given, and parse when it is JSON. */
static void query(int node, int x) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.profile = (rattan_profile)(x % 3);
  o.format = (rattan_format)(x / 3 % 3);
  o.trace_id = SQ_TRACE;
  o.subprocess_id = x & 1 ? (node < S.g.count ? S.g.n[node].id : "sp") : NULL;
  const char *id = node < S.g.count ? S.g.n[node].id : S.g.root;
  const char *task = SQ_TASK;
  for (int call = 0; call < 4; call++) {
    char *out = NULL;
    size_t len = 0;
    int rc =
        call == 0 ? rattan_task_status(S.e, task, &o, &out, &len)
        : call == 1
            ? rattan_node_detail(S.e, task, id, (unsigned)x & 3, &o, &out, &len)
        : call == 2 ? rattan_tasks_status(S.e, &task, 1, x & 1, &o, &out, &len)
                    : rattan_task_detail(S.e, task, &o, &out, &len);
    if (!out) fail("query %d: no answer (%s)", call, rattan_errname(rc));
    if (o.format == RATTAN_FORMAT_JSON)
      parses(out, len, "a query's answer");
    else
      rattan_free(out);
  }
  query_data(id);
}

/* An operation as the public API takes it, and as md_args tells the
 * model. */
typedef struct op_call {
  const char *id;
  md_args a;
  char fids[MD_OUT + 1][16];
  const char *flows[MD_OUT + 1];
  char version[40];
  const char *inputs, *ex_data, *data;
} op_call;

/* The arguments of kind on node from the step's x bits:
 *   skip_exg     x % 4: the position of the flow in the node's outgoing
 *                list (one it lacks is flow "f99");
 *   skip_cpg     bits 0 and 1: positions 0 and 1; bit 2: "f99", or with
 *                bits 0 and 1, position 0 again;
 *   callback     bit 0: the data says ok; (x >> 1): no version, the
 *                node's, a stale one, or no version and data that is no
 *                JSON;
 *   retry        x % 3: MD_INPUTS_*;
 *   forced_fail  bit 0: an ex_data. */
static void op_prepare(op_call *c, int kind, int node, int x) {
  const md_node *n = node < S.g.count ? &S.g.n[node] : NULL;
  *c = (op_call){.id = n ? n->id : node == S.g.count ? S.g.root : "zz"};
  md_args *a = &c->a;
  if (kind == SQ_SKIP_EXG) {
    a->flows[a->n_flows++] = n && x % 4 < n->n_out ? x % 4 : -1;
  } else if (kind == SQ_SKIP_CPG) {
    for (int k = 0; k < 2; k++)
      if (x >> k & 1) a->flows[a->n_flows++] = n && k < n->n_out ? k : -1;
    if (x & 4) a->flows[a->n_flows++] = (x & 3) == 3 ? a->flows[0] : -1;
  }
  for (int k = 0; k < a->n_flows; k++) {
    snprintf(c->fids[k], sizeof c->fids[k], "f%d",
             a->flows[k] < 0 ? 99 : n->flow[a->flows[k]]);
    c->flows[k] = c->fids[k];
  }
  a->ok = x & 1;
  a->version = x >> 1 == 3 ? MD_VER_NONE : x >> 1;
  a->bad_data = x >> 1 == 3;
  a->inputs = kind == SQ_RETRY ? x % 3 : MD_INPUTS_NONE;
  rattan_node_info info;
  snprintf(c->version, sizeof c->version, "v%032d", 0);
  if (a->version == MD_VER_CURRENT && node_get(c->id, &info))
    snprintf(c->version, sizeof c->version, "%s", info.version);
  c->data = a->bad_data ? "{\"ok\": "
            : a->ok     ? "{\"ok\": true}"
                        : "{\"ok\": false}";
  c->inputs = a->inputs == MD_INPUTS_NONE     ? NULL
              : a->inputs == MD_INPUTS_OBJECT ? "{\"k\": \"${10 // (x - 1)}\"}"
                                              : "[1]";
  c->ex_data = x & 1 ? "forced" : NULL;
}

static int op_invoke(int kind, const op_call *c) {
  rattan_engine *e = S.e;
  const char *id = c->id;
  switch (kind) {
    case SQ_START:
      return rattan_task_start(e, SQ_TASK);
    case SQ_PAUSE:
      return rattan_task_pause(e, SQ_TASK);
    case SQ_RESUME:
      return rattan_task_resume(e, SQ_TASK);
    case SQ_REVOKE:
      return rattan_task_revoke(e, SQ_TASK);
    case SQ_RETRY:
      return rattan_node_retry(e, SQ_TASK, id, c->inputs);
    case SQ_SKIP:
      return rattan_node_skip(e, SQ_TASK, id);
    case SQ_SKIP_EXG:
      return rattan_node_skip_exg(e, SQ_TASK, id, c->flows[0]);
    case SQ_SKIP_CPG:
      return rattan_node_skip_cpg(e, SQ_TASK, id, c->flows,
                                  (size_t)c->a.n_flows);
    case SQ_NODE_PAUSE:
      return rattan_node_pause(e, SQ_TASK, id);
    case SQ_NODE_RESUME:
      return rattan_node_resume(e, SQ_TASK, id);
    case SQ_SUB_PAUSE:
      return rattan_subprocess_pause(e, SQ_TASK, id);
    case SQ_SUB_RESUME:
      return rattan_subprocess_resume(e, SQ_TASK, id);
    case SQ_SUB_RETRY:
      return rattan_subprocess_retry(e, SQ_TASK, id);
    case SQ_FORCED_FAIL:
      return rattan_node_forced_fail(e, SQ_TASK, id, c->ex_data);
    default: /* SQ_CALLBACK */
      return rattan_node_callback(
          e, SQ_TASK, id, c->data,
          c->a.version == MD_VER_NONE ? NULL : c->version);
  }
}

/* Runs an operation on the engine and, when it knows the outcome, the
 * model: both must agree, and a refusal must change nothing (not one
 * record, not one journal entry) while an accepted operation writes
 * exactly one entry. */
static int operate(int kind, int node, int x) {
  static const int ops[SQ_KINDS] = {[SQ_START] = MD_OP_START,
                                    [SQ_CALLBACK] = MD_OP_CALLBACK,
                                    [SQ_RETRY] = MD_OP_RETRY,
                                    [SQ_SKIP] = MD_OP_SKIP,
                                    [SQ_SKIP_EXG] = MD_OP_SKIP_EXG,
                                    [SQ_SKIP_CPG] = MD_OP_SKIP_CPG,
                                    [SQ_PAUSE] = MD_OP_PAUSE,
                                    [SQ_RESUME] = MD_OP_RESUME,
                                    [SQ_NODE_PAUSE] = MD_OP_NODE_PAUSE,
                                    [SQ_NODE_RESUME] = MD_OP_NODE_RESUME,
                                    [SQ_SUB_PAUSE] = MD_OP_SUB_PAUSE,
                                    [SQ_SUB_RESUME] = MD_OP_SUB_RESUME,
                                    [SQ_SUB_RETRY] = MD_OP_SUB_RETRY,
                                    [SQ_REVOKE] = MD_OP_REVOKE,
                                    [SQ_FORCED_FAIL] = MD_OP_FORCED_FAIL};
  op_call c;
  op_prepare(&c, kind, node, x);
  buf before = dump_task(S.e);
  uint64_t entries = journal_count(S.e);
  int rc = op_invoke(kind, &c);
  const char *name = kind_names[kind], *msg = rattan_errmsg(S.e);
  int want =
      md_operate(&S.model, ops[kind], node < S.g.count ? node : -1, &c.a);
  if (want != 1 && want != rc)
    fail("model: %s of %s gave %s (%s), the model says %s", name, c.id,
         rattan_errname(rc), msg, rattan_errname(want));
  if (rc != RATTAN_OK && rc != RATTAN_ESTATE && rc != RATTAN_EINVAL &&
      rc != RATTAN_EVERSION && rc != RATTAN_EBUSY)
    fail("%s of %s: %s (%s)", name, c.id, rattan_errname(rc), msg);
  uint64_t now = journal_count(S.e);
  if (rc) {
    buf after = dump_task(S.e);
    if (!buf_same(&before, &after) || now != entries || !*msg)
      fail("refused %s of %s (%s) changed the task: %llu -> %llu entries", name,
           c.id, rattan_errname(rc), (unsigned long long)entries,
           (unsigned long long)now);
    buf_free(&after);
  } else if (now != entries + 1) {
    fail("%s of %s wrote %llu journal entries", name, c.id,
         (unsigned long long)(now - entries));
  }
  buf_free(&before);
  return rc;
}

/* With RATTAN_SEQ_TRACE set, one line per step on stderr: what ran and
 * the records after it (S.cur), for reading a crash's input. */
static void trace(int kind, int node, int x, unsigned budget, int rc) {
  static int on = -1;
  if (on < 0) on = getenv("RATTAN_SEQ_TRACE") != NULL;
  if (!on) return;
  fprintf(stderr, "step %d: %s", S.step, kind_names[kind]);
  if (kind == SQ_DRIVE)
    fprintf(stderr, " %u", budget);
  else
    fprintf(stderr, " %s x=%d",
            node < S.g.count    ? S.g.n[node].id
            : node == S.g.count ? S.g.root
                                : "zz",
            x);
  fprintf(stderr, ": %s;", rattan_errname(rc));
  for (int i = 0; i <= MD_NODES; i++) {
    const rattan_node_info *n = &S.cur[i];
    if ((i < S.g.count || i == MD_NODES) && S.has[i])
      fprintf(stderr, " %s=%s/%u/%u%s", id_of(i), sname(n->state), n->loop,
              n->retry, n->skip ? "s" : "");
  }
  fputc('\n', stderr);
}

static void run_step(uint8_t op, uint8_t arg) {
  int kind = op % 24;
  if (kind >= SQ_KINDS) kind = SQ_DRIVE;
  static const unsigned budgets[8] = {64, 1, 2, 3, 4, 6, 8, 16};
  int node = (arg & 31) % (S.g.count + 2), x = arg >> 5;
  unsigned budget = budgets[arg & 7];
  md_fate *f = node < S.g.count ? &S.fate[node] : NULL;
  int rc = 0, is_op = 0;
  switch (kind) {
    case SQ_DRIVE: {
      rattan_drive_result r;
      ok_or_fail(rattan_drive(S.e, SQ_TASK, budget, &r), S.e, "drive");
      /* Work is left only when the budget ran out; with a virtual clock
       * nothing is left due when no work is. */
      if (r.steps > budget || (r.more && r.steps < budget) ||
          (!r.more && r.next_due_us != RATTAN_NO_TIME))
        fail("drive: %u steps of %u, more %d, next due %lld", r.steps, budget,
             r.more, (long long)r.next_due_us);
      int want = md_drive(&S.model, budget);
      if (want >= 0 && (unsigned)want != r.steps)
        fail("model: drive took %u steps, the model says %d", r.steps, want);
      break;
    }
    case SQ_SUCCESS:
      if (f) *f = (md_fate){.value = x & 3, .poll_done = f->poll_done};
      break;
    case SQ_FAILURE:
      if (f) f->fail = 1;
      break;
    case SQ_POLL:
      if (f) f->poll_done = 1;
      break;
    case SQ_REOPEN:
      reopen();
      break;
    case SQ_STATUS:
      query(node, x);
      break;
    default:
      rc = operate(kind, node, x);
      is_op = 1;
      break;
  }
  read_records();
  trace(kind, node, x, budget, rc);
  check_counters(is_op);
  check_model();
  check_status();
}

int fuzz_sequence(const uint8_t *data, size_t size) {
  if (!base_dir[0]) make_dirs();
  memset(&S, 0, sizeof S);
  uint8_t p[3] = {0, 0, 0};
  for (size_t i = 0; i < 3 && i < size; i++)
    p[i] = data[i];
  build_shape(&S.g, p);
  md_init(&S.model, &S.g, S.fate);
  json_t *tree = pipeline_json(&S.g, -1);
  char *json = json_dumps(tree, JSON_COMPACT);
  json_decref(tree);
  if (!json) fail("pipeline: out of memory");
  fz_empty_dir(live_dir);
  S.e = open_store(live_dir, 1);
  rattan_task_options o = {.id = SQ_TASK};
  char id[RATTAN_ID_MAX + 1];
  int rc = rattan_task_create(S.e, json, strlen(json), &o, id);
  if (rc) fail("create: %s: %s", rattan_errmsg(S.e), json);
  free(json);
  read_records();
  check_counters(0);
  check_status();
  size_t steps = size > 3 ? (size - 3) / 2 : 0;
  if (steps > SQ_STEPS) steps = SQ_STEPS;
  for (size_t i = 0; i < steps; i++) {
    S.step = (int)i + 1;
    run_step(data[3 + 2 * i], data[4 + 2 * i]);
    if (S.step % SQ_REPLAY_EVERY == 0) check_replay();
  }
  if (S.step == 0 || S.step % SQ_REPLAY_EVERY) check_replay();
  rattan_close(S.e);
  S.e = NULL;
  fz_empty_dir(live_dir);
  return 0;
}
