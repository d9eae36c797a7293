/*
 * The crash loop's harness (reliability.md R1), and the program's entry.
 *
 *   crash-loop [--kills N] [--seed S] [--dir D] [--sample F] [--keep]
 *   crash-loop --writer DIR --seed S --durability D --from K --fd FD
 *              [--kill POINT:N] [--sample F]      (started by the harness)
 *
 * For each scenario the harness first runs it uninterrupted in a store of
 * its own (the reference), noting after each step its task's journal
 * count and how often the step reached each crash point. Then it runs the
 * scenario again in a fresh store through writer processes, killing each
 * with SIGKILL after a random delay (0-50 ms) or letting the writer kill
 * itself at the nth put, pre-commit, commit or acknowledgement. After
 * every life it reopens the store and checks it (check_store), then
 * starts the next writer at the first step the store does not hold. When
 * a writer finishes, the store must equal the reference store record for
 * record. SIGKILL is a process crash: it tests our atomicity (one step =
 * one transaction with its journal entry), not durability against power
 * loss, which the page cache hides (reliability.md 0.2).
 *
 * Exit status: 0 when every check held, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/api_int.h"
#include "crash.h"

#define KILL_MAX_US  50000 /* random kills: uniform in 0 .. 50 ms */
#define HANG_SECONDS 300   /* a writer alive this long is a failure */
#define STATUS_NOW   (CL_T0 + 86400000000LL) /* status answers' moment */
#define N_MODES      5 /* kill modes: random, put, precommit, commit, ack */
#define NODES_MAX    128

static const char *const mode_names[N_MODES] = {"random", "put", "precommit",
                                                "commit", "ack"};
static const char *const durability_names[] = {"sync", "nosync", "group"};

/* ---- Figures --------------------------------------------------------------
 */

typedef struct figures {
  unsigned long kills, kills_by[N_MODES];
  unsigned long lives, scenarios, finished, by_durability[3];
  unsigned long acks, lost, duplicates, violations;
  unsigned long unacked_persisted; /* lives whose last step held, unacked */
  unsigned long replayed, stale;
  double *reopen_ms;
  size_t n_reopen, cap_reopen;
  double growth_max; /* file size over the reference's, at the end */
  off_t size_max;    /* largest data file seen */
} figures;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void note_reopen(figures *f, double ms) {
  if (f->n_reopen == f->cap_reopen) {
    size_t cap = f->cap_reopen ? f->cap_reopen * 2 : 1024;
    double *p = realloc(f->reopen_ms, cap * sizeof *p);
    if (!p) return;
    f->reopen_ms = p;
    f->cap_reopen = cap;
  }
  f->reopen_ms[f->n_reopen++] = ms;
}

