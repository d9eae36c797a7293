/*
 * Contexts and execution data: what a pipeline's variables hold, how
 * inputs, params and conditions are rendered against them, and how
 * outputs flow back (bamboo's hydrate and extract steps).
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"

/* Nested splices (a variable whose value refers to another): deeper than
 * this is a reference cycle. */
#define MAX_RENDER_DEPTH 16
#define MAX_NAME         200

/* ---- Execution data -------------------------------------------------------
 */

static json_t *parse_stored(run *r, st_slice v, const char *what,
                            const char *node) {
  json_error_t je;
  unsigned failures = rt_alloc_failures();
  json_t *j = jparse(v.ptr, v.len, JSON_DECODE_ANY, &je);
  /* jansson reports running out of memory as bad text. */
  if (!j && rt_alloc_failures() != failures)
    err_set(r->err, RATTAN_ENOMEM, "task %s node %s: %s: out of memory",
            r->task, node, what);
  else if (!j)
    err_set(r->err, RATTAN_ECORRUPT, "task %s node %s: %s: %s", r->task, node,
            what, je.text);
  return j;
}

json_t *data_load(run *r, const char *node) {
  st_slice v;
  int rc = st_data_get(r->st, r->task, node, ST_DATA_EXEC, 0, &v, r->err);
  if (rc == RATTAN_ENOTFOUND) {
    json_t *d = json_pack("{s:{},s:{},s:n}", "inputs", "outputs", "ex_data");
    if (!d) err_set(r->err, RATTAN_ENOMEM, "execution data: out of memory");
    return d;
  }
  if (rc) return NULL;
  json_t *d = parse_stored(r, v, "execution data", node);
  if (d && (!json_is_object(json_object_get(d, "inputs")) ||
            !json_is_object(json_object_get(d, "outputs")))) {
    json_decref(d);
    err_set(r->err, RATTAN_ECORRUPT, "task %s node %s: execution data lacks %s",
            r->task, node, "inputs or outputs");
    return NULL;
  }
  return d;
}

/* Stores j as compact JSON under (node, tag). */
static int put_json(run *r, const char *node, int tag, const json_t *j) {
  buf *text = &r->e->text;
  text->len = 0;
  if (jdump(j, text))
    return err_set(r->err, RATTAN_ENOMEM, "%s: out of memory", node);
  return st_data_put(r->st, r->task, node, tag, 0,
                     (st_slice){text->data, text->len}, r->err);
}

int data_save(run *r, const char *node, json_t *data) {
  return put_json(r, node, ST_DATA_EXEC, data);
}

int data_fail(run *r, const char *node, json_t *data, const char *ex_data) {
  if (ex_data && json_object_set_new(data, "ex_data", json_string(ex_data)))
    return err_set(r->err, RATTAN_ENOMEM, "%s: out of memory", node);
  return data_save(r, node, data);
}

/* ---- Values ---------------------------------------------------------------
 */

/* An expression value as JSON; NULL when out of memory. Dict keys that
 * are not strings become their str(). */
static json_t *xv_json(const xv *v) {
  switch (v->kind) {
    case XV_NONE:
      return json_null();
    case XV_BOOL:
      return json_boolean(v->u.b);
    case XV_INT:
      return json_integer(v->u.i);
    case XV_FLOAT:
      return json_real(v->u.f);
    case XV_STR:
      return json_stringn_nocheck(v->u.s.p, v->u.s.n);
    case XV_LIST: {
      json_t *a = json_array();
      for (size_t i = 0; a && i < v->u.l.n; i++)
        if (json_array_append_new(a, xv_json(v->u.l.items[i]))) {
          json_decref(a);
          return NULL;
        }
      return a;
    }
    case XV_DICT: {
      json_t *o = json_object();
      for (size_t i = 0; o && i < v->u.d.n; i++) {
        buf k = {0};
        if (xv_str(v->u.d.keys[i], &k) || buf_append(&k, "", 1) ||
            json_object_set_new(o, (char *)k.data, xv_json(v->u.d.vals[i]))) {
          buf_free(&k);
          json_decref(o);
          return NULL;
        }
        buf_free(&k);
      }
      return o;
    }
  }
  return NULL;
}

/* ---- Contexts -------------------------------------------------------------
 */

static const char *ctx_key(cx *c) {
  return pipe_id(c->r->d, c->pipe);
}

