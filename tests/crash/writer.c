/*
 * The crash loop's writer side: scenarios, their components, and the
 * writer process that runs steps and acknowledges them on a pipe.
 *
 * Everything here is deterministic in the seed: the harness builds the
 * same scenario in its own process to run the uninterrupted reference,
 * and each writer life builds it again to continue it.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "crash.h"
#include "tests/shapes.h"

/* ---- Scenarios ------------------------------------------------------------
 */

static uint64_t next_rand(uint64_t *s) {
  /* splitmix64: small, and the same on every platform. */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int pick(uint64_t *s, int lo, int hi) {
  return lo + (int)(next_rand(s) % (uint64_t)(hi - lo + 1));
}

static const char *const kind_names[K_COUNT] = {[K_CREATE] = "create",
                                                [K_START] = "start",
                                                [K_DRIVE] = "drive",
                                                [K_RETRY] = "retry",
                                                [K_SKIP] = "skip",
                                                [K_PAUSE] = "pause",
                                                [K_RESUME] = "resume",
                                                [K_NODE_PAUSE] = "node_pause",
                                                [K_NODE_RESUME] = "node_resume",
                                                [K_CALLBACK] = "callback",
                                                [K_FORCED_FAIL] = "forced_fail",
                                                [K_REVOKE] = "revoke"};

const char *cl_kind_name(int kind) {
  return kind >= 0 && kind < K_COUNT ? kind_names[kind] : "?";
}

/* A growable string for definitions; oom is sticky. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_add(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + (size_t)n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

/* A chain s -> a1 .. an -> e; codes[i] runs activity a(i+1), whose input
 * bit is 0 and which is error_ignorable when ignorable[i] is set. */
static char *chain_json(int n, const char *const *codes, const int *ignorable) {
  sbuf b = {0};
  sb_add(&b,
         "{\"id\":\"root\",\"start_event\":{\"id\":\"s\",\"type\":"
         "\"EmptyStartEvent\",\"incoming\":\"\",\"outgoing\":\"f0\"},"
         "\"end_event\":{\"id\":\"e\",\"type\":\"EmptyEndEvent\","
         "\"incoming\":[\"f%d\"],\"outgoing\":\"\"},\"activities\":{",
         n);
  for (int i = 1; i <= n; i++)
    sb_add(&b,
           "%s\"a%d\":{\"id\":\"a%d\",\"type\":\"ServiceActivity\","
           "\"incoming\":[\"f%d\"],\"outgoing\":\"f%d\",\"component\":"
           "{\"code\":\"%s\",\"inputs\":{\"bit\":{\"type\":\"plain\","
           "\"value\":0}}},\"error_ignorable\":%s,\"skippable\":true,"
           "\"retryable\":true}",
           i > 1 ? "," : "", i, i, i - 1, i, codes[i - 1],
           ignorable[i - 1] ? "true" : "false");
  sb_add(&b, "},\"gateways\":{},\"flows\":{");
  for (int i = 0; i <= n; i++) {
    char src[8], dst[8];
    snprintf(src, sizeof src, i ? "a%d" : "s", i);
    snprintf(dst, sizeof dst, i < n ? "a%d" : "e", i + 1);
    sb_add(&b, "%s\"f%d\":{\"id\":\"f%d\",\"source\":\"%s\",\"target\":\"%s\"}",
           i ? "," : "", i, i, src, dst);
  }
  sb_add(&b, "},\"data\":{\"inputs\":{},\"outputs\":[]}}");
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* The steps of one task, in order, before they are interleaved. */
typedef struct block {
  cl_step steps[64];
  int n, next;
} block;

static void add(block *bl, int kind, int task, const char *node,
                const char *text) {
  cl_step *s = &bl->steps[bl->n++];
  *s = (cl_step){.kind = kind, .task = task};
  if (node) snprintf(s->node, sizeof s->node, "%s", node);
  if (text) snprintf(s->text, sizeof s->text, "%s", text);
}

static char *dup_text(const char *p, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, p, n);
    d[n] = '\0';
  }
  return d;
}

/* Each task gets one shape and its script:
 *   loop     the SOPS loop sample: timers on the virtual clock, an
 *            exclusive gateway and four loop rounds; sometimes paused and
 *            resumed before it runs;
 *   fan      a parallel fan-out, one node paused by appointment and
 *            resumed after the other branches ran;
 *   flaky    a chain whose flaky activities fail until retried with
 *            bit 1 or skipped (some retried once in vain first; some
 *            error_ignorable, needing nothing);
 *   callback a chain waiting on a callback and on three multi-callbacks,
 *            with a task pause/resume or a forced fail and retry in
 *            between;
 *   revoke   a fan-out revoked while a node pause holds a branch. */
