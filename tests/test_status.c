/*
 * get_task_status: the seeds' examples rebuilt and compared key by key,
 * SOPS's rules (folding, names, ex_data, the root quirks, CREATED, times,
 * rounding), and the three encodings carrying the same maps: msgpack and
 * CBOR are decoded with msgpack-c's and libcbor's own decoders and must
 * give the JSON output's bytes.
 */
#include <ctype.h>
#include <pthread.h>

#include "exec_util.h"
#include "fuzz/decode.h"
#include "store/mem.h"

/* 2020-08-17 12:13:53 UTC: seed 000's times, +08:00 in the seed. */
#define SEED000_T 1597666433000000LL
/* 2023-06-15 09:29:41 UTC: seed 004's. */
#define SEED004_T 1686821381000000LL

static rattan_engine *open_fixed(const char *name, int64_t at) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  o.clock.kind = RATTAN_CLOCK_FIXED;
  o.clock.start_us = at;
  o.has_seed = 1;
  o.seed = 7;
  rattan_engine *e;
  char msg[512];
  ASSERT_OK(rattan_open(test_path(name), &o, &e, msg, sizeof msg), msg);
  xu_register(e);
  return e;
}

/* The status as text (JSON) or bytes; the caller frees it. */
static char *status(rattan_engine *e, const char *task, rattan_profile p,
                    rattan_format f, int ex, const char *sub, size_t *len) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.profile = p;
  o.format = f;
  o.with_ex_data = ex;
  o.subprocess_id = sub;
  o.trace_id = "xxx";
  char *out;
  size_t n;
  ASSERT_OK(rattan_task_status(e, task, &o, &out, &n), rattan_errmsg(e));
  ASSERT(out);
  if (len) *len = n;
  return out;
}

static json_t *status_json(rattan_engine *e, const char *task, rattan_profile p,
                           int ex, const char *sub) {
  char *text = status(e, task, p, RATTAN_FORMAT_JSON, ex, sub, NULL);
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) TEST_FAIL_("status is not JSON: %s: %s", je.text, text);
  rattan_free(text);
  return j;
}

/* ---- Golden comparison ------------------------------------------------------
 */

static int all(const char *s, const char *set) {
  return strspn(s, set) == strlen(s);
}

/* s has the shape of pattern, where 9 stands for a digit. */
static int shaped(const char *s, const char *pattern) {
  if (strlen(s) != strlen(pattern)) return 0;
  for (; *s; s++, pattern++)
    if (*pattern == '9' ? !isdigit((unsigned char)*s) : *s != *pattern)
      return 0;
  return 1;
}

/* Values that are times or versions must have the seed's format; the
 * rest must be equal. */
static void expect_like(const char *path, const char *key, json_t *got,
                        json_t *want) {
  const char *g = json_string_value(got), *w = json_string_value(want);
  if (!strcmp(key, "start_time") || !strcmp(key, "finish_time")) {
    ASSERT(g && w);
    if (!*w && *g) TEST_FAIL_("%s: \"%s\" where the seed has \"\"", path, g);
    if (*w && !shaped(g, "9999-99-99 99:99:99 +9999"))
      TEST_FAIL_("%s: \"%s\" is not like \"%s\"", path, g, w);
  } else if (!strcmp(key, "state_refresh_at")) {
    ASSERT(g && w);
    if (!shaped(g, "9999-99-99T99:99:99Z") &&
        !shaped(g, "9999-99-99T99:99:99.999Z"))
      TEST_FAIL_("%s: \"%s\" is not like \"%s\"", path, g, w);
  } else if (!strcmp(key, "version")) {
    ASSERT(g && w);
    int v = w[0] == 'v';
    if (strlen(g) != strlen(w) || (*w && (g[0] == 'v') != v) ||
        !all(g + v, "0123456789abcdef"))
      TEST_FAIL_("%s: \"%s\" is not like \"%s\"", path, g, w);
  } else if (!strcmp(key, "elapsed_time")) {
    ASSERT(json_is_integer(got));
  } else if (!strcmp(key, "request_id") || !strcmp(key, "trace_id")) {
    ASSERT(g);
  } else if (!json_equal(got, want)) {
    char *a = json_dumps(got, JSON_ENCODE_ANY),
         *b = json_dumps(want, JSON_ENCODE_ANY);
    TEST_FAIL_("%s: %s, the seed has %s", path, a, b);
  }
}

