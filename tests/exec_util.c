/* Helpers for the execution and operation tests (see exec_util.h). */
#include "exec_util.h"

#include <sys/stat.h>
#include <time.h>

xu_counter xu_count[XU_N_COMPONENTS];

/* ---- Engine ---------------------------------------------------------------
 */

rattan_engine *xu_open(const char *name, unsigned rerun_limit) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  o.clock.kind = RATTAN_CLOCK_VIRTUAL;
  o.clock.start_us = XU_T0;
  o.has_seed = 1;
  o.seed = 42;
  o.rerun_limit = rerun_limit;
  rattan_engine *e;
  char msg[512];
  ASSERT_OK(rattan_open(test_path(name), &o, &e, msg, sizeof msg), msg);
  xu_register(e);
  return e;
}

rattan_engine *xu_reopen(rattan_engine *e, const char *name,
                         unsigned rerun_limit) {
  rattan_close(e);
  return xu_open(name, rerun_limit);
}

/* ---- Test components ------------------------------------------------------
 */

static const char *const echo_keys[] = XU_ECHO_KEYS;

static void echo(rattan_call *c) {
  for (size_t i = 0; i < sizeof echo_keys / sizeof echo_keys[0]; i++) {
    const char *v = rattan_call_input(c, echo_keys[i]);
    if (v) ASSERT_OK(rattan_call_set_output(c, echo_keys[i], v), echo_keys[i]);
  }
}

static xu_counter *counter(void *ctx) {
  return &xu_count[(int)(intptr_t)ctx];
}

/* Counts an execute and notes what it is for. */
static xu_counter *note_execute(rattan_call *c, void *ctx) {
  xu_counter *k = counter(ctx);
  k->executes++;
  snprintf(k->task, sizeof k->task, "%s", rattan_call_task(c));
  snprintf(k->node, sizeof k->node, "%s", rattan_call_node(c));
  ASSERT_EQ(rattan_call_times(c), 0);
  return k;
}

static void note_schedule(rattan_call *c, void *ctx) {
  xu_counter *k = counter(ctx);
  if (k->schedules < 32) {
    k->at[k->schedules] = rattan_call_now(c);
    k->times[k->schedules] = rattan_call_times(c);
  }
  k->schedules++;
}

/* Input key is the JSON text want ("1", "true"). */
static int input_is(rattan_call *c, const char *key, const char *want) {
  const char *v = rattan_call_input(c, key);
  return v && !strcmp(v, want);
}

static int c_echo(rattan_call *c, void *ctx) {
  xu_counter *k = note_execute(c, ctx);
  const char *keys[] = {"param_1", "x"};
  for (int i = 0; i < 2; i++) {
    const char *t = rattan_call_input_text(c, keys[i]);
    snprintf(k->text[i], sizeof k->text[i], "%s", t ? t : "(absent)");
  }
  echo(c);
  return 0;
}

static int c_loop_count(rattan_call *c, void *ctx) {
  note_execute(c, ctx);
  echo(c);
  ASSERT_OK(rattan_call_set_output_int(c, "loop", rattan_call_loop(c)), "loop");
  return 0;
}

static int c_fail_ctrl(rattan_call *c, void *ctx) {
  note_execute(c, ctx);
  if (input_is(c, "bit", "1") || input_is(c, "can_go", "true")) {
    echo(c);
    return 0;
  }
  rattan_call_fail(c, "fail_ctrl: no bit");
  return 1;
}

static int c_fail_once(rattan_call *c, void *ctx) {
  note_execute(c, ctx);
  if (rattan_call_loop(c) == 1 && !input_is(c, "bit", "1")) {
    rattan_call_fail(c, "fail_once: loop 1");
    return 1;
  }
  echo(c);
  return 0;
}