enum { SH_LOOP, SH_FAN, SH_FLAKY, SH_CALLBACK, SH_REVOKE, SH_COUNT };

static int build_task(cl_scenario *sc, block *bl, int t, uint64_t *r,
                      const char *sample, size_t sample_len) {
  int shape = pick(r, 0, SH_COUNT - 1);
  char node[16];
  add(bl, K_CREATE, t, NULL, NULL);
  add(bl, K_START, t, NULL, NULL);
  switch (shape) {
    case SH_LOOP:
      sc->defs[t] = dup_text(sample, sample_len);
      if (pick(r, 0, 2) == 0) {
        add(bl, K_PAUSE, t, NULL, NULL);
        add(bl, K_DRIVE, t, NULL, NULL);
        add(bl, K_RESUME, t, NULL, NULL);
      }
      add(bl, K_DRIVE, t, NULL, NULL);
      break;
    case SH_FAN:
    case SH_REVOKE: {
      int branches = pick(r, 2, 6), len = pick(r, 2, 8);
      char *json = shape_fan_out(branches, len);
      if (json) sc->defs[t] = dup_text(json, strlen(json));
      rt_free(json);
      snprintf(node, sizeof node, "a%d_%d", pick(r, 0, branches - 1),
               pick(r, 1, len - 1));
      add(bl, K_NODE_PAUSE, t, node, NULL);
      add(bl, K_DRIVE, t, NULL, NULL);
      if (shape == SH_REVOKE) {
        add(bl, K_REVOKE, t, NULL, NULL);
      } else {
        add(bl, K_NODE_RESUME, t, node, NULL);
      }
      add(bl, K_DRIVE, t, NULL, NULL);
      break;
    }
    case SH_FLAKY: {
      int n = pick(r, 3, 6), ignorable[6] = {0};
      const char *codes[6];
      add(bl, K_DRIVE, t, NULL, NULL);
      for (int i = 0; i < n; i++) {
        codes[i] = pick(r, 0, 1) ? "flaky" : "noop";
        if (strcmp(codes[i], "flaky")) continue;
        ignorable[i] = pick(r, 0, 4) == 0;
        if (ignorable[i]) continue;
        snprintf(node, sizeof node, "a%d", i + 1);
        if (pick(r, 0, 3) == 0) { /* a retry that fails again */
          add(bl, K_RETRY, t, node, NULL);
          add(bl, K_DRIVE, t, NULL, NULL);
        }
        if (pick(r, 0, 1))
          add(bl, K_RETRY, t, node, "{\"bit\":1}");
        else
          add(bl, K_SKIP, t, node, NULL);
        add(bl, K_DRIVE, t, NULL, NULL);
      }
      sc->defs[t] = chain_json(n, codes, ignorable);
      break;
    }
    default: { /* SH_CALLBACK */
      const char *codes[] = {"noop", "cb", "mcb", "noop"};
      int ignorable[4] = {0};
      sc->defs[t] = chain_json(4, codes, ignorable);
      add(bl, K_DRIVE, t, NULL, NULL);
      switch (pick(r, 0, 2)) {
        case 0:
          add(bl, K_PAUSE, t, NULL, NULL);
          add(bl, K_DRIVE, t, NULL, NULL);
          add(bl, K_RESUME, t, NULL, NULL);
          add(bl, K_DRIVE, t, NULL, NULL);
          break;
        case 1:
          add(bl, K_FORCED_FAIL, t, "a2", NULL);
          add(bl, K_RETRY, t, "a2", NULL);
          add(bl, K_DRIVE, t, NULL, NULL);
          break;
        default:
          break;
      }
      add(bl, K_CALLBACK, t, "a2", "{\"k\":1}");
      add(bl, K_DRIVE, t, NULL, NULL);
      add(bl, K_CALLBACK, t, "a3", "{\"n\":1}");
      add(bl, K_DRIVE, t, NULL, NULL);
      add(bl, K_CALLBACK, t, "a3", "{\"n\":2}");
      add(bl, K_CALLBACK, t, "a3", "{\"n\":3}");
      add(bl, K_DRIVE, t, NULL, NULL);
      break;
    }
  }
  return sc->defs[t] ? 0 : -1;
}

