/* Engine lifetime and the write wrapper (see engine.h). */
#include "engine_int.h"

#define DEFAULT_RERUN_LIMIT 100

static int load_rng(st_txn *st, void *ctx, errbuf *err) {
  eng *e = ctx;
  uint64_t seed, pos;
  int rc = st_rng_get(st, &seed, &pos, err);
  if (rc == RATTAN_ENOTFOUND) return 0;
  if (rc) return rc;
  if (seed == e->seed) e->rng_pos = pos;
  return 0;
}

int eng_open(eng **out, const char *dir, const eng_config *cfg, errbuf *err) {
  *out = NULL;
  eng *e = rt_malloc(sizeof *e);
  if (!e) return err_set(err, RATTAN_ENOMEM, "engine: out of memory");
  *e = (eng){0};
  e->clock = cfg->clock;
  e->vnow = cfg->clock.start_us;
  e->rerun_limit = cfg->rerun_limit ? cfg->rerun_limit : DEFAULT_RERUN_LIMIT;
  e->seeded = cfg->has_seed;
  e->seed = cfg->has_seed ? cfg->seed : eng_random_seed();
  int rc = st_open(&e->st, dir, &cfg->store, err);
  if (rc) goto out_free_engine;
  if (e->seeded) {
    st_txn *t;
    if ((rc = st_read_begin(e->st, &t, err))) goto out_close_store;
    rc = load_rng(t, e, err);
    st_read_end(t);
    if (rc) goto out_close_store;
  }
  *out = e;
  return 0;

out_close_store:
  st_close(e->st);
out_free_engine:
  rt_free(e);
  return rc;
}

void eng_close(eng *e) {
  if (!e) return;
  st_close(e->st);
  rt_free(e);
}

st_store *eng_store(eng *e) {
  return e->st;
}
st_txn *eng_txn_store(eng_txn *t) {
  return t->st;
}
eng *eng_txn_engine(eng_txn *t) {
  return t->e;
}

typedef struct write_ctx {
  eng *e;
  eng_write_fn fn;
  void *ctx;
  uint64_t rng_pos; /* the position after the last run of fn */
} write_ctx;

static int write_run(st_txn *st, void *ctx, errbuf *err) {
  write_ctx *w = ctx;
  eng_txn t = {w->e, st, w->e->rng_pos};
  int rc = w->fn(&t, w->ctx, err);
  if (rc) return rc;
  if (w->e->seeded && t.rng_pos != w->e->rng_pos &&
      (rc = st_rng_put(st, w->e->seed, t.rng_pos, err)))
    return rc;
  w->rng_pos = t.rng_pos;
  return 0;
}

int eng_write(eng *e, eng_write_fn fn, void *ctx, errbuf *err) {
  write_ctx w = {e, fn, ctx, e->rng_pos};
  int rc = st_write(e->st, write_run, &w, err);
  if (rc == 0) e->rng_pos = w.rng_pos;
  return rc;
}
