/*
 * The SOPS gateway's routes as one call: the request's route, ids and
 * parameters in, SOPS's envelope out.
 *
 * Each route reproduces its bk-sops view (gcloud/apigw/views/) on the v2
 * engine, for an app that is not on the IAM whitelist: the messages and
 * codes, the envelopes' key order (return_json_response appends
 * trace_id), and the quirks reference/sops-api.md lists (operate_node
 * reports every failure as 3599999; skip_cpg cannot work through it;
 * "cannot be %sed"). A task of another project is answered exactly as an
 * unknown task, so a caller learns nothing about other projects.
 *
 * Paths take the gateway's form (get_task_status/{task}/{biz}/) or the
 * legacy ESB form (/api/c/compapi/v2/sops/get_task_status/ with task_id
 * and bk_biz_id as parameters): whatever precedes the route's name is
 * ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status_int.h"

/* SOPS's codes beyond those status_int.h names. */
enum { CODE_INVALID_OPERATION = 3545000 };

#define BODY_MAX ((size_t)64 << 20) /* a definition's limit */

typedef struct gw gw;
typedef int (*route_fn)(gw *g);

/* Where a route's ids sit in its path. */
enum { IDS_TASK_BIZ, IDS_BIZ_TASK, IDS_BIZ };

typedef struct route {
  const char *name;
  int post;
  int ids;
  route_fn fn;
} route;

struct gw {
  rattan_engine *re;
  const rattan_request *rq;
  const route *r;
  rattan_status_options so; /* trace id, zone, project */
  char trace[33];
  char task[RATTAN_ID_MAX + 1], biz[RATTAN_ID_MAX + 1];
  json_t *body; /* POST: the body when it is a JSON object */
  int body_bad; /* POST: the body is not a JSON object */
  buf b;
  emitter m;
  char **out;
  size_t *len;
};

/* ---- Answers
 * ------------------------------------------------------------------
 */

/* Room made for the answer before a write route changes anything, so
 * the change is never made and then reported as RATTAN_ENOMEM because
 * its answer (a view's dict, well under this) found no memory. */
#define ANSWER_ROOM 4096

/* Ends an answer written into g->b; returns rc. */
static int done(gw *g, int rc) {
  return st_finish(&g->m, &g->b, g->out, g->len, rc);
}

/* A view's dict through return_json_response: {"result", "message",
 * "code", "trace_id"}. */
static int view_answer(gw *g, int ok, int code, const char *message, int rc) {
  em_map(&g->m, 4);
  em_key(&g->m, "result");
  em_bool(&g->m, ok);
  em_key(&g->m, "message");
  em_str(&g->m, message);
  em_key(&g->m, "code");
  em_int(&g->m, code);
  st_emit_trace(&g->m, "trace_id", g->so.trace_id);
  em_end(&g->m, 0);
  return done(g, rc);
}

/* ensure_return_is_dict around an engine call's result: "success", or
 * "fail: " and what went wrong (bamboo's exception trace upstream). */
static int engine_answer(gw *g, int rc) {
  if (rc == 0) return view_answer(g, 1, 0, "success", 0);
  char msg[ERRBUF_MAX + 8];
  const char *why = rattan_errmsg(g->re);
  snprintf(msg, sizeof msg, "fail: %s", *why ? why : rattan_strerror(rc));
  return view_answer(g, 0, CODE_UNKNOWN, msg, rc);
}

/* ObjectDoesNotExistExceptionMiddleware's answer for an unknown task. */
static int unknown_task(gw *g) {
  errbuf err = {0};
  st_emit_load_error(&g->m, &g->so, g->task, RATTAN_ENOTFOUND, &err);
  return done(g, RATTAN_ENOTFOUND);
}

/* ---- Parameters
 * ----------------------------------------------------------------
 */

/* The last value given, as Django's QueryDict.get takes it. */
static const char *param(const gw *g, const char *name) {
  const char *v = NULL;
  for (size_t i = 0; i < g->rq->n_params; i++)
    if (g->rq->params[2 * i] && !strcmp(g->rq->params[2 * i], name))
      v = g->rq->params[2 * i + 1];
  return v;
}

/* A string field of the body, or NULL. */
static const char *field(const gw *g, const char *name) {
  return json_string_value(json_object_get(g->body, name));
}

