/*
 * rattan_gateway(): SOPS's gateway routes answered in process. Envelopes
 * are compared byte for byte wherever SOPS fixes them (key orders,
 * messages, codes; a given trace id keeps them reproducible), read
 * routes against the library calls they stand for (rattan_task_status,
 * rattan_node_detail, ...), and write routes by what they do to the
 * task. Every answer of every call is also checked for the contract of
 * rattan_gateway: a NUL-terminated JSON object whose "result" is true
 * exactly when the call returns RATTAN_OK.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>

#include "exec_util.h"

#define TRACE "t1"
#define BASE  "http://sops.example/"

/* ---- Memory: everything a test gets back is freed at its end ----------- */

#define POOL_MAX 4096
static struct {
  void *p;
  int ours; /* malloc'd here (free), else rattan's (rattan_free) */
} pool[POOL_MAX];
static int npool;

static void *keep(void *p, int ours) {
  ASSERT(p);
  ASSERT(npool < POOL_MAX);
  pool[npool].p = p;
  pool[npool++].ours = ours;
  return p;
}

/* Frees what was kept since mark (npool's value then). */
static void release_to(int mark) {
  for (int i = mark; i < npool; i++)
    if (pool[i].ours)
      free(pool[i].p);
    else
      rattan_free(pool[i].p);
  npool = mark;
}

static void release(void) {
  release_to(0);
}

/* printf into a kept buffer. */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  ASSERT(n >= 0);
  char *s = malloc((size_t)n + 1);
  ASSERT(s);
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  return keep(s, 1);
}

/* s with every occurrence of a replaced by b (kept). */
static char *replace(const char *s, const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b), n = 0;
  for (const char *p = strstr(s, a); p; p = strstr(p + na, a))
    n++;
  char *out = malloc(strlen(s) + n * nb + 1), *o = out;
  ASSERT(out);
  for (const char *p = s, *q; *p; p = q + na) {
    q = strstr(p, a);
    if (!q) {
      strcpy(o, p);
      o += strlen(p);
      break;
    }
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    memcpy(o, b, nb);
    o += nb;
  }
  *o = '\0';
  return keep(out, 1);
}

/* ---- Python's json.dumps, written independently of the library --------- */

typedef struct text {
  char *s;
  size_t n, cap;
} text;

static void put(text *t, const char *s, size_t n) {
  if (t->n + n + 1 > t->cap) {
    t->cap = (t->n + n + 1) * 2;
    t->s = realloc(t->s, t->cap);
    ASSERT(t->s);
  }
  memcpy(t->s + t->n, s, n);
  t->n += n;
  t->s[t->n] = '\0';
}

static void puts_(text *t, const char *s) {
  put(t, s, strlen(s));
}

/* A string as json.dumps(ensure_ascii=True) writes it; s is UTF-8. */
static void py_str(text *t, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  put(t, "\"", 1);
  while (p < end) {
    unsigned c = *p, cp;
    size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else {
      len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      ASSERT(p + len <= end);
      cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
      for (size_t i = 1; i < len; i++)
        cp = cp << 6 | (p[i] & 0x3f);
    }
    p += len;
    char e[16];
    if (cp == '"')
      puts_(t, "\\\"");
    else if (cp == '\\')
      puts_(t, "\\\\");
    else if (cp == '\n')
      puts_(t, "\\n");
    else if (cp == '\r')
      puts_(t, "\\r");
    else if (cp == '\t')
      puts_(t, "\\t");
    else if (cp == '\b')
      puts_(t, "\\b");
    else if (cp == '\f')
      puts_(t, "\\f");
    else if (cp >= 0x20 && cp < 0x7f) {
      char ch = (char)cp;
      put(t, &ch, 1);
    } else if (cp > 0xffff) {
      cp -= 0x10000;
      snprintf(e, sizeof e, "\\u%04x\\u%04x", 0xd800 | (cp >> 10),
               0xdc00 | (cp & 0x3ff));
      puts_(t, e);
    } else {
      snprintf(e, sizeof e, "\\u%04x", cp);
      puts_(t, e);
    }
  }
  put(t, "\"", 1);
}

static void py_dump(text *t, const json_t *j) {
  char num[32];
  switch (json_typeof(j)) {
    case JSON_OBJECT: {
      const char *k;
      json_t *v;
      int first = 1;
      puts_(t, "{");
      json_object_foreach((json_t *)j, k, v) {
        if (!first) puts_(t, ", ");
        first = 0;
        py_str(t, k, strlen(k));
        puts_(t, ": ");
        py_dump(t, v);
      }
      puts_(t, "}");
      break;
    }
    case JSON_ARRAY:
      puts_(t, "[");
      for (size_t i = 0; i < json_array_size(j); i++) {
        if (i) puts_(t, ", ");
        py_dump(t, json_array_get(j, i));
      }
      puts_(t, "]");
      break;
    case JSON_STRING:
      py_str(t, json_string_value(j), json_string_length(j));
      break;
    case JSON_INTEGER:
      snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
      puts_(t, num);
      break;
    case JSON_REAL:
      TEST_FAIL_("py_dump: floats are not expected here");
      break;
    case JSON_TRUE:
      puts_(t, "true");
      break;
    case JSON_FALSE:
      puts_(t, "false");
      break;
    default:
      puts_(t, "null");
  }
}

/* A UTF-8 string as a JSON string literal (kept). */
static char *pystr(const char *s) {
  text t = {0};
  py_str(&t, s, strlen(s));
  return keep(t.s, 1);
}

static char *pydump(const json_t *j) {
  text t = {0};
  py_dump(&t, j);
  return keep(t.s, 1);
}

/* ---- Expected envelopes ---------------------------------------------------
 */

/* A view's dict through return_json_response. */
static char *view(int ok, const char *message, long code) {
  return fmt(
      "{\"result\": %s, \"message\": %s, \"code\": %ld, \"trace_id\": "
      "\"" TRACE "\"}",
      ok ? "true" : "false", pystr(message), code);
}

#define SUCCESS view(1, "success", 0)

/* ObjectDoesNotExistExceptionMiddleware's answer (no trace_id). */
static char *not_found(const char *task) {
  return fmt(
      "{\"result\": false, \"message\": %s, \"data\": null, \"code\": "
      "3540400}",
      pystr(fmt("数据不存在错误: 数据不存在错误, 错误内容 "
                "TaskFlowInstance(id=%s) does not exist. | "
                "process_exception",
                task)));
}

/* ---- Engine and requests --------------------------------------------------
 */

/* nosync, seed 42, a fixed clock at XU_T0 (virtual when timers must
 * fire), the test components registered. */
static rattan_engine *open_engine(const char *name, int virtual_clock) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  o.clock.kind = virtual_clock ? RATTAN_CLOCK_VIRTUAL : RATTAN_CLOCK_FIXED;
  o.clock.start_us = XU_T0;
  o.has_seed = 1;
  o.seed = 42;
  rattan_engine *e;
  char msg[512];
  ASSERT_OK(rattan_open(test_path(name), &o, &e, msg, sizeof msg), msg);
  xu_register(e);
  return e;
}

/* The last call's return code, HTTP status and answer length. */
static int last_rc, last_http;
static size_t last_len;
/* What every request carries unless a test changes it. */
static const char *g_user = "admin";
static int g_tz = 480;

/* The contract every answer keeps; returns the answer parsed. */
static json_t *check_answer(int rc, const char *out, size_t len, int http) {
  if (!out) TEST_FAIL_("no answer (rc %s)", rattan_errname(rc));
  ASSERT_EQ(strlen(out), len);
  ASSERT(http == 200 || http == 404 || http == 405);
  json_error_t je;
  json_t *j = json_loadb(out, len, JSON_REJECT_DUPLICATES, &je);
  if (!j) TEST_FAIL_("answer is not JSON: %s: %.300s", je.text, out);
  if (!json_is_object(j)) TEST_FAIL_("answer is not an object: %.300s", out);
  json_t *r = json_object_get(j, "result");
  if (!json_is_boolean(r)) TEST_FAIL_("no boolean result: %.300s", out);
  if (json_is_true(r) != (rc == RATTAN_OK))
    TEST_FAIL_("result %d with rc %s: %.300s", json_is_true(r),
               rattan_errname(rc), out);
  if ((http != 200) && json_is_true(r))
    TEST_FAIL_("http %d with result true", http);
  return j;
}

/* One request: params are name, value pairs ending with NULL. The answer
 * is kept (freed at release()). */
static char *call(rattan_engine *e, const char *method, const char *path,
                  const char *const *params, const char *body,
                  size_t body_len) {
  size_t n = 0;
  while (params && params[2 * n])
    n++;
  rattan_request rq;
  rattan_request_init(&rq);
  rq.method = method;
  rq.path = path;
  rq.params = n ? params : NULL;
  rq.n_params = n;
  rq.body = body;
  rq.body_len = body_len;
  rq.trace_id = TRACE;
  rq.username = g_user;
  rq.base_url = BASE;
  rq.tz_offset_min = g_tz;
  char *out = NULL;
  last_http = -1;
  last_rc = rattan_gateway(e, &rq, &out, &last_len, &last_http);
  json_decref(check_answer(last_rc, out, last_len, last_http));
  return keep(out, 0);
}

#define GET(e, path, ...) \
  call((e), "GET", (path), (const char *const[]){__VA_ARGS__, NULL}, NULL, 0)
static char *post(rattan_engine *e, const char *path, const char *body) {
  return call(e, "POST", path, NULL, body, strlen(body));
}

/* The answer parsed (kept alive by the caller's json_decref). */
static json_t *parse(const char *s) {
  json_error_t je;
  json_t *j = json_loads(s, 0, &je);
  if (!j) TEST_FAIL_("not JSON: %s: %.300s", je.text, s);
  return j;
}

/* rattan_task_status with the options the gateway passes. */
static char *status_of(rattan_engine *e, const char *task, const char *sub,
                       int ex, int tz, const char *project, int want) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.trace_id = TRACE;
  o.subprocess_id = sub;
  o.with_ex_data = ex;
  o.tz_offset_min = tz;
  o.project = project;
  char *out = NULL;
  size_t len;
  ASSERT_EQ(rattan_task_status(e, task, &o, &out, &len), want);
  ASSERT(out);
  return keep(out, 0);
}

/* ---- Trees ----------------------------------------------------------------
 */

/* s -> bad (fail, "boom") -> e */
static char *tree_fail(void) {
  json_t *p = TB_LINE("p", "s bad e", "fail");
  tb_in(tb_node(p, "bad"), "message", "plain", json_string("boom"));
  return keep(tb_json(p), 1);
}

