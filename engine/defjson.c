/*
 * A compiled definition back to a bamboo pipeline_tree, whatever format it
 * was written in. Node, flow and variable order is kept, so compiling the
 * output gives an equal definition.
 */
#include <jansson.h>
#include <string.h>

#include "defparse.h"

typedef struct out {
  const st_def *d;
  uint32_t *in_first; /* per node: its first incoming flow in in_list */
  uint32_t *in_list;  /* flow indices grouped by target */
  uint32_t *pn_first; /* per pipeline: its first node in pn_list */
  uint32_t *pn_list;  /* node indices grouped by pipeline */
  uint32_t *pf_first; /* per pipeline: its first flow in pf_list */
  uint32_t *pf_list;  /* flow indices grouped by pipeline */
  int oom;
} out;

/* Groups n items by key (a counting sort that keeps their order): the
 * items of key k are list[first[k] .. first[k + 1]). first has nkeys + 1
 * entries, list n. */
static int group(uint32_t n, uint32_t nkeys,
                 uint32_t (*key)(const st_def *, uint32_t), const st_def *d,
                 uint32_t **first, uint32_t **list) {
  *first = rt_calloc(nkeys + 1, sizeof **first);
  *list = rt_malloc((n + 1) * sizeof **list);
  uint32_t *fill = rt_malloc((nkeys + 1) * sizeof *fill);
  if (!*first || !*list || !fill) {
    rt_free(fill);
    return -1;
  }
  for (uint32_t i = 0; i < n; i++)
    (*first)[key(d, i) + 1]++;
  for (uint32_t k = 0; k < nkeys; k++)
    (*first)[k + 1] += (*first)[k];
  memcpy(fill, *first, (nkeys + 1) * sizeof *fill);
  for (uint32_t i = 0; i < n; i++)
    (*list)[fill[key(d, i)]++] = i;
  rt_free(fill);
  return 0;
}

static uint32_t flow_target(const st_def *d, uint32_t f) {
  return d->flows[f].target;
}
static uint32_t node_pipe(const st_def *d, uint32_t i) {
  return d->nodes[i].pipe;
}
static uint32_t flow_pipe(const st_def *d, uint32_t f) {
  return d->nodes[d->flows[f].source].pipe;
}

static const char *S(const out *o, uint32_t s) {
  return st_str(o->d, s);
}

/* json_object_set_new that remembers a failure. */
static void put(out *o, json_t *obj, const char *key, json_t *v) {
  if (!v || json_object_set_new(obj, key, v)) o->oom = 1;
}

static json_t *str_or_null(const out *o, uint32_t s) {
  return s == ST_NONE ? json_null() : json_string(S(o, s));
}

static json_t *flow_list(out *o, const uint32_t *flows, uint32_t n) {
  json_t *a = json_array();
  for (uint32_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_string(S(o, o->d->flows[flows[i]].id))))
      o->oom = 1;
  return a;
}

static json_t *var_json(out *o, const st_def_var *v) {
  static const char *const kinds[ST_VAR_KINDS] = {"plain", "splice", "lazy"};
  json_t *j = json_object();
  if (!j) return NULL;
  put(o, j, "type", json_string(kinds[v->kind]));
  unsigned failures = rt_alloc_failures();
  json_t *val = jparse_str(S(o, v->value), JSON_DECODE_ANY, NULL);
  if (!val && rt_alloc_failures() != failures) o->oom = 1;
  put(o, j, "value", val ? val : json_null());
  if (v->custom_type != ST_NONE)
    put(o, j, "custom_type", json_string(S(o, v->custom_type)));
  if (v->flags & ST_VF_IS_PARAM) put(o, j, "is_param", json_true());
  put(o, j, "need_render", json_boolean(v->flags & ST_VF_NEED_RENDER));
  const uint32_t *r = v->n_srcs ? o->d->refs + v->srcs : NULL;
  if (v->n_srcs == 1) {
    put(o, j, "source_act", json_string(S(o, r[0])));
    put(o, j, "source_key", json_string(S(o, r[1])));
  } else if (v->n_srcs > 1) {
    json_t *list = json_array();
    for (uint32_t i = 0; list && i < v->n_srcs; i++) {
      json_t *e = json_pack("{s:s,s:s}", "source_act", S(o, r[2 * i]),
                            "source_key", S(o, r[2 * i + 1]));
      if (!e || json_array_append_new(list, e)) o->oom = 1;
    }
    put(o, j, "source_act", list);
  }
  return j;
}

static json_t *vars_json(out *o, uint32_t first, uint32_t n) {
  json_t *m = json_object();
  for (uint32_t i = 0; m && i < n; i++) {
    const st_def_var *v = &o->d->vars[first + i];
    put(o, m, S(o, v->key), var_json(o, v));
  }
  return m;
}

static json_t *pipe_json(out *o, uint32_t pi);