int cl_scenario_build(cl_scenario *sc, uint64_t seed, const char *sample,
                      size_t sample_len) {
  *sc = (cl_scenario){.seed = seed};
  uint64_t r = seed;
  sc->n_tasks = pick(&r, 8, CL_TASKS_MAX);
  block *bl = calloc((size_t)sc->n_tasks, sizeof *bl);
  if (!bl) return -1;
  size_t total = 0;
  for (int t = 0; t < sc->n_tasks; t++) {
    snprintf(sc->tasks[t], sizeof sc->tasks[t], "t%d", t);
    if (build_task(sc, &bl[t], t, &r, sample, sample_len)) goto out_free_all;
    total += (size_t)bl[t].n;
  }
  if (!(sc->steps = calloc(total, sizeof *sc->steps))) goto out_free_all;
  /* Interleave: each step comes from a task chosen at random among those
   * with steps left, so tasks' writes mix in the store (shared version
   * generator and clock). */
  while (sc->n_steps < total) {
    int t = pick(&r, 0, sc->n_tasks - 1);
    while (bl[t].next == bl[t].n)
      t = (t + 1) % sc->n_tasks;
    sc->steps[sc->n_steps++] = bl[t].steps[bl[t].next++];
  }
  free(bl);
  return 0;

out_free_all:
  free(bl);
  cl_scenario_free(sc);
  return -1;
}

void cl_scenario_free(cl_scenario *sc) {
  for (int t = 0; t < CL_TASKS_MAX; t++)
    free(sc->defs[t]);
  free(sc->steps);
  *sc = (cl_scenario){0};
}

/* ---- Components ------------------------------------------------------------
 * Pure functions of their inputs and of what the store holds (times,
 * callback data), so a call run again after a crash gives the same
 * result. */

/* flaky: succeeds when input bit is 1. */
static int flaky_execute(rattan_call *c, void *ctx) {
  (void)ctx;
  const char *bit = rattan_call_input(c, "bit");
  if (bit && !strcmp(bit, "1")) return rattan_call_set_output_int(c, "ok", 1);
  rattan_call_fail(c, "flaky: bit is not 1");
  return 1;
}

static int wait_execute(rattan_call *c, void *ctx) {
  (void)c;
  (void)ctx;
  return 0;
}

/* cb: one callback finishes it, its data the output. */
static int cb_schedule(rattan_call *c, void *ctx) {
  (void)ctx;
  const char *d = rattan_call_callback_data(c);
  return rattan_call_set_output(c, "cb", d ? d : "null");
}

/* mcb: each callback's data is kept; the third finishes it. */
static int mcb_schedule(rattan_call *c, void *ctx) {
  (void)ctx;
  char key[16];
  const char *d = rattan_call_callback_data(c);
  snprintf(key, sizeof key, "cb%u", rattan_call_times(c));
  int rc = rattan_call_set_output(c, key, d ? d : "null");
  if (rattan_call_times(c) >= 3) rattan_call_finish_schedule(c);
  return rc;
}

int cl_open(const char *dir, rattan_durability d, uint64_t seed,
            rattan_engine **out, char *msg, size_t msg_len) {
  rattan_options o;
  rattan_options_init(&o);
  o.durability = d;
  o.clock.kind = RATTAN_CLOCK_VIRTUAL;
  o.clock.start_us = CL_T0;
  o.has_seed = 1;
  o.seed = seed;
  o.group_window_us = 1000000; /* batches close by count, not by time */
  o.group_max = 5;
  int rc = rattan_open(dir, &o, out, msg, msg_len);
  if (rc) return rc;
  const rattan_component comps[] = {{.code = "flaky", .execute = flaky_execute},
                                    {.code = "cb",
                                     .schedule = RATTAN_SCHEDULE_CALLBACK,
                                     .execute = wait_execute,
                                     .schedule_fn = cb_schedule},
                                    {.code = "mcb",
                                     .schedule = RATTAN_SCHEDULE_MULTI_CALLBACK,
                                     .execute = wait_execute,
                                     .schedule_fn = mcb_schedule}};
  for (size_t i = 0; i < sizeof comps / sizeof comps[0]; i++)
    if ((rc = rattan_component_register(*out, &comps[i]))) {
      snprintf(msg, msg_len, "register %s: %s", comps[i].code,
               rattan_errmsg(*out));
      rattan_close(*out);
      *out = NULL;
      return rc;
    }
  return 0;
}