static int c_emit(rattan_call *c, void *ctx) {
  note_execute(c, ctx);
  ASSERT_OK(rattan_call_set_output_int(c, "answer", 42), "answer");
  ASSERT_OK(rattan_call_set_output_text(c, "word", "hi"), "word");
  ASSERT_OK(rattan_call_set_output(c, "obj", "{\"k\":[1,2]}"), "obj");
  ASSERT_ERR(rattan_call_set_output(c, "bad", "{nope"), RATTAN_EINVAL);
  return 0;
}

static int c_exec_ok(rattan_call *c, void *ctx) {
  note_execute(c, ctx);
  return 0;
}

static int c_poll_execute(rattan_call *c, void *ctx) {
  note_execute(c, ctx);
  ASSERT_OK(rattan_call_set_output_int(c, "polls", 0), "polls");
  return 0;
}

/* The callback data has "bit": 0. */
static int bit_zero(rattan_call *c) {
  const char *d = rattan_call_callback_data(c);
  if (!d) return 0;
  json_t *j = json_loads(d, JSON_DECODE_ANY, NULL);
  int zero = j && json_is_object(j) &&
             json_is_integer(json_object_get(j, "bit")) &&
             json_integer_value(json_object_get(j, "bit")) == 0;
  json_decref(j);
  return zero;
}

static int c_cb_schedule(rattan_call *c, void *ctx) {
  note_schedule(c, ctx);
  if (bit_zero(c)) {
    rattan_call_fail(c, "cb: bit 0");
    return 1;
  }
  const char *d = rattan_call_callback_data(c);
  ASSERT_OK(rattan_call_set_output(c, "cb", d ? d : "null"), "cb");
  return 0;
}

static int c_multi_schedule(rattan_call *c, void *ctx) {
  note_schedule(c, ctx);
  if (bit_zero(c)) {
    rattan_call_fail(c, "multi_cb: bit 0");
    return 1;
  }
  if (rattan_call_times(c) >= 5) rattan_call_finish_schedule(c);
  return 0;
}

static int c_poll_schedule(rattan_call *c, void *ctx) {
  note_schedule(c, ctx);
  const char *polls = rattan_call_output(c, "polls");
  ASSERT(polls);
  ASSERT_EQ(atoi(polls), rattan_call_times(c) - 1);
  ASSERT_OK(rattan_call_set_output_int(c, "polls", atoi(polls) + 1), "polls");
  const char *after = rattan_call_input(c, "after");
  if (after) rattan_call_poll_after(c, atoll(after) * SEC);
  if (rattan_call_times(c) >= 3) rattan_call_finish_schedule(c);
  return 0;
}

