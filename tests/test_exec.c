/* Execution end to end through the public API: flows, gateways,
 * subprocesses, loops, data passing, the component kinds, time, the SOPS
 * samples and restarts. Modelled on bamboo's end-to-end suites
 * (runtime/bamboo-pipeline/test/eri_imp_test_use/tests/execution,
 * data_transfer, advanced) and the semantics of reference/bamboo-engine.md
 * sections 1 and 3: every expected value below is bamboo's classic line. */
#include <ctype.h>
#include <stdint.h>

#include "engine/run_int.h"
#include "exec_util.h"

/* ---- Helpers ----------------------------------------------------------------
 */

static void assert_version_shape(const char *v) {
  ASSERT_EQ(strlen(v), 33);
  ASSERT(v[0] == 'v');
  for (int i = 1; i < 33; i++)
    ASSERT(isxdigit((unsigned char)v[i]) && !isupper((unsigned char)v[i]));
}

/* A successful first run: FINISHED with bamboo's fresh counters. */
static void expect_first_run(rattan_engine *e, const char *task,
                             const char *node) {
  rattan_node_info i =
      EXPECT_NODE(e, task, node, RATTAN_STATE_FINISHED, 1, 1, 0, 0, 0);
  ASSERT(i.started_us != RATTAN_NO_TIME);
  ASSERT(i.archived_us != RATTAN_NO_TIME);
  ASSERT(i.archived_us >= i.started_us);
  assert_version_shape(i.version);
}

/* The list the loop tests split: letter i is ${l.split(",")[i]}. */
#define LETTERS "'a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t'"

/* ---- Plain flows ------------------------------------------------------------
 */

/* test_1_node: one activity. Pins the bamboo shape of a finished run:
 * counters, execution data, root_id / parent_id, the root's record, and
 * that creating and starting run nothing by themselves. */
void test_exec_one_node(void) {
  rattan_engine *e = xu_open("db", 0);
  char *tree = tb_json(TB_CHAIN("noop"));
  xu_create(e, tree, "t");
  free(tree);
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_CREATED);
  rattan_node_info info;
  ASSERT_ERR(rattan_node_get(e, "t", "p", &info), RATTAN_ENOTFOUND);
  /* Driving a task that is not started moves nothing. */
  rattan_drive_result r;
  ASSERT_OK(rattan_drive(e, "t", 0, &r), rattan_errmsg(e));
  ASSERT_EQ(r.steps, 0);
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_CREATED);
  /* Start creates the root RUNNING and runs nothing. */
  ASSERT_OK(rattan_task_start(e, "t"), rattan_errmsg(e));
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_RUNNING);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", "s", "a1", "e");
  rattan_node_info root = xu_node(e, "t", "p");
  ASSERT_STR(root.root_id, "p");
  ASSERT_STR(root.parent_id, "");
  ASSERT_EQ(root.started_us, XU_T0);
  ASSERT_EQ(root.archived_us, RATTAN_NO_TIME);

  r = xu_drive(e, "t");
  ASSERT(r.steps > 0);
  ASSERT_EQ(r.next_due_us, RATTAN_NO_TIME);
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "a1", "e");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  const char *ids[] = {"s", "a1", "e"};
  for (int i = 0; i < 3; i++) {
    expect_first_run(e, "t", ids[i]);
    rattan_node_info n = xu_node(e, "t", ids[i]);
    ASSERT_STR(n.root_id, "p");
    ASSERT_STR(n.parent_id, "p");
    ASSERT_EQ(n.started_us, XU_T0);
    ASSERT_EQ(n.archived_us, XU_T0);
    ASSERT_EQ(xu_hist_count(e, "t", ids[i]), 0);
    for (int j = 0; j < i; j++)
      ASSERT(strcmp(n.version, xu_node(e, "t", ids[j]).version));
  }
  EXPECT_DATA(e, "t", "a1", "inputs", PLAIN_IN(1));
  EXPECT_DATA(e, "t", "a1", "outputs", PLAIN_OUT(1));
  ASSERT_STR(xu_ex_data(e, "t", "a1"), "");
  root = xu_node(e, "t", "p");
  ASSERT_EQ(root.archived_us, XU_T0);
  ASSERT_STR(root.parent_id, "");
  /* A finished task has nothing left to drive. */
  r = xu_drive(e, "t");
  ASSERT_EQ(r.steps, 0);
  ASSERT_EQ(r.next_due_us, RATTAN_NO_TIME);
  rattan_close(e);
}

/* test_100_node: a chain of 100 activities runs through in one drive. */
void test_exec_hundred_nodes(void) {
  rattan_engine *e = xu_open("db", 0);
  const char *codes[101] = {NULL};
  for (int i = 0; i < 100; i++)
    codes[i] = "noop";
  xu_run(e, tb_chain(codes), "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  for (int i = 1; i <= 100; i++) {
    expect_first_run(e, "t", tb_nid("a", i));
    EXPECT_DATA(e, "t", tb_nid("a", i), "outputs", PLAIN_OUT(1));
  }
  rattan_close(e);
}

/* Component inputs render against the context: plain values as they are,
 * a splice that is exactly one ${name} as the value itself (a number
 * stays a number), anything else as text (an expression too, even alone:
 * bamboo's Template._render_string), and an unknown name stays as
 * written. */
void test_exec_input_rendering(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s a e", "echo");
  json_t *a = tb_node(p, "a");
  tb_in(a, "param_1", "plain", J("'lit ${n}'"));
  tb_in(a, "param_2", "splice", J("'${w}-${n}'"));
  tb_in(a, "x", "splice", J("'${n}'"));
  tb_in(a, "u", "splice", J("'${missing}'"));
  tb_in(a, "p", "splice", J("'${n + 1}'"));
  tb_var(p, "${n}", "plain", J("5"));
  tb_var(p, "${w}", "plain", J("'word'"));
  xu_run(e, p, "t");
  EXPECT_DATA(e, "t", "a", "inputs",
              "{'param_1':'lit ${n}','param_2':'word-5','x':5,"
              "'u':'${missing}','p':'6','_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "a", "outputs",
              "{'param_1':'lit ${n}','param_2':'word-5','x':5,"
              "'u':'${missing}','p':'6','_result':true,'_loop':1,"
              "'_inner_loop':1}");
  /* What the component saw. */
  ASSERT_STR(xu_count[XU_ECHO].task, "t");
  ASSERT_STR(xu_count[XU_ECHO].node, "a");
  ASSERT_STR(xu_count[XU_ECHO].text[0], "lit ${n}");
  ASSERT_STR(xu_count[XU_ECHO].text[1], "5");
  rattan_close(e);
}

/* ---- Exclusive gateways -----------------------------------------------------
 */

/* s -> eg -> x0..x(n-1) -> cg -> e, with the given conditions. */
static json_t *exclusive_tree(const char *type, int n,
                              const char *const *conds) {
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "eg", type, "cg");
  tb_fan(p, "eg", "cg", "x", n, "noop");
  for (int i = 0; i < n; i++)
    if (conds[i]) tb_cond(p, "eg", tb_nid("x", i), conds[i]);
  tb_link(p, "s eg");
  tb_link(p, "cg e");
  return p;
}

/* s -> outer -> inner, both gateways of type: outer also forks to
 * g0..g(ng-1), inner to h0..h(nh-1), all noops; the h meet at cg1, which
 * meets the g at cg2 -> e. */
static json_t *nested_tree(const char *type, const char *outer,
                           const char *inner, int ng, int nh) {
  json_t *p = tb_new("p", "s", "e");
  tb_gw(p, outer, type);
  tb_gw(p, inner, type);
  tb_gw(p, "cg1", "ConvergeGateway");
  tb_gw(p, "cg2", "ConvergeGateway");
  char chain[64];
  snprintf(chain, sizeof chain, "s %s %s", outer, inner);
  tb_link(p, chain);
  tb_fan(p, outer, "cg2", "g", ng, "noop");
  tb_fan(p, inner, "cg1", "h", nh, "noop");
  tb_link(p, "cg1 cg2 e");
  return p;
}

/* exclusive_tree of type with five branches over the context: x0 .. x3
 * are taken when ${a} .. ${d} equal "1", x4 never. The context holds
 * ${a} = '1', ${b} = b, ${c} = '0' and no ${d}. */
static json_t *context_tree(const char *type, const char *b) {
  json_t *p =
      exclusive_tree(type, 5,
                     (const char *[]){"\"${a}\" == \"1\"", "\"${b}\" == \"1\"",
                                      "\"${c}\" == \"1\"", "\"${d}\" == \"1\"",
                                      "True == False"});
  tb_var(p, "${a}", "plain", J("'1'"));
  tb_var(p, "${b}", "plain", json_string(b));
  tb_var(p, "${c}", "plain", J("'0'"));
  return p;
}

/* No condition of exclusive_tree's eg held (n = 3) and it has no default:
 * eg FAILED with a reason after s finished, nothing after it ran, and
 * the root stays RUNNING (bamboo never fails a pipeline). */
static void expect_no_match(rattan_engine *e) {
  EXPECT_STATE(e, "t", "s", RATTAN_STATE_FINISHED);
  EXPECT_STATE(e, "t", "eg", RATTAN_STATE_FAILED);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", "x0", "x1", "x2", "cg", "e");
  ASSERT(strlen(xu_ex_data(e, "t", "eg")) > 0);
}

/* test_exclusive_execution: exactly one true condition takes its branch;
 * the others never run; the converge gateway runs once. */
void test_exec_exclusive(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e,
         exclusive_tree("ExclusiveGateway", 3,
                        (const char *[]){"True == True", "True == False",
                                         "True == False"}),
         "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "eg", "x0", "cg", "e");
  EXPECT_NOT_RUN(e, "t", "x1", "x2");
  expect_first_run(e, "t", "eg");
  expect_first_run(e, "t", "cg");
  EXPECT_DATA(e, "t", "x0", "inputs", PLAIN_IN(1));
  EXPECT_DATA(e, "t", "x0", "outputs", PLAIN_OUT(1));
  rattan_close(e);
}

/* test_nest_exclusive_execution: an exclusive gateway inside a branch of
 * another. */
