/*
 * Pass 2 of parsing: each node's outgoing flow ids become edges, in the
 * order the node lists them, checked against the flows table; incoming
 * lists are checked the same way; gateway conditions and defaults land on
 * their flows.
 */
#include <stdio.h>
#include <string.h>

#include "defparse_int.h"
#include "rattan.h"

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
    BAD(p, where, "must be a flow id or a list of them, not %s", dp_type(v));
    return;
  }
  size_t k;
  json_t *e;
  json_array_foreach(v, k, e) {
    if (!json_is_string(e))
      BAD(p, where, "flow ids must be strings, not %s", dp_type(e));
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
  snprintf(fpath, sizeof fpath, "%s.target", dp_path_at(p, f->path));
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

/* Puts each gateway condition and default onto its flow. The texts are
 * interned in outgoing-flow order, not in the order of the conditions
 * object, so a definition read back as a tree compiles to the same bytes
 * (replay relies on it). */
static void resolve_conditions(parser *p, uint32_t i, const uint32_t *rows) {
  json_t *obj = p->ni[i].obj;
  const char *gpath = dp_path_at(p, p->ni[i].path);
  char where[PATH_MAX_LEN + 64];
  json_t *conds = json_object_get(obj, "conditions");
  const char *fid;
  json_t *c;
  json_object_foreach(conds, fid, c) {
    uint32_t k = idmap_get(&p->flows, fid);
    uint32_t r = k == ST_NONE ? ST_NONE : rows[k];
    if (r == ST_NONE || p->b.d.flows[r].source != i) {
      snprintf(where, sizeof where, "%s.conditions.%s", gpath, fid);
      BAD(p, where, "flow \"%s\" is not an outgoing flow of this gateway", fid);
    }
  }
  const st_def_node *n = &p->b.d.nodes[i];
  for (uint32_t r = n->out; r < n->out + n->n_out && conds; r++) {
    st_def_flow *f = &p->b.d.flows[r];
    c = json_object_get(conds, p->b.d.pool + f->id);
    if (!c) continue;
    const char *ev = json_string_value(json_object_get(c, "evaluate"));
    const char *nm = json_string_value(json_object_get(c, "name"));
    uint32_t ev_off = b_str(&p->b, ev);
    uint32_t nm_off = b_str(&p->b, nm);
    if (p->b.oom) return;
    f->cond = ev_off;
    f->cond_name = nm_off;
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
void dp_resolve(parser *p) {
  uint32_t *rows = rt_malloc((p->n_fi + 1) * sizeof *rows);
  if (!rows) {
    p->oom = 1;
    return;
  }
  for (uint32_t k = 0; k < p->n_fi; k++)
    rows[k] = ST_NONE;
  char where[PATH_MAX_LEN + 16];
  for (uint32_t i = 0; i < p->b.d.n_nodes && !p->b.oom; i++) {
    snprintf(where, sizeof where, "%s.outgoing", dp_path_at(p, p->ni[i].path));
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
      snprintf(where, sizeof where, "%s.source", dp_path_at(p, p->fi[k].path));
      BAD(p, where, src ? "node \"%s\" does not exist" : "missing%s",
          src ? src : "");
    } else {
      BAD(p, dp_path_at(p, p->fi[k].path),
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
    snprintf(where, sizeof where, "%s.incoming", dp_path_at(p, p->ni[i].path));
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
      snprintf(where, sizeof where, "%s.incoming",
               dp_path_at(p, p->ni[t].path));
      BAD(p, where, "flow \"%s\" ends here but is not listed",
          p->b.d.pool + p->b.d.flows[r].id);
    }
  }
  rt_free(listed);
  rt_free(rows);
}
