/* Pipeline definitions: parsing, validation rules, SOPS formats, limits,
 * malformed input, compiled graphs and their storage. */
#include <jansson.h>

#include "engine/defparse.h"
#include "fixture.h"
#include "shapes.h"

/* ---- Helpers ----------------------------------------------------------------
 */

/* A bamboo tree from a node list ("id:Type") and edges ("src>dst"), like
 * the shapes in bamboo's own validator tests: flows f0, f1, ... */
static json_t *mk_tree(const char *const *nodes, int nn,
                       const char *const *edges, int ne) {
  json_t *t =
      json_pack("{s:s,s:{},s:{},s:{},s:{s:{},s:[]}}", "id", "p", "activities",
                "gateways", "flows", "data", "inputs", "outputs");
  for (int k = 0; k < nn; k++) {
    char id[128], type[64];
    ASSERT(sscanf(nodes[k], "%127[^:]:%63s", id, type) == 2);
    json_t *in = json_array(), *out = json_array();
    for (int f = 0; f < ne; f++) {
      char src[128], dst[128], fid[16];
      ASSERT(sscanf(edges[f], "%127[^>]>%127s", src, dst) == 2);
      snprintf(fid, sizeof fid, "f%d", f);
      if (!strcmp(src, id)) json_array_append_new(out, json_string(fid));
      if (!strcmp(dst, id)) json_array_append_new(in, json_string(fid));
    }
    int multi = strstr(type, "Gateway") && strcmp(type, "ConvergeGateway");
    json_t *outv =
        multi ? json_incref(out)
              : json_string(json_array_size(out) == 1
                                ? json_string_value(json_array_get(out, 0))
                                : "");
    if (!multi && json_array_size(out) > 1) {
      json_decref(outv);
      outv = json_incref(out);
    }
    json_t *n = json_pack(
        "{s:s,s:s,s:s,s:o,s:o}", "id", id, "type", type, "name", "", "incoming",
        strcmp(type, "EmptyStartEvent") ? json_incref(in) : json_string(""),
        "outgoing", outv);
    if (!strcmp(type, "ServiceActivity")) {
      json_t *extra = json_pack("{s:{s:s,s:{}},s:b,s:b,s:b}", "component",
                                "code", "noop", "inputs", "error_ignorable", 0,
                                "skippable", 1, "retryable", 1);
      json_object_update(n, extra);
      json_decref(extra);
    }
    if (!strcmp(type, "EmptyStartEvent"))
      json_object_set_new(t, "start_event", n);
    else if (strstr(type, "EndEvent"))
      json_object_set_new(t, "end_event", n);
    else
      json_object_set_new(
          json_object_get(t,
                          strstr(type, "Gateway") ? "gateways" : "activities"),
          id, n);
    json_decref(in);
    json_decref(out);
  }
  for (int f = 0; f < ne; f++) {
    char src[128], dst[128], fid[16];
    sscanf(edges[f], "%127[^>]>%127s", src, dst);
    snprintf(fid, sizeof fid, "f%d", f);
    json_object_set_new(json_object_get(t, "flows"), fid,
                        json_pack("{s:s,s:s,s:s,s:b}", "id", fid, "source", src,
                                  "target", dst, "is_default", 0));
  }
  return t;
}

typedef struct result {
  int rc;
  st_def def;
  diag problems;
} result;

static result compile_opts(const char *text, const def_options *o) {
  result r = {0};
  r.rc = def_compile(text, strlen(text), o, &r.def, &r.problems, NULL);
  return r;
}

static result compile_json(json_t *t) {
  char *text = json_dumps(t, JSON_COMPACT);
  result r = compile_opts(text, NULL);
  free(text);
  return r;
}

static void result_free(result *r) {
  st_def_free(&r->def);
  diag_free(&r->problems);
}

typedef struct find {
  const char *want;
  int found;
  char all[4096];
} find;

static void find_line(void *ctx, const char *path, const char *reason) {
  find *f = ctx;
  char line[1024];
  snprintf(line, sizeof line, "%s: %s", path, reason);
  if (strstr(line, f->want)) f->found = 1;
  size_t n = strlen(f->all);
  snprintf(f->all + n, sizeof f->all - n, "  %s\n", line);
}

/* The compile must fail with a problem line containing want. */
static void assert_problem(result *r, const char *want) {
  ASSERT_ERR(r->rc, RATTAN_EDEF);
  find f = {want, 0, ""};
  diag_each(&r->problems, find_line, &f);
  if (!f.found) TEST_FAIL_("no problem \"%s\" among:\n%s", want, f.all);
}

static void assert_ok(result *r) {
  if (r->rc) {
    find f = {"", 0, ""};
    diag_each(&r->problems, find_line, &f);
    TEST_FAIL_("compile failed: %s\n%s", rattan_strerror(r->rc), f.all);
  }
}

static uint32_t node_index(const st_def *d, const char *id) {
  for (uint32_t i = 0; i < d->n_nodes; i++)
    if (!strcmp(st_str(d, d->nodes[i].id), id)) return i;
  TEST_FAIL_("no node %s", id);
}

static const char *converge_of(const st_def *d, const char *gw) {
  uint32_t c = d->nodes[node_index(d, gw)].converge;
  return c == ST_NONE ? "-" : st_str(d, d->nodes[c].id);
}

/* The minimal tree of reference/bamboo-engine.md section 5. */
static const char minimal[] =
    "{\"id\":\"p1\",\"start_event\":{\"id\":\"s\",\"type\":\"EmptyStartEvent\","
    "\"name\":\"\",\"incoming\":\"\",\"outgoing\":\"f1\"},"
    "\"activities\":{\"a\":{\"id\":\"a\",\"type\":\"ServiceActivity\","
    "\"name\":\"echo\",\"incoming\":[\"f1\"],\"outgoing\":\"f2\","
    "\"component\":{\"code\":\"echo\",\"inputs\":{\"msg\":{\"type\":"
    "\"splice\",\"value\":\"${x}\"}}},\"error_ignorable\":false,"
    "\"skippable\":true,\"retryable\":true,\"optional\":false,"
    "\"timeout\":null}},\"gateways\":{},"
    "\"flows\":{\"f1\":{\"id\":\"f1\",\"source\":\"s\",\"target\":\"a\","
    "\"is_default\":false},\"f2\":{\"id\":\"f2\",\"source\":\"a\","
    "\"target\":\"e\",\"is_default\":false}},"
    "\"end_event\":{\"id\":\"e\",\"type\":\"EmptyEndEvent\",\"name\":\"\","
    "\"incoming\":[\"f2\"],\"outgoing\":\"\"},"
    "\"data\":{\"inputs\":{\"${x}\":{\"type\":\"plain\",\"value\":\"hi\"}},"
    "\"outputs\":[\"${x}\"]}}";

static json_t *minimal_tree(void) {
  json_t *t = json_loads(minimal, 0, NULL);
  ASSERT(t);
  return t;
}

