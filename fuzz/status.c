/*
 * The status target: the input writes the state records and execution
 * data of a task of a fixed shape (a subprocess and gateways, so the tree
 * nests and folds) with any states, counters, times and ex_data texts,
 * then asks for its status in every profile and format (whole or for the
 * subprocess, with or without ex_data, as the input says), in a zone and
 * at a moment the input gives. Each JSON answer must parse, and
 * the msgpack and CBOR answers must decode to exactly the JSON's bytes.
 *
 * The records go in through the store's writers inside a journal entry,
 * as the engine writes them; the rules are not applied, so the encoders
 * see combinations no run would produce.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "decode.h"
#include "scratch.h"
#include "targets.h"

/* s -> a1 -> pg -> {a2, sp(s2 -> b1 -> e2)} -> cg -> eg -> {a3 | a4} ->
 * e: every kind of node the status tree shows. */
static const char tree[] =
    "{\"id\":\"p\",\"name\":\"fuzz\",\"start_event\":{\"id\":\"s\",\"type"
    "\":\"EmptyStartEvent\",\"incoming\":\"\",\"outgoing\":\"f1\"},\"end_"
    "event\":{\"id\":\"e\",\"type\":\"EmptyEndEvent\",\"incoming\":[\"f9"
    "\",\"f10\"],\"outgoing\":\"\"},\"activities\":{\"a1\":{\"id\":\"a1\""
    ",\"type\":\"ServiceActivity\",\"name\":\"\\u4e00\",\"incoming\":[\"f"
    "1\"],\"outgoing\":\"f2\",\"component\":{\"code\":\"noop\",\"inputs\""
    ":{}},\"error_ignorable\":false,\"skippable\":true,\"retryable\":true"
    ",\"optional\":false,\"timeout\":null},\"a2\":{\"id\":\"a2\",\"type\""
    ":\"ServiceActivity\",\"name\":\"two\",\"incoming\":[\"f3\"],\"outgoi"
    "ng\":\"f5\",\"component\":{\"code\":\"noop\",\"inputs\":{}},\"error_"
    "ignorable\":false,\"skippable\":true,\"retryable\":true,\"optional\""
    ":false,\"timeout\":null},\"a3\":{\"id\":\"a3\",\"type\":\"ServiceAct"
    "ivity\",\"name\":\"three\",\"incoming\":[\"f7\"],\"outgoing\":\"f9\""
    ",\"component\":{\"code\":\"noop\",\"inputs\":{}},\"error_ignorable\""
    ":false,\"skippable\":true,\"retryable\":true,\"optional\":false,\"ti"
    "meout\":null},\"a4\":{\"id\":\"a4\",\"type\":\"ServiceActivity\",\"n"
    "ame\":\"four\",\"incoming\":[\"f8\"],\"outgoing\":\"f10\",\"componen"
    "t\":{\"code\":\"noop\",\"inputs\":{}},\"error_ignorable\":false,\"sk"
    "ippable\":true,\"retryable\":true,\"optional\":false,\"timeout\":nul"
    "l},\"sp\":{\"id\":\"sp\",\"type\":\"SubProcess\",\"name\":\"sub\",\""
    "incoming\":[\"f4\"],\"outgoing\":\"f6\",\"pipeline\":{\"id\":\"sp\","
    "\"start_event\":{\"id\":\"s2\",\"type\":\"EmptyStartEvent\",\"incomi"
    "ng\":\"\",\"outgoing\":\"g1\"},\"end_event\":{\"id\":\"e2\",\"type\""
    ":\"EmptyEndEvent\",\"incoming\":[\"g2\"],\"outgoing\":\"\"},\"activi"
    "ties\":{\"b1\":{\"id\":\"b1\",\"type\":\"ServiceActivity\",\"name\":"
    "\"b\",\"incoming\":[\"g1\"],\"outgoing\":\"g2\",\"component\":{\"cod"
    "e\":\"noop\",\"inputs\":{}},\"error_ignorable\":false,\"skippable\":"
    "true,\"retryable\":true,\"optional\":false,\"timeout\":null}},\"gate"
    "ways\":{},\"flows\":{\"g1\":{\"id\":\"g1\",\"source\":\"s2\",\"targe"
    "t\":\"b1\",\"is_default\":false},\"g2\":{\"id\":\"g2\",\"source\":\""
    "b1\",\"target\":\"e2\",\"is_default\":false}},\"data\":{\"inputs\":{"
    "},\"outputs\":[]}},\"optional\":false}},\"gateways\":{\"pg\":{\"id\""
    ":\"pg\",\"type\":\"ParallelGateway\",\"incoming\":[\"f2\"],\"outgoin"
    "g\":[\"f3\",\"f4\"],\"converge_gateway_id\":\"cg\"},\"cg\":{\"id\":"
    "\"cg\",\"type\":\"ConvergeGateway\",\"incoming\":[\"f5\",\"f6\"],\"o"
    "utgoing\":\"f11\"},\"eg\":{\"id\":\"eg\",\"type\":\"ExclusiveGateway"
    "\",\"incoming\":[\"f11\"],\"outgoing\":[\"f7\",\"f8\"],\"conditions"
    "\":{\"f7\":{\"evaluate\":\"1 == 1\"},\"f8\":{\"evaluate\":\"1 == 0\""
    "}}}},\"flows\":{\"f1\":{\"id\":\"f1\",\"source\":\"s\",\"target\":\""
    "a1\",\"is_default\":false},\"f2\":{\"id\":\"f2\",\"source\":\"a1\","
    "\"target\":\"pg\",\"is_default\":false},\"f3\":{\"id\":\"f3\",\"sour"
    "ce\":\"pg\",\"target\":\"a2\",\"is_default\":false},\"f4\":{\"id\":"
    "\"f4\",\"source\":\"pg\",\"target\":\"sp\",\"is_default\":false},\"f"
    "5\":{\"id\":\"f5\",\"source\":\"a2\",\"target\":\"cg\",\"is_default"
    "\":false},\"f6\":{\"id\":\"f6\",\"source\":\"sp\",\"target\":\"cg\","
    "\"is_default\":false},\"f11\":{\"id\":\"f11\",\"source\":\"cg\",\"ta"
    "rget\":\"eg\",\"is_default\":false},\"f7\":{\"id\":\"f7\",\"source\""
    ":\"eg\",\"target\":\"a3\",\"is_default\":false},\"f8\":{\"id\":\"f8"
    "\",\"source\":\"eg\",\"target\":\"a4\",\"is_default\":false},\"f9\":"
    "{\"id\":\"f9\",\"source\":\"a3\",\"target\":\"e\",\"is_default\":fal"
    "se},\"f10\":{\"id\":\"f10\",\"source\":\"a4\",\"target\":\"e\",\"is_"
    "default\":false}},\"data\":{\"inputs\":{},\"outputs\":[]}}";

