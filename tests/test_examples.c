/* The examples of examples/: their pipelines run through the rattan
 * command, retry_skip.sh runs to its end, embed embeds the library. */
#include <jansson.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "test.h"

#define OUT_CAP (256 * 1024)
#define CLOCK   "--clock virtual:2024-01-01T10:00:00+08:00 --seed 7 "

static int shell(const char *cmd, char *out) {
  return cu_shell(cmd, out, OUT_CAP);
}

static int run(const char *args, char *out) {
  return cu_rattan(args, out, OUT_CAP);
}

/* The first JSON value at or after the first '{' of text; aborts the test
 * when there is none. The caller frees it with json_decref. */
static json_t *first_json(const char *text) {
  const char *brace = strchr(text, '{');
  ASSERT(brace);
  json_error_t err;
  json_t *j = json_loads(brace, JSON_DISABLE_EOF_CHECK, &err);
  if (!j) TEST_FAIL_("no JSON at \"%.60s\": %s", brace, err.text);
  return j;
}

/* v's text if it is a string, else "(not a string)", so that a failed
 * ASSERT_STR says what it found. */
static const char *text(json_t *v) {
  return json_is_string(v) ? json_string_value(v) : "(not a string)";
}

/* The string at path (keys separated by '/') in j, as text() gives it. */
static const char *str_at(json_t *j, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *k = strtok_r(buf, "/", &save); k && j;
       k = strtok_r(NULL, "/", &save))
    j = json_object_get(j, k);
  return text(j);
}

/* The node id of children in a status's data (or a subprocess's). */
static json_t *child(json_t *status, const char *id) {
  return json_object_get(
      json_object_get(json_object_get(status, "data"), "children"), id);
}

/* Asserts that node id of the status is FINISHED and named name. */
static void expect_finished(json_t *status, const char *id, const char *name) {
  json_t *n = child(status, id);
  if (!n) TEST_FAIL_("node %s is not in the status", id);
  ASSERT_STR(str_at(n, "state"), "FINISHED");
  ASSERT_STR(str_at(n, "name"), name);
}

/* The value of output key in a get_task_node_detail envelope, or NULL. */
static json_t *detail_output(json_t *detail, const char *key) {
  json_t *outs = json_object_get(json_object_get(detail, "data"), "outputs");
  size_t i;
  json_t *o;
  json_array_foreach(outs, i, o) {
    if (!strcmp(str_at(o, "key"), key)) return json_object_get(o, "value");
  }
  return NULL;
}

void test_examples_validate(void) {
  char *out = malloc(OUT_CAP);
  ASSERT(out);
  const char *files[] = {"release", "subprocess", "retry_skip"};
  for (int i = 0; i < 3; i++) {
    char args[128];
    snprintf(args, sizeof args, "validate examples/%s.json", files[i]);
    ASSERT_EQ(run(args, out), 0);
    ASSERT_STR(out, "ok\n");
  }
  free(out);
}

/* The release forks into build, unit_tests and lint, joins, and the
 * exclusive gateway picks deploy_prod for env "prod" (deploy_staging never
 * runs); with env "staging" it is the other way round. */