void test_exec_exclusive_nested(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = nested_tree("ExclusiveGateway", "eg1", "eg2", 2, 2);
  tb_cond(p, "eg1", "eg2", "True == True");
  tb_cond(p, "eg1", "g0", "True == False");
  tb_cond(p, "eg1", "g1", "True == False");
  tb_cond(p, "eg2", "h0", "True == True");
  tb_cond(p, "eg2", "h1", "True == False");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "eg1", "eg2", "h0",
                "cg1", "cg2", "e");
  EXPECT_NOT_RUN(e, "t", "g0", "g1", "h1");
  EXPECT_DATA(e, "t", "h0", "outputs", PLAIN_OUT(1));
  rattan_close(e);
}

/* test_template_exclusive_execution: conditions read the context through
 * ${...}; a name the context lacks stays as written, so its comparison is
 * false rather than an error. */
void test_exec_exclusive_context(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, context_tree("ExclusiveGateway", "0"), "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "eg", "x0", "cg", "e");
  EXPECT_NOT_RUN(e, "t", "x1", "x2", "x3", "x4");
  rattan_close(e);
}

/* test_exclusive_execution_no_match: no true condition and no default
 * flow fails the gateway; the root stays RUNNING (bamboo never fails a
 * pipeline); nothing after it runs. */
void test_exec_exclusive_no_match(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(
      e,
      exclusive_tree("ExclusiveGateway", 3,
                     (const char *[]){"True == False", "1 > 2", "'a' == 'b'"}),
      "t");
  expect_no_match(e);
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_RUNNING);
  rattan_node_info g = xu_node(e, "t", "eg");
  ASSERT(g.archived_us != RATTAN_NO_TIME);
  rattan_close(e);
}

/* test_exclusive_execution_no_match_with_default: the default flow is
 * taken when nothing else matches. */
void test_exec_exclusive_default(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = exclusive_tree("ExclusiveGateway", 3,
                             (const char *[]){"True == False", NULL, "1 == 2"});
  tb_default(p, "eg", "x1");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "eg", "x1", "cg", "e");
  EXPECT_NOT_RUN(e, "t", "x0", "x2");
  EXPECT_DATA(e, "t", "x1", "outputs", PLAIN_OUT(1));
  rattan_close(e);
}

/* Several true conditions fail an exclusive gateway (bamboo's default
 * ONLY strategy), and ex_data names the flows that met. The default flow
 * is only for when none meets. */
void test_exec_exclusive_multiple(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = exclusive_tree("ExclusiveGateway", 3,
                             (const char *[]){"1 == 1", "2 == 2", NULL});
  tb_default(p, "eg", "x2");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "eg", RATTAN_STATE_FAILED);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", "x0", "x1", "x2", "cg", "e");
  const char *ex = xu_ex_data(e, "t", "eg");
  ASSERT_CONTAINS(ex, tb_fid("eg", "x0"));
  ASSERT_CONTAINS(ex, tb_fid("eg", "x1"));
  rattan_close(e);
}

/* A condition that cannot be evaluated fails the gateway with the reason
 * instead of taking a branch. */
void test_exec_exclusive_bad_condition(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e,
         exclusive_tree("ExclusiveGateway", 2,
                        (const char *[]){"1 / 0 == 1", "1 == 2"}),
         "t");
  EXPECT_STATE(e, "t", "eg", RATTAN_STATE_FAILED);
  EXPECT_NOT_RUN(e, "t", "x0", "x1", "cg", "e");
  ASSERT(strlen(xu_ex_data(e, "t", "eg")) > 0);
  rattan_close(e);
}

/* ---- Conditional parallel gateways --------------------------------------- */

/* test_conditional_parallel test_parallel_execution: every true branch
 * runs, the converge gateway once. */
void test_exec_cpg(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e,
         exclusive_tree(
             "ConditionalParallelGateway", 5,
             (const char *[]){"True == True", "True == True", "True == True",
                              "True == False", "True == False"}),
         "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "eg", "x0", "x1", "x2",
                "cg", "e");
  EXPECT_NOT_RUN(e, "t", "x3", "x4");
  for (int i = 0; i < 3; i++) {
    expect_first_run(e, "t", tb_nid("x", i));
    EXPECT_DATA(e, "t", tb_nid("x", i), "outputs", PLAIN_OUT(1));
  }
  expect_first_run(e, "t", "cg");
  ASSERT_EQ(xu_hist_count(e, "t", "cg"), 0);
  rattan_close(e);
}

/* test_nest_parallel_execution (conditional): a conditional parallel
 * gateway inside a branch of another. */
void test_exec_cpg_nested(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = nested_tree("ConditionalParallelGateway", "c1", "c2", 4, 5);
  tb_cond(p, "c1", "c2", "True == True");
  tb_cond(p, "c1", "g0", "True == True");
  tb_cond(p, "c1", "g1", "True == True");
  tb_cond(p, "c1", "g2", "True == False");
  tb_cond(p, "c1", "g3", "True == False");
  tb_cond(p, "c2", "h0", "True == True");
  for (int i = 1; i < 5; i++)
    tb_cond(p, "c2", tb_nid("h", i), "True == False");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "c1", "c2", "g0", "g1",
                "h0", "cg1", "cg2", "e");
  EXPECT_NOT_RUN(e, "t", "g2", "g3", "h1", "h2", "h3", "h4");
  expect_first_run(e, "t", "cg1");
  expect_first_run(e, "t", "cg2");
  rattan_close(e);
}

/* test_template_parallel_execution: conditions over the context. */
void test_exec_cpg_context(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, context_tree("ConditionalParallelGateway", "1"), "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "eg", "x0", "x1", "cg",
                "e");
  EXPECT_NOT_RUN(e, "t", "x2", "x3", "x4");
  rattan_close(e);
}

/* test_parallel_execution_no_match: FAILED, the root RUNNING. */
void test_exec_cpg_no_match(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e,
         exclusive_tree(
             "ConditionalParallelGateway", 3,
             (const char *[]){"True == False", "True == False", "1 == 0"}),
         "t");
  expect_no_match(e);
  rattan_close(e);
}

/* test_parallel_execution_no_match_with_default. */
void test_exec_cpg_default(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = exclusive_tree(
      "ConditionalParallelGateway", 4,
      (const char *[]){"True == False", NULL, "True == False", "1 == 0"});
  tb_default(p, "eg", "x1");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "eg", "x1", "cg", "e");
  EXPECT_NOT_RUN(e, "t", "x0", "x2", "x3");
  rattan_close(e);
}

/* ---- Parallel gateways ------------------------------------------------------
 */

/* test_parallel test_parallel_execution: ten branches, five of them two
 * activities long; the converge gateway runs once, after all. */
void test_exec_parallel(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_link(p, "s pg");
  for (int i = 0; i < 10; i++) {
    char chain[64];
    tb_act(p, tb_nid("a", i), "noop");
    if (i < 5) {
      tb_act(p, tb_nid("b", i), "noop");
      snprintf(chain, sizeof chain, "pg a%d b%d cg", i, i);
    } else {
      snprintf(chain, sizeof chain, "pg a%d cg", i);
    }
    tb_link(p, chain);
  }
  tb_link(p, "cg e");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "pg", "cg", "e");
  for (int i = 0; i < 10; i++) {
    expect_first_run(e, "t", tb_nid("a", i));
    EXPECT_DATA(e, "t", tb_nid("a", i), "inputs", PLAIN_IN(1));
    EXPECT_DATA(e, "t", tb_nid("a", i), "outputs", PLAIN_OUT(1));
    if (i < 5) expect_first_run(e, "t", tb_nid("b", i));
  }
  expect_first_run(e, "t", "pg");
  expect_first_run(e, "t", "cg");
  ASSERT_EQ(xu_hist_count(e, "t", "cg"), 0);
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  rattan_close(e);
}

/* test_nest_parallel_execution: a parallel gateway in a branch of
 * another, ten activities on each level. */
void test_exec_parallel_nested(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = nested_tree("ParallelGateway", "pg1", "pg2", 10, 10);
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "pg1", "pg2", "cg1",
                "cg2", "e");
  for (int i = 0; i < 10; i++) {
    expect_first_run(e, "t", tb_nid("g", i));
    expect_first_run(e, "t", tb_nid("h", i));
  }
  expect_first_run(e, "t", "cg1");
  expect_first_run(e, "t", "cg2");
  rattan_close(e);
}

/* A failed branch stops only itself: the other branches finish, the
 * converge gateway waits (never runs), the root stays RUNNING. */
void test_exec_parallel_failed_branch(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_act(p, "a", "noop");
  tb_in(tb_act(p, "f", "fail"), "message", "plain", J("'boom'"));
  tb_act(p, "b", "noop");
  tb_act(p, "c", "noop");
  tb_link(p, "s pg a b cg e");
  tb_link(p, "pg f c cg");
  rattan_drive_result r = xu_run(e, p, "t");
  ASSERT_EQ(r.next_due_us, RATTAN_NO_TIME);
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "pg", "a", "b");
  EXPECT_STATE(e, "t", "f", RATTAN_STATE_FAILED);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", "c", "cg", "e");
  ASSERT_STR(xu_ex_data(e, "t", "f"), "boom");
  rattan_close(e);
}

/* ---- Failures ---------------------------------------------------------------
 */

/* s -> f -> after -> e: f fails with message, after is a noop. */
static json_t *fail_then_after(const char *message) {
  json_t *p = TB_LINE("p", "s f after e", "fail", "noop");
  tb_in(tb_node(p, "f"), "message", "plain", json_string(message));
  return p;
}

/* A failing activity: FAILED with its archive time, ex_data from the
 * component, outputs _result false; the branch stops there. */
void test_exec_fail(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, fail_then_after("it broke"), "t");
  rattan_node_info i =
      EXPECT_NODE(e, "t", "f", RATTAN_STATE_FAILED, 1, ANY, 0, ANY, 0);
  ASSERT_EQ(i.started_us, XU_T0);
  ASSERT_EQ(i.archived_us, XU_T0);
  ASSERT_STR(i.parent_id, "p");
  ASSERT_STR(xu_ex_data(e, "t", "f"), "it broke");
  EXPECT_DATA(e, "t", "f", "inputs",
              "{'message':'it broke','_loop':1,'_inner_loop':1}");
  EXPECT_DATA_KEY(e, "t", "f", "outputs", "_result", "false");
  EXPECT_NOT_RUN(e, "t", "after", "e");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_RUNNING);
  rattan_close(e);
}

/* An error_ignorable activity that fails finishes with error_ignored and
 * the pipeline goes on; its data still says it failed. */
