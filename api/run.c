/* Running tasks: components, rattan_drive, operations and node reads. */
#include <stdio.h>
#include <string.h>

#include "api_int.h"

/* Checks the handle and the required strings of a call. */
#define REQUIRE(re, cond, fn)                                                \
  do {                                                                       \
    if (!(re)) return RATTAN_EINVAL;                                         \
    if (!(cond))                                                             \
      return err_set(&(re)->err, RATTAN_EINVAL, "%s: missing argument", fn); \
  } while (0)

int rattan_component_register(rattan_engine *re, const rattan_component *c) {
  REQUIRE(re, c, "rattan_component_register");
  return eng_component_register(re->e, c, &re->err);
}

int rattan_drive(rattan_engine *re, const char *task, unsigned budget,
                 rattan_drive_result *r) {
  REQUIRE(re, r, "rattan_drive");
  *r = (rattan_drive_result){.next_due_us = RATTAN_NO_TIME};
  st_task t;
  if (task) {
    /* A missing task is an error, not "nothing to do". */
    int rc = eng_task_get(re->e, task, &t, &re->err);
    if (rc) return rc;
  }
  eng_drive_result er;
  int rc = eng_drive(re->e, task, budget, &er, &re->err);
  *r = (rattan_drive_result){er.steps, er.next_due, er.more};
  return rc;
}

static int operate(rattan_engine *re, int kind, const char *task,
                   const char *node, const char *text) {
  REQUIRE(re, task, "operation");
  eng_op op = {.kind = kind, .task = task, .node = node, .text = text};
  return eng_operate(re->e, &op, &re->err);
}

int rattan_task_start(rattan_engine *re, const char *task) {
  return operate(re, OP_START, task, NULL, NULL);
}
int rattan_task_pause(rattan_engine *re, const char *task) {
  return operate(re, OP_PAUSE, task, NULL, NULL);
}
int rattan_task_resume(rattan_engine *re, const char *task) {
  return operate(re, OP_RESUME, task, NULL, NULL);
}
int rattan_task_revoke(rattan_engine *re, const char *task) {
  return operate(re, OP_REVOKE, task, NULL, NULL);
}
int rattan_node_retry(rattan_engine *re, const char *task, const char *node,
                      const char *inputs) {
  return operate(re, OP_RETRY, task, node, inputs);
}
int rattan_node_skip(rattan_engine *re, const char *task, const char *node) {
  return operate(re, OP_SKIP, task, node, NULL);
}
int rattan_node_skip_exg(rattan_engine *re, const char *task, const char *node,
                         const char *flow_id) {
  return operate(re, OP_SKIP_EXG, task, node, flow_id);
}
int rattan_node_skip_cpg(rattan_engine *re, const char *task, const char *node,
                         const char *const *flow_ids, size_t n) {
  REQUIRE(re, task && (flow_ids || !n), "rattan_node_skip_cpg");
  eng_op op = {.kind = OP_SKIP_CPG,
               .task = task,
               .node = node,
               .flows = flow_ids,
               .n_flows = n};
  return eng_operate(re->e, &op, &re->err);
}
int rattan_node_pause(rattan_engine *re, const char *task, const char *node) {
  return operate(re, OP_NODE_PAUSE, task, node, NULL);
}
int rattan_node_resume(rattan_engine *re, const char *task, const char *node) {
  return operate(re, OP_NODE_RESUME, task, node, NULL);
}
int rattan_subprocess_pause(rattan_engine *re, const char *task,
                            const char *node) {
  return operate(re, OP_SUB_PAUSE, task, node, NULL);
}
int rattan_subprocess_resume(rattan_engine *re, const char *task,
                             const char *node) {
  return operate(re, OP_SUB_RESUME, task, node, NULL);
}
int rattan_subprocess_retry(rattan_engine *re, const char *task,
                            const char *node) {
  return operate(re, OP_SUB_RETRY, task, node, NULL);
}
int rattan_node_forced_fail(rattan_engine *re, const char *task,
                            const char *node, const char *ex_data) {
  return operate(re, OP_FORCED_FAIL, task, node, ex_data);
}
int rattan_node_callback(rattan_engine *re, const char *task, const char *node,
                         const char *data, const char *version) {
  REQUIRE(re, task, "rattan_node_callback");
  eng_op op = {.kind = OP_CALLBACK,
               .task = task,
               .node = node,
               .text = data,
               .version = version};
  return eng_operate(re->e, &op, &re->err);
}