/* Copies an id (a task's, a project's) if it is one; else -1. */
static int take_id(char out[RATTAN_ID_MAX + 1], const char *s, size_t n) {
  if (!eng_plain_id(s, n)) return -1;
  memcpy(out, s, n);
  out[n] = '\0';
  return 0;
}

/* An id given as a parameter or a body field (ESB form); SOPS's ids are
 * numbers there as often as strings. */
static int id_arg(const gw *g, const char *name, char out[RATTAN_ID_MAX + 1]) {
  const char *s = param(g, name);
  char num[24];
  if (!s) s = field(g, name);
  json_t *v = json_object_get(g->body, name);
  if (!s && json_is_integer(v)) {
    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    s = num;
  }
  return s ? take_id(out, s, strlen(s)) : -1;
}

/* Django's truthiness of a query parameter: any non-empty string. */
static int truthy(const char *s) {
  return s && *s;
}

/* DRF's BooleanField (its TRUE_VALUES); anything else is false. */
static int drf_bool(const json_t *v) {
  static const char *const yes[] = {"t",   "T",   "y",    "Y",    "yes",
                                    "Yes", "YES", "true", "True", "TRUE",
                                    "on",  "On",  "ON",   "1"};
  if (json_is_true(v)) return 1;
  if (json_is_number(v)) return json_number_value(v) == 1;
  const char *s = json_string_value(v);
  for (size_t i = 0; s && i < sizeof yes / sizeof *yes; i++)
    if (!strcmp(s, yes[i])) return 1;
  return 0;
}

/* ---- Task lookups for the write routes
 * -------------------------------------------
 */

/* Whether the task exists in the request's project, and its root state
 * and whether it has node (node may be NULL). */
typedef struct task_look {
  int found;
  int state;    /* the root's record state, RATTAN_STATE_CREATED if none */
  int has_node; /* node is a node of the definition */
} task_look;

static int look(gw *g, const char *node, task_look *t) {
  errbuf err = {0};
  eng_status st;
  *t = (task_look){0};
  int rc = eng_status_load(g->re->e, g->task, NULL, ST_NO_TIME, &st, &err);
  if (!rc) rc = st_check_project(&g->so, &st, g->task, &err);
  if (rc == 0) {
    t->found = 1;
    t->state = st.n ? st.nodes[st.root].s.state : RATTAN_STATE_CREATED;
    /* The root pipeline is not one of the task's nodes to SOPS. */
    t->has_node = node && def_find(st.def, st.by_id, node) != ST_NONE;
  } else if (rc == RATTAN_ENOTFOUND) {
    rc = 0;
  } else {
    err_set(&g->re->err, rc, "%s", err.msg);
  }
  eng_status_free(&st);
  return rc;
}

/* ---- Read routes
 * -----------------------------------------------------------------
 */

static int get_task_status(gw *g) {
  const char *sub = param(g, "subprocess_id");
  g->so.subprocess_id = truthy(sub) ? sub : NULL;
  g->so.with_ex_data = truthy(param(g, "with_ex_data"));
  return rattan_task_status(g->re, g->task, &g->so, g->out, g->len);
}

static int get_task_detail(gw *g) {
  return rattan_task_detail(g->re, g->task, &g->so, g->out, g->len);
}

static int get_task_node_detail(gw *g) {
  const char *node = param(g, "node_id"), *loop = param(g, "loop");
  unsigned long n = 0;
  if (!truthy(node))
    return view_answer(g, 0, CODE_PARAM_INVALID, "node_id is required",
                       RATTAN_EINVAL);
  if (truthy(loop)) {
    char *end;
    n = strtoul(loop, &end, 10);
    if (*end || *loop == '-' || n > UINT32_MAX)
      return view_answer(g, 0, CODE_PARAM_INVALID, "loop must be an integer",
                         RATTAN_EINVAL);
  }
  return rattan_node_detail(g->re, g->task, node, (unsigned)n, &g->so, g->out,
                            g->len);
}

