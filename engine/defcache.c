/*
 * Shared definitions: each task's decoded definition, kept by the engine
 * for every thread that reads status (see eng_def_acquire in engine.h).
 *
 * Why it is safe to share: a definition is written once, with its task
 * record, and never changed or deleted (there is no delete of tasks), so
 * a decoded copy stays exact for as long as the task exists. An entry is
 * keyed by the task id, its creation time and its root id, all read from
 * the caller's own transaction, so even a task recreated under the same
 * id would miss the old entry rather than be served it.
 *
 * Threads: one mutex guards the list and every entry's reference count;
 * the tables themselves are immutable once listed and read without it.
 * Decoding happens outside the mutex; when two threads decode the same
 * definition at once, the second to list it adopts the first's entry.
 *
 * Memory: at most DEF_SLOTS entries and (past the newest) DEF_NODES nodes
 * in all; the least recently used go first, freed when their last holder
 * releases them.
 */
#include <string.h>

#include "engine_int.h"
#include "idhash.h"

#define DEF_NODES (1u << 20)

struct eng_def {
  char task[ST_ID_MAX + 1];
  char root[ST_ID_MAX + 1];
  int64_t created;
  st_def d;
  uint32_t *by_id; /* node indices sorted by id; slots follow it */
  uint32_t *slots; /* id hash of the nodes: node index or IDH_FREE */
  /* The ids again, in by_id's order and packed (each NUL-terminated),
   * so an ascending run of lookups reads them in sequence: id k starts
   * at ids + ids_off[k]; ids_off has n_nodes + 1 entries. */
  char *ids;
  uint32_t *ids_off;
  size_t mask;   /* slots - 1 */
  unsigned refs; /* the list's own while listed, plus each holder's */
  uint64_t used; /* the tick of the last acquire */
};

static void def_destroy(struct eng_def *x) {
  st_def_free(&x->d);
  rt_free(x->by_id);
  rt_free(x->ids);
  rt_free(x);
}

/* Drops one reference; the caller holds the mutex. Returns the entry
 * when that was the last, for the caller to destroy outside it. */
static struct eng_def *unref(struct eng_def *x) {
  return --x->refs ? NULL : x;
}

int eng_defs_init(eng *e) {
  return pthread_mutex_init(&e->defs_mu, NULL) ? RATTAN_ENOMEM : 0;
}

void eng_defs_free(eng *e) {
  for (unsigned i = 0; i < ENG_DEF_SLOTS; i++)
    if (e->shared[i]) {
      /* Every holder has released its entry by now (eng_close's rule). */
      def_destroy(e->shared[i]);
      e->shared[i] = NULL;
    }
  pthread_mutex_destroy(&e->defs_mu);
}

static int same_key(const struct eng_def *x, const st_task *task) {
  return x->created == task->created && !strcmp(x->task, task->id) &&
         !strcmp(x->root, task->root);
}

/* Decodes the task's definition and builds its indices. */
static int def_build(st_txn *t, const st_task *task, struct eng_def **out,
                     errbuf *err) {
  struct eng_def *x = rt_malloc(sizeof *x);
  if (!x)
    return err_set(err, RATTAN_ENOMEM, "task %s: out of memory", task->id);
  *x = (struct eng_def){.created = task->created, .refs = 1};
  memcpy(x->task, task->id, sizeof x->task);
  memcpy(x->root, task->root, sizeof x->root);
  int rc = st_def_get(t, task->id, &x->d, err);
  if (rc) goto out_destroy;
  uint32_t n = x->d.n_nodes;
  size_t slots = idh_slots(n);
  size_t ids_len = 0;
  for (uint32_t i = 0; i < n; i++)
    ids_len += strlen(x->d.pool + x->d.nodes[i].id) + 1;
  /* by_id, ids_off (n + 1) and slots in one block. */
  if (ids_len > UINT32_MAX ||
      !(x->by_id = rt_malloc((2 * (size_t)n + 1 + slots) * sizeof *x->by_id)) ||
      !(x->ids = rt_malloc(ids_len ? ids_len : 1))) {
    rc = err_set(err, RATTAN_ENOMEM, "task %s: out of memory", task->id);
    goto out_destroy;
  }
  def_index(&x->d, x->by_id);
  x->slots = x->by_id + 2 * (size_t)n + 1;
  x->ids_off = x->by_id + n;
  x->mask = slots - 1;
  memset(x->slots, 0xff, slots * sizeof *x->slots);
  for (uint32_t i = 0; i < n; i++) {
    const char *id = x->d.pool + x->d.nodes[i].id;
    size_t h = (size_t)idh_hash(id, strlen(id)) & x->mask;
    /* Ids are unique in a definition: every node gets its own slot. */
    while (x->slots[h] != IDH_FREE)
      h = (h + 1) & x->mask;
    x->slots[h] = i;
  }
  uint32_t len = 0;
  for (uint32_t k = 0; k < n; k++) {
    const char *id = x->d.pool + x->d.nodes[x->by_id[k]].id;
    size_t idn = strlen(id) + 1;
    x->ids_off[k] = len;
    memcpy(x->ids + len, id, idn);
    len += (uint32_t)idn;
  }
  x->ids_off[n] = len;
  *out = x;
  return 0;

out_destroy:
  def_destroy(x);
  return rc;
}

