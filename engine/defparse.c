/*
 * Parsing pipeline trees (bamboo, SOPS web, SOPS export) into st_def.
 *
 * Pass 1 walks the JSON: every pipeline, node, flow and variable becomes a
 * row, ids are indexed, and each node's outgoing / incoming lists are kept
 * for pass 2, which resolves flows into edges in the order each node
 * lists them. def_check (defcheck.c) then applies the graph rules.
 */
#include <stdio.h>
#include <string.h>

#include "defparse_int.h"
#include "rattan.h"

/* ---- Paths and problems -------------------------------------------------- */

/* Appends ".key" (or "key" at the start); returns the previous length to
 * restore with dp_pop. */
size_t dp_push(path *p, const char *key) {
  size_t old = p->len, room = sizeof p->s - 1;
  if (p->len && p->len < room) p->s[p->len++] = '.';
  size_t n = strlen(key);
  if (n > room - p->len) n = room - p->len;
  memcpy(p->s + p->len, key, n);
  p->len += n;
  p->s[p->len] = '\0';
  return old;
}

/* Appends "[i]". */
size_t dp_index(path *p, size_t i) {
  size_t old = p->len;
  char idx[32];
  int n = snprintf(idx, sizeof idx, "[%zu]", i);
  if (n > 0 && (size_t)n < sizeof p->s - p->len) {
    memcpy(p->s + p->len, idx, (size_t)n + 1);
    p->len += (size_t)n;
  }
  return old;
}

void dp_pop(path *p, size_t old) {
  p->len = old;
  p->s[old] = '\0';
}

/* pt + "." + key, in a static buffer overwritten by the next call. */
const char *dp_at(path *p, const char *key) {
  static _Thread_local path tmp;
  tmp = *p;
  dp_push(&tmp, key);
  return tmp.s;
}

uint32_t dp_keep_path(parser *p, const char *s) {
  uint32_t off = (uint32_t)p->paths.len;
  if (buf_append(&p->paths, s, strlen(s) + 1)) p->oom = 1;
  return off;
}

const char *dp_path_at(parser *p, uint32_t off) {
  return (const char *)p->paths.data + off;
}

/* ---- Field readers --------------------------------------------------------
 */

const char *dp_type(const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT:
      return "an object";
    case JSON_ARRAY:
      return "a list";
    case JSON_STRING:
      return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
      return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
      return "a boolean";
    default:
      return "null";
  }
}

/* A string field; NULL (with a problem unless optional) otherwise. */
const char *dp_str(parser *p, path *pt, json_t *obj, const char *key,
                   int required) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required) BAD(p, dp_at(pt, key), "missing");
    return NULL;
  }
  if (!json_is_string(v)) {
    BAD(p, dp_at(pt, key), "must be a string, not %s", dp_type(v));
    return NULL;
  }
  return json_string_value(v);
}

/* An id field: a non-empty string of at most ST_ID_MAX bytes. */
const char *dp_id(parser *p, path *pt, json_t *obj, const char *key) {
  const char *s = dp_str(p, pt, obj, key, 1);
  if (!s) return NULL;
  size_t n = strlen(s);
  if (n == 0) {
    BAD(p, dp_at(pt, key), "empty id");
    return NULL;
  }
  if (n > ST_ID_MAX) {
    BAD(p, dp_at(pt, key), "id is %zu bytes, the limit is %d", n, ST_ID_MAX);
    return NULL;
  }
  return s;
}

/* A boolean field: 1 / 0, or def when absent and not required. */
int dp_bool(parser *p, path *pt, json_t *obj, const char *key, int required,
            int def) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required) BAD(p, dp_at(pt, key), "missing");
    return def;
  }
  if (!json_is_boolean(v)) {
    BAD(p, dp_at(pt, key), "must be a boolean, not %s", dp_type(v));
    return def;
  }
  return json_is_true(v);
}

json_t *dp_obj(parser *p, path *pt, json_t *obj, const char *key,
               int required) {
  json_t *v = json_object_get(obj, key);
  if (!v || (json_is_null(v) && !required)) {
    if (required) BAD(p, dp_at(pt, key), "missing");
    return NULL;
  }
  if (!json_is_object(v)) {
    BAD(p, dp_at(pt, key), "must be an object, not %s", dp_type(v));
    return NULL;
  }
  return v;
}

/* ---- Variables ------------------------------------------------------------
 */

