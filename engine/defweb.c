/*
 * SOPS web trees to the model, as bk-sops' pipeline_web format conversion
 * (format_web_data_to_pipeline, unfold_subprocess) does: constants become
 * variables, component.data becomes inputs, SubProcess nodes that name a
 * template embed it with their constants merged in, and a template
 * embedded more than once gets fresh ids.
 */
#include <stdio.h>
#include <string.h>

#include "defparse_int.h"
#include "rattan.h"

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
      /* Names Mako reserves, and Python's keywords, which are not
       * names at all. */
      static const char *const reserved[] = {
          "True", "False", "None", "print",  "and", "or",    "not",   "in",
          "is",   "if",    "else", "lambda", "for", "async", "await", "yield"};
      int r = 0;
      for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++)
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
  uint32_t val_off = value ? dp_json(p, value) : b_str(&p->b, "null");
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
uint32_t dp_web_inputs(parser *p, path *pt, json_t *data, uint32_t *n) {
  uint32_t first = p->b.d.n_vars;
  const char *key;
  json_t *v;
  json_object_foreach(data, key, v) {
    size_t old = dp_push(pt, key);
    if (!json_is_object(v)) {
      BAD(p, pt->s, "must be an object, not %s", dp_type(v));
    } else {
      json_t *value = json_object_get(v, "value");
      uint8_t flags = 0;
      if (dp_bool(p, pt, v, "need_render", 0, 1)) flags |= ST_VF_NEED_RENDER;
      if (dp_bool(p, pt, v, "is_param", 0, 0)) flags |= ST_VF_IS_PARAM;
      if (flags == (ST_VF_NEED_RENDER | ST_VF_IS_PARAM) &&
          json_is_true(json_object_get(v, "need_render")))
        BAD(p, pt->s, "is_param and need_render cannot both be true");
      add_var(p, key, value, has_refs(value, 0) ? ST_VAR_SPLICE : ST_VAR_PLAIN,
              NULL, flags);
    }
    dp_pop(pt, old);
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
void dp_web_constants(parser *p, path *pt, json_t *constants, int is_sub,
                      uint32_t *first, uint32_t *n) {
  *first = p->b.d.n_vars;
  const char *key;
  json_t *c;
  json_object_foreach(constants, key, c) {
    size_t old = dp_push(pt, key);
    if (!json_is_object(c)) {
      BAD(p, pt->s, "must be an object, not %s", dp_type(c));
      dp_pop(pt, old);
      continue;
    }
    const char *st = dp_str(p, pt, c, "source_type", 0);
    const char *ct = dp_str(p, pt, c, "custom_type", 0);
    const char *show = dp_str(p, pt, c, "show_type", 0);
    int shown = show && !strcmp(show, "show");
    json_t *value = json_object_get(c, "value");
    if (st && !strcmp(st, "component_outputs")) {
      json_t *info = dp_obj(p, pt, c, "source_info", 0);
      void *it = info ? json_object_iter(info) : NULL;
      json_t *keys = it ? json_object_iter_value(it) : NULL;
      json_t *k0 = json_array_get(keys, 0);
      if (it && !json_is_string(k0)) {
        BAD(p, dp_at(pt, "source_info"), "must map a node id to output keys");
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
    dp_pop(pt, old);
  }
  *n = p->b.d.n_vars - *first;
}

/* A subprocess's params from its merged constants (bk-sops
 * format_web_data_to_pipeline): one per shown constant, lazy for lazy
 * types and a splice of the value otherwise. */
/* True if the parent's constant named value takes its value from input
 * key of SubProcess node act (source_info lists key under act): then the
 * param is that constant's value already and must not be computed again. */
static int hooked_from(json_t *parent, json_t *value, const char *act,
                       const char *key) {
  if (!json_is_string(value) || !act) return 0;
  json_t *c = json_object_get(parent, json_string_value(value));
  json_t *keys = json_object_get(json_object_get(c, "source_info"), act);
  size_t k;
  json_t *e;
  json_array_foreach(keys, k, e) {
    if (json_is_string(e) && !strcmp(json_string_value(e), key)) return 1;
  }
  return 0;
}

void dp_web_params(parser *p, path *pt, json_t *merged, json_t *parent,
                   const char *act, uint32_t *first, uint32_t *n) {
  *first = p->b.d.n_vars;
  const char *key;
  json_t *c;
  json_object_foreach(merged, key, c) {
    const char *show = json_string_value(json_object_get(c, "show_type"));
    if (!show || strcmp(show, "show")) continue;
    size_t old = dp_push(pt, key);
    const char *ct = json_string_value(json_object_get(c, "custom_type"));
    json_t *value = json_object_get(c, "value");
    int lazy = lazy_type(ct) && !hooked_from(parent, value, act, key);
    uint8_t flags = 0;
    if (dp_bool(p, pt, c, "need_render", 0, 1)) flags |= ST_VF_NEED_RENDER;
    add_var(p, key, value, lazy ? ST_VAR_LAZY : ST_VAR_SPLICE, lazy ? ct : NULL,
            flags);
    dp_pop(pt, old);
  }
  *n = p->b.d.n_vars - *first;
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
json_t *dp_renamed_copy(parser *p, json_t *tree, const char *salt) {
  /* Only what the model reads: layout (line, location) can be large. */
  static const char *const keep[] = {"start_event", "end_event", "activities",
                                     "gateways",    "flows",     "constants",
                                     "outputs",     "data",      "id"};
  json_t *t = json_object(), *map = json_object();
  if (!t || !map || json_array_append_new(p->keep, t)) {
    json_decref(map);
    p->oom = 1;
    return NULL;
  }
  for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
    json_t *v = json_object_get(tree, keep[k]);
    if (v && json_object_set_new(t, keep[k], json_deep_copy(v))) p->oom = 1;
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

/* True if any node or flow id of tree is already reserved. */
int dp_ids_collide(parser *p, json_t *tree) {
  const char *ends[2] = {"start_event", "end_event"};
  for (int e = 0; e < 2; e++) {
    const char *id = json_string_value(
        json_object_get(json_object_get(tree, ends[e]), "id"));
    if (id && idmap_get(&p->reserved, id) != ST_NONE) return 1;
  }
  const char *secs[3] = {"activities", "gateways", "flows"};
  const char *k;
  json_t *v;
  for (int sct = 0; sct < 3; sct++)
    json_object_foreach(json_object_get(tree, secs[sct]), k, v) {
      if (idmap_get(&p->reserved, k) != ST_NONE) return 1;
    }
  return 0;
}

void dp_reserve_ids(parser *p, json_t *tree) {
  const char *ends[2] = {"start_event", "end_event"};
  for (int e = 0; e < 2; e++) {
    const char *id = json_string_value(
        json_object_get(json_object_get(tree, ends[e]), "id"));
    if (id && idmap_put(&p->reserved, id, 0) == IDMAP_OOM) p->oom = 1;
  }
  const char *secs[3] = {"activities", "gateways", "flows"};
  const char *k;
  json_t *v;
  for (int sct = 0; sct < 3; sct++)
    json_object_foreach(json_object_get(tree, secs[sct]), k, v) {
      if (idmap_put(&p->reserved, k, 0) == IDMAP_OOM) p->oom = 1;
    }
}

/* The constants a SubProcess node's template runs with (bk-sops
 * unfold_subprocess): the template's own, hidden meta variables reduced
 * to their default, each replaced whole by the node's entry of the same
 * key; with always_use_latest, node entries the template no longer has
 * are stale and skipped. Kept in p->keep; NULL when out of memory. */
json_t *dp_merge_constants(parser *p, path *pt, json_t *node, json_t *tree) {
  json_t *merged = json_object();
  if (!merged || json_array_append_new(p->keep, merged)) {
    p->oom = 1;
    return NULL;
  }
  const char *key;
  json_t *c;
  json_object_foreach(json_object_get(tree, "constants"), key, c) {
    json_t *v = c;
    const char *show = json_string_value(json_object_get(c, "show_type"));
    json_t *def = json_object_get(json_object_get(c, "value"), "default");
    if (json_is_true(json_object_get(c, "is_meta")) && show &&
        !strcmp(show, "hide") && def) {
      v = json_copy(c);
      if (!v || json_object_set(v, "value", def)) p->oom = 1;
    } else {
      json_incref(v);
    }
    if (v && json_object_set_new(merged, key, v)) p->oom = 1;
  }
  int latest = json_is_true(json_object_get(node, "always_use_latest"));
  json_t *over = dp_obj(p, pt, node, "constants", 0);
  json_object_foreach(over, key, c) {
    if (latest && !json_object_get(merged, key)) continue;
    if (json_object_set(merged, key, c)) p->oom = 1;
  }
  return merged;
}

/* bk-sops passes a node's executor_proxy to its component as the plain,
 * unrendered input "__executor_proxy". Returns the inputs added (0 or 1),
 * placed right after the node's others. */
uint32_t dp_web_executor_proxy(parser *p, path *pt, json_t *node) {
  const char *proxy = dp_str(p, pt, node, "executor_proxy", 0);
  if (!proxy || !*proxy) return 0;
  json_t *v = json_string(proxy);
  uint32_t i =
      v ? add_var(p, "__executor_proxy", v, ST_VAR_PLAIN, NULL, 0) : ST_NONE;
  json_decref(v);
  if (i == ST_NONE) p->oom = 1;
  return i == ST_NONE ? 0 : 1;
}