void test_exec_error_ignorable(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = fail_then_after("ignored");
  json_object_set_new(tb_node(p, "f"), "error_ignorable", json_true());
  xu_run(e, p, "t");
  rattan_node_info i =
      EXPECT_NODE(e, "t", "f", RATTAN_STATE_FINISHED, ANY, ANY, ANY, 0, 1);
  ASSERT(i.archived_us != RATTAN_NO_TIME);
  ASSERT_STR(xu_ex_data(e, "t", "f"), "ignored");
  EXPECT_DATA_KEY(e, "t", "f", "outputs", "_result", "false");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "after", "e", "p");
  expect_first_run(e, "t", "after");
  rattan_close(e);
}

/* An activity whose code has no component fails, naming the code. */
void test_exec_unknown_component(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("noop", "no_such_component"), "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FINISHED);
  EXPECT_STATE(e, "t", "a2", RATTAN_STATE_FAILED);
  ASSERT_CONTAINS(xu_ex_data(e, "t", "a2"), "no_such_component");
  EXPECT_NOT_RUN(e, "t", "e");
  rattan_close(e);
}

/* ---- Component kinds and time ----------------------------------------------
 */

/* sleep_timer polls the engine clock: with the virtual clock one drive
 * finishes a 60 s timer, the node took 60 s, the next node starts then,
 * and the clock reads the end. */
void test_exec_sleep_timer(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s timer after e", "sleep_timer", "noop");
  tb_in(tb_node(p, "timer"), "bk_timing", "plain", J("60"));
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "timer", "after", "e");
  rattan_node_info t = EXPECT_NODE(e, "t", "timer", ANY, 1, ANY, 0, ANY, ANY);
  ASSERT_EQ(t.started_us, XU_T0);
  ASSERT_EQ(t.archived_us - t.started_us, 60 * SEC);
  rattan_node_info a = xu_node(e, "t", "after");
  ASSERT_EQ(a.started_us, XU_T0 + 60 * SEC);
  rattan_node_info root = xu_node(e, "t", "p");
  ASSERT_EQ(root.archived_us - root.started_us, 60 * SEC);
  ASSERT_EQ(rattan_now(e), XU_T0 + 60 * SEC);
  EXPECT_DATA_KEY(e, "t", "timer", "inputs", "bk_timing", "60");
  EXPECT_DATA_KEY(e, "t", "timer", "inputs", "_loop", "1");
  EXPECT_DATA_KEY(e, "t", "timer", "outputs", "_result", "true");
  rattan_close(e);
}

/* Budget-limited drives: each call takes at most budget steps and says
 * when work is left; stepping one at a time reaches the same end as one
 * unlimited drive, with the same number of steps. */
void test_exec_drive_budget(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_in(tb_act(p, "timer", "sleep_timer"), "bk_timing", "plain", J("5"));
  tb_act(p, "a", "noop");
  tb_act(p, "b", "noop");
  tb_link(p, "s pg timer a cg e");
  tb_link(p, "pg b cg");
  char *tree = tb_json(p);
  xu_start(e, tree, "t");
  xu_start(e, tree, "u");
  free(tree);
  rattan_drive_result r = xu_drive(e, "t");
  unsigned total = r.steps;
  unsigned stepped = 0;
  int calls = 0;
  /* A budget-limited drive does not jump the virtual clock after its
   * step: it reports the due time instead, and the next call jumps. */
  do {
    ASSERT_OK(rattan_drive(e, "u", 1, &r), rattan_errmsg(e));
    ASSERT(r.steps <= 1);
    stepped += r.steps;
    ASSERT(++calls < 1000);
  } while (r.more || r.next_due_us != RATTAN_NO_TIME);
  ASSERT_EQ(stepped, total);
  ASSERT_EQ(xu_task_state(e, "u"), RATTAN_STATE_FINISHED);
  /* (Not the root's duration: u's root started before t was driven.) */
  const char *ids[] = {"s", "pg", "timer", "a", "b", "cg", "e"};
  for (int i = 0; i < 7; i++) {
    rattan_node_info x = xu_node(e, "t", ids[i]), y = xu_node(e, "u", ids[i]);
    ASSERT_EQ(x.state, y.state);
    ASSERT_EQ(x.archived_us - x.started_us, y.archived_us - y.started_us);
  }
  rattan_close(e);
}

/* rattan_drive(e, NULL) drives every task. */
void test_exec_drive_all_tasks(void) {
  rattan_engine *e = xu_open("db", 0);
  char *tree = tb_json(TB_CHAIN("noop", "noop", "noop"));
  xu_start(e, tree, "t1");
  xu_start(e, tree, "t2");
  xu_create(e, tree, "t3"); /* never started: stays CREATED */
  free(tree);
  rattan_drive_result r;
  ASSERT_OK(rattan_drive(e, NULL, 0, &r), rattan_errmsg(e));
  ASSERT_EQ(r.more, 0);
  ASSERT_EQ(xu_task_state(e, "t1"), RATTAN_STATE_FINISHED);
  ASSERT_EQ(xu_task_state(e, "t2"), RATTAN_STATE_FINISHED);
  ASSERT_EQ(xu_task_state(e, "t3"), RATTAN_STATE_CREATED);
  /* Tasks keep their own records: same node ids, different versions. */
  ASSERT(
      strcmp(xu_node(e, "t1", "a1").version, xu_node(e, "t2", "a1").version));
  rattan_close(e);
}

/* A POLL component: the first schedule runs at once (bamboo dispatches
 * the first poll without countdown), then every interval; it finishes on
 * its third run, 4 s after it started. */
void test_exec_poll(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("poll", "noop"), "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "a2", "p");
  xu_counter *k = &xu_count[XU_POLL];
  ASSERT_EQ(k->executes, 1);
  ASSERT_EQ(k->schedules, 3);
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(k->times[i], i + 1);
    ASSERT_EQ(k->at[i], XU_T0 + i * 2 * SEC);
  }
  rattan_node_info a = xu_node(e, "t", "a1");
  ASSERT_EQ(a.archived_us - a.started_us, 4 * SEC);
  ASSERT_EQ(xu_node(e, "t", "a2").started_us, XU_T0 + 4 * SEC);
  /* Each run read the output the run before stored. */
  EXPECT_DATA(e, "t", "a1", "outputs",
              "{'polls':3,'_result':true,'_loop':1,'_inner_loop':1}");
  rattan_close(e);
}

/* rattan_call_poll_after replaces the interval for the next run. */
void test_exec_poll_after(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s a e", "poll");
  tb_in(tb_node(p, "a"), "after", "plain", J("5"));
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "a", RATTAN_STATE_FINISHED);
  xu_counter *k = &xu_count[XU_POLL];
  ASSERT_EQ(k->schedules, 3);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(k->at[i], XU_T0 + i * 5 * SEC);
  rattan_node_info a = xu_node(e, "t", "a");
  ASSERT_EQ(a.archived_us - a.started_us, 10 * SEC);
  rattan_close(e);
}

/* test_callback_node_success: a CALLBACK activity stays RUNNING (nothing
 * due) until a callback with its version arrives; the callback runs its
 * schedule once, with the data. */
void test_exec_callback(void) {
  rattan_engine *e = xu_open("db", 0);
  rattan_drive_result r = xu_run(e, TB_CHAIN("cb", "noop"), "t");
  ASSERT_EQ(r.next_due_us, RATTAN_NO_TIME);
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_RUNNING);
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", "a2", "e");
  ASSERT_EQ(xu_count[XU_CB].executes, 1);
  ASSERT_EQ(xu_count[XU_CB].schedules, 0);
  ASSERT_STR(xu_count[XU_CB].task, "t");
  ASSERT_STR(xu_count[XU_CB].node, "a1");
  /* While waiting, the execution data is already stored. */
  EXPECT_DATA(e, "t", "a1", "inputs", PLAIN_IN(1));
  rattan_node_info i = xu_node(e, "t", "a1");
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"k\":\"v\"}", i.version),
            rattan_errmsg(e));
  /* Nothing runs before the next drive. */
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_RUNNING);
  ASSERT_EQ(xu_count[XU_CB].schedules, 0);
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "a1", "a2", "e");
  ASSERT_EQ(xu_count[XU_CB].schedules, 1);
  ASSERT_EQ(xu_count[XU_CB].times[0], 1);
  rattan_node_info f = xu_node(e, "t", "a1");
  ASSERT_STR(f.version, i.version); /* finishing keeps the version */
  ASSERT_EQ(f.retry, 0);
  EXPECT_DATA(e, "t", "a1", "outputs",
              "{'cb':{'k':'v'},'_result':true,'_loop':1,'_inner_loop':1}");
  rattan_close(e);
}

/* Two callbacks queued for a CALLBACK activity before a drive: the first
 * finishes it, the second finds it finished and runs nothing (bamboo
 * expires it). */
void test_exec_callback_twice(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("cb", "noop"), "t");
  const char *v = xu_node(e, "t", "a1").version;
  char ver[34];
  snprintf(ver, sizeof ver, "%s", v);
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"n\":1}", ver),
            rattan_errmsg(e));
  int rc = rattan_node_callback(e, "t", "a1", "{\"n\":2}", ver);
  /* Accepted, or refused (rattan says EBUSY: a callback is pending). */
  if (rc != RATTAN_OK && rc != RATTAN_ESTATE && rc != RATTAN_EBUSY)
    TEST_FAIL_("second callback: %s: %s", rattan_errname(rc), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "a2", "e", "p");
  ASSERT_EQ(xu_count[XU_CB].schedules, 1);
  EXPECT_DATA(e, "t", "a1", "outputs",
              "{'cb':{'n':1},'_result':true,'_loop':1,'_inner_loop':1}");
  expect_first_run(e, "t", "a2");
  rattan_close(e);
}

/* test_multi_callback_node_success: each callback runs the schedule once;
 * the node finishes when the component says so (5th here). A callback
 * without a version is accepted too. */
void test_exec_multi_callback(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("multi_cb"), "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_RUNNING);
  rattan_node_info i = xu_node(e, "t", "a1");
  for (int k = 0; k < 3; k++)
    ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"bit\":1}", i.version),
              rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_RUNNING);
  ASSERT_EQ(xu_count[XU_MULTI_CB].schedules, 3);
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"bit\":1}", NULL),
            rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_RUNNING);
  ASSERT_OK(rattan_node_callback(e, "t", "a1", "{\"bit\":1}", i.version),
            rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "e", "p");
  ASSERT_EQ(xu_count[XU_MULTI_CB].schedules, 5);
  for (int k = 0; k < 5; k++)
    ASSERT_EQ(xu_count[XU_MULTI_CB].times[k], k + 1);
  ASSERT_STR(xu_node(e, "t", "a1").version, i.version);
  /* Finished: further callbacks are refused. */
  ASSERT_ERR(rattan_node_callback(e, "t", "a1", "{}", i.version),
             RATTAN_ESTATE);
  rattan_close(e);
}