uint32_t dp_json(parser *p, json_t *v) {
  char *s = jdump_text(v);
  if (!s) {
    p->oom = 1;
    return ST_NONE;
  }
  uint32_t off = b_str(&p->b, s);
  rt_free(s); /* jansson allocates through rt_malloc */
  return off;
}

static int var_kind(parser *p, path *pt, const char *type) {
  if (!type || !strcmp(type, "plain")) return ST_VAR_PLAIN;
  if (!strcmp(type, "splice")) return ST_VAR_SPLICE;
  if (!strcmp(type, "lazy")) return ST_VAR_LAZY;
  BAD(p, dp_at(pt, "type"),
      "unknown variable type \"%s\" (plain, splice or lazy)", type);
  return ST_VAR_PLAIN;
}

/* Adds one source_act / source_key pair. */
static void add_source(parser *p, path *pt, json_t *act, json_t *key) {
  if (!json_is_string(act) || !json_is_string(key)) {
    BAD(p, pt->s, "source_act and source_key must be strings");
    return;
  }
  b_ref(&p->b, b_str(&p->b, json_string_value(act)));
  b_ref(&p->b, b_str(&p->b, json_string_value(key)));
}

/* A bamboo variable {type, value, custom_type?, need_render?, source_act?,
 * source_key?, is_param?}; source_act may also be a list of
 * {source_act, source_key}. */
static void parse_var(parser *p, path *pt, const char *key, json_t *v) {
  uint32_t i = b_var(&p->b);
  if (i == ST_NONE) return;
  if (!json_is_object(v)) {
    BAD(p, pt->s, "must be an object, not %s", dp_type(v));
    return;
  }
  st_def_var *var = &p->b.d.vars[i];
  var->key = b_str(&p->b, key);
  var->kind = (uint8_t)var_kind(p, pt, dp_str(p, pt, v, "type", 0));
  json_t *value = json_object_get(v, "value");
  var = &p->b.d.vars[i];
  var->value = value ? dp_json(p, value) : b_str(&p->b, "null");
  var = &p->b.d.vars[i];
  var->custom_type = b_str(&p->b, dp_str(p, pt, v, "custom_type", 0));
  var = &p->b.d.vars[i];
  uint8_t flags = 0;
  if (dp_bool(p, pt, v, "is_param", 0, 0)) flags |= ST_VF_IS_PARAM;
  if (dp_bool(p, pt, v, "need_render", 0, 1)) flags |= ST_VF_NEED_RENDER;
  json_t *act = json_object_get(v, "source_act");
  uint32_t srcs = p->b.d.n_refs;
  if (json_is_string(act)) {
    size_t old = dp_push(pt, "source_act");
    add_source(p, pt, act, json_object_get(v, "source_key"));
    dp_pop(pt, old);
  } else if (json_is_array(act)) {
    size_t k;
    json_t *e;
    json_array_foreach(act, k, e) {
      size_t old = dp_push(pt, "source_act");
      dp_index(pt, k);
      add_source(p, pt, json_object_get(e, "source_act"),
                 json_object_get(e, "source_key"));
      dp_pop(pt, old);
    }
  } else if (act && !json_is_null(act) &&
             !(json_is_string(act) && !*json_string_value(act))) {
    BAD(p, dp_at(pt, "source_act"), "must be a string or a list, not %s",
        dp_type(act));
  }
  var = &p->b.d.vars[i];
  var->flags = flags;
  var->srcs = srcs;
  var->n_srcs = (p->b.d.n_refs - srcs) / 2;
}

/* A map of bamboo variables; returns the first var index, *n the count. */
static uint32_t parse_vars(parser *p, path *pt, json_t *map, uint32_t *n) {
  uint32_t first = p->b.d.n_vars;
  const char *key;
  json_t *v;
  json_object_foreach(map, key, v) {
    size_t old = dp_push(pt, key);
    parse_var(p, pt, key, v);
    dp_pop(pt, old);
  }
  *n = p->b.d.n_vars - first;
  return first;
}

/* ---- Nodes ----------------------------------------------------------------
 */

static const char *const node_type_names[ST_NODE_TYPES] = {
    "EmptyStartEvent",    "EmptyEndEvent",
    "ExecutableEndEvent", "ServiceActivity",
    "SubProcess",         "ExclusiveGateway",
    "ParallelGateway",    "ConditionalParallelGateway",
    "ConvergeGateway"};

static int node_type(const char *s) {
  for (int i = 0; i < ST_NODE_TYPES; i++)
    if (!strcmp(s, node_type_names[i])) return i;
  return -1;
}

