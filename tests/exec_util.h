/* Helpers for the execution and operation tests (test_exec.c,
 * test_control.c): an engine opened the way every such test opens it,
 * test components with counters, a pipeline_tree builder, and readers
 * that check node states and execution data through the public API. */
#ifndef RATTAN_EXEC_UTIL_H
#define RATTAN_EXEC_UTIL_H

#include <jansson.h>

#include "test.h"

/* 2021-03-10 03:45:54 UTC, the start of every test clock. */
#define XU_T0 1615347954000000LL
#define SEC   1000000LL

/* ---- Engine -------------------------------------------------------------
 * test_path(name): nosync, virtual clock at XU_T0, seed 42, the given
 * rerun limit (0: the default 100), and the test components below
 * registered. Aborts on failure. */
rattan_engine *xu_open(const char *name, unsigned rerun_limit);
/* Closes e and opens the same directory again with the same options. */
rattan_engine *xu_reopen(rattan_engine *e, const char *name,
                         unsigned rerun_limit);
/* Registers the test components on e. */
void xu_register(rattan_engine *e);

/* ---- Test components ----------------------------------------------------
 * echo        NONE: copies the inputs named in XU_ECHO_KEYS to its outputs
 *             (bamboo's debug_node).
 * loop_count  echo, plus output "loop" = the attempt's loop.
 * fail_ctrl   echo when input bit is 1 or can_go is true, else fails with
 *             ex_data "fail_ctrl: no bit" (bamboo's fail_ctrl_node).
 * fail_once   fails in loop 1 unless bit is 1; echo otherwise.
 * emit        NONE: outputs answer = 42, word = "hi", obj = {"k":[1,2]}.
 * cb          CALLBACK: a callback whose data has "bit":0 fails the node,
 *             any other finishes it with output cb = the data.
 * multi_cb    MULTI_CALLBACK: "bit":0 fails; the 5th callback finishes.
 * poll        POLL every 2 s, finishes on its 3rd run; with input after
 *             (seconds) each run asks for the next after that long.
 *             Output polls counts the runs, each read back from the
 *             previous one (rattan_call_output).
 * Each counts its execute and schedule runs and the times they saw. */
#define XU_ECHO_KEYS                                                      \
  {                                                                       \
    "param_1", "param_2", "context_var", "u", "p", "input_a", "bit", "x", \
        "key_1", "key_2", "can_go"                                        \
  }

enum {
  XU_ECHO,
  XU_LOOP_COUNT,
  XU_FAIL_CTRL,
  XU_FAIL_ONCE,
  XU_EMIT,
  XU_CB,
  XU_MULTI_CB,
  XU_POLL,
  XU_N_COMPONENTS
};

typedef struct xu_counter {
  int executes, schedules;
  /* The task and node of the last execute; echo also keeps the text of
   * its inputs param_1 and x (rattan_call_input_text). */
  char task[RATTAN_ID_MAX + 1], node[RATTAN_ID_MAX + 1];
  char text[2][256];
  int64_t at[32];     /* rattan_call_now of each schedule run */
  unsigned times[32]; /* rattan_call_times of each schedule run */
} xu_counter;

extern xu_counter xu_count[XU_N_COMPONENTS];

/* ---- JSON ---------------------------------------------------------------
 * J("{'a':1}"): JSON text with ' for ", parsed (aborts if it does not
 * parse). The result is a new reference. */
json_t *J(const char *text);

/* ---- Tree builder ---------------------------------------------------------
 * A pipeline is built as a jansson object; tb_json() fills in every
 * node's incoming and outgoing from the flows, then dumps it. Flows are
 * named "f_<source>_<target>" (tb_fid). Values passed in are stolen. */
json_t *tb_new(const char *id, const char *start, const char *end);
/* A ServiceActivity: not error_ignorable, skippable, retryable, no
 * timeout. Returns the activity (borrowed) to adjust. */
json_t *tb_act(json_t *p, const char *id, const char *code);
void tb_in(json_t *act, const char *key, const char *type, json_t *value);
/* ExclusiveGateway, ParallelGateway, ConditionalParallelGateway,
 * ConvergeGateway. */
json_t *tb_gw(json_t *p, const char *id, const char *type);
/* A fork and its join: gateway gw of type (ExclusiveGateway,
 * ParallelGateway, ConditionalParallelGateway) and the ConvergeGateway
 * cg where its branches meet. */
