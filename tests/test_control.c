/* Operations end to end through the public API: retry, skip, the gateway
 * skips, forced fail, callbacks, pipeline / node / subprocess pause and
 * resume, revoke, subprocess retry, and the refusals. Modelled on bamboo's
 * end-to-end control suite
 * (runtime/bamboo-pipeline/test/eri_imp_test_use/tests/control and
 * advanced/test_rerun.py) with reference/bamboo-engine.md section 3 as the
 * oracle: a refused operation returns RATTAN_ESTATE (RATTAN_EINVAL for a
 * node or flow the task does not have) and changes nothing. */
#include "exec_util.h"

/* ---- Helpers ----------------------------------------------------------------
 */

/* The outputs of a failed first run of a component that set none: _result
 * false and the loop counters; ex_data is allowed next to them. */
static void expect_fail_outputs(json_t *data, int loop) {
  json_t *out = json_object_get(data, "outputs");
  ASSERT(json_is_object(out));
  EXPECT_JSON(json_object_get(out, "_result"), "false");
  ASSERT_EQ(json_integer_value(json_object_get(out, "_loop")), loop);
  ASSERT_EQ(json_integer_value(json_object_get(out, "_inner_loop")), loop);
  const char *k;
  json_t *v;
  json_object_foreach(out, k, v) {
    if (strcmp(k, "_result") && strcmp(k, "_loop") &&
        strcmp(k, "_inner_loop") && strcmp(k, "ex_data"))
      TEST_FAIL_("unexpected output %s", k);
  }
}

/* The data of a failed first run of a component without inputs: inputs
 * PLAIN_IN(1), outputs as expect_fail_outputs. */
static void expect_plain_failure(json_t *data) {
  EXPECT_JSON(json_object_get(data, "inputs"), PLAIN_IN(1));
  expect_fail_outputs(data, 1);
}

/* Drives one step at a time until every node of ids is RUNNING (each is
 * then waiting: a timer not yet due, a callback). */
static void step_until_running(rattan_engine *e, const char *task,
                               const char **ids) {
  for (int i = 0; i < 2000; i++) {
    int all = 1;
    for (const char **n = ids; *n; n++)
      all &= xu_state(e, task, *n) == RATTAN_STATE_RUNNING;
    if (all) return;
    rattan_drive_result r;
    ASSERT_OK(rattan_drive(e, task, 1, &r), rattan_errmsg(e));
  }
  TEST_FAIL_("%s and the others never all ran", ids[0]);
}
#define STEP_UNTIL_RUNNING(e, task, ...) \
  step_until_running((e), (task), (const char *[]){__VA_ARGS__, NULL})

/* bamboo's nested parallel shape between start and end: start -> pg1 ->
 * {pg2 -> (tb_i -> nb_i) x5 -> cg1, (ta_i -> na_i) x5} -> cg2 -> end. t*
 * run `tcode` (a timer: 3 s), n* run `ncode`. */
static void nest_shape(json_t *p, const char *start, const char *end,
                       const char *tcode, const char *ncode) {
  char chain[64];
  tb_gw(p, "pg1", "ParallelGateway");
  tb_gw(p, "pg2", "ParallelGateway");
  tb_gw(p, "cg1", "ConvergeGateway");
  tb_gw(p, "cg2", "ConvergeGateway");
  snprintf(chain, sizeof chain, "%s pg1 pg2", start);
  tb_link(p, chain);
  for (int i = 0; i < 5; i++) {
    json_t *ta = tb_act(p, tb_nid("ta", i), tcode);
    json_t *tb = tb_act(p, tb_nid("tb", i), tcode);
    if (!strcmp(tcode, "sleep_timer")) {
      tb_in(ta, "bk_timing", "plain", J("3"));
      tb_in(tb, "bk_timing", "plain", J("3"));
    }
    tb_act(p, tb_nid("na", i), ncode);
    tb_act(p, tb_nid("nb", i), ncode);
    snprintf(chain, sizeof chain, "pg1 ta%d na%d cg2", i, i);
    tb_link(p, chain);
    snprintf(chain, sizeof chain, "pg2 tb%d nb%d cg1", i, i);
    tb_link(p, chain);
  }
  snprintf(chain, sizeof chain, "cg1 cg2 %s", end);
  tb_link(p, chain);
}

/* The nested parallel shape with 3 s timers before noops, as "p". */
static json_t *nest_timers(void) {
  json_t *p = tb_new("p", "s", "e");
  nest_shape(p, "s", "e", "sleep_timer", "noop");
  return p;
}

#define NEST_TIMERS \
  "ta0", "ta1", "ta2", "ta3", "ta4", "tb0", "tb1", "tb2", "tb3", "tb4"
#define NEST_AFTER \
  "na0", "na1", "na2", "na3", "na4", "nb0", "nb1", "nb2", "nb3", "nb4"
/* Every node of nest_timers(). */
#define NEST_ALL \
  "p", "s", "pg1", "pg2", "cg1", "cg2", "e", NEST_TIMERS, NEST_AFTER

/* The subprocess shape of bamboo's retry / skip tests, started and driven
 * as task t: s -> sp -> e, sp holding the nested parallel shape with
 * fail_ctrl activities. All ten of them (NEST_TIMERS) fail; the root and
 * the subprocess stay RUNNING. */
