/*
 * Parsing pipeline trees (bamboo, SOPS web, SOPS export) into st_def.
 *
 * Pass 1 walks the JSON: every pipeline, node, flow and variable becomes a
 * row, ids are indexed, and each node's outgoing / incoming lists are kept
 * for pass 2, which resolves flows into edges in the order each node
 * lists them. def_check (defcheck.c) then applies the graph rules.
 */
#include "defparse.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rattan.h"

#define PATH_MAX_LEN 1024

typedef struct nodeinfo {
  json_t *obj;
  uint32_t path; /* offset in parser.paths */
} nodeinfo;

typedef struct flowinfo {
  json_t *obj;
  const char *id;
  uint32_t pipe;
  uint32_t path;
  int used;
} flowinfo;

typedef struct parser {
  builder b;
  diag *d;
  idmap ids;   /* every node and flow id -> its path offset */
  idmap nodes; /* node id -> node index */
  idmap flows; /* flow id -> flowinfo index */
  nodeinfo *ni;
  uint32_t cap_ni;
  flowinfo *fi;
  uint32_t n_fi, cap_fi;
  buf paths;                    /* NUL-terminated JSON paths */
  uint32_t *in_first, *in_list; /* see resolve() */
  json_t *templates;            /* an export's template map, or NULL */
  idmap tpls;                   /* templates embedded so far */
  json_t *keep;        /* JSON made while parsing, freed with the parser */
  const char *root_id; /* for a root pipeline without an id (web trees) */
  uint32_t max_nodes;
  int too_many; /* the node limit was reported */
  int oom;
} parser;

/* ---- Paths and problems -------------------------------------------------- */

typedef struct path {
  char s[PATH_MAX_LEN];
  size_t len;
} path;

/* Appends ".key" (or "key" at the start); returns the previous length to
 * restore with path_pop. */
static size_t path_push(path *p, const char *key) {
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
static size_t path_index(path *p, size_t i) {
  size_t old = p->len;
  char idx[32];
  int n = snprintf(idx, sizeof idx, "[%zu]", i);
  if (n > 0 && (size_t)n < sizeof p->s - p->len) {
    memcpy(p->s + p->len, idx, (size_t)n + 1);
    p->len += (size_t)n;
  }
  return old;
}

static void path_pop(path *p, size_t old) {
  p->len = old;
  p->s[old] = '\0';
}

/* pt + "." + key, in a static buffer overwritten by the next call. */
static const char *at(path *p, const char *key) {
  static path tmp;
  tmp = *p;
  path_push(&tmp, key);
  return tmp.s;
}

#define BAD(p, pth, ...) diag_add((p)->d, (pth), __VA_ARGS__)

static uint32_t keep_path(parser *p, const char *s) {
  uint32_t off = (uint32_t)p->paths.len;
  if (buf_append(&p->paths, s, strlen(s) + 1)) p->oom = 1;
  return off;
}

static const char *path_at(parser *p, uint32_t off) {
  return (const char *)p->paths.data + off;
}

/* ---- Field readers --------------------------------------------------------
 */

static const char *type_name(const json_t *v) {
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
static const char *get_str(parser *p, path *pt, json_t *obj, const char *key,
                           int required) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required) BAD(p, at(pt, key), "missing");
    return NULL;
  }
  if (!json_is_string(v)) {
    BAD(p, at(pt, key), "must be a string, not %s", type_name(v));
    return NULL;
  }
  return json_string_value(v);
}

/* An id field: a non-empty string of at most ST_ID_MAX bytes. */
static const char *get_id(parser *p, path *pt, json_t *obj, const char *key) {
  const char *s = get_str(p, pt, obj, key, 1);
  if (!s) return NULL;
  size_t n = strlen(s);
  if (n == 0) {
    BAD(p, at(pt, key), "empty id");
    return NULL;
  }
  if (n > ST_ID_MAX) {
    BAD(p, at(pt, key), "id is %zu bytes, the limit is %d", n, ST_ID_MAX);
    return NULL;
  }
  return s;
}

/* A boolean field: 1 / 0, or def when absent and not required. */
static int get_bool(parser *p, path *pt, json_t *obj, const char *key,
                    int required, int def) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) {
    if (required) BAD(p, at(pt, key), "missing");
    return def;
  }
  if (!json_is_boolean(v)) {
    BAD(p, at(pt, key), "must be a boolean, not %s", type_name(v));
    return def;
  }
  return json_is_true(v);
}

static json_t *get_obj(parser *p, path *pt, json_t *obj, const char *key,
                       int required) {
  json_t *v = json_object_get(obj, key);
  if (!v || (json_is_null(v) && !required)) {
    if (required) BAD(p, at(pt, key), "missing");
    return NULL;
  }
  if (!json_is_object(v)) {
    BAD(p, at(pt, key), "must be an object, not %s", type_name(v));
    return NULL;
  }
  return v;
}

/* ---- Variables ------------------------------------------------------------
 */