static int violation(figures *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int violation(figures *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("crash-loop: VIOLATION: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  f->violations++;
  return -1;
}

/* ---- Files ------------------------------------------------------------------
 */

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *w) {
  (void)sb;
  (void)flag;
  (void)w;
  remove(p);
  return 0;
}

static void rm_tree(const char *dir) {
  nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fresh_dir(const char *dir) {
  rm_tree(dir);
  mkdir(dir, 0700);
}

/* dir/name into out (n bytes); -1 when it does not fit. */
static int path_join(char *out, size_t n, const char *dir, const char *name) {
  int w = snprintf(out, n, "%s/%s", dir, name);
  return w < 0 || (size_t)w >= n ? -1 : 0;
}

static off_t data_size(const char *dir) {
  char p[PATH_MAX];
  struct stat sb;
  if (path_join(p, sizeof p, dir, "data.mdb")) return 0;
  return stat(p, &sb) ? 0 : sb.st_size;
}

static char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(fp);
  if (b) {
    b[n] = '\0';
    *len = (size_t)n;
  }
  return b;
}

/* ---- Reading a store
 * ---------------------------------------------------------
 */

/* st_dump of the whole store (task NULL) or of one task. */
static int dump_of(rattan_engine *re, const char *task, buf *out) {
  st_txn *t;
  errbuf err = {0};
  *out = (buf){0};
  int rc = st_read_begin(eng_store(re->e), &t, &err);
  if (rc) return rc;
  rc = task ? st_dump_task(t, task, out, &err) : st_dump(t, out, &err);
  st_read_end(t);
  return rc;
}

static int buf_eq(const buf *a, const buf *b) {
  return a->len == b->len && (a->len == 0 || !memcmp(a->data, b->data, a->len));
}

/* The task's status answer as SOPS gives it, ex_data included, at a
 * fixed moment and trace id so two stores can be compared byte for
 * byte. */
static char *status_of(rattan_engine *re, const char *task, size_t *len) {
  rattan_status_options o;
  rattan_status_options_init(&o);
  o.with_ex_data = 1;
  o.trace_id = "crash-loop";
  o.now_us = STATUS_NOW;
  char *out = NULL;
  rattan_task_status(re, task, &o, &out, len);
  return out;
}

/* Journal entries 1..n of task, their bytes concatenated into out with
 * off[i - 1] .. off[i] the bytes of entry i. */
static int journal_of(rattan_engine *re, const char *task, uint64_t n, buf *out,
                      size_t *off) {
  st_txn *t;
  errbuf err = {0};
  int rc = st_read_begin(eng_store(re->e), &t, &err);
  if (rc) return rc;
  off[0] = 0;
  for (uint64_t i = 1; i <= n && !rc; i++) {
    st_slice v;
    rc = st_journal_get(t, task, i, &v, &err);
    if (!rc) rc = buf_append(out, v.ptr, v.len);
    off[i] = out->len;
  }
  st_read_end(t);
  return rc;
}

/* ---- The reference
 * ------------------------------------------------------------
 */

typedef struct reference {
  uint64_t *post;               /* per step: its task's journal count after */
  unsigned long (*points)[4];   /* per step: puts, precommits, commits, 1 */
  buf journal[CL_TASKS_MAX];    /* each task's entries */
  size_t *off[CL_TASKS_MAX];    /* their bounds (count + 1) */
  uint64_t count[CL_TASKS_MAX]; /* entries at the end */
  buf dump;                     /* the whole store at the end */
  char *status[CL_TASKS_MAX];   /* each task's status at the end */
  size_t status_len[CL_TASKS_MAX];
  off_t size; /* its data file at the end */
} reference;

static unsigned long point_count[ST_POINT_COUNT];

static void count_point(int point) {
  if (point >= 0 && point < ST_POINT_COUNT) point_count[point]++;
}

static void reference_free(reference *r) {
  free(r->post);
  free(r->points);
  buf_free(&r->dump);
  for (int t = 0; t < CL_TASKS_MAX; t++) {
    buf_free(&r->journal[t]);
    free(r->off[t]);
    rattan_free(r->status[t]);
  }
  *r = (reference){0};
}

/* Runs sc uninterrupted in dir; 0, or -1 after saying why. */
static int reference_run(const cl_scenario *sc, rattan_durability d,
                         const char *dir, reference *r) {
  char msg[512];
  rattan_engine *e;
  *r = (reference){0};
  r->post = calloc(sc->n_steps, sizeof *r->post);
  r->points = calloc(sc->n_steps, sizeof *r->points);
  if (!r->post || !r->points) goto out_oom;
  fresh_dir(dir);
  /* A flushed store behaves as an unflushed one, only slower. */
  if (cl_open(dir, d == RATTAN_DURABILITY_SYNC ? RATTAN_DURABILITY_NOSYNC : d,
              sc->seed, &e, msg, sizeof msg)) {
    fprintf(stderr, "crash-loop: reference: %s\n", msg);
    goto out_free_ref;
  }
  st_set_point_hook(count_point);
  for (size_t k = 0; k < sc->n_steps; k++) {
    memset(point_count, 0, sizeof point_count);
    if (cl_step_run(e, sc, &sc->steps[k], msg, sizeof msg)) {
      fprintf(stderr, "crash-loop: reference: scenario %llu step %zu: %s\n",
              (unsigned long long)sc->seed, k, msg);
      goto out_close;
    }
    r->post[k] = cl_journal_count(e, sc->tasks[sc->steps[k].task]);
    for (int p = 0; p < ST_POINT_COUNT; p++)
      r->points[k][p] = point_count[p];
    r->points[k][CL_POINT_ACK] = 1;
  }
  st_set_point_hook(NULL);
  for (int t = 0; t < sc->n_tasks; t++) {
    r->count[t] = cl_journal_count(e, sc->tasks[t]);
    if (!(r->off[t] = calloc(r->count[t] + 1, sizeof *r->off[t])))
      goto out_close;
    if (journal_of(e, sc->tasks[t], r->count[t], &r->journal[t], r->off[t]))
      goto out_close;
    r->status[t] = status_of(e, sc->tasks[t], &r->status_len[t]);
    if (!r->status[t]) goto out_close;
  }
  if (dump_of(e, NULL, &r->dump)) goto out_close;
  rattan_close(e);
  r->size = data_size(dir);
  return 0;

out_close:
  st_set_point_hook(NULL);
  rattan_close(e);
out_free_ref:
  reference_free(r);
  return -1;
out_oom:
  fprintf(stderr, "crash-loop: out of memory\n");
  goto out_free_ref;
}

/* ---- Checks
 * -------------------------------------------------------------------
 */

/* What the harness knows of the scenario's writers so far. */
typedef struct progress {
  const cl_scenario *sc;
  const reference *ref;
  long begun;                   /* the highest step begun, -1: none */
  uint64_t acked[CL_TASKS_MAX]; /* the highest acked journal count */
  long acked_step;              /* the highest step acked, -1: none */
  size_t resume;                /* the first step the store lacks */
} progress;

/* One node's record as the journal tells it. */
typedef struct jnode {
  char id[ST_ID_MAX + 1];
  int state;
  uint32_t loop, retry, skip, history;
} jnode;

static jnode *jnode_of(jnode *nodes, int *n, const char *id) {
  for (int i = 0; i < *n; i++)
    if (!strcmp(nodes[i].id, id)) return &nodes[i];
  if (*n == NODES_MAX) return NULL;
  jnode *j = &nodes[(*n)++];
  *j = (jnode){.state = -1};
  snprintf(j->id, sizeof j->id, "%s", id);
  return j;
}

/* Walks task's export x (n events expected): seqs 1, 2, ... without a
 * gap or repeat; every state change leaves the node's last recorded
 * state along an edge of the table; the loop, retry and skip counters
 * and history lengths recomputed from the changes equal the live
 * records; each operation kind appears as often as the steps of that
 * kind the store holds. Returns the number of problems found. */
static int check_journal(figures *f, rattan_engine *re, const progress *pg,
                         int task, const void *x, size_t len, uint64_t n) {
  const char *id = pg->sc->tasks[task];
  errbuf err = {0};
  st_jreader r;
  st_jheader h;
  jnode *nodes = calloc(NODES_MAX, sizeof *nodes);
  int n_nodes = 0, bad = 0;
  unsigned long ops[K_COUNT] = {0};
  if (!nodes) return violation(f, "out of memory");
  st_jr_init(&r, x, len, &err);
  if (st_jr_header(&r, &h) || h.events != n) {
    bad += violation(f, "task %s: export header: %s", id, err.msg) != 0;
    goto out_free_nodes;
  }
  for (uint64_t want = 1;; want++) {
    st_jevent ev;
    int rc = st_jr_event(&r, &ev);
    if (rc == RATTAN_ENOTFOUND) {
      if (want != n + 1)
        bad +=
            violation(f, "task %s: %llu events, %llu expected", id,
                      (unsigned long long)want - 1, (unsigned long long)n) != 0;
      break;
    }
    if (rc) {
      bad += violation(f, "task %s: export: %s", id, err.msg) != 0;
      break;
    }
    if (ev.seq != want) {
      f->duplicates += ev.seq < want;
      bad +=
          violation(f, "task %s: event %llu has seq %llu", id,
                    (unsigned long long)want, (unsigned long long)ev.seq) != 0;
    }
    for (int k = 0; k < K_COUNT; k++)
      if (k != K_DRIVE && ev.kind.len == strlen(cl_kind_name(k)) &&
          !memcmp(ev.kind.ptr, cl_kind_name(k), ev.kind.len))
        ops[k]++;
    for (uint32_t c = 0; c < ev.n_changes; c++) {
      st_jchange ch;
      if (st_jr_change(&r, &ch)) {
        bad += violation(f, "task %s: export: %s", id, err.msg) != 0;
        goto out_free_nodes;
      }
      if (ch.type != ST_JC_STATE && ch.type != ST_JC_HISTORY) continue;
      jnode *j = jnode_of(nodes, &n_nodes, ch.node);
      if (!j) {
        bad += violation(f, "task %s: more than %d nodes", id, NODES_MAX) != 0;
        goto out_free_nodes;
      }
      if (ch.type == ST_JC_HISTORY) {
        j->history++;
        continue;
      }
      int is_reset =
          ch.action.len == 16 && !memcmp(ch.action.ptr, "inner_loop_reset", 16);
      int from = ch.from < 0 ? RATTAN_STATE_CREATED : ch.from;
      if (ch.from != j->state ||
          (is_reset ? ch.to != from : !eng_can_transit(from, ch.to)))
        bad += violation(
                   f,
                   "task %s event %llu node %s: %.*s %s -> %s, "
                   "the record was %s",
                   id, (unsigned long long)want, ch.node, (int)ch.action.len,
                   (const char *)ch.action.ptr, rattan_state_name(from),
                   rattan_state_name(ch.to),
                   j->state < 0 ? "absent" : rattan_state_name(j->state)) != 0;
      if (ch.from < 0) {
        j->loop = 1;
        j->retry = j->skip = 0;
      } else if (ch.action.len == 3 && !memcmp(ch.action.ptr, "run", 3) &&
                 from == RATTAN_STATE_FINISHED) {
        j->loop++;
        j->retry = j->skip = 0;
      } else if (ch.action.len == 5 && !memcmp(ch.action.ptr, "retry", 5)) {
        j->retry++;
      } else if (ch.action.len == 4 && !memcmp(ch.action.ptr, "skip", 4)) {
        j->skip = 1;
      }
      j->state = ch.to;
    }
    if (st_jr_event_end(&r)) {
      bad += violation(f, "task %s: export: %s", id, err.msg) != 0;
      break;
    }
  }
  /* The live records against the journal's account of them. */
  for (int i = 0; i < n_nodes; i++) {
    jnode *j = &nodes[i];
    st_state s;
    uint32_t hist = 0;
    if (j->state < 0) continue; /* history only: impossible, caught below */
    if (eng_node_get(re->e, id, j->id, &s, &err) ||
        eng_node_history_count(re->e, id, j->id, &hist, &err)) {
      bad += violation(f, "task %s node %s: %s", id, j->id, err.msg) != 0;
      continue;
    }
    if (s.state != j->state || s.loop != j->loop || s.retry != j->retry ||
        s.skip != j->skip || hist != j->history)
      bad += violation(f,
                       "task %s node %s: stored %s loop %u retry %u skip %u "
                       "history %u; the journal says %s %u %u %u %u",
                       id, j->id, rattan_state_name(s.state), s.loop, s.retry,
                       s.skip, hist, rattan_state_name(j->state), j->loop,
                       j->retry, j->skip, j->history) != 0;
  }
  /* Operations: one entry per step held, never two. */
  unsigned long want_ops[K_COUNT] = {0};
  for (size_t k = 0; k < pg->resume; k++)
    if (pg->sc->steps[k].task == task) want_ops[pg->sc->steps[k].kind]++;
  for (int k = 0; k < K_COUNT; k++) {
    if (k == K_DRIVE || ops[k] == want_ops[k]) continue;
    if (ops[k] > want_ops[k]) f->duplicates += ops[k] - want_ops[k];
    bad +=
        violation(f, "task %s: %lu %s entries for %lu %s steps held", id,
                  ops[k], cl_kind_name(k), want_ops[k], cl_kind_name(k)) != 0;
  }
out_free_nodes:
  free(nodes);
  return bad;
}

/* Exports each task, replays it into a fresh store at scratch, and
 * compares the replayed task with the live one: every record, and the
 * status answer. */
static int check_replay(figures *f, rattan_engine *re, const progress *pg,
                        const uint64_t *count, const char *scratch) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = RATTAN_DURABILITY_NOSYNC;
  o.clock.kind = RATTAN_CLOCK_FIXED;
  o.clock.start_us = STATUS_NOW;
  rattan_engine *b;
  char msg[512];
  int bad = 0;
  fresh_dir(scratch);
  if (rattan_open(scratch, &o, &b, msg, sizeof msg))
    return violation(f, "replay store: %s", msg);
  for (int t = 0; t < pg->sc->n_tasks; t++) {
    const char *id = pg->sc->tasks[t];
    if (count[t] == 0) continue;
    void *x;
    size_t len;
    if (rattan_export(re, id, &x, &len)) {
      bad += violation(f, "export %s: %s", id, rattan_errmsg(re)) != 0;
      continue;
    }
    bad += check_journal(f, re, pg, t, x, len, count[t]);
    rattan_replay_result res;
    if (rattan_replay(b, x, len, NULL, &res)) {
      bad += violation(f, "replay %s: %s", id, rattan_errmsg(b)) != 0;
      rattan_free(x);
      continue;
    }
    rattan_free(x);
    f->replayed++;
    buf da, db;
    size_t la = 0, lb = 0;
    char *sa = status_of(re, id, &la), *sb = status_of(b, id, &lb);
    int rc = dump_of(re, id, &da) | dump_of(b, id, &db);
    if (rc || !buf_eq(&da, &db))
      bad += violation(f, "task %s: the replayed records differ", id) != 0;
    if (!sa || !sb || la != lb || memcmp(sa, sb, la))
      bad += violation(f, "task %s: the replayed status differs:\n  %s\n  %s",
                       id, sa ? sa : "-", sb ? sb : "-") != 0;
    buf_free(&da);
    buf_free(&db);
    rattan_free(sa);
    rattan_free(sb);
  }
  rattan_close(b);
  return bad;
}