static rattan_engine *run_sub_nest_failed(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *inner = tb_new("sp", "s_sp", "e_sp");
  nest_shape(inner, "s_sp", "e_sp", "fail_ctrl", "noop");
  xu_run(e, tb_wrap(inner), "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FAILED, NEST_TIMERS);
  EXPECT_STATES(e, "t", RATTAN_STATE_RUNNING, "p", "sp");
  return e;
}
/* Every node of run_sub_nest_failed's tree. */
#define SUB_NEST_ALL                                               \
  "p", "s", "sp", "s_sp", "pg1", "pg2", "cg1", "cg2", "e_sp", "e", \
      NEST_TIMERS, NEST_AFTER

/* ---- Retry ------------------------------------------------------------------
 */

/* test_retry_with_simple_pipeline: a failed node retried with new inputs
 * goes READY (retry 1, new version, times cleared), then runs with the
 * inputs replaced; the failed attempt is kept as history, unchanged. */
void test_control_retry(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("fail_ctrl"), "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FAILED);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  rattan_node_info old = xu_node(e, "t", "a1");
  json_t *d = xu_data(e, "t", "a1");
  expect_plain_failure(d);
  json_decref(d);
  ASSERT_STR(xu_ex_data(e, "t", "a1"), "fail_ctrl: no bit");

  ASSERT_OK(rattan_node_retry(e, "t", "a1", "{\"bit\":1}"), rattan_errmsg(e));
  rattan_node_info r =
      EXPECT_NODE(e, "t", "a1", RATTAN_STATE_READY, 1, ANY, 1, 0, ANY);
  ASSERT(strcmp(r.version, old.version));
  ASSERT_EQ(r.started_us, RATTAN_NO_TIME);
  ASSERT_EQ(r.archived_us, RATTAN_NO_TIME);
  ASSERT_EQ(xu_hist_count(e, "t", "a1"), 1);
  /* Nothing runs before the drive. */
  ASSERT_EQ(xu_count[XU_FAIL_CTRL].executes, 1);

  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "a1", "e");
  rattan_node_info f = EXPECT_NODE(e, "t", "a1", ANY, 1, 1, 1, ANY, ANY);
  ASSERT_STR(f.version, r.version);
  ASSERT(f.started_us != RATTAN_NO_TIME);
  EXPECT_DATA(e, "t", "a1", "inputs", "{'bit':1,'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "a1", "outputs",
              "{'bit':1,'_result':true,'_loop':1,'_inner_loop':1}");
  ASSERT_EQ(xu_hist_count(e, "t", "a1"), 1);
  json_t *hd;
  rattan_node_info h =
      EXPECT_HIST(e, "t", "a1", 0, &hd, RATTAN_STATE_FAILED, 1, ANY, 0, 0, ANY);
  ASSERT_STR(h.version, old.version);
  ASSERT_EQ(h.started_us, old.started_us);
  ASSERT_EQ(h.archived_us, old.archived_us);
  expect_plain_failure(hd);
  json_decref(hd);
  rattan_close(e);
}

/* Retry without inputs keeps the node's inputs; a second retry counts on
 * (retry 2) and keeps two attempts in the history. */
void test_control_retry_twice(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s a e", "fail_ctrl");
  tb_in(tb_node(p, "a"), "key_1", "plain", J("'val_1'"));
  tb_var(p, "${k}", "plain", J("'kv'"));
  xu_run(e, p, "t");
  ASSERT_OK(rattan_node_retry(e, "t", "a", NULL), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_NODE(e, "t", "a", RATTAN_STATE_FAILED, ANY, ANY, 1, ANY, ANY);
  EXPECT_DATA(e, "t", "a", "inputs",
              "{'key_1':'val_1','_loop':1,'_inner_loop':1}");
  ASSERT_OK(rattan_node_retry(e, "t", "a", "{\"bit\":1,\"key_1\":\"${k}\"}"),
            rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_NODE(e, "t", "a", RATTAN_STATE_FINISHED, ANY, ANY, 2, ANY, ANY);
  ASSERT_EQ(xu_hist_count(e, "t", "a"), 2);
  ASSERT_EQ(xu_hist(e, "t", "a", 0, NULL).retry, 0);
  ASSERT_EQ(xu_hist(e, "t", "a", 1, NULL).retry, 1);
  ASSERT_EQ(xu_count[XU_FAIL_CTRL].executes, 3);
  /* Retry inputs are rendered like the definition's. */
  EXPECT_DATA(e, "t", "a", "inputs",
              "{'bit':1,'key_1':'kv','_loop':1,'_inner_loop':1}");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_FINISHED);
  rattan_close(e);
}

/* test_retry_with_subprocess_has_parallel: ten failed activities in
 * nested parallel branches of a subprocess; the root and the subprocess
 * stay RUNNING, nothing converges; retrying them all finishes the task. */
void test_control_retry_subprocess_parallel(void) {
  rattan_engine *e = run_sub_nest_failed();
  EXPECT_NOT_RUN(e, "t", "cg1", "cg2", "e_sp", "e", NEST_AFTER);
  for (int i = 0; i < 5; i++) {
    ASSERT_OK(rattan_node_retry(e, "t", tb_nid("ta", i), "{\"bit\":1}"),
              rattan_errmsg(e));
    ASSERT_OK(rattan_node_retry(e, "t", tb_nid("tb", i), "{\"bit\":1}"),
              rattan_errmsg(e));
  }
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, SUB_NEST_ALL);
  ASSERT_EQ(xu_node(e, "t", "cg1").loop, 1);
  ASSERT_EQ(xu_node(e, "t", "cg2").loop, 1);
  ASSERT_EQ(xu_node(e, "t", "ta3").retry, 1);
  ASSERT_STR(xu_node(e, "t", "ta3").parent_id, "sp");
  rattan_close(e);
}

/* ---- Skip -------------------------------------------------------------------
 */

/* test_skip_with_simple_pipeline: a skipped node finishes with skip set,
 * a new version, its start time kept and an archive time; its data stays
 * that of the failure; the failed attempt goes to the history; the flow
 * continues. */
void test_control_skip(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("fail_ctrl", "noop"), "t");
  rattan_node_info old = xu_node(e, "t", "a1");
  ASSERT_EQ(old.state, RATTAN_STATE_FAILED);
  EXPECT_NOT_RUN(e, "t", "a2", "e");
  ASSERT_OK(rattan_node_skip(e, "t", "a1"), rattan_errmsg(e));
  rattan_node_info s =
      EXPECT_NODE(e, "t", "a1", RATTAN_STATE_FINISHED, 1, ANY, 0, 1, ANY);
  ASSERT(strcmp(s.version, old.version));
  ASSERT_EQ(s.started_us, old.started_us);
  ASSERT(s.archived_us != RATTAN_NO_TIME);
  ASSERT_EQ(xu_hist_count(e, "t", "a1"), 1);
  EXPECT_NOT_RUN(e, "t", "a2"); /* operations run nothing */
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "a1", "a2", "e");
  ASSERT_EQ(xu_count[XU_FAIL_CTRL].executes, 1);
  json_t *d = xu_data(e, "t", "a1");
  expect_plain_failure(d);
  json_decref(d);
  json_t *hd;
  rattan_node_info h = EXPECT_HIST(e, "t", "a1", 0, &hd, RATTAN_STATE_FAILED,
                                   ANY, ANY, 0, 0, ANY);
  ASSERT_STR(h.version, old.version);
  ASSERT(h.started_us != RATTAN_NO_TIME && h.archived_us != RATTAN_NO_TIME);
  expect_plain_failure(hd);
  json_decref(hd);
  rattan_close(e);
}

/* test_skip_with_subprocess_has_parallel. */
void test_control_skip_subprocess_parallel(void) {
  rattan_engine *e = run_sub_nest_failed();
  for (int i = 0; i < 5; i++) {
    ASSERT_OK(rattan_node_skip(e, "t", tb_nid("ta", i)), rattan_errmsg(e));
    ASSERT_OK(rattan_node_skip(e, "t", tb_nid("tb", i)), rattan_errmsg(e));
  }
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, SUB_NEST_ALL);
  ASSERT_EQ(xu_node(e, "t", "tb2").skip, 1);
  rattan_close(e);
}