static uint32_t b_json(parser *p, json_t *v) {
  char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
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
  BAD(p, at(pt, "type"), "unknown variable type \"%s\" (plain, splice or lazy)",
      type);
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
    BAD(p, pt->s, "must be an object, not %s", type_name(v));
    return;
  }
  st_def_var *var = &p->b.d.vars[i];
  var->key = b_str(&p->b, key);
  var->kind = (uint8_t)var_kind(p, pt, get_str(p, pt, v, "type", 0));
  json_t *value = json_object_get(v, "value");
  var = &p->b.d.vars[i];
  var->value = value ? b_json(p, value) : b_str(&p->b, "null");
  var = &p->b.d.vars[i];
  var->custom_type = b_str(&p->b, get_str(p, pt, v, "custom_type", 0));
  var = &p->b.d.vars[i];
  uint8_t flags = 0;
  if (get_bool(p, pt, v, "is_param", 0, 0)) flags |= ST_VF_IS_PARAM;
  if (get_bool(p, pt, v, "need_render", 0, 1)) flags |= ST_VF_NEED_RENDER;
  json_t *act = json_object_get(v, "source_act");
  uint32_t srcs = p->b.d.n_refs;
  if (json_is_string(act)) {
    size_t old = path_push(pt, "source_act");
    add_source(p, pt, act, json_object_get(v, "source_key"));
    path_pop(pt, old);
  } else if (json_is_array(act)) {
    size_t k;
    json_t *e;
    json_array_foreach(act, k, e) {
      size_t old = path_push(pt, "source_act");
      path_index(pt, k);
      add_source(p, pt, json_object_get(e, "source_act"),
                 json_object_get(e, "source_key"));
      path_pop(pt, old);
    }
  } else if (act && !json_is_null(act) &&
             !(json_is_string(act) && !*json_string_value(act))) {
    BAD(p, at(pt, "source_act"), "must be a string or a list, not %s",
        type_name(act));
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
    size_t old = path_push(pt, key);
    parse_var(p, pt, key, v);
    path_pop(pt, old);
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
  uint32_t off = keep_path(p, where);
  uint32_t prev = idmap_put(&p->ids, id, off);
  if (prev == ST_NONE - 1) p->oom = 1;
  if (prev == ST_NONE || prev == ST_NONE - 1) return 1;
  BAD(p, where, "id \"%s\" is already used at %s", id, path_at(p, prev));
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
    BAD(p, pt->s, "must be an object, not %s", type_name(obj));
    return ST_NONE;
  }
  const char *id = get_id(p, pt, obj, "id");
  const char *type = get_str(p, pt, obj, "type", 1);
  if (!id || !type) return ST_NONE;
  if (key && strcmp(key, id)) {
    BAD(p, at(pt, "id"), "\"%s\" differs from its key \"%s\"", id, key);
    return ST_NONE;
  }
  int t = node_type(type);
  if (t < 0 && (allowed & (1u << ST_EXECUTABLE_END)))
    t = ST_EXECUTABLE_END; /* a registered custom end event type */
  if (t < 0 || !(allowed & (1u << t))) {
    BAD(p, at(pt, "type"), "\"%s\" is not allowed here", type);
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
  p->ni[i] = (nodeinfo){obj, keep_path(p, pt->s)};
  if (idmap_put(&p->nodes, id, i) == ST_NONE - 1) p->oom = 1;
  st_def_node *n = &p->b.d.nodes[i];
  n->type = (uint8_t)t;
  n->pipe = pipe;
  n->id = b_str(&p->b, id);
  const char *name = get_str(p, pt, obj, "name", 0);
  p->b.d.nodes[i].name = b_str(&p->b, name ? name : "");
  if (t == ST_EXECUTABLE_END) p->b.d.nodes[i].code = b_str(&p->b, type);
  if (t == ST_SERVICE_ACTIVITY || t == ST_SUBPROCESS)
    parse_activity(p, pt, obj, i, web, depth);
  else if (t >= ST_EXCLUSIVE_GW)
    parse_gateway(p, pt, obj, i);
  return i;
}

/* True if a string inside v has a ${...} reference to a name, which
 * makes bk-sops call it a splice rather than a plain value: a "${"
 * followed by text without "$", "{", "}" or "#" up to a "}", that holds an
 * identifier outside quotes (other than True, False, None, print). */
static int has_refs(json_t *v, int depth) {
  if (depth > 64) return 0;
  if (json_is_array(v)) {
    size_t k;
    json_t *e;
    json_array_foreach(v, k, e) if (has_refs(e, depth + 1)) return 1;
    return 0;
  }
  if (json_is_object(v)) {
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) if (has_refs(e, depth + 1)) return 1;
    return 0;
  }
  const char *s = json_string_value(v);
  for (; s && (s = strstr(s, "${")); s++) {
    const char *b = s + 2, *e = b;
    while (*e && !strchr("${}#", *e))
      e++;
    if (*e != '}') continue;
    char quote = 0;
    for (const char *q = b; q < e; q++) {
      if (quote) {
        if (*q == quote) quote = 0;
        continue;
      }
      if (*q == '"' || *q == '\'') {
        quote = *q;
        continue;
      }
      int start =
          (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_';
      /* Only a name's first character: not after a dot (attribute) or
       * inside a longer word or number. */
      int after_word = q > b && (q[-1] == '.' || q[-1] == '_' ||
                                 (q[-1] >= '0' && q[-1] <= '9') ||
                                 ((q[-1] | 32) >= 'a' && (q[-1] | 32) <= 'z'));
      if (!start || after_word) continue;
      const char *w = q;
      while (w < e && ((*w >= 'a' && *w <= 'z') || (*w >= 'A' && *w <= 'Z') ||
                       (*w >= '0' && *w <= '9') || *w == '_'))
        w++;
      size_t n = (size_t)(w - q);
      static const char *const reserved[] = {"True", "False", "None", "print"};
      int r = 0;
      for (int k = 0; k < 4; k++)
        r |= strlen(reserved[k]) == n && !strncmp(q, reserved[k], n);
      if (!r) return 1;
      q = w - 1;
    }
  }
  return 0;
}

/* Adds a variable row with the given fields; returns its index. */
static uint32_t add_var(parser *p, const char *key, json_t *value, int kind,
                        const char *custom_type, uint8_t flags) {
  uint32_t i = b_var(&p->b);
  if (i == ST_NONE) return i;
  uint32_t key_off = b_str(&p->b, key);
  uint32_t val_off = value ? b_json(p, value) : b_str(&p->b, "null");
  uint32_t ct_off = b_str(&p->b, custom_type);
  if (p->b.oom) return ST_NONE;
  st_def_var *var = &p->b.d.vars[i];
  var->key = key_off;
  var->value = val_off;
  var->custom_type = ct_off;
  var->kind = (uint8_t)kind;
  var->flags = flags;
  var->srcs = p->b.d.n_refs;
  return i;
}

/* Web templates: component.data {key: {hook, value, need_render?,
 * is_param?}} -> splice inputs when the value references a name (a hooked
 * input is "${constant}"), plain ones otherwise. */
static uint32_t parse_web_inputs(parser *p, path *pt, json_t *data,
                                 uint32_t *n) {
  uint32_t first = p->b.d.n_vars;
  const char *key;
  json_t *v;
  json_object_foreach(data, key, v) {
    size_t old = path_push(pt, key);
    if (!json_is_object(v)) {
      BAD(p, pt->s, "must be an object, not %s", type_name(v));
    } else {
      json_t *value = json_object_get(v, "value");
      uint8_t flags = 0;
      if (get_bool(p, pt, v, "need_render", 0, 1)) flags |= ST_VF_NEED_RENDER;
      if (get_bool(p, pt, v, "is_param", 0, 0)) flags |= ST_VF_IS_PARAM;
      add_var(p, key, value, has_refs(value, 0) ? ST_VAR_SPLICE : ST_VAR_PLAIN,
              NULL, flags);
    }
    path_pop(pt, old);
  }
  *n = p->b.d.n_vars - first;
  return first;
}