/* The built-in pause (and its SOPS name pause_node) waits for a callback
 * and keeps its data as output callback_data. */
void test_exec_pause_component(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_CHAIN("pause", "pause_node"), "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_RUNNING);
  xu_callback(e, "t", "a1", "{\"k\":1}");
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FINISHED);
  EXPECT_STATE(e, "t", "a2", RATTAN_STATE_RUNNING);
  ASSERT_OK(rattan_node_callback(e, "t", "a2", "[1,\"x\"]", NULL),
            rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a2", "e", "p");
  EXPECT_DATA_KEY(e, "t", "a1", "outputs", "callback_data", "{'k':1}");
  EXPECT_DATA_KEY(e, "t", "a2", "outputs", "callback_data", "[1,'x']");
  rattan_close(e);
}

/* The stdout output of shell node `node` holds want. */
static void expect_stdout(rattan_engine *e, const char *node,
                          const char *want) {
  json_t *d = xu_data(e, "t", node);
  json_t *out = json_object_get(json_object_get(d, "outputs"), "stdout");
  ASSERT(json_is_string(out));
  ASSERT_CONTAINS(json_string_value(out), want);
  json_decref(d);
}

/* The built-in shell: exit code and stdout as outputs; a non-zero exit
 * fails the node. */
void test_exec_shell(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s ok bad e", "shell", "shell");
  tb_in(tb_node(p, "ok"), "command", "plain", J("'echo hello; echo world'"));
  tb_in(tb_node(p, "bad"), "command", "plain", J("'echo oops; exit 3'"));
  xu_start_tree(e, p, "t");
  xu_drive_real(e, "t", "bad");
  EXPECT_STATE(e, "t", "ok", RATTAN_STATE_FINISHED);
  EXPECT_STATE(e, "t", "bad", RATTAN_STATE_FAILED);
  EXPECT_NOT_RUN(e, "t", "e");
  EXPECT_DATA_KEY(e, "t", "ok", "outputs", "exit_code", "0");
  expect_stdout(e, "ok", "hello\nworld");
  EXPECT_DATA_KEY(e, "t", "bad", "outputs", "exit_code", "3");
  expect_stdout(e, "bad", "oops");
  rattan_close(e);
}

/* An activity with "timeout": 5 that waits on a callback fails once the
 * engine clock passes 5 s; a timer in another branch moves the virtual
 * clock past it. A callback after that is refused. */
void test_exec_timeout(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  json_object_set_new(tb_act(p, "wait", "cb"), "timeout", json_integer(5));
  tb_in(tb_act(p, "timer", "sleep_timer"), "bk_timing", "plain", J("10"));
  tb_link(p, "s pg wait cg e");
  tb_link(p, "pg timer cg");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "timer", RATTAN_STATE_FINISHED);
  EXPECT_STATE(e, "t", "wait", RATTAN_STATE_FAILED);
  rattan_node_info i = xu_node(e, "t", "wait");
  ASSERT_EQ(i.started_us, XU_T0);
  ASSERT_EQ(i.archived_us, XU_T0 + 5 * SEC);
  ASSERT(strlen(xu_ex_data(e, "t", "wait")) > 0);
  EXPECT_NOT_RUN(e, "t", "cg", "e");
  ASSERT_NE(rattan_node_callback(e, "t", "wait", "{}", NULL), RATTAN_OK);
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "wait", RATTAN_STATE_FAILED);
  ASSERT_EQ(xu_count[XU_CB].schedules, 0);
  rattan_close(e);
}

/* A timeout applies to a polling activity too: a 10 s timer with a 5 s
 * timeout fails at 5 s and never finishes. */
void test_exec_timeout_poll(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s timer e", "sleep_timer");
  json_t *t = tb_node(p, "timer");
  tb_in(t, "bk_timing", "plain", J("10"));
  json_object_set_new(t, "timeout", json_integer(5));
  xu_run(e, p, "t");
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "timer", RATTAN_STATE_FAILED);
  rattan_node_info i = xu_node(e, "t", "timer");
  ASSERT_EQ(i.archived_us - i.started_us, 5 * SEC);
  EXPECT_NOT_RUN(e, "t", "e");
  rattan_close(e);
}

/* Alone, a waiting timeout is the next due time the drive reports (or
 * the virtual clock already jumped to it): either way the node fails at
 * exactly 5 s, never earlier. */
void test_exec_timeout_due(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s wait e", "cb");
  json_object_set_new(tb_node(p, "wait"), "timeout", json_integer(5));
  rattan_drive_result r = xu_run(e, p, "t");
  rattan_node_info i = xu_node(e, "t", "wait");
  if (i.state == RATTAN_STATE_RUNNING) {
    ASSERT_EQ(r.next_due_us, XU_T0 + 5 * SEC);
  } else {
    ASSERT_EQ(i.state, RATTAN_STATE_FAILED);
    ASSERT_EQ(i.archived_us, XU_T0 + 5 * SEC);
  }
  rattan_close(e);
}

/* ---- Subprocesses -----------------------------------------------------------
 */

/* test_subprocess_execution, watched half way: the SubProcess node is
 * RUNNING while its body waits (it is not finished by its own handler
 * but by its end event), inner nodes carry parent_id = the subprocess
 * and root_id = the root, the subprocess's own record has the root as
 * parent; its data is {inputs: params, outputs: _loop/_inner_loop}. */
void test_exec_subprocess(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, tb_wrap(TB_LINE("sp", "s_sp in0 in1 e_sp", "noop", "cb")), "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_RUNNING, "p", "sp", "in1");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "s", "s_sp", "in0");
  EXPECT_NOT_RUN(e, "t", "e_sp", "e");
  rattan_node_info sp = xu_node(e, "t", "sp");
  ASSERT_STR(sp.root_id, "p");
  ASSERT_STR(sp.parent_id, "p");
  ASSERT_EQ(sp.loop, 1);
  const char *inner[] = {"s_sp", "in0", "in1"};
  for (int i = 0; i < 3; i++) {
    rattan_node_info n = xu_node(e, "t", inner[i]);
    ASSERT_STR(n.root_id, "p");
    ASSERT_STR(n.parent_id, "sp");
  }
  xu_callback(e, "t", "in1", "{}");
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "sp", "s_sp", "in0",
                "in1", "e_sp", "e");
  expect_first_run(e, "t", "sp");
  ASSERT_STR(xu_node(e, "t", "e_sp").parent_id, "sp");
  EXPECT_DATA(e, "t", "sp", "inputs", "{}");
  EXPECT_DATA(e, "t", "sp", "outputs", "{'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "in0", "outputs", PLAIN_OUT(1));
  rattan_close(e);
}

/* test_parallel_subprocess_execution: five subprocesses in parallel, one
 * branch followed by a sixth. */
void test_exec_subprocess_parallel(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_link(p, "s pg");
  for (int i = 0; i < 5; i++) {
    char sp[8], chain[64];
    snprintf(sp, sizeof sp, "sp%d", i);
    snprintf(chain, sizeof chain, "s_%s i%d_0 e_%s", sp, i, sp);
    tb_sub(p, sp, TB_LINE(sp, chain, "noop"));
    snprintf(chain, sizeof chain, i ? "pg %s cg" : "pg %s extra cg", sp);
    tb_link(p, chain);
  }
  tb_sub(p, "extra", TB_LINE("extra", "s_extra x_0 e_extra", "noop"));
  tb_link(p, "cg e");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "pg", "cg", "e",
                "extra", "s_extra", "x_0", "e_extra");
  for (int i = 0; i < 5; i++) {
    char sp[8], a[8], s[8], en[8];
    snprintf(sp, sizeof sp, "sp%d", i);
    snprintf(a, sizeof a, "i%d_0", i);
    snprintf(s, sizeof s, "s_sp%d", i);
    snprintf(en, sizeof en, "e_sp%d", i);
    EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, sp, a, s, en);
    expect_first_run(e, "t", sp);
    EXPECT_DATA(e, "t", sp, "outputs", "{'_loop':1,'_inner_loop':1}");
    EXPECT_DATA(e, "t", a, "outputs", PLAIN_OUT(1));
    ASSERT_STR(xu_node(e, "t", a).parent_id, sp);
  }
  expect_first_run(e, "t", "cg");
  rattan_close(e);
}

/* test_nest_subprocess_execution: a subprocess inside a subprocess;
 * parent_id follows the nesting, root_id is always the root. */
