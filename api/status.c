/*
 * get_task_status: one tree walk over the task's records (eng_status),
 * three profiles, three encodings, and the SOPS envelopes around them.
 *
 * What each profile reproduces (reference/sops-api.md):
 *   sops-v2  bamboo's get_pipeline_states(flat_children=False) after
 *            bk-sops' legacy formatting and naming: the "root_id:" key,
 *            the root's parent_id = its root_id, the root's error flags
 *            taken from the last record read, RUNNING parents folded to
 *            FAILED / NODE_SUSPENDED, times as "%Y-%m-%d %H:%M:%S %z" or
 *            null, elapsed_time rounded half to even, names from the
 *            definition ("" for events and gateways and below a
 *            subprocess_id query), the task name on the top node.
 *   sops-v1  the legacy engine's shape of the 2020 documents: its key
 *            order, class reprs for unnamed nodes, 32-hex versions ("" on
 *            the root), state_refresh_at, missing times as "".
 *   bkflow   BKFlow's get_task_states: v2's tree without names, missing
 *            times as "", its own folding, its own envelope.
 */
#include <stdio.h>
#include <string.h>

#include "status_int.h"

void rattan_status_options_init(rattan_status_options *o) {
  *o = (rattan_status_options){
      .struct_size = sizeof *o, .tz_offset_min = 480, .now_us = RATTAN_NO_TIME};
}

/* ---- Times ------------------------------------------------------------------
 */

typedef struct civil {
  int y, mo, d, h, mi, s;
  long us;
} civil;

/* a / b rounded down, *rem = a - that * b (0 <= *rem < b); b > 0. Never
 * overflows, whatever a is. */
static int64_t floor_div(int64_t a, int64_t b, int64_t *rem) {
  int64_t q = a / b, r = a % b;
  if (r < 0) {
    r += b;
    q--;
  }
  *rem = r;
  return q;
}

/* a + b or a - b, held at the int64 range: stored times are whatever a
 * record says, and answers about absurd times must still be answers. */
static int64_t add_sat(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static int64_t sub_sat(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_sub_overflow(a, b, &r) ? (b < 0 ? INT64_MAX : INT64_MIN) : r;
}

/* Splits microseconds since the epoch (shifted by off_min) into a civil
 * date and time (proleptic Gregorian). */
static civil civil_of(int64_t us, int off_min) {
  int64_t t = add_sat(us, (int64_t)off_min * 60000000), frac, rem;
  int64_t secs = floor_div(t, 1000000, &frac);
  int64_t days = floor_div(secs, 86400, &rem);
  civil c = {.h = (int)(rem / 3600),
             .mi = (int)(rem % 3600 / 60),
             .s = (int)(rem % 60),
             .us = frac};
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  c.d = (int)(doy - (153 * mp + 2) / 5 + 1);
  c.mo = (int)(mp < 10 ? mp + 3 : mp - 9);
  c.y = (int)(yoe + era * 400 + (c.mo <= 2));
  return c;
}

/* Writes v as n digits, zero-padded. */
static char *digits(char *p, unsigned v, int n) {
  for (int i = n - 1; i >= 0; i--, v /= 10)
    p[i] = (char)('0' + v % 10);
  return p + n;
}

/* format_datetime: "2020-08-17 20:13:53 +0800". Written by hand: it runs
 * twice per node of every answer. */
void st_local_time(int64_t us, int off_min, char out[40]) {
  civil c = civil_of(us, off_min);
  unsigned a = (unsigned)(off_min < 0 ? -off_min : off_min);
  char *p = out;
  if (c.y < 0 || c.y > 9999) {
    snprintf(out, 40, "%d", c.y);
    p = out + strlen(out);
  } else {
    p = digits(p, (unsigned)c.y, 4);
  }
  *p++ = '-';
  p = digits(p, (unsigned)c.mo, 2);
  *p++ = '-';
  p = digits(p, (unsigned)c.d, 2);
  *p++ = ' ';
  p = digits(p, (unsigned)c.h, 2);
  *p++ = ':';
  p = digits(p, (unsigned)c.mi, 2);
  *p++ = ':';
  p = digits(p, (unsigned)c.s, 2);
  *p++ = ' ';
  *p++ = off_min < 0 ? '-' : '+';
  p = digits(p, a / 60, 2);
  p = digits(p, a % 60, 2);
  *p = '\0';
}

/* DjangoJSONEncoder's datetime: ISO 8601 UTC, milliseconds (cut, not
 * rounded) when there is a fraction, "Z". */
static void iso_utc(int64_t us, char out[40]) {
  civil c = civil_of(us, 0);
  int n = snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d", c.y, c.mo, c.d,
                   c.h, c.mi, c.s);
  if (c.us) n += snprintf(out + n, (size_t)(40 - n), ".%03ld", c.us / 1000);
  snprintf(out + n, (size_t)(40 - n), "Z");
}