const char *def_node_type_name(int type) {
  return type >= 0 && type < ST_NODE_TYPES ? node_type_names[type] : "?";
}

static uint32_t parse_pipe(parser *p, path *pt, json_t *tree, uint32_t sub,
                           const char *want_id, int web, int depth,
                           json_t *constants);

/* Registers an id for uniqueness; reports a duplicate. */
static int claim_id(parser *p, const char *id, const char *where) {
  uint32_t off = dp_keep_path(p, where);
  uint32_t prev = idmap_put(&p->ids, id, off);
  if (prev == IDMAP_OOM) p->oom = 1;
  if (prev == ST_NONE || prev == IDMAP_OOM) return 1;
  BAD(p, where, "id \"%s\" is already used at %s", id, dp_path_at(p, prev));
  return 0;
}

static void parse_activity(parser *p, path *pt, json_t *obj, uint32_t i,
                           int web, int depth);
static void parse_gateway(parser *p, path *pt, json_t *obj, uint32_t i);

/* One node of any kind; `allowed` is a bit mask of the types this place
 * may hold. Returns its index or ST_NONE. */
static uint32_t parse_node(parser *p, path *pt, json_t *obj, uint32_t pipe,
                           unsigned allowed, int web, int depth,
                           const char *key) {
  if (!json_is_object(obj)) {
    BAD(p, pt->s, "must be an object, not %s", dp_type(obj));
    return ST_NONE;
  }
  const char *id = dp_id(p, pt, obj, "id");
  const char *type = dp_str(p, pt, obj, "type", 1);
  if (!id || !type) return ST_NONE;
  if (key && strcmp(key, id)) {
    BAD(p, dp_at(pt, "id"), "\"%s\" differs from its key \"%s\"", id, key);
    return ST_NONE;
  }
  int t = node_type(type);
  if (t < 0 && (allowed & (1u << ST_EXECUTABLE_END)))
    t = ST_EXECUTABLE_END; /* a registered custom end event type */
  if (t < 0 || !(allowed & (1u << t))) {
    BAD(p, dp_at(pt, "type"), "\"%s\" is not allowed here", type);
    return ST_NONE;
  }
  if (p->b.d.n_nodes >= p->max_nodes) {
    if (!p->too_many)
      BAD(p, pt->s, "more than %u nodes in the tree", p->max_nodes);
    p->too_many = 1;
    return ST_NONE;
  }
  if (!claim_id(p, id, pt->s)) return ST_NONE;
  uint32_t i = b_node(&p->b);
  if (i == ST_NONE) return ST_NONE;
  if (i >= p->cap_ni) {
    uint32_t c = p->cap_ni ? p->cap_ni * 2 : 64;
    nodeinfo *ni = rt_realloc(p->ni, c * sizeof *ni);
    if (!ni) {
      p->oom = 1;
      return ST_NONE;
    }
    p->ni = ni;
    p->cap_ni = c;
  }
  p->ni[i] = (nodeinfo){obj, dp_keep_path(p, pt->s)};
  if (idmap_put(&p->nodes, id, i) == IDMAP_OOM) p->oom = 1;
  st_def_node *n = &p->b.d.nodes[i];
  n->type = (uint8_t)t;
  n->pipe = pipe;
  n->id = b_str(&p->b, id);
  const char *name = dp_str(p, pt, obj, "name", 0);
  p->b.d.nodes[i].name = b_str(&p->b, name ? name : "");
  if (t == ST_EXECUTABLE_END) p->b.d.nodes[i].code = b_str(&p->b, type);
  if (t == ST_SERVICE_ACTIVITY || t == ST_SUBPROCESS)
    parse_activity(p, pt, obj, i, web, depth);
  else if (t >= ST_EXCLUSIVE_GW)
    parse_gateway(p, pt, obj, i);
  return i;
}