/* The variable types bk-sops registers as lazy (computed) variables. */
static int lazy_type(const char *ct) {
  static const char *const lazy[] = {"password",
                                     "select",
                                     "text_value_select",
                                     "current_time",
                                     "format_support_current_time",
                                     "time",
                                     "format_support_datetime",
                                     "staff_group_selector",
                                     "datatable",
                                     "bk_user_selector",
                                     "ip",
                                     "ip_selector",
                                     "set_allocation",
                                     "attribute_query",
                                     "ip_filter",
                                     "set_module_ip_selector",
                                     "set_filter_selector",
                                     "set_group_selector",
                                     "set_module_selector"};
  if (!ct) return 0;
  for (size_t k = 0; k < sizeof lazy / sizeof lazy[0]; k++)
    if (!strcmp(ct, lazy[k])) return 1;
  return 0;
}

static void parse_web_constants(parser *p, path *pt, json_t *constants,
                                int is_sub, uint32_t *first, uint32_t *n);
static void parse_web_params(parser *p, path *pt, json_t *merged,
                             uint32_t *first, uint32_t *n);
static json_t *renamed_copy(parser *p, json_t *tree, const char *salt);

static void parse_activity(parser *p, path *pt, json_t *obj, uint32_t i,
                           int web, int depth) {
  st_def_node *n = &p->b.d.nodes[i];
  uint8_t flags = 0;
  uint32_t vars = p->b.d.n_vars, n_vars = 0;
  if (n->type == ST_SERVICE_ACTIVITY) {
    size_t old = path_push(pt, "component");
    json_t *comp = get_obj(p, pt, obj, "component", 1);
    if (comp) {
      const char *code = get_str(p, pt, comp, "code", 1);
      const char *ver = get_str(p, pt, comp, "version", 0);
      p->b.d.nodes[i].code = b_str(&p->b, code);
      p->b.d.nodes[i].version = b_str(&p->b, ver ? ver : "legacy");
      json_t *inputs = get_obj(p, pt, comp, web ? "data" : "inputs", 0);
      if (!inputs && !web) inputs = get_obj(p, pt, comp, "data", 0);
      if (inputs) {
        size_t o2 = path_push(pt, web ? "data" : "inputs");
        vars = web || json_object_get(comp, "inputs") == NULL
                   ? parse_web_inputs(p, pt, inputs, &n_vars)
                   : parse_vars(p, pt, inputs, &n_vars);
        path_pop(pt, o2);
      }
    }
    path_pop(pt, old);
    /* bamboo reads these three with [], so they are required there; SOPS
     * web trees may use isSkipped / can_retry and default to true. */
    int req = !web;
    json_t *sk = json_object_get(obj, "skippable");
    int skippable = sk || req ? get_bool(p, pt, obj, "skippable", req, 1)
                              : get_bool(p, pt, obj, "isSkipped", 0, 1);
    json_t *rt = json_object_get(obj, "retryable");
    int retryable = rt || req ? get_bool(p, pt, obj, "retryable", req, 1)
                              : get_bool(p, pt, obj, "can_retry", 0, 1);
    if (skippable) flags |= ST_NF_SKIPPABLE;
    if (retryable) flags |= ST_NF_RETRYABLE;
    if (get_bool(p, pt, obj, "error_ignorable", req, 0))
      flags |= ST_NF_ERROR_IGNORABLE;
    json_t *to = json_object_get(obj, "timeout");
    if (json_is_integer(to) && json_integer_value(to) > 0 &&
        json_integer_value(to) <= INT32_MAX)
      p->b.d.nodes[i].timeout = (int32_t)json_integer_value(to);
    else if (to && !json_is_null(to) && !json_is_integer(to))
      BAD(p, at(pt, "timeout"), "must be a number of seconds, not %s",
          type_name(to));
  } else {
    flags |= ST_NF_RETRYABLE; /* SubProcess: can_retry, never can_skip */
    if (depth >= DEF_MAX_DEPTH) {
      BAD(p, pt->s, "subprocesses nested deeper than %d", DEF_MAX_DEPTH);
    } else {
      const char *id = json_string_value(json_object_get(obj, "id"));
      json_t *sub = json_object_get(obj, "pipeline");
      const char *tpl = get_str(p, pt, obj, "template_id", 0);
      uint32_t child = ST_NONE;
      if (sub) {
        size_t old = path_push(pt, "pipeline");
        child = parse_pipe(p, pt, sub, i, id, web, depth + 1, NULL);
        path_pop(pt, old);
        json_t *params = get_obj(p, pt, obj, "params", 0);
        if (params) {
          size_t o2 = path_push(pt, "params");
          vars = parse_vars(p, pt, params, &n_vars);
          path_pop(pt, o2);
        }
      } else if (tpl) {
        json_t *t = p->templates ? json_object_get(p->templates, tpl) : NULL;
        json_t *tree = t ? json_object_get(t, "tree") : NULL;
        if (!json_is_object(tree)) {
          BAD(p, at(pt, "template_id"), "template \"%s\" is not in this %s",
              tpl,
              p->templates ? "export"
                           : "document (only an export "
                             "envelope holds templates)");
        } else {
          /* A template embedded again gets fresh ids, as bk-sops gives
           * every task fresh ones: node ids must be unique in a task. */
          uint32_t seen = idmap_put(&p->tpls, tpl, 0);
          if (seen == ST_NONE - 1) p->oom = 1;
          if (seen != ST_NONE && seen != ST_NONE - 1)
            tree = renamed_copy(p, tree, id);
          /* The node's constants replace the child's, entry by entry. */
          json_t *merged =
              tree ? json_copy(json_object_get(tree, "constants")) : NULL;
          if (!merged) merged = json_object();
          json_t *cons = get_obj(p, pt, obj, "constants", 0);
          if (!merged || json_array_append_new(p->keep, merged) ||
              (cons && json_object_update(merged, cons)))
            p->oom = 1;
          if (tree && !p->oom) {
            path tp = {0};
            path_push(&tp, "pipeline_template_data.template");
            path_push(&tp, tpl);
            path_push(&tp, "tree");
            child = parse_pipe(p, &tp, tree, i, id, 1, depth + 1, merged);
            size_t o2 = path_push(pt, "constants");
            parse_web_params(p, pt, merged, &vars, &n_vars);
            path_pop(pt, o2);
          }
        }
      } else {
        BAD(p, pt->s, "a SubProcess needs \"pipeline\" or \"template_id\"");
      }
      p->b.d.nodes[i].child = child;
    }
  }
  if (get_bool(p, pt, obj, "optional", 0, 0)) flags |= ST_NF_OPTIONAL;
  n = &p->b.d.nodes[i];
  n->flags = flags;
  n->vars = vars;
  n->n_vars = n_vars;
}