/* calculate_elapsed_time: Python's round() of the seconds, half to even. */
int64_t st_elapsed(const st_state *s, int64_t now) {
  if (s->started == ST_NO_TIME) return 0;
  int64_t d =
      sub_sat(s->archived != ST_NO_TIME ? s->archived : now, s->started);
  int64_t r, q = floor_div(d, 1000000, &r);
  if (r > 500000 || (r == 500000 && (q & 1))) q++;
  return q;
}

/* ---- The walk
 * ------------------------------------------------------------------ */

static const char *pool(const walk *w) {
  return (const char *)w->st->pool.data;
}

static const eng_status_node *rec(const walk *w, uint32_t i) {
  return &w->st->nodes[i];
}

/* bk-sops folds a RUNNING parent from its (folded) children, bottom up:
 * FAILED wins, then SUSPENDED (or NODE_SUSPENDED, except in BKFlow); the
 * v1 profile lets a RUNNING child keep it RUNNING, as the legacy engine's
 * BLOCKED rule does. */
int walk_fold(walk *w, uint32_t i) {
  const eng_status_node *n = rec(w, i);
  int failed = 0, suspended = 0, running = 0;
  for (uint32_t c = n->first; c != NO_NODE; c = rec(w, c)->next) {
    int s = walk_fold(w, c);
    failed |= s == RATTAN_STATE_FAILED;
    running |= s == RATTAN_STATE_RUNNING;
    suspended |=
        s == RATTAN_STATE_SUSPENDED ||
        (s == NODE_SUSPENDED && w->o->profile != RATTAN_PROFILE_BKFLOW);
  }
  int s = n->s.state;
  if (s == RATTAN_STATE_RUNNING &&
      !(running && w->o->profile == RATTAN_PROFILE_SOPS_V1))
    s = failed ? RATTAN_STATE_FAILED : suspended ? NODE_SUSPENDED : s;
  w->folded[i] = (uint8_t)s;
  return s;
}

/* A walk over st with its folded states; the caller frees w->queue. */
int walk_init(walk *w, eng_status *st, const rattan_status_options *o,
              emitter *m) {
  *w = (walk){.st = st,
              .o = o,
              .m = m,
              .names = 1,
              .top = st->root,
              .times = {.day = INT64_MIN, .sec = INT64_MIN}};
  if (!st->n) return 0;
  w->queue = rt_malloc(st->n * (2 * sizeof *w->queue + 1));
  if (!w->queue) return RATTAN_ENOMEM;
  w->folded = (uint8_t *)(w->queue + 2 * st->n);
  /* Every record of the tree has the task's root as its root_id. */
  w->root_len = strlen(st->nodes[st->root].s.root_id);
  walk_fold(w, st->root);
  return 0;
}

static void emit_state(emitter *m, int s) {
  static const char *const names[RATTAN_STATE_COUNT + 1] = {
      "CREATED",  "READY",  "RUNNING", "SUSPENDED",     "BLOCKED",
      "FINISHED", "FAILED", "REVOKED", "NODE_SUSPENDED"};
  em_str(m, names[s]);
}