void test_exec_subprocess_nested(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *outer = tb_new("outer", "s_o", "e_o");
  tb_sub(outer, "inner", TB_LINE("inner", "s_inner deep0 e_inner", "noop"));
  tb_act(outer, "mid", "noop");
  tb_link(outer, "s_o mid inner e_o");
  xu_run(e, tb_wrap(outer), "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "p", "s", "outer", "s_o", "mid",
                "inner", "s_inner", "deep0", "e_inner", "e_o", "e");
  ASSERT_STR(xu_node(e, "t", "outer").parent_id, "p");
  ASSERT_STR(xu_node(e, "t", "mid").parent_id, "outer");
  ASSERT_STR(xu_node(e, "t", "inner").parent_id, "outer");
  ASSERT_STR(xu_node(e, "t", "deep0").parent_id, "inner");
  ASSERT_STR(xu_node(e, "t", "deep0").root_id, "p");
  ASSERT_STR(xu_node(e, "t", "e_inner").root_id, "p");
  EXPECT_DATA(e, "t", "outer", "outputs", "{'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "inner", "outputs", "{'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "deep0", "outputs", PLAIN_OUT(1));
  rattan_close(e);
}

/* ---- Data passing -----------------------------------------------------------
 */

/* test_node_ref_output: a context variable with source_act / source_key
 * takes the node's output after it runs; a later node's input reads it. */
void test_exec_data_node_output(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s a1 a2 e", "echo", "echo");
  tb_in(tb_node(p, "a1"), "param_1", "plain", J("'output_value_1'"));
  tb_in(tb_node(p, "a2"), "param_2", "splice", J("'${act_1_output}'"));
  tb_ref(p, "${act_1_output}", "a1", "param_1");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_FINISHED);
  EXPECT_DATA(e, "t", "a1", "inputs",
              "{'_loop':1,'_inner_loop':1,'param_1':'output_value_1'}");
  EXPECT_DATA(e, "t", "a1", "outputs",
              "{'_loop':1,'_inner_loop':1,'param_1':'output_value_1',"
              "'_result':true}");
  EXPECT_DATA(e, "t", "a2", "inputs",
              "{'_loop':1,'_inner_loop':1,'param_2':'output_value_1'}");
  EXPECT_DATA(e, "t", "a2", "outputs",
              "{'_loop':1,'_inner_loop':1,'param_2':'output_value_1',"
              "'_result':true}");
  rattan_close(e);
}

/* A host component's outputs (integer, text, JSON) reach the context
 * through source_act / source_key and keep their types in later inputs
 * referring to them alone; expressions over them render as text. */
void test_exec_data_component_outputs(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s src dst e", "emit", "echo");
  json_t *d = tb_node(p, "dst");
  tb_in(d, "x", "splice", J("'${answer}'"));
  tb_in(d, "param_1", "splice", J("'${word}!'"));
  tb_in(d, "param_2", "splice", J("'${obj}'"));
  tb_in(d, "u", "splice", J("'${answer + 1}'"));
  tb_in(d, "p", "splice", json_string("${obj[\"k\"][1]}"));
  tb_ref(p, "${answer}", "src", "answer");
  tb_ref(p, "${word}", "src", "word");
  tb_ref(p, "${obj}", "src", "obj");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "src", "dst", "p");
  EXPECT_DATA(e, "t", "src", "outputs",
              "{'answer':42,'word':'hi','obj':{'k':[1,2]},'_result':true,"
              "'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "dst", "inputs",
              "{'x':42,'param_1':'hi!','param_2':{'k':[1,2]},'u':'43','p':'2',"
              "'_loop':1,'_inner_loop':1}");
  rattan_close(e);
}

/* The outputs of a node that failed still reach the context (bamboo
 * extracts them before sleeping), and are there for the node after a
 * skip. */
void test_exec_data_failed_outputs(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s f after e", "fail_ctrl", "echo");
  tb_in(tb_node(p, "f"), "param_1", "plain", J("'kept'"));
  tb_in(tb_node(p, "after"), "param_1", "splice", J("'${result}'"));
  tb_ref(p, "${result}", "f", "_result");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "f", RATTAN_STATE_FAILED);
  ASSERT_OK(rattan_node_skip(e, "t", "f"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "f", "after", "p");
  EXPECT_DATA(e, "t", "after", "inputs",
              "{'param_1':false,'_loop':1,'_inner_loop':1}");
  rattan_close(e);
}

/* Adds subprocess id to p: s_<id> -> node -> e_<id>, node an echo whose
 * param_1 is the child's variable var (its own default dflt). Returns the
 * SubProcess node, for its params. */
static json_t *echo_sub(json_t *p, const char *id, const char *node,
                        const char *var, const char *dflt) {
  char chain[128];
  snprintf(chain, sizeof chain, "s_%s %s e_%s", id, node, id);
  json_t *c = TB_LINE(id, chain, "echo");
  tb_in(tb_node(c, node), "param_1", "splice", json_string(var));
  tb_var(c, var, "plain", json_string(dflt));
  return tb_sub(p, id, c);
}

/* test_subprocess_ref_constant: a subprocess param rendered from the
 * parent context replaces the child's default; the SubProcess node's
 * inputs are the rendered params; without a param the default is used. */
void test_exec_data_subprocess_params(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  json_t *sp = echo_sub(p, "sp", "in0", "${sub_constant_1}", "default_value");
  tb_param(sp, "${sub_constant_1}", "splice", J("'${constant_1}'"));
  /* A second subprocess without params uses its default. */
  echo_sub(p, "sp2", "dflt0", "${sub_constant_1}", "default_value");
  tb_var(p, "${constant_1}", "plain", J("'value_1'"));
  tb_link(p, "s sp sp2 e");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_FINISHED);
  EXPECT_DATA(e, "t", "in0", "inputs",
              "{'_loop':1,'_inner_loop':1,'param_1':'value_1'}");
  EXPECT_DATA(e, "t", "sp", "inputs", "{'${sub_constant_1}':'value_1'}");
  EXPECT_DATA(e, "t", "sp", "outputs", "{'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "dflt0", "inputs",
              "{'_loop':1,'_inner_loop':1,'param_1':'default_value'}");
  EXPECT_DATA(e, "t", "sp2", "inputs", "{}");
  rattan_close(e);
}

/* test_nesting_ref_constant_with_same_key: the same key at three levels,
 * each param rendered in its parent's context only. */
void test_exec_data_subprocess_params_nested(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *outer = tb_new("sp2", "s_sp2", "e_sp2");
  json_t *sp1 = echo_sub(outer, "sp1", "in0", "${same_key}", "default_value_1");
  tb_param(sp1, "${same_key}", "splice", J("'${same_key}'"));
  tb_var(outer, "${same_key}", "plain", J("'default_value_2'"));
  tb_link(outer, "s_sp2 sp1 e_sp2");
  json_t *p = tb_wrap(outer);
  tb_param(tb_node(p, "sp2"), "${same_key}", "splice", J("'${constant}'"));
  tb_var(p, "${constant}", "plain", J("'value_3'"));
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_FINISHED);
  EXPECT_DATA(e, "t", "in0", "inputs",
              "{'_loop':1,'_inner_loop':1,'param_1':'value_3'}");
  EXPECT_DATA(e, "t", "sp1", "inputs", "{'${same_key}':'value_3'}");
  EXPECT_DATA(e, "t", "sp2", "inputs", "{'${same_key}':'value_3'}");
  rattan_close(e);
}

/* test_subprocess_ref_output / test_ref_nesting_subprocess_output: a value
 * leaves a subprocess through its data.outputs (the SubProcess node's
 * outputs), is mapped into the parent context by source_act = the
 * SubProcess id, and reaches a later node; two levels deep as well. */
void test_exec_data_subprocess_outputs(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *c1 = TB_LINE("sp1", "s_sp1 in0 e_sp1", "echo");
  json_t *in0 = tb_node(c1, "in0");
  tb_in(in0, "param_1", "plain", J("'from_inner_subprocess'"));
  tb_in(in0, "param_2", "plain", J("'from_inner_subprocess_2'"));
  tb_ref(c1, "${act_1_output}", "in0", "param_1");
  tb_ref(c1, "${act_1_output_2}", "in0", "param_2");
  tb_output(c1, "${act_1_output}");
  tb_output(c1, "${act_1_output_2}");
  json_t *outer = tb_new("sp2", "s_sp2", "e_sp2");
  tb_sub(outer, "sp1", c1);
  tb_ref(outer, "${subprocess_output}", "sp1", "${act_1_output}");
  tb_ref(outer, "${subprocess_output_2}", "sp1", "${act_1_output_2}");
  tb_output(outer, "${subprocess_output}");
  tb_output(outer, "${subprocess_output_2}");
  tb_link(outer, "s_sp2 sp1 e_sp2");
  json_t *p = tb_new("p", "s", "e");
  tb_sub(p, "sp2", outer);
  json_t *a = tb_act(p, "a", "echo");
  tb_in(a, "param_1", "splice", J("'${subprocess_2_output}'"));
  tb_in(a, "param_2", "splice", J("'${subprocess_2_output_2}'"));
  tb_ref(p, "${subprocess_2_output}", "sp2", "${subprocess_output}");
  tb_ref(p, "${subprocess_2_output_2}", "sp2", "${subprocess_output_2}");
  tb_link(p, "s sp2 a e");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_FINISHED);
  EXPECT_DATA(e, "t", "sp1", "inputs", "{}");
  EXPECT_DATA(e, "t", "sp1", "outputs",
              "{'${act_1_output}':'from_inner_subprocess',"
              "'${act_1_output_2}':'from_inner_subprocess_2',"
              "'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "sp2", "outputs",
              "{'${subprocess_output}':'from_inner_subprocess',"
              "'${subprocess_output_2}':'from_inner_subprocess_2',"
              "'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "a", "inputs",
              "{'_loop':1,'_inner_loop':1,'param_1':'from_inner_subprocess',"
              "'param_2':'from_inner_subprocess_2'}");
  rattan_close(e);
}

/* test_subprocess_ref_self_node_output: inside a subprocess, a node's
 * output maps into the subprocess context, and a splice variable built on
 * it reaches the next inner node; a parent output comes in by param. */
void test_exec_data_subprocess_self_output(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_in(tb_act(p, "a1", "echo"), "param_1", "plain", J("'output_value_1'"));
  tb_ref(p, "${act_1_output}", "a1", "param_1");
  json_t *c = TB_LINE("sp", "s_sp in0 in1 e_sp", "echo", "echo");
  tb_in(tb_node(c, "in0"), "param_1", "splice", J("'${sub_constant_1}'"));
  tb_in(tb_node(c, "in0"), "param_2", "plain", J("'sub_var2'"));
  tb_in(tb_node(c, "in1"), "param_1", "splice",
        J("'${ref_sub_act_1_outputs}'"));
  tb_var(c, "${sub_constant_1}", "plain", J("'value_1'"));
  tb_ref(c, "${sub_act_1_outputs}", "in0", "param_2");
  tb_var(c, "${ref_sub_act_1_outputs}", "splice", J("'${sub_act_1_outputs}'"));
  tb_param(tb_sub(p, "sp", c), "${sub_constant_1}", "splice",
           J("'${act_1_output}'"));
  tb_link(p, "s a1 sp e");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_FINISHED);
  EXPECT_DATA(e, "t", "in0", "inputs",
              "{'_loop':1,'_inner_loop':1,'param_1':'output_value_1',"
              "'param_2':'sub_var2'}");
  EXPECT_DATA(e, "t", "in1", "inputs",
              "{'_loop':1,'_inner_loop':1,'param_1':'sub_var2'}");
  EXPECT_DATA(e, "t", "sp", "inputs", "{'${sub_constant_1}':'output_value_1'}");
  rattan_close(e);
}

/* ---- Loops ------------------------------------------------------------------
 */

/* s -> a1 (a1_code) -> a2 (loop_count) -> eg -> e, eg going back to a1
 * while ${a_i}, the _loop of node idx, is below ${c} = 4: four loops.
 * a2's input_a is letter ${a_i} of LETTERS. */