static void parse_gateway(parser *p, path *pt, json_t *obj, uint32_t i) {
  int t = p->b.d.nodes[i].type;
  if (t != ST_EXCLUSIVE_GW && t != ST_COND_PARALLEL_GW) return;
  /* Conditions are resolved onto flows in pass 2; only shapes here. */
  json_t *conds = get_obj(p, pt, obj, "conditions", 0);
  const char *fid;
  json_t *c;
  if (conds) {
    size_t old = path_push(pt, "conditions");
    json_object_foreach(conds, fid, c) {
      size_t o2 = path_push(pt, fid);
      if (!json_is_object(c))
        BAD(p, pt->s, "must be an object, not %s", type_name(c));
      else
        get_str(p, pt, c, "evaluate", 1);
      path_pop(pt, o2);
    }
    path_pop(pt, old);
  }
  json_t *def = json_object_get(obj, "default_condition");
  if (def && !json_is_null(def) &&
      !(json_is_object(def) && json_object_size(def) == 0)) {
    size_t old = path_push(pt, "default_condition");
    if (!json_is_object(def))
      BAD(p, pt->s, "must be an object, not %s", type_name(def));
    else
      get_str(p, pt, def, "flow_id", 1);
    path_pop(pt, old);
  }
}

/* ---- Web constants --------------------------------------------------------
 */

/* SOPS web constants {"${k}": {value, source_type, source_info,
 * custom_type, show_type, ...}} -> bamboo variables, as bk-sops'
 * classify_constants does: a component_outputs constant maps the first
 * output named in its source_info (one without any is dropped); a lazy
 * variable type stays lazy; anything else is a splice when its value
 * references a name, else plain. is_param follows bk-sops, quirk
 * included: shown constants, but for plain / splice ones only inside a
 * subprocess. */
static void parse_web_constants(parser *p, path *pt, json_t *constants,
                                int is_sub, uint32_t *first, uint32_t *n) {
  *first = p->b.d.n_vars;
  const char *key;
  json_t *c;
  json_object_foreach(constants, key, c) {
    size_t old = path_push(pt, key);
    if (!json_is_object(c)) {
      BAD(p, pt->s, "must be an object, not %s", type_name(c));
      path_pop(pt, old);
      continue;
    }
    const char *st = get_str(p, pt, c, "source_type", 0);
    const char *ct = get_str(p, pt, c, "custom_type", 0);
    const char *show = get_str(p, pt, c, "show_type", 0);
    int shown = show && !strcmp(show, "show");
    json_t *value = json_object_get(c, "value");
    if (st && !strcmp(st, "component_outputs")) {
      json_t *info = get_obj(p, pt, c, "source_info", 0);
      void *it = info ? json_object_iter(info) : NULL;
      json_t *keys = it ? json_object_iter_value(it) : NULL;
      json_t *k0 = json_array_get(keys, 0);
      if (it && !json_is_string(k0)) {
        BAD(p, at(pt, "source_info"), "must map a node id to output keys");
      } else if (it) {
        uint32_t i = add_var(
            p, key, value, ST_VAR_SPLICE, NULL,
            shown ? ST_VF_IS_PARAM | ST_VF_NEED_RENDER : ST_VF_NEED_RENDER);
        b_ref(&p->b, b_str(&p->b, json_object_iter_key(it)));
        b_ref(&p->b, b_str(&p->b, json_string_value(k0)));
        if (i != ST_NONE && !p->b.oom) p->b.d.vars[i].n_srcs = 1;
      }
    } else if (lazy_type(ct)) {
      add_var(p, key, value, ST_VAR_LAZY, ct,
              shown ? ST_VF_IS_PARAM | ST_VF_NEED_RENDER : ST_VF_NEED_RENDER);
    } else {
      add_var(p, key, value, has_refs(value, 0) ? ST_VAR_SPLICE : ST_VAR_PLAIN,
              NULL,
              shown && is_sub ? ST_VF_IS_PARAM | ST_VF_NEED_RENDER
                              : ST_VF_NEED_RENDER);
    }
    path_pop(pt, old);
  }
  *n = p->b.d.n_vars - *first;
}

/* A subprocess's params from its merged constants (bk-sops
 * format_web_data_to_pipeline): one per shown constant, lazy for lazy
 * types and a splice of the value otherwise. */