/* got and want have the same keys in the same order at every level. */
static void expect_shape(const char *path, json_t *got, json_t *want) {
  if (!json_is_object(want)) return;
  if (!json_is_object(got)) TEST_FAIL_("%s: not an object", path);
  if (json_object_size(got) != json_object_size(want))
    TEST_FAIL_("%s: %zu keys, the seed has %zu", path, json_object_size(got),
               json_object_size(want));
  void *gi = json_object_iter(got), *wi = json_object_iter(want);
  for (; wi; gi = json_object_iter_next(got, gi),
             wi = json_object_iter_next(want, wi)) {
    const char *gk = json_object_iter_key(gi), *wk = json_object_iter_key(wi);
    char sub[512];
    snprintf(sub, sizeof sub, "%s.%s", path, wk);
    if (strcmp(gk, wk))
      TEST_FAIL_("%s: key \"%s\" where the seed has it", sub, gk);
    json_t *gv = json_object_iter_value(gi), *wv = json_object_iter_value(wi);
    if (json_is_object(wv))
      expect_shape(sub, gv, wv);
    else
      expect_like(sub, wk, gv, wv);
  }
}

static void expect_seed(json_t *got, const char *seed) {
  json_error_t je;
  char path[64];
  snprintf(path, sizeof path, "tests/data/seeds/%s", seed);
  json_t *want = json_load_file(path, 0, &je);
  if (!want) TEST_FAIL_("%s: %s", path, je.text);
  expect_shape("$", got, want);
  json_decref(want);
}

/* Flows "l1", "l2", ... along ids (SOPS ids are too long for tb_link's
 * flow names). */
static void link_ids(json_t *p, const char *const *ids, int n) {
  for (int i = 0; i + 1 < n; i++) {
    char f[16];
    snprintf(f, sizeof f, "l%d", i + 1);
    json_object_set_new(
        json_object_get(p, "flows"), f,
        json_pack("{s:s,s:s,s:s,s:b}", "id", f, "source", ids[i], "target",
                  ids[i + 1], "is_default", 0));
  }
}

/* Seed 000's scenario: a start event, then the timer "Timing", which
 * fails because its time is already past. */
static json_t *seed000_tree(const char *timer_name, const char *code) {
  json_t *p = tb_new("ndf194ddb9e6365da1902dbd51610e9a",
                     "n00e3a0396403a19a4517d8e2eb0b015",
                     "n0a54a9c2b5d63ec1b4c6b0b4f3a6c9ee");
  json_t *t = tb_act(p, "nb346e202d17387082189f95dd3f80ca", code);
  json_object_set_new(t, "name", json_string(timer_name));
  tb_in(t, "bk_timing", "plain", json_string("2020-08-17 12:00:00"));
  const char *ids[] = {"n00e3a0396403a19a4517d8e2eb0b015",
                       "nb346e202d17387082189f95dd3f80ca",
                       "n0a54a9c2b5d63ec1b4c6b0b4f3a6c9ee"};
  link_ids(p, ids, 3);
  return p;
}

void test_status_seed000_v1(void) {
  rattan_engine *e = open_fixed("db", SEED000_T);
  xu_run(e, seed000_tree("Timing", "sleep_timer"), "10");
  json_t *got = status_json(e, "10", RATTAN_PROFILE_SOPS_V1, 1, NULL);
  expect_seed(got, "000.json");
  json_decref(got);
  rattan_close(e);
}

static int fail_cn(rattan_call *c, void *ctx) {
  (void)ctx;
  rattan_call_fail(c,
                   "\xe5\xae\x9a\xe6\x97\xb6\xe6\x97\xb6\xe9\x97\xb4\xe9\x9c"
                   "\x80\xe6\x99\x9a\xe4\xba\x8e\xe5\xbd\x93\xe5\x89\x8d\xe6"
                   "\x97\xb6\xe9\x97\xb4"); /* 定时时间需晚于当前时间 */
  return 1;
}

/* Seed 001: the same with Chinese text: ASCII escapes in JSON, UTF-8 in
 * msgpack and CBOR. */