/* Record i's id. */
static void emit_id(walk *w, uint32_t i) {
  em_strn(w->m, pool(w) + rec(w, i)->id, rec(w, i)->id_len);
}

/* The first record, depth first in creation order, whose id is id. */
static uint32_t find_sub(const walk *w, uint32_t i, const char *id) {
  for (uint32_t c = rec(w, i)->first; c != NO_NODE; c = rec(w, c)->next) {
    if (!strcmp(pool(w) + rec(w, c)->id, id)) return c;
    uint32_t f = rec(w, c)->first != NO_NODE ? find_sub(w, c, id) : NO_NODE;
    if (f != NO_NODE) return f;
  }
  return NO_NODE;
}

/* Failed leaves below the top, breadth first; a failed subprocess is
 * searched, not listed. Returns how many are in w->queue[head..). */
static size_t failed_leaves(walk *w, size_t *head) {
  size_t h = 0, t = 0, leaves = 0;
  w->queue[t++] = w->top;
  /* The queue holds parents to search, then (from *head on) the leaves;
   * both fit in n entries since each record is queued at most once. */
  uint32_t *out = w->queue + w->st->n;
  while (h < t) {
    uint32_t p = w->queue[h++];
    for (uint32_t c = rec(w, p)->first; c != NO_NODE; c = rec(w, c)->next) {
      if (w->folded[c] != RATTAN_STATE_FAILED) continue;
      if (rec(w, c)->first != NO_NODE)
        w->queue[t++] = c;
      else
        out[leaves++] = c;
    }
  }
  *head = w->st->n;
  return leaves;
}

static void emit_ex_data(walk *w) {
  size_t head;
  size_t n = failed_leaves(w, &head);
  em_key(w->m, "ex_data");
  em_map(w->m, n);
  for (size_t i = 0; i < n; i++) {
    const eng_status_node *x = rec(w, w->queue[head + i]);
    em_key(w->m, pool(w) + x->id);
    em_str_or_null(w->m, x->ex_data == ST_NONE ? NULL : pool(w) + x->ex_data);
  }
  em_end(w->m, 0);
}

/* The text of time us through the walk's memo: a time in the memo's
 * second reuses its text, one in its day rewrites the clock part only
 * (the date's arithmetic is the costly part). */
static size_t local_time(time_memo *c, int64_t us, int off_min) {
  int64_t rem;
  int64_t secs =
      floor_div(add_sat(us, (int64_t)off_min * 60000000), 1000000, &rem);
  if (secs == c->sec) return c->len;
  int64_t day = floor_div(secs, 86400, &rem);
  c->sec = secs;
  if (day != c->day) {
    st_local_time(us, off_min, c->text);
    c->len = strlen(c->text);
    c->day = day;
    return c->len;
  }
  /* "... HH:MM:SS +0800": the clock starts 14 bytes from the end. */
  char *p = c->text + c->len - 14;
  p = digits(p, (unsigned)(rem / 3600), 2);
  *p++ = ':';
  p = digits(p, (unsigned)(rem % 3600 / 60), 2);
  *p++ = ':';
  digits(p, (unsigned)(rem % 60), 2);
  return c->len;
}

void walk_time(walk *w, int64_t t) {
  if (t == ST_NO_TIME) {
    if (w->o->profile == RATTAN_PROFILE_SOPS_V2)
      em_null(w->m);
    else
      em_str(w->m, "");
    return;
  }
  size_t n = local_time(&w->times, t, w->o->tz_offset_min);
  em_strn(w->m, w->times.text, n);
}

/* The v1 engine's name: the node's, else its class repr, cut to 64 code
 * points as Python's [:64]. */