/* s -> w (pause: waits for a callback) -> e */
static char *tree_pause(void) {
  return keep(tb_json(TB_LINE("p", "s w e", "pause")), 1);
}

/* s -> a (noop) -> e */
static char *tree_noop(void) {
  return keep(tb_json(TB_LINE("p", "s a e", "noop")), 1);
}

/* s -> sp -> e, sp a subprocess cs -> bad (fail, "boom") -> ce */
static char *tree_sub_fail(void) {
  json_t *c = TB_LINE("sp", "cs bad ce", "fail");
  tb_in(tb_node(c, "bad"), "message", "plain", json_string("boom"));
  return keep(tb_json(tb_wrap(c)), 1);
}

static char *create_body(const char *name, const char *tree) {
  return fmt("{\"name\": %s, \"pipeline_tree\": %s}", pystr(name), tree);
}

/* Creates a task through create_task/{biz}/ and checks the id it got. */
static void gw_create(rattan_engine *e, const char *biz, const char *tree,
                      const char *want_id) {
  char *a = post(e, fmt("create_task/%s/", biz), create_body("t", tree));
  ASSERT_OK(last_rc, a);
  json_t *j = parse(a);
  json_t *id = json_object_get(json_object_get(j, "data"), "task_id");
  char got[32];
  if (json_is_integer(id))
    snprintf(got, sizeof got, "%lld", (long long)json_integer_value(id));
  else
    snprintf(got, sizeof got, "%s", json_string_value(id));
  ASSERT_STR(got, want_id);
  json_decref(j);
}

static int count_task(void *ctx, const char *id, const char *name,
                      rattan_state st) {
  (void)id;
  (void)name;
  (void)st;
  (*(int *)ctx)++;
  return 0;
}

static int task_count(rattan_engine *e) {
  int n = 0;
  ASSERT_OK(rattan_task_each(e, count_task, &n), rattan_errmsg(e));
  return n;
}

typedef struct named {
  const char *id;
  char name[64];
} named;

static int find_name(void *ctx, const char *id, const char *name,
                     rattan_state st) {
  (void)st;
  named *n = ctx;
  if (!strcmp(id, n->id)) snprintf(n->name, sizeof n->name, "%s", name);
  return 0;
}

static const char *task_name(rattan_engine *e, const char *task) {
  static named n;
  n.id = task;
  n.name[0] = '\0';
  ASSERT_OK(rattan_task_each(e, find_name, &n), rattan_errmsg(e));
  return n.name;
}

/* The task's export (kept) in *len. */
static void *export_of(rattan_engine *e, const char *task, size_t *len) {
  void *x;
  ASSERT_OK(rattan_export(e, task, &x, len), rattan_errmsg(e));
  return keep(x, 0);
}

/* ---- create_task, get_task_status ----------------------------------------
 */

void test_gateway_create_and_status(void) {
  rattan_engine *e = open_engine("db", 1);
  char *sample = keep(test_slurp("tests/data/loop-sample.json", NULL), 1);

  /* create_task/2/: the envelope of SOPS's fast_create_task, the stored
   * bamboo tree echoed. */
  char *a = post(e, "create_task/2/", create_body("demo", sample));
  ASSERT_OK(last_rc, a);
  ASSERT_EQ(last_http, 200);
  char *def;
  size_t def_len;
  ASSERT_OK(rattan_task_definition(e, "1", &def, &def_len), rattan_errmsg(e));
  keep(def, 0);
  json_t *tree = json_loadb(def, def_len, 0, NULL);
  ASSERT(tree);
  ASSERT(json_object_get(json_object_get(tree, "activities"),
                         "node413dba1a74e3045da403e3be9cd5"));
  ASSERT_STR(a,
             fmt("{\"result\": true, \"data\": {\"task_id\": 1, "
                 "\"task_url\": \"" BASE "taskflow/execute/2/?instance_id=1\", "
                 "\"pipeline_tree\": %s}, \"code\": 0, \"trace_id\": "
                 "\"" TRACE "\"}",
                 pydump(tree)));
  json_decref(tree);
  char project[RATTAN_ID_MAX + 1];
  ASSERT_OK(rattan_task_project(e, "1", project), rattan_errmsg(e));
  ASSERT_STR(project, "2");
  ASSERT_STR(task_name(e, "1"), "demo");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_CREATED);

  /* Never started: SOPS's CREATED answer, as rattan_task_status gives it. */
  a = GET(e, "get_task_status/1/2/", NULL);
  ASSERT_OK(last_rc, a);
  ASSERT_STR(a, status_of(e, "1", NULL, 0, 480, NULL, 0));
  ASSERT_CONTAINS(a, "\"state\": \"CREATED\"");

  /* Run to the end: the same bytes in both zones, which differ. */
  ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
  xu_drive(e, "1");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_FINISHED);
  a = GET(e, "get_task_status/1/2/", NULL);
  ASSERT_STR(a, status_of(e, "1", NULL, 0, 480, NULL, 0));
  ASSERT_STR(a, status_of(e, "1", NULL, 0, 480, "2", 0));
  ASSERT_CONTAINS(a, "\"name\": \"demo\"");
  g_tz = 0;
  char *utc = GET(e, "get_task_status/1/2/", NULL);
  g_tz = 480;
  ASSERT_STR(utc, status_of(e, "1", NULL, 0, 0, NULL, 0));
  ASSERT(strcmp(utc, a));
  ASSERT_CONTAINS(utc, "+0000");

  /* fast_create_task is the same view: task 2, a failed subprocess. */
  a = post(
      e, "fast_create_task/2/",
      create_body("sub \xe5\xad\x90\xe6\xb5\x81\xe7\xa8\x8b", tree_sub_fail()));
  ASSERT_OK(last_rc, a);
  ASSERT_CONTAINS(a, "\"task_id\": 2, \"task_url\": \"" BASE
                     "taskflow/execute/2/?instance_id=2\"");
  ASSERT_OK(rattan_task_start(e, "2"), rattan_errmsg(e));
  xu_drive(e, "2");
  EXPECT_STATE(e, "2", "bad", RATTAN_STATE_FAILED);

  /* with_ex_data and subprocess_id are passed through. */
  char *whole = GET(e, "get_task_status/2/2/", NULL);
  ASSERT_STR(whole, status_of(e, "2", NULL, 0, 480, NULL, 0));
  ASSERT_CONTAINS(whole, "\"name\": \"sub \\u5b50\\u6d41\\u7a0b\"");
  char *ex = GET(e, "get_task_status/2/2/", "with_ex_data", "1");
  ASSERT_STR(ex, status_of(e, "2", NULL, 1, 480, NULL, 0));
  ASSERT(strcmp(ex, whole));
  ASSERT_CONTAINS(ex, "\"ex_data\": {\"bad\": \"boom\"}");
  /* Django's truthiness: any non-empty string, "0" and "false" too. */
  ASSERT_STR(GET(e, "get_task_status/2/2/", "with_ex_data", "0"), ex);
  ASSERT_STR(GET(e, "get_task_status/2/2/", "with_ex_data", "false"), ex);
  ASSERT_STR(GET(e, "get_task_status/2/2/", "with_ex_data", ""), whole);
  char *sub = GET(e, "get_task_status/2/2/", "subprocess_id", "sp");
  ASSERT_OK(last_rc, sub);
  ASSERT_STR(sub, status_of(e, "2", "sp", 0, 480, NULL, 0));
  ASSERT(strcmp(sub, whole));
  char *sub_ex = GET(e, "get_task_status/2/2/", "subprocess_id", "sp",
                     "with_ex_data", "1");
  ASSERT_STR(sub_ex, status_of(e, "2", "sp", 1, 480, NULL, 0));
  ASSERT(strcmp(sub_ex, sub));
  ASSERT_CONTAINS(sub_ex, "\"ex_data\": {\"bad\": \"boom\"}");
  ASSERT_STR(GET(e, "get_task_status/2/2/", "subprocess_id", ""), whole);
  char *nope = GET(e, "get_task_status/2/2/", "subprocess_id", "nope");
  ASSERT_STR(nope, status_of(e, "2", "nope", 0, 480, NULL, 0));
  ASSERT_CONTAINS(nope, "\"state\": \"CREATED\"");

  /* The legacy ESB form: ids as parameters. */
  const char *esb = "/api/c/compapi/v2/sops/get_task_status/";
  ASSERT_STR(GET(e, esb, "task_id", "2", "bk_biz_id", "2"), whole);
  ASSERT_STR(GET(e, esb, "bk_biz_id", "2", "task_id", "2", "with_ex_data", "1"),
             ex);
  ASSERT_STR(GET(e, esb, "task_id", "1", "bk_biz_id", "2"),
             status_of(e, "1", NULL, 0, 480, NULL, 0));
  ASSERT_STR(GET(e, esb, "task_id", "2"),
             view(0, "task_id and bk_biz_id are required", 3540000));
  ASSERT_ERR(last_rc, RATTAN_EINVAL);

  /* Another project's task is an unknown task, byte for byte. */
  char *unknown = GET(e, "get_task_status/999/2/", NULL);
  ASSERT_ERR(last_rc, RATTAN_ENOTFOUND);
  ASSERT_STR(unknown, not_found("999"));
  char *other = GET(e, "get_task_status/2/3/", NULL);
  ASSERT_ERR(last_rc, RATTAN_ENOTFOUND);
  ASSERT_EQ(last_http, 200);
  ASSERT_STR(other, replace(unknown, "999", "2"));
  ASSERT_STR(other, not_found("2"));
  ASSERT_STR(other, status_of(e, "2", NULL, 0, 480, "3", RATTAN_ENOTFOUND));
  ASSERT_STR(GET(e, "get_task_status/2/3/", "with_ex_data", "1",
                 "subprocess_id", "sp"),
             other);
  ASSERT_STR(GET(e, esb, "task_id", "2", "bk_biz_id", "3"), other);
  ASSERT_STR(GET(e, "get_task_detail/2/3/", NULL), other);
  ASSERT_STR(GET(e, "get_task_node_detail/2/3/", "node_id", "bad"), other);
  ASSERT(!strstr(other, "boom") && !strstr(other, "sub\"") &&
         !strstr(other, "FAILED"));
  /* ... on the write routes too, and nothing changes. */
  size_t xl;
  void *x = export_of(e, "2", &xl);
  ASSERT_STR(post(e, "start_task/2/3/", "{}"), other);
  ASSERT_STR(post(e, "operate_task/2/3/", "{\"action\": \"revoke\"}"), other);
  ASSERT_STR(post(e, "operate_task/999/2/", "{\"action\": \"revoke\"}"),
             unknown);
  ASSERT_STR(post(e, "operate_node/3/2/",
                  "{\"node_id\": \"bad\", \"action\": \"retry\"}"),
             view(0, "task[id=2] of project[id=3] does not exist", 3540400));
  ASSERT_STR(post(e, "node_callback/2/3/", "{\"node_id\": \"bad\"}"),
             view(0,
                  "[API] node_callback task[id=2] of project[project_id=3, "
                  "biz_id3] does not exist",
                  3540400));
  ASSERT_STR(post(e, "get_tasks_status/3/", "{\"task_id_list\": [1, 2]}"),
             "{\"result\": true, \"data\": [], \"code\": 0, \"trace_id\": "
             "\"" TRACE "\"}");
  size_t yl;
  void *y = export_of(e, "2", &yl);
  ASSERT_EQ(xl, yl);
  ASSERT(!memcmp(x, y, xl));
  EXPECT_NODE(e, "2", "bad", RATTAN_STATE_FAILED, 1, 1, 0, 0, 0);

  /* create_task's refusals change nothing. */
  ASSERT_STR(post(e, "create_task/2/", "{\"pipeline_tree\": {}}"),
             view(0, "invalid params: 'name'", 3540000));
  ASSERT_STR(post(e, "create_task/2/", "{\"name\": \"x\"}"),
             view(0, "invalid params: 'pipeline_tree'", 3540000));
  ASSERT_STR(
      post(e, "create_task/2/", "{\"name\": \"x\", \"pipeline_tree\": \"{}\"}"),
      view(0, "invalid params: 'pipeline_tree'", 3540000));
  a = post(e, "create_task/2/", "{\"name\": \"x\", \"pipeline_tree\": {}}");
  ASSERT_ERR(last_rc, RATTAN_EDEF);
  json_t *j = parse(a);
  ASSERT_EQ(json_integer_value(json_object_get(j, "code")), 3599999);
  ASSERT(!strncmp(json_string_value(json_object_get(j, "message")),
                  "[API] fast_create_task create pipeline error: ", 46));
  json_decref(j);
  ASSERT_STR(post(e, "create_task/2/", "{\"name\": "),
             view(0, "request body is not a valid json", 3540000));
  ASSERT_EQ(task_count(e), 2);

  /* Tasks are numbered on; a project id that is not a number is kept as
   * given. */
  gw_create(e, "2", tree_noop(), "3");
  a = post(e, "create_task/biz-x/", create_body("x", tree_noop()));
  ASSERT_CONTAINS(a, "\"task_id\": 4, \"task_url\": \"" BASE
                     "taskflow/execute/biz-x/?instance_id=4\"");
  ASSERT_OK(rattan_task_project(e, "4", project), rattan_errmsg(e));
  ASSERT_STR(project, "biz-x");
  release();
  rattan_close(e);
}