void test_status_seed001_chinese(void) {
  rattan_engine *e = open_fixed("db", SEED000_T);
  rattan_component c = {.code = "timer_cn", .execute = fail_cn};
  ASSERT_OK(rattan_component_register(e, &c), rattan_errmsg(e));
  xu_run(e, seed000_tree("\xe5\xae\x9a\xe6\x97\xb6", "timer_cn"), "10");
  char *text = status(e, "10", RATTAN_PROFILE_SOPS_V1, RATTAN_FORMAT_JSON, 1,
                      NULL, NULL);
  ASSERT_CONTAINS(text, "\"name\": \"\\u5b9a\\u65f6\"");
  for (const char *p = text; *p; p++)
    ASSERT((unsigned char)*p < 0x80);
  json_t *got = json_loads(text, 0, NULL);
  expect_seed(got, "001.json");
  json_decref(got);
  rattan_free(text);
  for (int f = RATTAN_FORMAT_MSGPACK; f <= RATTAN_FORMAT_CBOR; f++) {
    size_t n;
    char *bytes =
        status(e, "10", RATTAN_PROFILE_SOPS_V1, (rattan_format)f, 1, NULL, &n);
    ASSERT(memmem(bytes, n, "\xe5\xae\x9a\xe6\x97\xb6", 6));
    rattan_free(bytes);
  }
  rattan_close(e);
}

/* Seed 004: three finished nodes, BKFlow's shape. */
void test_status_seed004_bkflow(void) {
  rattan_engine *e = open_fixed("db", SEED004_T);
  const char *ids[] = {"n112ae5c16c233efa5f3bff5b6c6375b",
                       "nd1b94a5f14432d58622caee297273ca",
                       "n97aec67e7a7341a9c2c36604cc8335c"};
  json_t *p = tb_new("ne7b82d4b9fd3378b93f97c2222a4b62", ids[0], ids[2]);
  tb_act(p, ids[1], "noop");
  link_ids(p, ids, 3);
  xu_run(e, p, "t");
  json_t *got = status_json(e, "t", RATTAN_PROFILE_BKFLOW, 0, NULL);
  expect_seed(got, "004.json");
  json_decref(got);
  rattan_close(e);
}

/* ---- Encodings
 * ------------------------------------------------------------------- */

/* The msgpack and CBOR answers decode to the JSON answer's bytes. */
static void expect_same_maps(const char *json, const char *mp, size_t mpn,
                             const char *cb, size_t cbn) {
  json_t *j[2] = {fz_from_msgpack(mp, mpn), fz_from_cbor(cb, cbn)};
  for (int i = 0; i < 2; i++) {
    ASSERT(j[i]);
    char *text = fz_python_dumps(j[i]);
    ASSERT(text);
    ASSERT_STR(text, json);
    rt_free(text);
    json_decref(j[i]);
  }
}

static void expect_encodings_agree(rattan_engine *e, const char *task,
                                   rattan_profile p, int ex, const char *sub) {
  size_t mpn, cbn;
  char *json = status(e, task, p, RATTAN_FORMAT_JSON, ex, sub, NULL);
  char *mp = status(e, task, p, RATTAN_FORMAT_MSGPACK, ex, sub, &mpn);
  char *cb = status(e, task, p, RATTAN_FORMAT_CBOR, ex, sub, &cbn);
  expect_same_maps(json, mp, mpn, cb, cbn);
  rattan_free(json);
  rattan_free(mp);
  rattan_free(cb);
}

/* A task with a subprocess holding a parallel gateway, a failed branch
 * and Chinese names; a second task never started. */
static void mixed_tasks(rattan_engine *e) {
  json_t *child = tb_new("sp", "sp_s", "sp_e");
  tb_fork(child, "pg", "ParallelGateway", "cg");
  tb_act(child, "ok", "noop");
  json_t *bad = tb_act(child, "bad", "fail");
  json_object_set_new(bad, "name", json_string("\xe5\xa4\xb1\xe8\xb4\xa5"));
  tb_in(bad, "message", "plain", json_string("boom \"quoted\"\n"));
  tb_link(child, "sp_s pg ok cg sp_e");
  tb_link(child, "pg bad cg");
  json_t *p = tb_new("root", "s", "e");
  tb_act(p, "a", "noop");
  tb_sub(p, "sp", child);
  tb_link(p, "s a sp e");
  xu_run(e, p, "t");
  char *fresh = tb_json(TB_LINE("p2", "s2 x e2", "noop"));
  xu_create(e, fresh, "fresh");
  free(fresh);
}