void tb_fork(json_t *p, const char *gw, const char *type, const char *cg);
/* A SubProcess whose embedded pipeline is child (its id must be id). */
json_t *tb_sub(json_t *p, const char *id, json_t *child);
void tb_param(json_t *sub, const char *key, const char *type, json_t *value);
/* Flows between consecutive ids of a space-separated chain "s a b e". */
void tb_link(json_t *p, const char *chain);
/* The flow id from src to dst; a static buffer, 8 in rotation. */
const char *tb_fid(const char *src, const char *dst);
/* The condition on gateway gw's flow to dst. */
void tb_cond(json_t *p, const char *gw, const char *dst, const char *expr);
void tb_default(json_t *p, const char *gw, const char *dst);
/* data.inputs[key] = {type, value}; tb_ref maps act's output out_key. */
void tb_var(json_t *p, const char *key, const char *type, json_t *value);
void tb_ref(json_t *p, const char *key, const char *act, const char *out_key);
void tb_output(json_t *p, const char *key);
/* Finishes p (consumed) and returns its compact JSON; free() it. */
char *tb_json(json_t *p);
/* A pipeline id along chain "start x1 .. xn end": start and end events
 * around activities xi running codes[i-1] (NULL-terminated, exactly n).
 * Returns it to adjust (tb_node), to run or to nest with tb_sub. */
json_t *tb_line(const char *id, const char *chain, const char *const *codes);
#define TB_LINE(id, chain, ...) \
  tb_line((id), (chain), (const char *const[]){__VA_ARGS__, NULL})
/* "p": s -> a1 .. an -> e, ai running codes[i-1] (NULL-terminated). */
json_t *tb_chain(const char *const *codes);
#define TB_CHAIN(...) tb_chain((const char *const[]){__VA_ARGS__, NULL})
/* "p": s -> sub -> e, sub a SubProcess running child (consumed), named
 * by the child's id. Returns p; tb_node(p, id) is the SubProcess node. */
json_t *tb_wrap(json_t *child);
/* The activity id of p (borrowed); aborts when p has none. */
json_t *tb_node(json_t *p, const char *id);
/* prefix<i> as a node id (tb_nid("x", 2): "x2"); a static buffer, 16 in
 * rotation. */
const char *tb_nid(const char *prefix, int i);
/* Gateway gw forks to prefix0 .. prefix(n-1), each running code, which
 * all meet at cg; both gateways exist already or are added later. */
void tb_fan(json_t *p, const char *gw, const char *cg, const char *prefix,
            int n, const char *code);
/* A cycle: adds the ExclusiveGateway gw, which goes back to `back` while
 * ${var} < limit and on to `out` once ${var} >= limit, with ${var} the
 * _loop output of node src. Links gw -> back; the flows into gw and
 * gw -> out are the caller's (tb_link). */
void tb_loop(json_t *p, const char *gw, const char *back, const char *out,
             const char *var, const char *src, const char *limit);

/* ---- Running ---------------------------------------------------------------
 * Creates task id from json (aborts on failure) and starts it. */
void xu_create(rattan_engine *e, const char *json, const char *id);
void xu_start(rattan_engine *e, const char *json, const char *id);
/* xu_start with the tree p (consumed by tb_json). */
void xu_start_tree(rattan_engine *e, json_t *p, const char *id);
/* xu_start_tree, then one xu_drive; returns that drive's result. */
rattan_drive_result xu_run(rattan_engine *e, json_t *p, const char *id);
/* A callback with data to node, naming its current version; asserts it
 * is accepted. */
void xu_callback(rattan_engine *e, const char *task, const char *node,
                 const char *data);
/* rattan_drive(e, task, 0): asserts it succeeds and leaves no work. */
rattan_drive_result xu_drive(rattan_engine *e, const char *task);
/* Drives until the task leaves RUNNING or nothing changes for a while
 * (real time passes between drives: shell children need it). */
void xu_drive_real(rattan_engine *e, const char *task, const char *node);

/* ---- Reading ---------------------------------------------------------------
 */
/* The node's state, CREATED when it has no record. */
rattan_state xu_state(rattan_engine *e, const char *task, const char *node);
/* The node's record; aborts when there is none. */
rattan_node_info xu_node(rattan_engine *e, const char *task, const char *node);
/* The node's execution data, parsed; NULL when there is none. */
json_t *xu_data(rattan_engine *e, const char *task, const char *node);
/* Attempt i of the node's history and its data (parsed, may be NULL). */
rattan_node_info xu_hist(rattan_engine *e, const char *task, const char *node,
                         unsigned i, json_t **data);
unsigned xu_hist_count(rattan_engine *e, const char *task, const char *node);
/* The top-level ex_data of the node's data as text ("" when null or
 * absent); static buffer. */
const char *xu_ex_data(rattan_engine *e, const char *task, const char *node);
rattan_state xu_task_state(rattan_engine *e, const char *task);