static json_t *letters_loop(const char *a1_code, const char *idx) {
  json_t *p = tb_new("p", "s", "e");
  tb_act(p, "a1", a1_code);
  tb_in(tb_act(p, "a2", "loop_count"), "input_a", "splice", J("'${input_a}'"));
  tb_link(p, "s a1 a2 eg e");
  tb_loop(p, "eg", "a1", "e", "a_i", idx, "${c}");
  tb_var(p, "${input_a}", "splice", json_string("${l.split(\",\")[a_i]}"));
  tb_var(p, "${l}", "plain", J(LETTERS));
  tb_var(p, "${c}", "plain", J("'4'"));
  return p;
}

/* a2 of letters_loop after its four loops: its data in loop 4 (letter e),
 * and its history, oldest first: loops 1..3 (letters b, c, d), all
 * FINISHED, each with its own version, its times and its data. */
static void expect_letters_history(rattan_engine *e) {
  EXPECT_DATA(e, "t", "a2", "inputs",
              "{'_loop':4,'_inner_loop':4,'input_a':'e'}");
  EXPECT_DATA(e, "t", "a2", "outputs",
              "{'_loop':4,'_inner_loop':4,'loop':4,'input_a':'e',"
              "'_result':true}");
  const char *letters = "bcd";
  rattan_node_info cur = xu_node(e, "t", "a2");
  for (unsigned i = 0; i < 3; i++) {
    json_t *d;
    rattan_node_info h = EXPECT_HIST(e, "t", "a2", i, &d, RATTAN_STATE_FINISHED,
                                     i + 1, ANY, 0, 0, ANY);
    ASSERT(h.started_us != RATTAN_NO_TIME);
    ASSERT(h.archived_us != RATTAN_NO_TIME);
    assert_version_shape(h.version);
    ASSERT(strcmp(h.version, cur.version));
    for (unsigned j = 0; j < i; j++)
      ASSERT(strcmp(h.version, xu_hist(e, "t", "a2", j, NULL).version));
    char want[160];
    snprintf(want, sizeof want, "{'_loop':%u,'_inner_loop':%u,'input_a':'%c'}",
             i + 1, i + 1, letters[i]);
    EXPECT_JSON(json_object_get(d, "inputs"), want);
    snprintf(want, sizeof want,
             "{'_loop':%u,'_inner_loop':%u,'loop':%u,'input_a':'%c',"
             "'_result':true}",
             i + 1, i + 1, i + 1, letters[i]);
    EXPECT_JSON(json_object_get(d, "outputs"), want);
    json_decref(d);
  }
}

/* test_single_node_rerun: a cycle through an exclusive gateway re-enters
 * its nodes: loop and inner_loop count up, each attempt gets a new version
 * and start time, earlier attempts go to the history with their data. */
void test_exec_loop(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, letters_loop("noop", "a2"), "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "a2", "eg", "e");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  const char *cyc[] = {"a1", "a2", "eg"};
  for (int i = 0; i < 3; i++) {
    EXPECT_NODE(e, "t", cyc[i], RATTAN_STATE_FINISHED, 4, 4, 0, ANY, ANY);
    ASSERT_EQ(xu_hist_count(e, "t", cyc[i]), 3);
  }
  expect_first_run(e, "t", "s");
  expect_first_run(e, "t", "e");
  EXPECT_DATA(e, "t", "a1", "inputs", PLAIN_IN(4));
  EXPECT_DATA(e, "t", "a1", "outputs", PLAIN_OUT(4));
  expect_letters_history(e);
  ASSERT_EQ(xu_count[XU_LOOP_COUNT].executes, 4);
  rattan_close(e);
}

/* bamboo "pre extracts" a node's own _loop: when a context variable maps
 * the node's _loop output, the node's inputs already see this run's loop
 * (handlers/service_activity.py prepare_data, handlers/subprocess.py).
 * The smallest case: an input that reads its own node's loop, 1. */
void test_exec_loop_pre_extract(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_in(tb_act(p, "a", "echo"), "x", "splice", J("'${me}'"));
  tb_ref(p, "${me}", "a", "_loop");
  json_t *c = TB_LINE("sp", "s_sp in e_sp", "echo");
  tb_in(tb_node(c, "in"), "x", "splice", J("'${v}'"));
  tb_var(c, "${v}", "plain", J("0"));
  tb_param(tb_sub(p, "sp", c), "${v}", "splice", J("'${sp_loop}'"));
  tb_ref(p, "${sp_loop}", "sp", "_loop");
  tb_link(p, "s a sp e");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a", "sp", "in", "e");
  EXPECT_DATA(e, "t", "a", "inputs", "{'x':1,'_loop':1,'_inner_loop':1}");
  EXPECT_DATA(e, "t", "sp", "inputs", "{'${v}':1}");
  EXPECT_DATA(e, "t", "in", "inputs", "{'x':1,'_loop':1,'_inner_loop':1}");
  rattan_close(e);
}

/* The same cycle as test_exec_loop, with the index read from the node
 * before (so it does not need bamboo's pre-extraction of a node's own
 * _loop): loop counters, versions and the history of every attempt. */
void test_exec_loop_history(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, letters_loop("loop_count", "a1"), "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "a2", "eg", "e", "p");
  const char *cyc[] = {"a1", "a2", "eg"};
  for (int i = 0; i < 3; i++) {
    rattan_node_info n = EXPECT_NODE(e, "t", cyc[i], ANY, 4, 4, 0, 0, ANY);
    ASSERT_STR(n.parent_id, "p");
    ASSERT_EQ(xu_hist_count(e, "t", cyc[i]), 3);
  }
  expect_first_run(e, "t", "e");
  expect_letters_history(e);
  for (unsigned i = 0; i < 3; i++)
    ASSERT_EQ(xu_hist(e, "t", "a2", i, NULL).inner_loop, i + 1);
  /* A history index past the end is not found. */
  rattan_node_info none;
  ASSERT_ERR(rattan_node_history(e, "t", "a2", 3, &none, NULL, NULL),
             RATTAN_ENOTFOUND);
  ASSERT_EQ(xu_count[XU_LOOP_COUNT].executes, 8);
  rattan_close(e);
}

/* Loops with a timer: each re-entry gets the start time of its own run,
 * and the archive time of the earlier run stays until it finishes again
 * (bamboo keeps archived_time on re-entry). */
void test_exec_loop_times(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_in(tb_act(p, "timer", "sleep_timer"), "bk_timing", "plain", J("10"));
  tb_link(p, "s timer eg e");
  tb_loop(p, "eg", "timer", "e", "n", "timer", "3");
  xu_run(e, p, "t");
  rattan_node_info t = xu_node(e, "t", "timer");
  ASSERT_EQ(t.loop, 3);
  ASSERT_EQ(t.started_us, XU_T0 + 20 * SEC);
  ASSERT_EQ(t.archived_us, XU_T0 + 30 * SEC);
  for (unsigned i = 0; i < 2; i++) {
    rattan_node_info h = xu_hist(e, "t", "timer", i, NULL);
    ASSERT_EQ(h.started_us, XU_T0 + (int64_t)i * 10 * SEC);
    ASSERT_EQ(h.archived_us, XU_T0 + (int64_t)(i + 1) * 10 * SEC);
  }
  ASSERT_EQ(xu_node(e, "t", "e").started_us, XU_T0 + 30 * SEC);
  rattan_close(e);
}

/* test_subprocess_rerun: a subprocess in a cycle. The SubProcess node
 * counts loops like any node; its inner nodes count loop too, but their
 * inner_loop restarts at 1 in each run of the subprocess. The params are
 * rendered again each time. */
void test_exec_loop_subprocess(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *c = TB_LINE("sp", "s_sp in0 e_sp", "echo");
  tb_in(tb_node(c, "in0"), "input_a", "splice", J("'${input_a}'"));
  tb_var(c, "${input_a}", "splice", json_string("${l.split(\",\")[a_i]}"));
  tb_var(c, "${a_i}", "plain", J("''"));
  json_object_set_new(
      json_object_get(json_object_get(json_object_get(c, "data"), "inputs"),
                      "${a_i}"),
      "is_param", json_true());
  tb_var(c, "${l}", "plain", J(LETTERS));
  tb_ref(c, "${output_a}", "in0", "input_a");
  tb_output(c, "${output_a}");
  json_t *p = tb_new("p", "s", "e");
  tb_act(p, "a1", "noop");
  tb_param(tb_sub(p, "sp", c), "${a_i}", "splice", J("'${s_i}'"));
  tb_link(p, "s a1 sp eg e");
  tb_loop(p, "eg", "sp", "e", "s_i", "sp", "4");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "sp", "s_sp", "in0",
                "e_sp", "eg", "e");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  const char *four[] = {"sp", "eg", "s_sp", "in0", "e_sp"};
  for (int i = 0; i < 5; i++)
    EXPECT_NODE(e, "t", four[i], RATTAN_STATE_FINISHED, 4, ANY, ANY, ANY, ANY);
  ASSERT_EQ(xu_node(e, "t", "sp").inner_loop, 4);
  ASSERT_EQ(xu_node(e, "t", "in0").inner_loop, 1);
  expect_first_run(e, "t", "a1");
  EXPECT_DATA(e, "t", "in0", "inputs",
              "{'_loop':4,'_inner_loop':1,'input_a':'e'}");
  EXPECT_DATA(e, "t", "sp", "inputs", "{'${a_i}':4}");
  EXPECT_DATA(e, "t", "sp", "outputs",
              "{'${output_a}':'e','_loop':4,'_inner_loop':4}");
  ASSERT_EQ(xu_hist_count(e, "t", "in0"), 3);
  const char *letters = "bcd";
  for (unsigned i = 0; i < 3; i++) {
    json_t *d;
    EXPECT_HIST(e, "t", "in0", i, &d, ANY, i + 1, ANY, ANY, ANY, ANY);
    char want[128];
    snprintf(want, sizeof want, "{'_loop':%u,'_inner_loop':1,'input_a':'%c'}",
             i + 1, letters[i]);
    EXPECT_JSON(json_object_get(d, "inputs"), want);
    json_decref(d);
    EXPECT_HIST(e, "t", "sp", i, &d, ANY, i + 1, ANY, ANY, ANY, ANY);
    snprintf(want, sizeof want, "{'${a_i}':%u}", i + 1);
    EXPECT_JSON(json_object_get(d, "inputs"), want);
    snprintf(want, sizeof want,
             "{'${output_a}':'%c','_loop':%u,'_inner_loop':%u}", letters[i],
             i + 1, i + 1);
    EXPECT_JSON(json_object_get(d, "outputs"), want);
    json_decref(d);
  }
  rattan_close(e);
}