static void parse_web_params(parser *p, path *pt, json_t *merged,
                             uint32_t *first, uint32_t *n) {
  *first = p->b.d.n_vars;
  const char *key;
  json_t *c;
  json_object_foreach(merged, key, c) {
    const char *show = json_string_value(json_object_get(c, "show_type"));
    if (!show || strcmp(show, "show")) continue;
    size_t old = path_push(pt, key);
    const char *ct = json_string_value(json_object_get(c, "custom_type"));
    uint8_t flags = 0;
    if (get_bool(p, pt, c, "need_render", 0, 1)) flags |= ST_VF_NEED_RENDER;
    add_var(p, key, json_object_get(c, "value"),
            lazy_type(ct) ? ST_VAR_LAZY : ST_VAR_SPLICE,
            lazy_type(ct) ? ct : NULL, flags);
    path_pop(pt, old);
  }
  *n = p->b.d.n_vars - *first;
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
        size_t old = path_index(pt, k);
        BAD(p, pt->s, "output keys must be strings, not %s", type_name(o));
        path_pop(pt, old);
        continue;
      }
      b_ref(&p->b, b_str(&p->b, json_string_value(o)));
    }
  } else if (json_is_object(outs)) {
    const char *key;
    json_t *o;
    json_object_foreach(outs, key, o) b_ref(&p->b, b_str(&p->b, key));
  } else if (outs && !json_is_null(outs)) {
    BAD(p, pt->s, "must be a list of keys, not %s", type_name(outs));
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
    BAD(p, pt->s, "must be an object, not %s", type_name(tree));
    return ST_NONE;
  }
  if (!web && json_object_get(tree, "constants")) web = 1;
  const char *id = NULL;
  json_t *idv = json_object_get(tree, "id");
  if (idv || !web) id = get_id(p, pt, tree, "id");
  if (!id) id = want_id ? want_id : web && sub == ST_NONE ? p->root_id : NULL;
  if (!id) id = ""; /* reported; go on to find the other problems */
  if (want_id && strcmp(id, want_id)) {
    BAD(p, at(pt, "id"),
        "an embedded pipeline's id must equal its SubProcess id \"%s\", "
        "not \"%s\"",
        want_id, id);
  }
  uint32_t pi = b_pipe(&p->b);
  if (pi == ST_NONE) return ST_NONE;
  if (sub == ST_NONE && *id && !claim_id(p, id, pt->s)) return pi;
  p->b.d.pipes[pi].id = b_str(&p->b, id);
  p->b.d.pipes[pi].node = sub;

  const unsigned ACTS = 1u << ST_SERVICE_ACTIVITY | 1u << ST_SUBPROCESS;
  const unsigned GWS = 1u << ST_EXCLUSIVE_GW | 1u << ST_PARALLEL_GW |
                       1u << ST_COND_PARALLEL_GW | 1u << ST_CONVERGE_GW;
  size_t old = path_push(pt, "start_event");
  json_t *se = json_object_get(tree, "start_event");
  uint32_t s =
      se ? parse_node(p, pt, se, pi, 1u << ST_EMPTY_START, web, depth, NULL)
         : ST_NONE;
  if (!se) BAD(p, pt->s, "missing");
  path_pop(pt, old);
  old = path_push(pt, "end_event");
  json_t *ee = json_object_get(tree, "end_event");
  uint32_t e = ee ? parse_node(p, pt, ee, pi,
                               1u << ST_EMPTY_END | 1u << ST_EXECUTABLE_END,
                               web, depth, NULL)
                  : ST_NONE;
  if (!ee) BAD(p, pt->s, "missing");
  path_pop(pt, old);
  if (!p->b.oom) {
    p->b.d.pipes[pi].start = s;
    p->b.d.pipes[pi].end = e;
  }

  static const char *const sections[2] = {"activities", "gateways"};
  for (int k = 0; k < 2; k++) {
    old = path_push(pt, sections[k]);
    json_t *sec = json_object_get(tree, sections[k]);
    if (sec && !json_is_object(sec) &&
        !(json_is_array(sec) && !json_array_size(sec))) {
      BAD(p, pt->s, "must be an object, not %s", type_name(sec));
    } else if (json_is_object(sec)) {
      const char *key;
      json_t *v;
      json_object_foreach(sec, key, v) {
        size_t o2 = path_push(pt, key);
        parse_node(p, pt, v, pi, k ? GWS : ACTS, web, depth, key);
        path_pop(pt, o2);
      }
    }
    path_pop(pt, old);
  }

  old = path_push(pt, "flows");
  json_t *flows = json_object_get(tree, "flows");
  if (!json_is_object(flows)) {
    BAD(p, pt->s, flows ? "must be an object" : "missing");
  } else {
    const char *key;
    json_t *v;
    json_object_foreach(flows, key, v) {
      size_t o2 = path_push(pt, key);
      const char *fid = json_is_object(v) ? get_id(p, pt, v, "id") : NULL;
      if (!json_is_object(v)) {
        BAD(p, pt->s, "must be an object, not %s", type_name(v));
      } else if (fid && strcmp(fid, key)) {
        BAD(p, at(pt, "id"), "\"%s\" differs from its key \"%s\"", fid, key);
      } else if (fid && claim_id(p, fid, pt->s)) {
        if (p->n_fi == p->cap_fi) {
          uint32_t c = p->cap_fi ? p->cap_fi * 2 : 64;
          flowinfo *fi = rt_realloc(p->fi, c * sizeof *fi);
          if (!fi) {
            p->oom = 1;
            path_pop(pt, o2);
            break;
          }
          p->fi = fi;
          p->cap_fi = c;
        }
        p->fi[p->n_fi] = (flowinfo){v, fid, pi, keep_path(p, pt->s), 0};
        if (idmap_put(&p->flows, fid, p->n_fi++) == ST_NONE - 1) p->oom = 1;
      }
      path_pop(pt, o2);
    }
  }
  path_pop(pt, old);

  uint32_t vars = p->b.d.n_vars, n_vars = 0;
  if (web) {
    json_t *cons = constants ? constants : json_object_get(tree, "constants");
    if (cons && !json_is_null(cons)) {
      old = path_push(pt, "constants");
      if (!json_is_object(cons))
        BAD(p, pt->s, "must be an object, not %s", type_name(cons));
      else
        parse_web_constants(p, pt, cons, sub != ST_NONE, &vars, &n_vars);
      path_pop(pt, old);
    }
    old = path_push(pt, "outputs");
    parse_outputs(p, pt, json_object_get(tree, "outputs"), pi);
    path_pop(pt, old);
  } else {
    json_t *data = get_obj(p, pt, tree, "data", 0);
    old = path_push(pt, "data");
    if (data) {
      json_t *inputs = get_obj(p, pt, data, "inputs", 0);
      if (inputs) {
        size_t o2 = path_push(pt, "inputs");
        vars = parse_vars(p, pt, inputs, &n_vars);
        path_pop(pt, o2);
      }
      size_t o2 = path_push(pt, "outputs");
      parse_outputs(p, pt, json_object_get(data, "outputs"), pi);
      path_pop(pt, o2);
    }
    path_pop(pt, old);
  }
  if (!p->b.oom) {
    p->b.d.pipes[pi].vars = vars;
    p->b.d.pipes[pi].n_vars = n_vars;
  }
  return pi;
}