static json_t *node_json(out *o, uint32_t i) {
  const st_def *d = o->d;
  const st_def_node *n = &d->nodes[i];
  json_t *j = json_object();
  if (!j) return NULL;
  put(o, j, "id", json_string(S(o, n->id)));
  put(o, j, "type",
      json_string(n->type == ST_EXECUTABLE_END ? S(o, n->code)
                                               : def_node_type_name(n->type)));
  put(o, j, "name", json_string(S(o, n->name)));
  uint32_t in_n = o->in_first[i + 1] - o->in_first[i];
  put(o, j, "incoming",
      n->type == ST_EMPTY_START
          ? json_string("")
          : flow_list(o, o->in_list + o->in_first[i], in_n));
  int multi = n->type == ST_EXCLUSIVE_GW || n->type == ST_PARALLEL_GW ||
              n->type == ST_COND_PARALLEL_GW;
  json_t *og;
  if (multi) {
    og = json_array();
    for (uint32_t k = 0; og && k < n->n_out; k++)
      if (json_array_append_new(og, json_string(S(o, d->flows[n->out + k].id))))
        o->oom = 1;
  } else {
    og = json_string(n->n_out ? S(o, d->flows[n->out].id) : "");
  }
  put(o, j, "outgoing", og);
  switch (n->type) {
    case ST_SERVICE_ACTIVITY: {
      json_t *c = json_object();
      put(o, c ? c : j, "code", json_string(S(o, n->code)));
      put(o, c ? c : j, "version", str_or_null(o, n->version));
      put(o, c ? c : j, "inputs", vars_json(o, n->vars, n->n_vars));
      put(o, j, "component", c);
      put(o, j, "error_ignorable",
          json_boolean(n->flags & ST_NF_ERROR_IGNORABLE));
      put(o, j, "skippable", json_boolean(n->flags & ST_NF_SKIPPABLE));
      put(o, j, "retryable", json_boolean(n->flags & ST_NF_RETRYABLE));
      put(o, j, "optional", json_boolean(n->flags & ST_NF_OPTIONAL));
      put(o, j, "timeout",
          n->timeout < 0 ? json_null() : json_integer(n->timeout));
      break;
    }
    case ST_SUBPROCESS:
      put(o, j, "params", vars_json(o, n->vars, n->n_vars));
      put(o, j, "optional", json_boolean(n->flags & ST_NF_OPTIONAL));
      put(o, j, "pipeline", pipe_json(o, n->child));
      break;
    case ST_EXCLUSIVE_GW:
    case ST_COND_PARALLEL_GW: {
      json_t *conds = json_object();
      for (uint32_t k = 0; conds && k < n->n_out; k++) {
        const st_def_flow *f = &d->flows[n->out + k];
        if (f->cond == ST_NONE) continue;
        json_t *c = json_object();
        put(o, c ? c : j, "evaluate", json_string(S(o, f->cond)));
        if (f->cond_name != ST_NONE && c)
          put(o, c, "name", json_string(S(o, f->cond_name)));
        put(o, conds, S(o, f->id), c);
      }
      put(o, j, "conditions", conds);
      if (n->default_flow != ST_NONE)
        put(o, j, "default_condition",
            json_pack("{s:s}", "flow_id", S(o, d->flows[n->default_flow].id)));
      break;
    }
    default:
      break;
  }
  if (n->converge != ST_NONE)
    put(o, j, "converge_gateway_id",
        json_string(S(o, d->nodes[n->converge].id)));
  return j;
}

static json_t *pipe_json(out *o, uint32_t pi) {
  const st_def *d = o->d;
  const st_def_pipe *p = &d->pipes[pi];
  json_t *j = json_object(), *acts = json_object(), *gws = json_object(),
         *flows = json_object();
  if (!j || !acts || !gws || !flows) {
    o->oom = 1;
    json_decref(acts);
    json_decref(gws);
    json_decref(flows);
    return j;
  }
  put(o, j, "id", json_string(S(o, p->id)));
  put(o, j, "start_event", node_json(o, p->start));
  put(o, j, "end_event", node_json(o, p->end));
  for (uint32_t k = o->pn_first[pi]; k < o->pn_first[pi + 1]; k++) {
    uint32_t i = o->pn_list[k];
    const st_def_node *n = &d->nodes[i];
    if (i == p->start || i == p->end) continue;
    json_t *sec =
        n->type == ST_SERVICE_ACTIVITY || n->type == ST_SUBPROCESS ? acts : gws;
    put(o, sec, S(o, n->id), node_json(o, i));
  }
  for (uint32_t k = o->pf_first[pi]; k < o->pf_first[pi + 1]; k++) {
    const st_def_flow *fl = &d->flows[o->pf_list[k]];
    put(o, flows, S(o, fl->id),
        json_pack("{s:s,s:s,s:s,s:b}", "id", S(o, fl->id), "source",
                  S(o, d->nodes[fl->source].id), "target",
                  S(o, d->nodes[fl->target].id), "is_default", fl->is_default));
  }
  put(o, j, "activities", acts);
  put(o, j, "gateways", gws);
  put(o, j, "flows", flows);
  json_t *data = json_object(), *outs = json_array();
  for (uint32_t k = 0; outs && k < p->n_outputs; k++)
    if (json_array_append_new(outs, json_string(S(o, d->refs[p->outputs + k]))))
      o->oom = 1;
  if (data) {
    put(o, data, "inputs", vars_json(o, p->vars, p->n_vars));
    put(o, data, "outputs", outs);
  } else {
    json_decref(outs);
  }
  put(o, j, "data", data);
  return j;
}

json_t *def_to_json(const st_def *d) {
  out o = {.d = d};
  json_t *j = NULL;
  if (group(d->n_flows, d->n_nodes, flow_target, d, &o.in_first, &o.in_list) ||
      group(d->n_nodes, d->n_pipes, node_pipe, d, &o.pn_first, &o.pn_list) ||
      group(d->n_flows, d->n_pipes, flow_pipe, d, &o.pf_first, &o.pf_list))
    goto out_free;
  j = pipe_json(&o, 0);
  if (o.oom) {
    json_decref(j);
    j = NULL;
  }
out_free:
  rt_free(o.in_first);
  rt_free(o.in_list);
  rt_free(o.pn_first);
  rt_free(o.pn_list);
  rt_free(o.pf_first);
  rt_free(o.pf_list);
  return j;
}