/* test_skip_exclusive_gateway: a failed exclusive gateway continues on
 * the flow the operator names; the other branch never runs. A flow that
 * is not the gateway's is refused. */
void test_control_skip_exg(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_act(p, "before", "noop");
  tb_fork(p, "eg", "ExclusiveGateway", "cg");
  tb_act(p, "x1", "noop");
  tb_act(p, "x2", "noop");
  tb_act(p, "y", "noop");
  tb_link(p, "s before eg x1 x2 cg e");
  tb_link(p, "eg y cg");
  tb_cond(p, "eg", "x1", "True == False");
  tb_cond(p, "eg", "y", "True == False");
  xu_run(e, p, "t");
  rattan_node_info old = xu_node(e, "t", "eg");
  ASSERT_EQ(old.state, RATTAN_STATE_FAILED);
  xu_snap before = SNAP(e, "t", "eg", "x1", "y", "cg", "before");
  ASSERT_ERR(rattan_node_skip_exg(e, "t", "eg", tb_fid("s", "before")),
             RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_skip_exg(e, "t", "eg", "no-such-flow"), RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_skip(e, "t", "eg"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_skip_exg(e, "t", "before", tb_fid("before", "eg")),
             RATTAN_ESTATE);
  EXPECT_UNCHANGED_SINCE(e, "t", before);
  ASSERT_OK(rattan_node_skip_exg(e, "t", "eg", tb_fid("eg", "x1")),
            rattan_errmsg(e));
  rattan_node_info g =
      EXPECT_NODE(e, "t", "eg", RATTAN_STATE_FINISHED, ANY, ANY, ANY, 1, ANY);
  ASSERT(strcmp(g.version, old.version));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "before", "eg", "x1",
                "x2", "cg", "e");
  EXPECT_NOT_RUN(e, "t", "y");
  /* Finished now: a second skip is refused. */
  ASSERT_ERR(rattan_node_skip_exg(e, "t", "eg", tb_fid("eg", "y")),
             RATTAN_ESTATE);
  rattan_close(e);
}

/* A failed conditional parallel gateway forks the flows the operator
 * names; the converge gateway waits for exactly those. */
void test_control_skip_cpg(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "cpg", "ConditionalParallelGateway", "cg");
  tb_fan(p, "cpg", "cg", "x", 3, "noop");
  for (int i = 0; i < 3; i++)
    tb_cond(p, "cpg", tb_nid("x", i), "1 == 2");
  tb_link(p, "s cpg");
  tb_link(p, "cg e");
  xu_run(e, p, "t");
  rattan_node_info old = xu_node(e, "t", "cpg");
  ASSERT_EQ(old.state, RATTAN_STATE_FAILED);
  const char *bad[] = {tb_fid("cpg", "x0"), tb_fid("s", "cpg")};
  ASSERT_ERR(rattan_node_skip_cpg(e, "t", "cpg", bad, 2), RATTAN_EINVAL);
  EXPECT_STATE(e, "t", "cpg", RATTAN_STATE_FAILED);
  const char *flows[] = {tb_fid("cpg", "x0"), tb_fid("cpg", "x2")};
  ASSERT_OK(rattan_node_skip_cpg(e, "t", "cpg", flows, 2), rattan_errmsg(e));
  rattan_node_info g =
      EXPECT_NODE(e, "t", "cpg", RATTAN_STATE_FINISHED, ANY, ANY, ANY, 1, ANY);
  ASSERT(strcmp(g.version, old.version));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "cpg", "x0", "x2", "cg",
                "e");
  EXPECT_NOT_RUN(e, "t", "x1");
  ASSERT_EQ(xu_node(e, "t", "cg").loop, 1);
  rattan_close(e);
}

/* ---- Refusals ---------------------------------------------------------------
 */

/* Operations whose preconditions do not hold are refused with
 * RATTAN_ESTATE (RATTAN_EINVAL for what the task does not have) and
 * change nothing: retry / skip of finished, running, non-retryable or
 * non-skippable nodes, gateways skipped as activities, forced fail of
 * what is not a running activity, callbacks to what does not wait,
 * resumes of what is not paused, a second start. */