/* test_parallel_gateway_rerun: a parallel block inside a cycle; every
 * node of the block, the converge gateway included, runs once per loop. */
void test_exec_loop_parallel(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_act(p, "a1", "noop");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_gw(p, "eg", "ExclusiveGateway");
  const char *vars[] = {"${input_a}", "${input_b}", "${input_c}"};
  const char *loops[] = {"${a_i}", "${b_i}", "${c_i}"};
  const char *split[] = {"${l.split(\",\")[a_i]}", "${l.split(\",\")[b_i]}",
                         "${l.split(\",\")[c_i]}"};
  for (int i = 0; i < 3; i++) {
    char chain[32];
    tb_in(tb_act(p, tb_nid("b", i), "loop_count"), "input_a", "splice",
          json_string(vars[i]));
    snprintf(chain, sizeof chain, "pg b%d cg", i);
    tb_link(p, chain);
    tb_ref(p, loops[i], tb_nid("b", i), "_loop");
    tb_var(p, vars[i], "splice", json_string(split[i]));
  }
  tb_var(p, "${d}", "splice", J("'${c_i}'"));
  tb_var(p, "${l}", "plain", J(LETTERS));
  tb_var(p, "${c}", "plain", J("'3'"));
  tb_link(p, "s a1 pg");
  tb_link(p, "cg eg e");
  tb_link(p, "eg a1");
  tb_cond(p, "eg", "a1",
          "${a_i} < ${c} and ${b_i} < ${c} and ${c_i} < ${c} and ${d} < ${c}");
  tb_cond(p, "eg", "e",
          "${a_i} >= ${c} and ${b_i} >= ${c} and ${c_i} >= ${c} and "
          "${d} >= ${c}");
  xu_run(e, p, "t");
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, "a1", "pg", "b0", "b1", "b2",
                "cg", "eg", "e");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  const char *three[] = {"a1", "pg", "b0", "b1", "b2", "cg", "eg"};
  for (int i = 0; i < 7; i++) {
    EXPECT_NODE(e, "t", three[i], RATTAN_STATE_FINISHED, 3, ANY, ANY, ANY, ANY);
    ASSERT_EQ(xu_hist_count(e, "t", three[i]), 2);
  }
  for (int i = 0; i < 3; i++)
    EXPECT_DATA(e, "t", tb_nid("b", i), "outputs",
                "{'_loop':3,'_inner_loop':3,'loop':3,'input_a':'d',"
                "'_result':true}");
  expect_first_run(e, "t", "e");
  rattan_close(e);
}

/* test_rerun_in_branch: cycles inside parallel branches, each leaving its
 * branch toward the converge gateway, which still runs once. */