/* ---- start_task, operate_task ---------------------------------------------
 */

void test_gateway_start_and_operate(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_pause(), "1");
  char *started =
      fmt("{\"task_url\": \"" BASE
          "taskflow/execute/2/?instance_id=1\", \"data\": {\"task_url\": "
          "\"" BASE
          "taskflow/execute/2/?instance_id=1\"}, \"result\": true, \"code\": "
          "0, \"trace_id\": \"" TRACE "\"}");
  char *already =
      "{\"result\": false, \"code\": 3545000, \"message\": \"task "
      "already started\", \"trace_id\": \"" TRACE "\"}";

  /* Operations before the start. */
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"pause\"}"),
             view(0, "task not started", 3545000));
  ASSERT_ERR(last_rc, RATTAN_ESTATE);
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"resume\"}"),
             view(0, "task not started", 3545000));
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"revoke\"}"),
             view(0, "task not started", 3545000));
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_CREATED);

  /* start_task, then again. */
  ASSERT_STR(post(e, "start_task/1/2/", ""), started);
  ASSERT_OK(last_rc, "start");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);
  ASSERT_STR(post(e, "start_task/1/2/", ""), already);
  ASSERT_ERR(last_rc, RATTAN_ESTATE);
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"start\"}"), already);
  ASSERT_STR(post(e, "start_task/999/2/", ""), not_found("999"));
  xu_drive(e, "1");
  EXPECT_STATE(e, "1", "w", RATTAN_STATE_RUNNING);

  /* pause / resume / revoke change the task. */
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"pause\"}"), SUCCESS);
  ASSERT_OK(last_rc, "pause");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_SUSPENDED);
  xu_drive(e, "1");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_SUSPENDED);
  /* The engine refuses a second pause: "fail: " and its reason. */
  char *a = post(e, "operate_task/1/2/", "{\"action\": \"pause\"}");
  ASSERT_ERR(last_rc, RATTAN_ESTATE);
  ASSERT_STR(a, view(0, fmt("fail: %s", rattan_errmsg(e)), 3599999));
  ASSERT(strlen(rattan_errmsg(e)) > 0);
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"resume\"}"), SUCCESS);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);
  xu_drive(e, "1");
  EXPECT_STATE(e, "1", "w", RATTAN_STATE_RUNNING);

  /* Commands the view does not know. */
  const char *invalid = view(0, "task command is invalid", 3545000);
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"jump\"}"), invalid);
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  ASSERT_STR(post(e, "operate_task/1/2/", "{}"), invalid);
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": 1}"), invalid);
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"PAUSE\"}"), invalid);
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": null}"), invalid);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);

  /* A body that is not JSON. */
  const char *bad_json = view(0, "invalid json format", 3540000);
  ASSERT_STR(post(e, "operate_task/1/2/", "{action: pause}"), bad_json);
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  ASSERT_STR(post(e, "operate_task/1/2/", ""), bad_json);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);

  /* Revoked: finished, and task_action's guard says "pauseed". */
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"revoke\"}"), SUCCESS);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_REVOKED);
  xu_drive(e, "1");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_REVOKED);
  ASSERT_STR(
      post(e, "operate_task/1/2/", "{\"action\": \"pause\"}"),
      view(0, "task with current_flow:finished cannot be pauseed", 3545000));
  ASSERT_ERR(last_rc, RATTAN_ESTATE);
  ASSERT_STR(
      post(e, "operate_task/1/2/", "{\"action\": \"revoke\"}"),
      view(0, "task with current_flow:finished cannot be revokeed", 3545000));
  ASSERT_STR(post(e, "operate_task/1/2/", "{\"action\": \"start\"}"), already);
  ASSERT_STR(post(e, "start_task/1/2/", "{}"), already);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_REVOKED);

  /* operate_task start: the view's own dict, message first; then the
   * task finishes and the guard applies. */
  gw_create(e, "2", tree_noop(), "2");
  ASSERT_STR(post(e, "operate_task/2/2/", "{\"action\": \"start\"}"),
             "{\"message\": \"success\", \"result\": true, \"code\": 0, "
             "\"trace_id\": \"" TRACE "\"}");
  ASSERT_OK(last_rc, "start");
  ASSERT_EQ(xu_task_state(e, "2"), RATTAN_STATE_RUNNING);
  xu_drive(e, "2");
  ASSERT_EQ(xu_task_state(e, "2"), RATTAN_STATE_FINISHED);
  ASSERT_STR(
      post(e, "operate_task/2/2/", "{\"action\": \"pause\"}"),
      view(0, "task with current_flow:finished cannot be pauseed", 3545000));
  ASSERT_STR(
      post(e, "operate_task/2/2/", "{\"action\": \"resume\"}"),
      view(0, "task with current_flow:finished cannot be resumeed", 3545000));
  ASSERT_STR(
      post(e, "operate_task/2/2/", "{\"action\": \"fly\"}"),
      view(0, "task with current_flow:finished cannot be flyed", 3545000));
  ASSERT_STR(
      post(e, "operate_task/2/2/", "{}"),
      view(0, "task with current_flow:finished cannot be Noneed", 3545000));
  ASSERT_EQ(xu_task_state(e, "2"), RATTAN_STATE_FINISHED);

  /* Unknown tasks. */
  ASSERT_STR(post(e, "operate_task/9/2/", "{\"action\": \"pause\"}"),
             not_found("9"));
  ASSERT_ERR(last_rc, RATTAN_ENOTFOUND);
  ASSERT_STR(post(e, "operate_task/9/2/", "{\"action\": \"start\"}"),
             not_found("9"));
  ASSERT_EQ(task_count(e), 2);
  release();
  rattan_close(e);
}

/* ---- operate_node ---------------------------------------------------------
 */

static const char *node_missing(const char *task, const char *node) {
  return view(0,
              fmt("节点状态请求失败: 任务[ID: %s]中未找到节点[ID: %s]. 请重试. "
                  "如持续失败可联系管理员处理 | nodes_action",
                  task, node),
              3599999);
}