/* ---- Basics
 * ------------------------------------------------------------------ */

void test_defs_minimal(void) {
  result r = compile_opts(minimal, NULL);
  assert_ok(&r);
  const st_def *d = &r.def;
  ASSERT_EQ(d->n_pipes, 1);
  ASSERT_STR(st_str(d, d->pipes[0].id), "p1");
  ASSERT_EQ(d->n_nodes, 3);
  ASSERT_EQ(d->n_flows, 2);
  const st_def_node *a = &d->nodes[node_index(d, "a")];
  ASSERT_EQ(a->type, ST_SERVICE_ACTIVITY);
  ASSERT_STR(st_str(d, a->name), "echo");
  ASSERT_STR(st_str(d, a->code), "echo");
  ASSERT_STR(st_str(d, a->version), "legacy");
  ASSERT_EQ(a->flags, ST_NF_SKIPPABLE | ST_NF_RETRYABLE);
  ASSERT_EQ(a->n_vars, 1);
  ASSERT_EQ(d->vars[a->vars].kind, ST_VAR_SPLICE);
  ASSERT_STR(st_str(d, d->vars[a->vars].value), "\"${x}\"");
  ASSERT_EQ(d->flows[a->out].target, node_index(d, "e"));
  ASSERT_EQ(d->nodes[node_index(d, "e")].n_in, 1);
  ASSERT_EQ(d->pipes[0].n_vars, 1);
  ASSERT_STR(st_str(d, d->vars[d->pipes[0].vars].key), "${x}");
  ASSERT_EQ(d->pipes[0].n_outputs, 1);
  ASSERT_STR(st_str(d, d->refs[d->pipes[0].outputs]), "${x}");
  result_free(&r);
}

/* Each rule: a tree that breaks it, with the expected "PATH: reason". The
 * minimal tree (which passes) is the base of the JSON edits. */