static int get_tasks_status(gw *g) {
  if (g->body_bad)
    return view_answer(g, 0, CODE_PARAM_INVALID,
                       "request body is not a valid json", RATTAN_EINVAL);
  /* params.get("task_id_list", []) */
  json_t *list = json_object_get(g->body, "task_id_list");
  if (list && !json_is_array(list))
    return view_answer(g, 0, CODE_PARAM_INVALID, "task_id_list must be a list",
                       RATTAN_EINVAL);
  /* One more than the limit is enough for the refusal. */
  char ids[51][RATTAN_ID_MAX + 1];
  const char *p[51];
  size_t n = json_array_size(list) < 51 ? json_array_size(list) : 51;
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_array_get(list, i);
    const char *s = json_string_value(v);
    p[i] = NULL; /* not an id: no task has it */
    if (json_is_integer(v)) {
      snprintf(ids[i], sizeof ids[i], "%lld", (long long)json_integer_value(v));
      p[i] = ids[i];
    } else if (s && take_id(ids[i], s, strlen(s)) == 0) {
      p[i] = ids[i];
    }
  }
  int children = drf_bool(json_object_get(g->body, "include_children_status"));
  return rattan_tasks_status(g->re, p, n, children, &g->so, g->out, g->len);
}

/* ---- Write routes
 * ----------------------------------------------------------------
 */

/* TaskFlowInstance.task_url. */
static void task_url(const gw *g, char *out, size_t n) {
  snprintf(out, n, "%staskflow/execute/%s/?instance_id=%s",
           g->rq->base_url ? g->rq->base_url : "", g->biz, g->task);
}

static void emit_id(emitter *m, const char *id) {
  char *end;
  unsigned long long v = strtoull(id, &end, 10);
  if (*id >= '0' && *id <= '9' && !*end && v <= INT64_MAX)
    em_int(m, (int64_t)v);
  else
    em_str(m, id);
}

static int create_task(gw *g) {
  if (g->body_bad)
    return view_answer(g, 0, CODE_PARAM_INVALID,
                       "request body is not a valid json", RATTAN_EINVAL);
  const char *name = field(g, "name");
  json_t *tree = json_object_get(g->body, "pipeline_tree");
  if (!name || !json_is_object(tree))
    return view_answer(
        g, 0, CODE_PARAM_INVALID,
        !name ? "invalid params: 'name'" : "invalid params: 'pipeline_tree'",
        RATTAN_EINVAL);
  char *text = jdump_text(tree);
  if (!text) return RATTAN_ENOMEM;
  rattan_task_options o = {.name = name, .project = g->biz};
  int rc = rattan_task_create(g->re, text, strlen(text), &o, g->task);
  rt_free(text);
  if (rc == RATTAN_ENOMEM) return rc;
  if (rc) {
    char msg[ERRBUF_MAX + 64];
    snprintf(msg, sizeof msg, "%s%s",
             rc == RATTAN_EDEF ? "[API] fast_create_task create pipeline "
                                 "error: "
                               : "invalid params: ",
             rattan_errmsg(g->re));
    return view_answer(
        g, 0, rc == RATTAN_EDEF ? CODE_UNKNOWN : CODE_PARAM_INVALID, msg, rc);
  }
  char *def;
  size_t def_len;
  if ((rc = rattan_task_definition(g->re, g->task, &def, &def_len)))
    return engine_answer(g, rc);
  json_t *stored = jparse(def, def_len, 0, NULL);
  rattan_free(def);
  if (!stored) return RATTAN_ENOMEM;
  char url[512];
  task_url(g, url, sizeof url);
  em_map(&g->m, 4);
  em_key(&g->m, "result");
  em_bool(&g->m, 1);
  em_key(&g->m, "data");
  em_map(&g->m, 3);
  em_key(&g->m, "task_id");
  emit_id(&g->m, g->task);
  em_key(&g->m, "task_url");
  em_str(&g->m, url);
  em_key(&g->m, "pipeline_tree");
  em_json(&g->m, stored);
  em_end(&g->m, 0);
  em_key(&g->m, "code");
  em_int(&g->m, 0);
  st_emit_trace(&g->m, "trace_id", g->so.trace_id);
  em_end(&g->m, 0);
  json_decref(stored);
  return done(g, 0);
}

/* {"result": false, "code": 3545000, "message": "task already started"}:
 * this one dict has its own key order. */
/* The last keys of a successful write's answer, in SOPS's order there:
 * result, code, trace_id; closes the answer. */