void test_gateway_operate_node(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_fail(), "1");
  ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
  xu_drive(e, "1");
  EXPECT_NODE(e, "1", "bad", RATTAN_STATE_FAILED, 1, 1, 0, 0, 0);
  const char *path = "operate_node/2/1/";

  /* retry: accepted, runs (and fails) again when driven. */
  ASSERT_STR(post(e, path, "{\"node_id\": \"bad\", \"action\": \"retry\"}"),
             SUCCESS);
  ASSERT_OK(last_rc, "retry");
  ASSERT_EQ(xu_state(e, "1", "bad"), RATTAN_STATE_READY);
  xu_drive(e, "1");
  EXPECT_NODE(e, "1", "bad", RATTAN_STATE_FAILED, 1, 1, 1, 0, 0);
  ASSERT_STR(xu_ex_data(e, "1", "bad"), "boom");
  /* retry with new inputs. */
  ASSERT_STR(post(e, path,
                  "{\"node_id\": \"bad\", \"action\": \"retry\", \"inputs\": "
                  "{\"message\": \"again\"}}"),
             SUCCESS);
  xu_drive(e, "1");
  EXPECT_NODE(e, "1", "bad", RATTAN_STATE_FAILED, 1, 1, 2, 0, 0);
  ASSERT_STR(xu_ex_data(e, "1", "bad"), "again");

  /* Refusals: nothing changes. */
  size_t xl;
  void *x = export_of(e, "1", &xl);
  ASSERT_STR(post(e, path, "{\"node_id\": \"nX\", \"action\": \"retry\"}"),
             node_missing("1", "nX"));
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  ASSERT_STR(post(e, path, "{\"action\": \"retry\"}"),
             node_missing("1", "None"));
  ASSERT_STR(post(e, path, "{\"node_id\": \"bad\", \"action\": \"fly\"}"),
             view(0, "task command is invalid", 3599999));
  ASSERT_STR(post(e, path, "{\"node_id\": \"bad\"}"),
             view(0, "task command is invalid", 3599999));
  ASSERT_STR(post(e, path,
                  "{\"node_id\": \"bad\", \"action\": \"retry\", \"data\": "
                  "[1]}"),
             view(0, "data field is not a valid object", 3540000));
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  ASSERT_STR(post(e, path,
                  "{\"node_id\": \"bad\", \"action\": \"retry\", \"data\": "
                  "null}"),
             view(0, "data field is not a valid object", 3540000));
  ASSERT_STR(post(e, path,
                  "{\"node_id\": \"bad\", \"action\": \"retry\", \"inputs\": "
                  "\"x\"}"),
             view(0, "inputs field is not a valid object", 3540000));
  ASSERT_STR(post(e, path, "[1]"),
             view(0, "request body is not a valid json", 3540000));
  /* The start event is finished: the engine refuses, code 3599999. */
  char *a = post(e, path, "{\"node_id\": \"s\", \"action\": \"retry\"}");
  ASSERT_ERR(last_rc, RATTAN_ESTATE);
  json_t *j = parse(a);
  ASSERT_EQ(json_integer_value(json_object_get(j, "code")), 3599999);
  const char *msg = json_string_value(json_object_get(j, "message"));
  ASSERT(msg && !strncmp(msg, "fail: ", 6) && strlen(msg) > 6);
  ASSERT_STR(msg + 6, rattan_errmsg(e));
  json_decref(j);
  ASSERT_STR(a, view(0, fmt("fail: %s", rattan_errmsg(e)), 3599999));
  /* skip_cpg cannot work through this view: bamboo's KeyError. */
  ASSERT_STR(post(e, path, "{\"node_id\": \"bad\", \"action\": \"skip_cpg\"}"),
             view(0,
                  "节点操作失败: 节点[ID: bad], 任务[ID: 1]操作失败: "
                  "'flow_ids', 请重试. 如持续失败可联系管理员处理 | "
                  "nodes_action",
                  3599999));
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  /* An unknown task. */
  ASSERT_STR(post(e, "operate_node/2/9/",
                  "{\"node_id\": \"bad\", \"action\": \"retry\"}"),
             view(0, "task[id=9] of project[id=2] does not exist", 3540400));
  ASSERT_ERR(last_rc, RATTAN_ENOTFOUND);
  size_t yl;
  void *y = export_of(e, "1", &yl);
  ASSERT_EQ(xl, yl);
  ASSERT(!memcmp(x, y, xl));
  EXPECT_NODE(e, "1", "bad", RATTAN_STATE_FAILED, 1, 1, 2, 0, 0);

  /* skip: the node finishes as skipped and the task goes on. */
  ASSERT_STR(post(e, path, "{\"node_id\": \"bad\", \"action\": \"skip\"}"),
             SUCCESS);
  EXPECT_NODE(e, "1", "bad", RATTAN_STATE_FINISHED, 1, 1, 2, 1, 0);
  xu_drive(e, "1");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_FINISHED);
  a = post(e, path, "{\"node_id\": \"bad\", \"action\": \"skip\"}");
  ASSERT_ERR(last_rc, RATTAN_ESTATE);
  ASSERT_STR(a, view(0, fmt("fail: %s", rattan_errmsg(e)), 3599999));

  /* forced_fail on a running pause node names the operator; callback
   * through operate_node passes data. */
  gw_create(e, "2", tree_pause(), "2");
  ASSERT_OK(rattan_task_start(e, "2"), rattan_errmsg(e));
  xu_drive(e, "2");
  EXPECT_STATE(e, "2", "w", RATTAN_STATE_RUNNING);
  g_user = "alice";
  ASSERT_STR(post(e, "operate_node/2/2/",
                  "{\"node_id\": \"w\", \"action\": \"forced_fail\"}"),
             SUCCESS);
  g_user = "admin";
  EXPECT_STATE(e, "2", "w", RATTAN_STATE_FAILED);
  ASSERT_STR(xu_ex_data(e, "2", "w"), "The node has been terminated by alice.");
  a = post(e, "operate_node/2/2/",
           "{\"node_id\": \"w\", \"action\": \"forced_fail\"}");
  ASSERT_ERR(last_rc, RATTAN_ESTATE);
  ASSERT_STR(a, view(0, fmt("fail: %s", rattan_errmsg(e)), 3599999));
  ASSERT_STR(post(e, "operate_node/2/2/",
                  "{\"node_id\": \"w\", \"action\": \"retry\"}"),
             SUCCESS);
  xu_drive(e, "2");
  EXPECT_NODE(e, "2", "w", RATTAN_STATE_RUNNING, 1, 1, 1, 0, 0);
  ASSERT_STR(post(e, "operate_node/2/2/",
                  "{\"node_id\": \"w\", \"action\": \"callback\", \"data\": "
                  "{\"k\": [1, 2]}}"),
             SUCCESS);
  xu_drive(e, "2");
  EXPECT_STATE(e, "2", "w", RATTAN_STATE_FINISHED);
  EXPECT_DATA_KEY(e, "2", "w", "outputs", "callback_data", "{'k':[1,2]}");
  ASSERT_EQ(xu_task_state(e, "2"), RATTAN_STATE_FINISHED);
  release();
  rattan_close(e);
}

/* ---- node_callback --------------------------------------------------------
 */

void test_gateway_node_callback(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_pause(), "1");
  const char *path = "node_callback/1/2/";

  /* Not running yet: the engine refuses. */
  char *a = post(e, path, "{\"node_id\": \"w\", \"callback_data\": {}}");
  ASSERT_NE(last_rc, RATTAN_OK);
  ASSERT_STR(a, view(0, fmt("fail: %s", rattan_errmsg(e)), 3599999));
  ASSERT_CONTAINS(rattan_errmsg(e), "not started");
  ASSERT_CONTAINS(a, "\"code\": 3599999, \"trace_id\": \"" TRACE "\"}");

  ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
  xu_drive(e, "1");
  rattan_node_info w = xu_node(e, "1", "w");
  ASSERT_EQ(w.state, RATTAN_STATE_RUNNING);
  size_t xl;
  void *x = export_of(e, "1", &xl);

  /* A stale version. */
  char bad_version[40];
  snprintf(bad_version, sizeof bad_version, "%s", w.version);
  bad_version[1] = bad_version[1] == '0' ? '1' : '0';
  a = post(e, path,
           fmt("{\"node_id\": \"w\", \"callback_data\": {\"x\": 1}, "
               "\"version\": \"%s\"}",
               bad_version));
  ASSERT_ERR(last_rc, RATTAN_EVERSION);
  ASSERT_STR(a, view(0, fmt("fail: %s", rattan_errmsg(e)), 3599999));
  /* Nodes the task lacks, unknown tasks, bad bodies. */
  ASSERT_STR(post(e, path, "{\"node_id\": \"nX\", \"callback_data\": {}}"),
             view(0, "task[1] does not have node[nX]", 3540000));
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  ASSERT_STR(post(e, path, "{\"callback_data\": {}}"),
             view(0, "task[1] does not have node[None]", 3540000));
  ASSERT_STR(post(e, "node_callback/9/2/", "{\"node_id\": \"w\"}"),
             view(0,
                  "[API] node_callback task[id=9] of project[project_id=2, "
                  "biz_id2] does not exist",
                  3540400));
  ASSERT_ERR(last_rc, RATTAN_ENOTFOUND);
  ASSERT_STR(post(e, path, "{\"node_id\": \"w\""),
             view(0, "invalid json format", 3540000));
  ASSERT_STR(post(e, path, "\"w\""), view(0, "invalid json format", 3540000));
  size_t yl;
  void *y = export_of(e, "1", &yl);
  ASSERT_EQ(xl, yl);
  ASSERT(!memcmp(x, y, xl));
  xu_drive(e, "1");
  EXPECT_STATE(e, "1", "w", RATTAN_STATE_RUNNING);

  /* The right version: accepted; the node finishes when driven, its
   * output the data. */
  ASSERT_STR(post(e, path,
                  fmt("{\"node_id\": \"w\", \"callback_data\": {\"x\": 1, "
                      "\"s\": \"\\u4e2d\"}, \"version\": \"%s\"}",
                      w.version)),
             SUCCESS);
  ASSERT_OK(last_rc, "callback");
  xu_drive(e, "1");
  EXPECT_STATE(e, "1", "w", RATTAN_STATE_FINISHED);
  EXPECT_DATA_KEY(e, "1", "w", "outputs", "callback_data",
                  "{'x':1,'s':'\xe4\xb8\xad'}");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_FINISHED);
  /* A finished node takes no callback. */
  a = post(e, path, "{\"node_id\": \"w\", \"callback_data\": 1}");
  ASSERT_NE(last_rc, RATTAN_OK);
  ASSERT_STR(a, view(0, fmt("fail: %s", rattan_errmsg(e)), 3599999));

  /* Without a version (the current one is used), data of any type. */
  gw_create(e, "2", tree_pause(), "2");
  ASSERT_OK(rattan_task_start(e, "2"), rattan_errmsg(e));
  xu_drive(e, "2");
  ASSERT_STR(post(e, "node_callback/2/2/",
                  "{\"node_id\": \"w\", \"callback_data\": [true, null], "
                  "\"version\": \"\"}"),
             SUCCESS);
  xu_drive(e, "2");
  EXPECT_STATE(e, "2", "w", RATTAN_STATE_FINISHED);
  EXPECT_DATA_KEY(e, "2", "w", "outputs", "callback_data", "[true,null]");
  release();
  rattan_close(e);
}

/* ---- get_tasks_status, get_task_node_detail, get_task_detail ------------
 */

static char *tasks_of(rattan_engine *e, const char *const *ids, size_t n,
                      int children, const char *project, int want) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.trace_id = TRACE;
  o.project = project;
  char *out = NULL;
  size_t len;
  ASSERT_EQ(rattan_tasks_status(e, ids, n, children, &o, &out, &len), want);
  ASSERT(out);
  return keep(out, 0);
}

static char *node_detail_of(rattan_engine *e, const char *task,
                            const char *node, unsigned loop, int want) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.trace_id = TRACE;
  o.project = "2";
  char *out = NULL;
  size_t len;
  ASSERT_EQ(rattan_node_detail(e, task, node, loop, &o, &out, &len), want);
  ASSERT(out);
  return keep(out, 0);
}

/* The ids of a get_tasks_status answer, space-separated, strings quoted
 * (kept). */