/* ---- Pass 2: flows into edges ---------------------------------------------
 */

/* Calls fn for each id of an incoming / outgoing field: a list of ids, one
 * id, or "" for none. */
typedef void (*id_fn)(parser *p, uint32_t node, const char *where,
                      const char *id, void *ctx);

static void each_id(parser *p, uint32_t node, json_t *v, const char *where,
                    id_fn fn, void *ctx) {
  if (!v || json_is_null(v)) return;
  if (json_is_string(v)) {
    if (*json_string_value(v)) fn(p, node, where, json_string_value(v), ctx);
    return;
  }
  if (!json_is_array(v)) {
    BAD(p, where, "must be a flow id or a list of them, not %s", type_name(v));
    return;
  }
  size_t k;
  json_t *e;
  json_array_foreach(v, k, e) {
    if (!json_is_string(e))
      BAD(p, where, "flow ids must be strings, not %s", type_name(e));
    else
      fn(p, node, where, json_string_value(e), ctx);
  }
}

static const char *node_id(parser *p, uint32_t i) {
  return p->b.d.pool + p->b.d.nodes[i].id;
}

static void add_out(parser *p, uint32_t node, const char *where,
                    const char *fid, void *ctx) {
  uint32_t *rows = ctx; /* flowinfo index -> flow row, ST_NONE if unused */
  uint32_t k = idmap_get(&p->flows, fid);
  if (k == ST_NONE) {
    BAD(p, where, "flow \"%s\" does not exist", fid);
    return;
  }
  flowinfo *f = &p->fi[k];
  const st_def_node *n = &p->b.d.nodes[node];
  if (f->pipe != n->pipe) {
    BAD(p, where, "flow \"%s\" belongs to another pipeline", fid);
    return;
  }
  if (f->used) {
    BAD(p, where, "flow \"%s\" is listed more than once", fid);
    return;
  }
  const char *src = json_string_value(json_object_get(f->obj, "source"));
  const char *tgt = json_string_value(json_object_get(f->obj, "target"));
  char fpath[PATH_MAX_LEN + 16];
  if (!src || strcmp(src, node_id(p, node))) {
    BAD(p, where, "flow \"%s\" starts at \"%s\", not here", fid,
        src ? src : "(none)");
    return;
  }
  f->used = 1;
  uint32_t t = tgt ? idmap_get(&p->nodes, tgt) : ST_NONE;
  snprintf(fpath, sizeof fpath, "%s.target", path_at(p, f->path));
  if (!tgt) {
    BAD(p, fpath, "missing or not a string");
    return;
  }
  if (t == ST_NONE) {
    BAD(p, fpath, "node \"%s\" does not exist", tgt);
    return;
  }
  if (p->b.d.nodes[t].pipe != n->pipe) {
    BAD(p, fpath, "node \"%s\" belongs to another pipeline", tgt);
    return;
  }
  uint32_t r = b_flow(&p->b);
  if (r == ST_NONE) return;
  st_def_flow *fl = &p->b.d.flows[r];
  fl->source = node;
  fl->target = t;
  fl->is_default = json_is_true(json_object_get(f->obj, "is_default"));
  p->b.d.flows[r].id = b_str(&p->b, fid);
  rows[k] = r;
}

typedef struct in_ctx {
  uint32_t *rows;
  uint8_t *listed;   /* per flow row */
  uint32_t *in_list; /* flow rows in listed order, grouped by node */
  uint32_t n;
} in_ctx;

static void check_in(parser *p, uint32_t node, const char *where,
                     const char *fid, void *ctx) {
  in_ctx *c = ctx;
  uint32_t k = idmap_get(&p->flows, fid);
  if (k == ST_NONE) {
    BAD(p, where, "flow \"%s\" does not exist", fid);
    return;
  }
  uint32_t r = c->rows[k];
  if (r == ST_NONE) return; /* the flow itself was reported */
  if (p->b.d.flows[r].target != node) {
    BAD(p, where, "flow \"%s\" ends at \"%s\", not here", fid,
        node_id(p, p->b.d.flows[r].target));
    return;
  }
  if (c->listed[r]) {
    BAD(p, where, "flow \"%s\" is listed more than once", fid);
    return;
  }
  c->listed[r] = 1;
  c->in_list[c->n++] = r;
}

/* Puts each gateway condition and default onto its flow. */
static void resolve_conditions(parser *p, uint32_t i, const uint32_t *rows) {
  json_t *obj = p->ni[i].obj;
  const char *gpath = path_at(p, p->ni[i].path);
  char where[PATH_MAX_LEN + 64];
  json_t *conds = json_object_get(obj, "conditions");
  const char *fid;
  json_t *c;
  json_object_foreach(conds, fid, c) {
    snprintf(where, sizeof where, "%s.conditions.%s", gpath, fid);
    uint32_t k = idmap_get(&p->flows, fid);
    uint32_t r = k == ST_NONE ? ST_NONE : rows[k];
    if (r == ST_NONE || p->b.d.flows[r].source != i) {
      BAD(p, where, "flow \"%s\" is not an outgoing flow of this gateway", fid);
      continue;
    }
    const char *ev = json_string_value(json_object_get(c, "evaluate"));
    const char *nm = json_string_value(json_object_get(c, "name"));
    uint32_t ev_off = b_str(&p->b, ev);
    uint32_t nm_off = b_str(&p->b, nm);
    if (p->b.oom) return;
    p->b.d.flows[r].cond = ev_off;
    p->b.d.flows[r].cond_name = nm_off;
  }
  json_t *def = json_object_get(obj, "default_condition");
  const char *dfid = json_string_value(json_object_get(def, "flow_id"));
  if (dfid) {
    snprintf(where, sizeof where, "%s.default_condition.flow_id", gpath);
    uint32_t k = idmap_get(&p->flows, dfid);
    uint32_t r = k == ST_NONE ? ST_NONE : rows[k];
    if (r == ST_NONE || p->b.d.flows[r].source != i) {
      BAD(p, where, "flow \"%s\" is not an outgoing flow of this gateway",
          dfid);
      return;
    }
    p->b.d.nodes[i].default_flow = r;
    p->b.d.flows[r].is_default = 1;
  }
}

