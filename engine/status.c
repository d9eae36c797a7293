/*
 * The records behind a status tree, read in one short read transaction:
 * bamboo's get_pipeline_states (every record whose root_id is the task's
 * root, nested under its parent_id, in creation order) plus what the SOPS
 * layers add (names from the definition, ex_data of failed nodes).
 *
 * Memory: a handful of arrays and one string pool per call, grown by
 * doubling; nothing per node.
 */
#include <stdio.h>
#include <string.h>

#include "run_int.h"

#define NO_NODE UINT32_MAX

/* Adds n bytes and a NUL to the pool; the offset into *off. */
static int pool_add(buf *pool, const char *s, size_t n, uint32_t *off) {
  if (pool->len > UINT32_MAX - n - 1) return RATTAN_ELIMIT;
  *off = (uint32_t)pool->len;
  if (buf_append(pool, s, n) || buf_append(pool, "", 1)) return RATTAN_ENOMEM;
  return 0;
}

typedef struct load_ctx {
  eng_status *out;
  st_txn *t;
  const st_def *d;
  const uint32_t *by_id;
  const char *root;
  size_t key_len; /* of "task\0" */
  errbuf *err;
  int rc;
} load_ctx;

/* The ex_data of a failed node's execution data, as text (a string's
 * value, any other JSON value's text), or none. */
static int load_ex_data(load_ctx *c, const char *node, eng_status_node *n) {
  st_slice v;
  int rc =
      st_data_get(c->t, c->out->task.id, node, ST_DATA_EXEC, 0, &v, c->err);
  if (rc == RATTAN_ENOTFOUND) return 0;
  if (rc) return rc;
  unsigned failures = rt_alloc_failures();
  json_t *j = json_loadb(v.ptr, v.len, 0, NULL);
  /* jansson reports running out of memory as bad text: an answer
   * without the ex_data would pass for a whole one. */
  if (!j && rt_alloc_failures() != failures)
    return err_set(c->err, RATTAN_ENOMEM, "node %s: out of memory", node);
  json_t *x = json_object_get(j, "ex_data");
  if (json_is_string(x)) {
    rc = pool_add(&c->out->pool, json_string_value(x), json_string_length(x),
                  &n->ex_data);
  } else if (x && !json_is_null(x)) {
    char *text = jdump_text(x);
    rc = text ? pool_add(&c->out->pool, text, strlen(text), &n->ex_data)
              : RATTAN_ENOMEM;
    rt_free(text);
  }
  json_decref(j);
  return rc;
}

static int load_one(st_slice k, st_slice v, void *ctx) {
  load_ctx *c = ctx;
  eng_status *o = c->out;
  eng_status_node n = {.parent = NO_NODE,
                       .first = NO_NODE,
                       .next = NO_NODE,
                       .last = NO_NODE,
                       .def = ST_NONE,
                       .ex_data = ST_NONE};
  if ((c->rc = st_state_decode(v.ptr, v.len, &n.s, c->err))) return 1;
  /* bamboo's get_state_by_root: a node paused before it ran has no root
   * yet and is not part of the tree. */
  if (strcmp(n.s.root_id, c->root)) return 0;
  const char *id = (const char *)k.ptr + c->key_len;
  size_t id_len = k.len - c->key_len;
  char idz[ST_ID_MAX + 1];
  if (id_len > ST_ID_MAX) {
    c->rc =
        err_set(c->err, RATTAN_ECORRUPT, "task %s: bad state key", o->task.id);
    return 1;
  }
  memcpy(idz, id, id_len);
  idz[id_len] = '\0';
  n.def = def_find(c->d, c->by_id, idz);
  if ((c->rc = pool_add(&o->pool, id, id_len, &n.id))) goto out_fail;
  if (n.s.state == RATTAN_STATE_FAILED && (c->rc = load_ex_data(c, idz, &n)))
    goto out_fail;
  if (o->n == o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 64;
    eng_status_node *g = rt_realloc(o->nodes, cap * sizeof *g);
    if (!g) {
      c->rc = RATTAN_ENOMEM;
      goto out_fail;
    }
    o->nodes = g;
    o->cap = cap;
  }
  o->nodes[o->n++] = n;
  return 0;
out_fail:
  if (c->rc == RATTAN_ENOMEM || c->rc == RATTAN_ELIMIT)
    err_set(c->err, c->rc, "task %s: status: out of memory", o->task.id);
  return 1;
}

static int by_seq(const void *a, const void *b) {
  uint32_t x = ((const eng_status_node *)a)->s.seq;
  uint32_t y = ((const eng_status_node *)b)->s.seq;
  return x < y ? -1 : x > y;
}

/* Orders record indices by node id (qsort_r; ctx is the eng_status). */
static int id_cmp(const void *a, const void *b, void *ctx) {
  const eng_status *o = ctx;
  const char *pool = (const char *)o->pool.data;
  return strcmp(pool + o->nodes[*(const uint32_t *)a].id,
                pool + o->nodes[*(const uint32_t *)b].id);
}

/* Links each record under its parent, keeping creation order; records
 * whose parent is neither the root nor another record drop out, as in
 * bamboo (which keeps only the root's direct children at the top). */