/* Every record the tree can hold, with the pipeline it lies in. */
static const struct {
  const char *id, *parent;
} nodes[] = {{"p", "p"},  {"s", "p"},   {"a1", "p"},  {"pg", "p"},  {"a2", "p"},
             {"sp", "p"}, {"s2", "sp"}, {"b1", "sp"}, {"e2", "sp"}, {"cg", "p"},
             {"eg", "p"}, {"a3", "p"},  {"a4", "p"},  {"e", "p"}};
#define N_NODES (sizeof nodes / sizeof *nodes)

/* The input, read from the front; past its end every read gives 0. */
typedef struct input {
  const uint8_t *p;
  size_t n;
} input;

static uint64_t take(input *in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) {
    v = v << 8 | (in->n ? *in->p : 0);
    if (in->n) in->p++, in->n--;
  }
  return v;
}

/* A time near a fixed moment, far from it, or unset. */
static int64_t take_time(input *in) {
  uint8_t kind = (uint8_t)take(in, 1);
  if (kind < 32) return ST_NO_TIME;
  if (kind < 64) return (int64_t)take(in, 8);
  return 1615347954000000LL + (int64_t)take(in, 4) * 1000 * (kind & 1 ? 1 : -1);
}

/* A text of up to 63 bytes of the input, made valid UTF-8 ('?' for each
 * byte that breaks it) so it can live in the stored JSON. */
static void take_text(input *in, char *out) {
  size_t n = take(in, 1) % 64;
  for (size_t i = 0; i < n; i++)
    out[i] = (char)take(in, 1);
  out[n] = '\0';
  for (size_t i = 0; i < n; i++)
    if (!rt_utf8_valid(out, i + 1)) out[i] = '?';
}

typedef struct write_ctx {
  const char *task;
  input *in;
} write_ctx;

static int write_records(eng_txn *t, void *ctx, errbuf *err) {
  write_ctx *w = ctx;
  input in = *w->in; /* re-runnable: read the same bytes on every run */
  st_txn *st = eng_txn_store(t);
  int rc = eng_journal(t, w->task, NULL, "fuzz", err);
  uint32_t seq = 0;
  for (size_t i = 0; i < N_NODES && !rc; i++) {
    uint8_t what = (uint8_t)take(&in, 1);
    if (i > 0 && what < 48) continue; /* the node has no record */
    st_state r = {.state = (uint8_t)(what % RATTAN_STATE_COUNT),
                  .skip = (what >> 3) & 1,
                  .error_ignored = (what >> 4) & 1,
                  .loop = (uint32_t)take(&in, 1),
                  .inner_loop = (uint32_t)take(&in, 1),
                  .retry = (uint32_t)take(&in, 1),
                  .seq = seq++};
    snprintf(r.version, sizeof r.version, "v%032llx",
             (unsigned long long)take(&in, 8));
    snprintf(r.root_id, sizeof r.root_id, "p");
    snprintf(r.parent_id, sizeof r.parent_id, "%s", nodes[i].parent);
    r.created = take_time(&in);
    r.started = take_time(&in);
    r.archived = take_time(&in);
    r.refreshed = take_time(&in);
    st_why why = {"fuzz", -1, NULL};
    rc = st_state_put(st, w->task, nodes[i].id, &r, &why, err);
    if (rc || !(what & 0x40)) continue;
    char ex[64 * 4], text[64 * 6 + 64];
    take_text(&in, ex);
    json_t *ej = json_string(ex);
    char *quoted = ej ? json_dumps(ej, JSON_ENCODE_ANY) : NULL;
    json_decref(ej);
    if (!quoted) return err_set(err, RATTAN_ENOMEM, "out of memory");
    snprintf(text, sizeof text,
             "{\"inputs\":{},\"outputs\":{\"_result\":false},\"ex_data\":%s}",
             quoted);
    rt_free(quoted);
    rc = st_data_put(st, w->task, nodes[i].id, ST_DATA_EXEC, 0,
                     (st_slice){text, strlen(text)}, err);
  }
  w->in->p = in.p;
  w->in->n = in.n;
  return rc;
}

