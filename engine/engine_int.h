/* Shared by the engine's own files only. */
#ifndef RATTAN_ENGINE_INT_H
#define RATTAN_ENGINE_INT_H

#include <pthread.h>

#include "engine.h"

#define ENG_DEF_SLOTS 8 /* shared definitions (defcache.c) */
/* The driver's own decoded definitions (runner.c): enough slots for the
 * tasks a drive keeps in flight, within a budget of nodes. */
#define RUN_DEF_SLOTS 64
#define RUN_DEF_NODES (1u << 18)

struct eng {
  st_store *st;
  rattan_clock clock;
  int64_t vnow;          /* the virtual clock's reading */
  int64_t vclock_stored; /* the reading the store holds */
  /* The reading as of the last commit: where a lost batch's jumps go
   * back to. */
  int64_t vclock_base;
  unsigned rerun_limit;
  int seeded;
  uint64_t seed;
  uint64_t rng_pos; /* unseeded: versions drawn in committed writes
                       (a seeded position lives in the store) */
  struct def_slot {
    char task[ST_ID_MAX + 1]; /* "" when free */
    st_def d;
    uint32_t *by_id;     /* node indices sorted by id */
  } defs[RUN_DEF_SLOTS]; /* decoded definitions, reused round robin */
  unsigned def_next;     /* the slot to reuse next */
  size_t def_nodes;      /* nodes in all of defs */
  /* Definitions shared with status readers on any thread (defcache.c);
   * defs_mu guards the list and the entries' reference counts. */
  pthread_mutex_t defs_mu;
  struct eng_def *shared[ENG_DEF_SLOTS];
  uint64_t shared_tick;
  struct comp *comps; /* registered components */
  size_t n_comps;
  int group;                /* group commit in eng_drive */
  unsigned group_window_us; /* a batch's longest life */
  unsigned group_max;       /* a batch's most steps */
  buf text; /* JSON text being stored; used by the writing thread only */
};

/* Sets up and tears down the shared definitions (defcache.c). */
int eng_defs_init(eng *e);
void eng_defs_free(eng *e);

struct eng_txn {
  eng *e;
  st_txn *st;
  uint64_t rng_pos; /* this run's position; adopted after commit */
  int64_t now;      /* the clock reading every change of the txn carries */
};

#endif