/* ---- Reading ----------------------------------------------------------------
 */

static void info_of(const st_state *s, rattan_node_info *out) {
  *out = (rattan_node_info){.state = (rattan_state)s->state,
                            .loop = s->loop,
                            .inner_loop = s->inner_loop,
                            .retry = s->retry,
                            .skip = s->skip,
                            .error_ignored = s->error_ignored,
                            .created_us = s->created,
                            .started_us = s->started,
                            .archived_us = s->archived};
  memcpy(out->version, s->version, sizeof out->version);
  memcpy(out->root_id, s->root_id, sizeof out->root_id);
  memcpy(out->parent_id, s->parent_id, sizeof out->parent_id);
}

int rattan_node_get(rattan_engine *re, const char *task, const char *node,
                    rattan_node_info *out) {
  REQUIRE(re, task && node && out, "rattan_node_get");
  st_state s;
  int rc = eng_node_get(re->e, task, node, &s, &re->err);
  if (!rc) info_of(&s, out);
  return rc;
}

int rattan_node_data(rattan_engine *re, const char *task, const char *node,
                     char **json, size_t *len) {
  REQUIRE(re, task && node && json, "rattan_node_data");
  return eng_node_data(re->e, task, node, -1, json, len, &re->err);
}

int rattan_node_history_count(rattan_engine *re, const char *task,
                              const char *node, unsigned *n) {
  REQUIRE(re, task && node && n, "rattan_node_history_count");
  uint32_t c = 0;
  int rc = eng_node_history_count(re->e, task, node, &c, &re->err);
  *n = c;
  return rc;
}

int rattan_node_history(rattan_engine *re, const char *task, const char *node,
                        unsigned i, rattan_node_info *out, char **json,
                        size_t *len) {
  REQUIRE(re, task && node && out, "rattan_node_history");
  st_state s;
  int rc = eng_node_history(re->e, task, node, i, &s, &re->err);
  if (rc) return rc;
  info_of(&s, out);
  if (!json) return 0;
  rc = eng_node_data(re->e, task, node, i, json, len, &re->err);
  if (rc == RATTAN_ENOTFOUND) { /* an attempt that never stored data */
    *json = NULL;
    if (len) *len = 0;
    rc = 0;
  }
  return rc;
}

int rattan_task_state(rattan_engine *re, const char *task, rattan_state *out) {
  REQUIRE(re, task && out, "rattan_task_state");
  st_task t;
  int rc = eng_task_get(re->e, task, &t, &re->err);
  if (rc) return rc;
  st_state s;
  rc = eng_node_get(re->e, task, t.root, &s, &re->err);
  if (rc == RATTAN_ENOTFOUND) {
    *out = RATTAN_STATE_CREATED;
    return 0;
  }
  if (!rc) *out = (rattan_state)s.state;
  return rc;
}

typedef struct each_ctx {
  rattan_task_fn fn;
  void *ctx;
} each_ctx;

static int each_task(void *ctx, const st_task *t, int state) {
  each_ctx *c = ctx;
  return c->fn(c->ctx, t->id, t->name, (rattan_state)state);
}

int rattan_task_each(rattan_engine *re, rattan_task_fn fn, void *ctx) {
  REQUIRE(re, fn, "rattan_task_each");
  each_ctx c = {fn, ctx};
  return eng_task_each(re->e, each_task, &c, &re->err);
}
