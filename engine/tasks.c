/* Creating tasks from pipeline trees, and reading their definitions. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "defparse.h"
#include "engine_int.h"

int eng_plain_id(const char *s, size_t n) {
  if (n == 0 || n > ST_ID_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return 0;
  }
  return 1;
}

/* Task and project ids travel in URLs and file names: keep them plain. */
static int check_task_id(const char *what, const char *id, errbuf *err) {
  size_t n = strlen(id);
  if (n == 0 || n > ST_ID_MAX)
    return err_set(err, RATTAN_EINVAL, "%s id \"%.64s\": %s", what, id,
                   n ? "longer than 64 bytes" : "empty");
  if (!eng_plain_id(id, n))
    return err_set(err, RATTAN_EINVAL,
                   "%s id \"%s\": only letters, digits, '-', '_' and '.' "
                   "are allowed",
                   what, id);
  return 0;
}

typedef struct create_ctx {
  const st_def *def;
  const eng_task_opts *o;
  const char *name;
  st_task rec; /* filled in on each run */
} create_ctx;

static int create_run(eng_txn *t, void *ctx, errbuf *err) {
  create_ctx *c = ctx;
  st_txn *st = eng_txn_store(t);
  st_task old;
  memset(&c->rec, 0, sizeof c->rec);
  if (c->o->id) {
    snprintf(c->rec.id, sizeof c->rec.id, "%s", c->o->id);
    int rc = st_task_get(st, c->rec.id, &old, err);
    if (rc == 0)
      return err_set(err, RATTAN_EEXIST, "task %s already exists", c->rec.id);
    if (rc != RATTAN_ENOTFOUND) return rc;
  } else {
    for (;;) {
      uint64_t n;
      int rc = st_task_seq(st, &n, err);
      if (rc) return rc;
      snprintf(c->rec.id, sizeof c->rec.id, "%llu", (unsigned long long)n);
      rc = st_task_get(st, c->rec.id, &old, err);
      if (rc == RATTAN_ENOTFOUND) break;
      if (rc) return rc;
    }
  }
  snprintf(c->rec.name, sizeof c->rec.name, "%s",
           c->name && *c->name ? c->name : c->rec.id);
  snprintf(c->rec.root, sizeof c->rec.root, "%s",
           c->def->pool + c->def->pipes[0].id);
  snprintf(c->rec.project, sizeof c->rec.project, "%s",
           c->o->project ? c->o->project : "");
  c->rec.created = eng_txn_now(t);
  int rc = eng_journal(t, c->rec.id, c->def, "create", err);
  if (rc || (rc = st_task_put(st, &c->rec, err))) return rc;
  return st_def_put(st, c->rec.id, c->def, err);
}

int eng_task_create(eng *e, const char *json, size_t len,
                    const eng_task_opts *o, eng_problems *problems,
                    char id[ST_ID_MAX + 1], errbuf *err) {
  int rc;
  if (o->id && (rc = check_task_id("task", o->id, err))) return rc;
  if (o->project && *o->project &&
      (rc = check_task_id("project", o->project, err)))
    return rc;
  if (o->name && strlen(o->name) > ST_NAME_MAX)
    return err_set(err, RATTAN_EINVAL, "task name: %zu bytes, the limit is %d",
                   strlen(o->name), ST_NAME_MAX);
  /* Names go into CBOR text strings and JSON: they must be UTF-8. */
  if (o->name && !rt_utf8_valid(o->name, strlen(o->name)))
    return err_set(err, RATTAN_EINVAL, "task name: not valid UTF-8");
  st_def def;
  char name[ST_NAME_MAX + 1];
  def_options dopt = {.template_id = o->template_id};
  rc = def_compile(json, len, &dopt, &def, problems, name);
  if (rc == RATTAN_ENOMEM)
    return err_set(err, rc, "pipeline definition: out of memory");
  if (rc)
    return err_set(err, rc, "pipeline definition: %u problem%s",
                   problems->count, problems->count == 1 ? "" : "s");
  create_ctx c = {.def = &def, .o = o, .name = o->name ? o->name : name};
  rc = eng_write(e, create_run, &c, err);
  if (rc == 0) snprintf(id, ST_ID_MAX + 1, "%s", c.rec.id);
  st_def_free(&def);
  return rc;
}

int eng_validate(const char *json, size_t len, const char *template_id,
                 eng_problems *problems) {
  st_def def;
  def_options dopt = {.template_id = template_id, .all_templates = 1};
  int rc = def_compile(json, len, &dopt, &def, problems, NULL);
  st_def_free(&def);
  return rc;
}

void eng_problems_free(eng_problems *p) {
  diag_free(p);
}

void eng_problems_each(const eng_problems *p,
                       void (*fn)(void *ctx, const char *path,
                                  const char *reason),
                       void *ctx) {
  diag_each(p, fn, ctx);
}

int eng_task_definition(eng *e, const char *task, char **json, size_t *len,
                        errbuf *err) {
  st_txn *t;
  st_def def;
  int rc = st_read_begin(e->st, &t, err);
  if (rc) return rc;
  rc = st_def_get(t, task, &def, err);
  st_read_end(t);
  if (rc == RATTAN_ENOTFOUND)
    return err_set(err, rc, "task %s does not exist", task);
  if (rc) return rc;
  json_t *tree = def_to_json(&def);
  st_def_free(&def);
  char *s = tree ? jdump_text(tree) : NULL;
  json_decref(tree);
  if (!s) return err_set(err, RATTAN_ENOMEM, "task %s: out of memory", task);
  /* jansson allocates through rt_malloc (see rattan_set_allocator). */
  *json = s;
  *len = strlen(s);
  return 0;
}

int eng_task_get(eng *e, const char *task, st_task *out, errbuf *err) {
  st_txn *t;
  int rc = st_read_begin(eng_store(e), &t, err);
  if (rc) return rc;
  rc = st_task_get(t, task, out, err);
  st_read_end(t);
  if (rc == RATTAN_ENOTFOUND)
    return err_set(err, rc, "task %s: no such task", task);
  return rc;
}

typedef struct each_ctx {
  st_txn *t;
  int (*fn)(void *ctx, const st_task *task, int state);
  void *ctx;
  errbuf *err;
  int rc;
} each_ctx;

static int each_one(const st_task *task, void *ctx) {
  each_ctx *c = ctx;
  st_state s;
  int rc = st_state_get(c->t, task->id, task->root, &s, c->err);
  if (rc && rc != RATTAN_ENOTFOUND) return c->rc = rc;
  return c->fn(c->ctx, task, rc ? RATTAN_STATE_CREATED : s.state);
}

int eng_task_each(eng *e, int (*fn)(void *ctx, const st_task *task, int state),
                  void *ctx, errbuf *err) {
  st_txn *t;
  int rc = st_read_begin(eng_store(e), &t, err);
  if (rc) return rc;
  each_ctx c = {t, fn, ctx, err, 0};
  rc = st_task_each(t, each_one, &c, err);
  st_read_end(t);
  return c.rc ? c.rc : rc;
}

json_t *eng_def_to_json(const st_def *d) {
  return def_to_json(d);
}
