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

#include "idhash.h"
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
  const eng_def *shared;
  uint32_t def_pos; /* eng_def_seek's position */
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
  json_t *j = jparse(v.ptr, v.len, 0, NULL);
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

/* Makes room for one more record. */
static int grow(eng_status *o) {
  if (o->n < o->cap) return 0;
  size_t cap = o->cap ? 2 * o->cap : 64;
  eng_status_node *g = rt_realloc(o->nodes, cap * sizeof *g);
  if (!g) return RATTAN_ENOMEM;
  o->nodes = g;
  o->cap = cap;
  return 0;
}

/* Decodes a record straight into the next free slot, which counts only
 * once the record is kept. */
static int load_one(st_slice k, st_slice v, void *ctx) {
  load_ctx *c = ctx;
  eng_status *o = c->out;
  if ((c->rc = grow(o))) goto out_fail;
  eng_status_node *n = &o->nodes[o->n];
  if ((c->rc = st_state_decode(v.ptr, v.len, &n->s, c->err))) return 1;
  /* bamboo's get_state_by_root: a node paused before it ran has no root
   * yet and is not part of the tree. */
  if (strcmp(n->s.root_id, c->root)) return 0;
  const char *id = (const char *)k.ptr + c->key_len;
  size_t id_len = k.len - c->key_len;
  if (id_len > ST_ID_MAX) {
    c->rc =
        err_set(c->err, RATTAN_ECORRUPT, "task %s: bad state key", o->task.id);
    return 1;
  }
  n->parent = n->first = n->next = n->last = NO_NODE;
  n->n_children = 0;
  n->ex_data = ST_NONE;
  n->id_len = (uint32_t)id_len;
  /* Keys come in id order: a merge with the definition's sorted ids. */
  n->def = eng_def_seek(c->shared, &c->def_pos, id, id_len);
  if ((c->rc = pool_add(&o->pool, id, id_len, &n->id))) goto out_fail;
  if (n->s.state == RATTAN_STATE_FAILED) {
    char idz[ST_ID_MAX + 1];
    memcpy(idz, id, id_len);
    idz[id_len] = '\0';
    if ((c->rc = load_ex_data(c, idz, n))) goto out_fail;
  }
  o->n++;
  return 0;
out_fail:
  if (c->rc == RATTAN_ENOMEM || c->rc == RATTAN_ELIMIT)
    err_set(c->err, c->rc, "task %s: status: out of memory", o->task.id);
  return 1;
}

/* Orders (seq, index) pairs; the index keeps equal creation numbers
 * (version 1 records have none) in key order, as a stable sort would. */
static int by_seq(const void *a, const void *b) {
  const uint32_t *x = a, *y = b;
  if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Puts the records in creation order, a stable sort by seq. Creation
 * numbers are dense (0, 1, ... per task, records are never deleted), so
 * this is a counting sort; a sparse range falls back to qsort. Each
 * record is moved once, into a new array. */
static int sort_by_seq(eng_status *o, errbuf *err) {
  size_t n = o->n;
  uint32_t lo = UINT32_MAX, hi = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t s = o->nodes[i].s.seq;
    lo = s < lo ? s : lo;
    hi = s > hi ? s : hi;
  }
  size_t range = (size_t)(hi - lo) + 1;
  int dense = range <= 2 * n + 64;
  eng_status_node *to = rt_malloc(n * sizeof *to);
  uint32_t *tmp = rt_malloc((dense ? range + 1 : 2 * n) * sizeof *tmp);
  if (!to || !tmp) {
    rt_free(to);
    rt_free(tmp);
    return err_set(err, RATTAN_ENOMEM, "status: out of memory");
  }
  if (dense) {
    /* tmp[s - lo + 1] counts seq s, then becomes where seq s goes. */
    memset(tmp, 0, (range + 1) * sizeof *tmp);
    for (size_t i = 0; i < n; i++)
      tmp[o->nodes[i].s.seq - lo + 1]++;
    for (size_t s = 1; s <= range; s++)
      tmp[s] += tmp[s - 1];
    for (size_t i = 0; i < n; i++)
      to[tmp[o->nodes[i].s.seq - lo]++] = o->nodes[i];
  } else {
    for (size_t i = 0; i < n; i++) {
      tmp[2 * i] = o->nodes[i].s.seq;
      tmp[2 * i + 1] = (uint32_t)i;
    }
    qsort(tmp, n, 2 * sizeof *tmp, by_seq);
    for (size_t i = 0; i < n; i++)
      to[i] = o->nodes[tmp[2 * i + 1]];
  }
  rt_free(tmp);
  rt_free(o->nodes);
  o->nodes = to;
  o->cap = n;
  return 0;
}

