/* The expression language: every case's expected result is what Python
 * 3 gives for the same expression and names (tests/test_expr.c's table
 * was checked against python3), except the constructs the subset leaves
 * out on purpose (**, attributes, conditional expressions, lambda). */
#include <jansson.h>

#include "engine/expr.h"
#include "test.h"

static const char context[] =
    "{\"time_list\": \"1,2,3,4\", \"_loop\": 2, \"x\": 7, \"f\": 2.5, "
    "\"name\": \"Rattan\", \"items\": [\"a\", \"b\", \"c\"], \"d\": {\"k\": 1, "
    "\"list\": [1, 2]}, \"empty\": \"\", \"flag\": true, \"nothing\": null, "
    "\"uni\": \"héllo\"}";

/* A result against the expected repr() ("ERR": an error naming the
 * expression). */
static void check(const char *src, int rc, const xv *v, const errbuf *err,
                  const char *want) {
  if (!strcmp(want, "ERR")) {
    if (rc == 0) TEST_FAIL_("%s: expected an error", src);
    ASSERT_CONTAINS(err->msg, "expression \"");
    return;
  }
  if (rc) TEST_FAIL_("%s: %s", src, err->msg);
  buf b = {0};
  ASSERT_OK(xv_repr(v, &b), "repr");
  ASSERT_OK(buf_append(&b, "", 1), "nul");
  if (strcmp((char *)b.data, want))
    TEST_FAIL_("%s: got %s, want %s", src, (char *)b.data, want);
  buf_free(&b);
}

