/*
 * get_task_status: the seeds' examples rebuilt and compared key by key,
 * SOPS's rules (folding, names, ex_data, the root quirks, CREATED, times,
 * rounding), and the three encodings carrying the same maps: msgpack and
 * CBOR are decoded with msgpack-c's and libcbor's own decoders and must
 * give the JSON output's bytes.
 */
#include <cbor.h>
#include <ctype.h>
#include <msgpack.h>

#include "exec_util.h"

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

static json_t *status_json(rattan_engine *e, const char *task,
                           rattan_profile p, int ex, const char *sub) {
  char *text = status(e, task, p, RATTAN_FORMAT_JSON, ex, sub, NULL);
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) TEST_FAIL_("status is not JSON: %s: %s", je.text, text);
  rattan_free(text);
  return j;
}

/* ---- Golden comparison ------------------------------------------------------ */

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
    if (strcmp(gk, wk)) TEST_FAIL_("%s: key \"%s\" where the seed has it", sub,
                                   gk);
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
    json_object_set_new(json_object_get(p, "flows"), f,
                        json_pack("{s:s,s:s,s:s,s:b}", "id", f, "source",
                                  ids[i], "target", ids[i + 1], "is_default",
                                  0));
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
  rattan_call_fail(c, "\xe5\xae\x9a\xe6\x97\xb6\xe6\x97\xb6\xe9\x97\xb4\xe9\x9c"
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
    char *bytes = status(e, "10", RATTAN_PROFILE_SOPS_V1, (rattan_format)f, 1,
                         NULL, &n);
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

/* ---- Encodings ------------------------------------------------------------------- */

static json_t *from_msgpack(const msgpack_object *o) {
  switch (o->type) {
    case MSGPACK_OBJECT_NIL:
      return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
      return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
      return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
      return json_integer(o->via.i64);
    case MSGPACK_OBJECT_STR:
      return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY: {
      json_t *a = json_array();
      for (uint32_t i = 0; i < o->via.array.size; i++)
        json_array_append_new(a, from_msgpack(&o->via.array.ptr[i]));
      return a;
    }
    case MSGPACK_OBJECT_MAP: {
      json_t *m = json_object();
      for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        ASSERT(kv->key.type == MSGPACK_OBJECT_STR);
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.via.str.size,
                 kv->key.via.str.ptr);
        json_object_set_new(m, key, from_msgpack(&kv->val));
      }
      return m;
    }
    default:
      TEST_FAIL_("unexpected msgpack type %d", (int)o->type);
  }
}

static json_t *from_cbor(cbor_item_t *it) {
  switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT:
      return json_integer((json_int_t)cbor_get_int(it));
    case CBOR_TYPE_NEGINT:
      return json_integer(-1 - (json_int_t)cbor_get_int(it));
    case CBOR_TYPE_STRING:
      ASSERT(cbor_string_is_definite(it));
      return json_stringn((const char *)cbor_string_handle(it),
                          cbor_string_length(it));
    case CBOR_TYPE_MAP: {
      json_t *m = json_object();
      struct cbor_pair *p = cbor_map_handle(it);
      for (size_t i = 0; i < cbor_map_size(it); i++) {
        char key[256];
        ASSERT(cbor_isa_string(p[i].key));
        snprintf(key, sizeof key, "%.*s", (int)cbor_string_length(p[i].key),
                 (const char *)cbor_string_handle(p[i].key));
        json_object_set_new(m, key, from_cbor(p[i].value));
      }
      return m;
    }
    case CBOR_TYPE_ARRAY: {
      json_t *a = json_array();
      for (size_t i = 0; i < cbor_array_size(it); i++)
        json_array_append_new(a, from_cbor(cbor_array_handle(it)[i]));
      return a;
    }
    case CBOR_TYPE_FLOAT_CTRL:
      if (cbor_is_null(it)) return json_null();
      ASSERT(cbor_is_bool(it));
      return json_boolean(cbor_get_bool(it));
    default:
      TEST_FAIL_("unexpected CBOR type %d", (int)cbor_typeof(it));
  }
}

/* jansson writes ", " and ": " too; only its \u escapes are upper case,
 * where Python's are lower case. */
static char *python_dumps(json_t *j) {
  char *s = json_dumps(j, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
  ASSERT(s);
  for (char *p = s; (p = strstr(p, "\\u")); p += 2)
    for (int i = 2; i < 6; i++)
      p[i] = (char)tolower((unsigned char)p[i]);
  return s;
}

/* The msgpack and CBOR answers decode to the JSON answer's bytes. */
static void expect_encodings_agree(rattan_engine *e, const char *task,
                                   rattan_profile p, int ex, const char *sub) {
  char *json = status(e, task, p, RATTAN_FORMAT_JSON, ex, sub, NULL);
  size_t n;
  char *mp = status(e, task, p, RATTAN_FORMAT_MSGPACK, ex, sub, &n);
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  ASSERT_EQ(msgpack_unpack_next(&u, mp, n, &off), MSGPACK_UNPACK_SUCCESS);
  ASSERT_EQ(off, n);
  json_t *j = from_msgpack(&u.data);
  char *text = python_dumps(j);
  ASSERT_STR(text, json);
  free(text);
  json_decref(j);
  msgpack_unpacked_destroy(&u);
  rattan_free(mp);

  char *cb = status(e, task, p, RATTAN_FORMAT_CBOR, ex, sub, &n);
  struct cbor_load_result r;
  cbor_item_t *it = cbor_load((const unsigned char *)cb, n, &r);
  ASSERT(it && r.error.code == CBOR_ERR_NONE && r.read == n);
  j = from_cbor(it);
  text = python_dumps(j);
  ASSERT_STR(text, json);
  free(text);
  json_decref(j);
  cbor_decref(&it);
  rattan_free(cb);
  rattan_free(json);
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