void test_status_encodings_agree(void) {
  rattan_engine *e = xu_open("db", 0);
  mixed_tasks(e);
  for (int p = 0; p < 3; p++)
    for (int ex = 0; ex < 2; ex++) {
      expect_encodings_agree(e, "t", (rattan_profile)p, ex, NULL);
      expect_encodings_agree(e, "t", (rattan_profile)p, ex, "sp");
      expect_encodings_agree(e, "fresh", (rattan_profile)p, ex, NULL);
    }
  rattan_close(e);
}

/* ---- SOPS's rules
 * ---------------------------------------------------------------- */

static json_t *at(json_t *j, const char *path) {
  char *copy = strdup(path), *save = NULL;
  for (char *k = strtok_r(copy, ".", &save); k && j;
       k = strtok_r(NULL, ".", &save))
    j = json_object_get(j, k);
  free(copy);
  if (!j) TEST_FAIL_("no %s", path);
  return j;
}

static const char *str_at(json_t *j, const char *path) {
  const char *s = json_string_value(at(j, path));
  if (!s) TEST_FAIL_("%s is not a string", path);
  return s;
}

/* The keys of an object, space separated, in order. */
static const char *keys(json_t *o) {
  static char out[1024];
  out[0] = '\0';
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    if (out[0]) strcat(out, " ");
    strcat(out, k);
  }
  return out;
}

void test_status_v2_rules(void) {
  rattan_engine *e = xu_open("db", 0);
  mixed_tasks(e);
  json_t *j = status_json(e, "t", RATTAN_PROFILE_SOPS_V2, 1, NULL);
  ASSERT_STR(keys(j), "result data code message trace_id");
  json_t *d = at(j, "data");
  ASSERT_STR(keys(d),
             "id state root_id: parent_id version loop retry skip "
             "error_ignorable error_ignored children elapsed_time start_time "
             "finish_time ex_data name");
  /* The root stays RUNNING in the engine; SOPS folds it from the failed
   * branch, through the subprocess. */
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_RUNNING);
  ASSERT_STR(str_at(d, "state"), "FAILED");
  ASSERT_STR(str_at(d, "children.sp.state"), "FAILED");
  ASSERT_STR(str_at(d, "id"), "root");
  ASSERT_STR(str_at(d, "parent_id"), "root");
  ASSERT_STR(str_at(d, "root_id:"), "root");
  ASSERT_STR(str_at(d, "name"), "t");
  ASSERT(json_is_null(at(d, "finish_time")));
  /* Children in creation order, names from the definition. */
  ASSERT_STR(keys(at(d, "children")), "s a sp");
  ASSERT_STR(keys(at(d, "children.sp.children")), "sp_s pg ok bad");
  ASSERT_STR(str_at(d, "children.s.name"), "");
  ASSERT_STR(str_at(d, "children.a.name"), "a");
  ASSERT_STR(str_at(d, "children.sp.name"), "sp");
  ASSERT_STR(str_at(d, "children.sp.children.pg.name"), "");
  ASSERT_STR(str_at(d, "children.sp.children.bad.name"),
             "\xe5\xa4\xb1\xe8\xb4\xa5");
  ASSERT_STR(str_at(d, "children.sp.parent_id"), "root");
  ASSERT_STR(str_at(d, "children.sp.children.ok.parent_id"), "sp");
  ASSERT_STR(str_at(d, "children.sp.children.ok.root_id:"), "root");
  /* ex_data: failed leaves only, on the top node only. */
  ASSERT_STR(keys(at(d, "ex_data")), "bad");
  ASSERT_STR(str_at(d, "ex_data.bad"), "boom \"quoted\"\n");
  ASSERT(!json_object_get(at(d, "children.sp"), "ex_data"));
  json_decref(j);

  /* Without with_ex_data there is none. */
  j = status_json(e, "t", RATTAN_PROFILE_SOPS_V2, 0, NULL);
  ASSERT(!json_object_get(at(j, "data"), "ex_data"));
  json_decref(j);

  /* Below a subprocess_id query every name is "" but the top's, which is
   * the task's; the top keeps its own parent_id. */
  j = status_json(e, "t", RATTAN_PROFILE_SOPS_V2, 1, "sp");
  d = at(j, "data");
  ASSERT_STR(str_at(d, "id"), "sp");
  ASSERT_STR(str_at(d, "parent_id"), "root");
  ASSERT_STR(str_at(d, "name"), "t");
  ASSERT_STR(str_at(d, "state"), "FAILED");
  ASSERT_STR(str_at(d, "children.bad.name"), "");
  ASSERT_STR(str_at(d, "children.ok.name"), "");
  ASSERT_STR(str_at(d, "ex_data.bad"), "boom \"quoted\"\n");
  json_decref(j);

  /* A subprocess that never ran, and a task never started: CREATED, with
   * no id, skip 0 and the early path's key order. */
  const char *created[] = {"t", "fresh"};
  for (int i = 0; i < 2; i++) {
    j = status_json(e, created[i], RATTAN_PROFILE_SOPS_V2, 1,
                    i ? NULL : "nope");
    ASSERT_STR(keys(j), "result data message code trace_id");
    ASSERT_STR(keys(at(j, "data")),
               "start_time state retry skip finish_time elapsed_time "
               "children name");
    ASSERT_STR(str_at(j, "data.state"), "CREATED");
    ASSERT(json_is_integer(at(j, "data.skip")));
    json_decref(j);
  }
  j = status_json(e, "fresh", RATTAN_PROFILE_BKFLOW, 0, NULL);
  ASSERT_STR(keys(at(j, "data")),
             "start_time state retry skip finish_time elapsed_time children");
  json_decref(j);

  /* An unknown task: SOPS's not-found answer, and RATTAN_ENOTFOUND. */
  char *out;
  size_t n;
  ASSERT_ERR(rattan_task_status(e, "ghost", NULL, &out, &n), RATTAN_ENOTFOUND);
  j = json_loads(out, 0, NULL);
  ASSERT_STR(keys(j), "result message data code");
  ASSERT_EQ(json_integer_value(at(j, "code")), 3540400);
  ASSERT_CONTAINS(str_at(j, "message"), "TaskFlowInstance(id=ghost)");
  json_decref(j);
  rattan_free(out);
  rattan_close(e);
}