static void parse_activity(parser *p, path *pt, json_t *obj, uint32_t i,
                           int web, int depth) {
  st_def_node *n = &p->b.d.nodes[i];
  uint8_t flags = 0;
  uint32_t vars = p->b.d.n_vars, n_vars = 0;
  if (n->type == ST_SERVICE_ACTIVITY) {
    json_t *comp = dp_obj(p, pt, obj, "component", 1);
    size_t old = dp_push(pt, "component");
    if (comp) {
      const char *code = dp_str(p, pt, comp, "code", 1);
      const char *ver = dp_str(p, pt, comp, "version", 0);
      p->b.d.nodes[i].code = b_str(&p->b, code);
      p->b.d.nodes[i].version = b_str(&p->b, ver ? ver : "legacy");
      /* Web components hold "data"; a bamboo tree may carry one too. */
      int as_web = web || !json_object_get(comp, "inputs");
      const char *key = as_web ? "data" : "inputs";
      json_t *inputs = dp_obj(p, pt, comp, key, 0);
      if (inputs) {
        size_t o2 = dp_push(pt, key);
        vars = as_web ? dp_web_inputs(p, pt, inputs, &n_vars)
                      : parse_vars(p, pt, inputs, &n_vars);
        dp_pop(pt, o2);
      }
      if (web) n_vars += dp_web_executor_proxy(p, pt, obj);
    }
    dp_pop(pt, old);
    /* bamboo reads these three with [], so they are required there; SOPS
     * web trees may use isSkipped / can_retry and default to true. */
    int req = !web;
    json_t *sk = json_object_get(obj, "skippable");
    int skippable = sk || req ? dp_bool(p, pt, obj, "skippable", req, 1)
                              : dp_bool(p, pt, obj, "isSkipped", 0, 1);
    json_t *rt = json_object_get(obj, "retryable");
    int retryable = rt || req ? dp_bool(p, pt, obj, "retryable", req, 1)
                              : dp_bool(p, pt, obj, "can_retry", 0, 1);
    int ignorable = dp_bool(p, pt, obj, "error_ignorable", req, 0);
    if (web && ignorable) skippable = 1; /* as bk-sops' formatter does */
    if (skippable) flags |= ST_NF_SKIPPABLE;
    if (retryable) flags |= ST_NF_RETRYABLE;
    if (ignorable) flags |= ST_NF_ERROR_IGNORABLE;
    json_t *to = json_object_get(obj, "timeout");
    if (json_is_integer(to) && json_integer_value(to) > 0 &&
        json_integer_value(to) <= INT32_MAX)
      p->b.d.nodes[i].timeout = (int32_t)json_integer_value(to);
    else if (to && !json_is_null(to) && !json_is_integer(to))
      BAD(p, dp_at(pt, "timeout"), "must be a number of seconds, not %s",
          dp_type(to));
  } else {
    flags |= ST_NF_RETRYABLE; /* SubProcess: can_retry, never can_skip */
    if (depth >= DEF_MAX_DEPTH) {
      BAD(p, pt->s, "subprocesses nested deeper than %d", DEF_MAX_DEPTH);
    } else {
      const char *id = json_string_value(json_object_get(obj, "id"));
      json_t *sub = json_object_get(obj, "pipeline");
      const char *tpl = dp_str(p, pt, obj, "template_id", 0);
      uint32_t child = ST_NONE;
      if (sub) {
        size_t old = dp_push(pt, "pipeline");
        child = parse_pipe(p, pt, sub, i, id, web, depth + 1, NULL);
        dp_pop(pt, old);
        json_t *params = dp_obj(p, pt, obj, "params", 0);
        if (params) {
          size_t o2 = dp_push(pt, "params");
          vars = parse_vars(p, pt, params, &n_vars);
          dp_pop(pt, o2);
        }
      } else if (tpl) {
        json_t *t = p->templates ? json_object_get(p->templates, tpl) : NULL;
        json_t *tree = t ? json_object_get(t, "tree") : NULL;
        if (!json_is_object(tree)) {
          BAD(p, dp_at(pt, "template_id"), "template \"%s\" is not in this %s",
              tpl,
              p->templates ? "export"
                           : "document (only an export "
                             "envelope holds templates)");
        } else {
          /* A template whose ids are taken (embedded again, or sharing an
           * id with what came before) gets fresh ones, as bk-sops gives
           * every task fresh ids: node ids must be unique in a task. */
          if (dp_ids_collide(p, tree)) tree = dp_renamed_copy(p, tree, id);
          /* The node's constants replace the child's, entry by entry. */
          json_t *merged = tree ? dp_merge_constants(p, pt, obj, tree) : NULL;
          if (tree && !p->oom) {
            path tp = {0};
            dp_push(&tp, "pipeline_template_data.template");
            dp_push(&tp, tpl);
            dp_push(&tp, "tree");
            child = parse_pipe(p, &tp, tree, i, id, 1, depth + 1, merged);
            size_t o2 = dp_push(pt, "constants");
            dp_web_params(p, pt, merged, p->constants, id, &vars, &n_vars);
            dp_pop(pt, o2);
          }
        }
      } else {
        BAD(p, pt->s, "a SubProcess needs \"pipeline\" or \"template_id\"");
      }
      p->b.d.nodes[i].child = child;
    }
  }
  if (dp_bool(p, pt, obj, "optional", 0, 0)) flags |= ST_NF_OPTIONAL;
  n = &p->b.d.nodes[i];
  n->flags = flags;
  n->vars = vars;
  n->n_vars = n_vars;
}