static const char *ids_of(const char *answer) {
  json_t *j = parse(answer);
  json_t *d = json_object_get(j, "data");
  ASSERT(json_is_array(d));
  text t = {0};
  puts_(&t, "");
  for (size_t i = 0; i < json_array_size(d); i++) {
    json_t *id = json_object_get(json_array_get(d, i), "id");
    char one[80];
    if (json_is_integer(id))
      snprintf(one, sizeof one, "%lld", (long long)json_integer_value(id));
    else
      snprintf(one, sizeof one, "'%s'", json_string_value(id));
    if (i) puts_(&t, " ");
    puts_(&t, one);
  }
  json_decref(j);
  return keep(t.s, 1);
}

void test_gateway_tasks_status_and_details(void) {
  rattan_engine *e = open_engine("db", 1);
  char *sample = keep(test_slurp("tests/data/loop-sample.json", NULL), 1);
  gw_create(e, "2", sample, "1");
  ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
  xu_drive(e, "1");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_FINISHED);
  gw_create(e, "2", tree_fail(), "2");
  gw_create(e, "3", tree_noop(), "3"); /* another project */
  rattan_task_options to = {.id = "abc", .project = "2"};
  char id[RATTAN_ID_MAX + 1];
  ASSERT_OK(
      rattan_task_create(e, tree_sub_fail(), strlen(tree_sub_fail()), &to, id),
      rattan_errmsg(e));
  ASSERT_OK(rattan_task_start(e, "abc"), rattan_errmsg(e));
  xu_drive(e, "abc");

  /* Numbers and strings; another project's task and unknown ids are
   * left out. */
  const char *ids[] = {"1", "2", "3", "abc", "zz"};
  char *a = post(e, "get_tasks_status/2/",
                 "{\"task_id_list\": [1, \"2\", 3, \"abc\", \"zz\"], "
                 "\"include_children_status\": false}");
  ASSERT_OK(last_rc, a);
  ASSERT_STR(a, tasks_of(e, ids, 5, 0, "2", 0));
  ASSERT_STR(ids_of(a), "1 2 'abc'");
  ASSERT(!strstr(a, "\"children\""));
  ASSERT_STR(post(e, "get_tasks_status/2/",
                  "{\"task_id_list\": [1, \"2\", 3, \"abc\", \"zz\"]}"),
             a);
  char *kids = post(e, "get_tasks_status/2/",
                    "{\"task_id_list\": [1, \"2\", 3, \"abc\", \"zz\"], "
                    "\"include_children_status\": true}");
  ASSERT_STR(kids, tasks_of(e, ids, 5, 1, "2", 0));
  ASSERT_CONTAINS(kids, "\"children\"");
  ASSERT(strcmp(kids, a));
  /* DRF's BooleanField. */
  const char *yes[] = {"1",     "\"true\"", "\"True\"",
                       "\"1\"", "\"yes\"",  "\"on\""};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
    ASSERT_STR(post(e, "get_tasks_status/2/",
                    fmt("{\"task_id_list\": [1, \"2\", 3, \"abc\", \"zz\"], "
                        "\"include_children_status\": %s}",
                        yes[i])),
               kids);
  const char *no[] = {"0", "\"false\"", "\"0\"", "\"no\"", "\"off\""};
  for (size_t i = 0; i < sizeof no / sizeof *no; i++)
    ASSERT_STR(post(e, "get_tasks_status/2/",
                    fmt("{\"task_id_list\": [1, \"2\", 3, \"abc\", \"zz\"], "
                        "\"include_children_status\": %s}",
                        no[i])),
               a);
  /* Project 3 sees only its own task. */
  ASSERT_STR(ids_of(post(e, "get_tasks_status/3/",
                         "{\"task_id_list\": [1, 2, 3, \"abc\"]}")),
             "3");
  /* Values that are no ids are left out; an empty list is fine. */
  char *none = post(e, "get_tasks_status/2/",
                    "{\"task_id_list\": [null, {}, [1], \"a/b\", \"\", -1, "
                    "9223372036854775807, \"1 \"]}");
  ASSERT_OK(last_rc, none);
  ASSERT_STR(none,
             "{\"result\": true, \"data\": [], \"code\": 0, "
             "\"trace_id\": \"" TRACE "\"}");
  ASSERT_STR(post(e, "get_tasks_status/2/", "{\"task_id_list\": []}"), none);
  /* At most 50 ids. */
  text t = {0};
  puts_(&t, "{\"task_id_list\": [");
  for (int i = 0; i < 51; i++)
    puts_(&t, i ? ", 1" : "1");
  puts_(&t, "]}");
  keep(t.s, 1);
  ASSERT_STR(
      post(e, "get_tasks_status/2/", t.s),
      view(0, "task_id_list is too long, maximum length is 50", 3540000));
  ASSERT_ERR(last_rc, RATTAN_ELIMIT);
  t.s[strlen(t.s) - 5] = '\0'; /* drop the last ", 1" */
  strcat(t.s, "]}");
  a = post(e, "get_tasks_status/2/", t.s);
  ASSERT_OK(last_rc, a);
  {
    json_t *j = parse(a);
    ASSERT_EQ(json_array_size(json_object_get(j, "data")), 50);
    json_decref(j);
  }
  /* Not a list, not JSON. */
  const char *not_list = view(0, "task_id_list must be a list", 3540000);
  ASSERT_STR(post(e, "get_tasks_status/2/", "{\"task_id_list\": \"1,2\"}"),
             not_list);
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  ASSERT_STR(post(e, "get_tasks_status/2/", "{\"task_id_list\": {\"1\": 1}}"),
             not_list);
  ASSERT_STR(post(e, "get_tasks_status/2/", "{\"task_id_list\": null}"),
             not_list);
  ASSERT_STR(post(e, "get_tasks_status/2/", "{\"task_id_list\": [1,"),
             view(0, "request body is not a valid json", 3540000));
  ASSERT_STR(post(e, "get_tasks_status/2/", "[1, 2]"),
             view(0, "request body is not a valid json", 3540000));

  /* get_task_node_detail: loops, nodes that never ran, refusals. */
  const char *timer = "nodeb268d09815476dd8a37d373b89ff";
  a = GET(e, "get_task_node_detail/1/2/", "node_id", timer, "loop", "2");
  ASSERT_OK(last_rc, a);
  ASSERT_STR(a, node_detail_of(e, "1", timer, 2, 0));
  ASSERT_CONTAINS(a, "\"loop\": 2");
  char *latest = GET(e, "get_task_node_detail/1/2/", "node_id", timer);
  ASSERT_STR(latest, node_detail_of(e, "1", timer, 0, 0));
  ASSERT(strcmp(latest, a));
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "node_id", timer, "loop", ""),
             latest);
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "node_id", timer, "loop", "0"),
             latest);
  ASSERT_STR(GET(e, "get_task_node_detail/2/2/", "node_id", "bad"),
             node_detail_of(e, "2", "bad", 0, 0));
  ASSERT_CONTAINS(GET(e, "get_task_node_detail/2/2/", "node_id", "bad"),
                  "\"state\": \"READY\"");
  ASSERT_STR(GET(e, "get_task_node_detail/abc/2/", "node_id", "sp"),
             node_detail_of(e, "abc", "sp", 0, 0));
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "node_id", "nX"),
             node_detail_of(e, "1", "nX", 0, RATTAN_EINVAL));
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  const char *required = view(0, "node_id is required", 3540000);
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", NULL), required);
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "node_id", ""), required);
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "loop", "2"), required);
  const char *bad_loop = view(0, "loop must be an integer", 3540000);
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "node_id", timer, "loop", "x"),
             bad_loop);
  ASSERT_STR(
      GET(e, "get_task_node_detail/1/2/", "node_id", timer, "loop", "-1"),
      bad_loop);
  ASSERT_STR(
      GET(e, "get_task_node_detail/1/2/", "node_id", timer, "loop", "2x"),
      bad_loop);
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "node_id", timer, "loop",
                 "99999999999999999999"),
             bad_loop);
  ASSERT_STR(GET(e, "get_task_node_detail/9/2/", "node_id", timer),
             not_found("9"));
  ASSERT_ERR(last_rc, RATTAN_ENOTFOUND);

  /* get_task_detail. */
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.trace_id = TRACE;
  char *d;
  size_t dl;
  ASSERT_OK(rattan_task_detail(e, "1", &o, &d, &dl), rattan_errmsg(e));
  keep(d, 0);
  a = GET(e, "get_task_detail/1/2/", NULL);
  ASSERT_OK(last_rc, a);
  ASSERT_STR(a, d);
  ASSERT_CONTAINS(a, "\"name\": \"t\"");
  ASSERT_STR(GET(e, "get_task_detail/9/2/", NULL), not_found("9"));
  ASSERT_STR(GET(e, "get_task_detail/3/2/", NULL), not_found("3"));
  release();
  rattan_close(e);
}

/* ---- Routing ----------------------------------------------------------------
 */