static void emit_v1_name(walk *w, uint32_t i) {
  static const char *const reprs[ST_NODE_TYPES] = {
      [ST_EMPTY_START] = "<class 'pipeline.core.flow.event.EmptyStartEvent'>",
      [ST_EMPTY_END] = "<class 'pipeline.core.flow.event.EmptyEndEvent'>",
      [ST_EXECUTABLE_END] =
          "<class 'pipeline.core.flow.event.ExecutableEndEvent'>",
      [ST_SERVICE_ACTIVITY] =
          "<class 'pipeline.core.flow.activity.ServiceActivity'>",
      [ST_SUBPROCESS] = "<class 'pipeline.core.flow.activity.SubProcess'>",
      [ST_EXCLUSIVE_GW] =
          "<class 'pipeline.core.flow.gateway.ExclusiveGateway'>",
      [ST_PARALLEL_GW] = "<class 'pipeline.core.flow.gateway.ParallelGateway'>",
      [ST_COND_PARALLEL_GW] =
          "<class 'pipeline.core.flow.gateway.ConditionalParallelGateway'>",
      [ST_CONVERGE_GW] = "<class 'pipeline.core.flow.gateway.ConvergeGateway'>",
  };
  const eng_status_node *n = rec(w, i);
  const st_def *d = w->st->def;
  const char *name = "<class 'pipeline.core.pipeline.Pipeline'>";
  if (n->def != ST_NONE) {
    const char *own = d->pool + d->nodes[n->def].name;
    name = *own ? own : reprs[d->nodes[n->def].type];
  }
  size_t len = 0, cps = 0;
  while (name[len] && cps < 64) {
    len++;
    while ((name[len] & 0xc0) == 0x80)
      len++;
    cps++;
  }
  em_strn(w->m, name, len);
}

/* The v2 name: activities' and subprocesses' own, "" for the rest. */
static const char *v2_name(const walk *w, uint32_t i) {
  const eng_status_node *n = rec(w, i);
  if (!w->names || n->def == ST_NONE) return "";
  const st_def_node *dn = &w->st->def->nodes[n->def];
  if (dn->type != ST_SERVICE_ACTIVITY && dn->type != ST_SUBPROCESS) return "";
  return w->st->def->pool + dn->name;
}

static void emit_children(walk *w, uint32_t i) {
  const eng_status_node *n = rec(w, i);
  EM_KEY(w->m, "children");
  if (w->detail && i != w->top) {
    em_map(w->m, 0);
    em_end(w->m, 0);
    return;
  }
  em_map(w->m, n->n_children);
  for (uint32_t c = n->first; c != NO_NODE; c = rec(w, c)->next) {
    em_keyn(w->m, pool(w) + rec(w, c)->id, rec(w, c)->id_len);
    walk_node(w, c);
  }
  em_end(w->m, 0);
}

static void emit_v1(walk *w, uint32_t i) {
  const eng_status_node *n = rec(w, i);
  emitter *m = w->m;
  int top = i == w->top;
  char text[40];
  int kids = !(top && w->no_children);
  em_map(m, 12 + kids + (top && w->ex));
  EM_KEY(m, "id");
  emit_id(w, i);
  EM_KEY(m, "state");
  emit_state(m, w->folded[i]);
  EM_KEY(m, "name");
  emit_v1_name(w, i);
  EM_KEY(m, "retry");
  em_int(m, n->s.retry);
  EM_KEY(m, "loop");
  em_int(m, n->s.loop);
  EM_KEY(m, "skip");
  em_bool(m, n->s.skip);
  EM_KEY(m, "error_ignorable");
  em_bool(m, n->s.error_ignored);
  EM_KEY(m, "version");
  /* The legacy engine's versions are 32 hex; its root had none. */
  em_str(m, i == w->st->root || !n->s.version[0] ? "" : n->s.version + 1);
  EM_KEY(m, "state_refresh_at");
  if (n->s.refreshed == ST_NO_TIME) {
    em_null(m);
  } else {
    iso_utc(n->s.refreshed, text);
    em_str(m, text);
  }
  EM_KEY(m, "elapsed_time");
  em_int(m, st_elapsed(&n->s, w->st->now));
  if (kids) emit_children(w, i);
  EM_KEY(m, "start_time");
  walk_time(w, n->s.started);
  EM_KEY(m, "finish_time");
  walk_time(w, n->s.archived);
  if (top && w->ex) emit_ex_data(w);
  em_end(m, 0);
}