void test_examples_release(void) {
  char *out = malloc(OUT_CAP);
  ASSERT(out);
  ASSERT_EQ(run(CLOCK "run examples/release.json --id rel", out), 0);
  ASSERT_STR(out, "rel\n");
  ASSERT_EQ(run("tasks", out), 0);
  ASSERT_STR(out, "rel\tFINISHED\tRelease 1.4.2\n");
  ASSERT_EQ(run("status rel", out), 0);
  json_t *st = first_json(out);
  ASSERT_STR(str_at(st, "data/state"), "FINISHED");
  ASSERT_STR(str_at(st, "data/name"), "Release 1.4.2");
  expect_finished(st, "build", "Build artifacts");
  expect_finished(st, "unit_tests", "Unit tests (30 s)");
  expect_finished(st, "lint", "Lint");
  expect_finished(st, "deploy_prod", "Deploy to production");
  const char *gws[] = {"start", "fork", "join", "choose", "merge", "end"};
  for (int i = 0; i < 6; i++)
    expect_finished(st, gws[i], "");
  ASSERT(!child(st, "deploy_staging"));
  ASSERT_EQ(json_object_size(
                json_object_get(json_object_get(st, "data"), "children")),
            10);
  /* The 30 s timer ran beside the others on the virtual clock. */
  json_t *timer = child(st, "unit_tests");
  ASSERT_EQ(json_integer_value(json_object_get(timer, "elapsed_time")), 30);
  ASSERT_STR(str_at(timer, "start_time"), "2024-01-01 10:00:00 +0800");
  ASSERT_STR(str_at(timer, "finish_time"), "2024-01-01 10:00:30 +0800");
  json_decref(st);
  /* The constants reached the shell command. */
  ASSERT_EQ(run("detail rel deploy_prod", out), 0);
  json_t *d = first_json(out);
  ASSERT_STR(text(detail_output(d, "stdout")), "deploying 1.4.2 to prod\n");
  ASSERT_EQ(json_integer_value(detail_output(d, "exit_code")), 0);
  json_decref(d);

  /* The same release for env "staging" takes the other branch. */
  char *tree = test_slurp("examples/release.json", NULL);
  const char *prod = "\"value\": \"prod\"";
  char *at = strstr(tree, prod);
  ASSERT(at);
  ASSERT(!strstr(at + 1, prod));
  FILE *f = fopen(test_path("staging.json"), "w");
  ASSERT(f);
  fprintf(f, "%.*s\"value\": \"staging\"%s", (int)(at - tree), tree,
          at + strlen(prod));
  fclose(f);
  free(tree);
  char args[PATH_MAX];
  snprintf(args, sizeof args, CLOCK "run %s --id stg",
           test_path("staging.json"));
  ASSERT_EQ(run(args, out), 0);
  ASSERT_STR(out, "stg\n");
  ASSERT_EQ(run("status stg", out), 0);
  st = first_json(out);
  ASSERT_STR(str_at(st, "data/state"), "FINISHED");
  expect_finished(st, "deploy_staging", "Deploy to staging");
  ASSERT(!child(st, "deploy_prod"));
  json_decref(st);
  free(out);
}

/* The SubProcess install runs fetch, unpack and restart with the parent's
 * ${app} as its ${service}; its ${package} output reaches verify. */
void test_examples_subprocess(void) {
  char *out = malloc(OUT_CAP);
  ASSERT(out);
  ASSERT_EQ(run(CLOCK "run examples/subprocess.json --id sp", out), 0);
  ASSERT_STR(out, "sp\n");
  ASSERT_EQ(run("tasks", out), 0);
  ASSERT_STR(out, "sp\tFINISHED\tDeploy a service\n");
  ASSERT_EQ(run("status sp", out), 0);
  json_t *st = first_json(out);
  ASSERT_STR(str_at(st, "data/state"), "FINISHED");
  expect_finished(st, "prepare", "Prepare hosts");
  expect_finished(st, "install", "Install the application");
  expect_finished(st, "verify", "Verify the installed package");
  json_decref(st);

  ASSERT_EQ(run("status sp --subprocess-id install", out), 0);
  st = first_json(out);
  ASSERT_STR(str_at(st, "data/id"), "install");
  ASSERT_STR(str_at(st, "data/state"), "FINISHED");
  /* Below a subprocess_id query, SOPS names no node. */
  const char *inner[] = {"install_start", "fetch", "unpack", "restart",
                         "install_end"};
  for (int i = 0; i < 5; i++)
    expect_finished(st, inner[i], "");
  ASSERT_EQ(json_object_size(
                json_object_get(json_object_get(st, "data"), "children")),
            5);
  json_t *unpack = child(st, "unpack");
  ASSERT_STR(str_at(unpack, "parent_id"), "install");
  ASSERT_EQ(json_integer_value(json_object_get(unpack, "elapsed_time")), 10);
  json_decref(st);

  ASSERT_EQ(run("detail sp fetch", out), 0);
  json_t *d = first_json(out);
  ASSERT_STR(str_at(d, "data/inputs/command"), "printf %s payments-2.0.tar.gz");
  json_decref(d);
  ASSERT_EQ(run("detail sp verify", out), 0);
  d = first_json(out);
  ASSERT_STR(str_at(d, "data/inputs/command"),
             "echo verified payments-2.0.tar.gz");
  ASSERT_STR(text(detail_output(d, "stdout")),
             "verified payments-2.0.tar.gz\n");
  json_decref(d);
  free(out);
}

