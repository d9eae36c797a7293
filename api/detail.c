/*
 * The status calls around get_task_status: get_tasks_status,
 * get_task_node_detail and a get_task_detail subset, with SOPS's
 * envelopes and the same encoders (reference/sops-api.md section 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status_int.h"

#define TASKS_MAX 50

/* A stored JSON text (pool offset) as a value; NULL when absent. Running
 * out of memory marks m, so the answer is RATTAN_ENOMEM rather than one
 * that leaves the value out. */
static json_t *pool_json(const eng_status *st, uint32_t off, emitter *m) {
  if (off == ST_NONE) return NULL;
  unsigned failures = rt_alloc_failures();
  json_t *j =
      jparse_str((const char *)st->pool.data + off, JSON_DECODE_ANY, NULL);
  if (!j && rt_alloc_failures() != failures) m->oom = 1;
  return j;
}

/* SOPS ids are numbers: an id of digits is written as one. */
static void emit_task_id(emitter *m, const char *id) {
  size_t n = strlen(id);
  if (n && n < 19 && strspn(id, "0123456789") == n && (id[0] != '0' || n == 1))
    em_int(m, (int64_t)strtoll(id, NULL, 10));
  else
    em_str(m, id);
}

/* format_datetime for task-level fields: "" when unset. */
static void emit_task_time(emitter *m, int64_t t, int off) {
  char text[40];
  if (t == ST_NO_TIME) {
    em_str(m, "");
    return;
  }
  st_local_time(t, off, text);
  em_str(m, text);
}

/* Loads the task for an answer; writes the error answer and returns its
 * code when that fails. */
static int load(rattan_engine *re, const char *task, const char *node,
                emitter *m, const rattan_status_options *o, eng_status *st) {
  errbuf err = {0};
  int rc = eng_status_load(re->e, task, node, o->now_us, st, &err);
  if (!rc) rc = st_check_project(o, st, task, &err);
  if (rc) st_emit_load_error(m, o, task, rc, &err);
  return rc;
}

/* ---- get_tasks_status -------------------------------------------------------
 */

static int emit_task(eng_status *st, int children,
                     const rattan_status_options *o, emitter *m) {
  walk w;
  int rc = walk_init(&w, st, o, m);
  if (rc) return rc;
  const eng_status_node *root = st->n ? &st->nodes[st->root] : NULL;
  int end = root && (root->s.state == RATTAN_STATE_FINISHED ||
                     root->s.state == RATTAN_STATE_REVOKED);
  em_map(m, 10);
  em_key(m, "id");
  emit_task_id(m, st->task.id);
  em_key(m, "name");
  em_str(m, st->task.name);
  em_key(m, "status");
  w.no_children = !children;
  if (root) {
    walk_node(&w, st->root);
  } else {
    /* CREATED_STATUS, children popped unless asked for. */
    st_emit_created(m, st->task.name, children);
  }
  em_key(m, "flow_type");
  em_str(m, "common");
  em_key(m, "current_flow");
  em_str(m, end ? "finished" : "execute_task");
  em_key(m, "is_deleted");
  em_bool(m, 0);
  em_key(m, "create_time");
  emit_task_time(m, st->task.created, o->tz_offset_min);
  em_key(m, "start_time");
  emit_task_time(m, root ? root->s.started : ST_NO_TIME, o->tz_offset_min);
  em_key(m, "finish_time");
  emit_task_time(m, root ? root->s.archived : ST_NO_TIME, o->tz_offset_min);
  em_key(m, "url");
  em_str(m, "");
  em_end(m, 0);
  rt_free(w.queue);
  return 0;
}