/* Resolves flows; on success p->in_first / p->in_list hold each node's
 * incoming flows in listed order. */
static void resolve(parser *p) {
  uint32_t *rows = rt_malloc((p->n_fi + 1) * sizeof *rows);
  if (!rows) {
    p->oom = 1;
    return;
  }
  for (uint32_t k = 0; k < p->n_fi; k++)
    rows[k] = ST_NONE;
  char where[PATH_MAX_LEN + 16];
  for (uint32_t i = 0; i < p->b.d.n_nodes && !p->b.oom; i++) {
    snprintf(where, sizeof where, "%s.outgoing", path_at(p, p->ni[i].path));
    uint32_t first = p->b.d.n_flows;
    each_id(p, i, json_object_get(p->ni[i].obj, "outgoing"), where, add_out,
            rows);
    if (p->b.oom) break;
    p->b.d.nodes[i].out = first;
    p->b.d.nodes[i].n_out = p->b.d.n_flows - first;
  }
  for (uint32_t k = 0; k < p->n_fi && !p->b.oom; k++) {
    if (p->fi[k].used) continue;
    const char *src =
        json_string_value(json_object_get(p->fi[k].obj, "source"));
    if (!src || idmap_get(&p->nodes, src) == ST_NONE) {
      snprintf(where, sizeof where, "%s.source", path_at(p, p->fi[k].path));
      BAD(p, where, src ? "node \"%s\" does not exist" : "missing%s",
          src ? src : "");
    } else {
      BAD(p, path_at(p, p->fi[k].path),
          "not listed in the outgoing flows of \"%s\"", src);
    }
  }
  uint8_t *listed = rt_calloc(p->b.d.n_flows + 1, 1);
  p->in_first = rt_malloc((p->b.d.n_nodes + 1) * sizeof *p->in_first);
  p->in_list = rt_malloc((p->b.d.n_flows + 1) * sizeof *p->in_list);
  if (!listed || !p->in_first || !p->in_list) {
    p->oom = 1;
    rt_free(listed);
    rt_free(rows);
    return;
  }
  in_ctx ic = {rows, listed, p->in_list, 0};
  for (uint32_t i = 0; i < p->b.d.n_nodes && !p->b.oom; i++) {
    p->in_first[i] = ic.n;
    snprintf(where, sizeof where, "%s.incoming", path_at(p, p->ni[i].path));
    each_id(p, i, json_object_get(p->ni[i].obj, "incoming"), where, check_in,
            &ic);
    int t = p->b.d.nodes[i].type;
    if (t == ST_EXCLUSIVE_GW || t == ST_COND_PARALLEL_GW)
      resolve_conditions(p, i, rows);
  }
  p->in_first[p->b.d.n_nodes] = ic.n;
  for (uint32_t r = 0; r < p->b.d.n_flows; r++) {
    uint32_t t = p->b.d.flows[r].target;
    p->b.d.nodes[t].n_in++;
    if (!listed[r]) {
      snprintf(where, sizeof where, "%s.incoming", path_at(p, p->ni[t].path));
      BAD(p, where, "flow \"%s\" ends here but is not listed",
          p->b.d.pool + p->b.d.flows[r].id);
    }
  }
  rt_free(listed);
  rt_free(rows);
}

/* ---- Renaming a template's ids --------------------------------------------
 */

/* "n" + 32 hex from (salt, id): a fresh id that is the same every time. */
static void derive_id(const char *salt, const char *id, char out[34]) {
  uint64_t h[2] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
  for (int k = 0; k < 2; k++) {
    for (const char *q = salt; *q; q++)
      h[k] = (h[k] ^ (uint8_t)*q) * 0x100000001b3ULL;
    h[k] = (h[k] ^ '/') * 0x100000001b3ULL;
    for (const char *q = id; *q; q++)
      h[k] = (h[k] ^ (uint8_t)*q) * 0x100000001b3ULL;
    h[k] ^= h[k] >> 29;
    h[k] *= 0xbf58476d1ce4e5b9ULL;
    h[k] ^= h[k] >> 32;
  }
  snprintf(out, 34, "n%016llx%016llx", (unsigned long long)h[0],
           (unsigned long long)h[1]);
}

/* The new name of id in map (a JSON object old -> new), or id itself. */
static json_t *renamed(json_t *map, json_t *id) {
  json_t *n =
      json_is_string(id) ? json_object_get(map, json_string_value(id)) : NULL;
  return json_incref(n ? n : id);
}

/* Renames a flow list (a string or a list of strings) in place. */
static void rename_list(json_t *obj, const char *key, json_t *map) {
  json_t *v = json_object_get(obj, key);
  if (json_is_string(v)) {
    json_object_set_new(obj, key, renamed(map, v));
  } else if (json_is_array(v)) {
    for (size_t k = 0; k < json_array_size(v); k++)
      json_array_set_new(v, k, renamed(map, json_array_get(v, k)));
  }
}

/* Renames the keys of obj[key] (and the "id" inside each value). */
static void rename_keys(json_t *obj, const char *key, json_t *map) {
  json_t *sec = json_object_get(obj, key);
  if (!json_is_object(sec)) return;
  json_t *out = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(sec, k, v) {
    json_t *nk = json_object_get(map, k);
    if (json_is_object(v) && json_object_get(v, "id"))
      json_object_set_new(v, "id", renamed(map, json_object_get(v, "id")));
    json_object_set(out, nk ? json_string_value(nk) : k, v);
  }
  json_object_set_new(obj, key, out);
}

static void rename_node(json_t *n, json_t *map) {
  if (!json_is_object(n)) return;
  json_object_set_new(n, "id", renamed(map, json_object_get(n, "id")));
  rename_list(n, "incoming", map);
  rename_list(n, "outgoing", map);
  if (json_object_get(n, "converge_gateway_id"))
    json_object_set_new(
        n, "converge_gateway_id",
        renamed(map, json_object_get(n, "converge_gateway_id")));
  rename_keys(n, "conditions", map);
  json_t *def = json_object_get(n, "default_condition");
  if (json_is_object(def) && json_object_get(def, "flow_id"))
    json_object_set_new(def, "flow_id",
                        renamed(map, json_object_get(def, "flow_id")));
}

/* A copy of a web tree with every node and flow id replaced by one
 * derived from salt (bk-sops replace_all_id, deterministic), kept alive
 * in p->keep. NULL when out of memory. */