void walk_node(walk *w, uint32_t i) {
  if (w->o->profile == RATTAN_PROFILE_SOPS_V1) {
    emit_v1(w, i);
    return;
  }
  const eng_status_node *n = rec(w, i);
  emitter *m = w->m;
  int top = i == w->top, is_root = i == w->st->root;
  int v2 = w->o->profile == RATTAN_PROFILE_SOPS_V2;
  /* bamboo's root entry: parent_id is its root_id, and both error flags
   * come from the last record its loop read (an upstream slip kept). */
  int flags =
      is_root ? w->st->nodes[w->st->n - 1].s.error_ignored : n->s.error_ignored;
  int kids = !(top && w->no_children), named = v2 && !w->no_names;
  em_map(m, 13 + kids + (top && w->ex) + named + (top ? w->extra : 0));
  EM_KEY(m, "id");
  emit_id(w, i);
  EM_KEY(m, "state");
  emit_state(m, w->folded[i]);
  EM_KEY(m, "root_id:");
  em_strn(m, n->s.root_id, w->root_len);
  EM_KEY(m, "parent_id");
  /* A record below the root is linked under the record whose id is its
   * parent_id. */
  if (is_root || (top && w->detail))
    em_strn(m, n->s.root_id, w->root_len);
  else if (n->parent != NO_NODE)
    emit_id(w, n->parent);
  else
    em_str(m, n->s.parent_id);
  EM_KEY(m, "version");
  em_str(m, n->s.version);
  EM_KEY(m, "loop");
  em_int(m, n->s.loop);
  EM_KEY(m, "retry");
  em_int(m, n->s.retry);
  EM_KEY(m, "skip");
  em_bool(m, n->s.skip);
  EM_KEY(m, "error_ignorable");
  em_bool(m, flags);
  EM_KEY(m, "error_ignored");
  em_bool(m, flags);
  if (kids) emit_children(w, i);
  EM_KEY(m, "elapsed_time");
  em_int(m, st_elapsed(&n->s, w->st->now));
  EM_KEY(m, "start_time");
  walk_time(w, n->s.started);
  EM_KEY(m, "finish_time");
  walk_time(w, n->s.archived);
  if (top && w->ex) emit_ex_data(w);
  if (named) {
    EM_KEY(m, "name");
    em_str(m, top ? w->st->task.name : v2_name(w, i));
  }
  if (!(top && w->extra)) em_end(m, 0);
}

/* ---- Envelopes
 * ------------------------------------------------------------------ */

/* TaskCommandDispatcher.CREATED_STATUS: no id, skip 0; SOPS adds the
 * task name (name NULL: none); get_tasks_status pops its children. */
void st_emit_created(emitter *m, const char *name, int children) {
  em_map(m, 6 + (children != 0) + (name != NULL));
  em_key(m, "start_time");
  em_null(m);
  em_key(m, "state");
  em_str(m, "CREATED");
  em_key(m, "retry");
  em_int(m, 0);
  em_key(m, "skip");
  em_int(m, 0);
  em_key(m, "finish_time");
  em_null(m);
  em_key(m, "elapsed_time");
  em_int(m, 0);
  if (children) {
    em_key(m, "children");
    em_map(m, 0);
    em_end(m, 0);
  }
  if (name) {
    em_key(m, "name");
    em_str(m, name);
  }
  em_end(m, 0);
}

static void emit_created(walk *w) {
  st_emit_created(
      w->m, w->o->profile != RATTAN_PROFILE_BKFLOW ? w->st->task.name : NULL,
      1);
}

void st_emit_trace(emitter *m, const char *key, const char *trace) {
  em_key(m, key);
  em_str(m, trace);
}