void test_exec_loop_in_branch(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_act(p, "a1", "noop");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  for (int i = 2; i <= 5; i++)
    tb_act(p, tb_nid("a", i), "loop_count");
  tb_link(p, "s a1 pg a2 eg1 cg e");
  tb_loop(p, "eg1", "a2", "cg", "l_2", "a2", "2");
  tb_link(p, "pg a3 a4 eg2 cg");
  tb_loop(p, "eg2", "a3", "cg", "l_3", "a3", "2");
  tb_link(p, "pg a5 cg");
  xu_run(e, p, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  const char *two[] = {"a2", "a3", "a4", "eg1", "eg2"};
  for (int i = 0; i < 5; i++)
    EXPECT_NODE(e, "t", two[i], RATTAN_STATE_FINISHED, 2, ANY, ANY, ANY, ANY);
  expect_first_run(e, "t", "a5");
  expect_first_run(e, "t", "cg");
  expect_first_run(e, "t", "pg");
  rattan_close(e);
}

/* The rerun limit: with rerun_limit 3 a node runs 4 times (loop 1..4);
 * the fifth entry fails it (FINISHED -> FAILED, loop stays 4, no history
 * added) with a reason, and its branch stops. The root stays RUNNING. */
void test_exec_rerun_limit(void) {
  rattan_engine *e = xu_open("db", 3);
  json_t *p = tb_new("p", "s", "e");
  tb_act(p, "a1", "noop");
  tb_act(p, "a2", "noop");
  tb_link(p, "s a1 a2 eg e");
  tb_loop(p, "eg", "a1", "e", "n", "a2", "100");
  xu_run(e, p, "t");
  rattan_node_info a1 =
      EXPECT_NODE(e, "t", "a1", RATTAN_STATE_FAILED, 4, ANY, ANY, ANY, ANY);
  ASSERT(a1.archived_us != RATTAN_NO_TIME);
  ASSERT_EQ(xu_hist_count(e, "t", "a1"), 3);
  ASSERT(strlen(xu_ex_data(e, "t", "a1")) > 0);
  EXPECT_NODE(e, "t", "a2", RATTAN_STATE_FINISHED, 4, ANY, ANY, ANY, ANY);
  EXPECT_NODE(e, "t", "eg", RATTAN_STATE_FINISHED, 4, ANY, ANY, ANY, ANY);
  EXPECT_NOT_RUN(e, "t", "e");
  EXPECT_STATE(e, "t", "p", RATTAN_STATE_RUNNING);
  rattan_close(e);
}

/* ---- SOPS samples -----------------------------------------------------------
 */

/* tests/data/loop-sample.json: a timer and a timer reading
 * time_list[_loop-1] (1, 2, 3, 4 s) in a cycle that ends after the 4th
 * loop. Everything finishes; the cycle's nodes end with loop 4; the run
 * takes 4 x 1 s + (1+2+3+4) s = 14 s of engine time. */
void test_exec_sops_loop_sample(void) {
  rattan_engine *e = xu_open("db", 0);
  char *text = test_slurp("tests/data/loop-sample.json", NULL);
  xu_start(e, text, "t");
  free(text);
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  const char *root = "n2125aebb4c8334f8ba4d575315a8d94";
  EXPECT_STATES(e, "t", RATTAN_STATE_FINISHED, root,
                "node35061a03a927f28cab4297889487",
                "node09dc5c1a5c9ca6dc5ef8bdfff9a7");
  const char *timer2 = "nodeb268d09815476dd8a37d373b89ff";
  const char *cyc[] = {"node413dba1a74e3045da403e3be9cd5", timer2,
                       "node6a7188644302395222cd8b94b701"};
  for (int i = 0; i < 3; i++) {
    EXPECT_NODE(e, "t", cyc[i], RATTAN_STATE_FINISHED, 4, ANY, ANY, ANY, ANY);
    ASSERT_EQ(xu_hist_count(e, "t", cyc[i]), 3);
  }
  /* The 4th run of the second timer waited time_list[3] = 4 s. */
  rattan_node_info t = xu_node(e, "t", timer2);
  ASSERT_EQ(t.archived_us - t.started_us, 4 * SEC);
  EXPECT_DATA_KEY(e, "t", timer2, "inputs", "bk_timing", "'4'");
  for (unsigned i = 0; i < 3; i++) {
    rattan_node_info h = xu_hist(e, "t", timer2, i, NULL);
    ASSERT_EQ(h.archived_us - h.started_us, (int64_t)(i + 1) * SEC);
  }
  rattan_node_info r = xu_node(e, "t", root);
  ASSERT_EQ(r.archived_us - r.started_us, 14 * SEC);
  rattan_close(e);
}

/* The id of the activity of the task's definition inside pipeline `sub`
 * whose code is `code`, the k-th in key order. */
static void find_acts(rattan_engine *e, const char *task, const char *sub,
                      const char *code, char ids[][RATTAN_ID_MAX + 1], int max,
                      int *n) {
  char *text;
  size_t len;
  ASSERT_OK(rattan_task_definition(e, task, &text, &len), rattan_errmsg(e));
  json_t *tree = json_loadb(text, len, 0, NULL);
  ASSERT(tree);
  rattan_free(text);
  json_t *pipe = json_object_get(
      json_object_get(json_object_get(tree, "activities"), sub), "pipeline");
  ASSERT(pipe);
  const char *k;
  json_t *a;
  *n = 0;
  json_object_foreach(json_object_get(pipe, "activities"), k, a) {
    const char *c = json_string_value(
        json_object_get(json_object_get(a, "component"), "code"));
    if (c && !strcmp(c, code) && *n < max)
      snprintf(ids[(*n)++], RATTAN_ID_MAX + 1, "%s", k);
  }
  json_decref(tree);
}

/* tests/data/subprocess-gateways.json, template 5ad26a...: the parent's
 * timer reads ${parent_test}, which nothing defines, so it fails as it
 * does in SOPS; skipping it runs the subprocess, whose exclusive gateway
 * picks its pause_node branch, then a parallel gateway forks two more
 * pause_nodes. Each waits for its callback; then everything finishes,
 * and the subprocess hands ${test} = "3" out. */
void test_exec_sops_subprocess_gateways(void) {
  rattan_engine *e = xu_open("db", 0);
  char *text = test_slurp("tests/data/subprocess-gateways.json", NULL);
  rattan_task_options o = {.id = "t",
                           .template_id = "5ad26a77856c360585209702f5d3e614"};
  char id[RATTAN_ID_MAX + 1];
  ASSERT_OK(rattan_task_create(e, text, strlen(text), &o, id),
            rattan_errmsg(e));
  free(text);
  ASSERT_OK(rattan_task_start(e, "t"), rattan_errmsg(e));
  xu_drive(e, "t");
  const char *root = "5ad26a77856c360585209702f5d3e614";
  const char *timer = "nc9a4ab053d03d74ad3a36a7435b6eed";
  const char *sp = "n6c29ee96a093233a4052259eae107f5";
  EXPECT_STATE(e, "t", timer, RATTAN_STATE_FAILED);
  EXPECT_STATE(e, "t", root, RATTAN_STATE_RUNNING);
  EXPECT_NOT_RUN(e, "t", sp);
  ASSERT_OK(rattan_node_skip(e, "t", timer), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", sp, RATTAN_STATE_RUNNING);
  EXPECT_STATE(e, "t", "naf193e217b73986adc1f179c04229d8",
               RATTAN_STATE_FINISHED);
  EXPECT_NOT_RUN(e, "t", "neffe5b75f1b372dbd32f75a2ca46687");
  char pauses[3][RATTAN_ID_MAX + 1];
  int n;
  find_acts(e, "t", sp, "pause_node", pauses, 3, &n);
  ASSERT_EQ(n, 3);
  /* First the branch's own pause_node, then the two forked ones. */
  const char *first = "n85b38c0ea2b37c0a39c254873dcd1b6";
  EXPECT_STATE(e, "t", first, RATTAN_STATE_RUNNING);
  xu_callback(e, "t", first, "{}");
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", first, RATTAN_STATE_FINISHED);
  int waiting = 0;
  for (int i = 0; i < n; i++) {
    if (!strcmp(pauses[i], first)) continue;
    EXPECT_STATE(e, "t", pauses[i], RATTAN_STATE_RUNNING);
    ASSERT_STR(xu_node(e, "t", pauses[i]).parent_id, sp);
    waiting++;
  }
  ASSERT_EQ(waiting, 2);
  EXPECT_NOT_RUN(e, "t", "n2ee8ca684b03eb38dc6b88e0b39ba73");
  for (int i = 0; i < n; i++) {
    if (!strcmp(pauses[i], first)) continue;
    xu_callback(e, "t", pauses[i], "{}");
    xu_drive(e, "t");
  }
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  EXPECT_STATES(
      e, "t", RATTAN_STATE_FINISHED, root, sp, timer,
      "nc358de3ea123636bf701c3eebb82126", "n2ee8ca684b03eb38dc6b88e0b39ba73",
      "n078e7dfb536391a95c80719941fac78", "n6df62856b1a3f9ca194635c0f0acec7");
  ASSERT_EQ(xu_node(e, "t", timer).skip, 1);
  EXPECT_DATA_KEY(e, "t", sp, "outputs", "${test}", "'3'");
  rattan_close(e);
}

/* ---- Restarts --------------------------------------------------------------
 */

/* One long scenario (parallel branches, a subprocess with a callback, a
 * timer, a failure retried while the task is paused, a node pause
 * appointment, a skip, a loop), run twice from the same
 * seed: once on one engine, once closing and reopening the engine before
 * every single step (each drive has budget 1). Every record, the data
 * and the histories end the same. */
static const char *scenario_nodes[] = {
    "p",   "s",  "pg", "timer", "f",      "g",    "sp", "s_sp", "in0",
    "in1", "cg", "lp", "eg",    "skipme", "e_sp", "e",  NULL};

static json_t *scenario_tree(void) {
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_in(tb_act(p, "timer", "sleep_timer"), "bk_timing", "plain", J("30"));
  tb_act(p, "f", "fail_ctrl");
  tb_in(tb_act(p, "g", "echo"), "param_1", "splice", J("'${x}'"));
  tb_sub(p, "sp", TB_LINE("sp", "s_sp in0 in1 e_sp", "emit", "cb"));
  tb_in(tb_act(p, "skipme", "fail"), "message", "plain", J("'skip me'"));
  tb_act(p, "lp", "loop_count");
  tb_link(p, "s pg timer f g cg lp eg skipme e");
  tb_link(p, "pg sp cg");
  tb_ref(p, "${x}", "f", "bit");
  tb_loop(p, "eg", "lp", "skipme", "n", "lp", "3");
  return p;
}

typedef struct scen {
  rattan_engine *e;
  int reopen;
} scen;

static void scen_step(scen *s) {
  if (s->reopen) s->e = xu_reopen(s->e, "db", 0);
}

/* One operation of the scenario, on the engine scen_step leaves. */
#define SCEN_OP(s, call)                     \
  do {                                       \
    scen_step(&(s));                         \
    ASSERT_OK((call), rattan_errmsg((s).e)); \
  } while (0)

static void scen_drive(scen *s) {
  for (int i = 0; i < 5000; i++) {
    scen_step(s);
    rattan_drive_result r;
    ASSERT_OK(rattan_drive(s->e, "t", s->reopen ? 1 : 0, &r),
              rattan_errmsg(s->e));
    if (!r.more && r.next_due_us == RATTAN_NO_TIME) return;
  }
  TEST_FAIL_("the drive never ends");
}

static xu_snap scenario(int reopen) {
  scen s = {xu_open("db", 0), reopen};
  char *tree = tb_json(scenario_tree());
  xu_create(s.e, tree, "t");
  free(tree);
  SCEN_OP(s, rattan_task_start(s.e, "t"));
  scen_drive(&s);
  /* The timer ran, f failed, the subprocess waits on in1. */
  EXPECT_STATE(s.e, "t", "f", RATTAN_STATE_FAILED);
  EXPECT_STATE(s.e, "t", "in1", RATTAN_STATE_RUNNING);
  SCEN_OP(s, rattan_node_pause(s.e, "t", "lp"));
  SCEN_OP(s, rattan_task_pause(s.e, "t"));
  SCEN_OP(s, rattan_node_retry(s.e, "t", "f", "{\"bit\":1}"));
  scen_drive(&s);
  /* Paused: the retried node has not run yet. */
  EXPECT_STATE(s.e, "t", "f", RATTAN_STATE_READY);
  SCEN_OP(s, rattan_task_resume(s.e, "t"));
  scen_drive(&s);
  EXPECT_STATE(s.e, "t", "g", RATTAN_STATE_FINISHED);
  scen_step(&s);
  xu_callback(s.e, "t", "in1", "{\"done\":true}");
  scen_drive(&s);
  EXPECT_STATE(s.e, "t", "lp", RATTAN_STATE_SUSPENDED);
  SCEN_OP(s, rattan_node_resume(s.e, "t", "lp"));
  scen_drive(&s);
  EXPECT_STATE(s.e, "t", "skipme", RATTAN_STATE_FAILED);
  SCEN_OP(s, rattan_node_skip(s.e, "t", "skipme"));
  scen_drive(&s);
  ASSERT_EQ(xu_task_state(s.e, "t"), RATTAN_STATE_FINISHED);
  ASSERT_EQ(xu_node(s.e, "t", "lp").loop, 3);
  ASSERT_EQ(xu_node(s.e, "t", "f").retry, 1);
  xu_snap snap = xu_snap_take(s.e, "t", scenario_nodes);
  rattan_close(s.e);
  return snap;
}

void test_exec_reopen_every_step(void) {
  xu_snap once = scenario(0);
  char path[512];
  snprintf(path, sizeof path, "%s", test_path("db"));
  /* A fresh store for the second run. */
  char moved[600];
  snprintf(moved, sizeof moved, "%s.first", path);
  ASSERT_EQ(rename(path, moved), 0);
  memset(xu_count, 0, sizeof xu_count);
  xu_snap reopened = scenario(1);
  /* Versions, counters, data and histories are the same; times too (the
   * virtual clock resumes where the store left it). */
  xu_snap_expect_equal(__FILE__, __LINE__, &once, &reopened, 0);
  xu_snap_expect_equal(__FILE__, __LINE__, &once, &reopened, 1);
  xu_snap_free(&once);
  xu_snap_free(&reopened);
}

/* ---- Stored JSON text ------------------------------------------------------
 * Execution data and contexts are stored as jdump's text, which must be
 * json_dumps's byte for byte (journals and exports hold it). Random
 * values of every kind, strings with every escape, keys with NUL, the
 * integer limits; a string that is not UTF-8 fails in both. */

static uint64_t jd_rng = 88172645463325252ULL;

static unsigned jd_next(unsigned n) {
  jd_rng ^= jd_rng << 13;
  jd_rng ^= jd_rng >> 7;
  jd_rng ^= jd_rng << 17;
  return (unsigned)(jd_rng % n);
}

static json_t *jd_string(void) {
  static const char *const parts[] = {
      "a",  "Z",  "/",  "\"",   "\\",          "\b",   "\f",
      "\n", "\r", "\t", "\x01", "\x1f",        "\x7f", " ",
      "é",  "中", "😀",  "${x}", "\xef\xbf\xbf"};
  char s[64];
  size_t n = 0;
  for (unsigned k = jd_next(6); k--;) {
    const char *p = parts[jd_next(sizeof parts / sizeof *parts)];
    size_t len = strlen(p);
    memcpy(s + n, p, len);
    n += len;
  }
  if (jd_next(8) == 0) s[n++] = '\0'; /* an embedded NUL */
  return json_stringn(s, n);
}

static json_t *jd_value(int depth) {
  switch (jd_next(depth > 3 ? 6 : 8)) {
    case 0:
      return json_null();
    case 1:
      return json_boolean(jd_next(2));
    case 2: {
      static const json_int_t ints[] = {0,         -1,       7, 1234567890123LL,
                                        INT64_MIN, INT64_MAX};
      return json_integer(ints[jd_next(6)]);
    }
    case 3: {
      static const double reals[] = {0.5, -2.0, 1e300, 3.14159, 1e-7, 100.0};
      return json_real(reals[jd_next(6)]);
    }
    case 4:
    case 5:
      return jd_string();
    case 6: {
      json_t *a = json_array();
      for (unsigned k = jd_next(4); k--;)
        json_array_append_new(a, jd_value(depth + 1));
      return a;
    }
    default: {
      json_t *o = json_object();
      for (unsigned k = jd_next(4); k--;) {
        json_t *key = jd_string();
        json_object_setn_new(o, json_string_value(key), json_string_length(key),
                             jd_value(depth + 1));
        json_decref(key);
      }
      return o;
    }
  }
}

void test_exec_stored_json_text(void) {
  buf b = {0};
  for (int i = 0; i < 3000; i++) {
    json_t *v = jd_value(0);
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ASSERT(want);
    b.len = 0;
    ASSERT_EQ(jdump(v, &b), 0);
    if (b.len != strlen(want) || memcmp(b.data, want, b.len))
      TEST_FAIL_("value %d: jdump %.*s, json_dumps %s", i, (int)b.len,
                 (const char *)b.data, want);
    free(want);
    json_decref(v);
  }
  /* Not UTF-8: an overlong, a lone continuation, a surrogate. */
  static const char *const bad[] = {"\xc0\x80", "a\x80", "\xed\xa0\x80"};
  for (size_t i = 0; i < 3; i++) {
    json_t *v = json_stringn_nocheck(bad[i], strlen(bad[i]));
    ASSERT(json_dumps(v, JSON_ENCODE_ANY) == NULL);
    ASSERT_EQ(jdump(v, &b), -1);
    json_decref(v);
  }
  buf_free(&b);
}