/* Every node of ids (NULL-terminated) is in state st. */
void xu_expect_states(const char *file, int line, rattan_engine *e,
                      const char *task, rattan_state st, const char **ids);
#define EXPECT_STATES(e, task, st, ...)                   \
  xu_expect_states(__FILE__, __LINE__, (e), (task), (st), \
                   (const char *[]){__VA_ARGS__, NULL})
#define EXPECT_STATE(e, task, node, st) EXPECT_STATES(e, task, st, node)
/* Never executed: no record. */
#define EXPECT_NOT_RUN(e, task, ...) \
  EXPECT_STATES(e, task, RATTAN_STATE_CREATED, __VA_ARGS__)

/* A node's counters in one call: state, loop, inner_loop, retry, skip,
 * error_ignored, each compared unless it is ANY. Returns the record, for
 * the checks of times and versions. EXPECT_NODE reads the node's record,
 * EXPECT_HIST attempt i of its history (and its data into *data, parsed,
 * when data is not NULL). */
#define ANY (-1)
rattan_node_info xu_expect_node(const char *file, int line, rattan_engine *e,
                                const char *task, const char *node, int hist,
                                json_t **data, const long long want[6]);
#define EXPECT_NODE(e, task, node, st, loop, inner_loop, retry, skip, ign) \
  xu_expect_node(__FILE__, __LINE__, (e), (task), (node), -1, NULL,        \
                 (const long long[6]){(st), (loop), (inner_loop), (retry), \
                                      (skip), (ign)})
#define EXPECT_HIST(e, task, node, i, data, st, loop, inner_loop, retry, skip, \
                    ign)                                                       \
  xu_expect_node(__FILE__, __LINE__, (e), (task), (node), (int)(i), (data),    \
                 (const long long[6]){(st), (loop), (inner_loop), (retry),     \
                                      (skip), (ign)})

/* actual (may be NULL) equals the JSON in expected (J's quoting). */
void xu_expect_json(const char *file, int line, const char *what,
                    json_t *actual, const char *expected);
#define EXPECT_JSON(actual, expected) \
  xu_expect_json(__FILE__, __LINE__, #actual, (actual), (expected))
/* The node's data part ("inputs" / "outputs") equals expected. */
void xu_expect_data(const char *file, int line, rattan_engine *e,
                    const char *task, const char *node, const char *part,
                    const char *expected);
#define EXPECT_DATA(e, task, node, part, expected) \
  xu_expect_data(__FILE__, __LINE__, (e), (task), (node), (part), (expected))
/* One key of the node's data part equals expected (absent fails). */
void xu_expect_data_key(const char *file, int line, rattan_engine *e,
                        const char *task, const char *node, const char *part,
                        const char *key, const char *expected);
#define EXPECT_DATA_KEY(e, task, node, part, key, expected)                  \
  xu_expect_data_key(__FILE__, __LINE__, (e), (task), (node), (part), (key), \
                     (expected))
/* The bamboo shape of one successful run of a node without inputs. */
#define PLAIN_IN(l)  "{'_loop':" #l ",'_inner_loop':" #l "}"
#define PLAIN_OUT(l) "{'_result':true,'_loop':" #l ",'_inner_loop':" #l "}"

/* Two records are the same attempt: every field but the times, which
 * are compared only when times is non-zero. */
void xu_expect_same(const char *file, int line, const char *node,
                    const rattan_node_info *a, const rattan_node_info *b,
                    int times);
#define EXPECT_SAME(node, a, b) \
  xu_expect_same(__FILE__, __LINE__, (node), (a), (b), 1)

/* Snapshot of the records of nodes (NULL-terminated) for "nothing
 * changed" checks: state records, data and history counts. */
typedef struct xu_snap {
  int n;
  struct xu_snap_row {
    char *id;
    int has;
    rattan_node_info info;
    char *data;
    unsigned hist;
  } * rows;
} xu_snap;
xu_snap xu_snap_take(rattan_engine *e, const char *task, const char **ids);
/* a and b hold the same records (times compared when times is set). */
void xu_snap_expect_equal(const char *file, int line, const xu_snap *a,
                          const xu_snap *b, int times);
void xu_snap_free(xu_snap *s);
#define SNAP(e, task, ...) \
  xu_snap_take((e), (task), (const char *[]){__VA_ARGS__, NULL})
/* Takes the snapshot of before's nodes again and expects it equal to
 * before (times too): nothing changed since. Frees before. */
void xu_snap_expect_still(const char *file, int line, rattan_engine *e,
                          const char *task, xu_snap *before);
#define EXPECT_UNCHANGED_SINCE(e, task, before) \
  xu_snap_expect_still(__FILE__, __LINE__, (e), (task), &(before))

#endif
