/* Engine lifetime and the write wrapper (see engine.h). */
#include "run_int.h"

#define DEFAULT_RERUN_LIMIT     100
#define DEFAULT_GROUP_WINDOW_US 2000
#define DEFAULT_GROUP_MAX       256

/* A virtual clock never goes back behind what the store has seen: it
 * resumes at the later of its start and the reading last committed, so
 * times stay ordered when one task is driven by successive processes. */
static int vclock_resume(eng *e, errbuf *err) {
  st_txn *t;
  int64_t stored;
  int rc = st_read_begin(e->st, &t, err);
  if (rc) return rc;
  rc = st_vclock_get(t, &stored, err);
  st_read_end(t);
  /* Only a clock moved past its start needs storing. */
  e->vclock_stored = e->vclock_base = e->vnow;
  if (rc == RATTAN_ENOTFOUND) return 0;
  if (rc) return rc;
  eng_clock_advance(e, stored);
  e->vclock_stored = stored;
  e->vclock_base = e->vnow;
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
  e->group = cfg->group;
  e->group_window_us =
      cfg->group_window_us ? cfg->group_window_us : DEFAULT_GROUP_WINDOW_US;
  e->group_max = cfg->group_max ? cfg->group_max : DEFAULT_GROUP_MAX;
  int rc = eng_defs_init(e);
  if (rc) {
    err_set(err, rc, "engine: cannot make a mutex");
    goto out_free_engine;
  }
  st_config sc = cfg->store;
  sc.group = cfg->group;
  if ((rc = st_open(&e->st, dir, &sc, err))) goto out_free_defs;
  if ((rc = eng_register_builtins(e, err))) goto out_close_store;
  if (e->clock.kind == RATTAN_CLOCK_VIRTUAL && (rc = vclock_resume(e, err)))
    goto out_close_store;
  *out = e;
  return 0;

out_close_store:
  comp_free_all(e);
  st_close(e->st);
out_free_defs:
  eng_defs_free(e);
out_free_engine:
  rt_free(e);
  return rc;
}

void eng_close(eng *e) {
  if (!e) return;
  run_def_cache_free(e);
  eng_defs_free(e);
  comp_free_all(e);
  st_close(e->st);
  buf_free(&e->text);
  rt_free(e);
}

st_store *eng_store(eng *e) {
  return e->st;
}
st_txn *eng_txn_store(eng_txn *t) {
  return t->st;
}
int64_t eng_txn_now(eng_txn *t) {
  return t->now;
}
int eng_journal(eng_txn *t, const char *task, const st_def *d, const char *kind,
                errbuf *err) {
  return st_journal_begin(t->st, task, d, kind, t->now, err);
}
eng *eng_txn_engine(eng_txn *t) {
  return t->e;
}

/* What the engine remembers of a lost batch's writes. The virtual clock
 * goes back to its reading as of the last commit: a jump made while the
 * batch was open may have been to a due time only the lost batch held,
 * and a redo from a later reading would differ (a poll's next due time,
 * say). The versions the batch drew stay drawn: an unseeded position
 * must only never repeat; a seeded one lives in the store. */
static void batch_lost(eng *e) {
  if (e->clock.kind != RATTAN_CLOCK_VIRTUAL) return;
  e->vnow = e->vclock_stored = e->vclock_base;
}

typedef struct write_ctx {
  eng *e;
  eng_write_fn fn;
  void *ctx;
  uint64_t rng_pos; /* the position after the last run of fn */
} write_ctx;

/* A seeded generator's position is read and written inside the
 * transaction, so processes sharing a store and a seed never draw the
 * same version. */
static int write_run(st_txn *st, void *ctx, errbuf *err) {
  write_ctx *w = ctx;
  eng *e = w->e;
  uint64_t start = e->rng_pos;
  int rc;
  if (e->seeded) {
    rc = st_rng_get(st, e->seed, &start, err);
    if (rc == RATTAN_ENOTFOUND)
      start = 0;
    else if (rc)
      return rc;
  }
  eng_txn t = {e, st, start, eng_now(e)};
  if ((rc = w->fn(&t, w->ctx, err))) return rc;
  if (e->seeded && t.rng_pos != start &&
      (rc = st_rng_put(st, e->seed, t.rng_pos, err)))
    return rc;
  if (e->clock.kind == RATTAN_CLOCK_VIRTUAL && e->vnow > e->vclock_stored &&
      (rc = st_vclock_put(st, e->vnow, err)))
    return rc;
  w->rng_pos = t.rng_pos;
  return 0;
}

static int write_in(eng *e, int batch, eng_write_fn fn, void *ctx,
                    errbuf *err) {
  write_ctx w = {e, fn, ctx, e->rng_pos};
  int rc = batch ? st_batch_write(e->st, write_run, &w, err)
                 : st_write(e->st, write_run, &w, err);
  if (rc == 0) {
    e->rng_pos = w.rng_pos;
    if (e->clock.kind == RATTAN_CLOCK_VIRTUAL) {
      e->vclock_stored = e->vnow;
      if (!batch) e->vclock_base = e->vnow; /* a plain write commits all */
    }
  } else if (batch) {
    batch_lost(e);
  }
  return rc;
}

int eng_write(eng *e, eng_write_fn fn, void *ctx, errbuf *err) {
  return write_in(e, 0, fn, ctx, err);
}

int eng_step_write(eng *e, eng_write_fn fn, void *ctx, errbuf *err) {
  return write_in(e, e->group, fn, ctx, err);
}

void eng_batch_abort(eng *e) {
  if (!st_batch_open(e->st)) return;
  st_batch_abort(e->st);
  batch_lost(e);
}

int eng_batch_commit(eng *e, errbuf *err) {
  int rc = st_batch_commit(e->st, err);
  if (rc)
    batch_lost(e);
  else
    e->vclock_base = e->vclock_stored;
  return rc;
}