/* The record whose id is the n bytes at id, or NO_NODE. */
static uint32_t find_id(const eng_status *o, const uint32_t *slots, size_t mask,
                        const char *id, size_t n) {
  const char *pool = (const char *)o->pool.data;
  size_t h = (size_t)idh_hash(id, n) & mask;
  for (uint32_t i; (i = slots[h]) != IDH_FREE; h = (h + 1) & mask)
    if (o->nodes[i].id_len == n && !memcmp(pool + o->nodes[i].id, id, n))
      return i;
  return NO_NODE;
}

/* Links each record under its parent, keeping creation order; records
 * whose parent is neither the root nor another record drop out, as in
 * bamboo (which keeps only the root's direct children at the top). */
static int link(eng_status *o, errbuf *err) {
  const char *pool = (const char *)o->pool.data;
  size_t n = o->n, slots = idh_slots(n), mask = slots - 1;
  uint32_t *tab = rt_malloc(slots * sizeof *tab);
  if (!tab) return err_set(err, RATTAN_ENOMEM, "status: out of memory");
  memset(tab, 0xff, slots * sizeof *tab);
  /* Keys are unique, so every record gets its own slot. */
  for (size_t i = 0; i < n; i++) {
    const eng_status_node *x = &o->nodes[i];
    size_t h = (size_t)idh_hash(pool + x->id, x->id_len) & mask;
    while (tab[h] != IDH_FREE)
      h = (h + 1) & mask;
    tab[h] = (uint32_t)i;
  }
  o->root = find_id(o, tab, mask, o->task.root, strlen(o->task.root));
  for (size_t i = 0; i < n; i++) {
    eng_status_node *x = &o->nodes[i];
    if (i != o->root)
      x->parent = find_id(o, tab, mask, x->s.parent_id, strlen(x->s.parent_id));
  }
  rt_free(tab);
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
  *o = (eng_status){.e = e, .root = NO_NODE, .data = ST_NONE};
  o->now = now != ST_NO_TIME ? now : eng_now(e);
  int rc = st_task_get(t, task, &o->task, err);
  if (rc == RATTAN_ENOTFOUND) err_set(err, rc, "task %s: no such task", task);
  if (rc) return rc;
  load_ctx c = {.out = o, .t = t, .root = o->task.root, .err = err};
  /* The shared definition, not the driver's cache: status may be read
   * from other threads while one drives. */
  if ((rc = eng_def_acquire(e, t, &o->task, &o->shared, err))) return rc;
  o->def = eng_def_tables(o->shared);
  o->by_id = eng_def_by_id(o->shared);
  c.shared = o->shared;
  c.key_len = strlen(task) + 1;
  rc = st_each(t, ST_DB_STATES, (st_slice){task, c.key_len}, load_one, &c, err);
  if (rc == 1) rc = c.rc;
  if (!rc && detail_node)
    rc = load_detail(t, o, *detail_node ? detail_node : o->task.root, err);
  if (rc || o->n == 0) return rc; /* n == 0: not started */
  if ((rc = sort_by_seq(o, err))) return rc;
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
  if (o->shared) eng_def_release(o->e, o->shared);
  rt_free(o->attempts);
  rt_free(o->nodes);
  buf_free(&o->pool);
  *o = (eng_status){.root = NO_NODE, .data = ST_NONE};
}