/* Lists x (the caller's reference becomes the holder's; the list takes
 * one more), evicting entries past the limits; the caller holds the
 * mutex. Evicted entries nobody holds are chained through *dead. */
static void list_entry(eng *e, struct eng_def *x, struct eng_def **dead,
                       unsigned *n_dead) {
  unsigned slot = 0;
  for (unsigned i = 0; i < ENG_DEF_SLOTS; i++) {
    if (!e->shared[i]) {
      slot = i;
      break;
    }
    if (e->shared[i]->used < e->shared[slot]->used) slot = i;
  }
  if (e->shared[slot] && (dead[*n_dead] = unref(e->shared[slot]))) ++*n_dead;
  e->shared[slot] = x;
  x->refs++;
  /* The node budget: drop the oldest others while over it. */
  for (;;) {
    size_t nodes = 0;
    unsigned old = ENG_DEF_SLOTS;
    for (unsigned i = 0; i < ENG_DEF_SLOTS; i++) {
      if (!e->shared[i]) continue;
      nodes += e->shared[i]->d.n_nodes;
      if (e->shared[i] != x &&
          (old == ENG_DEF_SLOTS || e->shared[i]->used < e->shared[old]->used))
        old = i;
    }
    if (nodes <= DEF_NODES || old == ENG_DEF_SLOTS) break;
    if ((dead[*n_dead] = unref(e->shared[old]))) ++*n_dead;
    e->shared[old] = NULL;
  }
}

int eng_def_acquire(eng *e, st_txn *t, const st_task *task, const eng_def **out,
                    errbuf *err) {
  *out = NULL;
  pthread_mutex_lock(&e->defs_mu);
  for (unsigned i = 0; i < ENG_DEF_SLOTS; i++) {
    struct eng_def *x = e->shared[i];
    if (x && same_key(x, task)) {
      x->refs++;
      x->used = ++e->shared_tick;
      pthread_mutex_unlock(&e->defs_mu);
      *out = x;
      return 0;
    }
  }
  pthread_mutex_unlock(&e->defs_mu);

  struct eng_def *x = NULL;
  int rc = def_build(t, task, &x, err);
  if (rc) return rc;
  /* Everything listed can die here, plus the one we may not list. */
  struct eng_def *dead[ENG_DEF_SLOTS + 1];
  unsigned n_dead = 0;
  pthread_mutex_lock(&e->defs_mu);
  struct eng_def *have = NULL;
  for (unsigned i = 0; i < ENG_DEF_SLOTS && !have; i++)
    if (e->shared[i] && same_key(e->shared[i], task)) have = e->shared[i];
  if (have) { /* another thread listed it meanwhile: adopt theirs */
    have->refs++;
    dead[n_dead++] = x;
    x = have;
  } else {
    list_entry(e, x, dead, &n_dead);
  }
  x->used = ++e->shared_tick;
  pthread_mutex_unlock(&e->defs_mu);
  for (unsigned i = 0; i < n_dead; i++)
    def_destroy(dead[i]);
  *out = x;
  return 0;
}

void eng_def_release(eng *e, const eng_def *d) {
  if (!d) return;
  pthread_mutex_lock(&e->defs_mu);
  struct eng_def *dead = unref((struct eng_def *)d);
  pthread_mutex_unlock(&e->defs_mu);
  if (dead) def_destroy(dead);
}

const st_def *eng_def_tables(const eng_def *d) {
  return &d->d;
}

const uint32_t *eng_def_by_id(const eng_def *d) {
  return d->by_id;
}

uint32_t eng_def_lookup(const eng_def *d, const char *id, size_t n) {
  size_t h = (size_t)idh_hash(id, n) & d->mask;
  for (uint32_t i; (i = d->slots[h]) != IDH_FREE; h = (h + 1) & d->mask) {
    const char *s = d->d.pool + d->d.nodes[i].id;
    if (!strncmp(s, id, n) && !s[n]) return i;
  }
  return ST_NONE;
}

uint32_t eng_def_seek(const eng_def *d, uint32_t *pos, const char *id,
                      size_t n) {
  uint32_t k = *pos;
  for (; k < d->d.n_nodes; k++) {
    const char *s = d->ids + d->ids_off[k];
    size_t sn = d->ids_off[k + 1] - d->ids_off[k] - 1;
    int c = memcmp(s, id, sn < n ? sn : n);
    if (!c) c = (sn > n) - (sn < n);
    if (c == 0) {
      *pos = k + 1;
      return d->by_id[k];
    }
    if (c > 0) break;
  }
  *pos = k;
  /* Not ahead: not a node (the root pipeline), or ids out of order. */
  return eng_def_lookup(d, id, n);
}
