/*
 * Export and replay (rattan_export, rattan_replay).
 *
 * Scenarios covering every journal event kind (drop_schedule, which no
 * operation sequence writes, by an entry built by hand) run live in a
 * store with the test components; their export is replayed into a fresh
 * store that has no components, and every answer a host can ask for
 * (status in each profile, encoding and view, node and task details),
 * every record of the task and the export itself must come out byte for
 * byte the same.
 * Replays limited by count and by time give exactly the prefix of the
 * journal. Damaged exports (every truncation, every bit flipped,
 * hand-crafted hostile items) are refused with the byte offset and the
 * item, the store left as it was. Exports do not depend on the process's
 * zone or locale, and golden journals in tests/data/journals pin the
 * format and the engine's behaviour.
 *
 * The test reads exports with a small CBOR walker of its own (the library
 * reads them with libcbor), and recomputes an item's checksum after
 * patching it, so that hostile content reaches the checks behind the
 * checksum.
 */
#include <errno.h>
#include <locale.h>
#include <sys/stat.h>
#include <time.h>

#include "api/api_int.h"
#include "store/store_int.h"
#include "exec_util.h"

/* ---- CBOR bytes ---------------------------------------------------------- */

/* The head at p (n bytes left): its major type and argument. Returns the
 * head's length, 0 when it does not fit or is one the format never uses
 * (indefinite lengths, reserved values). */
static size_t cb_head(const uint8_t *p, size_t n, int *major, uint64_t *arg) {
  if (!n) return 0;
  unsigned ai = p[0] & 31;
  *major = p[0] >> 5;
  if (ai < 24) {
    *arg = ai;
    return 1;
  }
  if (ai > 27) return 0;
  size_t w = (size_t)1 << (ai - 24);
  if (n < 1 + w) return 0;
  *arg = 0;
  for (size_t i = 0; i < w; i++)
    *arg = *arg << 8 | p[1 + i];
  return 1 + w;
}

/* The length of the whole item at p, 0 when it does not fit in n. */
static size_t cb_len(const uint8_t *p, size_t n) {
  int major;
  uint64_t arg;
  size_t at = cb_head(p, n, &major, &arg);
  if (!at) return 0;
  if (major == 2 || major == 3) return arg <= n - at ? at + arg : 0;
  if (major == 4 || major == 5) {
    for (uint64_t i = 0; i < (major == 5 ? 2 * arg : arg); i++) {
      size_t l = cb_len(p + at, n - at);
      if (!l) return 0;
      at += l;
    }
  }
  return at;
}

/* The item reached from the map or array at p (n bytes) by path: keys
 * and array indices separated by dots ("changes.0.rec.retry"). Returns
 * its offset from p and its length in *len; aborts when there is none. */
static size_t cb_path(const uint8_t *p, size_t n, const char *path,
                      size_t *len) {
  size_t at = 0, l = cb_len(p, n);
  for (const char *s = path; *s;) {
    size_t k = strcspn(s, ".");
    int major;
    uint64_t count;
    size_t h = cb_head(p + at, l, &major, &count), cur = at + h;
    int found = 0;
    ASSERT(h && (major == 4 || major == 5));
    for (uint64_t i = 0; i < count && !found; i++) {
      int match;
      if (major == 5) {
        int km;
        uint64_t kn;
        size_t kh = cb_head(p + cur, n - cur, &km, &kn);
        match = km == 3 && kn == k && !memcmp(p + cur + kh, s, k);
        cur += cb_len(p + cur, n - cur);
      } else {
        match = i == strtoull(s, NULL, 10);
      }
      size_t vl = cb_len(p + cur, n - cur);
      if (match) {
        at = cur;
        l = vl;
        found = 1;
      } else {
        cur += vl;
      }
    }
    if (!found) TEST_FAIL_("%s: no \"%.*s\"", path, (int)k, s);
    s += k + (s[k] == '.');
  }
  *len = l;
  return at;
}

/* Appends a head of major type major with argument v, shortest form. */
static void put_head(buf *b, int major, uint64_t v) {
  uint8_t h[9];
  size_t n = 1;
  int ai = v < 24             ? (int)v
           : v <= 0xff        ? 24
           : v <= 0xffff      ? 25
           : v <= 0xffffffffu ? 26
                              : 27;
  h[0] = (uint8_t)(major << 5 | ai);
  for (int w = ai < 24 ? 0 : 1 << (ai - 24); w > 0; w--)
    h[n++] = (uint8_t)(v >> (8 * (w - 1)));
  ASSERT(!buf_append(b, h, n));
}

static void put_text(buf *b, const char *s) {
  put_head(b, 3, strlen(s));
  ASSERT(!buf_append(b, s, strlen(s)));
}

/* ---- Exports ------------------------------------------------------------
 * An export and where its items start: item i (0 the header, then event
 * i) is the bytes from off[i] to off[i + 1]. */
typedef struct xport {
  buf b;
  size_t n;
  size_t *off;
} xport;

/* Takes b, which must split into items exactly. */
static xport x_parse(buf b) {
  xport x = {b, 0, NULL};
  size_t at = 0, cap = 0;
  for (;;) {
    if (x.n + 1 >= cap) {
      cap = cap ? 2 * cap : 64;
      x.off = realloc(x.off, cap * sizeof *x.off);
      ASSERT(x.off);
    }
    x.off[x.n] = at;
    if (at == b.len) break;
    size_t l = cb_len(b.data + at, b.len - at);
    if (!l) TEST_FAIL_("export: no item at byte %zu", at);
    at += l;
    x.n++;
  }
  return x;
}

static void x_free(xport *x) {
  buf_free(&x->b);
  free(x->off);
}

static const uint8_t *x_item(const xport *x, size_t i, size_t *len) {
  *len = x->off[i + 1] - x->off[i];
  return x->b.data + x->off[i];
}

/* The unsigned integer at path in item i. */
static uint64_t x_uint(const xport *x, size_t i, const char *path) {
  size_t il, l;
  const uint8_t *p = x_item(x, i, &il);
  size_t at = cb_path(p, il, path, &l);
  int major;
  uint64_t v;
  ASSERT(cb_head(p + at, l, &major, &v) && major == 0);
  return v;
}

/* The text at path in item i, or "" when it is not a text; a static
 * buffer. */
static const char *x_text(const xport *x, size_t i, const char *path) {
  static char s[256];
  size_t il, l;
  const uint8_t *p = x_item(x, i, &il);
  size_t at = cb_path(p, il, path, &l);
  int major;
  uint64_t v;
  size_t h = cb_head(p + at, l, &major, &v);
  snprintf(s, sizeof s, "%.*s", major == 3 ? (int)v : 0,
           (const char *)p + at + h);
  return s;
}

/* Event i's time. */
static int64_t x_at(const xport *x, size_t i) {
  return (int64_t)x_uint(x, i, "at");
}

/* A copy of the export with the len bytes at offset at of item i
 * replaced by the m bytes rep, and the item's checksum recomputed so
 * that what lies behind it is checked. */
static buf x_patch(const xport *x, size_t i, size_t at, size_t len,
                   const void *rep, size_t m) {
  size_t il, cl;
  const uint8_t *p = x_item(x, i, &il);
  size_t crc_key = cb_path(p, il, "crc", &cl) - 4;
  ASSERT(p[crc_key] == 0x63 && at + len <= crc_key);
  buf b = {0};
  ASSERT(!buf_append(&b, x->b.data, x->off[i]));
  ASSERT(!buf_append(&b, p, at));
  ASSERT(!buf_append(&b, rep, m));
  ASSERT(!buf_append(&b, p + at + len, crc_key - at - len));
  uint32_t crc = crc32c(0, b.data + x->off[i], b.len - x->off[i]);
  put_text(&b, "crc");
  put_head(&b, 0, crc);
  ASSERT(!buf_append(&b, p + il, x->b.len - x->off[i + 1]));
  return b;
}