int rattan_tasks_status(rattan_engine *re, const char *const *tasks, size_t n,
                        int include_children, const rattan_status_options *opts,
                        char **out, size_t *len) {
  if (!re || (!tasks && n) || !out) return RATTAN_EINVAL;
  rattan_status_options o;
  char trace[33];
  if (st_begin(opts, &o, trace, out, len)) return RATTAN_EINVAL;
  buf b = {0};
  emitter m;
  em_init(&m, (em_format)o.format, o.pretty, &b);
  if (n > TASKS_MAX) {
    st_emit_error(&m, &o, CODE_PARAM_INVALID,
                  "task_id_list is too long, maximum length is 50", o.trace_id);
    return st_finish(&m, &b, out, len, RATTAN_ELIMIT);
  }
  /* Every task read in one transaction first: how many exist is the
   * list's size, which msgpack and CBOR write before the items. */
  eng_status st[TASKS_MAX];
  size_t found = 0;
  errbuf err = {0};
  st_txn *t;
  int rc = st_read_begin(eng_store(re->e), &t, &err), open = rc == 0;
  for (size_t i = 0; !rc && i < n; i++) {
    if (!tasks[i]) continue;
    rc = eng_status_read(re->e, t, tasks[i], NULL, o.now_us, &st[found], &err);
    if (!rc) rc = st_check_project(&o, &st[found], tasks[i], &err);
    if (rc) /* unknown ids are left out, as SOPS leaves them */
      eng_status_free(&st[found]);
    else
      found++;
    if (rc == RATTAN_ENOTFOUND) rc = 0;
  }
  if (open) st_read_end(t);
  if (rc) {
    for (size_t i = 0; i < found; i++)
      eng_status_free(&st[i]);
    st_emit_load_error(&m, &o, "", rc, &err);
    return st_finish(&m, &b, out, len, rc);
  }
  em_map(&m, 4);
  em_key(&m, "result");
  em_bool(&m, 1);
  em_key(&m, "data");
  em_list(&m, found);
  for (size_t i = 0; i < found; i++) {
    if (!rc) rc = emit_task(&st[i], include_children, &o, &m);
    eng_status_free(&st[i]);
  }
  em_end(&m, 1);
  em_key(&m, "code");
  em_int(&m, 0);
  st_emit_trace(&m, "trace_id", o.trace_id);
  em_end(&m, 0);
  if (rc) {
    buf_free(&b);
    return rc;
  }
  return st_finish(&m, &b, out, len, 0);
}

/* ---- get_task_node_detail
 * ---------------------------------------------------- */

/* An object, or {} for none. */
static void emit_obj(emitter *m, json_t *o) {
  if (o) {
    em_json(m, o);
    return;
  }
  em_map(m, 0);
  em_end(m, 0);
}

/* ex_data of execution data: its own, else its outputs', else "". */
static void emit_ex(emitter *m, json_t *data) {
  json_t *x = json_object_get(data, "ex_data");
  if (!x || json_is_null(x))
    x = json_object_get(json_object_get(data, "outputs"), "ex_data");
  if (x)
    em_json(m, x);
  else
    em_str(m, "");
}

/* get_node_data: inputs as stored, outputs as [{name, key, value,
 * preset}] (rattan has no component output schemas: every output is
 * listed under its key, preset false), ex_data. */
static void emit_node_data(emitter *m, json_t *data) {
  json_t *in = json_object_get(data, "inputs"), *out;
  out = json_object_get(data, "outputs");
  em_key(m, "inputs");
  emit_obj(m, in);
  em_key(m, "outputs");
  em_list(m, json_object_size(out));
  const char *k;
  json_t *v;
  json_object_foreach(out, k, v) {
    em_map(m, 4);
    em_key(m, "name");
    em_str(m, k);
    em_key(m, "key");
    em_str(m, k);
    em_key(m, "value");
    em_json(m, v);
    em_key(m, "preset");
    em_bool(m, 0);
    em_end(m, 0);
  }
  em_end(m, 1);
  em_key(m, "ex_data");
  emit_ex(m, data);
}

/* One earlier attempt as bamboo's get_node_histories gives it, after
 * bk-sops' formatting. History rows keep no state, so bk-sops shows
 * every one as FAILED (its setdefault); that is reproduced. */
static void emit_attempt(walk *w, uint32_t i) {
  const struct eng_attempt *a = &w->st->attempts[i];
  emitter *m = w->m;
  json_t *data = pool_json(w->st, a->data, m);
  em_map(m, 15);
  em_key(m, "id");
  em_int(m, (int64_t)i + 1);
  em_key(m, "node_id");
  em_str(m, (const char *)w->st->pool.data + w->st->nodes[w->top].id);
  em_key(m, "retry");
  em_int(m, a->s.retry);
  em_key(m, "loop");
  em_int(m, a->s.loop);
  em_key(m, "skip");
  em_bool(m, a->s.skip);
  em_key(m, "version");
  em_str(m, a->s.version);
  em_key(m, "inputs");
  emit_obj(m, json_object_get(data, "inputs"));
  em_key(m, "outputs");
  emit_obj(m, json_object_get(data, "outputs"));
  em_key(m, "ex_data");
  emit_ex(m, data);
  em_key(m, "state");
  em_str(m, "FAILED");
  em_key(m, "history_id");
  em_int(m, (int64_t)i + 1);
  em_key(m, "children");
  em_map(m, 0);
  em_end(m, 0);
  em_key(m, "elapsed_time");
  em_int(m, st_elapsed(&a->s, w->st->now));
  em_key(m, "start_time");
  walk_time(w, a->s.started);
  em_key(m, "finish_time");
  walk_time(w, a->s.archived);
  em_end(m, 0);
  json_decref(data);
}

/* The refusal for a node the task does not have (TaskFlowInstance.
 * get_node_detail's). */