int cx_open(cx *c, run *r, uint32_t pipe) {
  *c = (cx){.r = r, .pipe = pipe};
  st_slice v;
  int rc =
      st_data_get(r->st, r->task, ctx_key(c), ST_DATA_CONTEXT, 0, &v, r->err);
  if (rc == RATTAN_ENOTFOUND)
    c->assigned = json_object();
  else if (rc)
    return rc;
  else
    c->assigned = parse_stored(r, v, "context", ctx_key(c));
  if (!c->assigned) return r->err->code ? r->err->code : RATTAN_ENOMEM;
  return 0;
}

const char *cx_why(cx *c) {
  if (c->inner[0]) {
    size_t n = strlen(c->why.msg);
    snprintf(c->why.msg + n, sizeof c->why.msg - n, " (%s)", c->inner);
    c->inner[0] = '\0';
  }
  return c->why.msg;
}

void cx_close(cx *c) {
  json_decref(c->assigned);
  ar_free(&c->ar);
  c->assigned = NULL;
}

int cx_save(cx *c) {
  return put_json(c->r, ctx_key(c), ST_DATA_CONTEXT, c->assigned);
}

/* The definition's variable of the pipeline named key ("${x}"), or NULL. */
static const st_def_var *pipe_var(const st_def *d, uint32_t pipe,
                                  const char *key) {
  const st_def_pipe *p = &d->pipes[pipe];
  for (uint32_t i = 0; i < p->n_vars; i++)
    if (!strcmp(d->pool + d->vars[p->vars + i].key, key))
      return &d->vars[p->vars + i];
  return NULL;
}

static int render_json(cx *c, json_t *j, json_t **out);

/* expr_lookup over the context: "x" names the variable "${x}". */
static int lookup(void *ctx, const char *name, size_t n, arena *a, xv **out) {
  cx *c = ctx;
  char key[MAX_NAME + 4];
  if (n > MAX_NAME) return RATTAN_ENOTFOUND;
  snprintf(key, sizeof key, "${%.*s}", (int)n, name);
  json_t *v = json_object_get(c->assigned, key);
  if (v) {
    *out = xv_from_json(a, v);
    return *out ? 0 : RATTAN_ENOMEM;
  }
  const st_def_var *var = pipe_var(c->r->d, c->pipe, key);
  if (!var) return RATTAN_ENOTFOUND;
  json_t *rendered;
  int rc = cx_render(c, c->r->d->pool + var->value, var->kind, &rendered);
  if (rc) {
    /* The caller's message will only say the lookup failed: keep the
     * innermost reason. */
    if (!c->inner[0] &&
        snprintf(c->inner, sizeof c->inner, "%s: %s", key, c->why.msg) < 0)
      c->inner[0] = '\0';
    return rc;
  }
  *out = xv_from_json(a, rendered);
  json_decref(rendered);
  return *out ? 0 : RATTAN_ENOMEM;
}

/* Renders every string inside j (a new reference in *out). */
static int render_json(cx *c, json_t *j, json_t **out) {
  if (json_is_string(j)) {
    if (c->depth >= MAX_RENDER_DEPTH)
      return err_set(&c->why, RATTAN_EINVAL,
                     "variables refer to each other more than %d deep "
                     "(a reference cycle?)",
                     MAX_RENDER_DEPTH);
    c->depth++;
    xv *v;
    int rc = expr_render(json_string_value(j), json_string_length(j), lookup, c,
                         &c->ar, &v, &c->why);
    c->depth--;
    if (rc) return rc;
    *out = xv_json(v);
  } else if (json_is_array(j)) {
    *out = json_array();
    for (size_t i = 0; *out && i < json_array_size(j); i++) {
      json_t *item;
      int rc = render_json(c, json_array_get(j, i), &item);
      if (rc || json_array_append_new(*out, item)) {
        json_decref(*out);
        return rc ? rc : RATTAN_ENOMEM;
      }
    }
  } else if (json_is_object(j)) {
    *out = json_object();
    const char *k;
    json_t *val;
    json_object_foreach(j, k, val) {
      json_t *item;
      int rc = render_json(c, val, &item);
      if (rc || json_object_set_new(*out, k, item)) {
        json_decref(*out);
        return rc ? rc : RATTAN_ENOMEM;
      }
    }
  } else {
    *out = json_incref(j);
  }
  return *out ? 0 : err_set(&c->why, RATTAN_ENOMEM, "out of memory");
}