static int link(eng_status *o, errbuf *err) {
  const char *pool = (const char *)o->pool.data;
  size_t n = o->n;
  uint32_t *order = rt_malloc((n ? n : 1) * sizeof *order);
  if (!order) return err_set(err, RATTAN_ENOMEM, "status: out of memory");
  /* Records by id, for finding parents: sort indices by id. */
  for (size_t i = 0; i < n; i++)
    order[i] = (uint32_t)i;
  qsort_r(order, n, sizeof *order, id_cmp, o);
  o->root = NO_NODE;
  for (size_t i = 0; i < n; i++) {
    eng_status_node *x = &o->nodes[i];
    if (!strcmp(pool + x->id, o->task.root)) {
      o->root = (uint32_t)i;
      continue;
    }
    /* The parent, by binary search over the ids. */
    size_t lo = 0, hi = n;
    const char *pid = x->s.parent_id;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      int cmp = strcmp(pool + o->nodes[order[mid]].id, pid);
      if (cmp == 0) {
        lo = mid;
        break;
      }
      if (cmp < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < n && !strcmp(pool + o->nodes[order[lo]].id, pid))
      x->parent = order[lo];
  }
  rt_free(order);
  if (o->root == NO_NODE)
    return err_set(err, RATTAN_ECORRUPT, "task %s: no root record", o->task.id);
  /* Children in creation order: nodes are in it already. */
  for (size_t i = 0; i < n; i++) {
    eng_status_node *x = &o->nodes[i];
    if (x->parent == NO_NODE) continue;
    /* A record whose parent is itself dropped (not reachable from the
     * root) still links; the walk from the root never reaches it. */
    eng_status_node *p = &o->nodes[x->parent];
    if (p->last == NO_NODE)
      p->first = (uint32_t)i;
    else
      o->nodes[p->last].next = (uint32_t)i;
    p->last = (uint32_t)i;
    p->n_children++;
  }
  return 0;
}

/* The node's execution data (ST_DATA_EXEC, or attempt idx's) into the
 * pool, or ST_NONE. */
static int load_data(st_txn *t, eng_status *o, const char *node, int tag,
                     uint32_t idx, uint32_t *off, errbuf *err) {
  st_slice v;
  *off = ST_NONE;
  int rc = st_data_get(t, o->task.id, node, tag, idx, &v, err);
  if (rc == RATTAN_ENOTFOUND) return 0;
  if (!rc && (rc = pool_add(&o->pool, v.ptr, v.len, off)))
    err_set(err, rc, "task %s: status: out of memory", o->task.id);
  return rc;
}

static int load_detail(st_txn *t, eng_status *o, const char *node,
                       errbuf *err) {
  uint32_t n;
  int rc = load_data(t, o, node, ST_DATA_EXEC, 0, &o->data, err);
  if (rc || (rc = st_history_count(t, o->task.id, node, &n, err))) return rc;
  if (n && !(o->attempts = rt_calloc(n, sizeof *o->attempts)))
    return err_set(err, RATTAN_ENOMEM, "task %s: out of memory", o->task.id);
  for (uint32_t i = 0; i < n; i++) {
    if ((rc = st_history_get(t, o->task.id, node, i, &o->attempts[i].s, err)) ||
        (rc = load_data(t, o, node, ST_DATA_HISTORY, i, &o->attempts[i].data,
                        err)))
      return rc;
    o->n_attempts = i + 1;
  }
  return 0;
}

int eng_status_read(eng *e, st_txn *t, const char *task,
                    const char *detail_node, int64_t now, eng_status *o,
                    errbuf *err) {
  *o = (eng_status){.root = NO_NODE, .data = ST_NONE};
  o->now = now != ST_NO_TIME ? now : eng_now(e);
  int rc = st_task_get(t, task, &o->task, err);
  if (rc == RATTAN_ENOTFOUND) err_set(err, rc, "task %s: no such task", task);
  if (rc) return rc;
  load_ctx c = {.out = o, .t = t, .root = o->task.root, .err = err};
  /* A private copy of the definition, not the engine's cache: status
   * may be read from other threads while one drives (the cache is the
   * driver's). */
  if ((rc = st_def_get(t, task, &o->def, err))) return rc;
  if (!(o->by_id = rt_malloc((o->def.n_nodes ? o->def.n_nodes : 1) *
                             sizeof *o->by_id)))
    return err_set(err, RATTAN_ENOMEM, "task %s: out of memory", task);
  def_index(&o->def, o->by_id);
  c.d = &o->def;
  c.by_id = o->by_id;
  c.key_len = strlen(task) + 1;
  rc = st_each(t, ST_DB_STATES, (st_slice){task, c.key_len}, load_one, &c, err);
  if (rc == 1) rc = c.rc;
  if (!rc && detail_node)
    rc = load_detail(t, o, *detail_node ? detail_node : o->task.root, err);
  if (rc || o->n == 0) return rc; /* n == 0: not started */
  qsort(o->nodes, o->n, sizeof *o->nodes, by_seq);
  return link(o, err);
}

int eng_status_load(eng *e, const char *task, const char *detail_node,
                    int64_t now, eng_status *o, errbuf *err) {
  st_txn *t;
  int rc = st_read_begin(eng_store(e), &t, err);
  if (rc) {
    *o = (eng_status){.root = NO_NODE, .data = ST_NONE};
    return rc;
  }
  rc = eng_status_read(e, t, task, detail_node, now, o, err);
  st_read_end(t);
  return rc;
}

void eng_status_free(eng_status *o) {
  st_def_free(&o->def);
  rt_free(o->by_id);
  rt_free(o->attempts);
  rt_free(o->nodes);
  buf_free(&o->pool);
  *o = (eng_status){.root = NO_NODE, .data = ST_NONE};
}