/* bamboo's root entry takes both error flags from the last record read,
 * not its own: here an ignored failure created after everything else. */
void test_status_root_flags_quirk(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_act(p, "wait", "pause");
  json_t *ign = tb_act(p, "ign", "fail");
  json_object_set_new(ign, "error_ignorable", json_true());
  tb_link(p, "s pg wait cg e");
  tb_link(p, "pg ign cg");
  xu_run(e, p, "t");
  EXPECT_NODE(e, "t", "ign", RATTAN_STATE_FINISHED, 1, 1, 0, 0, 1);
  EXPECT_NODE(e, "t", "p", RATTAN_STATE_RUNNING, 1, 1, 0, 0, 0);
  json_t *j = status_json(e, "t", RATTAN_PROFILE_SOPS_V2, 0, NULL);
  ASSERT(json_is_true(at(j, "data.error_ignorable")));
  ASSERT(json_is_true(at(j, "data.error_ignored")));
  ASSERT(json_is_false(at(j, "data.children.wait.error_ignored")));
  ASSERT_STR(keys(at(j, "data.children")), "s pg wait ign");
  json_decref(j);
  rattan_close(e);
}

static int64_t hook_now(void *ctx) {
  return *(int64_t *)ctx;
}

/* Times: the zone, elapsed_time rounded half to even (from now while
 * running), state_refresh_at with milliseconds. */
void test_status_times(void) {
  static int64_t now = SEED000_T + 320999;
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  o.clock.kind = RATTAN_CLOCK_HOOK;
  o.clock.now_us = hook_now;
  o.clock.ctx = &now;
  rattan_engine *e;
  char msg[256];
  ASSERT_OK(rattan_open(test_path("db"), &o, &e, msg, sizeof msg), msg);
  xu_register(e);
  xu_run(e, TB_LINE("p", "s wait e", "pause"), "t");
  now += 2500000; /* 2.5 s: rounds to 2 */
  rattan_status_options so;
  rattan_status_options_init(&so);
  so.tz_offset_min = -90;
  char *out;
  ASSERT_OK(rattan_task_status(e, "t", &so, &out, NULL), "status");
  json_t *j = json_loads(out, 0, NULL);
  rattan_free(out);
  ASSERT_EQ(json_integer_value(at(j, "data.children.wait.elapsed_time")), 2);
  ASSERT_STR(str_at(j, "data.children.wait.start_time"),
             "2020-08-17 10:43:53 -0130");
  ASSERT(json_is_null(at(j, "data.children.wait.finish_time")));
  json_decref(j);
  now += 1000000; /* 3.5 s: rounds to 4 */
  j = status_json(e, "t", RATTAN_PROFILE_SOPS_V2, 0, NULL);
  ASSERT_EQ(json_integer_value(at(j, "data.children.wait.elapsed_time")), 4);
  ASSERT_EQ(json_integer_value(at(j, "data.elapsed_time")), 4);
  ASSERT_STR(str_at(j, "data.children.s.finish_time"),
             "2020-08-17 20:13:53 +0800");
  json_decref(j);
  j = status_json(e, "t", RATTAN_PROFILE_SOPS_V1, 0, NULL);
  ASSERT_STR(str_at(j, "data.children.s.state_refresh_at"),
             "2020-08-17T12:13:53.320Z");
  ASSERT_STR(str_at(j, "data.children.wait.finish_time"), "");
  ASSERT_STR(str_at(j, "data.version"), "");
  ASSERT_EQ(strlen(str_at(j, "data.children.s.version")), 32);
  json_decref(j);
  rattan_close(e);
}