int cx_render(cx *c, const char *json_text, int kind, json_t **out) {
  json_error_t je;
  unsigned failures = rt_alloc_failures();
  json_t *j = jparse_str(json_text, JSON_DECODE_ANY, &je);
  /* jansson reports running out of memory as bad text. */
  if (!j && rt_alloc_failures() != failures)
    return err_set(&c->why, RATTAN_ENOMEM, "out of memory");
  if (!j) return err_set(&c->why, RATTAN_ECORRUPT, "stored value: %s", je.text);
  if (kind == ST_VAR_PLAIN) {
    *out = j;
    return 0;
  }
  int rc = render_json(c, j, out);
  json_decref(j);
  return rc;
}

int cx_condition(cx *c, const char *expr, int *hit) {
  xv *v;
  int rc = expr_render(expr, strlen(expr), lookup, c, &c->ar, &v, &c->why);
  if (rc) return rc;
  buf text = {0};
  if (xv_str(v, &text))
    return err_set(&c->why, RATTAN_ENOMEM, "condition: out of memory");
  rc = expr_eval((const char *)text.data, text.len, lookup, c, &c->ar, &v,
                 &c->why);
  buf_free(&text);
  if (rc == 0) *hit = xv_truthy(v);
  return rc;
}

/* Whether a variable of the pipeline takes an output of node src. */
static int feeds_context(const st_def *d, const st_def_pipe *p,
                         const char *src) {
  for (uint32_t i = 0; i < p->n_vars; i++) {
    const st_def_var *v = &d->vars[p->vars + i];
    for (uint32_t s = 0; s < v->n_srcs; s++)
      if (!strcmp(d->pool + d->refs[v->srcs + 2 * s], src)) return 1;
  }
  return 0;
}

int cx_extract(run *r, uint32_t pipe, const char *src, json_t *outputs) {
  const st_def *d = r->d;
  const st_def_pipe *p = &d->pipes[pipe];
  /* Most activities feed nothing: the context is not even read. */
  if (!feeds_context(d, p, src)) return 0;
  cx c;
  int rc = cx_open(&c, r, pipe), changed = 0;
  if (rc) return rc;
  for (uint32_t i = 0; i < p->n_vars; i++) {
    const st_def_var *v = &d->vars[p->vars + i];
    for (uint32_t s = 0; s < v->n_srcs; s++) {
      const char *act = d->pool + d->refs[v->srcs + 2 * s];
      const char *key = d->pool + d->refs[v->srcs + 2 * s + 1];
      json_t *val = json_object_get(outputs, key);
      if (strcmp(act, src) || !val) continue;
      if (json_object_set(c.assigned, d->pool + v->key, val)) {
        rc = err_set(r->err, RATTAN_ENOMEM, "context: out of memory");
        goto out_close;
      }
      changed = 1;
    }
  }
  if (changed) rc = cx_save(&c);
out_close:
  cx_close(&c);
  return rc;
}

/* The value of the variable named key ("${x}"): assigned, or rendered
 * from the definition. RATTAN_ENOTFOUND when the pipeline has none. */
static int cx_value(cx *c, const char *key, json_t **out) {
  json_t *v = json_object_get(c->assigned, key);
  if (v) {
    *out = json_incref(v);
    return 0;
  }
  const st_def_var *var = pipe_var(c->r->d, c->pipe, key);
  if (!var) return RATTAN_ENOTFOUND;
  return cx_render(c, c->r->d->pool + var->value, var->kind, out);
}

int cx_outputs(run *r, uint32_t pipe, json_t *out) {
  const st_def *d = r->d;
  const st_def_pipe *p = &d->pipes[pipe];
  cx c;
  int rc = cx_open(&c, r, pipe);
  for (uint32_t i = 0; !rc && i < p->n_outputs; i++) {
    const char *key = d->pool + d->refs[p->outputs + i];
    json_t *v;
    rc = cx_value(&c, key, &v);
    if (rc == RATTAN_ENOTFOUND) {
      rc = 0;
      continue;
    }
    /* A value that does not render is output as written, as bamboo
     * leaves a failed splice. */
    if (rc == RATTAN_EINVAL) {
      const st_def_var *var = pipe_var(d, pipe, key);
      json_error_t je;
      v = jparse_str(d->pool + var->value, JSON_DECODE_ANY, &je);
      rc = v ? 0 : RATTAN_ENOMEM;
    }
    if (!rc && json_object_set_new(out, key, v)) rc = RATTAN_ENOMEM;
  }
  cx_close(&c);
  return rc == RATTAN_ENOMEM ? err_set(r->err, rc, "outputs: out of memory")
                             : rc;
}