int cl_step_run(rattan_engine *e, const cl_scenario *sc, const cl_step *s,
                char *msg, size_t msg_len) {
  const char *task = sc->tasks[s->task];
  const char *text = s->text[0] ? s->text : NULL;
  int rc;
  switch (s->kind) {
    case K_CREATE: {
      rattan_task_options o = {.id = task};
      char id[RATTAN_ID_MAX + 1];
      const char *def = sc->defs[s->task];
      rc = rattan_task_create(e, def, strlen(def), &o, id);
      break;
    }
    case K_START:
      rc = rattan_task_start(e, task);
      break;
    case K_DRIVE: {
      rattan_drive_result r;
      rc = rattan_drive(e, task, 0, &r);
      if (rc == 0 && r.more) {
        snprintf(msg, msg_len, "drive %s: work left without a budget", task);
        return RATTAN_ESTATE;
      }
      break;
    }
    case K_RETRY:
      rc = rattan_node_retry(e, task, s->node, text);
      break;
    case K_SKIP:
      rc = rattan_node_skip(e, task, s->node);
      break;
    case K_PAUSE:
      rc = rattan_task_pause(e, task);
      break;
    case K_RESUME:
      rc = rattan_task_resume(e, task);
      break;
    case K_NODE_PAUSE:
      rc = rattan_node_pause(e, task, s->node);
      break;
    case K_NODE_RESUME:
      rc = rattan_node_resume(e, task, s->node);
      break;
    case K_CALLBACK:
      rc = rattan_node_callback(e, task, s->node, text, NULL);
      break;
    case K_FORCED_FAIL:
      rc = rattan_node_forced_fail(e, task, s->node, "crash loop");
      break;
    default: /* K_REVOKE */
      rc = rattan_task_revoke(e, task);
      break;
  }
  if (rc)
    snprintf(msg, msg_len, "%s %s %s: %s", cl_kind_name(s->kind), task, s->node,
             rattan_errmsg(e));
  return rc;
}

uint64_t cl_journal_count(rattan_engine *e, const char *task) {
  st_txn *t;
  errbuf err = {0};
  uint64_t n = 0;
  if (st_read_begin(eng_store(e->e), &t, &err)) return UINT64_MAX;
  int rc = st_journal_count(t, task, &n, &err);
  st_read_end(t);
  if (rc == RATTAN_ENOTFOUND) return 0;
  return rc ? UINT64_MAX : n;
}

/* ---- The writer process
 * ------------------------------------------------------
 */

static int kill_point = -1;
static unsigned long kill_left;

/* The store's crash points, and the writer's own "before acknowledging":
 * the kill_left-th arrival at kill_point ends the process at once. */
static void at_point(int point) {
  if (point == kill_point && --kill_left == 0) kill(getpid(), SIGKILL);
}

/* One line in one write(2): a pipe never splits writes of up to PIPE_BUF
 * bytes, so the harness sees whole lines or none. */
static int report(int fd, const char *line) {
  size_t n = strlen(line);
  return write(fd, line, n) == (ssize_t)n ? 0 : -1;
}

int cl_writer(const char *dir, const cl_scenario *sc, rattan_durability d,
              size_t from, int ack_fd, int point, unsigned long n) {
  rattan_engine *e;
  char msg[512], line[64];
  if (cl_open(dir, d, sc->seed, &e, msg, sizeof msg)) {
    fprintf(stderr, "crash-loop writer: %s\n", msg);
    return 2;
  }
  kill_point = point;
  kill_left = n;
  /* Set only after the open: its own schema write is not a step's. */
  if (point >= 0 && point < CL_POINT_ACK) st_set_point_hook(at_point);
  int ret = 0;
  for (size_t k = from; k < sc->n_steps; k++) {
    const cl_step *s = &sc->steps[k];
    snprintf(line, sizeof line, "b %zu\n", k);
    if (report(ack_fd, line)) goto out_report_failed;
    if (cl_step_run(e, sc, s, msg, sizeof msg)) {
      fprintf(stderr, "crash-loop writer: step %zu: %s\n", k, msg);
      ret = 3;
      goto out_close;
    }
    if (s->kind == K_DRIVE) {
      /* As a host watching its task would: a read transaction a kill may
       * interrupt, leaving a reader slot for the next open to clear. */
      char *status = NULL;
      size_t len;
      rattan_task_status(e, sc->tasks[s->task], NULL, &status, &len);
      rattan_free(status);
    }
    uint64_t seq = cl_journal_count(e, sc->tasks[s->task]);
    at_point(CL_POINT_ACK);
    snprintf(line, sizeof line, "a %zu %llu\n", k, (unsigned long long)seq);
    if (report(ack_fd, line)) goto out_report_failed;
  }
  if (report(ack_fd, "d\n")) goto out_report_failed;
  goto out_close;

out_report_failed:
  perror("crash-loop writer: report");
  ret = 4;
out_close:
  st_set_point_hook(NULL);
  rattan_close(e);
  return ret;
}