/* x_patch of the item at path in item i. */
static buf x_set(const xport *x, size_t i, const char *path, const void *rep,
                 size_t m) {
  size_t il, l;
  const uint8_t *p = x_item(x, i, &il);
  size_t at = cb_path(p, il, path, &l);
  return x_patch(x, i, at, l, rep, m);
}

static buf x_set_text(const xport *x, size_t i, const char *path,
                      const char *s) {
  buf t = {0};
  put_text(&t, s);
  buf b = x_set(x, i, path, t.data, t.len);
  buf_free(&t);
  return b;
}

static buf x_set_uint(const xport *x, size_t i, const char *path, uint64_t v) {
  buf t = {0};
  put_head(&t, 0, v);
  buf b = x_set(x, i, path, t.data, t.len);
  buf_free(&t);
  return b;
}

/* The header of x with "events" set to events (its checksum
 * recomputed), then events 1 .. k of x: a prefix of the journal as an
 * export of it. */
static buf x_cut(const xport *x, uint64_t events, size_t k) {
  buf b = x_set_uint(x, 0, "events", events);
  b.len -= x->b.len - x->off[1];
  ASSERT(!buf_append(&b, x->b.data + x->off[1], x->off[k + 1] - x->off[1]));
  return b;
}

/* The first event at or after item from of kind, and in it the first
 * change of type (NULL: any) whose key field is value (NULL: any); its
 * index in *change. Aborts when there is none. */
static size_t x_find(const xport *x, size_t from, const char *kind,
                     const char *type, const char *key, const char *value,
                     unsigned *change) {
  char path[64];
  for (size_t i = from; i < x->n; i++) {
    if (strcmp(x_text(x, i, "kind"), kind)) continue;
    size_t il, l;
    const uint8_t *p = x_item(x, i, &il);
    int major;
    uint64_t n;
    size_t at = cb_path(p, il, "changes", &l);
    cb_head(p + at, l, &major, &n);
    for (unsigned c = 0; c < n; c++) {
      snprintf(path, sizeof path, "changes.%u.type", c);
      if (type && strcmp(x_text(x, i, path), type)) continue;
      snprintf(path, sizeof path, "changes.%u.%s", c, key ? key : "type");
      if (value && strcmp(x_text(x, i, path), value)) continue;
      *change = c;
      return i;
    }
  }
  TEST_FAIL_("no %s event with a %s change", kind, type ? type : "");
}

/* ---- Stores -------------------------------------------------------------- */

/* A store as a host that only replays opens one: no components, nosync,
 * a fixed clock (replay never reads it). */
static rattan_engine *open_plain(const char *name) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  o.clock.kind = RATTAN_CLOCK_FIXED;
  o.clock.start_us = XU_T0 + 1000 * SEC;
  rattan_engine *e;
  char msg[512];
  ASSERT_OK(rattan_open(test_path(name), &o, &e, msg, sizeof msg), msg);
  return e;
}

/* Every record of task (NULL: of the whole store), as st_dump gives it. */
static buf dump(rattan_engine *re, const char *task) {
  st_txn *t;
  errbuf err = {0};
  buf b = {0};
  ASSERT_OK(st_read_begin(eng_store(re->e), &t, &err), err.msg);
  int rc = task ? st_dump_task(t, task, &b, &err) : st_dump(t, &b, &err);
  st_read_end(t);
  ASSERT_OK(rc, err.msg);
  return b;
}