/* Children come in creation order (not id order), the same after the
 * engine is reopened. */
void test_status_children_order_reopen(void) {
  rattan_engine *e = xu_open("db", 0);
  xu_run(e, TB_LINE("p", "z y x w", "noop", "noop"), "t");
  char *before =
      status(e, "t", RATTAN_PROFILE_SOPS_V2, RATTAN_FORMAT_JSON, 0, NULL, NULL);
  json_t *j = json_loads(before, 0, NULL);
  ASSERT_STR(keys(at(j, "data.children")), "z y x w");
  json_decref(j);
  e = xu_reopen(e, "db", 0);
  char *after =
      status(e, "t", RATTAN_PROFILE_SOPS_V2, RATTAN_FORMAT_JSON, 0, NULL, NULL);
  ASSERT_STR(after, before);
  rattan_free(before);
  rattan_free(after);
  rattan_close(e);
}

/* Readers on other threads ask for status while one thread drives: every
 * answer is whole (a JSON envelope with a known state), and the last one
 * sees the end. */
typedef struct reader {
  rattan_engine *e;
  volatile int *done;
  int answers;
} reader;

static void *read_status(void *arg) {
  reader *r = arg;
  while (!*r->done || r->answers == 0) {
    char *out;
    size_t n;
    rattan_status_options o;
    rattan_status_options_init(&o);
    o.format = (rattan_format)(r->answers % 3);
    o.trace_id = "t";
    if (rattan_task_status(r->e, "t", &o, &out, &n)) abort();
    if (o.format == RATTAN_FORMAT_JSON) {
      json_t *j = json_loads(out, 0, NULL);
      const char *st = json_string_value(
          json_object_get(json_object_get(j, "data"), "state"));
      if (!st || (strcmp(st, "RUNNING") && strcmp(st, "FINISHED") &&
                  strcmp(st, "CREATED")))
        abort();
      json_decref(j);
    }
    rattan_free(out);
    r->answers++;
  }
  return NULL;
}

void test_status_threads(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = tb_new("p", "s", "e");
  tb_fan(p, "pg", "cg", "n", 200, "noop");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_link(p, "s pg");
  tb_link(p, "cg e");
  xu_start_tree(e, p, "t");
  volatile int done = 0;
  reader r[2] = {{e, &done, 0}, {e, &done, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    ASSERT_EQ(pthread_create(&th[i], NULL, read_status, &r[i]), 0);
  rattan_drive_result res;
  for (;;) {
    ASSERT_OK(rattan_drive(e, "t", 5, &res), rattan_errmsg(e));
    if (!res.more) break;
  }
  done = 1;
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(pthread_join(th[i], NULL), 0);
    ASSERT(r[i].answers > 0);
  }
  json_t *j = status_json(e, "t", RATTAN_PROFILE_SOPS_V2, 0, NULL);
  ASSERT_STR(str_at(j, "data.state"), "FINISHED");
  ASSERT_EQ(json_object_size(at(j, "data.children")), 200 + 4);
  json_decref(j);
  rattan_close(e);
}

/* ---- The related calls
 * -------------------------------------------------------- */

typedef struct call {
  int kind; /* 0 tasks_status, 1 node_detail, 2 task_detail */
  const char *const *tasks;
  size_t n;
  int children;
  const char *task, *node;
  unsigned loop;
  int want; /* the expected return code */
} call;

static char *answer(rattan_engine *e, const call *c, rattan_format f,
                    size_t *len) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.format = f;
  o.trace_id = "xxx";
  char *out = NULL;
  int rc = c->kind == 0 ? rattan_tasks_status(e, c->tasks, c->n, c->children,
                                              &o, &out, len)
           : c->kind == 1
               ? rattan_node_detail(e, c->task, c->node, c->loop, &o, &out, len)
               : rattan_task_detail(e, c->task, &o, &out, len);
  ASSERT_EQ(rc, c->want);
  ASSERT(out);
  return out;
}