/* ---- The store: one per process, emptied now and then ------------------- */

static char status_dir[64];
static rattan_engine *status_engine;
static unsigned status_tasks;

static void status_wipe(void) {
  rattan_close(status_engine);
  status_engine = NULL;
  status_tasks = 0;
  fz_empty_dir(status_dir);
}

static void status_cleanup(void) {
  status_wipe();
  rmdir(status_dir);
}

static rattan_engine *status_open(void) {
  if (!status_dir[0]) {
    if (fz_scratch_dir(status_dir, sizeof status_dir, "status")) abort();
    atexit(status_cleanup);
  }
  if (status_tasks >= 256) status_wipe();
  if (!status_engine) {
    rattan_options o;
    rattan_options_init(&o);
    o.durability = RATTAN_DURABILITY_NOSYNC;
    o.clock.kind = RATTAN_CLOCK_FIXED;
    o.clock.start_us = 1615347954000000LL;
    char msg[256];
    if (rattan_open(status_dir, &o, &status_engine, msg, sizeof msg)) abort();
  }
  return status_engine;
}

/* The three encodings of one answer agree; the JSON one parses. */
static void check_answers(rattan_engine *e, const char *task,
                          rattan_status_options *o) {
  char *out[3];
  size_t len[3];
  for (int f = 0; f < 3; f++) {
    o->format = (rattan_format)f;
    int rc = rattan_task_status(e, task, o, &out[f], &len[f]);
    if (!out[f]) {
      if (rc != RATTAN_ENOMEM) abort(); /* only OOM has no envelope */
      for (int k = 0; k < f; k++)
        rattan_free(out[k]);
      return;
    }
  }
  json_error_t je;
  json_t *j = json_loadb(out[0], len[0], 0, &je);
  if (!j) {
    fprintf(stderr, "status JSON does not parse: %s\n%s\n", je.text, out[0]);
    abort();
  }
  json_decref(j);
  for (int f = 1; f < 3; f++) {
    j = f == 1 ? fz_from_msgpack(out[f], len[f]) : fz_from_cbor(out[f], len[f]);
    char *text = j ? fz_python_dumps(j) : NULL;
    json_decref(j);
    if (!text || strcmp(text, out[0])) {
      fprintf(stderr, "%s differs from JSON:\n%s\n%s\n",
              f == 1 ? "msgpack" : "CBOR", out[0], text ? text : "(none)");
      abort();
    }
    rt_free(text);
  }
  for (int f = 0; f < 3; f++)
    rattan_free(out[f]);
}

int fuzz_status(const uint8_t *data, size_t size) {
  rattan_engine *e = status_open();
  input in = {data, size};
  char name[64 * 4], task[RATTAN_ID_MAX + 1];
  take_text(&in, name);
  rattan_task_options to = {.name = name[0] ? name : NULL};
  int rc = rattan_task_create(e, tree, sizeof tree - 1, &to, task);
  if (rc) {
    if (rc == RATTAN_ENOMEM) return 0;
    fprintf(stderr, "create: %s\n", rattan_errmsg(e));
    abort();
  }
  status_tasks++;
  errbuf err = {0};
  write_ctx w = {task, &in};
  if (eng_write(e->e, write_records, &w, &err)) {
    if (err.code == RATTAN_ENOMEM) return 0;
    fprintf(stderr, "records: %s\n", err.msg);
    abort();
  }
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.trace_id = "fuzz";
  o.tz_offset_min = (int)(take(&in, 2) % 2881) - 1440;
  o.now_us = take_time(&in);
  for (int p = 0; p < 3; p++) {
    uint8_t k = (uint8_t)take(&in, 1);
    o.profile = (rattan_profile)p;
    o.with_ex_data = k & 1;
    o.subprocess_id = k & 2 ? "sp" : NULL;
    check_answers(e, task, &o);
  }
  return 0;
}