/* Whether the JSON array list holds the string k. */
static int listed(const json_t *list, const char *k) {
  for (size_t i = 0; i < json_array_size(list); i++) {
    const char *s = json_string_value(json_array_get(list, i));
    if (s && !strcmp(s, k)) return 1;
  }
  return 0;
}

int cx_pre_extract(cx *c, const char *node, const st_state *rec) {
  const st_def *d = c->r->d;
  const st_def_pipe *p = &d->pipes[c->pipe];
  for (uint32_t i = 0; i < p->n_vars; i++) {
    const st_def_var *v = &d->vars[p->vars + i];
    for (uint32_t s = 0; s < v->n_srcs; s++) {
      const char *act = d->pool + d->refs[v->srcs + 2 * s];
      const char *key = d->pool + d->refs[v->srcs + 2 * s + 1];
      uint32_t val = !strcmp(key, "_loop")         ? rec->loop
                     : !strcmp(key, "_inner_loop") ? rec->inner_loop
                                                   : UINT32_MAX;
      if (strcmp(act, node) || val == UINT32_MAX) continue;
      if (json_object_set_new(c->assigned, d->pool + v->key, json_integer(val)))
        return err_set(c->r->err, RATTAN_ENOMEM, "context: out of memory");
    }
  }
  return 0;
}

int cx_inputs(run *r, uint32_t ni, uint32_t pipe, const st_state *rec,
              json_t **out, char *why, size_t why_len) {
  const st_def *d = r->d;
  const st_def_node *n = &d->nodes[ni];
  const char *id = node_id(d, ni);
  st_slice v;
  json_t *given = NULL;
  int rc = st_data_get(r->st, r->task, id, ST_DATA_INPUTS, 0, &v, r->err);
  if (rc == 0 && !(given = parse_stored(r, v, "retry inputs", id)))
    return r->err->code;
  if (rc && rc != RATTAN_ENOTFOUND) return rc;
  if (!given && n->n_vars == 0) { /* nothing to render: no context needed */
    *out = json_object();
    return *out ? 0 : err_set(r->err, RATTAN_ENOMEM, "inputs: out of memory");
  }
  cx c;
  if ((rc = cx_open(&c, r, pipe)) || (rc = cx_pre_extract(&c, id, rec))) {
    cx_close(&c);
    json_decref(given);
    return rc;
  }
  *out = json_object();
  rc = *out ? 0 : RATTAN_ENOMEM;
  if (given) {
    /* Inputs given with a retry replace the definition's, all rendered
     * but those _escape_render_keys lists (bamboo's retry_node rule). */
    const char *k;
    json_t *val, *escape = json_object_get(given, "_escape_render_keys");
    json_object_foreach(given, k, val) {
      json_t *x;
      if (listed(escape, k))
        x = json_incref(val);
      else if ((rc = render_json(&c, val, &x)))
        break;
      if (json_object_set_new(*out, k, x)) {
        rc = RATTAN_ENOMEM;
        break;
      }
    }
    if (rc == RATTAN_EINVAL)
      snprintf(why, why_len, "input %s: %s", k, cx_why(&c));
  } else {
    for (uint32_t i = 0; !rc && i < n->n_vars; i++) {
      const st_def_var *var = &d->vars[n->vars + i];
      json_t *x;
      rc = cx_render(&c, d->pool + var->value, var->kind, &x);
      if (rc == RATTAN_EINVAL || rc == RATTAN_ECORRUPT) {
        snprintf(why, why_len, "input %s: %s", d->pool + var->key, cx_why(&c));
        rc = RATTAN_EINVAL;
      } else if (!rc && json_object_set_new(*out, d->pool + var->key, x)) {
        rc = RATTAN_ENOMEM;
      }
    }
  }
  cx_close(&c);
  json_decref(given);
  if (rc == RATTAN_ENOMEM) err_set(r->err, rc, "inputs: out of memory");
  return rc;
}