/* Reopens the store in dir after a writer's life and checks it against
 * what the writers reported and the reference; sets pg->resume. Returns
 * the number of problems (each already counted and reported). */
static int check_store(figures *f, progress *pg, const char *dir,
                       const char *scratch, rattan_durability d) {
  const cl_scenario *sc = pg->sc;
  const reference *ref = pg->ref;
  rattan_engine *re;
  char msg[512];
  uint64_t count[CL_TASKS_MAX] = {0};
  double t0 = now_ms();
  if (cl_open(dir, d, sc->seed, &re, msg, sizeof msg))
    return violation(f, "the store does not open: %s", msg) != 0;
  note_reopen(f, now_ms() - t0);
  f->stale += (unsigned long)st_stale_cleared(eng_store(re->e));
  int bad = 0;
  for (int t = 0; t < sc->n_tasks; t++) {
    count[t] = cl_journal_count(re, sc->tasks[t]);
    if (count[t] == UINT64_MAX) {
      bad += violation(f, "task %s: the journal cannot be read", sc->tasks[t]);
      goto out_close;
    }
  }
  /* The steps held: those up to the first whose task's journal falls
   * short of the reference's count after it (an operation is one entry,
   * so it is held whole or not at all; a drive may be held in part). */
  size_t k = 0;
  while (k < sc->n_steps && count[sc->steps[k].task] >= ref->post[k])
    k++;
  pg->resume = k;
  for (int t = 0; t < sc->n_tasks; t++) {
    const char *id = sc->tasks[t];
    /* Acknowledged ⊆ persisted. */
    if (count[t] < pg->acked[t]) {
      f->lost++;
      bad += violation(f, "task %s: %llu entries, %llu acknowledged", id,
                       (unsigned long long)count[t],
                       (unsigned long long)pg->acked[t]) != 0;
    }
    /* Persisted ⊆ attempted: no more than the last step begun on the
     * task (and the first step the store lacks) can have written. */
    uint64_t attempted = 0;
    for (size_t j = 0; j <= k && j < sc->n_steps && (long)j <= pg->begun; j++)
      if (sc->steps[j].task == t) attempted = ref->post[j];
    if (count[t] > attempted)
      bad += violation(f,
                       "task %s: %llu entries, but the steps begun account "
                       "for %llu",
                       id, (unsigned long long)count[t],
                       (unsigned long long)attempted) != 0;
    /* Every entry is the reference's: same change, same versions and
     * times, and none twice. */
    if (count[t] > ref->count[t]) continue; /* reported just above */
    buf got = {0};
    size_t *off = calloc(count[t] + 1, sizeof *off);
    if (!off || journal_of(re, id, count[t], &got, off)) {
      bad += violation(f, "task %s: the journal cannot be read", id) != 0;
    } else if (got.len != ref->off[t][count[t]] ||
               (got.len && memcmp(got.data, ref->journal[t].data, got.len))) {
      uint64_t i = 1;
      while (i <= count[t] && off[i] == ref->off[t][i] &&
             !memcmp(got.data + off[i - 1], ref->journal[t].data + off[i - 1],
                     off[i] - off[i - 1]))
        i++;
      bad += violation(f,
                       "task %s: journal entry %llu differs from the "
                       "uninterrupted run's",
                       id, (unsigned long long)i) != 0;
    }
    free(off);
    buf_free(&got);
  }
  if ((long)k > pg->acked_step + 1) f->unacked_persisted++;
  if (!bad) bad += check_replay(f, re, pg, count, scratch);
out_close:
  rattan_close(re);
  off_t size = data_size(dir);
  if (size > f->size_max) f->size_max = size;
  return bad;
}