void test_control_refusals(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_act(p, "done", "noop");
  json_t *nr = tb_act(p, "nr", "fail");
  json_object_set_new(nr, "retryable", json_false());
  json_object_set_new(nr, "skippable", json_false());
  tb_act(p, "w", "cb");
  tb_act(p, "ok", "fail");
  tb_link(p, "s pg done cg e");
  tb_link(p, "pg nr cg");
  tb_link(p, "pg w cg");
  tb_link(p, "pg ok cg");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "done", RATTAN_STATE_FINISHED);
  EXPECT_STATES(e, "t", RATTAN_STATE_FAILED, "nr", "ok");
  EXPECT_STATE(e, "t", "w", RATTAN_STATE_RUNNING);
  xu_snap before =
      SNAP(e, "t", "p", "s", "pg", "done", "nr", "w", "ok", "cg", "e");
  const char *ver = xu_node(e, "t", "w").version;
  char wver[34];
  snprintf(wver, sizeof wver, "%s", ver);

  ASSERT_ERR(rattan_node_retry(e, "t", "done", NULL), RATTAN_ESTATE);
  ASSERT_CONTAINS(rattan_errmsg(e), "done");
  ASSERT_CONTAINS(rattan_errmsg(e), "FINISHED");
  ASSERT_ERR(rattan_node_retry(e, "t", "nr", NULL), RATTAN_ESTATE);
  ASSERT_CONTAINS(rattan_errmsg(e), "nr");
  ASSERT_ERR(rattan_node_retry(e, "t", "w", NULL), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_retry(e, "t", "pg", NULL), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_retry(e, "t", "cg", NULL), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_retry(e, "t", "nope", NULL), RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_retry(e, "t", "ok", "{nope"), RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_retry(e, "t", "ok", "[1]"), RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_skip(e, "t", "done"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_skip(e, "t", "nr"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_skip(e, "t", "w"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_skip(e, "t", "pg"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_skip(e, "t", "e"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_skip(e, "t", "nope"), RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_skip_exg(e, "t", "ok", tb_fid("ok", "cg")),
             RATTAN_ESTATE);
  const char *fl[] = {tb_fid("pg", "done")};
  ASSERT_ERR(rattan_node_skip_cpg(e, "t", "pg", fl, 1), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_forced_fail(e, "t", "done", "x"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_forced_fail(e, "t", "ok", "x"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_forced_fail(e, "t", "pg", "x"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_forced_fail(e, "t", "cg", "x"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_forced_fail(e, "t", "nope", "x"), RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_callback(e, "t", "done", "{}", NULL), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_callback(e, "t", "ok", "{}", NULL), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_callback(e, "t", "cg", "{}", NULL), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_callback(e, "t", "nope", "{}", NULL), RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_callback(e, "t", "w", "{nope", wver), RATTAN_EINVAL);
  ASSERT_ERR(rattan_node_resume(e, "t", "w"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_resume(e, "t", "cg"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_pause(e, "t", "done"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_pause(e, "t", "nope"), RATTAN_EINVAL);
  ASSERT_ERR(rattan_subprocess_pause(e, "t", "w"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_subprocess_resume(e, "t", "w"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_subprocess_retry(e, "t", "ok"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_task_resume(e, "t"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_task_start(e, "t"), RATTAN_ESTATE);
  ASSERT_NE(rattan_node_retry(e, "nosuchtask", "ok", NULL), RATTAN_OK);
  ASSERT_NE(rattan_task_pause(e, "nosuchtask"), RATTAN_OK);
  EXPECT_UNCHANGED_SINCE(e, "t", before);
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_RUNNING);
  /* And the task still works: nothing was queued by the refusals. */
  xu_drive(e, "t");
  ASSERT_EQ(xu_count[XU_CB].schedules, 0);
  EXPECT_STATE(e, "t", "w", RATTAN_STATE_RUNNING);
  rattan_close(e);
}

/* The task operations pause, resume and revoke, and a second start, are
 * all refused. */
static void expect_task_ops_refused(rattan_engine *e) {
  ASSERT_ERR(rattan_task_pause(e, "t"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_task_resume(e, "t"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_task_revoke(e, "t"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_task_start(e, "t"), RATTAN_ESTATE);
}

/* A task that never started refuses the task operations, and a finished
 * one refuses pause and revoke. */
void test_control_task_refusals(void) {
  rattan_engine *e = xu_open("db", 0);
  char *tree = tb_json(TB_CHAIN("noop"));
  xu_create(e, tree, "t");
  free(tree);
  ASSERT_ERR(rattan_task_pause(e, "t"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_task_resume(e, "t"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_task_revoke(e, "t"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_retry(e, "t", "a1", NULL), RATTAN_ESTATE);
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_CREATED);
  ASSERT_OK(rattan_task_start(e, "t"), rattan_errmsg(e));
  ASSERT_ERR(rattan_task_start(e, "t"), RATTAN_ESTATE);
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  xu_snap before = SNAP(e, "t", "p", "s", "a1", "e");
  expect_task_ops_refused(e);
  EXPECT_UNCHANGED_SINCE(e, "t", before);
  rattan_close(e);
}

/* ---- Forced fail ------------------------------------------------------------
 */

/* test_forced_fail_callback_node: a RUNNING activity waiting on a
 * callback is failed by the operator: FAILED, new version, archive time,
 * outputs ex_data and _forced_failed (bamboo's exact shape); the callback
 * that comes later is refused and runs nothing; skip then lets the
 * pipeline finish, the forced failure kept as history. */
void test_control_forced_fail_callback(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("cb"), "t");
  rattan_node_info run = xu_node(e, "t", "a1");
  ASSERT_EQ(run.state, RATTAN_STATE_RUNNING);
  ASSERT_OK(rattan_node_forced_fail(e, "t", "a1", "forced fail by test"),
            rattan_errmsg(e));
  rattan_node_info f =
      EXPECT_NODE(e, "t", "a1", RATTAN_STATE_FAILED, ANY, ANY, 0, ANY, ANY);
  ASSERT(strcmp(f.version, run.version));
  ASSERT(f.archived_us != RATTAN_NO_TIME);
  ASSERT_EQ(f.started_us, run.started_us);
  EXPECT_DATA(e, "t", "a1", "inputs", PLAIN_IN(1));
  const char *out =
      "{'ex_data':'forced fail by test','_forced_failed':true,"
      "'_result':true,'_loop':1,'_inner_loop':1}";
  EXPECT_DATA(e, "t", "a1", "outputs", out);
  ASSERT_STR(xu_ex_data(e, "t", "a1"), "forced fail by test");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);

  xu_snap before = SNAP(e, "t", "a1", "e", "p");
  /* Stale version and not RUNNING: either refusal code will do. */
  int rc = rattan_node_callback(e, "t", "a1", "{}", run.version);
  ASSERT(rc == RATTAN_EVERSION || rc == RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_callback(e, "t", "a1", "{}", NULL), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_callback(e, "t", "a1", "{}", f.version),
             RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_forced_fail(e, "t", "a1", "again"), RATTAN_ESTATE);
  xu_drive(e, "t");
  EXPECT_UNCHANGED_SINCE(e, "t", before);
  ASSERT_EQ(xu_count[XU_CB].schedules, 0);

  ASSERT_OK(rattan_node_skip(e, "t", "a1"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "a1", "e");
  EXPECT_DATA(e, "t", "a1", "outputs", out);
  ASSERT_EQ(xu_hist_count(e, "t", "a1"), 1);
  json_t *hd;
  rattan_node_info h = EXPECT_HIST(e, "t", "a1", 0, &hd, RATTAN_STATE_FAILED,
                                   ANY, ANY, ANY, ANY, ANY);
  ASSERT_STR(h.version, f.version);
  EXPECT_JSON(json_object_get(hd, "inputs"), PLAIN_IN(1));
  EXPECT_JSON(json_object_get(hd, "outputs"), out);
  json_decref(hd);
  rattan_close(e);
}

/* test_forced_fail_schedule_node: a timer forced to fail while it waits;
 * its poll, due later, must not finish it (the version changed). */
void test_control_forced_fail_timer(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s timer e", "sleep_timer");
  tb_in(tb_node(p, "timer"), "bk_timing", "plain", J("5"));
  xu_start_tree(e, p, "t");
  STEP_UNTIL_RUNNING(e, "t", "timer");
  ASSERT_OK(rattan_node_forced_fail(e, "t", "timer", "forced fail by test"),
            rattan_errmsg(e));
  rattan_node_info f = xu_node(e, "t", "timer");
  ASSERT_EQ(f.state, RATTAN_STATE_FAILED);
  ASSERT_EQ(f.archived_us, XU_T0);
  EXPECT_DATA_KEY(e, "t", "timer", "outputs", "ex_data",
                  "'forced fail by test'");
  EXPECT_DATA_KEY(e, "t", "timer", "outputs", "_forced_failed", "true");
  EXPECT_DATA_KEY(e, "t", "timer", "inputs", "bk_timing", "5");
  xu_drive(e, "t");
  rattan_node_info g = xu_node(e, "t", "timer");
  ASSERT_EQ(g.state, RATTAN_STATE_FAILED);
  ASSERT_STR(g.version, f.version);
  ASSERT_EQ(g.archived_us, XU_T0);
  EXPECT_NOT_RUN(e, "t", "e");
  ASSERT_OK(rattan_node_skip(e, "t", "timer"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "timer", "e");
  rattan_close(e);
}

/* A forced-failed activity retried runs again from execute, with a new
 * version that callbacks must name. */
void test_control_forced_fail_retry(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("cb"), "t");
  ASSERT_OK(rattan_node_forced_fail(e, "t", "a1", NULL), rattan_errmsg(e));
  rattan_node_info f = xu_node(e, "t", "a1");
  ASSERT_OK(rattan_node_retry(e, "t", "a1", NULL), rattan_errmsg(e));
  xu_drive(e, "t");
  rattan_node_info r =
      EXPECT_NODE(e, "t", "a1", RATTAN_STATE_RUNNING, ANY, ANY, 1, ANY, ANY);
  ASSERT(strcmp(r.version, f.version));
  ASSERT_EQ(xu_count[XU_CB].executes, 2);
  ASSERT_ERR(rattan_node_callback(e, "t", "a1", "{}", f.version),
             RATTAN_EVERSION);
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{}", r.version),
            rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "e", "p");
  ASSERT_EQ(xu_hist_count(e, "t", "a1"), 1);
  rattan_close(e);
}

/* ---- Callbacks --------------------------------------------------------------
 */

/* A callback naming a wrong version is refused with RATTAN_EVERSION and
 * queues nothing. */
void test_control_callback_version(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("cb"), "t");
  xu_snap before = SNAP(e, "t", "a1", "p");
  ASSERT_ERR(rattan_node_callback(e, "t", "a1", "{}",
                                  "v00000000000000000000000000000000"),
             RATTAN_EVERSION);
  ASSERT_ERR(rattan_node_callback(e, "t", "a1", "{}", "garbage"),
             RATTAN_EVERSION);
  xu_drive(e, "t");
  EXPECT_UNCHANGED_SINCE(e, "t", before);
  ASSERT_EQ(xu_count[XU_CB].schedules, 0);
  xu_callback(e, "t", "a1", NULL);
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "e", "p");
  EXPECT_DATA(e, "t", "a1", "outputs",
              "{'cb':null,'_result':true,'_loop':1,'_inner_loop':1}");
  rattan_close(e);
}

/* test_callback_node_fail_and_callback_again: a callback whose schedule
 * fails fails the node; a second callback is refused; after a retry the
 * node waits again under a new version and a callback with it finishes
 * the node. */
void test_control_callback_fail_retry(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("cb"), "t");
  rattan_node_info v1 = xu_node(e, "t", "a1");
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"bit\":0}", v1.version),
            rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FAILED);
  ASSERT_STR(xu_ex_data(e, "t", "a1"), "cb: bit 0");
  ASSERT_EQ(xu_count[XU_CB].schedules, 1);
  ASSERT_NE(rattan_node_callback(e, "t", "a1", "{}", v1.version), RATTAN_OK);
  ASSERT_NE(rattan_node_callback(e, "t", "a1", "{}", NULL), RATTAN_OK);
  xu_drive(e, "t");
  ASSERT_EQ(xu_count[XU_CB].schedules, 1);
  ASSERT_OK(rattan_node_retry(e, "t", "a1", NULL), rattan_errmsg(e));
  xu_drive(e, "t");
  rattan_node_info v2 = xu_node(e, "t", "a1");
  ASSERT_EQ(v2.state, RATTAN_STATE_RUNNING);
  ASSERT(strcmp(v1.version, v2.version));
  ASSERT_ERR(rattan_node_callback(e, "t", "a1", "{}", v1.version),
             RATTAN_EVERSION);
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{}", v2.version),
            rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "e", "p");
  ASSERT_EQ(xu_count[XU_CB].schedules, 2);
  ASSERT_EQ(xu_count[XU_CB].times[1], 1); /* counted per attempt */
  ASSERT_EQ(xu_node(e, "t", "a1").retry, 1);
  rattan_close(e);
}

/* test_callback_node_fail_and_skip. */
void test_control_callback_fail_skip(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("cb", "noop"), "t");
  xu_callback(e, "t", "a1", "{\"bit\":0}");
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FAILED);
  ASSERT_OK(rattan_node_skip(e, "t", "a1"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "a1", "a2", "e", "p");
  ASSERT_EQ(xu_node(e, "t", "a1").skip, 1);
  ASSERT_EQ(xu_count[XU_CB].schedules, 1);
  rattan_close(e);
}

/* test_multi_callback_node_fail_and_callback_again: a failing schedule of
 * a multi-callback node fails it; retried, it takes five fresh callbacks,
 * counted from 1 again. */
void test_control_multi_callback_fail_retry(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("multi_cb"), "t");
  rattan_node_info v1 = xu_node(e, "t", "a1");
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"bit\":1}", v1.version),
            rattan_errmsg(e));
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"bit\":0}", v1.version),
            rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FAILED);
  ASSERT_EQ(xu_count[XU_MULTI_CB].schedules, 2);
  ASSERT_NE(rattan_node_callback(e, "t", "a1", "{\"bit\":1}", v1.version),
            RATTAN_OK);
  ASSERT_OK(rattan_node_retry(e, "t", "a1", NULL), rattan_errmsg(e));
  xu_drive(e, "t");
  rattan_node_info v2 = xu_node(e, "t", "a1");
  ASSERT_EQ(v2.state, RATTAN_STATE_RUNNING);
  for (int i = 0; i < 5; i++)
    ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"bit\":1}", v2.version),
              rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "e", "p");
  ASSERT_EQ(xu_count[XU_MULTI_CB].schedules, 7);
  for (int i = 0; i < 5; i++)
    ASSERT_EQ(xu_count[XU_MULTI_CB].times[2 + i], i + 1);
  rattan_close(e);
}

/* ---- Pipeline pause / resume -----------------------------------------------
 */

/* A paused pipeline lets the running node finish (its callback still
 * works) but starts nothing after it; resume continues there. */
void test_control_pause_pipeline(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("cb", "noop"), "t");
  ASSERT_OK(rattan_task_pause(e, "t"), rattan_errmsg(e));
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_SUSPENDED);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_SUSPENDED);
  ASSERT_ERR(rattan_task_pause(e, "t"), RATTAN_ESTATE);
  xu_callback(e, "t", "a1", "{}");
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FINISHED);
  EXPECT_NOT_RUN(e, "t", "a2", "e");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_SUSPENDED);
  ASSERT_OK(rattan_task_resume(e, "t"), rattan_errmsg(e));
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  ASSERT_ERR(rattan_task_resume(e, "t"), RATTAN_ESTATE);
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "a1", "a2", "e");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  rattan_close(e);
}