static int success_tail(gw *g) {
  em_key(&g->m, "result");
  em_bool(&g->m, 1);
  em_key(&g->m, "code");
  em_int(&g->m, 0);
  st_emit_trace(&g->m, "trace_id", g->so.trace_id);
  em_end(&g->m, 0);
  return done(g, 0);
}

static int already_started(gw *g) {
  em_map(&g->m, 4);
  em_key(&g->m, "result");
  em_bool(&g->m, 0);
  em_key(&g->m, "code");
  em_int(&g->m, CODE_INVALID_OPERATION);
  em_key(&g->m, "message");
  em_str(&g->m, "task already started");
  st_emit_trace(&g->m, "trace_id", g->so.trace_id);
  em_end(&g->m, 0);
  return done(g, RATTAN_ESTATE);
}

/* Starts the task unless it has started; *answered when an answer was
 * written. */
static int start(gw *g, int *answered) {
  task_look t;
  int rc = look(g, NULL, &t);
  *answered = 1;
  if (rc) return engine_answer(g, rc);
  if (!t.found) return unknown_task(g);
  if (t.state != RATTAN_STATE_CREATED) return already_started(g);
  if ((rc = rattan_task_start(g->re, g->task))) return engine_answer(g, rc);
  *answered = 0;
  return 0;
}

static int start_task(gw *g) {
  int answered, rc = start(g, &answered);
  if (answered) return rc;
  char url[512];
  task_url(g, url, sizeof url);
  em_map(&g->m, 5);
  em_key(&g->m, "task_url");
  em_str(&g->m, url);
  em_key(&g->m, "data");
  em_map(&g->m, 1);
  em_key(&g->m, "task_url");
  em_str(&g->m, url);
  em_end(&g->m, 0);
  return success_tail(g);
}

static int operate_task(gw *g) {
  if (g->body_bad)
    return view_answer(g, 0, CODE_PARAM_INVALID, "invalid json format",
                       RATTAN_EINVAL);
  const char *action = field(g, "action");
  if (action && !strcmp(action, "start")) {
    int answered, rc = start(g, &answered);
    if (answered) return rc;
    em_map(&g->m, 4); /* the view's own dict: message first */
    em_key(&g->m, "message");
    em_str(&g->m, "success");
    return success_tail(g);
  }
  task_look t;
  int rc = look(g, NULL, &t);
  if (rc) return engine_answer(g, rc);
  if (!t.found) return unknown_task(g);
  char msg[160];
  if (t.state == RATTAN_STATE_FINISHED || t.state == RATTAN_STATE_REVOKED) {
    /* task_action's guard, its "%sed" included. */
    snprintf(msg, sizeof msg,
             "task with current_flow:finished cannot be %.64sed",
             action ? action : "None");
    return view_answer(g, 0, CODE_INVALID_OPERATION, msg, RATTAN_ESTATE);
  }
  int (*op)(rattan_engine *, const char *) = NULL;
  if (action && !strcmp(action, "pause")) op = rattan_task_pause;
  if (action && !strcmp(action, "resume")) op = rattan_task_resume;
  if (action && !strcmp(action, "revoke")) op = rattan_task_revoke;
  if (!op)
    return view_answer(g, 0, CODE_INVALID_OPERATION, "task command is invalid",
                       RATTAN_EINVAL);
  if (t.state == RATTAN_STATE_CREATED)
    return view_answer(g, 0, CODE_INVALID_OPERATION, "task not started",
                       RATTAN_ESTATE);
  return engine_answer(g, op(g->re, g->task));
}

/* An object field as JSON text for the engine (NULL when empty). */
static char *object_text(json_t *v) {
  return json_object_size(v) ? jdump_text(v) : NULL;
}