void xu_register(rattan_engine *e) {
  const rattan_component cs[] = {
      {"echo", RATTAN_SCHEDULE_NONE, 0, c_echo, NULL, (void *)XU_ECHO},
      {"loop_count", RATTAN_SCHEDULE_NONE, 0, c_loop_count, NULL,
       (void *)XU_LOOP_COUNT},
      {"fail_ctrl", RATTAN_SCHEDULE_NONE, 0, c_fail_ctrl, NULL,
       (void *)XU_FAIL_CTRL},
      {"fail_once", RATTAN_SCHEDULE_NONE, 0, c_fail_once, NULL,
       (void *)XU_FAIL_ONCE},
      {"emit", RATTAN_SCHEDULE_NONE, 0, c_emit, NULL, (void *)XU_EMIT},
      {"cb", RATTAN_SCHEDULE_CALLBACK, 0, c_exec_ok, c_cb_schedule,
       (void *)XU_CB},
      {"multi_cb", RATTAN_SCHEDULE_MULTI_CALLBACK, 0, c_exec_ok,
       c_multi_schedule, (void *)XU_MULTI_CB},
      {"poll", RATTAN_SCHEDULE_POLL, 2 * SEC, c_poll_execute, c_poll_schedule,
       (void *)XU_POLL},
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
    ASSERT_OK(rattan_component_register(e, &cs[i]), cs[i].code);
}

/* ---- JSON -------------------------------------------------------------------
 */

json_t *J(const char *text) {
  char *s = strdup(text);
  ASSERT(s);
  for (char *p = s; *p; p++)
    if (*p == '\'') *p = '"';
  json_error_t err;
  json_t *j = json_loads(s, JSON_DECODE_ANY, &err);
  if (!j) TEST_FAIL_("J(%s): %s", text, err.text);
  free(s);
  return j;
}

/* ---- Tree builder -----------------------------------------------------------
 */

json_t *tb_new(const char *id, const char *start, const char *end) {
  return json_pack(
      "{s:s, s:{s:s,s:s,s:s,s:s,s:s}, s:{s:s,s:s,s:s,s:[],s:s}, s:{}, s:{}, "
      "s:{}, s:{s:{},s:[]}}",
      "id", id, "start_event", "id", start, "type", "EmptyStartEvent", "name",
      "", "incoming", "", "outgoing", "", "end_event", "id", end, "type",
      "EmptyEndEvent", "name", "", "incoming", "outgoing", "", "activities",
      "gateways", "flows", "data", "inputs", "outputs");
}

json_t *tb_act(json_t *p, const char *id, const char *code) {
  json_t *a = json_pack(
      "{s:s,s:s,s:s,s:[],s:s,s:{s:s,s:{}},s:b,s:b,s:b,s:b,s:n}", "id", id,
      "type", "ServiceActivity", "name", id, "incoming", "outgoing", "",
      "component", "code", code, "inputs", "error_ignorable", 0, "skippable", 1,
      "retryable", 1, "optional", 0, "timeout");
  ASSERT(a);
  json_object_set_new(json_object_get(p, "activities"), id, a);
  return a;
}

void tb_in(json_t *act, const char *key, const char *type, json_t *value) {
  json_t *in = json_object_get(json_object_get(act, "component"), "inputs");
  ASSERT(in && value);
  json_object_set_new(in, key,
                      json_pack("{s:s,s:o}", "type", type, "value", value));
}

json_t *tb_gw(json_t *p, const char *id, const char *type) {
  json_t *g = json_pack("{s:s,s:s,s:s,s:[],s:[]}", "id", id, "type", type,
                        "name", "", "incoming", "outgoing");
  ASSERT(g);
  json_object_set_new(json_object_get(p, "gateways"), id, g);
  return g;
}

void tb_fork(json_t *p, const char *gw, const char *type, const char *cg) {
  tb_gw(p, gw, type);
  tb_gw(p, cg, "ConvergeGateway");
}

json_t *tb_sub(json_t *p, const char *id, json_t *child) {
  ASSERT_STR(json_string_value(json_object_get(child, "id")), id);
  json_t *s = json_pack("{s:s,s:s,s:s,s:[],s:s,s:{},s:o}", "id", id, "type",
                        "SubProcess", "name", id, "incoming", "outgoing", "",
                        "params", "pipeline", child);
  ASSERT(s);
  json_object_set_new(json_object_get(p, "activities"), id, s);
  return s;
}

void tb_param(json_t *sub, const char *key, const char *type, json_t *value) {
  ASSERT(value);
  json_object_set_new(json_object_get(sub, "params"), key,
                      json_pack("{s:s,s:o}", "type", type, "value", value));
}

const char *tb_fid(const char *src, const char *dst) {
  static char buf[8][2 * RATTAN_ID_MAX + 8];
  static int next;
  char *b = buf[next++ % 8];
  snprintf(b, sizeof buf[0], "f_%s_%s", src, dst);
  ASSERT(strlen(b) <= RATTAN_ID_MAX);
  return b;
}

void tb_link(json_t *p, const char *chain) {
  char *s = strdup(chain), *save = NULL;
  ASSERT(s);
  char *prev = strtok_r(s, " ", &save);
  for (char *cur; (cur = strtok_r(NULL, " ", &save)); prev = cur) {
    const char *f = tb_fid(prev, cur);
    json_object_set_new(json_object_get(p, "flows"), f,
                        json_pack("{s:s,s:s,s:s,s:b}", "id", f, "source", prev,
                                  "target", cur, "is_default", 0));
  }
  free(s);
}

void tb_cond(json_t *p, const char *gw, const char *dst, const char *expr) {
  json_t *g = json_object_get(json_object_get(p, "gateways"), gw);
  ASSERT(g);
  json_t *c = json_object_get(g, "conditions");
  if (!c) json_object_set_new(g, "conditions", c = json_object());
  json_object_set_new(c, tb_fid(gw, dst), json_pack("{s:s}", "evaluate", expr));
}

void tb_default(json_t *p, const char *gw, const char *dst) {
  json_t *g = json_object_get(json_object_get(p, "gateways"), gw);
  ASSERT(g);
  json_object_set_new(
      g, "default_condition",
      json_pack("{s:s,s:s}", "name", "default", "flow_id", tb_fid(gw, dst)));
  json_t *f = json_object_get(json_object_get(p, "flows"), tb_fid(gw, dst));
  ASSERT(f);
  json_object_set_new(f, "is_default", json_true());
}

void tb_var(json_t *p, const char *key, const char *type, json_t *value) {
  ASSERT(value);
  json_object_set_new(json_object_get(json_object_get(p, "data"), "inputs"),
                      key,
                      json_pack("{s:s,s:o}", "type", type, "value", value));
}

void tb_ref(json_t *p, const char *key, const char *act, const char *out_key) {
  json_object_set_new(json_object_get(json_object_get(p, "data"), "inputs"),
                      key,
                      json_pack("{s:s,s:s,s:s,s:s}", "type", "splice", "value",
                                "", "source_act", act, "source_key", out_key));
}

void tb_output(json_t *p, const char *key) {
  json_array_append_new(json_object_get(json_object_get(p, "data"), "outputs"),
                        json_string(key));
}

/* Sets node's incoming / outgoing from the flows of p. */
static void wire(json_t *p, json_t *node) {
  const char *id = json_string_value(json_object_get(node, "id"));
  const char *type = json_string_value(json_object_get(node, "type"));
  json_t *in = json_array(), *out = json_array();
  const char *k;
  json_t *f;
  json_object_foreach(json_object_get(p, "flows"), k, f) {
    if (!strcmp(json_string_value(json_object_get(f, "target")), id))
      json_array_append_new(in, json_string(k));
    if (!strcmp(json_string_value(json_object_get(f, "source")), id))
      json_array_append_new(out, json_string(k));
  }
  int many = !strcmp(type, "ExclusiveGateway") ||
             !strcmp(type, "ParallelGateway") ||
             !strcmp(type, "ConditionalParallelGateway");
  if (!strcmp(type, "EmptyStartEvent"))
    json_object_set_new(node, "incoming", json_string(""));
  else
    json_object_set(node, "incoming", in);
  if (!strcmp(type, "EmptyEndEvent"))
    json_object_set_new(node, "outgoing", json_string(""));
  else if (many)
    json_object_set(node, "outgoing", out);
  else
    json_object_set_new(
        node, "outgoing",
        json_string(json_array_size(out)
                        ? json_string_value(json_array_get(out, 0))
                        : ""));
  json_decref(in);
  json_decref(out);
}

static void finish(json_t *p) {
  wire(p, json_object_get(p, "start_event"));
  wire(p, json_object_get(p, "end_event"));
  const char *k;
  json_t *n;
  json_object_foreach(json_object_get(p, "activities"), k, n) {
    wire(p, n);
    json_t *child = json_object_get(n, "pipeline");
    if (child) finish(child);
  }
  json_object_foreach(json_object_get(p, "gateways"), k, n) wire(p, n);
}

char *tb_json(json_t *p) {
  finish(p);
  char *s = json_dumps(p, JSON_COMPACT);
  ASSERT(s);
  json_decref(p);
  return s;
}

json_t *tb_line(const char *id, const char *chain, const char *const *codes) {
  char *s = strdup(chain), *save = NULL;
  ASSERT(s);
  char *words[256];
  int n = 0;
  for (char *w = strtok_r(s, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
    ASSERT(n < 256);
    words[n++] = w;
  }
  ASSERT(n >= 2);
  json_t *p = tb_new(id, words[0], words[n - 1]);
  int i = 0;
  for (; i < n - 2 && codes[i]; i++)
    tb_act(p, words[i + 1], codes[i]);
  /* As many codes as activities in the chain. */
  ASSERT_EQ(i, n - 2);
  ASSERT(!codes[i]);
  tb_link(p, chain);
  free(s);
  return p;
}

json_t *tb_chain(const char *const *codes) {
  char chain[4096] = "s";
  for (int i = 0; codes[i]; i++) {
    ASSERT(strlen(chain) < sizeof chain - 16);
    strcat(chain, " ");
    strcat(chain, tb_nid("a", i + 1));
  }
  strcat(chain, " e");
  return tb_line("p", chain, codes);
}

json_t *tb_wrap(json_t *child) {
  const char *id = json_string_value(json_object_get(child, "id"));
  ASSERT(id);
  char chain[RATTAN_ID_MAX + 8];
  snprintf(chain, sizeof chain, "s %s e", id);
  json_t *p = tb_new("p", "s", "e");
  tb_sub(p, id, child);
  tb_link(p, chain);
  return p;
}

json_t *tb_node(json_t *p, const char *id) {
  json_t *a = json_object_get(json_object_get(p, "activities"), id);
  if (!a) TEST_FAIL_("pipeline has no activity %s", id);
  return a;
}

const char *tb_nid(const char *prefix, int i) {
  static char buf[16][32];
  static int next;
  char *b = buf[next++ % 16];
  snprintf(b, sizeof buf[0], "%s%d", prefix, i);
  return b;
}

void tb_fan(json_t *p, const char *gw, const char *cg, const char *prefix,
            int n, const char *code) {
  for (int i = 0; i < n; i++) {
    char chain[128];
    const char *id = tb_nid(prefix, i);
    tb_act(p, id, code);
    snprintf(chain, sizeof chain, "%s %s %s", gw, id, cg);
    tb_link(p, chain);
  }
}

void tb_loop(json_t *p, const char *gw, const char *back, const char *out,
             const char *var, const char *src, const char *limit) {
  char name[64], cond[128], chain[128];
  snprintf(name, sizeof name, "${%s}", var);
  tb_gw(p, gw, "ExclusiveGateway");
  snprintf(chain, sizeof chain, "%s %s", gw, back);
  tb_link(p, chain);
  snprintf(cond, sizeof cond, "%s < %s", name, limit);
  tb_cond(p, gw, back, cond);
  snprintf(cond, sizeof cond, "%s >= %s", name, limit);
  tb_cond(p, gw, out, cond);
  tb_ref(p, name, src, "_loop");
}

/* ---- Running ----------------------------------------------------------------
 */

void xu_create(rattan_engine *e, const char *json, const char *id) {
  rattan_task_options o = {.id = id};
  char out[RATTAN_ID_MAX + 1];
  ASSERT_OK(rattan_task_create(e, json, strlen(json), &o, out),
            rattan_errmsg(e));
  ASSERT_STR(out, id);
}

void xu_start(rattan_engine *e, const char *json, const char *id) {
  xu_create(e, json, id);
  ASSERT_OK(rattan_task_start(e, id), rattan_errmsg(e));
}

void xu_start_tree(rattan_engine *e, json_t *p, const char *id) {
  char *json = tb_json(p);
  xu_start(e, json, id);
  free(json);
}

rattan_drive_result xu_run(rattan_engine *e, json_t *p, const char *id) {
  xu_start_tree(e, p, id);
  return xu_drive(e, id);
}

void xu_callback(rattan_engine *e, const char *task, const char *node,
                 const char *data) {
  rattan_node_info i = xu_node(e, task, node);
  ASSERT_OK(rattan_node_callback(e, task, node, data, i.version),
            rattan_errmsg(e));
}

rattan_drive_result xu_drive(rattan_engine *e, const char *task) {
  rattan_drive_result r;
  memset(&r, 0xa5, sizeof r);
  ASSERT_OK(rattan_drive(e, task, 0, &r), rattan_errmsg(e));
  ASSERT_EQ(r.more, 0);
  return r;
}

void xu_drive_real(rattan_engine *e, const char *task, const char *node) {
  for (int i = 0; i < 5000; i++) {
    rattan_drive_result r;
    ASSERT_OK(rattan_drive(e, task, 0, &r), rattan_errmsg(e));
    rattan_state s = xu_state(e, task, node);
    if (s != RATTAN_STATE_RUNNING && s != RATTAN_STATE_CREATED &&
        s != RATTAN_STATE_READY)
      return;
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  TEST_FAIL_("node %s still running after 10 s of driving", node);
}

/* ---- Reading ----------------------------------------------------------------
 */

rattan_state xu_state(rattan_engine *e, const char *task, const char *node) {
  rattan_node_info i;
  int rc = rattan_node_get(e, task, node, &i);
  if (rc == RATTAN_ENOTFOUND) return RATTAN_STATE_CREATED;
  if (rc)
    TEST_FAIL_("node %s: %s (%s)", node, rattan_errname(rc), rattan_errmsg(e));
  return i.state;
}

rattan_node_info xu_node(rattan_engine *e, const char *task, const char *node) {
  rattan_node_info i;
  int rc = rattan_node_get(e, task, node, &i);
  if (rc)
    TEST_FAIL_("node %s: %s (%s)", node, rattan_errname(rc), rattan_errmsg(e));
  return i;
}

static json_t *parse_data(const char *node, char *text, size_t len) {
  json_error_t err;
  json_t *j = json_loadb(text, len, 0, &err);
  if (!j)
    TEST_FAIL_("node %s: data does not parse: %s: %.*s", node, err.text,
               (int)len, text);
  rattan_free(text);
  return j;
}

json_t *xu_data(rattan_engine *e, const char *task, const char *node) {
  char *text;
  size_t len;
  int rc = rattan_node_data(e, task, node, &text, &len);
  if (rc == RATTAN_ENOTFOUND) return NULL;
  if (rc)
    TEST_FAIL_("node %s data: %s (%s)", node, rattan_errname(rc),
               rattan_errmsg(e));
  return parse_data(node, text, len);
}

rattan_node_info xu_hist(rattan_engine *e, const char *task, const char *node,
                         unsigned i, json_t **data) {
  rattan_node_info info;
  char *text = NULL;
  size_t len = 0;
  int rc = rattan_node_history(e, task, node, i, &info, data ? &text : NULL,
                               data ? &len : NULL);
  if (rc)
    TEST_FAIL_("node %s history %u: %s (%s)", node, i, rattan_errname(rc),
               rattan_errmsg(e));
  if (data) *data = text ? parse_data(node, text, len) : NULL;
  return info;
}

unsigned xu_hist_count(rattan_engine *e, const char *task, const char *node) {
  unsigned n = 12345;
  int rc = rattan_node_history_count(e, task, node, &n);
  if (rc)
    TEST_FAIL_("node %s history count: %s (%s)", node, rattan_errname(rc),
               rattan_errmsg(e));
  return n;
}

const char *xu_ex_data(rattan_engine *e, const char *task, const char *node) {
  static char buf[4096];
  buf[0] = '\0';
  json_t *d = xu_data(e, task, node);
  if (!d) return buf;
  json_t *x = json_object_get(d, "ex_data");
  if (json_is_string(x))
    snprintf(buf, sizeof buf, "%s", json_string_value(x));
  else if (x && !json_is_null(x)) {
    char *s = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, sizeof buf, "%s", s ? s : "");
    free(s);
  }
  json_decref(d);
  return buf;
}

rattan_state xu_task_state(rattan_engine *e, const char *task) {
  rattan_state s;
  ASSERT_OK(rattan_task_state(e, task, &s), rattan_errmsg(e));
  return s;
}

static const char *sname(int s) {
  const char *n = rattan_state_name(s);
  return n ? n : "?";
}

void xu_expect_states(const char *file, int line, rattan_engine *e,
                      const char *task, rattan_state st, const char **ids) {
  for (; *ids; ids++) {
    rattan_state got = xu_state(e, task, *ids);
    if (got != st) {
      fprintf(stderr, "  %s:%d: node %s is %s, expected %s\n", file, line, *ids,
              sname(got), sname(st));
      json_t *d = xu_data(e, task, *ids);
      if (d) {
        char *s = json_dumps(d, JSON_COMPACT);
        fprintf(stderr, "    its data: %s\n", s);
        free(s);
        json_decref(d);
      }
      abort();
    }
  }
}

rattan_node_info xu_expect_node(const char *file, int line, rattan_engine *e,
                                const char *task, const char *node, int hist,
                                json_t **data, const long long want[6]) {
  rattan_node_info i = hist < 0 ? xu_node(e, task, node)
                                : xu_hist(e, task, node, (unsigned)hist, data);
  const long long got[6] = {i.state, i.loop, i.inner_loop,
                            i.retry, i.skip, i.error_ignored};
  static const char *const names[6] = {"state", "loop", "inner_loop",
                                       "retry", "skip", "error_ignored"};
  for (int k = 0; k < 6; k++) {
    if (want[k] == ANY || want[k] == got[k]) continue;
    char where[64] = "";
    if (hist >= 0) snprintf(where, sizeof where, " (history %d)", hist);
    if (k == 0)
      fprintf(stderr, "  %s:%d: node %s%s is %s, expected %s\n", file, line,
              node, where, sname((int)got[0]), sname((int)want[0]));
    else
      fprintf(stderr, "  %s:%d: node %s%s: %s is %lld, expected %lld\n", file,
              line, node, where, names[k], got[k], want[k]);
    abort();
  }
  return i;
}

void xu_expect_json(const char *file, int line, const char *what,
                    json_t *actual, const char *expected) {
  json_t *want = J(expected);
  if (!actual || !json_equal(actual, want)) {
    char *a = actual ? json_dumps(actual, JSON_COMPACT | JSON_ENCODE_ANY)
                     : strdup("(none)");
    char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(stderr, "  %s:%d: %s\n    got      %s\n    expected %s\n", file,
            line, what, a, w);
    abort();
  }
  json_decref(want);
}

void xu_expect_data(const char *file, int line, rattan_engine *e,
                    const char *task, const char *node, const char *part,
                    const char *expected) {
  json_t *d = xu_data(e, task, node);
  char what[256];
  snprintf(what, sizeof what, "node %s %s", node, part);
  xu_expect_json(file, line, what, d ? json_object_get(d, part) : NULL,
                 expected);
  json_decref(d);
}

void xu_expect_data_key(const char *file, int line, rattan_engine *e,
                        const char *task, const char *node, const char *part,
                        const char *key, const char *expected) {
  json_t *d = xu_data(e, task, node);
  char what[256];
  snprintf(what, sizeof what, "node %s %s %s", node, part, key);
  xu_expect_json(file, line, what,
                 json_object_get(json_object_get(d, part), key), expected);
  json_decref(d);
}

void xu_expect_same(const char *file, int line, const char *node,
                    const rattan_node_info *a, const rattan_node_info *b,
                    int times) {
  const char *field = NULL;
  if (a->state != b->state)
    field = "state";
  else if (a->loop != b->loop)
    field = "loop";
  else if (a->inner_loop != b->inner_loop)
    field = "inner_loop";
  else if (a->retry != b->retry)
    field = "retry";
  else if (a->skip != b->skip)
    field = "skip";
  else if (a->error_ignored != b->error_ignored)
    field = "error_ignored";
  else if (strcmp(a->version, b->version))
    field = "version";
  else if (strcmp(a->root_id, b->root_id))
    field = "root_id";
  else if (strcmp(a->parent_id, b->parent_id))
    field = "parent_id";
  else if (times && a->created_us != b->created_us)
    field = "created_us";
  else if (times && a->started_us != b->started_us)
    field = "started_us";
  else if (times && a->archived_us != b->archived_us)
    field = "archived_us";
  if (!field) return;
  fprintf(stderr,
          "  %s:%d: node %s differs in %s:\n"
          "    %s loop %u/%u retry %u skip %d ign %d %s root %s parent %s "
          "times %lld %lld %lld\n"
          "    %s loop %u/%u retry %u skip %d ign %d %s root %s parent %s "
          "times %lld %lld %lld\n",
          file, line, node, field, sname(a->state), a->loop, a->inner_loop,
          a->retry, a->skip, a->error_ignored, a->version, a->root_id,
          a->parent_id, (long long)a->created_us, (long long)a->started_us,
          (long long)a->archived_us, sname(b->state), b->loop, b->inner_loop,
          b->retry, b->skip, b->error_ignored, b->version, b->root_id,
          b->parent_id, (long long)b->created_us, (long long)b->started_us,
          (long long)b->archived_us);
  abort();
}

xu_snap xu_snap_take(rattan_engine *e, const char *task, const char **ids) {
  xu_snap s = {0, NULL};
  while (ids[s.n])
    s.n++;
  s.rows = calloc((size_t)s.n, sizeof *s.rows);
  ASSERT(s.rows);
  for (int i = 0; i < s.n; i++) {
    struct xu_snap_row *r = &s.rows[i];
    r->id = strdup(ids[i]);
    int rc = rattan_node_get(e, task, ids[i], &r->info);
    if (rc == RATTAN_ENOTFOUND) continue;
    ASSERT_OK(rc, ids[i]);
    r->has = 1;
    char *text;
    size_t len;
    rc = rattan_node_data(e, task, ids[i], &text, &len);
    if (rc == 0) {
      r->data = strndup(text, len);
      rattan_free(text);
    } else {
      ASSERT_ERR(rc, RATTAN_ENOTFOUND);
    }
    r->hist = xu_hist_count(e, task, ids[i]);
  }
  return s;
}

void xu_snap_expect_equal(const char *file, int line, const xu_snap *a,
                          const xu_snap *b, int times) {
  ASSERT_EQ(a->n, b->n);
  for (int i = 0; i < a->n; i++) {
    const struct xu_snap_row *x = &a->rows[i], *y = &b->rows[i];
    if (x->has != y->has) {
      fprintf(stderr, "  %s:%d: node %s: record %s, then %s\n", file, line,
              x->id, x->has ? "present" : "absent",
              y->has ? "present" : "absent");
      abort();
    }
    if (!x->has) continue;
    xu_expect_same(file, line, x->id, &x->info, &y->info, times);
    if ((x->data == NULL) != (y->data == NULL) ||
        (x->data && strcmp(x->data, y->data))) {
      fprintf(stderr, "  %s:%d: node %s data:\n    %s\n    %s\n", file, line,
              x->id, x->data ? x->data : "(none)",
              y->data ? y->data : "(none)");
      abort();
    }
    if (x->hist != y->hist) {
      fprintf(stderr, "  %s:%d: node %s history: %u, then %u\n", file, line,
              x->id, x->hist, y->hist);
      abort();
    }
  }
}

void xu_snap_expect_still(const char *file, int line, rattan_engine *e,
                          const char *task, xu_snap *before) {
  const char **ids = calloc((size_t)before->n + 1, sizeof *ids);
  ASSERT(ids);
  for (int i = 0; i < before->n; i++)
    ids[i] = before->rows[i].id;
  xu_snap now = xu_snap_take(e, task, ids);
  free(ids);
  xu_snap_expect_equal(file, line, before, &now, 1);
  xu_snap_free(&now);
  xu_snap_free(before);
}

void xu_snap_free(xu_snap *s) {
  for (int i = 0; i < s->n; i++) {
    free(s->rows[i].id);
    free(s->rows[i].data);
  }
  free(s->rows);
  s->rows = NULL;
  s->n = 0;
}