/* test_pause_and_resume_pipeline_with_nest_parallel: paused while twenty
 * branches' timers wait; the timers finish, the activities after them
 * and the converge gateways do not run until resume. */
void test_control_pause_pipeline_parallel(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_start_tree(e, nest_timers(), "t");
  STEP_UNTIL_RUNNING(e, "t", NEST_TIMERS);
  ASSERT_OK(rattan_task_pause(e, "t"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_SUSPENDED);
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "pg1", "pg2", NEST_TIMERS);
  EXPECT_NOT_RUN(e, "t", "cg1", "cg2", "e", NEST_AFTER);
  ASSERT_OK(rattan_task_resume(e, "t"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, NEST_ALL);
  rattan_close(e);
}

/* ..._early_resume: paused and resumed before anything had to stop. */
void test_control_pause_pipeline_early_resume(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_start_tree(e, nest_timers(), "t");
  STEP_UNTIL_RUNNING(e, "t", "ta0");
  ASSERT_OK(rattan_task_pause(e, "t"), rattan_errmsg(e));
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_SUSPENDED);
  ASSERT_OK(rattan_task_resume(e, "t"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, NEST_ALL);
  rattan_close(e);
}

/* test_pause_and_resume_pipeline_with_subprocess: pausing the root stops
 * the subprocess's process too; the subprocess itself stays RUNNING. */
void test_control_pause_pipeline_subprocess(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *c = TB_LINE("sp", "s_sp timer e_sp", "sleep_timer");
  tb_in(tb_node(c, "timer"), "bk_timing", "plain", J("3"));
  xu_start_tree(e, tb_wrap(c), "t");
  STEP_UNTIL_RUNNING(e, "t", "timer");
  ASSERT_OK(rattan_task_pause(e, "t"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "s_sp", "timer");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_SUSPENDED);
  EXPECT_STATE(e, "t", "sp", RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", "e_sp", "e");
  ASSERT_OK(rattan_task_resume(e, "t"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "sp", "s_sp", "timer",
                "e_sp", "e");
  rattan_close(e);
}

/* ---- Node pause appointments -----------------------------------------------
 */

/* s -> timer (3 s) -> a -> e. */
static json_t *timer_then_a(void) {
  json_t *p = TB_LINE("p", "s timer a e", "sleep_timer", "noop");
  tb_in(tb_node(p, "timer"), "bk_timing", "plain", J("3"));
  return p;
}

/* test_pause_activity_in_plain: a node paused before it is reached is
 * SUSPENDED at once; its branch stops there; resume makes it READY and
 * the next drive runs it as a first run. A second pause, and resuming
 * what is not paused, are refused. */
void test_control_pause_node(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_start_tree(e, timer_then_a(), "t");
  ASSERT_OK(rattan_node_pause(e, "t", "a"), rattan_errmsg(e));
  EXPECT_STATE(e, "t", "a", RATTAN_STATE_SUSPENDED);
  ASSERT_ERR(rattan_node_pause(e, "t", "a"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_node_resume(e, "t", "timer"), RATTAN_ESTATE);
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "timer");
  EXPECT_STATE(e, "t", "a", RATTAN_STATE_SUSPENDED);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", "e");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_RUNNING);
  ASSERT_OK(rattan_node_resume(e, "t", "a"), rattan_errmsg(e));
  EXPECT_STATE(e, "t", "a", RATTAN_STATE_READY);
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "timer", "a", "e");
  rattan_node_info a = EXPECT_NODE(e, "t", "a", ANY, 1, ANY, 0, ANY, ANY);
  ASSERT_STR(a.root_id, "p");
  ASSERT_STR(a.parent_id, "p");
  ASSERT_EQ(a.started_us, XU_T0 + 3 * SEC);
  EXPECT_DATA(e, "t", "a", "outputs", PLAIN_OUT(1));
  rattan_close(e);
}

/* test_pause_activity_in_plain_early_resume: resumed before it is
 * reached, the node runs as if never paused. */
void test_control_pause_node_early_resume(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_start_tree(e, timer_then_a(), "t");
  ASSERT_OK(rattan_node_pause(e, "t", "a"), rattan_errmsg(e));
  STEP_UNTIL_RUNNING(e, "t", "timer");
  EXPECT_STATE(e, "t", "a", RATTAN_STATE_SUSPENDED);
  ASSERT_OK(rattan_node_resume(e, "t", "a"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "timer", "a", "e");
  ASSERT_EQ(xu_node(e, "t", "a").loop, 1);
  rattan_close(e);
}

/* test_pause_activity_in_parallel: four paused activities in nested
 * parallel branches; the other branches finish, the converge gateways
 * wait; resuming all four finishes the task. */
void test_control_pause_node_parallel(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_start_tree(e, nest_timers(), "t");
  const char *paused[] = {"na0", "na1", "nb0", "nb1"};
  for (int i = 0; i < 4; i++)
    ASSERT_OK(rattan_node_pause(e, "t", paused[i]), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_SUSPENDED, "na0", "na1", "nb0", "nb1");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "pg1", "pg2", "na2", "na3",
                "na4", "nb2", "nb3", "nb4", NEST_TIMERS);
  EXPECT_NOT_RUN(e, "t", "cg1", "cg2", "e");
  for (int i = 0; i < 4; i++)
    ASSERT_OK(rattan_node_resume(e, "t", paused[i]), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, NEST_ALL);
  rattan_close(e);
}

/* test_pause_activity_in_subprocess: a paused activity two subprocesses
 * deep holds its subprocesses and the root RUNNING, while a parallel
 * sibling subprocess finishes. Pausing a SubProcess node as an activity
 * is refused (bamboo's pause_node_appoint). */
void test_control_pause_node_subprocess(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *sub1 = TB_LINE("sp1", "s1 t1 act2 e1", "sleep_timer", "noop");
  tb_in(tb_node(sub1, "t1"), "bk_timing", "plain", J("3"));
  json_t *sub3 = tb_new("sp3", "s3", "e3");
  tb_fork(sub3, "pg", "ParallelGateway", "cg");
  tb_sub(sub3, "sp1", sub1);
  tb_sub(sub3, "sp2", TB_LINE("sp2", "s2 b1 e2", "noop"));
  tb_link(sub3, "s3 pg sp1 cg e3");
  tb_link(sub3, "pg sp2 cg");
  xu_start_tree(e, tb_wrap(sub3), "t");
  ASSERT_ERR(rattan_node_pause(e, "t", "sp1"), RATTAN_ESTATE);
  EXPECT_NOT_RUN(e, "t", "sp1");
  ASSERT_OK(rattan_node_pause(e, "t", "act2"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "act2", RATTAN_STATE_SUSPENDED);
  EXPECT_STATES(e, "t", RATTAN_STATE_RUNNING, "p", "sp3", "sp1");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "s3", "pg", "sp2", "s2",
                "b1", "e2", "s1", "t1");
  EXPECT_NOT_RUN(e, "t", "e1", "cg", "e3", "e");
  ASSERT_OK(rattan_node_resume(e, "t", "act2"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "sp3", "s3", "pg",
                "sp1", "s1", "t1", "act2", "e1", "sp2", "s2", "b1", "e2", "cg",
                "e3", "e");
  ASSERT_STR(xu_node(e, "t", "act2").parent_id, "sp1");
  rattan_close(e);
}

/* ---- Subprocess pause / resume / retry --------------------------------------
 */

/* The subprocess sp of the pause and revoke tests: s_sp -> w (waits for
 * a callback) -> x -> e_sp. */
static json_t *sub_wait(void) {
  return TB_LINE("sp", "s_sp w x e_sp", "cb", "noop");
}

/* test_pause_subprocess: pausing a subprocess stops its processes at the
 * next node (the running one finishes) while the root stays RUNNING;
 * resume continues. Subprocess operations on an activity are refused. */
void test_control_pause_subprocess(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, tb_wrap(sub_wait()), "t");
  EXPECT_STATE(e, "t", "w", RATTAN_STATE_RUNNING);
  ASSERT_ERR(rattan_subprocess_pause(e, "t", "w"), RATTAN_ESTATE);
  ASSERT_ERR(rattan_subprocess_resume(e, "t", "sp"), RATTAN_ESTATE);
  ASSERT_OK(rattan_subprocess_pause(e, "t", "sp"), rattan_errmsg(e));
  EXPECT_STATE(e, "t", "sp", RATTAN_STATE_SUSPENDED);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_RUNNING);
  ASSERT_ERR(rattan_subprocess_pause(e, "t", "sp"), RATTAN_ESTATE);
  xu_callback(e, "t", "w", "{}");
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "w", RATTAN_STATE_FINISHED);
  EXPECT_NOT_RUN(e, "t", "x", "e_sp", "e");
  EXPECT_STATE(e, "t", "sp", RATTAN_STATE_SUSPENDED);
  ASSERT_OK(rattan_subprocess_resume(e, "t", "sp"), rattan_errmsg(e));
  EXPECT_STATE(e, "t", "sp", RATTAN_STATE_RUNNING);
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "sp", "s_sp", "w", "x",
                "e_sp", "e");
  rattan_close(e);
}