/* The envelope around data (created: the CREATED answer, which SOPS
 * returns from an earlier path with its own key order). */
static void emit_ok(walk *w, int created, const char *trace) {
  emitter *m = w->m;
  rattan_profile p = w->o->profile;
  em_map(m, p == RATTAN_PROFILE_BKFLOW ? 3 : 5);
  em_key(m, "result");
  em_bool(m, 1);
  em_key(m, "data");
  if (created)
    emit_created(w);
  else
    walk_node(w, w->top);
  if (p == RATTAN_PROFILE_BKFLOW) { /* seed 004 */
    em_key(m, "message");
    em_str(m, "");
  } else if (p == RATTAN_PROFILE_SOPS_V1) { /* seed 000 */
    em_key(m, "code");
    em_int(m, 0);
    st_emit_trace(m, "request_id", trace);
  } else if (created) { /* SOPS's early path: message before code */
    em_key(m, "message");
    em_str(m, "");
    em_key(m, "code");
    em_int(m, 0);
  } else {
    em_key(m, "code");
    em_int(m, 0);
    em_key(m, "message");
    em_str(m, "");
  }
  if (p != RATTAN_PROFILE_BKFLOW) st_emit_trace(m, "trace_id", trace);
  em_end(m, 0);
}

/* An error answer: SOPS's shape for the code, BKFlow's own. */
void st_emit_error(emitter *m, const rattan_status_options *o, int code,
                   const char *message, const char *trace) {
  if (o->profile == RATTAN_PROFILE_BKFLOW) {
    em_map(m, 3);
    em_key(m, "result");
    em_bool(m, 0);
    em_key(m, "data");
    em_null(m);
    em_key(m, "message");
    em_str(m, message);
  } else if (code == CODE_NOT_EXIST) {
    /* ObjectDoesNotExistExceptionMiddleware: no trace_id. */
    em_map(m, 4);
    em_key(m, "result");
    em_bool(m, 0);
    em_key(m, "message");
    em_str(m, message);
    em_key(m, "data");
    em_null(m);
    em_key(m, "code");
    em_int(m, code);
  } else if (code == CODE_UNKNOWN) {
    /* The dispatcher's engine failure, through return_json_response. */
    em_map(m, 5);
    em_key(m, "result");
    em_bool(m, 0);
    em_key(m, "data");
    em_map(m, 0);
    em_end(m, 0);
    em_key(m, "message");
    em_str(m, message);
    em_key(m, "code");
    em_int(m, code);
    st_emit_trace(m, "trace_id", trace);
  } else {
    em_map(m, 4);
    em_key(m, "result");
    em_bool(m, 0);
    em_key(m, "message");
    em_str(m, message);
    em_key(m, "code");
    em_int(m, code);
    st_emit_trace(m, "trace_id", trace);
  }
  em_end(m, 0);
}

/* ---- rattan_task_status
 * ------------------------------------------------------------ */

void st_random_trace(char out[33]) {
  static const char hex[] = "0123456789abcdef";
  uint64_t a = eng_random_seed(), b = eng_random_seed();
  for (int i = 0; i < 16; i++) {
    out[i] = hex[(a >> (4 * i)) & 15];
    out[16 + i] = hex[(b >> (4 * i)) & 15];
  }
  out[32] = '\0';
}

void st_emit_load_error(emitter *m, const rattan_status_options *o,
                        const char *task, int rc, const errbuf *err) {
  char msg[ERRBUF_MAX + 160];
  if (rc == RATTAN_ENOTFOUND) {
    /* ObjectDoesNotExistExceptionMiddleware's answer. */
    snprintf(msg, sizeof msg,
             "\u6570\u636e\u4e0d\u5b58\u5728\u9519\u8bef: "
             "\u6570\u636e\u4e0d\u5b58\u5728\u9519\u8bef, "
             "\u9519\u8bef\u5185\u5bb9 TaskFlowInstance(id=%s) does not "
             "exist. | process_exception",
             task);
    st_emit_error(m, o, CODE_NOT_EXIST, msg, o->trace_id);
  } else {
    snprintf(msg, sizeof msg, "fail: %s", err->msg);
    st_emit_error(m, o, CODE_UNKNOWN, msg, o->trace_id);
  }
}