static int is_hex32(const char *s) {
  return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

void test_gateway_routing(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_pause(), "1");

  /* Unknown routes: 404. */
  char *a = GET(e, "nope/1/2/", NULL);
  ASSERT_EQ(last_http, 404);
  ASSERT_ERR(last_rc, RATTAN_ENOTFOUND);
  ASSERT_STR(a, view(0, "no route for \"nope/1/2/\"", 3540400));
  post(e, "get_task_statuses/1/2/", "{}");
  ASSERT_EQ(last_http, 404);
  GET(e, "", NULL);
  ASSERT_EQ(last_http, 404);
  GET(e, "/", NULL);
  ASSERT_EQ(last_http, 404);
  GET(e, "get_task_node_data/2/1/", NULL);
  ASSERT_EQ(last_http, 404);
  /* Wrong methods: 405, and nothing happens. */
  a = post(e, "get_task_status/1/2/", "{}");
  ASSERT_EQ(last_http, 405);
  ASSERT_STR(a, view(0, "get_task_status takes GET requests only", 3540000));
  a = GET(e, "start_task/1/2/", NULL);
  ASSERT_EQ(last_http, 405);
  ASSERT_STR(a, view(0, "start_task takes POST requests only", 3540000));
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_CREATED);
  GET(e, "get_tasks_status/2/", NULL);
  ASSERT_EQ(last_http, 405);
  call(e, "PUT", "get_task_status/1/2/", NULL, NULL, 0);
  ASSERT_EQ(last_http, 405);
  call(e, "get", "get_task_status/1/2/", NULL, NULL, 0);
  ASSERT_EQ(last_http, 405);
  const char *revoke = "{\"action\": \"revoke\"}";
  call(e, "DELETE", "operate_task/1/2/", NULL, revoke, strlen(revoke));
  ASSERT_EQ(last_http, 405);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_CREATED);

  /* Slashes and prefixes do not matter. */
  ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
  xu_drive(e, "1");
  char *ref = GET(e, "get_task_status/1/2/", NULL);
  ASSERT_OK(last_rc, ref);
  ASSERT_STR(ref, status_of(e, "1", NULL, 0, 480, NULL, 0));
  const char *same[] = {"get_task_status/1/2",
                        "/get_task_status/1/2/",
                        "/get_task_status/1/2",
                        "/prod/get_task_status/1/2/",
                        "prod/stage/get_task_status/1/2",
                        "//get_task_status//1//2//",
                        "/api/v2/sops/get_task_status/1/2/"};
  for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
    a = GET(e, same[i], NULL);
    if (strcmp(a, ref)) TEST_FAIL_("%s: %s", same[i], a);
    ASSERT_EQ(last_http, 200);
  }
  ASSERT_STR(post(e, "/prod/operate_task/1/2", "{\"action\": \"pause\"}"),
             SUCCESS);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_SUSPENDED);
  ASSERT_STR(post(e, "operate_task/1/2", "{\"action\": \"resume\"}"), SUCCESS);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);
  /* get_tasks_status's project from the body (ESB form). */
  char *batch = post(e, "get_tasks_status/2/", "{\"task_id_list\": [1]}");
  ASSERT_OK(last_rc, batch);
  ASSERT_STR(post(e, "/api/c/compapi/v2/sops/get_tasks_status/",
                  "{\"task_id_list\": [1], \"bk_biz_id\": 2}"),
             batch);
  ASSERT_STR(post(e, "/api/c/compapi/v2/sops/get_tasks_status/",
                  "{\"task_id_list\": [1], \"bk_biz_id\": \"2\"}"),
             batch);
  ASSERT_STR(post(e, "get_tasks_status/", "{\"task_id_list\": [1]}"),
             view(0, "bk_biz_id is required", 3540000));
  /* Write routes in the ESB form: ids as body fields, numbers or
   * strings. */
  ASSERT_STR(post(e, "/api/c/compapi/v2/sops/operate_task/",
                  "{\"task_id\": 1, \"bk_biz_id\": \"2\", \"action\": "
                  "\"pause\"}"),
             SUCCESS);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_SUSPENDED);
  ASSERT_STR(post(e, "/api/c/compapi/v2/sops/operate_task/",
                  "{\"task_id\": \"1\", \"bk_biz_id\": 3, \"action\": "
                  "\"resume\"}"),
             not_found("1"));
  ASSERT_STR(post(e, "/api/c/compapi/v2/sops/operate_task/",
                  "{\"task_id\": \"1\", \"bk_biz_id\": 2, \"action\": "
                  "\"resume\"}"),
             SUCCESS);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);
  ASSERT_STR(post(e, "/api/c/compapi/v2/sops/operate_task/",
                  "{\"task_id\": 1.0, \"bk_biz_id\": 2, \"action\": "
                  "\"pause\"}"),
             view(0, "task_id and bk_biz_id are required", 3540000));
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);

  /* Ids that are not ids never reach the engine. */
  char long_id[80];
  memset(long_id, '1', 65);
  long_id[65] = '\0';
  const char *bad[] = {
      "get_task_status/1;rm/2/",
      "get_task_status/1 /2/",
      "get_task_status/%31/2/",
      "get_task_status/\xff/2/",
      "get_task_status/\"1\"/2/",
      "get_task_status/1/2x!/",
      "get_task_status/1/2/3/",
      "get_task_status/1/",
      "get_task_status/",
      fmt("get_task_status/%s/2/", long_id),
      fmt("get_task_status/1/%s/", long_id),
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    a = GET(e, bad[i], NULL);
    if (last_http == 404) continue;
    if (strcmp(a, view(0, "task_id and bk_biz_id are required", 3540000)))
      TEST_FAIL_("%s: %s", bad[i], a);
  }
  long_id[64] = '\0'; /* 64 bytes: an id, of no task */
  ASSERT_STR(GET(e, fmt("get_task_status/%s/2/", long_id), NULL),
             not_found(long_id));
  a = post(e, fmt("operate_node/2/%s1/", long_id),
           "{\"node_id\": \"w\", \"action\": \"forced_fail\"}");
  ASSERT_STR(a, view(0, "task_id and bk_biz_id are required", 3540000));
  a = post(e, fmt("create_task/%s1/", long_id), create_body("x", tree_noop()));
  ASSERT_STR(a, view(0, "bk_biz_id is required", 3540000));
  ASSERT_STR(post(e, "create_task/2/3/", create_body("x", tree_noop())),
             view(0, "bk_biz_id is required", 3540000));
  ASSERT_EQ(task_count(e), 1);
  /* Many prefix segments: no crash, whatever the answer. */
  GET(e, "a/b/c/d/e/f/g/h/i/get_task_status/1/2/", NULL);
  GET(e, "////////////////////get_task_status/1/2/", NULL);
  ASSERT_EQ(last_http, 200);

  /* rattan_gateway_reads: the get_ routes only. */
  const char *reads[] = {"get_task_status/1/2/", "/prod/get_tasks_status/2",
                         "get_task_node_detail/1/2/", "get_task_detail/1/2/",
                         "/api/c/compapi/v2/sops/get_task_status/"};
  for (size_t i = 0; i < sizeof reads / sizeof *reads; i++)
    if (!rattan_gateway_reads(reads[i])) TEST_FAIL_("%s reads", reads[i]);
  const char *writes[] = {"start_task/1/2/",
                          "create_task/2/",
                          "fast_create_task/2",
                          "operate_task/1/2/",
                          "operate_node/2/1/",
                          "node_callback/1/2/",
                          "nope/1/2/",
                          "",
                          "get_task_statusx/1/2/",
                          "get_task_node_data/2/1/"};
  for (size_t i = 0; i < sizeof writes / sizeof *writes; i++)
    if (rattan_gateway_reads(writes[i])) TEST_FAIL_("%s reads", writes[i]);
  ASSERT(!rattan_gateway_reads(NULL));

  /* Arguments. */
  rattan_request rq;
  rattan_request_init(&rq);
  ASSERT_EQ(rq.struct_size, sizeof rq);
  ASSERT_STR(rq.method, "GET");
  ASSERT_EQ(rq.tz_offset_min, 480);
  ASSERT(!rq.path && !rq.params && !rq.n_params && !rq.body && !rq.trace_id);
  rq.path = "get_task_status/1/2/";
  char *out = (char *)0x1;
  size_t len = 7;
  int http = 0;
  ASSERT_ERR(rattan_gateway(NULL, &rq, &out, &len, &http), RATTAN_EINVAL);
  ASSERT_ERR(rattan_gateway(e, NULL, &out, &len, &http), RATTAN_EINVAL);
  ASSERT_ERR(rattan_gateway(e, &rq, NULL, &len, &http), RATTAN_EINVAL);
  ASSERT_ERR(rattan_gateway(e, &rq, &out, &len, NULL), RATTAN_EINVAL);
  rq.method = NULL;
  ASSERT_ERR(rattan_gateway(e, &rq, &out, &len, &http), RATTAN_EINVAL);
  ASSERT(!out);
  rq.method = "POST";
  rq.path = "operate_task/1/2/";
  rq.body_len = 3;
  out = (char *)0x1;
  ASSERT_ERR(rattan_gateway(e, &rq, &out, &len, &http), RATTAN_EINVAL);
  ASSERT(!out);
  rq.body_len = 0;
  rq.n_params = 1;
  ASSERT_ERR(rattan_gateway(e, &rq, &out, &len, &http), RATTAN_EINVAL);
  rq.n_params = 0;
  rq.tz_offset_min = 1441;
  ASSERT_ERR(rattan_gateway(e, &rq, &out, &len, &http), RATTAN_EINVAL);
  ASSERT(!out);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);
  /* len may be NULL; a NULL path is no route; no trace id: a random one. */
  rattan_request_init(&rq);
  rq.path = "get_task_status/1/2/";
  ASSERT_OK(rattan_gateway(e, &rq, &out, NULL, &http), "len NULL");
  keep(out, 0);
  json_t *j = parse(out);
  const char *t1 = json_string_value(json_object_get(j, "trace_id"));
  ASSERT(is_hex32(t1));
  char first[40];
  snprintf(first, sizeof first, "%s", t1);
  json_decref(j);
  ASSERT_OK(rattan_gateway(e, &rq, &out, NULL, &http), "again");
  keep(out, 0);
  j = parse(out);
  ASSERT(is_hex32(json_string_value(json_object_get(j, "trace_id"))));
  ASSERT(strcmp(first, json_string_value(json_object_get(j, "trace_id"))));
  json_decref(j);
  rq.path = NULL;
  ASSERT_ERR(rattan_gateway(e, &rq, &out, &len, &http), RATTAN_ENOTFOUND);
  json_decref(check_answer(RATTAN_ENOTFOUND, out, len, http));
  keep(out, 0);
  ASSERT_EQ(http, 404);
  /* A caller built against a shorter struct: the fields it lacks take
   * their defaults (here the trace id, so a random one). */
  rattan_request_init(&rq);
  rq.path = "get_task_status/1/2/";
  rq.trace_id = "ignored";
  rq.struct_size = offsetof(rattan_request, trace_id);
  ASSERT_OK(rattan_gateway(e, &rq, &out, &len, &http), "short struct");
  keep(out, 0);
  j = parse(out);
  ASSERT(is_hex32(json_string_value(json_object_get(j, "trace_id"))));
  json_decref(j);
  /* Parameters with NULL names or values are ignored. */
  const char *odd[] = {NULL, "1", "node_id", NULL, "loop", NULL};
  rattan_request_init(&rq);
  rq.path = "get_task_node_detail/1/2/";
  rq.params = odd;
  rq.n_params = 3;
  rq.trace_id = TRACE;
  ASSERT_ERR(rattan_gateway(e, &rq, &out, &len, &http), RATTAN_EINVAL);
  keep(out, 0);
  ASSERT_STR(out, view(0, "node_id is required", 3540000));
  rq.path = "/api/c/compapi/v2/sops/get_task_status/";
  const char *odd2[] = {"task_id", NULL, "bk_biz_id", "2"};
  rq.params = odd2;
  rq.n_params = 2;
  ASSERT_ERR(rattan_gateway(e, &rq, &out, &len, &http), RATTAN_EINVAL);
  keep(out, 0);
  ASSERT_STR(out, view(0, "task_id and bk_biz_id are required", 3540000));
  release();
  rattan_close(e);
}