static json_t *renamed_copy(parser *p, json_t *tree, const char *salt) {
  json_t *t = json_deep_copy(tree), *map = json_object();
  if (!t || !map || json_array_append_new(p->keep, t)) {
    json_decref(map);
    p->oom = 1;
    return NULL;
  }
  char nid[34];
  const char *k;
  json_t *v;
  const char *ends[2] = {"start_event", "end_event"};
  for (int e = 0; e < 2; e++) {
    const char *id =
        json_string_value(json_object_get(json_object_get(t, ends[e]), "id"));
    if (id) {
      derive_id(salt, id, nid);
      json_object_set_new(map, id, json_string(nid));
    }
  }
  const char *secs[3] = {"activities", "gateways", "flows"};
  for (int sct = 0; sct < 3; sct++) {
    json_object_foreach(json_object_get(t, secs[sct]), k, v) {
      derive_id(salt, k, nid);
      json_object_set_new(map, k, json_string(nid));
    }
  }
  rename_node(json_object_get(t, ends[0]), map);
  rename_node(json_object_get(t, ends[1]), map);
  for (int sct = 0; sct < 2; sct++)
    json_object_foreach(json_object_get(t, secs[sct]), k, v)
        rename_node(v, map);
  json_object_foreach(json_object_get(t, "flows"), k, v) {
    json_object_set_new(v, "source",
                        renamed(map, json_object_get(v, "source")));
    json_object_set_new(v, "target",
                        renamed(map, json_object_get(v, "target")));
  }
  for (int sct = 0; sct < 3; sct++)
    rename_keys(t, secs[sct], map);
  json_object_foreach(json_object_get(t, "constants"), k, v)
      rename_keys(v, "source_info", map);
  json_decref(map);
  return t;
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
static json_t *pick_template(parser *p, json_t *templates, const char *want,
                             const char **tid) {
  const char *where = "pipeline_template_data.template";
  if (want) {
    json_t *t = json_object_get(templates, want);
    if (!t) BAD(p, where, "no template \"%s\"", want);
    *tid = want;
    return t ? json_object_get(t, "tree") : NULL;
  }
  idmap refd = {0};
  const char *key;
  json_t *t;
  json_object_foreach(templates, key, t)
      note_refs(json_object_get(t, "tree"), &refd);
  json_t *found = NULL;
  int roots = 0;
  char names[512] = "";
  json_object_foreach(templates, key, t) {
    if (idmap_get(&refd, key) != ST_NONE) continue;
    if (!roots++) {
      found = t;
      *tid = key;
    }
    size_t n = strlen(names);
    snprintf(names + n, sizeof names - n, "%s%s", n ? ", " : "", key);
  }
  idmap_free(&refd);
  if (roots == 1) return json_object_get(found, "tree");
  if (roots == 0)
    BAD(p, where, "no template to load (every one is some other's subprocess)");
  else
    BAD(p, where,
        "%d templates are not subprocesses of another (%s): choose one", roots,
        names);
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
  idmap_free(&p->tpls);
  json_decref(p->keep);
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
  json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!doc) {
    diag_add(d, "document", "byte %d (line %d, column %d): %s", jerr.position,
             jerr.line, jerr.column, jerr.text);
    return d->oom ? RATTAN_ENOMEM : RATTAN_EDEF;
  }
  parser p = {.d = d, .keep = json_array()};
  if (!p.keep) {
    json_decref(doc);
    return RATTAN_ENOMEM;
  }
  int rc = RATTAN_EDEF;
  b_str(&p.b, ""); /* offset 0: the empty string, so the pool is never empty */
  path pt = {0};
  json_t *tree = doc;
  const char *tid = NULL;
  int web = 0;
  if (!json_is_object(doc)) {
    diag_add(d, "document", "must be an object, not %s", type_name(doc));
    goto out_free_parser;
  }
  json_t *ptd = json_object_get(doc, "pipeline_template_data");
  if (ptd) {
    p.templates = json_object_get(ptd, "template");
    if (!json_is_object(p.templates)) {
      diag_add(d, "pipeline_template_data.template",
               "missing or not an object");
      goto out_free_parser;
    }
    tree = pick_template(&p, p.templates, o->template_id, &tid);
    if (!tree) goto out_free_parser;
    path_push(&pt, "pipeline_template_data.template");
    path_push(&pt, tid);
    path_push(&pt, "tree");
    web = 1;
  }
  p.max_nodes = o->max_nodes ? o->max_nodes : DEF_MAX_NODES;
  p.root_id = o->root_id ? o->root_id : tid ? tid : "root";
  if (name) {
    json_t *holder = tid ? json_object_get(p.templates, tid) : tree;
    const char *nm = json_string_value(json_object_get(holder, "name"));
    if (nm && strlen(nm) > ST_NAME_MAX)
      diag_add(d, tid ? "pipeline_template_data.template" : "name",
               "the name is %zu bytes, the limit is %d", strlen(nm),
               ST_NAME_MAX);
    else
      snprintf(name, ST_NAME_MAX + 1, "%s", nm ? nm : "");
  }
  if (tid && idmap_put(&p.tpls, tid, 0) == ST_NONE - 1) p.oom = 1;
  parse_pipe(&p, &pt, tree, ST_NONE, NULL, web, 0, NULL);
  if (!p.b.oom && !p.oom) resolve(&p);
  if (p.b.oom || p.oom || d->oom) {
    rc = RATTAN_ENOMEM;
    goto out_free_parser;
  }
  if (d->count == 0) {
    const char **paths = rt_malloc((p.b.d.n_nodes + 1) * sizeof *paths);
    if (!paths) {
      rc = RATTAN_ENOMEM;
      goto out_free_parser;
    }
    for (uint32_t i = 0; i < p.b.d.n_nodes; i++)
      paths[i] = path_at(&p, p.ni[i].path);
    def_check(&p.b.d, paths, p.in_first, p.in_list, d);
    rt_free(paths);
  }
  if (d->oom)
    rc = RATTAN_ENOMEM;
  else if (d->count == 0) {
    b_finish(&p.b, out);
    rc = 0;
  }
out_free_parser:
  parser_free(&p);
  json_decref(doc);
  return rc;
}