/* retry_skip.sh: its three status answers, in order. */
void test_examples_retry_skip(void) {
  char *out = malloc(OUT_CAP);
  ASSERT(out);
  char cmd[3 * PATH_MAX];
  snprintf(cmd, sizeof cmd,
           "RATTAN='%s/rattan' RATTAN_DB='%s' examples/retry_skip.sh",
           cu_bin_dir(), test_path("db"));
  ASSERT_EQ(shell(cmd, out), 0);
  const char *msg = "migration 0042_add_index failed: table users is locked";

  /* run prints the id; the first status: FAILED, with ex_data. */
  char *run1 = strstr(out, "\nnightly-1\n== status:");
  ASSERT(run1);
  json_t *st = first_json(run1);
  ASSERT_STR(str_at(st, "trace_id"), "1-failed");
  ASSERT_STR(str_at(st, "data/state"), "FAILED");
  ASSERT_STR(str_at(st, "data/ex_data/migrate"), msg);
  json_t *m = child(st, "migrate");
  ASSERT_STR(str_at(m, "state"), "FAILED");
  ASSERT_EQ(json_integer_value(json_object_get(m, "retry")), 0);
  ASSERT(!child(st, "wait"));
  expect_finished(st, "backup", "Back up the database");
  json_decref(st);

  /* After the retry: drive reports the root RUNNING, the node failed
   * again with the same message. */
  char *retried = strstr(out, "\nRUNNING\n{");
  ASSERT(retried && retried > run1);
  st = first_json(retried);
  ASSERT_STR(str_at(st, "trace_id"), "2-retried");
  ASSERT_STR(str_at(st, "data/state"), "FAILED");
  ASSERT_STR(str_at(st, "data/ex_data/migrate"), msg);
  m = child(st, "migrate");
  ASSERT_STR(str_at(m, "state"), "FAILED");
  ASSERT_EQ(json_integer_value(json_object_get(m, "retry")), 1);
  ASSERT(json_is_false(json_object_get(m, "skip")));
  json_decref(st);

  /* After the skip: drive reports FINISHED; the last status. */
  char *done = strstr(out, "\nFINISHED\n== status:");
  ASSERT(done && done > retried);
  st = first_json(done);
  ASSERT_STR(str_at(st, "trace_id"), "3-finished");
  ASSERT_STR(str_at(st, "data/state"), "FINISHED");
  ASSERT(!json_object_get(json_object_get(st, "data"), "ex_data"));
  expect_finished(st, "migrate", "Run the schema migration");
  m = child(st, "migrate");
  ASSERT(json_is_true(json_object_get(m, "skip")));
  ASSERT_EQ(json_integer_value(json_object_get(m, "retry")), 1);
  expect_finished(st, "wait", "Wait for the replicas (60 s)");
  expect_finished(st, "notify", "Notify the team");
  ASSERT_EQ(
      json_integer_value(json_object_get(child(st, "wait"), "elapsed_time")),
      60);
  ASSERT_STR(str_at(st, "data/finish_time"), "2024-01-01 10:01:00 +0800");
  json_decref(st);

  /* The script starts afresh: a second run prints the same. */
  char *again = malloc(OUT_CAP);
  ASSERT(again);
  ASSERT_EQ(shell(cmd, again), 0);
  ASSERT_STR(again, out);
  free(again);
  free(out);
}

/* embed: its own component greet ran on node hello; the output is the
 * status envelope alone, and the store holds the greeting. */
void test_examples_embed(void) {
  char *out = malloc(OUT_CAP);
  ASSERT(out);
  char cmd[3 * PATH_MAX];
  snprintf(cmd, sizeof cmd, "'%s/examples/embed' '%s'", cu_bin_dir(),
           test_path("embed"));
  ASSERT_EQ(shell(cmd, out), 0);
  ASSERT_EQ(out[0], '{');
  json_error_t err;
  json_t *st = json_loads(out, 0, &err); /* nothing else in the output */
  if (!st) TEST_FAIL_("embed's output is not one JSON value: %s", err.text);
  ASSERT(json_is_true(json_object_get(st, "result")));
  ASSERT_STR(str_at(st, "data/id"), "p");
  ASSERT_STR(str_at(st, "data/state"), "FINISHED");
  ASSERT_STR(str_at(st, "data/name"), "Embedded greeting");
  expect_finished(st, "hello", "Say hello");
  expect_finished(st, "s", "");
  expect_finished(st, "e", "");
  json_decref(st);

  char args[PATH_MAX];
  snprintf(args, sizeof args, "--db '%s' detail 1 hello", test_path("embed"));
  ASSERT_EQ(run(args, out), 0);
  json_t *d = first_json(out);
  ASSERT_STR(str_at(d, "data/inputs/who"), "world");
  ASSERT_STR(text(detail_output(d, "greeting")), "Hello, world!");
  json_decref(d);
  free(out);
}