/* ---- Hostile bodies ---------------------------------------------------------
 */

typedef struct body {
  const char *what;
  const char *s;
  size_t n;   /* 0: strlen(s) */
  int object; /* a JSON object (all others are not JSON objects) */
} body;

#define B(what, lit) \
  { what, lit, sizeof lit - 1, 0 }

void test_gateway_hostile_bodies(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_pause(), "1");
  ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
  xu_drive(e, "1");
  EXPECT_STATE(e, "1", "w", RATTAN_STATE_RUNNING);
  size_t xl;
  void *x = export_of(e, "1", &xl);
  char *before = GET(e, "get_task_status/1/2/", NULL);

  /* Deep nesting: 10,000 '[' alone, and closed inside an object. */
  size_t deep_n = 10000;
  char *deep = keep(malloc(deep_n), 1);
  memset(deep, '[', deep_n);
  char *deep2 = keep(malloc(2 * deep_n + 32), 1);
  strcpy(deep2, "{\"action\": ");
  size_t d2 = strlen(deep2);
  memset(deep2 + d2, '[', deep_n);
  memset(deep2 + d2 + deep_n, ']', deep_n);
  strcpy(deep2 + d2 + 2 * deep_n, "}");
  /* Duplicate keys whose last value would do something. */
  char *dup_create = fmt(
      "{\"name\": \"a\", \"pipeline_tree\": %s, \"name\": \"b\"}", tree_noop());
  /* 10 MB strings: bare, and as every route's field. */
  size_t big_n = (size_t)10 << 20;
  char *big = keep(malloc(big_n + 3), 1);
  big[0] = '"';
  memset(big + 1, 'a', big_n);
  big[big_n + 1] = '"';
  big[big_n + 2] = '\0';
  char *big_obj = keep(malloc(big_n + 200), 1);
  snprintf(big_obj, big_n + 200,
           "{\"name\": %s, \"action\": 1, \"node_id\": 1, \"task_id_list\": 1, "
           "\"callback_data\": 1}",
           big);
  char *big_action = fmt("{\"action\": %s}", big);
  char *big_node = fmt("{\"node_id\": %s, \"action\": \"forced_fail\"}", big);
  char *big_list = fmt("{\"task_id_list\": [%s]}", big);

  const body bodies[] = {
      {"empty", "", 0, 0},
      {"NULL", NULL, 0, 0},
      B("array", "[]"),
      B("array of objects", "[{\"action\": \"pause\"}]"),
      B("number", "1"),
      B("negative float", "-1.5e3"),
      B("string", "\"pause\""),
      B("null", "null"),
      B("true", "true"),
      B("whitespace", "  \n\t "),
      B("truncated object", "{\"action\": \"pause\""),
      B("truncated string", "{\"action\": \"pau"),
      B("truncated list", "{\"task_id_list\": [1, 2"),
      B("truncated key", "{\"node_id"),
      B("trailing garbage", "{\"action\": \"pause\"} x"),
      B("two objects", "{\"action\": \"pause\"}{\"action\": \"pause\"}"),
      B("single quotes", "{'action': 'pause'}"),
      B("trailing comma", "{\"action\": \"pause\",}"),
      B("comment", "{\"action\": \"pause\" /* x */}"),
      {"deep", deep, 10000, 0},
      {"deep closed", deep2, 0, 0},
      B("NUL after", "{\"action\": \"pause\"}\0"),
      B("NUL before", "\0{\"action\": \"pause\"}"),
      B("NUL inside", "{\"action\": \"pa\0use\"}"),
      B("NUL escaped", "{\"action\": \"pause\\u0000\"}"),
      B("NUL in node", "{\"node_id\": \"w\0\", \"action\": \"forced_fail\"}"),
      B("not UTF-8 value", "{\"action\": \"pause\", \"x\": \"\xff\xfe\"}"),
      B("not UTF-8 key", "{\"\xc3\x28\": 1, \"action\": \"pause\"}"),
      B("overlong UTF-8", "{\"action\": \"\xc0\xb0\"}"),
      B("lone surrogate", "{\"action\": \"pause\", \"x\": \"\\ud800\"}"),
      B("dup action", "{\"action\": \"pause\", \"action\": \"pause\"}"),
      B("dup node",
        "{\"node_id\": \"w\", \"node_id\": \"w\", \"action\": "
        "\"forced_fail\"}"),
      B("dup callback",
        "{\"node_id\": \"w\", \"callback_data\": 1, \"callback_data\": 2}"),
      B("dup list", "{\"task_id_list\": [1], \"task_id_list\": [1]}"),
      {"dup create", dup_create, 0, 0},
      B("huge real", "{\"action\": \"pause\", \"n\": 1e999}"),
      B("huge integer", "{\"task_id_list\": [123456789012345678901234567890]}"),
      B("huge negative",
        "{\"node_id\": \"w\", \"action\": \"forced_fail\", \"n\": "
        "-123456789012345678901234567890}"),
      B("NaN", "{\"action\": \"pause\", \"n\": NaN}"),
      B("Infinity", "{\"action\": \"pause\", \"n\": -Infinity}"),
      {"10 MB string", big, big_n + 2, 0},
      {"10 MB fields", big_obj, 0, 1},
      {"10 MB action", big_action, 0, 1},
      {"10 MB node", big_node, 0, 1},
  };
  const char *routes[] = {"create_task/2/",      "fast_create_task/2/",
                          "get_tasks_status/2/", "start_task/1/2/",
                          "operate_task/1/2/",   "operate_node/2/1/",
                          "node_callback/1/2/"};
  int mark = npool;
  for (size_t r = 0; r < sizeof routes / sizeof *routes; r++)
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
      const body *b = &bodies[i];
      size_t n = b->n || !b->s ? b->n : strlen(b->s);
      char *a = call(e, "POST", routes[r], NULL, b->s, n);
      json_t *j = parse(a);
      json_t *code = json_object_get(j, "code");
      /* An object without task_id_list asks for no task: SOPS answers
       * an empty list. */
      json_t *data = json_object_get(j, "data");
      int no_list = !strcmp(routes[r], "get_tasks_status/2/") && b->object &&
                    last_rc == RATTAN_OK && json_is_array(data) &&
                    json_array_size(data) == 0;
      if (no_list) {
        json_decref(j);
        release_to(mark);
        continue;
      }
      if (last_rc == RATTAN_OK || last_http != 200 ||
          json_is_true(json_object_get(j, "result")) ||
          !json_is_integer(code) || json_integer_value(code) == 0 ||
          !json_is_string(json_object_get(j, "message")) ||
          !*json_string_value(json_object_get(j, "message")))
        TEST_FAIL_("%s with %s: %s: %.300s", routes[r], b->what,
                   rattan_errname(last_rc), a);
      json_decref(j);
      /* The answers for bodies that are not JSON objects (start_task
       * reads no body: the task has started). */
      if (!b->object && strcmp(routes[r], "start_task/1/2/")) {
        const char *want = !strncmp(routes[r], "operate_task", 12) ||
                                   !strncmp(routes[r], "node_callback", 13)
                               ? "invalid json format"
                               : "request body is not a valid json";
        if (strcmp(a, view(0, want, 3540000)))
          TEST_FAIL_("%s with %s: %.300s", routes[r], b->what, a);
      }
      release_to(mark);
    }
  /* A 10 MB string in get_tasks_status's list is no id: left out. */
  ASSERT_STR(post(e, "get_tasks_status/2/", big_list),
             "{\"result\": true, \"data\": [], \"code\": 0, "
             "\"trace_id\": \"" TRACE "\"}");
  /* A body past the 64 MiB limit is not read. */
  size_t huge_n = ((size_t)64 << 20) + 1;
  char *huge = malloc(huge_n);
  ASSERT(huge);
  memset(huge, ' ', huge_n);
  huge[0] = '{';
  huge[huge_n - 1] = '}';
  char *a = call(e, "POST", "operate_task/1/2/", NULL, huge, huge_n);
  ASSERT_STR(a, view(0, "invalid json format", 3540000));
  memcpy(huge, "{\"action\": \"pause\"}", 19);
  a = call(e, "POST", "operate_task/1/2/", NULL, huge, huge_n);
  ASSERT_STR(a, view(0, "invalid json format", 3540000));
  free(huge);

  /* Nothing changed. */
  ASSERT_EQ(task_count(e), 1);
  size_t yl;
  void *y = export_of(e, "1", &yl);
  ASSERT_EQ(xl, yl);
  ASSERT(!memcmp(x, y, xl));
  ASSERT_STR(GET(e, "get_task_status/1/2/", NULL), before);
  EXPECT_STATE(e, "1", "w", RATTAN_STATE_RUNNING);
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);
  release();
  rattan_close(e);
}

/* ---- Readers beside a writer ------------------------------------------------
 */

typedef struct reader {
  rattan_engine *e;
  int iterations;
  int answers;
  int *done;
} reader;