void test_expr_python_semantics(void) {
  static const struct {
    const char *src, *want; /* want: repr() of the result, or "ERR" */
  } cases[] = {{"time_list.split(\",\")[_loop-1]", "'2'"},
               {"len(time_list.split(\",\"))", "4"},
               {"_loop < len(time_list.split(\",\"))", "True"},
               {"_loop == 2", "True"},
               {"1 + 2 * 3", "7"},
               {"(1 + 2) * 3", "9"},
               {"7 / 2", "3.5"},
               {"7 // 2", "3"},
               {"-7 // 2", "-4"},
               {"7 % 3", "1"},
               {"-7 % 3", "2"},
               {"7 % -3", "-2"},
               {"7.5 % 2", "1.5"},
               {"2 ** 3", "ERR"},
               {"1 / 0", "ERR"},
               {"x + f", "9.5"},
               {"x * f", "17.5"},
               {"0.1 + 0.2", "0.30000000000000004"},
               {"1e16", "1e+16"},
               {"1e15", "1000000000000000.0"},
               {"123456789.0", "123456789.0"},
               {"0.0001", "0.0001"},
               {"0.00001", "1e-05"},
               {"1.5e-7", "1.5e-07"},
               {"-0.0", "-0.0"},
               {"10 / 4", "2.5"},
               {"3.0", "3.0"},
               {"name + \"!\"", "'Rattan!'"},
               {"name * 2", "'RattanRattan'"},
               {"name.lower()", "'rattan'"},
               {"name.upper()", "'RATTAN'"},
               {"\"  a b \".strip()", "'a b'"},
               {"\"xxaxx\".strip(\"x\")", "'a'"},
               {"\"a-b-c\".replace(\"-\", \"+\")", "'a+b+c'"},
               {"\"abc\".replace(\"\", \"-\")", "'-a-b-c-'"},
               {"\"-\".join(items)", "'a-b-c'"},
               {"\", \".join([\"x\", \"y\"])", "'x, y'"},
               {"\"a b  c\".split()", "['a', 'b', 'c']"},
               {"\"a,,b\".split(\",\")", "['a', '', 'b']"},
               {"items[0]", "'a'"},
               {"items[-1]", "'c'"},
               {"items[5]", "ERR"},
               {"items[1:]", "['b', 'c']"},
               {"items[:-1]", "['a', 'b']"},
               {"items[-2:]", "['b', 'c']"},
               {"name[1:3]", "'at'"},
               {"name[-1]", "'n'"},
               {"uni[1]", "'é'"},
               {"len(uni)", "5"},
               {"uni[1:3]", "'él'"},
               {"d[\"k\"]", "1"},
               {"d[\"list\"][1]", "2"},
               {"d[\"zz\"]", "ERR"},
               {"\"a\" in items", "True"},
               {"\"z\" in items", "False"},
               {"\"z\" not in items", "True"},
               {"\"tt\" in name", "True"},
               {"\"k\" in d", "True"},
               {"1 in name", "ERR"},
               {"not empty", "True"},
               {"not flag", "False"},
               {"flag and x", "7"},
               {"empty or \"default\"", "'default'"},
               {"nothing", "None"},
               {"nothing == None", "True"},
               {"1 < 2 < 3", "True"},
               {"3 > 2 > 5", "False"},
               {"1 == 1.0", "True"},
               {"\"1\" == 1", "False"},
               {"True + 1", "2"},
               {"int(\"42\")", "42"},
               {"int(\" 7 \")", "7"},
               {"int(\"x\")", "ERR"},
               {"int(3.9)", "3"},
               {"int(-3.9)", "-3"},
               {"str(12)", "'12'"},
               {"str(2.0)", "'2.0'"},
               {"str(items)", "\"['a', 'b', 'c']\""},
               {"str(d)", "\"{'k': 1, 'list': [1, 2]}\""},
               {"str(True)", "'True'"},
               {"str(None)", "'None'"},
               {"len(d)", "2"},
               {"len(5)", "ERR"},
               {"unknown + 1", "ERR"},
               {"x +", "ERR"},
               {"__import__(\"os\")", "ERR"},
               {"x.real", "ERR"},
               {"open(\"f\")", "ERR"},
               {"[1, \"a\", None, True]", "[1, 'a', None, True]"},
               {"[]", "[]"},
               {"\"it's\"", "\"it's\""},
               {"'say \"hi\"'", "'say \"hi\"'"},
               {"\"a\\nb\"", "'a\\nb'"},
               {"items + [\"d\"]", "['a', 'b', 'c', 'd']"},
               {"\"a\" < \"b\"", "True"},
               {"\"a\" < 1", "ERR"},
               {"9223372036854775807 + 1", "ERR"},
               {"-9223372036854775807 - 1", "-9223372036854775808"},
               {"x if flag else 0", "ERR"},
               {"lambda: 1", "ERR"},
               {"1_000 + 1", "1001"},
               {"\"z\" notin items", "True"},
               {"\"a\" notin items", "False"}};
  json_t *ctx = json_loads(context, 0, NULL);
  ASSERT(ctx);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    arena a = {0};
    xv *v;
    errbuf err = {0};
    int rc = expr_eval(cases[i].src, strlen(cases[i].src), expr_json_lookup,
                       ctx, &a, &v, &err);
    check(cases[i].src, rc, v, &err, cases[i].want);
    ar_free(&a);
  }
  json_decref(ctx);
}

/* Errors name the expression, the byte offset and the reason; names the
 * caller does not know are RATTAN_ENOTFOUND, everything else EINVAL. */