int st_begin(const rattan_status_options *in, rattan_status_options *o,
             char trace[33], char **out, size_t *len) {
  *out = NULL;
  if (len) *len = 0;
  rattan_status_options_init(o);
  if (in)
    memcpy(o, in, in->struct_size < sizeof *o ? in->struct_size : sizeof *o);
  if ((unsigned)o->profile > RATTAN_PROFILE_BKFLOW ||
      (unsigned)o->format > RATTAN_FORMAT_CBOR || o->tz_offset_min < -1440 ||
      o->tz_offset_min > 1440)
    return RATTAN_EINVAL;
  if (!o->trace_id) {
    st_random_trace(trace);
    o->trace_id = trace;
  }
  return 0;
}

int st_check_project(const rattan_status_options *o, const eng_status *st,
                     const char *task, errbuf *err) {
  if (!o->project || !strcmp(o->project, st->task.project)) return 0;
  return err_set(err, RATTAN_ENOTFOUND, "task %s does not exist", task);
}

/* Hands the buffer to the caller (NUL-terminated for JSON). An
 * allocation failure behind rc (an envelope may describe one, such as a
 * store read that could not begin) is RATTAN_ENOMEM with no answer, as
 * rattan.h promises: the caller gets nothing to free. */
int st_finish(emitter *m, buf *b, char **out, size_t *len, int rc) {
  if (rc == RATTAN_ENOMEM || m->oom || buf_append(b, "", 1)) {
    buf_free(b);
    return RATTAN_ENOMEM;
  }
  *out = (char *)b->data;
  if (len) *len = b->len - 1;
  return rc;
}

int rattan_task_status(rattan_engine *re, const char *task,
                       const rattan_status_options *opts, char **out,
                       size_t *len) {
  /* Other threads may call this while one drives: it never writes the
   * engine's error report (the envelope carries the message). */
  if (!re || !task || !out) return RATTAN_EINVAL;
  errbuf err = {0};
  rattan_status_options o;
  char trace[33];
  if (st_begin(opts, &o, trace, out, len)) return RATTAN_EINVAL;
  buf b = {0};
  emitter m;
  em_init(&m, (em_format)o.format, o.pretty, &b);
  eng_status st;
  int rc = eng_status_load(re->e, task, NULL, o.now_us, &st, &err);
  if (!rc) rc = st_check_project(&o, &st, task, &err);
  if (rc) {
    st_emit_load_error(&m, &o, task, rc, &err);
  } else if (o.subprocess_id &&
             (!*o.subprocess_id || strlen(o.subprocess_id) > RATTAN_ID_MAX)) {
    rc = err_set(&err, RATTAN_EINVAL, "task %s: bad subprocess_id", task);
    st_emit_error(&m, &o, CODE_PARAM_INVALID, err.msg, o.trace_id);
  }
  if (rc) {
    eng_status_free(&st);
    return st_finish(&m, &b, out, len, rc);
  }

  walk w;
  if ((rc = walk_init(&w, &st, &o, &m))) {
    eng_status_free(&st);
    buf_free(&b);
    return rc;
  }
  w.names = !o.subprocess_id;
  int created = st.n == 0;
  if (!created && o.subprocess_id) {
    w.top = find_sub(&w, st.root, o.subprocess_id);
    created = w.top == NO_NODE;
  }
  w.ex = !created && o.with_ex_data && w.folded[w.top] == RATTAN_STATE_FAILED;
  emit_ok(&w, created, o.trace_id);
  rt_free(w.queue);
  eng_status_free(&st);
  return st_finish(&m, &b, out, len, 0);
}