static void no_node(emitter *m, const rattan_status_options *o,
                    const char *task, const char *node) {
  char msg[2 * RATTAN_ID_MAX + 200];
  snprintf(msg, sizeof msg,
           "\u8282\u70b9\u72b6\u6001\u8bf7\u6c42\u5931\u8d25: "
           "\u4efb\u52a1[ID: %s]\u4e2d\u672a\u627e\u5230\u8282\u70b9"
           "[ID: %s]. \u8bf7\u91cd\u8bd5. "
           "\u5982\u6301\u7eed\u5931\u8d25\u53ef\u8054\u7cfb"
           "\u7ba1\u7406\u5458\u5904\u7406 | get_node_detail",
           task, node);
  em_map(m, 5);
  em_key(m, "result");
  em_bool(m, 0);
  em_key(m, "message");
  em_str(m, msg);
  em_key(m, "data");
  em_map(m, 0);
  em_end(m, 0);
  em_key(m, "code");
  em_int(m, CODE_PARAM_INVALID);
  st_emit_trace(m, "trace_id", o->trace_id);
  em_end(m, 0);
}

/* The record of node in st, or NO_NODE. */
static uint32_t find_record(const eng_status *st, const char *node) {
  for (size_t i = 0; i < st->n; i++)
    if (!strcmp((const char *)st->pool.data + st->nodes[i].id, node))
      return (uint32_t)i;
  return NO_NODE;
}

/* A node that never ran: its name and flag from the definition. */
static void emit_unrun(emitter *m, const eng_status *st, uint32_t dn) {
  const st_def_node *n = &st->def->nodes[dn];
  em_map(m, 6);
  em_key(m, "name");
  em_str(m, st->def->pool + n->name);
  em_key(m, "error_ignorable");
  em_bool(m, (n->flags & ST_NF_ERROR_IGNORABLE) != 0);
  em_key(m, "state");
  em_str(m, "READY");
  em_key(m, "inputs");
  em_map(m, 0);
  em_end(m, 0);
  em_key(m, "outputs");
  em_list(m, 0);
  em_end(m, 1);
  em_key(m, "ex_data");
  em_str(m, "");
  em_end(m, 0);
}

/* The node's answer: its record (or, for an earlier loop, that loop's
 * last attempt) with its direct children, the other attempts of the
 * loop, and the data of the one shown. */
static int emit_detail(walk *w, uint32_t top, unsigned loop) {
  eng_status *st = (eng_status *)w->st;
  eng_status_node *n = &st->nodes[top];
  emitter *m = w->m;
  uint32_t shown = UINT32_MAX, n_hist = 0;
  if (loop == 0 || loop >= n->s.loop) loop = n->s.loop;
  for (uint32_t i = 0; i < st->n_attempts; i++)
    if (st->attempts[i].s.loop == loop) shown = i, n_hist++;
  int earlier = loop < n->s.loop;
  if (earlier && shown == UINT32_MAX) earlier = 0, loop = n->s.loop;
  uint32_t data_off = st->data;
  if (earlier) {
    /* _assemble_histroy_detail: the loop's last attempt, FINISHED. */
    const st_state *a = &st->attempts[shown].s;
    n->s.started = a->started;
    n->s.archived = a->archived;
    n->s.loop = a->loop;
    n->s.skip = a->skip;
    n->s.state = RATTAN_STATE_FINISHED;
    memcpy(n->s.version, a->version, sizeof n->s.version);
    data_off = st->attempts[shown].data;
    n_hist--;
  }
  for (uint32_t i = 0; i < st->n; i++)
    w->folded[i] = st->nodes[i].s.state;
  w->top = top;
  w->detail = w->no_names = 1;
  w->extra = 6;
  walk_node(w, top);
  em_key(m, "histories");
  em_list(m, n_hist);
  for (uint32_t i = 0; i < st->n_attempts; i++)
    if (st->attempts[i].s.loop == loop && !(earlier && i == shown))
      emit_attempt(w, i);
  em_end(m, 1);
  em_key(m, "history_id");
  em_int(m, earlier ? (int64_t)shown + 1 : -1);
  json_t *data = pool_json(st, data_off, m);
  emit_node_data(m, data);
  json_decref(data);
  em_key(m, "auto_retry_info");
  em_map(m, 0);
  em_end(m, 0);
  em_end(m, 0);
  return 0;
}