static int node_op(gw *g, const char *action, const char *node, json_t *data,
                   json_t *inputs, const char *flow) {
  rattan_engine *re = g->re;
  const char *task = g->task;
  char *text = NULL;
  int rc;
  if (!strcmp(action, "retry")) {
    text = object_text(inputs);
    rc = rattan_node_retry(re, task, node, text);
  } else if (!strcmp(action, "callback")) {
    text = jdump_text(data);
    rc =
        text ? rattan_node_callback(re, task, node, text, NULL) : RATTAN_ENOMEM;
  } else if (!strcmp(action, "forced_fail")) {
    char ex[RATTAN_ID_MAX + 64];
    snprintf(ex, sizeof ex, "The node has been terminated by %.64s.",
             g->rq->username ? g->rq->username : "");
    rc = rattan_node_forced_fail(re, task, node, ex);
  } else if (!strcmp(action, "skip")) {
    rc = rattan_node_skip(re, task, node);
  } else if (!strcmp(action, "skip_exg")) {
    rc = rattan_node_skip_exg(re, task, node, flow);
  } else if (!strcmp(action, "pause")) {
    rc = rattan_node_pause(re, task, node);
  } else if (!strcmp(action, "resume")) {
    rc = rattan_node_resume(re, task, node);
  } else if (!strcmp(action, "pause_subproc")) {
    rc = rattan_subprocess_pause(re, task, node);
  } else if (!strcmp(action, "resume_subproc")) {
    rc = rattan_subprocess_resume(re, task, node);
  } else {
    rc = rattan_subprocess_retry(re, task, node);
  }
  rt_free(text);
  return engine_answer(g, rc);
}

static int operate_node(gw *g) {
  static const char *const commands[] = {
      "retry",          "skip",        "callback",        "skip_exg",
      "skip_cpg",       "pause",       "resume",          "pause_subproc",
      "resume_subproc", "forced_fail", "retry_subprocess"};
  char msg[ERRBUF_MAX + 200];
  if (g->body_bad)
    return view_answer(g, 0, CODE_PARAM_INVALID,
                       "request body is not a valid json", RATTAN_EINVAL);
  json_t *data = json_object_get(g->body, "data");
  json_t *inputs = json_object_get(g->body, "inputs");
  json_t *empty = json_object();
  if (!empty) return RATTAN_ENOMEM;
  int rc = 0;
  if (data && !json_is_object(data)) {
    rc = view_answer(g, 0, CODE_PARAM_INVALID,
                     "data field is not a valid object", RATTAN_EINVAL);
    goto out_empty;
  }
  if (inputs && !json_is_object(inputs)) {
    rc = view_answer(g, 0, CODE_PARAM_INVALID,
                     "inputs field is not a valid object", RATTAN_EINVAL);
    goto out_empty;
  }
  const char *node = field(g, "node_id"), *action = field(g, "action");
  const char *flow = field(g, "flow_id");
  task_look t;
  if ((rc = look(g, node, &t))) {
    rc = engine_answer(g, rc);
    goto out_empty;
  }
  if (!t.found) {
    snprintf(msg, sizeof msg, "task[id=%s] of project[id=%s] does not exist",
             g->task, g->biz);
    rc = view_answer(g, 0, CODE_NOT_EXIST, msg, RATTAN_ENOTFOUND);
    goto out_empty;
  }
  /* The view overwrites every failure's code with 3599999. */
  if (!t.has_node) {
    snprintf(msg, sizeof msg,
             "\u8282\u70b9\u72b6\u6001\u8bf7\u6c42\u5931\u8d25: "
             "\u4efb\u52a1[ID: %s]\u4e2d\u672a\u627e\u5230\u8282\u70b9[ID: "
             "%.64s]. \u8bf7\u91cd\u8bd5. "
             "\u5982\u6301\u7eed\u5931\u8d25\u53ef\u8054\u7cfb\u7ba1\u7406"
             "\u5458\u5904\u7406 | nodes_action",
             g->task, node ? node : "None");
    rc = view_answer(g, 0, CODE_UNKNOWN, msg, RATTAN_EINVAL);
    goto out_empty;
  }
  size_t k = 0, n = sizeof commands / sizeof *commands;
  while (k < n && !(action && !strcmp(action, commands[k])))
    k++;
  if (k == n) {
    rc = view_answer(g, 0, CODE_UNKNOWN, "task command is invalid",
                     RATTAN_EINVAL);
  } else if (!strcmp(action, "skip_cpg")) {
    /* The view passes no flow_ids: bamboo's KeyError, caught. */
    snprintf(msg, sizeof msg,
             "\u8282\u70b9\u64cd\u4f5c\u5931\u8d25: \u8282\u70b9[ID: %s], "
             "\u4efb\u52a1[ID: %s]\u64cd\u4f5c\u5931\u8d25: 'flow_ids', "
             "\u8bf7\u91cd\u8bd5. "
             "\u5982\u6301\u7eed\u5931\u8d25\u53ef\u8054\u7cfb\u7ba1\u7406"
             "\u5458\u5904\u7406 | nodes_action",
             node, g->task);
    rc = view_answer(g, 0, CODE_UNKNOWN, msg, RATTAN_EINVAL);
  } else {
    rc = node_op(g, action, node, data ? data : empty, inputs ? inputs : empty,
                 flow ? flow : "");
  }
out_empty:
  json_decref(empty);
  return rc;
}

