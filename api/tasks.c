/* Definitions and tasks: rattan_validate, rattan_task_create,
 * rattan_task_definition. */
#include <stdio.h>
#include <string.h>

#include "api_int.h"

void rattan_free(void *p) {
  rt_free(p);
}

typedef struct first_problem {
  rattan_problem_fn fn;
  void *ctx;
  char first[384];
} first_problem;

static void forward(void *ctx, const char *path, const char *reason) {
  first_problem *f = ctx;
  if (!f->first[0]) snprintf(f->first, sizeof f->first, "%s: %s", path, reason);
  if (f->fn) f->fn(f->ctx, path, reason);
}

int rattan_validate(const char *json, size_t len, const char *template_id,
                    rattan_problem_fn fn, void *ctx) {
  if (!json) return RATTAN_EINVAL;
  eng_problems probs = {0};
  int rc = eng_validate(json, len, template_id, &probs);
  first_problem f = {fn, ctx, ""};
  eng_problems_each(&probs, forward, &f);
  eng_problems_free(&probs);
  return rc;
}

int rattan_task_create(rattan_engine *re, const char *json, size_t len,
                       const rattan_task_options *o,
                       char id[RATTAN_ID_MAX + 1]) {
  if (!re || !json || !id)
    return err_set(re ? &re->err : NULL, RATTAN_EINVAL,
                   "rattan_task_create: %s is required",
                   !re     ? "e"
                   : !json ? "json"
                           : "id");
  rattan_task_options none = {0};
  if (!o) o = &none;
  eng_task_opts eo = {o->id, o->name, o->template_id, o->project};
  eng_problems probs = {0};
  int rc = eng_task_create(re->e, json, len, &eo, &probs, id, &re->err);
  if (rc == RATTAN_EDEF) {
    first_problem f = {o->on_problem, o->ctx, ""};
    eng_problems_each(&probs, forward, &f);
    err_set(&re->err, rc, "%s%s", f.first,
            probs.count > 1 ? " (and more problems)" : "");
  }
  eng_problems_free(&probs);
  return rc;
}

int rattan_task_definition(rattan_engine *re, const char *task, char **json,
                           size_t *len) {
  if (!re || !task || !json || !len)
    return err_set(re ? &re->err : NULL, RATTAN_EINVAL,
                   "rattan_task_definition: missing argument");
  *json = NULL;
  *len = 0;
  return eng_task_definition(re->e, task, json, len, &re->err);
}

int rattan_task_project(rattan_engine *re, const char *task,
                        char out[RATTAN_ID_MAX + 1]) {
  if (!re || !task || !out)
    return err_set(re ? &re->err : NULL, RATTAN_EINVAL,
                   "rattan_task_project: missing argument");
  st_task t;
  int rc = eng_task_get(re->e, task, &t, &re->err);
  if (rc == 0) memcpy(out, t.project, sizeof t.project);
  return rc;
}