/* test_pause_subprocess_in_parallel: one of two parallel subprocesses
 * paused; the other finishes, the converge gateway waits. */
void test_control_pause_subprocess_parallel(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  for (int i = 1; i <= 2; i++) {
    char sp[8], t[8], chain[64];
    snprintf(sp, sizeof sp, "sp%d", i);
    snprintf(t, sizeof t, "t%d", i);
    snprintf(chain, sizeof chain, "s%d %s e%d", i, t, i);
    json_t *c = TB_LINE(sp, chain, "sleep_timer");
    tb_in(tb_node(c, t), "bk_timing", "plain", J("3"));
    tb_sub(p, sp, c);
    snprintf(chain, sizeof chain, "pg %s cg", sp);
    tb_link(p, chain);
  }
  tb_link(p, "s pg");
  tb_link(p, "cg e");
  xu_start_tree(e, p, "t");
  STEP_UNTIL_RUNNING(e, "t", "t1", "t2");
  ASSERT_OK(rattan_subprocess_pause(e, "t", "sp1"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "sp1", RATTAN_STATE_SUSPENDED);
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "pg", "sp2", "s2", "t2",
                "e2", "s1", "t1");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", "e1", "cg", "e");
  ASSERT_OK(rattan_subprocess_resume(e, "t", "sp1"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "pg", "sp1", "s1",
                "t1", "e1", "sp2", "s2", "t2", "e2", "cg", "e");
  rattan_close(e);
}

/* test_retry_subprocess: a subprocess whose params cannot be rendered
 * fails as a node (ex_data set); retry_subprocess runs it again: it fails
 * again under a new version, the first failure kept as history. (bamboo's
 * test uses a lazy variable that raises; bamboo's Mako rendering would
 * keep "${1 / 0}" as written, but rattan reports render errors other
 * than an unknown name, as its README says, so this param fails.) */
void test_control_retry_subprocess(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *c = TB_LINE("sp", "s_sp in e_sp", "noop");
  tb_var(c, "${v}", "plain", J("1"));
  json_t *p = tb_wrap(c);
  tb_param(tb_node(p, "sp"), "${v}", "splice", J("'${1 / 0}'"));
  xu_run(e, p, "t");
  rattan_node_info old = xu_node(e, "t", "sp");
  ASSERT_EQ(old.state, RATTAN_STATE_FAILED);
  ASSERT(strlen(xu_ex_data(e, "t", "sp")) > 0);
  EXPECT_NOT_RUN(e, "t", "s_sp", "in", "e");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  ASSERT_OK(rattan_subprocess_retry(e, "t", "sp"), rattan_errmsg(e));
  xu_drive(e, "t");
  rattan_node_info now =
      EXPECT_NODE(e, "t", "sp", RATTAN_STATE_FAILED, ANY, ANY, 1, ANY, ANY);
  ASSERT(strcmp(now.version, old.version));
  ASSERT_EQ(xu_hist_count(e, "t", "sp"), 1);
  rattan_node_info h =
      EXPECT_HIST(e, "t", "sp", 0, NULL, ANY, 1, ANY, 0, 0, ANY);
  ASSERT_STR(h.version, old.version);
  ASSERT(h.started_us != RATTAN_NO_TIME && h.archived_us != RATTAN_NO_TIME);
  /* A SubProcess node is not skippable. */
  ASSERT_ERR(rattan_node_skip(e, "t", "sp"), RATTAN_ESTATE);
  rattan_close(e);
}

/* ---- Revoke -----------------------------------------------------------------
 */

/* test_revoke_pipeline_with_nest_parallel: revoked while the timers wait,
 * the task is REVOKED and nothing after the timers ever runs; no task
 * operation is accepted after. */
void test_control_revoke(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_start_tree(e, nest_timers(), "t");
  STEP_UNTIL_RUNNING(e, "t", NEST_TIMERS);
  ASSERT_OK(rattan_task_revoke(e, "t"), rattan_errmsg(e));
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_REVOKED);
  xu_drive(e, "t");
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_REVOKED);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_REVOKED);
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "pg1", "pg2");
  EXPECT_NOT_RUN(e, "t", "cg1", "cg2", "e", NEST_AFTER);
  expect_task_ops_refused(e);
  rattan_close(e);
}