/* The end: the store equals the reference store, every record and every
 * status answer. */
static int check_final(figures *f, const progress *pg, const char *dir,
                       rattan_durability d) {
  const cl_scenario *sc = pg->sc;
  rattan_engine *re;
  char msg[512];
  if (pg->resume != sc->n_steps)
    return violation(f, "scenario %llu: finished with step %zu not held",
                     (unsigned long long)sc->seed, pg->resume) != 0;
  if (cl_open(dir, d, sc->seed, &re, msg, sizeof msg))
    return violation(f, "the store does not open: %s", msg) != 0;
  int bad = 0;
  buf all;
  if (dump_of(re, NULL, &all) || !buf_eq(&all, &pg->ref->dump))
    bad += violation(f,
                     "scenario %llu: the store differs from the "
                     "uninterrupted run's (%zu and %zu bytes)",
                     (unsigned long long)sc->seed, all.len,
                     pg->ref->dump.len) != 0;
  buf_free(&all);
  for (int t = 0; t < sc->n_tasks; t++) {
    size_t len = 0;
    char *s = status_of(re, sc->tasks[t], &len);
    if (!s || len != pg->ref->status_len[t] ||
        memcmp(s, pg->ref->status[t], len))
      bad += violation(f,
                       "task %s: the status differs from the "
                       "uninterrupted run's",
                       sc->tasks[t]) != 0;
    rattan_free(s);
  }
  rattan_close(re);
  double growth =
      pg->ref->size ? (double)data_size(dir) / (double)pg->ref->size : 1;
  if (growth > f->growth_max) f->growth_max = growth;
  return bad;
}