void test_expr_errors(void) {
  static const struct {
    const char *src;
    int code;
    const char *msg;
  } cases[] = {
      {"unknown + 1", RATTAN_ENOTFOUND,
       "at byte 0: name \"unknown\" is not defined"},
      {"1 +", RATTAN_EINVAL, "at byte 3: unexpected end"},
      {"__import__('os')", RATTAN_EINVAL,
       "call of \"__import__\" is not allowed"},
      {"open('f')", RATTAN_EINVAL,
       "at byte 0: call of \"open\" is not allowed"},
      {"'a'.format(1)", RATTAN_EINVAL, "method \"format\" is not allowed"},
      {"1 / 0", RATTAN_EINVAL, "division by zero"},
      {"'a' < 1", RATTAN_EINVAL, "cannot order a str and a int"},
      {"'abc", RATTAN_EINVAL, "unterminated string"},
      {"1 2", RATTAN_EINVAL, "at byte 2: unexpected \"2\""},
      {"2 ** 3", RATTAN_EINVAL, "unexpected \"*\""},
      {"9223372036854775807 + 1", RATTAN_EINVAL, "integer overflow"},
  };
  json_t *ctx = json_loads(context, 0, NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    arena a = {0};
    xv *v;
    errbuf err = {0};
    ASSERT_ERR(expr_eval(cases[i].src, strlen(cases[i].src), expr_json_lookup,
                         ctx, &a, &v, &err),
               cases[i].code);
    ASSERT_CONTAINS(err.msg, cases[i].msg);
    ar_free(&a);
  }
  /* Deep nesting is an error, not a stack overflow. */
  char deep[4001];
  memset(deep, '(', 2000);
  memset(deep + 2000, ')', 2000);
  deep[2000] = '1';
  deep[4000] = '\0';
  arena a = {0};
  xv *v;
  errbuf err = {0};
  ASSERT_ERR(expr_eval(deep, strlen(deep), expr_json_lookup, ctx, &a, &v, &err),
             RATTAN_EINVAL);
  ASSERT_CONTAINS(err.msg, "nested too deeply");
  ar_free(&a);
  json_decref(ctx);
}

/* Short-circuits evaluate nothing they skip: an unknown name or a
 * division by zero behind them is never reached. */
void test_expr_short_circuit(void) {
  json_t *ctx = json_loads(context, 0, NULL);
  static const char *const ok[] = {"flag or unknown", "empty and 1 / 0",
                                   "3 > 5 > unknown", "not flag and nope()"};
  for (size_t i = 0; i < 4; i++) {
    arena a = {0};
    xv *v;
    errbuf err = {0};
    int rc =
        expr_eval(ok[i], strlen(ok[i]), expr_json_lookup, ctx, &a, &v, &err);
    if (i == 3)
      ASSERT_ERR(rc, RATTAN_EINVAL); /* a call outside the list is refused
                                        even where it would not run */
    else
      ASSERT_OK(rc, err.msg);
    ar_free(&a);
  }
  json_decref(ctx);
}

/* Splices as bamboo renders them: the SOPS samples' inputs and
 * conditions among them. */
void test_expr_render(void) {
  static const struct {
    const char *text, *want; /* want: repr() of the result, or "ERR" */
  } cases[] = {
      {"${time_list.split(\",\")[_loop-1]}", "'2'"},
      {"${_loop} < ${len(time_list.split(\",\"))}", "'2 < 4'"},
      {"${_loop} == ${len(time_list.split(\",\"))}", "'2 == 4'"},
      {"${items}", "['a', 'b', 'c']"}, /* one name: the value itself */
      {"${ items }", "['a', 'b', 'c']"},
      {"${x}", "7"},
      {"x=${x}", "'x=7'"},
      {"${x + 1}", "'8'"},                    /* an expression: its text */
      {"${parent_test}", "'${parent_test}'"}, /* unknown: kept */
      {"a ${nope} b ${x}", "'a ${nope} b 7'"},
      {"plain", "'plain'"},
      {"", "''"},
      {"$ {x} ${} ${x", "'$ {x} ${} ${x'"}, /* not splices */
      {"${1 / 0}", "ERR"},
      {"${__import__('os')}", "ERR"},
  };
  json_t *ctx = json_loads(context, 0, NULL);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    arena a = {0};
    xv *v;
    errbuf err = {0};
    int rc = expr_render(cases[i].text, strlen(cases[i].text), expr_json_lookup,
                         ctx, &a, &v, &err);
    check(cases[i].text, rc, v, &err, cases[i].want);
    ar_free(&a);
  }
  json_decref(ctx);
}
