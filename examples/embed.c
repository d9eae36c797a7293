/* Embeds rattan: registers a component of its own, runs a small pipeline
 * that uses it and prints the task's get_task_status answer.
 *
 *   embed [DIR]      (the store directory, default embed.db)
 */
#define _POSIX_C_SOURCE 200809L
#include <rattan.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* start -> hello (component "greet", input who) -> end */
static const char tree[] =
    "{\"id\": \"p\", \"name\": \"Embedded greeting\","
    " \"start_event\": {\"id\": \"s\", \"type\": \"EmptyStartEvent\","
    "  \"incoming\": \"\", \"outgoing\": \"f1\"},"
    " \"end_event\": {\"id\": \"e\", \"type\": \"EmptyEndEvent\","
    "  \"incoming\": [\"f2\"], \"outgoing\": \"\"},"
    " \"activities\": {\"hello\": {\"id\": \"hello\", \"name\": \"Say hello\","
    "  \"type\": \"ServiceActivity\", \"incoming\": [\"f1\"], \"outgoing\": "
    "\"f2\", \"component\": {\"code\": \"greet\", \"inputs\": {\"who\": "
    "{\"type\": \"plain\", \"value\": \"world\"}}},"
    "  \"error_ignorable\": false, \"skippable\": true, \"retryable\": true}},"
    " \"gateways\": {},"
    " \"flows\": {\"f1\": {\"id\": \"f1\", \"source\": \"s\", \"target\": "
    "\"hello\"}, \"f2\": {\"id\": \"f2\", \"source\": \"hello\", \"target\": "
    "\"e\"}}}";

/* The component: ctx is the greeting word; output greeting. */
static int greet(rattan_call *c, void *ctx) {
  const char *who = rattan_call_input_text(c, "who");
  char text[200];
  if (!who) {
    rattan_call_fail(c, "input who is missing");
    return 1;
  }
  snprintf(text, sizeof text, "%s, %s!", (const char *)ctx, who);
  return rattan_call_set_output_text(c, "greeting", text) != RATTAN_OK;
}

/* Reports a failed call; returns 1 (the exit code) when rc is an error. */
static int failed(rattan_engine *e, int rc, const char *what) {
  if (rc == RATTAN_OK) return 0;
  fprintf(stderr, "embed: %s: %s: %s\n", what, rattan_strerror(rc),
          rattan_errmsg(e));
  return 1;
}

int main(int argc, char **argv) {
  static char hello[] = "Hello";
  const char *dir = argc > 1 ? argv[1] : "embed.db";
  char msg[256], id[RATTAN_ID_MAX + 1], *status = NULL;
  size_t len;
  rattan_engine *e; /* NULL options: sync durability, the real clock */
  if (rattan_open(dir, NULL, &e, msg, sizeof msg) != RATTAN_OK)
    return fprintf(stderr, "embed: %s\n", msg), 1;
  rattan_component c = {.code = "greet",
                        .schedule = RATTAN_SCHEDULE_NONE,
                        .execute = greet,
                        .ctx = hello};
  int bad = failed(e, rattan_component_register(e, &c), "register") ||
            failed(e, rattan_task_create(e, tree, strlen(tree), NULL, id),
                   "create") ||
            failed(e, rattan_task_start(e, id), "start");
  /* Drive until nothing is left to do: again at once while r.more, after
   * a wait while a poll or timeout is due (none in this pipeline). */
  rattan_drive_result r = {.more = 1};
  while (!bad && (r.more || r.next_due_us != RATTAN_NO_TIME)) {
    int64_t wait = r.more ? 0 : r.next_due_us - rattan_now(e);
    if (wait > 0) {
      struct timespec ts = {wait / 1000000, wait % 1000000 * 1000};
      nanosleep(&ts, NULL);
    }
    bad = failed(e, rattan_drive(e, id, 0, &r), "drive");
  }
  if (!bad) {
    rattan_status_options so;
    rattan_status_options_init(&so);
    so.pretty = 1;
    int rc = rattan_task_status(e, id, &so, &status, &len);
    /* An error still gives SOPS's error envelope, which names it. */
    if (rc != RATTAN_OK)
      fprintf(stderr, "embed: status: %s\n", rattan_strerror(rc));
    if (status) printf("%s\n", status);
    bad = rc != RATTAN_OK;
  }
  rattan_free(status);
  rattan_close(e);
  return bad;
}