/* ---- Writer lives -----------------------------------------------------------
 */

typedef struct life {
  pid_t pid;
  int fd;
  char line[128];
  size_t len;
  int done; /* the writer reported its last step */
} life;

static uint64_t harness_rand(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int spawn(life *l, const char *self, char *const argv[]) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC)) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    /* dup2 clears close-on-exec on the copy the writer gets as fd 3. */
    if (dup2(fds[1], 3) < 0) _exit(120);
    execv(self, argv);
    _exit(121);
  }
  close(fds[1]);
  *l = (life){.pid = pid, .fd = fds[0]};
  return 0;
}

/* Takes the writer's report lines out of what read() gave. */
static int take_lines(figures *f, life *l, progress *pg, const char *p,
                      size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != '\n') {
      if (l->len + 1 < sizeof l->line) l->line[l->len++] = p[i];
      continue;
    }
    l->line[l->len] = '\0';
    l->len = 0;
    unsigned long long k, seq;
    if (l->line[0] == 'b' && sscanf(l->line, "b %llu", &k) == 1) {
      if ((long)k > pg->begun) pg->begun = (long)k;
    } else if (l->line[0] == 'a' &&
               sscanf(l->line, "a %llu %llu", &k, &seq) == 2 &&
               k < pg->sc->n_steps) {
      int t = pg->sc->steps[k].task;
      f->acks++;
      if (seq != pg->ref->post[k])
        violation(f, "step %llu acknowledged at entry %llu, not %llu", k, seq,
                  (unsigned long long)pg->ref->post[k]);
      if (seq > pg->acked[t]) pg->acked[t] = seq;
      if ((long)k > pg->acked_step) pg->acked_step = (long)k;
    } else if (!strcmp(l->line, "d")) {
      l->done = 1;
    } else {
      return violation(f, "unreadable report \"%s\"", l->line);
    }
  }
  return 0;
}