int rattan_node_detail(rattan_engine *re, const char *task, const char *node,
                       unsigned loop, const rattan_status_options *opts,
                       char **out, size_t *len) {
  if (!re || !task || !node || !out) return RATTAN_EINVAL;
  rattan_status_options o;
  char trace[33];
  if (st_begin(opts, &o, trace, out, len)) return RATTAN_EINVAL;
  /* get_task_node_detail has one shape: sops-v2's. */
  o.profile = RATTAN_PROFILE_SOPS_V2;
  buf b = {0};
  emitter m;
  em_init(&m, (em_format)o.format, o.pretty, &b);
  eng_status st;
  /* A string that cannot be a node id names no node of the task. */
  int is_id = *node && strlen(node) <= RATTAN_ID_MAX;
  int rc = load(re, task, is_id ? node : NULL, &m, &o, &st);
  if (rc) {
    eng_status_free(&st);
    return st_finish(&m, &b, out, len, rc);
  }
  uint32_t dn = is_id ? def_find(st.def, st.by_id, node) : ST_NONE;
  uint32_t top = is_id ? find_record(&st, node) : NO_NODE;
  if (dn == ST_NONE && top == NO_NODE) {
    no_node(&m, &o, task, node);
    eng_status_free(&st);
    return st_finish(&m, &b, out, len, RATTAN_EINVAL);
  }
  walk w;
  if ((rc = walk_init(&w, &st, &o, &m))) {
    eng_status_free(&st);
    buf_free(&b);
    return rc;
  }
  em_map(&m, 5);
  em_key(&m, "result");
  em_bool(&m, 1);
  em_key(&m, "data");
  if (top == NO_NODE)
    emit_unrun(&m, &st, dn);
  else
    emit_detail(&w, top, loop);
  em_key(&m, "message");
  em_str(&m, "");
  em_key(&m, "code");
  em_int(&m, 0);
  st_emit_trace(&m, "trace_id", o.trace_id);
  em_end(&m, 0);
  rt_free(w.queue);
  eng_status_free(&st);
  return st_finish(&m, &b, out, len, 0);
}

/* ---- get_task_detail (a subset)
 * ------------------------------------------------ */

int rattan_task_detail(rattan_engine *re, const char *task,
                       const rattan_status_options *opts, char **out,
                       size_t *len) {
  if (!re || !task || !out) return RATTAN_EINVAL;
  rattan_status_options o;
  char trace[33];
  if (st_begin(opts, &o, trace, out, len)) return RATTAN_EINVAL;
  buf b = {0};
  emitter m;
  em_init(&m, (em_format)o.format, o.pretty, &b);
  eng_status st;
  /* The records, the definition and the root's data in one read. */
  int rc = load(re, task, "", &m, &o, &st);
  if (rc) {
    eng_status_free(&st);
    return st_finish(&m, &b, out, len, rc);
  }
  json_t *pt = eng_def_to_json(st.def);
  if (!pt) m.oom = 1; /* never an answer without its pipeline_tree */
  const eng_status_node *root = st.n ? &st.nodes[st.root] : NULL;
  json_t *data = pool_json(&st, st.data, &m);
  json_t *outs = json_object_get(data, "outputs");
  em_map(&m, 5);
  em_key(&m, "result");
  em_bool(&m, 1);
  em_key(&m, "data");
  em_map(&m, 9);
  em_key(&m, "id");
  emit_task_id(&m, st.task.id);
  em_key(&m, "name");
  em_str(&m, st.task.name);
  em_key(&m, "create_time");
  emit_task_time(&m, st.task.created, o.tz_offset_min);
  em_key(&m, "start_time");
  emit_task_time(&m, root ? root->s.started : ST_NO_TIME, o.tz_offset_min);
  em_key(&m, "finish_time");
  emit_task_time(&m, root ? root->s.archived : ST_NO_TIME, o.tz_offset_min);
  em_key(&m, "elapsed_time");
  em_int(&m, root ? st_elapsed(&root->s, st.now) : 0);
  em_key(&m, "pipeline_tree");
  emit_obj(&m, pt);
  em_key(&m, "constants");
  emit_obj(&m, json_object_get(json_object_get(pt, "data"), "inputs"));
  em_key(&m, "outputs");
  em_list(&m, json_object_size(outs));
  const char *k;
  json_t *v;
  json_object_foreach(outs, k, v) {
    em_map(&m, 3);
    em_key(&m, "key");
    em_str(&m, k);
    em_key(&m, "value");
    em_json(&m, v);
    em_key(&m, "name");
    em_str(&m, k);
    em_end(&m, 0);
  }
  em_end(&m, 1);
  em_end(&m, 0);
  em_key(&m, "code");
  em_int(&m, 0);
  em_key(&m, "message");
  em_str(&m, "");
  st_emit_trace(&m, "trace_id", o.trace_id);
  em_end(&m, 0);
  json_decref(pt);
  json_decref(data);
  eng_status_free(&st);
  return st_finish(&m, &b, out, len, 0);
}