static int node_callback(gw *g) {
  char msg[ERRBUF_MAX + 200];
  if (g->body_bad)
    return view_answer(g, 0, CODE_PARAM_INVALID, "invalid json format",
                       RATTAN_EINVAL);
  const char *node = field(g, "node_id"), *version = field(g, "version");
  task_look t;
  int rc = look(g, node, &t);
  if (rc) return engine_answer(g, rc);
  if (!t.found) {
    /* The view's message, "biz_id" without its "=" as upstream. */
    snprintf(msg, sizeof msg,
             "[API] node_callback task[id=%s] of project[project_id=%s, "
             "biz_id%s] does not exist",
             g->task, g->biz, g->biz);
    return view_answer(g, 0, CODE_NOT_EXIST, msg, RATTAN_ENOTFOUND);
  }
  if (!t.has_node) {
    snprintf(msg, sizeof msg, "task[%s] does not have node[%.64s]", g->task,
             node ? node : "None");
    return view_answer(g, 0, CODE_PARAM_INVALID, msg, RATTAN_EINVAL);
  }
  json_t *data = json_object_get(g->body, "callback_data");
  char *text = jdump_text(data ? data : json_null());
  if (!text) return RATTAN_ENOMEM;
  rc = rattan_node_callback(g->re, g->task, node, text,
                            version && *version ? version : NULL);
  rt_free(text);
  return engine_answer(g, rc);
}

/* ---- Routing
 * -----------------------------------------------------------------------
 */

static const route routes[] = {
    {"get_task_status", 0, IDS_TASK_BIZ, get_task_status},
    {"get_tasks_status", 1, IDS_BIZ, get_tasks_status},
    {"get_task_node_detail", 0, IDS_TASK_BIZ, get_task_node_detail},
    {"get_task_detail", 0, IDS_TASK_BIZ, get_task_detail},
    {"create_task", 1, IDS_BIZ, create_task},
    {"fast_create_task", 1, IDS_BIZ, create_task},
    {"start_task", 1, IDS_TASK_BIZ, start_task},
    {"operate_task", 1, IDS_TASK_BIZ, operate_task},
    {"operate_node", 1, IDS_BIZ_TASK, operate_node},
    {"node_callback", 1, IDS_TASK_BIZ, node_callback},
};

/* The path's segments: at most 16, the route's name among them. */
#define SEGS_MAX 16
typedef struct segs {
  const char *s[SEGS_MAX];
  size_t n[SEGS_MAX];
  int count;
} segs;

static int split(const char *path, segs *sg) {
  sg->count = 0;
  for (const char *p = path; *p;) {
    while (*p == '/')
      p++;
    if (!*p) break;
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (sg->count == SEGS_MAX) return -1;
    sg->s[sg->count] = p;
    sg->n[sg->count++] = n;
    p += n;
  }
  return 0;
}

/* The route named in path, and where its ids start in sg; NULL if none. */
static const route *find(const char *path, segs *sg, int *at) {
  if (!path || split(path, sg)) return NULL;
  for (int i = 0; i < sg->count; i++)
    for (size_t k = 0; k < sizeof routes / sizeof *routes; k++)
      if (strlen(routes[k].name) == sg->n[i] &&
          !memcmp(routes[k].name, sg->s[i], sg->n[i])) {
        *at = i + 1;
        return &routes[k];
      }
  return NULL;
}

int rattan_gateway_reads(const char *path) {
  segs sg;
  int at;
  const route *r = find(path, &sg, &at);
  return r && !strncmp(r->name, "get_", 4);
}

void rattan_request_init(rattan_request *r) {
  *r = (rattan_request){
      .struct_size = sizeof *r, .method = "GET", .tz_offset_min = 480};
}