static void parse_gateway(parser *p, path *pt, json_t *obj, uint32_t i) {
  int t = p->b.d.nodes[i].type;
  if (t != ST_EXCLUSIVE_GW && t != ST_COND_PARALLEL_GW) return;
  /* Conditions are resolved onto flows in pass 2; only shapes here. */
  json_t *conds = dp_obj(p, pt, obj, "conditions", 0);
  const char *fid;
  json_t *c;
  if (conds) {
    size_t old = dp_push(pt, "conditions");
    json_object_foreach(conds, fid, c) {
      size_t o2 = dp_push(pt, fid);
      if (!json_is_object(c))
        BAD(p, pt->s, "must be an object, not %s", dp_type(c));
      else
        dp_str(p, pt, c, "evaluate", 1);
      dp_pop(pt, o2);
    }
    dp_pop(pt, old);
  }
  json_t *def = json_object_get(obj, "default_condition");
  if (def && !json_is_null(def) &&
      !(json_is_object(def) && json_object_size(def) == 0)) {
    size_t old = dp_push(pt, "default_condition");
    if (!json_is_object(def))
      BAD(p, pt->s, "must be an object, not %s", dp_type(def));
    else
      dp_str(p, pt, def, "flow_id", 1);
    dp_pop(pt, old);
  }
}

/* ---- Pipelines ------------------------------------------------------------
 */

static void parse_outputs(parser *p, path *pt, json_t *outs, uint32_t pipe) {
  uint32_t first = p->b.d.n_refs;
  if (json_is_array(outs)) {
    size_t k;
    json_t *o;
    json_array_foreach(outs, k, o) {
      if (!json_is_string(o)) {
        size_t old = dp_index(pt, k);
        BAD(p, pt->s, "output keys must be strings, not %s", dp_type(o));
        dp_pop(pt, old);
        continue;
      }
      b_ref(&p->b, b_str(&p->b, json_string_value(o)));
    }
  } else if (json_is_object(outs)) {
    const char *key;
    json_t *o;
    json_object_foreach(outs, key, o) b_ref(&p->b, b_str(&p->b, key));
  } else if (outs && !json_is_null(outs)) {
    BAD(p, pt->s, "must be a list of keys, not %s", dp_type(outs));
  }
  if (p->b.oom) return;
  p->b.d.pipes[pipe].outputs = first;
  p->b.d.pipes[pipe].n_outputs = p->b.d.n_refs - first;
}

/* One pipeline: a root (sub == ST_NONE) or the pipeline of SubProcess
 * node sub, which must carry the id want_id. Web trees may come with
 * their constants already merged with the SubProcess node's. */
