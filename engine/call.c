/*
 * Components: the registry of each engine, and the rattan_call accessors a
 * component uses while it runs (the public side of run_int.h's struct).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "builtins.h"
#include "run_int.h"

char *text_printf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *p = n < 0 ? NULL : rt_malloc((size_t)n + 1);
  if (!p) return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

/* ---- Registry -------------------------------------------------------------
 */

const comp *comp_find(eng *e, const char *code) {
  for (size_t i = 0; i < e->n_comps; i++)
    if (!strcmp(e->comps[i].code, code)) return &e->comps[i];
  return NULL;
}

int eng_component_register(eng *e, const rattan_component *c, errbuf *err) {
  if (!c || !c->code || !*c->code || !c->execute)
    return err_set(err, RATTAN_EINVAL, "component: code and execute required");
  if (c->schedule < RATTAN_SCHEDULE_NONE ||
      c->schedule > RATTAN_SCHEDULE_MULTI_CALLBACK)
    return err_set(err, RATTAN_EINVAL, "component %s: unknown schedule type %d",
                   c->code, (int)c->schedule);
  if (c->schedule != RATTAN_SCHEDULE_NONE && !c->schedule_fn)
    return err_set(err, RATTAN_EINVAL,
                   "component %s: a scheduled component needs schedule_fn",
                   c->code);
  if (c->schedule == RATTAN_SCHEDULE_POLL && c->interval_us <= 0)
    return err_set(err, RATTAN_EINVAL,
                   "component %s: a poll interval must be positive", c->code);
  comp *old = (comp *)comp_find(e, c->code);
  if (old) {
    char *code = old->code;
    old->c = *c;
    old->c.code = old->code = code;
    return 0;
  }
  size_t n = strlen(c->code);
  char *code = rt_malloc(n + 1);
  comp *grown =
      code ? rt_realloc(e->comps, (e->n_comps + 1) * sizeof *grown) : NULL;
  if (!grown) {
    rt_free(code);
    return err_set(err, RATTAN_ENOMEM, "component %s: out of memory", c->code);
  }
  memcpy(code, c->code, n + 1);
  e->comps = grown;
  e->comps[e->n_comps] = (comp){.code = code, .c = *c};
  e->comps[e->n_comps++].c.code = code;
  return 0;
}

int eng_register_builtins(eng *e, errbuf *err) {
  size_t n;
  const rattan_component *b = eng_builtins(&n);
  for (size_t i = 0; i < n; i++) {
    int rc = eng_component_register(e, &b[i], err);
    if (rc) return rc;
  }
  return 0;
}

void comp_free_all(eng *e) {
  for (size_t i = 0; i < e->n_comps; i++)
    rt_free(e->comps[i].code);
  rt_free(e->comps);
  e->comps = NULL;
  e->n_comps = 0;
}

/* ---- Calls ----------------------------------------------------------------
 */

void call_done(rattan_call *call) {
  for (size_t i = 0; i < call->n_texts; i++)
    rt_free(call->texts[i]);
  rt_free(call->texts);
  rt_free(call->ex_data);
  call->texts = NULL;
  call->n_texts = 0;
  call->ex_data = NULL;
}

/* Keeps t (rt_malloc'd) until the call ends; NULL when out of memory. */
static const char *keep(rattan_call *c, char *t) {
  char **grown =
      t ? rt_realloc(c->texts, (c->n_texts + 1) * sizeof *grown) : NULL;
  if (!grown) {
    rt_free(t);
    c->oom = 1;
    return NULL;
  }
  c->texts = grown;
  c->texts[c->n_texts++] = t;
  return t;
}

static const char *json_text(rattan_call *c, const json_t *v) {
  return v ? keep(c, jdump_text(v)) : NULL;
}

const char *rattan_call_task(const rattan_call *c) {
  return c->task;
}
const char *rattan_call_node(const rattan_call *c) {
  return c->node;
}
unsigned rattan_call_loop(const rattan_call *c) {
  return c->loop;
}
unsigned rattan_call_times(const rattan_call *c) {
  return c->times;
}
int64_t rattan_call_now(const rattan_call *c) {
  return c->now;
}

const char *rattan_call_input(rattan_call *c, const char *key) {
  return json_text(c, json_object_get(c->inputs, key));
}

const char *rattan_call_input_text(rattan_call *c, const char *key) {
  json_t *v = json_object_get(c->inputs, key);
  return json_is_string(v) ? json_string_value(v) : json_text(c, v);
}

const char *rattan_call_output(rattan_call *c, const char *key) {
  return json_text(c, json_object_get(c->outputs, key));
}

const char *rattan_call_callback_data(const rattan_call *c) {
  return c->callback_data;
}

/* Stores v (NULL when it could not be made) as output key. failures is
 * rt_alloc_failures() before v was made: an allocation that failed since
 * makes the result RATTAN_ENOMEM and marks the call, so the drive
 * returns RATTAN_ENOMEM instead of storing whatever the component makes
 * of the error (a failed node, or a node finished without the output). */
static int set_output(rattan_call *c, const char *key, json_t *v,
                      unsigned failures) {
  if (key && v) {
    if (json_object_set_new(c->outputs, key, v) == 0) return 0;
  } else {
    json_decref(v);
  }
  if (rt_alloc_failures() == failures) return RATTAN_EINVAL;
  c->oom = 1;
  return RATTAN_ENOMEM;
}

int rattan_call_set_output(rattan_call *c, const char *key, const char *json) {
  json_error_t je;
  unsigned failures = rt_alloc_failures();
  json_t *v = json ? jparse_str(json, JSON_DECODE_ANY, &je) : NULL;
  return set_output(c, key, v, failures);
}

int rattan_call_set_output_text(rattan_call *c, const char *key,
                                const char *text) {
  unsigned failures = rt_alloc_failures();
  return set_output(c, key, text ? json_string(text) : NULL, failures);
}

int rattan_call_set_output_int(rattan_call *c, const char *key, int64_t v) {
  unsigned failures = rt_alloc_failures();
  return set_output(c, key, json_integer(v), failures);
}

void rattan_call_fail(rattan_call *c, const char *ex_data) {
  rt_free(c->ex_data);
  c->ex_data = NULL;
  if (!ex_data) return;
  size_t n = strlen(ex_data);
  if (!(c->ex_data = rt_malloc(n + 1))) {
    c->oom = 1;
    return;
  }
  memcpy(c->ex_data, ex_data, n + 1);
}

void rattan_call_finish_schedule(rattan_call *c) {
  c->finish = 1;
}

void rattan_call_poll_after(rattan_call *c, int64_t us) {
  c->poll_after = us < 0 ? 0 : us;
}