static void *read_routes(void *arg) {
  reader *r = arg;
  static const char *const detail[] = {"node_id", "n0"};
  static const char *const ex[] = {"with_ex_data", "1"};
  static const char *const batch =
      "{\"task_id_list\": [1, \"2\", 3, 4, 5, \"zz\"], "
      "\"include_children_status\": true}";
  for (int i = 0; i < r->iterations; i++)
    for (int k = 0; k < 3; k++) {
      rattan_request rq;
      rattan_request_init(&rq);
      rq.trace_id = i % 3 ? TRACE : NULL; /* NULL: a random one */
      if (k == 0) {
        rq.path = "get_task_status/1/2/";
        rq.params = i % 2 ? ex : NULL;
        rq.n_params = i % 2;
      } else if (k == 1) {
        rq.method = "POST";
        rq.path = "/prod/get_tasks_status/2/";
        rq.body = batch;
        rq.body_len = strlen(batch);
      } else {
        rq.path = "get_task_node_detail/1/2/";
        rq.params = detail;
        rq.n_params = 1;
      }
      if (!rattan_gateway_reads(rq.path)) TEST_FAIL_("%s reads", rq.path);
      char *out = NULL;
      size_t len = 0;
      int http = 0;
      int rc = rattan_gateway(r->e, &rq, &out, &len, &http);
      json_t *j = check_answer(rc, out, len, http);
      if (rc || http != 200) TEST_FAIL_("%s: %s", rq.path, out);
      if (k == 0) {
        const char *st = json_string_value(
            json_object_get(json_object_get(j, "data"), "state"));
        if (!st || (strcmp(st, "RUNNING") && strcmp(st, "FINISHED")))
          TEST_FAIL_("task 1 is %s", st ? st : "?");
      }
      json_decref(j);
      rattan_free(out);
      r->answers++;
    }
  __atomic_add_fetch(r->done, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

void test_gateway_concurrent_reads(void) {
  rattan_engine *e = open_engine("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fan(p, "pg", "cg", "n", 40, "noop");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_link(p, "s pg");
  tb_link(p, "cg e");
  gw_create(e, "2", keep(tb_json(p), 1), "1");
  gw_create(e, "2", tree_pause(), "2");
  gw_create(e, "2", tree_fail(), "3");
  for (int i = 1; i <= 3; i++) {
    post(e, fmt("start_task/%d/2/", i), "");
    ASSERT_OK(last_rc, "start");
  }
  xu_drive(e, "2");
  xu_drive(e, "3");
  EXPECT_STATE(e, "3", "bad", RATTAN_STATE_FAILED);

  int done = 0;
  enum { READERS = 4 };
  reader r[READERS];
  pthread_t th[READERS];
  for (int i = 0; i < READERS; i++) {
    r[i] = (reader){.e = e, .iterations = 300, .done = &done};
    ASSERT_EQ(pthread_create(&th[i], NULL, read_routes, &r[i]), 0);
  }
  /* The writer: drives task 1 in slices, creates, starts, pauses,
   * resumes, retries and calls back through the write routes. */
  int mark = npool, created = 3, rounds = 0;
  while (__atomic_load_n(&done, __ATOMIC_SEQ_CST) < READERS) {
    rattan_drive_result res;
    ASSERT_OK(rattan_drive(e, "1", 2, &res), rattan_errmsg(e));
    if (created < 60) {
      char id[16];
      snprintf(id, sizeof id, "%d", ++created);
      gw_create(e, "2", tree_pause(), id);
      post(e, fmt("start_task/%s/2/", id), "");
      ASSERT_OK(last_rc, "start");
      ASSERT_OK(rattan_drive(e, id, 0, &res), rattan_errmsg(e));
      post(e, fmt("node_callback/%s/2/", id),
           "{\"node_id\": \"w\", \"callback_data\": {\"i\": 1}}");
      ASSERT_OK(last_rc, "callback");
      ASSERT_OK(rattan_drive(e, id, 0, &res), rattan_errmsg(e));
      ASSERT_EQ(xu_task_state(e, id), RATTAN_STATE_FINISHED);
    }
    post(e, "operate_task/2/2/",
         rounds % 2 ? "{\"action\": \"resume\"}" : "{\"action\": \"pause\"}");
    ASSERT_OK(last_rc, "pause / resume");
    post(e, "operate_node/2/3/",
         "{\"node_id\": \"bad\", \"action\": \"retry\"}");
    ASSERT_OK(last_rc, "retry");
    ASSERT_OK(rattan_drive(e, "3", 0, &res), rattan_errmsg(e));
    rounds++;
    release_to(mark);
  }
  for (int i = 0; i < READERS; i++) {
    ASSERT_EQ(pthread_join(th[i], NULL), 0);
    ASSERT_EQ(r[i].answers, 300 * 3);
  }
  ASSERT(rounds > 0);
  xu_drive(e, "1");
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_FINISHED);
  EXPECT_NODE(e, "3", "bad", RATTAN_STATE_FAILED, 1, 1, rounds, 0, 0);
  ASSERT_EQ(task_count(e), created);
  release();
  rattan_close(e);
}

/* ---- Differences from SOPS
 * ---------------------------------------------------- get_tasks_status reads
 * params.get("task_id_list", []): a body without the key asks for no tasks, and
 * SOPS answers an empty list. */
void test_gateway_tasks_status_missing_list(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_noop(), "1");
  ASSERT_STR(post(e, "get_tasks_status/2/", "{}"),
             "{\"result\": true, \"data\": [], \"code\": 0, \"trace_id\": "
             "\"" TRACE "\"}");
  ASSERT_STR(
      post(e, "get_tasks_status/2/", "{\"include_children_status\": true}"),
      "{\"result\": true, \"data\": [], \"code\": 0, \"trace_id\": "
      "\"" TRACE "\"}");
  release();
  rattan_close(e);
}

/* include_children_status is a DRF BooleanField (djangorestframework
 * 3.15.2, bk-sops' pin): TRUE_VALUES are 't', 'T', 'y', 'Y', 'yes', 'Yes',
 * 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON', '1', 1 and True. */
void test_gateway_tasks_status_drf_bool(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_noop(), "1");
  char *kids = post(e, "get_tasks_status/2/",
                    "{\"task_id_list\": [1], \"include_children_status\": "
                    "true}");
  ASSERT_CONTAINS(kids, "\"children\"");
  const char *yes[] = {"\"t\"",   "\"T\"",  "\"y\"", "\"Y\"",
                       "\"YES\"", "\"ON\"", "1.0"};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
    char *a = post(e, "get_tasks_status/2/",
                   fmt("{\"task_id_list\": [1], \"include_children_status\": "
                       "%s}",
                       yes[i]));
    if (strcmp(a, kids))
      TEST_FAIL_("include_children_status %s: %s", yes[i], a);
  }
  release();
  rattan_close(e);
}

/* The emitter stops at 64 open levels (api/emit.h EM_DEPTH_MAX) and calls
 * that out of memory, but rattan_task_create stores definitions nested
 * deeper: create_task then creates the task and answers RATTAN_ENOMEM
 * without an envelope (the caller never learns the id), and every later
 * get_task_detail and get_task_node_detail of the task does the same. */
void test_gateway_deep_definition(void) {
  rattan_engine *e = open_engine("db", 0);
  char deep[200];
  memset(deep, '[', 60);
  memset(deep + 60, ']', 60);
  deep[120] = '\0';
  json_t *p = TB_LINE("p", "s a e", "noop");
  tb_in(tb_node(p, "a"), "x", "plain", json_loads(deep, 0, NULL));
  char *tree = keep(tb_json(p), 1);
  rattan_request rq;
  rattan_request_init(&rq);
  rq.method = "POST";
  rq.path = "create_task/2/";
  rq.body = create_body("deep", tree);
  rq.body_len = strlen(rq.body);
  rq.trace_id = TRACE;
  char *out = NULL;
  size_t len = 0;
  int http = 0;
  int rc = rattan_gateway(e, &rq, &out, &len, &http);
  if (!out)
    TEST_FAIL_("create_task: %s without an answer; tasks now: %d",
               rattan_errname(rc), task_count(e));
  json_decref(check_answer(rc, out, len, http));
  keep(out, 0);
  if (rc == RATTAN_OK) {
    /* Created: its reads answer too. */
    ASSERT_EQ(task_count(e), 1);
    GET(e, "get_task_detail/1/2/", NULL);
    ASSERT_OK(last_rc, "get_task_detail");
    ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
    xu_drive(e, "1");
    GET(e, "get_task_node_detail/1/2/", "node_id", "a");
    ASSERT_OK(last_rc, "get_task_node_detail");
  } else {
    ASSERT_EQ(task_count(e), 0); /* refused: nothing stored */
  }
  release();
  rattan_close(e);
}

/* get_task_node_detail for a node id longer than 64 bytes: a node the
 * task does not have, which rattan.h promises SOPS's refusal for (code
 * 3540000, get_node_detail's message); the answer is the engine-failure
 * envelope instead ("fail: node id ... longer than 64 bytes", 3599999). */
static const char *node_detail_refusal(const char *task, const char *node) {
  return fmt(
      "{\"result\": false, \"message\": %s, \"data\": {}, \"code\": "
      "3540000, \"trace_id\": \"" TRACE "\"}",
      pystr(fmt("节点状态请求失败: 任务[ID: %s]中未找到节点[ID: %s]. "
                "请重试. 如持续失败可联系管理员处理 | get_node_detail",
                task, node)));
}

void test_gateway_node_detail_long_node_id(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_noop(), "1");
  char node[80];
  memset(node, 'a', 65);
  node[64] = '\0'; /* 64 bytes: the refusal */
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "node_id", node),
             node_detail_refusal("1", node));
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  node[64] = 'a';
  node[65] = '\0';
  ASSERT_STR(GET(e, "get_task_node_detail/1/2/", "node_id", node),
             node_detail_refusal("1", node));
  ASSERT_ERR(last_rc, RATTAN_EINVAL);
  release();
  rattan_close(e);
}

/* SOPS's has_node is PipelineInstance.node_id_set: start and end events,
 * gateways and activities, subprocesses' nodes included, but not the
 * root pipeline's id (bamboo-pipeline models.py _get_node_id_set). The
 * gateway's look() counts the root as a node (api/gateway.c, look():
 * has_node), so operate_node and node_callback pass the root's id to the
 * engine, which refuses it ("fail: task 1: no node p", 3599999) where
 * SOPS answers that the task has no such node (nodes_action's message,
 * and node_callback's "task[1] does not have node[p]" with 3540000). */
void test_gateway_root_is_no_node(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_pause(), "1");
  ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
  xu_drive(e, "1");
  ASSERT_STR(post(e, "operate_node/2/1/",
                  "{\"node_id\": \"p\", \"action\": \"pause_subproc\"}"),
             node_missing("1", "p"));
  ASSERT_EQ(xu_task_state(e, "1"), RATTAN_STATE_RUNNING);
  ASSERT_STR(post(e, "node_callback/1/2/",
                  "{\"node_id\": \"p\", \"callback_data\": {}}"),
             view(0, "task[1] does not have node[p]", 3540000));
  release();
  rattan_close(e);
}

/* Django's QueryDict.get returns the last value of a repeated parameter
 * (MultiValueDict.__getitem__); the gateway's param() takes the first,
 * and rattan serve passes every pair in order. */
void test_gateway_query_last_value(void) {
  rattan_engine *e = open_engine("db", 0);
  gw_create(e, "2", tree_sub_fail(), "1");
  ASSERT_OK(rattan_task_start(e, "1"), rattan_errmsg(e));
  xu_drive(e, "1");
  ASSERT_STR(
      GET(e, "get_task_status/1/2/", "with_ex_data", "", "with_ex_data", "1"),
      status_of(e, "1", NULL, 1, 480, NULL, 0));
  ASSERT_STR(GET(e, "get_task_status/1/2/", "subprocess_id", "nope",
                 "subprocess_id", "sp"),
             status_of(e, "1", "sp", 0, 480, NULL, 0));
  release();
  rattan_close(e);
}