static uint32_t parse_pipe(parser *p, path *pt, json_t *tree, uint32_t sub,
                           const char *want_id, int web, int depth,
                           json_t *constants) {
  if (!json_is_object(tree)) {
    BAD(p, pt->s, "must be an object, not %s", dp_type(tree));
    return ST_NONE;
  }
  if (!web && json_object_get(tree, "constants")) web = 1;
  const char *id = NULL;
  json_t *idv = json_object_get(tree, "id");
  if (idv || !web) id = dp_id(p, pt, tree, "id");
  if (!id) id = want_id ? want_id : web && sub == ST_NONE ? p->root_id : NULL;
  if (!id) id = ""; /* reported; go on to find the other problems */
  if (strlen(id) > ST_ID_MAX) {
    /* A web root takes its template's id, which nothing else limits. */
    BAD(p, pt->s, "the pipeline id \"%.64s...\" is longer than %d bytes", id,
        ST_ID_MAX);
    id = "";
  }
  if (want_id && strcmp(id, want_id)) {
    BAD(p, dp_at(pt, "id"),
        "an embedded pipeline's id must equal its SubProcess id \"%s\", "
        "not \"%s\"",
        want_id, id);
  }
  uint32_t pi = b_pipe(&p->b);
  if (pi == ST_NONE) return ST_NONE;
  dp_reserve_ids(p, tree);
  if (sub == ST_NONE && *id && !claim_id(p, id, pt->s)) return pi;
  json_t *outer_constants = p->constants;
  p->constants = constants ? constants : json_object_get(tree, "constants");
  p->b.d.pipes[pi].id = b_str(&p->b, id);
  p->b.d.pipes[pi].node = sub;

  const unsigned ACTS = 1u << ST_SERVICE_ACTIVITY | 1u << ST_SUBPROCESS;
  const unsigned GWS = 1u << ST_EXCLUSIVE_GW | 1u << ST_PARALLEL_GW |
                       1u << ST_COND_PARALLEL_GW | 1u << ST_CONVERGE_GW;
  size_t old = dp_push(pt, "start_event");
  json_t *se = json_object_get(tree, "start_event");
  uint32_t s =
      se ? parse_node(p, pt, se, pi, 1u << ST_EMPTY_START, web, depth, NULL)
         : ST_NONE;
  if (!se) BAD(p, pt->s, "missing");
  dp_pop(pt, old);
  old = dp_push(pt, "end_event");
  json_t *ee = json_object_get(tree, "end_event");
  uint32_t e = ee ? parse_node(p, pt, ee, pi,
                               1u << ST_EMPTY_END | 1u << ST_EXECUTABLE_END,
                               web, depth, NULL)
                  : ST_NONE;
  if (!ee) BAD(p, pt->s, "missing");
  dp_pop(pt, old);
  if (!p->b.oom) {
    p->b.d.pipes[pi].start = s;
    p->b.d.pipes[pi].end = e;
  }

  static const char *const sections[2] = {"activities", "gateways"};
  for (int k = 0; k < 2; k++) {
    old = dp_push(pt, sections[k]);
    json_t *sec = json_object_get(tree, sections[k]);
    if (sec && !json_is_object(sec) &&
        !(json_is_array(sec) && !json_array_size(sec))) {
      BAD(p, pt->s, "must be an object, not %s", dp_type(sec));
    } else if (json_is_object(sec)) {
      const char *key;
      json_t *v;
      json_object_foreach(sec, key, v) {
        size_t o2 = dp_push(pt, key);
        parse_node(p, pt, v, pi, k ? GWS : ACTS, web, depth, key);
        dp_pop(pt, o2);
      }
    }
    dp_pop(pt, old);
  }

  old = dp_push(pt, "flows");
  json_t *flows = json_object_get(tree, "flows");
  if (!json_is_object(flows)) {
    BAD(p, pt->s, flows ? "must be an object" : "missing");
  } else {
    const char *key;
    json_t *v;
    json_object_foreach(flows, key, v) {
      size_t o2 = dp_push(pt, key);
      const char *fid = json_is_object(v) ? dp_id(p, pt, v, "id") : NULL;
      if (!json_is_object(v)) {
        BAD(p, pt->s, "must be an object, not %s", dp_type(v));
      } else if (fid && strcmp(fid, key)) {
        BAD(p, dp_at(pt, "id"), "\"%s\" differs from its key \"%s\"", fid, key);
      } else if (fid && claim_id(p, fid, pt->s)) {
        if (p->n_fi == p->cap_fi) {
          uint32_t c = p->cap_fi ? p->cap_fi * 2 : 64;
          flowinfo *fi = rt_realloc(p->fi, c * sizeof *fi);
          if (!fi) {
            p->oom = 1;
            dp_pop(pt, o2);
            break;
          }
          p->fi = fi;
          p->cap_fi = c;
        }
        p->fi[p->n_fi] = (flowinfo){v, fid, pi, dp_keep_path(p, pt->s), 0};
        if (idmap_put(&p->flows, fid, p->n_fi++) == IDMAP_OOM) p->oom = 1;
      }
      dp_pop(pt, o2);
    }
  }
  dp_pop(pt, old);

  uint32_t vars = p->b.d.n_vars, n_vars = 0;
  if (web) {
    json_t *cons = constants ? constants : json_object_get(tree, "constants");
    if (cons && !json_is_null(cons)) {
      old = dp_push(pt, "constants");
      if (!json_is_object(cons))
        BAD(p, pt->s, "must be an object, not %s", dp_type(cons));
      else
        dp_web_constants(p, pt, cons, sub != ST_NONE, &vars, &n_vars);
      dp_pop(pt, old);
    }
    old = dp_push(pt, "outputs");
    parse_outputs(p, pt, json_object_get(tree, "outputs"), pi);
    dp_pop(pt, old);
  } else {
    json_t *data = dp_obj(p, pt, tree, "data", 0);
    old = dp_push(pt, "data");
    if (data) {
      json_t *inputs = dp_obj(p, pt, data, "inputs", 0);
      if (inputs) {
        size_t o2 = dp_push(pt, "inputs");
        vars = parse_vars(p, pt, inputs, &n_vars);
        dp_pop(pt, o2);
      }
      size_t o2 = dp_push(pt, "outputs");
      parse_outputs(p, pt, json_object_get(data, "outputs"), pi);
      dp_pop(pt, o2);
    }
    dp_pop(pt, old);
  }
  if (!p->b.oom) {
    p->b.d.pipes[pi].vars = vars;
    p->b.d.pipes[pi].n_vars = n_vars;
  }
  p->constants = outer_constants;
  return pi;
}