void test_defs_rules_json(void) {
  static const struct {
    const char *pointer; /* where to put the value, "a/b/c" */
    const char *value;   /* JSON, or NULL to delete */
    const char *problem;
  } cases[] = {
      {"activities/a/outgoing", "\"f9\"",
       "activities.a.outgoing: flow \"f9\" does not exist"},
      {"flows/f2/target", "\"zz\"",
       "flows.f2.target: node \"zz\" does not exist"},
      {"start_event", NULL, "start_event: missing"},
      {"end_event", NULL, "end_event: missing"},
      {"end_event/type", "\"ServiceActivity\"",
       "end_event.type: \"ServiceActivity\" is not allowed here"},
      {"activities/a/type", "\"Foo\"",
       "activities.a.type: \"Foo\" is not allowed here"},
      {"activities/a/id", "\"b\"",
       "activities.a.id: \"b\" differs from its key \"a\""},
      {"activities/a/skippable", NULL, "activities.a.skippable: missing"},
      {"activities/a/component", NULL, "activities.a.component: missing"},
      {"activities/a/component/code", "7",
       "activities.a.component.code: must be a string, not a number"},
      {"activities/a/incoming", "[]",
       "activities.a.incoming: flow \"f1\" ends here but is not listed"},
      {"flows/f1/source", "\"e\"",
       "start_event.outgoing: flow \"f1\" starts at \"e\", not here"},
      {"data/inputs/${x}/type", "\"weird\"",
       "data.inputs.${x}.type: unknown variable type \"weird\""},
      {"end_event/id", "\"a\"", "id \"a\" is already used at"},
      {"activities/a/timeout", "\"soon\"",
       "activities.a.timeout: must be a number of seconds, not a string"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *t = minimal_tree();
    char ptr[256];
    snprintf(ptr, sizeof ptr, "%s", cases[i].pointer);
    json_t *obj = t;
    char *key = ptr, *slash;
    while ((slash = strchr(key, '/'))) {
      *slash = '\0';
      obj = json_object_get(obj, key);
      key = slash + 1;
    }
    ASSERT(obj);
    if (cases[i].value)
      json_object_set_new(obj, key,
                          json_loads(cases[i].value, JSON_DECODE_ANY, NULL));
    else
      json_object_del(obj, key);
    result r = compile_json(t);
    assert_problem(&r, cases[i].problem);
    result_free(&r);
    json_decref(t);
  }
}

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

/* Compiles a shape: with problem NULL it must compile and the result is
 * returned (the caller frees it); otherwise it must fail with problem. */
static result shape(const char *const *nodes, int nn, const char *const *edges,
                    int ne, const char *problem) {
  json_t *t = mk_tree(nodes, nn, edges, ne);
  result r = compile_json(t);
  json_decref(t);
  if (problem)
    assert_problem(&r, problem);
  else
    assert_ok(&r);
  return r;
}

#define SHAPE(nodes, edges, problem) \
  shape(nodes, N(nodes), edges, N(edges), problem)

/* SHAPE for a verdict only. */
#define REFUSED(nodes, edges, problem)        \
  do {                                        \
    result r_ = SHAPE(nodes, edges, problem); \
    result_free(&r_);                         \
  } while (0)

void test_defs_rules_connections(void) {
  /* Start straight to end: a start event may not lead to an end event. */
  const char *n1[] = {"s:EmptyStartEvent", "e:EmptyEndEvent"};
  const char *e1[] = {"s>e"};
  REFUSED(n1, e1,
          "start_event: a EmptyStartEvent cannot lead to a EmptyEndEvent "
          "(flow \"f0\")");
  /* An activity with two outgoing flows. */
  const char *n2[] = {"s:EmptyStartEvent", "a:ServiceActivity",
                      "b:ServiceActivity", "e:EmptyEndEvent"};
  const char *e2[] = {"s>a", "a>e", "a>b", "b>e"};
  REFUSED(n2, e2,
          "activities.a: a ServiceActivity must have 1 outgoing flow, it has "
          "2");
  /* A node nothing leads to. */
  const char *e3[] = {"s>a", "a>e", "b>e"};
  REFUSED(n2, e3,
          "activities.b: a ServiceActivity must have 1 to 1000 incoming "
          "flows, it has 0");
}

void test_defs_rules_gateways(void) {
  const char *n1[] = {"s:EmptyStartEvent",  "pg:ParallelGateway",
                      "a1:ServiceActivity", "a2:ServiceActivity",
                      "cg:ConvergeGateway", "e:EmptyEndEvent"};
  /* Both branches converge: valid, and the converge gateway is found. */
  const char *ok[] = {"s>pg", "pg>a1", "pg>a2", "a1>cg", "a2>cg", "cg>e"};
  result r = SHAPE(n1, ok, NULL);
  ASSERT_STR(converge_of(&r.def, "pg"), "cg");
  result_free(&r);
  /* One branch straight to the end. */
  const char *e1[] = {"s>pg", "pg>a1", "pg>a2", "a1>cg", "a2>e", "cg>e"};
  REFUSED(n1, e1,
          "gateways.pg: every branch of a parallel gateway must reach its "
          "converge gateway");
  /* A converge gateway that misses a branch of its parallel gateway:
   * bamboo blames the parallel gateway. */
  const char *n2[] = {"s:EmptyStartEvent",   "pg:ParallelGateway",
                      "a1:ServiceActivity",  "a2:ServiceActivity",
                      "a3:ServiceActivity",  "cg:ConvergeGateway",
                      "cg2:ConvergeGateway", "e:EmptyEndEvent"};
  const char *e2[] = {"s>pg",  "pg>a1",  "pg>a2",  "pg>a3", "a1>cg",
                      "a2>cg", "a3>cg2", "cg>cg2", "cg2>e"};
  REFUSED(n2, e2, "gateways.pg: every branch of a parallel gateway");
  /* An exclusive gateway inside a parallel branch that goes to the end. */
  const char *n3[] = {"s:EmptyStartEvent",  "pg:ParallelGateway",
                      "a1:ServiceActivity", "eg:ExclusiveGateway",
                      "a2:ServiceActivity", "cg:ConvergeGateway",
                      "e:EmptyEndEvent"};
  const char *e3[] = {"s>pg", "pg>a1", "pg>eg", "eg>a2",
                      "eg>e", "a1>cg", "a2>cg", "cg>e"};
  REFUSED(n3, e3,
          "gateways.eg: an exclusive gateway inside a parallel branch must "
          "converge all its branches at one converge gateway");
  /* Nested parallel gateways, each with its own converge gateway. */
  const char *n4[] = {
      "s:EmptyStartEvent",   "pg1:ParallelGateway", "pg2:ParallelGateway",
      "a:ServiceActivity",   "b:ServiceActivity",   "c:ServiceActivity",
      "cg1:ConvergeGateway", "cg2:ConvergeGateway", "e:EmptyEndEvent"};
  const char *e4[] = {"s>pg1", "pg1>pg2", "pg1>a",   "pg2>b", "pg2>c",
                      "b>cg2", "c>cg2",   "cg2>cg1", "a>cg1", "cg1>e"};
  r = SHAPE(n4, e4, NULL);
  ASSERT_STR(converge_of(&r.def, "pg1"), "cg1");
  ASSERT_STR(converge_of(&r.def, "pg2"), "cg2");
  result_free(&r);
}

/* The remaining gateway and stream rules, each with bamboo's verdict on
 * the same shape. */
void test_defs_rules_gateways_more(void) {
  /* A conditional parallel gateway converges like a parallel one. */
  const char *n1[] = {"s:EmptyStartEvent",  "g:ConditionalParallelGateway",
                      "a1:ServiceActivity", "a2:ServiceActivity",
                      "cg:ConvergeGateway", "e:EmptyEndEvent"};
  const char *e1[] = {"s>g", "g>a1", "g>a2", "a1>cg", "a2>cg", "cg>e"};
  result r = SHAPE(n1, e1, NULL);
  ASSERT_STR(converge_of(&r.def, "g"), "cg");
  result_free(&r);
  /* An inner parallel gateway whose branch jumps to the outer converge. */
  const char *n2[] = {
      "s:EmptyStartEvent",   "pg1:ParallelGateway", "pg2:ParallelGateway",
      "a:ServiceActivity",   "b:ServiceActivity",   "c:ServiceActivity",
      "cg1:ConvergeGateway", "cg2:ConvergeGateway", "e:EmptyEndEvent"};
  const char *e2[] = {"s>pg1", "pg1>pg2", "pg1>a",   "pg2>b", "pg2>c",
                      "b>cg2", "c>cg1",   "cg2>cg1", "a>cg1", "cg1>e"};
  REFUSED(n2, e2,
          "gateways.pg2: every branch of a parallel gateway must reach its "
          "converge gateway");
  /* A gateway the start event never reaches. */
  const char *n3[] = {"s:EmptyStartEvent", "a:ServiceActivity",
                      "eg1:ExclusiveGateway", "a2:ServiceActivity",
                      "e:EmptyEndEvent"};
  const char *e3[] = {"s>a", "a>e", "eg1>a2", "a2>eg1", "eg1>e"};
  REFUSED(n3, e3, "gateways.eg1: not reachable from the start event");
  /* Exclusive branches that first meet different converge gateways. */
  const char *n4[] = {"s:EmptyStartEvent",   "eg:ExclusiveGateway",
                      "a1:ServiceActivity",  "a2:ServiceActivity",
                      "cg1:ConvergeGateway", "cg2:ConvergeGateway",
                      "e:EmptyEndEvent"};
  const char *e4[] = {"s>eg",   "eg>a1",   "eg>a2", "a1>cg1",
                      "a2>cg2", "cg1>cg2", "cg2>e"};
  REFUSED(n4, e4,
          "gateways.eg: all branches of an exclusive gateway must first meet "
          "the same converge gateway");
  /* Two parallel branches meeting before their converge gateway. */
  const char *n5[] = {"s:EmptyStartEvent",   "pg:ParallelGateway",
                      "a1:ServiceActivity",  "a2:ServiceActivity",
                      "eg:ExclusiveGateway", "cg:ConvergeGateway",
                      "m:ServiceActivity",   "e:EmptyEndEvent"};
  const char *e5[] = {"s>pg", "pg>a1", "pg>a2", "a1>m", "a2>eg",
                      "eg>m", "eg>cg", "m>cg",  "cg>e"};
  REFUSED(n5, e5,
          "activities.m: branches of a parallel gateway meet here outside "
          "their converge gateway");
}

/* Cycles are allowed through a gateway; one with no way out is refused. */
void test_defs_rules_cycles(void) {
  const char *n1[] = {"s:EmptyStartEvent", "a1:ServiceActivity",
                      "eg:ExclusiveGateway", "a2:ServiceActivity",
                      "e:EmptyEndEvent"};
  const char *ok[] = {"s>a1", "a1>eg", "eg>a1", "eg>a2", "a2>e"};
  result r = SHAPE(n1, ok, NULL);
  result_free(&r);
  const char *n2[] = {"s:EmptyStartEvent",   "a0:ServiceActivity",
                      "eg:ExclusiveGateway", "a1:ServiceActivity",
                      "a2:ServiceActivity",  "e:EmptyEndEvent"};
  const char *e2[] = {"s>a0", "a0>eg", "eg>a1", "eg>e", "a1>a2", "a2>a1"};
  /* An inner exclusive gateway looping back to an outer one (a common
   * SOPS loop, valid for bamboo). */
  const char *n3[] = {"s:EmptyStartEvent", "eg1:ExclusiveGateway",
                      "eg2:ExclusiveGateway", "a1:ServiceActivity",
                      "e:EmptyEndEvent"};
  const char *e3[] = {"s>eg1", "eg1>eg2", "eg1>e", "eg2>a1", "eg2>e", "a1>eg1"};
  r = SHAPE(n3, e3, NULL);
  result_free(&r);
  r = SHAPE(n2, e2,
            "activities.a1: cannot reach the end event: it is on a cycle "
            "with no gateway exit");
  assert_problem(&r, "activities.a2: cannot reach the end event");
  result_free(&r);
}

/* Every problem is reported, not only the first. */
void test_defs_all_problems(void) {
  json_t *t = minimal_tree();
  json_object_set_new(json_object_get(json_object_get(t, "activities"), "a"),
                      "retryable", json_string("yes"));
  json_object_set_new(json_object_get(json_object_get(t, "flows"), "f2"),
                      "target", json_string("nowhere"));
  json_object_del(json_object_get(t, "end_event"), "type");
  result r = compile_json(t);
  assert_problem(&r, "activities.a.retryable: must be a boolean, not a string");
  assert_problem(&r, "end_event.type: missing");
  ASSERT(r.problems.count >= 2);
  result_free(&r);
  json_decref(t);
}

/* ---- Subprocesses and limits -----------------------------------------------
 */

/* Pipeline `pid` at level k: start s<k>, end e<k>, flows f<k>a, f<k>b
 * and one node between: activity a<k> at the bottom (k == depth), else
 * SubProcess sp<k+1> embedding level k + 1. */
static json_t *nested_level(const char *pid, int k, int depth) {
  char sid[16], eid[16], nid[16], fa[16], fb[16];
  snprintf(sid, sizeof sid, "s%d", k);
  snprintf(eid, sizeof eid, "e%d", k);
  snprintf(nid, sizeof nid, k == depth ? "a%d" : "sp%d",
           k == depth ? k : k + 1);
  snprintf(fa, sizeof fa, "f%da", k);
  snprintf(fb, sizeof fb, "f%db", k);
  json_t *node;
  if (k == depth)
    node = json_pack("{s:s,s:s,s:{s:s,s:{}},s:b,s:b,s:b}", "type",
                     "ServiceActivity", "name", "work", "component", "code",
                     "noop", "inputs", "error_ignorable", 0, "skippable", 1,
                     "retryable", 1);
  else
    node = json_pack("{s:s,s:s,s:{},s:o}", "type", "SubProcess", "name", "sub",
                     "params", "pipeline", nested_level(nid, k + 1, depth));
  json_t *ends =
      json_pack("{s:s,s:[s],s:s}", "id", nid, "incoming", fa, "outgoing", fb);
  json_object_update(node, ends);
  json_decref(ends);
  return json_pack(
      "{s:s,s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:[s],s:s},s:{s:o},s:{},"
      "s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}},s:{s:{},s:[]}}",
      "id", pid, "start_event", "id", sid, "type", "EmptyStartEvent",
      "incoming", "", "outgoing", fa, "end_event", "id", eid, "type",
      "EmptyEndEvent", "incoming", fb, "outgoing", "", "activities", nid, node,
      "gateways", "flows", fa, "id", fa, "source", sid, "target", nid, fb, "id",
      fb, "source", nid, "target", eid, "data", "inputs", "outputs");
}

static json_t *nested(int depth) {
  return nested_level("p", 0, depth);
}

void test_defs_subprocesses(void) {
  json_t *t = nested(2);
  result r = compile_json(t);
  assert_ok(&r);
  ASSERT_EQ(r.def.n_pipes, 3);
  uint32_t sp = node_index(&r.def, "sp1");
  ASSERT_EQ(r.def.nodes[sp].type, ST_SUBPROCESS);
  const st_def_pipe *child = &r.def.pipes[r.def.nodes[sp].child];
  ASSERT_STR(st_str(&r.def, child->id), "sp1");
  ASSERT_EQ(child->node, sp);
  ASSERT_EQ(r.def.nodes[child->start].pipe, r.def.nodes[sp].child);
  result_free(&r);
  /* The embedded pipeline's id must be the SubProcess id. */
  json_t *inner = json_object_get(
      json_object_get(json_object_get(t, "activities"), "sp1"), "pipeline");
  json_object_set_new(inner, "id", json_string("other"));
  r = compile_json(t);
  assert_problem(&r,
                 "activities.sp1.pipeline.id: an embedded pipeline's id must "
                 "equal its SubProcess id \"sp1\", not \"other\"");
  result_free(&r);
  json_decref(t);
  /* Ids are unique across the whole tree. */
  t = nested(1);
  json_t *child_end = json_object_get(
      json_object_get(json_object_get(json_object_get(t, "activities"), "sp1"),
                      "pipeline"),
      "end_event");
  json_object_set_new(child_end, "id", json_string("s0"));
  r = compile_json(t);
  assert_problem(&r,
                 "activities.sp1.pipeline.end_event: id \"s0\" is already "
                 "used at start_event");
  result_free(&r);
  json_decref(t);
}

void test_defs_limits(void) {
  /* Nesting: 16 levels pass, 17 do not. */
  json_t *t = nested(DEF_MAX_DEPTH);
  result r = compile_json(t);
  assert_ok(&r);
  result_free(&r);
  json_decref(t);
  t = nested(DEF_MAX_DEPTH + 1);
  r = compile_json(t);
  assert_problem(&r, "subprocesses nested deeper than 16");
  result_free(&r);
  json_decref(t);
  /* Id length: 64 bytes pass, 65 do not. */
  for (int len = 64; len <= 65; len++) {
    json_t *m = minimal_tree();
    char id[80];
    memset(id, 'n', (size_t)len);
    id[len] = '\0';
    json_object_set_new(m, "id", json_string(id));
    r = compile_json(m);
    if (len == 64)
      assert_ok(&r);
    else
      assert_problem(&r, "id: id is 65 bytes, the limit is 64");
    result_free(&r);
    json_decref(m);
  }
  /* Node count and document size. */
  def_options o = {.max_nodes = 2};
  r = compile_opts(minimal, &o);
  assert_problem(&r, "more than 2 nodes in the tree");
  result_free(&r);
  o = (def_options){.max_bytes = 100};
  r = compile_opts(minimal, &o);
  char want[64];
  snprintf(want, sizeof want, "document: %zu bytes, the limit is 100",
           strlen(minimal));
  assert_problem(&r, want);
  result_free(&r);
}

/* ---- Malformed JSON
 * ---------------------------------------------------------- */

void test_defs_malformed_json(void) {
  /* Every truncation of a valid tree is an error, never a crash. */
  size_t n = strlen(minimal);
  for (size_t k = 0; k < n; k++) {
    st_def d;
    diag dg = {0};
    ASSERT_ERR(def_compile(minimal, k, NULL, &d, &dg, NULL), RATTAN_EDEF);
    ASSERT(dg.count >= 1);
    diag_free(&dg);
  }
  static const struct {
    const char *text;
    const char *problem;
  } cases[] = {
      {"{\"id\": \"\xc3\x28\"}", "document: byte"},
      {"{\"a\\u0000b\": 1}", "document: byte"},
      {"{\"id\": \"p\", \"id\": \"q\"}", "duplicate object key"},
      {"{\"n\": 1e400}", "real number overflow"},
      {"{\"n\": 18446744073709551616}", "too big"},
      {"[1, 2]", "document: must be an object, not a list"},
      {"", "document: byte 0"},
      {"{\"start_event\": 1}", "start_event: must be an object, not a number"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    result r = compile_opts(cases[i].text, NULL);
    assert_problem(&r, cases[i].problem);
    result_free(&r);
  }
  /* 100,000 nested brackets. */
  size_t deep = 100000;
  char *text = malloc(2 * deep + 1);
  memset(text, '[', deep);
  memset(text + deep, ']', deep);
  text[2 * deep] = '\0';
  result r = compile_opts(text, NULL);
  assert_problem(&r, "maximum parsing depth");
  result_free(&r);
  free(text);
}

/* ---- Bamboo's own validator as the oracle
 * ------------------------------------ */

/* tests/data/gateway-oracle.json: generated shapes (nested parallel,
 * conditional parallel and exclusive gateways, loops, random rewiring)
 * with the verdict and converge gateways bamboo-engine's validator
 * (commit cd9f7b8, cycle_tolerate=True) gave for each. */
void test_defs_gateway_oracle(void) {
  json_t *cases = json_load_file("tests/data/gateway-oracle.json", 0, NULL);
  ASSERT(json_is_array(cases) && json_array_size(cases) > 100);
  size_t i;
  json_t *c;
  json_array_foreach(cases, i, c) {
    json_t *nodes = json_object_get(c, "nodes"),
           *edges = json_object_get(c, "edges");
    size_t nn = json_array_size(nodes), ne = json_array_size(edges);
    const char **ns = malloc(nn * sizeof *ns), **es = malloc(ne * sizeof *es);
    char(*nb)[160] = malloc(nn * sizeof *nb),
    (*eb)[160] = malloc(ne * sizeof *eb);
    for (size_t k = 0; k < nn; k++) {
      json_t *x = json_array_get(nodes, k);
      snprintf(nb[k], 160, "%s:%s", json_string_value(json_array_get(x, 0)),
               json_string_value(json_array_get(x, 1)));
      ns[k] = nb[k];
    }
    for (size_t k = 0; k < ne; k++) {
      json_t *x = json_array_get(edges, k);
      snprintf(eb[k], 160, "%s>%s", json_string_value(json_array_get(x, 0)),
               json_string_value(json_array_get(x, 1)));
      es[k] = eb[k];
    }
    json_t *t = mk_tree(ns, (int)nn, es, (int)ne);
    result r = compile_json(t);
    int ok = json_is_true(json_object_get(c, "ok"));
    if ((r.rc == 0) != ok)
      TEST_FAIL_("case %zu: bamboo says %s", i, ok ? "valid" : "invalid");
    if (ok) {
      const char *g;
      json_t *want;
      json_object_foreach(json_object_get(c, "converge"), g, want) {
        const char *w = json_is_string(want) ? json_string_value(want) : "-";
        if (strcmp(converge_of(&r.def, g), w))
          TEST_FAIL_("case %zu: gateway %s converges at %s, bamboo says %s", i,
                     g, converge_of(&r.def, g), w);
      }
    }
    result_free(&r);
    json_decref(t);
    free(ns);
    free(es);
    free(nb);
    free(eb);
  }
  json_decref(cases);
}

/* ---- SOPS exports ----------------------------------------------------------
 */

static const st_def_var *var_named(const st_def *d, uint32_t first, uint32_t n,
                                   const char *key) {
  for (uint32_t k = first; k < first + n; k++)
    if (!strcmp(st_str(d, d->vars[k].key), key)) return &d->vars[k];
  TEST_FAIL_("no variable %s", key);
}

void test_defs_sops_loop_sample(void) {
  size_t len;
  char *text = test_slurp("tests/data/loop-sample.json", &len);
  st_def d;
  diag dg = {0};
  char name[ST_NAME_MAX + 1];
  ASSERT_OK(def_compile(text, len, NULL, &d, &dg, name), "loop sample");
  ASSERT_STR(name, "循环样例");
  ASSERT_STR(st_str(&d, d.pipes[0].id), "n2125aebb4c8334f8ba4d575315a8d94");
  /* Constants as bk-sops converts them. */
  const st_def_var *loop =
      var_named(&d, d.pipes[0].vars, d.pipes[0].n_vars, "${_loop}");
  ASSERT_EQ(loop->kind, ST_VAR_SPLICE);
  ASSERT_EQ(loop->n_srcs, 1);
  ASSERT_STR(st_str(&d, d.refs[loop->srcs]),
             "node413dba1a74e3045da403e3be9cd5");
  ASSERT_STR(st_str(&d, d.refs[loop->srcs + 1]), "_loop");
  const st_def_var *list =
      var_named(&d, d.pipes[0].vars, d.pipes[0].n_vars, "${time_list}");
  ASSERT_EQ(list->kind, ST_VAR_PLAIN);
  ASSERT_STR(st_str(&d, list->value), "\"1,2,3,4\"");
  const st_def_node *first =
      &d.nodes[node_index(&d, "node413dba1a74e3045da403e3be9cd5")];
  ASSERT_EQ(first->n_in, 2); /* from the start and back from the gateway */
  const st_def_var *t1 = var_named(&d, first->vars, first->n_vars, "bk_timing");
  ASSERT_EQ(t1->kind, ST_VAR_PLAIN);
  ASSERT_STR(st_str(&d, t1->value), "\"1\"");
  const st_def_var *fc =
      var_named(&d, first->vars, first->n_vars, "force_check");
  ASSERT_STR(st_str(&d, fc->value), "true");
  const st_def_node *second =
      &d.nodes[node_index(&d, "nodeb268d09815476dd8a37d373b89ff")];
  ASSERT_EQ(var_named(&d, second->vars, second->n_vars, "bk_timing")->kind,
            ST_VAR_SPLICE);
  /* The exclusive gateway's conditions, on its flows. */
  const st_def_node *gw =
      &d.nodes[node_index(&d, "node6a7188644302395222cd8b94b701")];
  ASSERT_EQ(gw->n_out, 2);
  int conds = 0;
  for (uint32_t f = gw->out; f < gw->out + gw->n_out; f++)
    conds += d.flows[f].cond != ST_NONE &&
             strstr(st_str(&d, d.flows[f].cond), "${_loop}") != NULL;
  ASSERT_EQ(conds, 2);
  st_def_free(&d);
  diag_free(&dg);
  free(text);
}

void test_defs_sops_subprocess_export(void) {
  size_t len;
  char *text = test_slurp("tests/data/subprocess-gateways.json", &len);
  st_def d;
  diag dg = {0};
  /* Two templates are not anyone's subprocess: the choice is refused... */
  ASSERT_ERR(def_compile(text, len, NULL, &d, &dg, NULL), RATTAN_EDEF);
  find f = {
      "pipeline_template_data.template: 2 templates are not "
      "subprocesses of another (5ad26a77856c360585209702f5d3e614, "
      "5d3262b73df63f84b595b4ab90ab9c6e): choose one",
      0, ""};
  diag_each(&dg, find_line, &f);
  ASSERT(f.found);
  diag_free(&dg);
  def_options o = {.template_id = "nope"};
  ASSERT_ERR(def_compile(text, len, &o, &d, &dg, NULL), RATTAN_EDEF);
  diag_free(&dg);
  /* ... and each template loads when named. */
  o.template_id = "5ad26a77856c360585209702f5d3e614";
  char name[ST_NAME_MAX + 1];
  ASSERT_OK(def_compile(text, len, &o, &d, &dg, name), "parent");
  ASSERT_STR(name, "yaml导出样例父流程");
  ASSERT_EQ(d.n_pipes, 2);
  uint32_t sp = node_index(&d, "n6c29ee96a093233a4052259eae107f5");
  const st_def_node *spn = &d.nodes[sp];
  ASSERT_EQ(spn->type, ST_SUBPROCESS);
  const st_def_pipe *child = &d.pipes[spn->child];
  ASSERT_STR(st_str(&d, child->id), "n6c29ee96a093233a4052259eae107f5");
  /* Params: the child's shown constants, merged with the node's, as
   * splices. */
  ASSERT_EQ(spn->n_vars, 2);
  const st_def_var *test = var_named(&d, spn->vars, spn->n_vars, "${test}");
  ASSERT_EQ(test->kind, ST_VAR_SPLICE);
  ASSERT_STR(st_str(&d, test->value), "\"${test}\"");
  const st_def_var *desc =
      var_named(&d, spn->vars, spn->n_vars, "${description}");
  ASSERT_EQ(desc->kind, ST_VAR_SPLICE);
  /* The child's inputs come from the merged constants. */
  const st_def_var *ctest =
      var_named(&d, child->vars, child->n_vars, "${test}");
  ASSERT_EQ(ctest->kind, ST_VAR_SPLICE);
  ASSERT(ctest->flags & ST_VF_IS_PARAM);
  ASSERT_EQ(child->n_outputs, 2);
  /* Gateways inside the child: the parallel gateway converges. */
  ASSERT_STR(converge_of(&d, "nc358de3ea123636bf701c3eebb82126"),
             "n2ee8ca684b03eb38dc6b88e0b39ba73");
  ASSERT_EQ(d.nodes[node_index(&d, "n0843c82737d300796a4085926bf830e")].pipe,
            spn->child);
  st_def_free(&d);
  diag_free(&dg);
  const char *others[] = {"5d3262b73df63f84b595b4ab90ab9c6e",
                          "bf19682c3af235cf99956857e70be84e"};
  for (int k = 0; k < 2; k++) {
    o.template_id = others[k];
    ASSERT_OK(def_compile(text, len, &o, &d, &dg, NULL), others[k]);
    st_def_free(&d);
    diag_free(&dg);
  }
  free(text);
}

/* A template embedded twice gets fresh ids the second time, so node ids
 * stay unique in the task. */
void test_defs_sops_template_reused(void) {
  size_t len;
  char *text = test_slurp("tests/data/subprocess-gateways.json", &len);
  json_t *doc = json_loads(text, 0, NULL);
  free(text);
  json_t *tree = json_object_get(
      json_object_get(
          json_object_get(json_object_get(doc, "pipeline_template_data"),
                          "template"),
          "5ad26a77856c360585209702f5d3e614"),
      "tree");
  /* Put a second SubProcess of the same child after the first. */
  json_t *acts = json_object_get(tree, "activities");
  json_t *sp =
      json_deep_copy(json_object_get(acts, "n6c29ee96a093233a4052259eae107f5"));
  json_object_set_new(sp, "id", json_string("second"));
  json_object_set_new(sp, "incoming", json_pack("[s]", "lnew"));
  json_t *end = json_object_get(tree, "end_event");
  const char *last =
      json_string_value(json_array_get(json_object_get(end, "incoming"), 0));
  json_t *lastflow = json_object_get(json_object_get(tree, "flows"), last);
  json_object_set_new(lastflow, "target", json_string("second"));
  json_object_set_new(json_object_get(acts, "n6c29ee96a093233a4052259eae107f5"),
                      "outgoing", json_string(last));
  json_object_set_new(sp, "incoming", json_pack("[s]", last));
  json_object_set_new(sp, "outgoing", json_string("lnew"));
  json_object_set_new(acts, "second", sp);
  json_object_set_new(
      json_object_get(tree, "flows"), "lnew",
      json_pack("{s:s,s:s,s:s,s:b}", "id", "lnew", "source", "second", "target",
                json_string_value(json_object_get(end, "id")), "is_default",
                0));
  json_object_set_new(end, "incoming", json_pack("[s]", "lnew"));
  def_options o = {.template_id = "5ad26a77856c360585209702f5d3e614"};
  char *out = json_dumps(doc, JSON_COMPACT);
  st_def d;
  diag dg = {0};
  int rc = def_compile(out, strlen(out), &o, &d, &dg, NULL);
  if (rc) {
    find f = {"", 0, ""};
    diag_each(&dg, find_line, &f);
    TEST_FAIL_("reused template refused:\n%s", f.all);
  }
  ASSERT_EQ(d.n_pipes, 3);
  const st_def_pipe *p2 = &d.pipes[d.nodes[node_index(&d, "second")].child];
  ASSERT_STR(st_str(&d, p2->id), "second");
  /* Same shape, other ids. */
  ASSERT_EQ(d.pipes[1].n_vars, p2->n_vars);
  ASSERT_NE(strcmp(st_str(&d, d.nodes[d.pipes[1].start].id),
                   st_str(&d, d.nodes[p2->start].id)),
            0);
  st_def_free(&d);
  diag_free(&dg);
  free(out);
  json_decref(doc);
}

/* ---- The compiled graph: large trees, round trips, storage -----------------
 */

void test_defs_large_tree(void) {
  char *text = shape_fan_out(1000, 10);
  ASSERT(text);
  result r = compile_opts(text, NULL);
  assert_ok(&r);
  ASSERT_EQ(r.def.n_nodes, 10004);
  ASSERT_STR(converge_of(&r.def, "pg"), "cg");
  ASSERT_EQ(r.def.nodes[node_index(&r.def, "cg")].n_in, 1000);
  result_free(&r);
  rt_free(text);
  /* bamboo allows at most 1000 flows into or out of a node. */
  text = shape_fan_out(1001, 1);
  r = compile_opts(text, NULL);
  assert_problem(&r,
                 "gateways.pg: a ParallelGateway must have 1 to 1000 "
                 "outgoing flows, it has 1001");
  result_free(&r);
  rt_free(text);
}

static buf encode(const st_def *d) {
  buf b = {0};
  ASSERT_OK(st_def_encode(d, &b), "encode");
  return b;
}

static void assert_same_def(const st_def *a, const st_def *b) {
  json_t *ja = def_to_json(a), *jb = def_to_json(b);
  ASSERT(ja && jb);
  ASSERT(json_equal(ja, jb));
  json_decref(ja);
  json_decref(jb);
  ASSERT_EQ(a->n_nodes, b->n_nodes);
  ASSERT_EQ(a->n_flows, b->n_flows);
  ASSERT_EQ(a->n_vars, b->n_vars);
  for (uint32_t i = 0; i < a->n_nodes; i++) {
    ASSERT_STR(st_str(a, a->nodes[i].id), st_str(b, b->nodes[i].id));
    ASSERT_EQ(a->nodes[i].converge, b->nodes[i].converge);
    ASSERT_EQ(a->nodes[i].out, b->nodes[i].out);
  }
}

/* A definition read back as a bamboo tree compiles to the same graph and
 * the same bytes, for every input format; the encoding survives decoding
 * unchanged. */
void test_defs_roundtrip(void) {
  size_t len;
  char *loop = test_slurp("tests/data/loop-sample.json", &len);
  char *sub = test_slurp("tests/data/subprocess-gateways.json", &len);
  const char *texts[] = {minimal, loop, sub};
  for (int k = 0; k < 3; k++) {
    def_options o = {.template_id =
                         k == 2 ? "5ad26a77856c360585209702f5d3e614" : NULL};
    result r = compile_opts(texts[k], &o);
    assert_ok(&r);
    json_t *j = def_to_json(&r.def);
    result again = compile_json(j);
    assert_ok(&again);
    assert_same_def(&r.def, &again.def);
    buf b = encode(&r.def);
    buf b3 = encode(&again.def);
    ASSERT_EQ(b.len, b3.len);
    ASSERT(!memcmp(b.data, b3.data, b.len));
    buf_free(&b3);
    st_def back;
    errbuf err = {0};
    ASSERT_OK(st_def_decode(b.data, b.len, &back, &err), err.msg);
    buf b2 = encode(&back);
    ASSERT_EQ(b.len, b2.len);
    ASSERT(!memcmp(b.data, b2.data, b.len));
    st_def_free(&back);
    buf_free(&b);
    buf_free(&b2);
    json_decref(j);
    result_free(&again);
    result_free(&r);
  }
  free(loop);
  free(sub);
}

/* Truncated or bit-flipped encodings are refused or decode to a graph
 * whose indices are all in range. */
void test_defs_codec_hostile(void) {
  result r = compile_opts(minimal, NULL);
  assert_ok(&r);
  buf b = encode(&r.def);
  errbuf err = {0};
  for (size_t n = 0; n < b.len; n++) {
    st_def d;
    ASSERT_ERR(st_def_decode(b.data, n, &d, &err), RATTAN_ECORRUPT);
    st_def_free(&d);
  }
  for (size_t i = 0; i < b.len; i++)
    for (int bit = 0; bit < 8; bit++) {
      b.data[i] ^= (uint8_t)(1 << bit);
      st_def d;
      int rc = st_def_decode(b.data, b.len, &d, &err);
      ASSERT(rc == 0 || rc == RATTAN_ECORRUPT);
      if (rc == 0) {
        /* Whatever decodes must be safe to walk. */
        json_t *j = def_to_json(&d);
        ASSERT(j);
        json_decref(j);
      }
      st_def_free(&d);
      b.data[i] ^= (uint8_t)(1 << bit);
    }
  buf_free(&b);
  result_free(&r);
  /* A subprocess that is its own pipeline would send any walk round in
   * circles: refused. */
  json_t *t = nested(1);
  r = compile_json(t);
  assert_ok(&r);
  json_decref(t);
  uint32_t sp = node_index(&r.def, "sp1");
  r.def.nodes[sp].child = r.def.nodes[sp].pipe;
  b = encode(&r.def);
  st_def d;
  ASSERT_ERR(st_def_decode(b.data, b.len, &d, &err), RATTAN_ECORRUPT);
  ASSERT_CONTAINS(err.msg, "bad subprocess link");
  st_def_free(&d);
  buf_free(&b);
  result_free(&r);
}

/* ---- Tasks ------------------------------------------------------------------
 */

static void print_problem(void *ctx, const char *path, const char *reason) {
  (*(int *)ctx)++;
  (void)path;
  (void)reason;
}

void test_tasks_create(void) {
  rattan_engine *e;
  char msg[512], id[RATTAN_ID_MAX + 1];
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  ASSERT_OK(rattan_open(test_dir(), &o, &e, msg, sizeof msg), msg);
  ASSERT_OK(rattan_task_create(e, minimal, strlen(minimal), NULL, id),
            rattan_errmsg(e));
  ASSERT_STR(id, "1");
  ASSERT_OK(rattan_task_create(e, minimal, strlen(minimal), NULL, id),
            rattan_errmsg(e));
  ASSERT_STR(id, "2");
  rattan_task_options to = {.id = "release-7", .name = "Release 7"};
  ASSERT_OK(rattan_task_create(e, minimal, strlen(minimal), &to, id),
            rattan_errmsg(e));
  ASSERT_STR(id, "release-7");
  ASSERT_ERR(rattan_task_create(e, minimal, strlen(minimal), &to, id),
             RATTAN_EEXIST);
  ASSERT_STR(rattan_errmsg(e), "task release-7 already exists");
  to.id = "bad id";
  ASSERT_ERR(rattan_task_create(e, minimal, strlen(minimal), &to, id),
             RATTAN_EINVAL);
  ASSERT_CONTAINS(rattan_errmsg(e), "only letters, digits");
  to.id = NULL;
  to.name = "\xff\xfe";
  ASSERT_ERR(rattan_task_create(e, minimal, strlen(minimal), &to, id),
             RATTAN_EINVAL);
  ASSERT_CONTAINS(rattan_errmsg(e), "UTF-8");
  /* An invalid tree: every problem to the callback, the first in errmsg. */
  int problems = 0;
  rattan_task_options bad = {.on_problem = print_problem, .ctx = &problems};
  const char tree[] = "{\"id\":\"p\",\"flows\":{}}";
  ASSERT_ERR(rattan_task_create(e, tree, strlen(tree), &bad, id), RATTAN_EDEF);
  ASSERT(problems >= 2);
  ASSERT_CONTAINS(rattan_errmsg(e), "start_event: missing");
  /* The definition reads back after a reopen, without the JSON. */
  rattan_close(e);
  ASSERT_OK(rattan_open(test_dir(), &o, &e, msg, sizeof msg), msg);
  char *json;
  size_t len;
  ASSERT_OK(rattan_task_definition(e, "release-7", &json, &len),
            rattan_errmsg(e));
  ASSERT_EQ(strlen(json), len);
  result r1 = compile_opts(minimal, NULL), r2 = compile_opts(json, NULL);
  assert_ok(&r2);
  assert_same_def(&r1.def, &r2.def);
  result_free(&r1);
  result_free(&r2);
  rattan_free(json);
  ASSERT_ERR(rattan_task_definition(e, "nope", &json, &len), RATTAN_ENOTFOUND);
  ASSERT_STR(rattan_errmsg(e), "task nope does not exist");
  rattan_close(e);
}

typedef struct task_seen {
  int n;
} task_seen;

static int see_task(const st_task *t, void *ctx) {
  (void)t;
  ((task_seen *)ctx)->n++;
  return 0;
}

/* The stored records: task, definition, and one "create" journal entry,
 * written together. */
void test_tasks_records(void) {
  eng *e = fx_open("db", 0);
  size_t len;
  char *text = test_slurp("tests/data/loop-sample.json", &len);
  eng_task_opts o = {0};
  eng_problems pr = {0};
  char id[ST_ID_MAX + 1];
  errbuf err = {0};
  ASSERT_OK(eng_task_create(e, text, len, &o, &pr, id, &err), err.msg);
  eng_problems_free(&pr);
  st_txn *t;
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  st_task rec;
  ASSERT_OK(st_task_get(t, id, &rec, &err), err.msg);
  ASSERT_STR(rec.name, "循环样例");
  ASSERT_STR(rec.root, "n2125aebb4c8334f8ba4d575315a8d94");
  ASSERT_EQ(rec.created, T0);
  uint64_t n;
  ASSERT_OK(st_journal_count(t, id, &n, &err), err.msg);
  ASSERT_EQ(n, 1);
  st_def d;
  ASSERT_OK(st_def_get(t, id, &d, &err), err.msg);
  result r = compile_opts(text, NULL);
  assert_same_def(&r.def, &d);
  st_def_free(&d);
  result_free(&r);
  /* No node has a state yet: the task is CREATED. */
  st_state s;
  ASSERT_ERR(st_state_get(t, id, rec.root, &s, &err), RATTAN_ENOTFOUND);
  task_seen seen = {0};
  ASSERT_OK(st_task_each(t, see_task, &seen, &err), err.msg);
  ASSERT_EQ(seen.n, 1);
  st_read_end(t);
  /* A write failure leaves no task behind. */
  st_fault(eng_store(e), ST_FAULT_COMMIT, 1, RATTAN_EIO);
  ASSERT_ERR(eng_task_create(e, text, len, &o, &pr, id, &err), RATTAN_EIO);
  eng_problems_free(&pr);
  ASSERT_OK(st_read_begin(eng_store(e), &t, &err), err.msg);
  seen.n = 0;
  ASSERT_OK(st_task_each(t, see_task, &seen, &err), err.msg);
  ASSERT_EQ(seen.n, 1);
  st_read_end(t);
  free(text);
  eng_close(e);
}

/* A node's executor_proxy reaches its component as a plain, unrendered
 * "__executor_proxy" input, as bk-sops passes it. */
void test_defs_sops_executor_proxy(void) {
  size_t len;
  char *text = test_slurp("tests/data/loop-sample.json", &len);
  json_t *doc = json_loads(text, 0, NULL);
  free(text);
  json_t *tpl = json_object_get(
      json_object_get(json_object_get(doc, "pipeline_template_data"),
                      "template"),
      "n2125aebb4c8334f8ba4d575315a8d94");
  json_t *acts = json_object_get(json_object_get(tpl, "tree"), "activities");
  json_object_set_new(json_object_get(acts, "node413dba1a74e3045da403e3be9cd5"),
                      "executor_proxy", json_string("admin"));
  result r = compile_json(doc);
  assert_ok(&r);
  const st_def *d = &r.def;
  const st_def_node *n =
      &d->nodes[node_index(d, "node413dba1a74e3045da403e3be9cd5")];
  ASSERT_EQ(n->n_vars, 3);
  const st_def_var *v = var_named(d, n->vars, n->n_vars, "__executor_proxy");
  ASSERT_EQ(v->kind, ST_VAR_PLAIN);
  ASSERT_EQ(v->flags, 0);
  ASSERT_STR(st_str(d, v->value), "\"admin\"");
  const st_def_node *other =
      &d->nodes[node_index(d, "nodeb268d09815476dd8a37d373b89ff")];
  ASSERT_EQ(other->n_vars, 2);
  result_free(&r);
  json_decref(doc);
}

/* A lazy subprocess param is computed by the subprocess, unless its value
 * names the parent constant that this very input was hooked to: that one
 * is already computed, so it is passed as a splice (bk-sops). */
void test_defs_sops_lazy_params(void) {
  size_t len;
  char *text = test_slurp("tests/data/subprocess-gateways.json", &len);
  for (int hooked = 0; hooked <= 1; hooked++) {
    json_t *doc = json_loads(text, 0, NULL);
    json_t *tpls = json_object_get(
        json_object_get(doc, "pipeline_template_data"), "template");
    json_t *parent = json_object_get(
        json_object_get(tpls, "5ad26a77856c360585209702f5d3e614"), "tree");
    json_t *node = json_object_get(json_object_get(parent, "activities"),
                                   "n6c29ee96a093233a4052259eae107f5");
    json_t *desc =
        json_object_get(json_object_get(node, "constants"), "${description}");
    json_object_set_new(desc, "custom_type", json_string("select"));
    json_object_set_new(desc, "value", json_string("${parent_desc}"));
    json_t *pc =
        json_pack("{s:s,s:s,s:s,s:{}}", "key", "${parent_desc}", "source_type",
                  "component_inputs", "show_type", "show", "source_info");
    if (hooked)
      json_object_set_new(json_object_get(pc, "source_info"),
                          "n6c29ee96a093233a4052259eae107f5",
                          json_pack("[s]", "${description}"));
    json_object_set_new(json_object_get(parent, "constants"), "${parent_desc}",
                        pc);
    def_options o = {.template_id = "5ad26a77856c360585209702f5d3e614"};
    char *out = json_dumps(doc, JSON_COMPACT);
    result r = compile_opts(out, &o);
    assert_ok(&r);
    const st_def_node *sp =
        &r.def.nodes[node_index(&r.def, "n6c29ee96a093233a4052259eae107f5")];
    const st_def_var *v =
        var_named(&r.def, sp->vars, sp->n_vars, "${description}");
    ASSERT_EQ(v->kind, hooked ? ST_VAR_SPLICE : ST_VAR_LAZY);
    result_free(&r);
    free(out);
    json_decref(doc);
  }
  free(text);
}