/* Revoked while a subprocess waits: the subprocess's next nodes and the
 * parent's never run, even after the waiting node's callback; nothing
 * inside can be paused or resumed any more. */
void test_control_revoke_subprocess(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_sub(p, "sp", sub_wait());
  tb_act(p, "after", "noop");
  tb_link(p, "s sp after e");
  xu_run(e, p, "t");
  ASSERT_OK(rattan_task_revoke(e, "t"), rattan_errmsg(e));
  (void)rattan_node_callback(e, "t", "w", "{}", xu_node(e, "t", "w").version);
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_REVOKED);
  EXPECT_NOT_RUN(e, "t", "x", "e_sp", "after", "e");
  EXPECT_STATE(e, "t", "sp", RATTAN_STATE_RUNNING);
  ASSERT_ERR(rattan_task_resume(e, "t"), RATTAN_ESTATE);
  rattan_close(e);
}

/* Revoking a paused task, and a callback arriving after a revoke: the
 * next node still never runs. */
void test_control_revoke_paused(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("cb", "noop"), "t");
  ASSERT_OK(rattan_task_pause(e, "t"), rattan_errmsg(e));
  ASSERT_OK(rattan_task_revoke(e, "t"), rattan_errmsg(e));
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_REVOKED);
  (void)rattan_node_callback(e, "t", "a1", "{}", xu_node(e, "t", "a1").version);
  xu_drive(e, "t");
  EXPECT_NOT_RUN(e, "t", "a2", "e");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_REVOKED);
  ASSERT_ERR(rattan_task_resume(e, "t"), RATTAN_ESTATE);
  rattan_close(e);
}