/* ---- Documents ------------------------------------------------------------
 */

/* Adds the template ids that SubProcess nodes of tree reference to refd. */
static void note_refs(json_t *tree, idmap *refd) {
  json_t *acts = json_object_get(tree, "activities");
  const char *key;
  json_t *a;
  json_object_foreach(acts, key, a) {
    const char *tpl = json_string_value(json_object_get(a, "template_id"));
    if (tpl) idmap_put(refd, tpl, 0);
  }
}

/* Picks the template to load from an export: the one asked for, or the
 * only one no other template uses as a subprocess. */
/* The templates of an export that no other one uses as a subprocess, in
 * document order: up to max ids into ids; returns how many there are. */
static int roots_of(json_t *templates, const char **ids, int max) {
  idmap refd = {0};
  const char *key;
  json_t *t;
  json_object_foreach(templates, key, t)
      note_refs(json_object_get(t, "tree"), &refd);
  int n = 0;
  json_object_foreach(templates, key, t) {
    if (idmap_get(&refd, key) != ST_NONE) continue;
    if (n < max) ids[n] = key;
    n++;
  }
  idmap_free(&refd);
  return n;
}

/* Picks the template to load from an export: the one asked for, or the
 * only one no other template uses as a subprocess. */
static const char *pick_template(diag *d, json_t *templates, const char *want) {
  const char *where = "pipeline_template_data.template";
  if (want) {
    if (json_object_get(templates, want)) return want;
    diag_add(d, where, "no template \"%s\"", want);
    return NULL;
  }
  const char *ids[8];
  int n = roots_of(templates, ids, 8);
  if (n == 1) return ids[0];
  if (n == 0) {
    diag_add(d, where,
             "no template to load (every one is some other's subprocess)");
    return NULL;
  }
  char names[600] = "";
  for (int k = 0; k < n && k < 8; k++) {
    size_t len = strlen(names);
    snprintf(names + len, sizeof names - len, "%s%s", k ? ", " : "", ids[k]);
  }
  diag_add(d, where,
           "%d templates are not subprocesses of another (%s%s): choose one", n,
           names, n > 8 ? ", ..." : "");
  return NULL;
}

static void parser_free(parser *p) {
  b_free(&p->b);
  idmap_free(&p->ids);
  idmap_free(&p->nodes);
  idmap_free(&p->flows);
  rt_free(p->ni);
  rt_free(p->fi);
  rt_free(p->in_first);
  rt_free(p->in_list);
  buf_free(&p->paths);
  idmap_free(&p->reserved);
  json_decref(p->keep);
}

/* Compiles one tree of a loaded document: a whole bamboo or web tree, or
 * template tid of an export (whose template map is templates). failed is
 * the allocation failure count before loading. */