/* The route's ids, from the path or (ESB form) the parameters; -1 when
 * one is missing or is not an id. */
static int take_ids(gw *g, const segs *sg, int at) {
  int want = g->r->ids == IDS_BIZ ? 1 : 2, left = sg->count - at;
  if (left == 0) {
    if (id_arg(g, "bk_biz_id", g->biz)) return -1;
    return want == 1 ? 0 : id_arg(g, "task_id", g->task);
  }
  if (left != want) return -1;
  int task = g->r->ids == IDS_TASK_BIZ ? at : at + 1;
  int biz = g->r->ids == IDS_TASK_BIZ ? at + 1 : at;
  if (take_id(g->biz, sg->s[biz], sg->n[biz])) return -1;
  return want == 1 ? 0 : take_id(g->task, sg->s[task], sg->n[task]);
}

/* An answer outside any view: a route that does not exist or a method it
 * does not take. */
static int http_error(gw *g, int *http, int status, const char *fmt,
                      const char *a, const char *b) {
  char msg[300];
  snprintf(msg, sizeof msg, fmt, a, b);
  *http = status;
  return view_answer(g, 0, status == 404 ? CODE_NOT_EXIST : CODE_PARAM_INVALID,
                     msg, status == 404 ? RATTAN_ENOTFOUND : RATTAN_EINVAL);
}

int rattan_gateway(rattan_engine *re, const rattan_request *in, char **out,
                   size_t *len, int *http_status) {
  if (!re || !in || !out || !http_status) return RATTAN_EINVAL;
  rattan_request rq;
  rattan_request_init(&rq);
  memcpy(&rq, in,
         in->struct_size < sizeof rq && in->struct_size ? in->struct_size
                                                        : sizeof rq);
  gw g = {.re = re, .rq = &rq, .out = out, .len = len};
  *out = NULL;
  if (len) *len = 0;
  *http_status = 200;
  rattan_status_options_init(&g.so);
  g.so.tz_offset_min = rq.tz_offset_min;
  g.so.trace_id = rq.trace_id;
  if (!g.so.trace_id) {
    st_random_trace(g.trace);
    g.so.trace_id = g.trace;
  }
  if (g.so.tz_offset_min < -1440 || g.so.tz_offset_min > 1440 || !rq.method ||
      (rq.body_len && !rq.body) || (rq.n_params && !rq.params))
    return RATTAN_EINVAL;
  em_init(&g.m, EM_JSON, 0, &g.b);
  segs sg;
  int at;
  g.r = find(rq.path, &sg, &at);
  if (!g.r)
    return http_error(&g, http_status, 404, "no route for \"%.200s\"%s",
                      rq.path ? rq.path : "", "");
  int post = !strcmp(rq.method, "POST");
  if (post != g.r->post || (!post && strcmp(rq.method, "GET")))
    return http_error(&g, http_status, 405, "%s takes %s requests only",
                      g.r->name, g.r->post ? "POST" : "GET");
  if (post) {
    json_error_t jerr;
    unsigned failures = rt_alloc_failures();
    g.body = rq.body_len <= BODY_MAX
                 ? jparse(rq.body ? rq.body : "", rq.body_len,
                          JSON_REJECT_DUPLICATES, &jerr)
                 : NULL;
    /* jansson reports running out of memory as a bad body. */
    if (!g.body && rt_alloc_failures() != failures) return RATTAN_ENOMEM;
    g.body_bad = !json_is_object(g.body);
  }
  int rc;
  if (take_ids(&g, &sg, at)) {
    rc = view_answer(&g, 0, CODE_PARAM_INVALID,
                     g.r->ids == IDS_BIZ ? "bk_biz_id is required"
                                         : "task_id and bk_biz_id are required",
                     RATTAN_EINVAL);
  } else if (post && buf_reserve(&g.b, ANSWER_ROOM)) {
    rc = RATTAN_ENOMEM;
  } else {
    g.so.project = g.biz;
    rc = g.r->fn(&g);
  }
  json_decref(g.body);
  /* The answer is g.b's, or a status call's own buffer (then g.b holds at
   * most the room reserved for it). */
  if ((void *)*out != (void *)g.b.data) buf_free(&g.b);
  return rc;
}