/* ---- Operations inside loops (advanced/test_rerun.py) ----------------------
 */

/* s -> a (code, inputs key_1 / key_2) -> eg -> a while a's _loop < 4. */
static json_t *rerun_tree(const char *code) {
  json_t *p = tb_new("p", "s", "e");
  json_t *a = tb_act(p, "a", code);
  tb_in(a, "key_1", "plain", J("'val_1'"));
  tb_in(a, "key_2", "plain", J("'val_2'"));
  tb_link(p, "s a eg e");
  tb_loop(p, "eg", "a", "e", "a_i", "a", "${c}");
  tb_var(p, "${c}", "plain", J("'4'"));
  return p;
}

/* test_retry_rerun: retried twice in its first loop (inputs replaced by
 * {} then {can_go}), the node then loops to 4 keeping the replaced
 * inputs; retry counts reset on re-entry; five attempts in the history. */
void test_control_retry_rerun(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, rerun_tree("fail_ctrl"), "t");
  EXPECT_STATE(e, "t", "a", RATTAN_STATE_FAILED);
  ASSERT_OK(rattan_node_retry(e, "t", "a", "{}"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a", RATTAN_STATE_FAILED);
  ASSERT_OK(rattan_node_retry(e, "t", "a", "{\"can_go\":true}"),
            rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  EXPECT_NODE(e, "t", "a", RATTAN_STATE_FINISHED, 4, ANY, 0, ANY, ANY);
  ASSERT_EQ(xu_node(e, "t", "eg").loop, 4);
  EXPECT_DATA(e, "t", "a", "inputs",
              "{'_loop':4,'_inner_loop':4,'can_go':true}");
  EXPECT_DATA(e, "t", "a", "outputs",
              "{'_loop':4,'_inner_loop':4,'can_go':true,'_result':true}");
  ASSERT_EQ(xu_hist_count(e, "t", "a"), 5);
  static const struct {
    unsigned loop, retry;
    const char *inputs;
  } want[] = {
      {1, 0, "{'_loop':1,'_inner_loop':1,'key_1':'val_1','key_2':'val_2'}"},
      {1, 1, "{'_loop':1,'_inner_loop':1}"},
      {1, 2, "{'_loop':1,'_inner_loop':1,'can_go':true}"},
      {2, 0, "{'_loop':2,'_inner_loop':2,'can_go':true}"},
      {3, 0, "{'_loop':3,'_inner_loop':3,'can_go':true}"},
  };
  for (unsigned i = 0; i < 5; i++) {
    json_t *d;
    EXPECT_HIST(e, "t", "a", i, &d,
                i < 2 ? RATTAN_STATE_FAILED : RATTAN_STATE_FINISHED,
                want[i].loop, ANY, want[i].retry, ANY, ANY);
    EXPECT_JSON(json_object_get(d, "inputs"), want[i].inputs);
    json_decref(d);
  }
  rattan_close(e);
}

/* test_skip_rerun: skipped in loop 1 (its failure's outputs already in the
 * context), the node loops on to 4 with its own inputs; the skipped
 * attempt is in the history with skip set. */
void test_control_skip_rerun(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, rerun_tree("fail_once"), "t");
  EXPECT_STATE(e, "t", "a", RATTAN_STATE_FAILED);
  ASSERT_OK(rattan_node_skip(e, "t", "a"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  EXPECT_NODE(e, "t", "a", ANY, 4, ANY, ANY, 0, ANY);
  ASSERT_EQ(xu_node(e, "t", "eg").loop, 4);
  EXPECT_DATA(e, "t", "a", "inputs",
              "{'_loop':4,'_inner_loop':4,'key_1':'val_1','key_2':'val_2'}");
  EXPECT_DATA(e, "t", "a", "outputs",
              "{'_loop':4,'_inner_loop':4,'key_1':'val_1','key_2':'val_2',"
              "'_result':true}");
  ASSERT_EQ(xu_hist_count(e, "t", "a"), 4);
  json_t *d;
  EXPECT_HIST(e, "t", "a", 0, &d, RATTAN_STATE_FAILED, 1, ANY, ANY, 0, ANY);
  expect_fail_outputs(d, 1);
  json_decref(d);
  EXPECT_HIST(e, "t", "a", 1, &d, RATTAN_STATE_FINISHED, 1, ANY, ANY, 1, ANY);
  expect_fail_outputs(d, 1);
  json_decref(d);
  for (unsigned i = 2; i < 4; i++) {
    EXPECT_HIST(e, "t", "a", i, &d, ANY, i, ANY, ANY, 0, ANY);
    EXPECT_JSON(json_object_get(json_object_get(d, "outputs"), "_result"),
                "true");
    json_decref(d);
  }
  rattan_close(e);
}