static int compile_tree(json_t *tree, json_t *templates, const char *tid,
                        const def_options *o, st_def *out, diag *d, char *name,
                        unsigned failed) {
  parser p = {.d = d, .keep = json_array(), .templates = templates};
  if (!p.keep) return RATTAN_ENOMEM;
  int rc = RATTAN_EDEF;
  b_str(&p.b, ""); /* offset 0: the empty string, so the pool is never empty */
  path pt = {0};
  int web = 0;
  if (tid) {
    dp_push(&pt, "pipeline_template_data.template");
    dp_push(&pt, tid);
    if (!json_is_object(tree)) {
      diag_add(d, dp_at(&pt, "tree"), "missing or not an object");
      goto out_free_parser;
    }
    dp_push(&pt, "tree");
    web = 1;
  }
  p.max_nodes = o->max_nodes ? o->max_nodes : DEF_MAX_NODES;
  p.root_id = o->root_id ? o->root_id : tid ? tid : "root";
  if (name) {
    json_t *holder = tid ? json_object_get(templates, tid) : tree;
    const char *nm = json_string_value(json_object_get(holder, "name"));
    if (nm && strlen(nm) > ST_NAME_MAX)
      diag_add(d, tid ? "pipeline_template_data.template" : "name",
               "the name is %zu bytes, the limit is %d", strlen(nm),
               ST_NAME_MAX);
    else
      snprintf(name, ST_NAME_MAX + 1, "%s", nm ? nm : "");
  }
  unsigned before = d->count;
  parse_pipe(&p, &pt, tree, ST_NONE, NULL, web, 0, NULL);
  if (!p.b.oom && !p.oom) dp_resolve(&p);
  if (p.b.oom || p.oom || d->oom) {
    rc = RATTAN_ENOMEM;
    goto out_free_parser;
  }
  if (d->count == before) {
    const char **paths = rt_malloc((p.b.d.n_nodes + 1) * sizeof *paths);
    if (!paths) {
      rc = RATTAN_ENOMEM;
      goto out_free_parser;
    }
    for (uint32_t i = 0; i < p.b.d.n_nodes; i++)
      paths[i] = dp_path_at(&p, p.ni[i].path);
    def_check(&p.b.d, paths, p.in_first, p.in_list, d);
    rt_free(paths);
  }
  /* Any failed allocation (jansson's included, some of which it does not
   * report) makes the outcome untrustworthy. */
  if (d->oom || rt_alloc_failures() != failed)
    rc = RATTAN_ENOMEM;
  else if (d->count == before) {
    if (out) b_finish(&p.b, out);
    rc = 0;
  }
out_free_parser:
  parser_free(&p);
  return rc;
}

int def_compile(const char *text, size_t len, const def_options *o, st_def *out,
                diag *d, char name[ST_NAME_MAX + 1]) {
  memset(out, 0, sizeof *out);
  if (name) name[0] = '\0';
  def_options none = {0};
  if (!o) o = &none;
  size_t max_bytes = o->max_bytes ? o->max_bytes : DEF_MAX_BYTES;
  if (len > max_bytes) {
    diag_add(d, "document", "%zu bytes, the limit is %zu", len, max_bytes);
    return RATTAN_EDEF;
  }
  json_error_t jerr;
  unsigned failed = rt_alloc_failures();
  json_t *doc = jparse(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (doc && rt_alloc_failures() != failed) {
    /* jansson may also go on after a failed allocation with a string cut
     * short: nothing it parsed then can be trusted. */
    json_decref(doc);
    return RATTAN_ENOMEM;
  }
  if (!doc) {
    /* jansson may report a failed allocation as a syntax error; with the
     * allocator hook set (rattan_set_allocator) its allocations are ours
     * and counted. An empty text means it failed before parsing. */
    if (json_error_code(&jerr) == json_error_out_of_memory || !jerr.text[0] ||
        rt_alloc_failures() != failed)
      return RATTAN_ENOMEM;
    diag_add(d, "document", "byte %d (line %d, column %d): %s", jerr.position,
             jerr.line, jerr.column, jerr.text);
    return d->oom ? RATTAN_ENOMEM : RATTAN_EDEF;
  }
  int rc = RATTAN_EDEF;
  json_t *ptd = json_object_get(doc, "pipeline_template_data");
  json_t *templates = json_object_get(ptd, "template");
  if (!json_is_object(doc)) {
    diag_add(d, "document", "must be an object, not %s", dp_type(doc));
  } else if (!ptd) {
    rc = compile_tree(doc, NULL, NULL, o, out, d, name, failed);
  } else if (!json_is_object(templates)) {
    diag_add(d, "pipeline_template_data.template", "missing or not an object");
  } else if (o->all_templates && !o->template_id) {
    /* Validating an export: every top-level template. */
    size_t max = json_object_size(templates);
    const char **ids = rt_malloc((max + 1) * sizeof *ids);
    int n = ids ? roots_of(templates, ids, (int)max) : 0;
    rc = ids ? 0 : RATTAN_ENOMEM;
    if (ids && n == 0) rc = pick_template(d, templates, NULL) ? 0 : RATTAN_EDEF;
    for (int k = 0; k < n && rc != RATTAN_ENOMEM; k++) {
      int r = compile_tree(
          json_object_get(json_object_get(templates, ids[k]), "tree"),
          templates, ids[k], o, NULL, d, NULL, failed);
      if (r) rc = r;
    }
    rt_free(ids);
  } else {
    const char *tid = pick_template(d, templates, o->template_id);
    if (tid)
      rc =
          compile_tree(json_object_get(json_object_get(templates, tid), "tree"),
                       templates, tid, o, out, d, name, failed);
  }
  json_decref(doc);
  return rc;
}