/* Reads reports until the writer closes its end, killing it at deadline
 * (a CLOCK_MONOTONIC reading in ms; 0: never) or after HANG_SECONDS;
 * then reaps it. Returns its wait status, or -1. */
static int live(figures *f, life *l, progress *pg, double deadline) {
  double hang = now_ms() + HANG_SECONDS * 1e3;
  int killed = 0;
  char chunk[4096];
  for (;;) {
    double until = killed ? hang : deadline ? deadline : hang;
    double left = until - now_ms();
    if (left <= 0) {
      if (!killed) {
        kill(l->pid, SIGKILL);
        killed = 1;
        if (until == hang) violation(f, "a writer hung");
        continue;
      }
      break; /* killed, still no EOF: give up reading */
    }
    struct pollfd pfd = {l->fd, POLLIN, 0};
    struct timespec ts = {
        (time_t)(left / 1e3),
        (long)((left - (double)(long)(left / 1e3) * 1e3) * 1e6)};
    int rc = ppoll(&pfd, 1, &ts, NULL);
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    ssize_t n = read(l->fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* the writer is gone */
    take_lines(f, l, pg, chunk, (size_t)n);
  }
  close(l->fd);
  int status;
  if (waitpid(l->pid, &status, 0) != l->pid) return -1;
  return status;
}

/* ---- The loop
 * ----------------------------------------------------------------
 */

typedef struct setup {
  const char *self, *work, *sample_path;
  char *sample;
  size_t sample_len;
  unsigned long kills;
  uint64_t seed;
} setup;

/* Runs scenario number i through writer lives until it finishes; kills
 * while the kill target is not reached. 0, or -1 to stop the loop. */
static int run_scenario(figures *f, const setup *su, uint64_t i,
                        uint64_t *rng) {
  char ref_dir[PATH_MAX], dir[PATH_MAX], scratch[PATH_MAX];
  if (path_join(ref_dir, sizeof ref_dir, su->work, "ref") ||
      path_join(dir, sizeof dir, su->work, "store") ||
      path_join(scratch, sizeof scratch, su->work, "replay")) {
    fprintf(stderr, "crash-loop: %s: path too long\n", su->work);
    return -1;
  }
  /* Durability by turn: flushed, unflushed, grouped, unflushed. */
  static const rattan_durability turns[] = {
      RATTAN_DURABILITY_SYNC, RATTAN_DURABILITY_NOSYNC, RATTAN_DURABILITY_GROUP,
      RATTAN_DURABILITY_NOSYNC};
  rattan_durability d = turns[i % 4];
  cl_scenario sc;
  reference ref;
  uint64_t seed = su->seed * 1000003 + i;
  if (cl_scenario_build(&sc, seed, su->sample, su->sample_len)) {
    fprintf(stderr, "crash-loop: out of memory\n");
    return -1;
  }
  double t0 = now_ms();
  if (reference_run(&sc, d, ref_dir, &ref)) {
    cl_scenario_free(&sc);
    f->violations++;
    return -1;
  }
  if (getenv("CRASH_VERBOSE"))
    fprintf(stderr,
            "scenario %llu: %d tasks, %zu steps, %s, reference %.1f ms\n",
            (unsigned long long)seed, sc.n_tasks, sc.n_steps,
            durability_names[d], now_ms() - t0);
  f->scenarios++;
  f->by_durability[d]++;
  fresh_dir(dir);
  progress pg = {.sc = &sc, .ref = &ref, .begun = -1, .acked_step = -1};
  int ret = 0;
  for (;;) {
    /* How this life ends: a random moment, a named point, or not at all
     * once enough kills were made. */
    int mode = -1;
    unsigned long n = 0;
    double deadline = 0;
    if (f->kills < su->kills) {
      mode = (int)(harness_rand(rng) % 2 ? 0 : 1 + harness_rand(rng) % 4);
      if (mode > 0) {
        unsigned long left = 0;
        for (size_t k = pg.resume; k < sc.n_steps; k++)
          left += ref.points[k][mode - 1];
        if (left == 0)
          mode = 0;
        else
          n = 1 + (unsigned long)(harness_rand(rng) % left);
      }
      if (mode == 0)
        deadline = now_ms() + (double)(harness_rand(rng) % KILL_MAX_US) / 1e3;
    }
    char a_seed[24], a_dur[4], a_from[24], a_kill[48];
    snprintf(a_seed, sizeof a_seed, "%llu", (unsigned long long)seed);
    snprintf(a_dur, sizeof a_dur, "%d", (int)d);
    snprintf(a_from, sizeof a_from, "%zu", pg.resume);
    snprintf(a_kill, sizeof a_kill, "%d:%lu", mode > 0 ? mode - 1 : -1, n);
    char *argv[] = {(char *)su->self,
                    "--writer",
                    dir,
                    "--seed",
                    a_seed,
                    "--durability",
                    a_dur,
                    "--from",
                    a_from,
                    "--kill",
                    a_kill,
                    "--sample",
                    (char *)su->sample_path,
                    NULL};
    life l;
    if (spawn(&l, su->self, argv)) {
      perror("crash-loop: fork");
      ret = -1;
      break;
    }
    f->lives++;
    int status = live(f, &l, &pg, deadline);
    if (getenv("CRASH_VERBOSE"))
      fprintf(stderr, "  life from %zu: %s %lu -> %#x\n", pg.resume,
              mode >= 0 ? mode_names[mode] : "none", n, (unsigned)status);
    int finished = 0;
    if (status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
        mode >= 0) {
      f->kills++;
      f->kills_by[mode]++;
      if (f->kills % 1000 == 0)
        fprintf(stderr, "crash-loop: %lu kills, %lu violations\n", f->kills,
                f->violations);
    } else if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
               l.done) {
      finished = 1;
    } else {
      violation(f, "scenario %llu: the writer ended with status %#x",
                (unsigned long long)seed, (unsigned)status);
      break;
    }
    if (check_store(f, &pg, dir, scratch, d)) break;
    /* A writer killed after its last step's commit left nothing to do. */
    if (finished || pg.resume == sc.n_steps) {
      if (check_final(f, &pg, dir, d) == 0) f->finished++;
      break;
    }
  }
  reference_free(&ref);
  cl_scenario_free(&sc);
  return ret;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(const figures *f, double p) {
  if (!f->n_reopen) return 0;
  size_t i = (size_t)(p * (double)(f->n_reopen - 1) + 0.5);
  return f->reopen_ms[i];
}

static void summary(figures *f, const setup *su, double secs) {
  qsort(f->reopen_ms, f->n_reopen, sizeof *f->reopen_ms, cmp_double);
  printf(
      "crash loop: %lu kills in %lu scenarios (%lu writer lives), seed "
      "%llu, %.0f s\n",
      f->kills, f->scenarios, f->lives, (unsigned long long)su->seed, secs);
  printf("  kills by point:");
  for (int m = 0; m < N_MODES; m++)
    printf(" %s %lu", mode_names[m], f->kills_by[m]);
  printf("\n  scenarios by durability:");
  for (int d = 0; d < 3; d++)
    printf(" %s %lu", durability_names[d], f->by_durability[d]);
  printf("\n  scenarios ending as the uninterrupted run: %lu of %lu\n",
         f->finished, f->scenarios);
  printf("  acks %lu, lost acked %lu, duplicates %lu, violations %lu\n",
         f->acks, f->lost, f->duplicates, f->violations);
  printf("  lives ending with a step held but not acknowledged: %lu\n",
         f->unacked_persisted);
  printf("  journals replayed and compared: %lu\n", f->replayed);
  printf("  reopen ms: p50 %.2f, p99 %.2f, max %.2f (%zu reopens)\n",
         percentile(f, 0.5), percentile(f, 0.99), percentile(f, 1),
         f->n_reopen);
  printf(
      "  data file: largest %.1f KiB; at the end at most %.2fx the "
      "uninterrupted run's\n",
      (double)f->size_max / 1024, f->growth_max);
  printf("  stale reader slots cleared at reopen: %lu\n", f->stale);
}

static int harness(setup *su) {
  char work[PATH_MAX];
  int made = 0;
  if (!su->work) {
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/crash-loop-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
      perror("crash-loop: mkdtemp");
      return 1;
    }
    su->work = work;
    made = 1;
  } else {
    mkdir(su->work, 0700);
  }
  figures f = {0};
  uint64_t rng = su->seed;
  double t0 = now_ms();
  for (uint64_t i = 0; f.kills < su->kills || i == 0; i++) {
    if (run_scenario(&f, su, i, &rng)) break;
    if (f.violations) break;
  }
  summary(&f, su, (now_ms() - t0) / 1e3);
  free(f.reopen_ms);
  if (made) rm_tree(work);
  return f.violations || f.lost || f.duplicates || f.kills < su->kills;
}