/* The call's JSON answer, parsed; its msgpack and CBOR answers agree. */
static json_t *ask(rattan_engine *e, const call *c) {
  size_t mpn, cbn;
  char *json = answer(e, c, RATTAN_FORMAT_JSON, NULL);
  char *mp = answer(e, c, RATTAN_FORMAT_MSGPACK, &mpn);
  char *cb = answer(e, c, RATTAN_FORMAT_CBOR, &cbn);
  expect_same_maps(json, mp, mpn, cb, cbn);
  json_error_t je;
  json_t *j = json_loads(json, 0, &je);
  if (!j) TEST_FAIL_("not JSON: %s: %s", je.text, json);
  rattan_free(json);
  rattan_free(mp);
  rattan_free(cb);
  return j;
}

void test_status_tasks_batch(void) {
  rattan_engine *e = xu_open("db", 0);
  mixed_tasks(e);
  xu_run(e, TB_LINE("p3", "s3 y e3", "noop"), "42");
  const char *ids[] = {"t", "ghost", "fresh", "42"};
  call c = {.kind = 0, .tasks = ids, .n = 4};
  json_t *j = ask(e, &c);
  ASSERT_STR(keys(j), "result data code trace_id");
  json_t *d = at(j, "data");
  ASSERT_EQ(json_array_size(d), 3); /* the unknown id is left out */
  json_t *t0 = json_array_get(d, 0);
  ASSERT_STR(keys(t0),
             "id name status flow_type current_flow is_deleted create_time "
             "start_time finish_time url");
  ASSERT_STR(keys(at(t0, "status")),
             "id state root_id: parent_id version loop retry skip "
             "error_ignorable error_ignored elapsed_time start_time "
             "finish_time name");
  ASSERT_STR(str_at(t0, "status.state"), "FAILED");
  ASSERT_STR(str_at(t0, "current_flow"), "execute_task");
  ASSERT_STR(str_at(t0, "finish_time"), "");
  ASSERT_STR(str_at(json_array_get(d, 1), "status.state"), "CREATED");
  ASSERT(!json_object_get(at(json_array_get(d, 1), "status"), "children"));
  /* A numeric id is a number, as SOPS's are. */
  ASSERT_EQ(json_integer_value(at(json_array_get(d, 2), "id")), 42);
  ASSERT_STR(str_at(json_array_get(d, 2), "current_flow"), "finished");
  json_decref(j);

  c.children = 1;
  j = ask(e, &c);
  ASSERT_STR(keys(at(json_array_get(at(j, "data"), 0), "status.children")),
             "s a sp");
  json_decref(j);

  const char *many[51];
  for (int i = 0; i < 51; i++)
    many[i] = "t";
  call too = {.kind = 0, .tasks = many, .n = 51, .want = RATTAN_ELIMIT};
  j = ask(e, &too);
  ASSERT_STR(str_at(j, "message"),
             "task_id_list is too long, maximum length is 50");
  ASSERT_EQ(json_integer_value(at(j, "code")), 3540000);
  json_decref(j);
  rattan_close(e);
}