static int buf_eq(const buf *a, const buf *b) {
  return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

static buf export_of(rattan_engine *e, const char *task) {
  void *p;
  size_t n;
  ASSERT_OK(rattan_export(e, task, &p, &n), rattan_errmsg(e));
  buf b = {0};
  ASSERT(!buf_append(&b, p, n));
  rattan_free(p);
  return b;
}

/* Replays all of x (with limits o, may be NULL) into e, which must
 * accept it. */
static rattan_replay_result replay_ok(rattan_engine *e, const buf *x,
                                      const rattan_replay_options *o) {
  rattan_replay_result r;
  ASSERT_OK(rattan_replay(e, x->data, x->len, o, &r), rattan_errmsg(e));
  return r;
}

/* Replays the n bytes at p into e, which must refuse them, applying
 * nothing and leaving its store as it was; returns the code. */
static int refusal(rattan_engine *e, const void *p, size_t n,
                   const rattan_replay_options *o) {
  buf before = dump(e, NULL);
  rattan_replay_result r;
  int rc = rattan_replay(e, p, n, o, &r);
  if (rc == RATTAN_OK) TEST_FAIL_("replay of %zu bytes accepted", n);
  ASSERT_EQ(r.events, 0);
  buf after = dump(e, NULL);
  if (!buf_eq(&before, &after))
    TEST_FAIL_("a refused replay changed the store (%s)", rattan_errmsg(e));
  buf_free(&before);
  buf_free(&after);
  return rc;
}

/* refusal with code; returns rattan_errmsg. */
static const char *refused(rattan_engine *e, const void *p, size_t n,
                           const rattan_replay_options *o, int code) {
  int rc = refusal(e, p, n, o);
  if (rc != code)
    TEST_FAIL_("replay of %zu bytes: %s, expected %s (%s)", n,
               rattan_errname(rc), rattan_errname(code), rattan_errmsg(e));
  return rattan_errmsg(e);
}

/* The item ("header": 0, "event K": K) and byte offset a replay message
 * names; 0 when it names neither. */
static int msg_where(const char *msg, unsigned long long *item, size_t *byte) {
  if (sscanf(msg, "journal: header, byte %zu:", byte) == 1) {
    *item = 0;
    return 1;
  }
  return sscanf(msg, "journal: event %llu, byte %zu:", item, byte) == 2;
}

/* ---- Answers --------------------------------------------------------------
 * Everything a host can ask about a task, in one transcript: each answer
 * after a line naming the call and its return code. Two tasks are the
 * same to their hosts when their transcripts are. */

static void note(buf *t, const char *label, int rc, char *out, size_t len) {
  char head[200];
  int n = snprintf(head, sizeof head, "\n== %s: %d ==\n", label, rc);
  ASSERT(!buf_append(t, head, (size_t)n));
  if (out) ASSERT(!buf_append(t, out, len));
  rattan_free(out);
}

/* The ids of pipeline pipe's nodes (subprocesses' too, recursively) into
 * ids; the SubProcess nodes into subs as well. */
static void collect(json_t *pipe, json_t *ids, json_t *subs) {
  json_array_append(ids, json_object_get(pipe, "id"));
  json_array_append(
      ids, json_object_get(json_object_get(pipe, "start_event"), "id"));
  json_array_append(ids,
                    json_object_get(json_object_get(pipe, "end_event"), "id"));
  const char *id;
  json_t *n;
  json_object_foreach(json_object_get(pipe, "gateways"), id, n) {
    json_array_append_new(ids, json_string(id));
  }
  json_object_foreach(json_object_get(pipe, "activities"), id, n) {
    json_array_append_new(ids, json_string(id));
    json_t *child = json_object_get(n, "pipeline");
    if (child) {
      json_array_append_new(subs, json_string(id));
      collect(child, ids, subs);
    }
  }
}

static void opts_init(rattan_status_options *o, int64_t now) {
  rattan_status_options_init(o);
  o->trace_id = "replay-trace";
  o->now_us = now;
}

/* The status of task in every profile, format and view (the whole
 * task, each subprocess, one the task lacks; with and without ex_data). */
static void status_answers(rattan_engine *e, const char *task, json_t *subs,
                           int64_t now, buf *t) {
  char label[160];
  for (size_t v = 0; v <= json_array_size(subs) + 1; v++) {
    const char *sub = v == 0 ? NULL
                      : v <= json_array_size(subs)
                          ? json_string_value(json_array_get(subs, v - 1))
                          : "no-such-subprocess";
    for (int ex = 0; ex < 2; ex++)
      for (int p = 0; p < 3; p++)
        for (int f = 0; f < 3; f++) {
          rattan_status_options o;
          opts_init(&o, now);
          o.profile = (rattan_profile)p;
          o.format = (rattan_format)f;
          o.subprocess_id = sub;
          o.with_ex_data = ex;
          char *out = NULL;
          size_t len = 0;
          int rc = rattan_task_status(e, task, &o, &out, &len);
          snprintf(label, sizeof label, "status %s ex %d profile %d format %d",
                   sub ? sub : "-", ex, p, f);
          note(t, label, rc, out, len);
        }
  }
}

static buf answers(rattan_engine *e, const char *task, int64_t now) {
  buf t = {0};
  char label[160], *out = NULL;
  int rc;
  size_t len = 0;
  ASSERT_OK(rattan_task_definition(e, task, &out, &len), rattan_errmsg(e));
  json_t *def = json_loadb(out, len, 0, NULL);
  ASSERT(def);
  note(&t, "definition", 0, out, len);
  json_t *ids = json_array(), *subs = json_array();
  collect(def, ids, subs);
  json_decref(def);
  status_answers(e, task, subs, now, &t);
  rattan_status_options o;
  opts_init(&o, now);
  for (int f = 0; f < 3; f++) {
    o.format = (rattan_format)f;
    for (int children = 0; children < 2; children++) {
      out = NULL;
      rc = rattan_tasks_status(e, &task, 1, children, &o, &out, &len);
      snprintf(label, sizeof label, "tasks format %d children %d", f, children);
      note(&t, label, rc, out, len);
    }
    out = NULL;
    rc = rattan_task_detail(e, task, &o, &out, &len);
    snprintf(label, sizeof label, "task detail format %d", f);
    note(&t, label, rc, out, len);
    /* Each node's detail: the latest, each loop it had, one past. */
    for (size_t i = 0; i < json_array_size(ids); i++) {
      const char *id = json_string_value(json_array_get(ids, i));
      rattan_node_info info;
      unsigned loops = rattan_node_get(e, task, id, &info) ? 0 : info.loop;
      for (unsigned l = 0; l <= loops + 1; l++) {
        out = NULL;
        rc = rattan_node_detail(e, task, id, l, &o, &out, &len);
        snprintf(label, sizeof label, "detail %s loop %u format %d", id, l, f);
        note(&t, label, rc, out, len);
      }
    }
  }
  json_decref(ids);
  json_decref(subs);
  return t;
}

/* a and b are equal transcripts; else names the first answer that
 * differs. */
static void expect_same_answers(const char *what, const buf *a, const buf *b) {
  if (buf_eq(a, b)) return;
  size_t i = 0;
  while (i < a->len && i < b->len && a->data[i] == b->data[i])
    i++;
  size_t at = i;
  while (at > 0 && memcmp(a->data + at, "\n== ", 4))
    at--;
  size_t end = at + 4;
  while (end < a->len && a->data[end] != '\n')
    end++;
  TEST_FAIL_("%s: answers differ from byte %zu, in \"%.*s\"", what, i,
             (int)(end - at), (const char *)a->data + at);
}

/* ---- Scenarios ------------------------------------------------------------
 * Each runs task "t" live in an engine from xu_open, deterministically
 * (seed and virtual clock), through operations and drives. Together
 * they write every event kind but drop_schedule. */

/* Drives one step at a time until node is in state st. */
static void step_until(rattan_engine *e, const char *node, rattan_state st) {
  for (int i = 0; i < 1000 && xu_state(e, "t", node) != st; i++) {
    rattan_drive_result r;
    ASSERT_OK(rattan_drive(e, "t", 1, &r), rattan_errmsg(e));
  }
  ASSERT_EQ(xu_state(e, "t", node), st);
}

/* a1 fails, is retried as it was (fails again), then with new inputs
 * (finishes); a2 echoes. */
static void sc_retry(rattan_engine *e) {
  json_t *p = TB_LINE("p", "s a1 a2 e", "fail_ctrl", "echo");
  tb_in(tb_node(p, "a1"), "key_1", "plain", J("'val_1'"));
  tb_in(tb_node(p, "a2"), "param_1", "splice", J("'${k}'"));
  tb_var(p, "${k}", "plain", J("'kv'"));
  xu_run(e, p, "t");
  ASSERT_OK(rattan_node_retry(e, "t", "a1", NULL), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FAILED);
  ASSERT_OK(rattan_node_retry(e, "t", "a1", "{\"bit\":1,\"key_1\":\"${k}\"}"),
            rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* a1 fails and is skipped; a2 runs after it. */
static void sc_skip(rattan_engine *e) {
  json_t *p = TB_LINE("p", "s a1 a2 e", "fail", "noop");
  tb_in(tb_node(p, "a1"), "message", "plain", J("'skip me'"));
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "a1", RATTAN_STATE_FAILED);
  ASSERT_OK(rattan_node_skip(e, "t", "a1"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* SOPS's loop sample: two timers in a cycle of four loops. */
static void sc_loops(rattan_engine *e) {
  char *text = test_slurp("tests/data/loop-sample.json", NULL);
  xu_start(e, text, "t");
  free(text);
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* A subprocess in a three-loop cycle, its params rendered from the
 * loop each time, after a parallel block whose branch cycles too. */
static void sc_cycle(rattan_engine *e) {
  json_t *c = TB_LINE("sp", "s_sp in0 e_sp", "loop_count");
  tb_in(tb_node(c, "in0"), "x", "splice", J("'${v}'"));
  tb_var(c, "${v}", "plain", J("0"));
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_act(p, "b0", "loop_count");
  tb_act(p, "b1", "noop");
  tb_link(p, "s pg b0 eg1 cg sp eg2 e");
  tb_loop(p, "eg1", "b0", "cg", "n0", "b0", "2");
  tb_link(p, "pg b1 cg");
  tb_param(tb_sub(p, "sp", c), "${v}", "splice", J("'${s_i}'"));
  tb_loop(p, "eg2", "sp", "e", "s_i", "sp", "3");
  xu_run(e, p, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
  ASSERT_EQ(xu_node(e, "t", "in0").loop, 3);
}

#define SG_TEMPLATE "5ad26a77856c360585209702f5d3e614"

/* SOPS's subprocess-gateways export: the failing timer skipped, then
 * the three pause_nodes of the subprocess called back. */
static void sc_subprocess(rattan_engine *e) {
  char *text = test_slurp("tests/data/subprocess-gateways.json", NULL);
  rattan_task_options o = {.id = "t", .template_id = SG_TEMPLATE};
  char id[RATTAN_ID_MAX + 1];
  ASSERT_OK(rattan_task_create(e, text, strlen(text), &o, id),
            rattan_errmsg(e));
  free(text);
  ASSERT_OK(rattan_task_start(e, "t"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_OK(rattan_node_skip(e, "t", "nc9a4ab053d03d74ad3a36a7435b6eed"),
            rattan_errmsg(e));
  xu_drive(e, "t");
  const char *pauses[] = {"n85b38c0ea2b37c0a39c254873dcd1b6",
                          "n0843c82737d300796a4085926bf830e",
                          "n50b402b290e3dc59ed78162b82c4548"};
  xu_callback(e, "t", pauses[0], "{\"who\":\"first\"}");
  xu_drive(e, "t");
  for (int i = 1; i < 3; i++) {
    xu_callback(e, "t", pauses[i], "{}");
    xu_drive(e, "t");
  }
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* A subprocess two deep, paused while its activity waits on a callback,
 * then resumed; a node pause appointment inside it. */
static void sc_nested(rattan_engine *e) {
  json_t *outer = tb_new("outer", "s_o", "e_o");
  tb_sub(outer, "inner", TB_LINE("inner", "s_i w x e_i", "cb", "emit"));
  tb_act(outer, "mid", "noop");
  tb_link(outer, "s_o mid inner e_o");
  xu_start_tree(e, tb_wrap(outer), "t");
  ASSERT_OK(rattan_node_pause(e, "t", "x"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_OK(rattan_subprocess_pause(e, "t", "inner"), rattan_errmsg(e));
  xu_callback(e, "t", "w", "{\"deep\":[1,2]}");
  xu_drive(e, "t");
  ASSERT_OK(rattan_subprocess_resume(e, "t", "inner"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "x", RATTAN_STATE_SUSPENDED);
  ASSERT_OK(rattan_node_resume(e, "t", "x"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* A subprocess whose params cannot be rendered fails; retried as a
 * subprocess it fails again. */
static void sc_retry_subprocess(rattan_engine *e) {
  json_t *c = TB_LINE("sp", "s_sp in e_sp", "noop");
  tb_var(c, "${v}", "plain", J("1"));
  json_t *p = tb_wrap(c);
  tb_param(tb_node(p, "sp"), "${v}", "splice", J("'${1 / 0}'"));
  xu_run(e, p, "t");
  ASSERT_OK(rattan_subprocess_retry(e, "t", "sp"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_NODE(e, "t", "sp", RATTAN_STATE_FAILED, ANY, ANY, 1, ANY, ANY);
}

/* The task paused while a1 waits on its callback, which still finishes
 * it; resumed, the timer runs, and a2, paused by appointment, waits
 * until it is resumed too. */
static void sc_pause_resume(rattan_engine *e) {
  json_t *p = TB_LINE("p", "s a1 timer a2 e", "cb", "sleep_timer", "noop");
  tb_in(tb_node(p, "timer"), "bk_timing", "plain", J("3"));
  xu_start_tree(e, p, "t");
  ASSERT_OK(rattan_node_pause(e, "t", "a2"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_OK(rattan_task_pause(e, "t"), rattan_errmsg(e));
  xu_callback(e, "t", "a1", "{\"k\":\"v\"}");
  xu_drive(e, "t");
  EXPECT_NOT_RUN(e, "t", "timer");
  ASSERT_OK(rattan_task_resume(e, "t"), rattan_errmsg(e));
  xu_drive(e, "t");
  EXPECT_STATE(e, "t", "a2", RATTAN_STATE_SUSPENDED);
  ASSERT_OK(rattan_node_resume(e, "t", "a2"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* Revoked while a timer and a callback wait in parallel branches; the
 * callback after the revoke runs nothing. */
static void sc_revoke(rattan_engine *e) {
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  tb_in(tb_act(p, "timer", "sleep_timer"), "bk_timing", "plain", J("30"));
  tb_act(p, "w", "cb");
  tb_act(p, "after", "noop");
  tb_link(p, "s pg timer cg after e");
  tb_link(p, "pg w cg");
  xu_start_tree(e, p, "t");
  step_until(e, "timer", RATTAN_STATE_RUNNING);
  step_until(e, "w", RATTAN_STATE_RUNNING);
  ASSERT_OK(rattan_task_revoke(e, "t"), rattan_errmsg(e));
  (void)rattan_node_callback(e, "t", "w", "{}", NULL);
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_REVOKED);
  EXPECT_NOT_RUN(e, "t", "after");
}

/* A polling activity, a callback one, a multi-callback one taking five
 * callbacks (one naming no version) and the built-in pause. */
static void sc_poll_callbacks(rattan_engine *e) {
  json_t *p =
      TB_LINE("p", "s a b c d e", "poll", "cb", "multi_cb", "pause_node");
  tb_in(tb_node(p, "a"), "after", "plain", J("3"));
  xu_run(e, p, "t");
  xu_callback(e, "t", "b", "{\"n\":1}");
  xu_drive(e, "t");
  for (int i = 0; i < 4; i++)
    xu_callback(e, "t", "c", "{\"bit\":1}");
  xu_drive(e, "t");
  ASSERT_OK(rattan_node_callback(e, "t", "c", "[\"last\"]", NULL),
            rattan_errmsg(e));
  xu_drive(e, "t");
  xu_callback(e, "t", "d", "{\"ok\":true}");
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* A callback activity with a 5 s timeout times out while a 10 s timer
 * runs in the other branch; skipped, the task finishes. */
static void sc_timeout(rattan_engine *e) {
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "pg", "ParallelGateway", "cg");
  json_object_set_new(tb_act(p, "wait", "cb"), "timeout", json_integer(5));
  tb_in(tb_act(p, "timer", "sleep_timer"), "bk_timing", "plain", J("10"));
  tb_link(p, "s pg wait cg e");
  tb_link(p, "pg timer cg");
  xu_run(e, p, "t");
  EXPECT_STATE(e, "t", "wait", RATTAN_STATE_FAILED);
  ASSERT_OK(rattan_node_skip(e, "t", "wait"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* A waiting timer forced to fail (its poll, due later, is dropped) and
 * skipped; then a callback activity forced to fail, retried, and called
 * back. */
static void sc_forced_fail(rattan_engine *e) {
  json_t *p = TB_LINE("p", "s timer a e", "sleep_timer", "cb");
  tb_in(tb_node(p, "timer"), "bk_timing", "plain", J("5"));
  xu_start_tree(e, p, "t");
  step_until(e, "timer", RATTAN_STATE_RUNNING);
  ASSERT_OK(rattan_node_forced_fail(e, "t", "timer", "forced by test"),
            rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_OK(rattan_node_skip(e, "t", "timer"), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_OK(rattan_node_forced_fail(e, "t", "a", NULL), rattan_errmsg(e));
  ASSERT_OK(rattan_node_retry(e, "t", "a", NULL), rattan_errmsg(e));
  xu_drive(e, "t");
  xu_callback(e, "t", "a", "{}");
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

/* An exclusive and a conditional parallel gateway that match nothing,
 * skipped onto flows the operator names. */
static void sc_gateways(rattan_engine *e) {
  json_t *p = tb_new("p", "s", "e");
  tb_fork(p, "eg", "ExclusiveGateway", "cg1");
  tb_act(p, "x", "noop");
  tb_act(p, "y", "noop");
  tb_link(p, "s eg x cg1 cpg");
  tb_link(p, "eg y cg1");
  tb_cond(p, "eg", "x", "True == False");
  tb_cond(p, "eg", "y", "True == False");
  tb_fork(p, "cpg", "ConditionalParallelGateway", "cg2");
  tb_fan(p, "cpg", "cg2", "z", 3, "noop");
  for (int i = 0; i < 3; i++)
    tb_cond(p, "cpg", tb_nid("z", i), "1 == 2");
  tb_link(p, "cg2 e");
  xu_run(e, p, "t");
  ASSERT_OK(rattan_node_skip_exg(e, "t", "eg", tb_fid("eg", "y")),
            rattan_errmsg(e));
  xu_drive(e, "t");
  const char *flows[] = {tb_fid("cpg", "z0"), tb_fid("cpg", "z2")};
  ASSERT_OK(rattan_node_skip_cpg(e, "t", "cpg", flows, 2), rattan_errmsg(e));
  xu_drive(e, "t");
  ASSERT_EQ(xu_task_state(e, "t"), RATTAN_STATE_FINISHED);
}

typedef struct scenario {
  const char *name;
  void (*run)(rattan_engine *e);
} scenario;

static const scenario scenarios[] = {
    {"retry", sc_retry},
    {"skip", sc_skip},
    {"loops", sc_loops},
    {"cycle", sc_cycle},
    {"subprocess", sc_subprocess},
    {"nested", sc_nested},
    {"retry_subprocess", sc_retry_subprocess},
    {"pause_resume", sc_pause_resume},
    {"revoke", sc_revoke},
    {"poll_callbacks", sc_poll_callbacks},
    {"timeout", sc_timeout},
    {"forced_fail", sc_forced_fail},
    {"gateways", sc_gateways},
};
#define N_SCENARIOS (sizeof scenarios / sizeof *scenarios)

static const scenario *scenario_named(const char *name) {
  for (size_t i = 0; i < N_SCENARIOS; i++)
    if (!strcmp(scenarios[i].name, name)) return &scenarios[i];
  TEST_FAIL_("no scenario %s", name);
}

/* Runs sc live in a fresh store named dir and returns the export of its
 * task; *live gets the engine (NULL: closed). */
static buf run_live(const scenario *sc, const char *dir, rattan_engine **live) {
  rattan_engine *e = xu_open(dir, 0);
  sc->run(e);
  buf x = export_of(e, "t");
  if (live)
    *live = e;
  else
    rattan_close(e);
  return x;
}

/* Every kind of event this library writes (JOURNAL.md). */
static const char *const kinds[] = {
    "create",        "push",           "result",
    "timeout",       "drop_schedule",  "start",
    "pause",         "resume",         "revoke",
    "retry",         "skip",           "skip_exg",
    "skip_cpg",      "node_pause",     "node_resume",
    "pause_subproc", "resume_subproc", "retry_subprocess",
    "forced_fail",   "callback"};
#define N_KINDS (sizeof kinds / sizeof *kinds)

/* ---- Tests ----------------------------------------------------------------
 */

/* A drop_schedule entry as the writer would write it, appended to the
 * loop sample's journal after its first poll is scheduled: replayed, it
 * deletes the schedule and exports as it came. */
static void expect_drop_schedule_replayed(void) {
  xport x = x_parse(run_live(scenario_named("loops"), "a_drop", NULL));
  unsigned c;
  char path[64], node[RATTAN_ID_MAX + 1];
  size_t k = x_find(&x, 1, "result", "sched", NULL, NULL, &c);
  snprintf(path, sizeof path, "changes.%u.node", c);
  snprintf(node, sizeof node, "%s", x_text(&x, k, path));
  buf b = x_cut(&x, k + 1, k);
  size_t at = b.len;
  put_head(&b, 5, 6);
  put_text(&b, "seq");
  put_head(&b, 0, k + 1);
  put_text(&b, "kind");
  put_text(&b, "drop_schedule");
  put_text(&b, "at");
  put_head(&b, 0, (uint64_t)x_at(&x, k));
  put_text(&b, "args");
  put_head(&b, 5, 1);
  put_text(&b, "node");
  put_text(&b, node);
  put_text(&b, "changes");
  put_head(&b, 4, 1);
  put_head(&b, 5, 3);
  put_text(&b, "type");
  put_text(&b, "sched");
  put_text(&b, "node");
  put_text(&b, node);
  put_text(&b, "value");
  put_head(&b, 7, 22); /* null */
  uint32_t crc = crc32c(0, b.data + at, b.len - at);
  put_text(&b, "crc");
  put_head(&b, 0, crc);
  rattan_engine *e = open_plain("b_drop");
  rattan_replay_result r = replay_ok(e, &b, NULL);
  ASSERT_EQ(r.events, k + 1);
  buf again = export_of(e, "t");
  ASSERT(buf_eq(&again, &b));
  buf_free(&again);
  buf_free(&b);
  x_free(&x);
  rattan_close(e);
}

/* Each scenario's export replayed into a fresh store: the same answers
 * (as of the last event and later), the same records, the same export
 * back, the result counting every event; and together the scenarios
 * write every event kind. */
void test_replay_scenarios(void) {
  int seen[N_KINDS] = {0};
  for (size_t s = 0; s < N_SCENARIOS; s++) {
    const scenario *sc = &scenarios[s];
    char dir[64];
    rattan_engine *a;
    snprintf(dir, sizeof dir, "a_%s", sc->name);
    xport x = x_parse(run_live(sc, dir, &a));
    snprintf(dir, sizeof dir, "b_%s", sc->name);
    rattan_engine *b = open_plain(dir);
    rattan_replay_result r = replay_ok(b, &x.b, NULL);
    ASSERT_STR(r.task, "t");
    ASSERT_EQ(r.events, x.n - 1);
    ASSERT_EQ(r.total, x.n - 1);
    ASSERT_EQ(x_uint(&x, 0, "events"), x.n - 1);
    ASSERT_EQ(r.last_us, x_at(&x, x.n - 1));
    for (size_t i = 1; i < x.n; i++) {
      ASSERT_EQ(x_uint(&x, i, "seq"), i);
      for (size_t k = 0; k < N_KINDS; k++)
        seen[k] |= !strcmp(x_text(&x, i, "kind"), kinds[k]);
    }
    const int64_t nows[] = {r.last_us, r.last_us + 90 * SEC};
    for (int n = 0; n < 2; n++) {
      buf ta = answers(a, "t", nows[n]), tb = answers(b, "t", nows[n]);
      expect_same_answers(sc->name, &ta, &tb);
      buf_free(&ta);
      buf_free(&tb);
    }
    buf da = dump(a, "t"), db = dump(b, "t");
    if (!buf_eq(&da, &db))
      TEST_FAIL_("%s: the replayed task's records differ", sc->name);
    buf again = export_of(b, "t");
    if (!buf_eq(&again, &x.b))
      TEST_FAIL_("%s: the replayed task exports other bytes", sc->name);
    buf_free(&da);
    buf_free(&db);
    buf_free(&again);
    x_free(&x);
    rattan_close(a);
    rattan_close(b);
  }
  /* drop_schedule is written for a schedule left behind by a node that
   * moved on, which no operation leaves (each deletes the schedule it
   * makes stale): it is checked apart, on an entry built by hand. */
  for (size_t k = 0; k < N_KINDS; k++)
    if (!seen[k] && strcmp(kinds[k], "drop_schedule"))
      TEST_FAIL_("no scenario writes a %s event", kinds[k]);
  expect_drop_schedule_replayed();
}

/* Replays of the first N events, for every N, and of the events up to
 * the time of each event, each into a fresh store: the task exports
 * exactly that prefix of the journal, its header counting the events
 * applied. More than the journal holds is all of it; a time before the
 * first event is refused. */
void test_replay_prefixes(void) {
  xport x = x_parse(run_live(scenario_named("loops"), "a", NULL));
  size_t total = x.n - 1;
  rattan_replay_options o;
  char dir[32];
  for (size_t n = 1; n <= total + 1; n++) {
    snprintf(dir, sizeof dir, "n%zu", n);
    rattan_engine *b = open_plain(dir);
    rattan_replay_options_init(&o);
    o.max_events = n;
    rattan_replay_result r = replay_ok(b, &x.b, &o);
    size_t want = n <= total ? n : total;
    ASSERT_EQ(r.events, want);
    ASSERT_EQ(r.total, total);
    ASSERT_EQ(r.last_us, x_at(&x, want));
    buf got = export_of(b, "t"), cut = x_cut(&x, want, want);
    if (!buf_eq(&got, &cut)) TEST_FAIL_("max_events %zu: other bytes", n);
    buf_free(&got);
    buf_free(&cut);
    rattan_close(b);
  }
  /* Times never go back, so the events up to a time are a prefix: up
   * to the last event of that time. */
  for (size_t k = 2; k <= total; k++)
    ASSERT(x_at(&x, k) >= x_at(&x, k - 1));
  ASSERT(x_at(&x, total) > x_at(&x, 1));
  for (size_t k = 1; k <= total; k++) {
    size_t want = k;
    while (want < total && x_at(&x, want + 1) == x_at(&x, k))
      want++;
    snprintf(dir, sizeof dir, "u%zu", k);
    rattan_engine *b = open_plain(dir);
    rattan_replay_options_init(&o);
    o.until_us = x_at(&x, k);
    rattan_replay_result r = replay_ok(b, &x.b, &o);
    ASSERT_EQ(r.events, want);
    ASSERT_EQ(r.last_us, o.until_us);
    buf got = export_of(b, "t"), cut = x_cut(&x, want, want);
    if (!buf_eq(&got, &cut)) TEST_FAIL_("until event %zu: other bytes", k);
    buf_free(&got);
    buf_free(&cut);
    rattan_close(b);
  }
  /* Reading stops at the limit: after the n-th event, or at the first
   * event past the time (which is read to find its time); garbage after
   * that is never examined. */
  int timed = 0;
  for (size_t n = 1; n < total; n++) {
    int by_time = x_at(&x, n + 1) > x_at(&x, n);
    for (int mode = 0; mode <= by_time; mode++) {
      snprintf(dir, sizeof dir, "g%zu_%d", n, mode);
      rattan_engine *b = open_plain(dir);
      buf g = {0};
      ASSERT(!buf_append(&g, x.b.data, x.off[n + 1 + mode]));
      ASSERT(!buf_append(&g, "\xff garbage", 9));
      rattan_replay_options_init(&o);
      if (mode)
        o.until_us = x_at(&x, n);
      else
        o.max_events = n;
      ASSERT_EQ(replay_ok(b, &g, &o).events, n);
      buf_free(&g);
      rattan_close(b);
    }
    timed += by_time;
  }
  ASSERT(timed > 0);
  rattan_engine *b = open_plain("early");
  rattan_replay_options_init(&o);
  o.until_us = x_at(&x, 1) - 1;
  ASSERT_CONTAINS(refused(b, x.b.data, x.b.len, &o, RATTAN_EINVAL),
                  "no event within the limit");
  rattan_close(b);
  x_free(&x);
}

/* Each strict prefix of an export (every length for a small one, every
 * 37th for a larger one) is refused as truncated, naming the item the
 * cut falls in (or the next one, for a cut between items) and a byte
 * offset within the bytes present; the store stays as it was, and the
 * whole export still replays after all of them. */
void test_replay_truncated(void) {
  const struct {
    const char *scenario;
    size_t stride;
  } cases[] = {{"skip", 1}, {"subprocess", 37}};
  for (size_t c = 0; c < 2; c++) {
    char dir[32];
    snprintf(dir, sizeof dir, "a%zu", c);
    xport x = x_parse(run_live(scenario_named(cases[c].scenario), dir, NULL));
    if (c == 0) ASSERT(x.b.len < 8192);
    snprintf(dir, sizeof dir, "b%zu", c);
    rattan_engine *b = open_plain(dir);
    ASSERT_CONTAINS(refused(b, NULL, 0, NULL, RATTAN_ECORRUPT),
                    "journal: header, byte 0:");
    size_t item = 0;
    for (size_t len = 0; len < x.b.len; len += cases[c].stride) {
      while (x.off[item + 1] <= len)
        item++;
      const char *m = refused(b, x.b.data, len, NULL, RATTAN_ECORRUPT);
      unsigned long long named;
      size_t at;
      if (!msg_where(m, &named, &at))
        TEST_FAIL_("cut at %zu: \"%s\" names no item and byte", len, m);
      if (named != item || at < x.off[item] || at > len)
        TEST_FAIL_("cut at %zu (item %zu from byte %zu): \"%s\"", len, item,
                   x.off[item], m);
    }
    ASSERT_EQ(replay_ok(b, &x.b, NULL).events, x.n - 1);
    x_free(&x);
    rattan_close(b);
  }
}

/* Every bit flip (bit i % 8 of byte i) of a small export, and of every
 * 7th byte of a larger one, is refused, naming the item it falls in and
 * a byte offset at or after the item's start; the store stays as it
 * was. */
void test_replay_bit_flips(void) {
  const struct {
    const char *scenario;
    size_t stride;
  } cases[] = {{"skip", 1}, {"subprocess", 7}};
  for (size_t c = 0; c < 2; c++) {
    char dir[32];
    snprintf(dir, sizeof dir, "a%zu", c);
    xport x = x_parse(run_live(scenario_named(cases[c].scenario), dir, NULL));
    snprintf(dir, sizeof dir, "b%zu", c);
    rattan_engine *b = open_plain(dir);
    size_t item = 0;
    for (size_t i = 0; i < x.b.len; i += cases[c].stride) {
      while (x.off[item + 1] <= i)
        item++;
      x.b.data[i] ^= (uint8_t)(1u << (i % 8));
      const char *m = refused(b, x.b.data, x.b.len, NULL, RATTAN_ECORRUPT);
      unsigned long long named;
      size_t at;
      if (!msg_where(m, &named, &at) || named != item || at < x.off[item])
        TEST_FAIL_("flip at byte %zu (item %zu from byte %zu): \"%s\"", i, item,
                   x.off[item], m);
      x.b.data[i] ^= (uint8_t)(1u << (i % 8));
    }
    ASSERT_EQ(replay_ok(b, &x.b, NULL).events, x.n - 1);
    x_free(&x);
    rattan_close(b);
  }
}

/* ---- Hostile exports ------------------------------------------------------
 */

/* The largest single allocation rattan asked for (rattan_set_allocator):
 * a claimed length must never become one. */
static size_t biggest_alloc;

static void *count_malloc(size_t n, void *ctx) {
  (void)ctx;
  if (n > biggest_alloc) biggest_alloc = n;
  return malloc(n);
}

static void *count_realloc(void *p, size_t n, void *ctx) {
  (void)ctx;
  if (n > biggest_alloc) biggest_alloc = n;
  return realloc(p, n);
}

static void count_free(void *p, void *ctx) {
  (void)ctx;
  free(p);
}

/* The damaged export d (freed here) is refused with code by b, which
 * names item and says what. */
static void expect_hostile(int line, rattan_engine *b, buf d, int code,
                           size_t item, const char *what) {
  int rc = refusal(b, d.data, d.len, NULL);
  const char *m = rattan_errmsg(b);
  unsigned long long named = 0;
  size_t at = 0;
  int where = msg_where(m, &named, &at);
  if (rc != code || !where || named != item || at > d.len || !strstr(m, what))
    TEST_FAIL_("line %d: %s \"%s\", expected %s naming item %zu and \"%s\"",
               line, rattan_errname(rc), m, rattan_errname(code), item, what);
  buf_free(&d);
}
#define EXPECT_HOSTILE(b, d, code, item, what) \
  expect_hostile(__LINE__, (b), (d), (code), (item), (what))

/* A head with an 8-byte argument: a length or count of 2^62. */
static const uint8_t huge_text[] = {0x7b, 0x40, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t huge_array[] = {0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t huge_map[] = {0xbb, 0x40, 0, 0, 0, 0, 0, 0, 0};

/* Lengths and counts far larger than the bytes present, in the header
 * and in events, refused without allocating from them. */
static void hostile_lengths(const xport *x) {
  rattan_allocator a = {count_malloc, count_realloc, count_free, NULL};
  ASSERT_OK(rattan_set_allocator(&a), "allocator");
  rattan_engine *b = open_plain("b_lengths");
  biggest_alloc = 0;
  EXPECT_HOSTILE(b, x_set(x, 0, "definition", huge_text, sizeof huge_text),
                 RATTAN_ECORRUPT, 0, "needs");
  EXPECT_HOSTILE(b, x_set(x, 1, "kind", huge_text, sizeof huge_text),
                 RATTAN_ECORRUPT, 1, "needs");
  EXPECT_HOSTILE(b, x_set(x, 2, "changes", huge_array, sizeof huge_array),
                 RATTAN_ECORRUPT, 2, "a count of 4611686018427387904");
  unsigned c;
  size_t k = x_find(x, 1, "push", NULL, NULL, NULL, &c);
  EXPECT_HOSTILE(b, x_set(x, k, "args", huge_map, sizeof huge_map),
                 RATTAN_ECORRUPT, k, "a count of 4611686018427387904");
  rattan_close(b);
  ASSERT_OK(rattan_set_allocator(NULL), "allocator");
  if (biggest_alloc > x->b.len + (1 << 20))
    TEST_FAIL_("a hostile export made rattan allocate %zu bytes",
               biggest_alloc);
}

/* 64 arrays in one another around a 0. */
static buf deep_arrays(void) {
  buf d = {0};
  for (int i = 0; i < 64; i++)
    put_head(&d, 4, 1);
  put_head(&d, 0, 0);
  return d;
}

/* Replays of exports damaged behind a valid checksum: each refused with
 * its own reason, naming the item (and the node, for the rules). */
void test_replay_hostile(void) {
  xport x = x_parse(run_live(scenario_named("retry"), "a", NULL));
  hostile_lengths(&x);
  rattan_engine *b = open_plain("b");
  unsigned c;
  char path[64];
  size_t k;

  buf deep = deep_arrays();
  k = x_find(&x, 1, "push", "state", NULL, NULL, &c);
  snprintf(path, sizeof path, "changes.%u", c);
  EXPECT_HOSTILE(b, x_set(&x, k, path, deep.data, deep.len), RATTAN_ECORRUPT, k,
                 "nested deeper than the format's 5 levels");
  EXPECT_HOSTILE(b, x_set(&x, k, "args.pid", deep.data, deep.len),
                 RATTAN_ECORRUPT, k, "nested deeper");
  buf_free(&deep);

  EXPECT_HOSTILE(b, x_set_text(&x, 0, "format", "rattan-journey"),
                 RATTAN_ECORRUPT, 0,
                 "format \"rattan-journey\" is not \"rattan-journal\"");
  EXPECT_HOSTILE(b, x_set_uint(&x, 0, "version", 2), RATTAN_ECORRUPT, 0,
                 "format version 2 is not one this library reads");
  EXPECT_HOSTILE(b, x_set_text(&x, 0, "definition", "{\"id\":\"p\""),
                 RATTAN_ECORRUPT, 0, "definition");
  EXPECT_HOSTILE(b, x_set_text(&x, 0, "root", "q"), RATTAN_ECORRUPT, 0,
                 "root q is not the definition's");
  /* In version 1 the clock's origin is the creation time. */
  EXPECT_HOSTILE(b, x_set_uint(&x, 0, "clock", XU_T0 + 5), RATTAN_ECORRUPT, 0,
                 "clock");
  EXPECT_HOSTILE(b, x_set_text(&x, 0, "task", "u"), RATTAN_ECORRUPT, 1,
                 "the task created is not the header's");
  EXPECT_HOSTILE(b, x_set_uint(&x, 0, "events", x.n), RATTAN_ECORRUPT, x.n,
                 "the header announces");
  /* Refused at the first event past the count. */
  EXPECT_HOSTILE(b, x_set_uint(&x, 0, "events", x.n - 2), RATTAN_ECORRUPT,
                 x.n - 1, "more events than the");
  EXPECT_HOSTILE(b, x_set_text(&x, k, "kind", "pull"), RATTAN_ECORRUPT, k,
                 "unknown event kind \"pull\"");
  EXPECT_HOSTILE(b, x_set_uint(&x, k, "seq", k + 1), RATTAN_ECORRUPT, k,
                 "out of order");
  /* The seq in 2 bytes instead of 1: fields as this library writes them
   * only. */
  const uint8_t long_seq[] = {0x18, (uint8_t)k};
  EXPECT_HOSTILE(b, x_set(&x, k, "seq", long_seq, 2), RATTAN_ECORRUPT, k,
                 "not as this library writes it");

  /* The rules. */
  snprintf(path, sizeof path, "changes.%u.node", c);
  EXPECT_HOSTILE(b, x_set_text(&x, k, path, "zz"), RATTAN_ECORRUPT, k,
                 "node zz: not in the definition");
  k = x_find(&x, 1, "result", "state", "action", "fail", &c);
  snprintf(path, sizeof path, "changes.%u.from", c);
  EXPECT_HOSTILE(b, x_set_text(&x, k, path, "READY"), RATTAN_ESTATE, k,
                 "node a1: the change starts from READY but the node is "
                 "RUNNING");
  snprintf(path, sizeof path, "changes.%u.action", c);
  EXPECT_HOSTILE(b, x_set_text(&x, k, path, "jump"), RATTAN_ECORRUPT, k,
                 "node a1: unknown action \"jump\"");
  snprintf(path, sizeof path, "changes.%u.rec.archived", c);
  EXPECT_HOSTILE(
      b, x_set_uint(&x, k, path, XU_T0 + 7), RATTAN_ESTATE, k,
      "node a1: fail RUNNING -> FAILED breaks the rule for archived");
  k = x_find(&x, 1, "retry", "state", "action", "retry", &c);
  snprintf(path, sizeof path, "changes.%u.rec.retry", c);
  EXPECT_HOSTILE(b, x_set_uint(&x, k, path, 2), RATTAN_ESTATE, k,
                 "node a1: retry FAILED -> READY breaks the rule for retry");
  k = x_find(&x, 1, "retry", "history", NULL, NULL, &c);
  snprintf(path, sizeof path, "changes.%u.index", c);
  EXPECT_HOSTILE(b, x_set_uint(&x, k, path, 5), RATTAN_ECORRUPT, k,
                 "node a1: history entry 5 is not the node's record");
  k = x_find(&x, 1, "push", "data", "tag", "exec", &c);
  snprintf(path, sizeof path, "changes.%u.value", c);
  EXPECT_HOSTILE(b, x_set_text(&x, k, path, "{\"inputs\":"), RATTAN_ECORRUPT, k,
                 "data is not a JSON object");

  /* Trailing bytes: garbage, and the last event once more. */
  size_t last = x.n - 1, il;
  const uint8_t *p = x_item(&x, last, &il);
  buf d = {0};
  ASSERT(!buf_append(&d, x.b.data, x.b.len));
  ASSERT(!buf_append(&d, "\0", 1));
  EXPECT_HOSTILE(b, d, RATTAN_ECORRUPT, x.n, "not a map with a checksum");
  d = (buf){0};
  ASSERT(!buf_append(&d, x.b.data, x.b.len));
  ASSERT(!buf_append(&d, p, il));
  EXPECT_HOSTILE(b, d, RATTAN_ECORRUPT, x.n, "more events than the");

  /* A task the store has already. */
  ASSERT_EQ(replay_ok(b, &x.b, NULL).events, x.n - 1);
  ASSERT_CONTAINS(refused(b, x.b.data, x.b.len, NULL, RATTAN_EEXIST),
                  "task t already exists");
  rattan_close(b);
  x_free(&x);
}

/* ---- Environment ----------------------------------------------------------
 */

/* Sets the zone (TZ) and the first of locales that exists (LC_ALL and
 * setlocale); returns that locale. */
static const char *set_env(const char *tz, const char *const *locales) {
  ASSERT_EQ(setenv("TZ", tz, 1), 0);
  tzset();
  for (; *locales; locales++)
    if (setlocale(LC_ALL, *locales)) {
      ASSERT_EQ(setenv("LC_ALL", *locales, 1), 0);
      return *locales;
    }
  TEST_FAIL_("no locale to set");
}

/* The zone's offset from UTC at XU_T0, in seconds. */
static long zone_offset(void) {
  time_t t = (time_t)(XU_T0 / SEC);
  struct tm tm;
  ASSERT(localtime_r(&t, &tm));
  return tm.tm_gmtoff;
}

/* The same scenarios run under TZ=UTC and the C locale, then under
 * TZ=Asia/Tokyo and another locale (de_DE or fr_FR, whose decimal point
 * is a comma, where installed; else C.UTF-8): the exports are the same
 * bytes, and so are every answer of their replays. */
void test_replay_env_determinism(void) {
  static const char *const c_locale[] = {"C", NULL};
  static const char *const other[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "C.UTF-8",
                                      "C.utf8", NULL};
  const char *const names[] = {"loops", "subprocess", "poll_callbacks"};
  buf first[3][2];
  for (int env = 0; env < 2; env++) {
    set_env(env ? "Asia/Tokyo" : "UTC", env ? other : c_locale);
    /* Without tzdata, the same zone as a POSIX rule. */
    if (env && zone_offset() != 9 * 3600) set_env("JST-9", other);
    ASSERT_EQ(zone_offset(), env ? 9 * 3600 : 0);
    for (int s = 0; s < 3; s++) {
      char dir[64];
      snprintf(dir, sizeof dir, "a_%s_%d", names[s], env);
      buf x = run_live(scenario_named(names[s]), dir, NULL);
      snprintf(dir, sizeof dir, "b_%s_%d", names[s], env);
      rattan_engine *b = open_plain(dir);
      rattan_replay_result r = replay_ok(b, &x, NULL);
      buf t = answers(b, "t", r.last_us);
      rattan_close(b);
      if (env == 0) {
        first[s][0] = x;
        first[s][1] = t;
        continue;
      }
      if (!buf_eq(&x, &first[s][0]))
        TEST_FAIL_("%s: the export depends on the zone or locale", names[s]);
      expect_same_answers(names[s], &first[s][1], &t);
      buf_free(&x);
      buf_free(&t);
      buf_free(&first[s][0]);
      buf_free(&first[s][1]);
    }
  }
}

/* ---- Golden journals ------------------------------------------------------
 */

static const char *const fixtures[] = {
    "retry", "skip", "loops", "subprocess", "nested", "pause_resume", "revoke"};

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) TEST_FAIL_("cannot write %s: %s", path, strerror(errno));
  ASSERT(fwrite(p, 1, n, f) == n);
  ASSERT_EQ(fclose(f), 0);
}

/* tests/data/journals/NAME.cbor is the journal of scenario NAME and
 * NAME.status.json the status of its replay (sops-v2, pretty JSON and a
 * newline, trace_id "fixture", as of the last event). Each fixture
 * replays to its golden status, and the scenario run live today exports
 * the fixture's bytes: a change to the format or to the engine's
 * behaviour shows here. RATTAN_WRITE_FIXTURES=1 (re)writes both files
 * from the live run first (paths are relative to the repository root,
 * where the tests run). */
void test_replay_fixtures(void) {
  const char *w = getenv("RATTAN_WRITE_FIXTURES");
  int write = w && !strcmp(w, "1");
  if (write && mkdir("tests/data/journals", 0777) && errno != EEXIST)
    TEST_FAIL_("tests/data/journals: %s", strerror(errno));
  for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
    const char *name = fixtures[i];
    char cbor[128], golden[128], dir[64];
    snprintf(cbor, sizeof cbor, "tests/data/journals/%s.cbor", name);
    snprintf(golden, sizeof golden, "tests/data/journals/%s.status.json", name);
    snprintf(dir, sizeof dir, "a_%s", name);
    buf live = run_live(scenario_named(name), dir, NULL);
    if (write) write_file(cbor, live.data, live.len);

    size_t n, gn;
    char *fx = test_slurp(cbor, &n);
    snprintf(dir, sizeof dir, "b_%s", name);
    rattan_engine *b = open_plain(dir);
    rattan_replay_result r;
    ASSERT_OK(rattan_replay(b, fx, n, NULL, &r), rattan_errmsg(b));
    rattan_status_options o;
    opts_init(&o, r.last_us);
    o.trace_id = "fixture";
    o.pretty = 1;
    char *st;
    size_t sn;
    ASSERT_OK(rattan_task_status(b, "t", &o, &st, &sn), rattan_errmsg(b));
    buf want = {0};
    ASSERT(!buf_append(&want, st, sn) && !buf_append(&want, "\n", 1));
    if (write) write_file(golden, want.data, want.len);
    char *got = test_slurp(golden, &gn);
    if (gn != want.len || memcmp(got, want.data, gn))
      TEST_FAIL_("%s: the replay's status is not %s:\n%s", name, golden, st);
    if (n != live.len || memcmp(fx, live.data, n))
      TEST_FAIL_("%s: the live run exports other bytes than %s", name, cbor);
    rattan_free(st);
    free(got);
    free(fx);
    buf_free(&want);
    buf_free(&live);
    rattan_close(b);
  }
}

/* A task's project is journaled (header and task change) and replayed;
 * tasks without one keep the entries they had before projects existed. */
void test_replay_project(void) {
  rattan_engine *e = xu_open("live", 0);
  char *json = tb_json(TB_CHAIN("echo"));
  char id[RATTAN_ID_MAX + 1];
  rattan_task_options to = {.id = "t1", .project = "biz-7"};
  ASSERT_OK(rattan_task_create(e, json, strlen(json), &to, id),
            rattan_errmsg(e));
  to = (rattan_task_options){.id = "t2"};
  ASSERT_OK(rattan_task_create(e, json, strlen(json), &to, id),
            rattan_errmsg(e));
  to = (rattan_task_options){.id = "t3", .project = "no/slash"};
  ASSERT_EQ(rattan_task_create(e, json, strlen(json), &to, id), RATTAN_EINVAL);
  ASSERT_CONTAINS(rattan_errmsg(e), "project id \"no/slash\"");
  free(json);
  ASSERT_OK(rattan_task_start(e, "t1"), rattan_errmsg(e));
  rattan_drive_result r;
  ASSERT_OK(rattan_drive(e, NULL, 0, &r), rattan_errmsg(e));
  char project[RATTAN_ID_MAX + 1];
  ASSERT_OK(rattan_task_project(e, "t1", project), rattan_errmsg(e));
  ASSERT_STR(project, "biz-7");
  ASSERT_OK(rattan_task_project(e, "t2", project), rattan_errmsg(e));
  ASSERT_STR(project, "");
  ASSERT_EQ(rattan_task_project(e, "t3", project), RATTAN_ENOTFOUND);

  xport p1 = x_parse(export_of(e, "t1")), p2 = x_parse(export_of(e, "t2"));
  const buf *x1 = &p1.b, *x2 = &p2.b;
  ASSERT_STR(x_text(&p1, 0, "project"), "biz-7");
  ASSERT_STR(x_text(&p1, 1, "changes.0.project"), "biz-7");
  ASSERT(!memmem(x2->data, x2->len, "project", 7));

  /* Status answers within a project see its tasks only. */
  rattan_status_options so;
  rattan_status_options_init(&so);
  so.trace_id = "t";
  so.project = "biz-8";
  char *out;
  size_t len;
  ASSERT_EQ(rattan_task_status(e, "t1", &so, &out, &len), RATTAN_ENOTFOUND);
  ASSERT_CONTAINS(out, "TaskFlowInstance(id=t1) does not exist");
  rattan_free(out);
  so.project = "biz-7";
  ASSERT_OK(rattan_task_status(e, "t1", &so, &out, &len), "status");
  ASSERT_CONTAINS(out, "\"state\": \"FINISHED\"");
  rattan_free(out);

  rattan_engine *r2 = open_plain("replayed");
  replay_ok(r2, x1, NULL);
  replay_ok(r2, x2, NULL);
  ASSERT_OK(rattan_task_project(r2, "t1", project), rattan_errmsg(r2));
  ASSERT_STR(project, "biz-7");
  buf y1 = export_of(r2, "t1"), y2 = export_of(r2, "t2");
  ASSERT(buf_eq(x1, &y1));
  ASSERT(buf_eq(x2, &y2));
  buf d1 = dump(e, "t1"), d2 = dump(r2, "t1");
  ASSERT(buf_eq(&d1, &d2));

  /* A header whose project differs from the task change's is refused. */
  buf bad = x_set_text(&p1, 0, "project", "biz-9");
  rattan_engine *r3 = open_plain("refused");
  ASSERT_CONTAINS(refused(r3, bad.data, bad.len, NULL, RATTAN_ECORRUPT),
                  "the task created is not the header's");
  rattan_close(r3);

  buf_free(&bad);
  buf_free(&d1);
  buf_free(&d2);
  buf_free(&y1);
  buf_free(&y2);
  x_free(&p1);
  x_free(&p2);
  rattan_close(r2);
  rattan_close(e);
}