/* ---- Entry
 * --------------------------------------------------------------------
 */

static int usage(void) {
  fprintf(stderr,
          "usage: crash-loop [--kills N] [--seed S] [--dir D] [--sample F]\n"
          "       (CRASH_KILLS in the environment sets the default of N)\n");
  return 2;
}

int main(int argc, char **argv) {
  setup su = {
      .sample_path = "tests/data/loop-sample.json", .kills = 200, .seed = 1};
  const char *env = getenv("CRASH_KILLS");
  if (env && *env) su.kills = strtoul(env, NULL, 10);
  const char *writer_dir = NULL;
  int durability = 1, kill_point = -1;
  unsigned long kill_n = 0;
  size_t from = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--keep")) continue;
    if (!v) return usage();
    i++;
    if (!strcmp(a, "--kills"))
      su.kills = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--seed"))
      su.seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--dir"))
      su.work = v;
    else if (!strcmp(a, "--sample"))
      su.sample_path = v;
    else if (!strcmp(a, "--writer"))
      writer_dir = v;
    else if (!strcmp(a, "--durability"))
      durability = atoi(v);
    else if (!strcmp(a, "--from"))
      from = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--kill"))
      sscanf(v, "%d:%lu", &kill_point, &kill_n);
    else
      return usage();
  }
  su.sample = slurp(su.sample_path, &su.sample_len);
  if (!su.sample) {
    fprintf(stderr, "crash-loop: cannot read %s\n", su.sample_path);
    return 2;
  }
  int ret;
  if (writer_dir) {
    cl_scenario sc;
    if (cl_scenario_build(&sc, su.seed, su.sample, su.sample_len)) {
      fprintf(stderr, "crash-loop writer: out of memory\n");
      free(su.sample);
      return 2;
    }
    ret = cl_writer(writer_dir, &sc, (rattan_durability)durability, from, 3,
                    kill_point, kill_n);
    cl_scenario_free(&sc);
  } else {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
      perror("crash-loop: /proc/self/exe");
      free(su.sample);
      return 2;
    }
    self[n] = '\0';
    su.self = self;
    char abs[PATH_MAX];
    if (realpath(su.sample_path, abs)) su.sample_path = abs;
    ret = harness(&su);
  }
  free(su.sample);
  return ret;
}