void test_status_node_detail(void) {
  rattan_engine *e = xu_open("db", 0);
  mixed_tasks(e);
  /* The failed branch retried once, failing again: one earlier attempt
   * of loop 1. */
  ASSERT_OK(rattan_node_retry(e, "t", "bad", NULL), rattan_errmsg(e));
  xu_drive(e, "t");
  call c = {.kind = 1, .task = "t", .node = "bad"};
  json_t *j = ask(e, &c);
  ASSERT_STR(keys(j), "result data message code trace_id");
  json_t *d = at(j, "data");
  ASSERT_STR(keys(d),
             "id state root_id: parent_id version loop retry skip "
             "error_ignorable error_ignored children elapsed_time start_time "
             "finish_time histories history_id inputs outputs ex_data "
             "auto_retry_info");
  ASSERT_STR(str_at(d, "state"), "FAILED");
  /* get_children_states puts the node's root_id in its parent_id. */
  ASSERT_STR(str_at(d, "parent_id"), "root");
  ASSERT_EQ(json_integer_value(at(d, "retry")), 1);
  ASSERT_EQ(json_integer_value(at(d, "history_id")), -1);
  ASSERT_EQ(json_array_size(at(d, "histories")), 1);
  json_t *h = json_array_get(at(d, "histories"), 0);
  ASSERT_STR(keys(h),
             "id node_id retry loop skip version inputs outputs ex_data state "
             "history_id children elapsed_time start_time finish_time");
  ASSERT_STR(str_at(h, "state"), "FAILED");
  ASSERT_EQ(json_integer_value(at(h, "retry")), 0);
  ASSERT_STR(str_at(h, "ex_data"), "boom \"quoted\"\n");
  ASSERT_STR(str_at(d, "ex_data"), "boom \"quoted\"\n");
  ASSERT_STR(str_at(d, "inputs.message"), "boom \"quoted\"\n");
  json_decref(j);

  /* A subprocess: its direct children, with empty children of theirs. */
  c.node = "sp";
  j = ask(e, &c);
  ASSERT_STR(keys(at(j, "data.children")), "sp_s pg ok bad");
  ASSERT_STR(str_at(j, "data.state"), "RUNNING");
  json_decref(j);

  /* A node that never ran, and one the task does not have. */
  c.node = "e";
  j = ask(e, &c);
  ASSERT_STR(keys(at(j, "data")),
             "name error_ignorable state inputs outputs ex_data");
  ASSERT_STR(str_at(j, "data.state"), "READY");
  json_decref(j);
  c.node = "nope";
  c.want = RATTAN_EINVAL;
  j = ask(e, &c);
  ASSERT_EQ(json_integer_value(at(j, "code")), 3540000);
  ASSERT_CONTAINS(str_at(j, "message"), "[ID: nope]");
  json_decref(j);
  rattan_close(e);
}

/* An earlier loop answers from the history: that loop's last attempt,
 * FINISHED, with its own data. */
void test_status_node_detail_loop(void) {
  rattan_engine *e = xu_open("db", 0);
  char *text = test_slurp("tests/data/loop-sample.json", NULL);
  xu_start(e, text, "t");
  free(text);
  xu_drive(e, "t");
  const char *timer = "nodeb268d09815476dd8a37d373b89ff";
  call c = {.kind = 1, .task = "t", .node = timer, .loop = 2};
  json_t *j = ask(e, &c);
  json_t *d = at(j, "data");
  ASSERT_EQ(json_integer_value(at(d, "loop")), 2);
  ASSERT_STR(str_at(d, "state"), "FINISHED");
  ASSERT_EQ(json_integer_value(at(d, "history_id")), 2);
  ASSERT_STR(str_at(d, "inputs.bk_timing"), "2");
  ASSERT_EQ(json_integer_value(at(d, "elapsed_time")), 2);
  ASSERT_EQ(json_array_size(at(d, "histories")), 0);
  json_decref(j);
  c.loop = 0;
  j = ask(e, &c);
  ASSERT_EQ(json_integer_value(at(j, "data.loop")), 4);
  ASSERT_STR(str_at(j, "data.inputs.bk_timing"), "4");
  json_decref(j);
  rattan_close(e);
}

void test_status_task_detail(void) {
  rattan_engine *e = xu_open("db", 0);
  json_t *p = TB_LINE("p", "s a e", "emit");
  tb_var(p, "${w}", "plain", json_string("x"));
  tb_ref(p, "${answer}", "a", "answer");
  tb_output(p, "${answer}");
  xu_run(e, p, "t");
  call c = {.kind = 2, .task = "t"};
  json_t *j = ask(e, &c);
  ASSERT_STR(keys(at(j, "data")),
             "id name create_time start_time finish_time elapsed_time "
             "pipeline_tree constants outputs");
  ASSERT_STR(str_at(j, "data.pipeline_tree.id"), "p");
  ASSERT_STR(str_at(j, "data.constants.${w}.value"), "x");
  json_t *o = json_array_get(at(j, "data.outputs"), 0);
  ASSERT_STR(str_at(o, "key"), "${answer}");
  ASSERT_EQ(json_integer_value(at(o, "value")), 42);
  json_decref(j);
  c.task = "ghost";
  c.want = RATTAN_ENOTFOUND;
  j = ask(e, &c);
  ASSERT_EQ(json_integer_value(at(j, "code")), 3540400);
  json_decref(j);
  rattan_close(e);
}
