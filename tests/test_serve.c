/*
 * rattan serve over real HTTP: the rattan built beside this runner is
 * started on a free loopback port and exercised with curl (routes,
 * credentials, hostile requests, parallel readers, usage, SIGTERM).
 * Every server runs with --max-seconds 60, so it stops by itself if a
 * test dies; a failing test also kills the servers it started (the
 * SIGABRT / SIGALRM handler below).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_util.h"
#include "exec_util.h"

/* Generous bounds: the sanitizer build of the server is slow. */
#define START_MS 20000 /* until "listening on ..." */
#define STOP_MS  15000 /* from SIGTERM to the exit */

/* A W3C traceparent: the server echoes it as the trace id. */
#define TP  "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define TPH "-H 'traceparent: " TP "'"

#define AUTH_FAILED                                                     \
  "app authentication failed: bk_app_code or bk_app_secret is missing " \
  "or wrong"

/* ---- Memory: what a test keeps is freed by release() ------------------- */

#define POOL_MAX 65536
static struct {
  void *p;
  int json;
} pool[POOL_MAX];
static int npool;

static void *keep(void *p) {
  ASSERT(p);
  ASSERT(npool < POOL_MAX);
  pool[npool].p = p;
  pool[npool++].json = 0;
  return p;
}

static json_t *keepj(json_t *j) {
  if (!j) return NULL;
  ASSERT(npool < POOL_MAX);
  pool[npool].p = j;
  pool[npool++].json = 1;
  return j;
}

static void release(void) {
  for (int i = 0; i < npool; i++)
    if (pool[i].json)
      json_decref(pool[i].p);
    else
      free(pool[i].p);
  npool = 0;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  ASSERT(n >= 0);
  char *s = keep(malloc((size_t)n + 1));
  va_start(ap, f);
  vsnprintf(s, (size_t)n + 1, f, ap);
  va_end(ap);
  return s;
}

/* test_dir()/name (kept: test_path's buffer is overwritten by the next
 * call). */
static const char *tpath(const char *name) {
  return fmt("%s/%s", test_dir(), name);
}

/* The whole file (kept), or "" when it cannot be read. */
static char *slurp_or_empty(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return fmt("%s", "");
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  ASSERT(b);
  for (size_t got; (got = fread(b + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (cap - n - 1 == 0) {
      cap *= 2;
      b = realloc(b, cap);
      ASSERT(b);
    }
  }
  fclose(f);
  b[n] = '\0';
  return keep(b);
}

static void write_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  ASSERT(f);
  ASSERT_EQ(fwrite(text, 1, len, f), len);
  ASSERT_EQ(fclose(f), 0);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* A JSON value by a dotted path ("data.children.w.state"); NULL if none. */
static json_t *jget(json_t *j, const char *path) {
  char key[256];
  for (const char *p = path; j && *p;) {
    size_t n = strcspn(p, ".");
    ASSERT(n < sizeof key);
    memcpy(key, p, n);
    key[n] = '\0';
    j = json_object_get(j, key);
    p += n + (p[n] == '.');
  }
  return j;
}

static const char *jstr(json_t *j, const char *path) {
  const char *s = json_string_value(jget(j, path));
  return s ? s : "(none)";
}

static long long jint(json_t *j, const char *path) {
  json_t *v = jget(j, path);
  if (!json_is_integer(v)) TEST_FAIL_("%s is not an integer", path);
  return (long long)json_integer_value(v);
}

/* A view's answer as SOPS writes it. */
static const char *view(int ok, const char *message, int code,
                        const char *trace) {
  return fmt(
      "{\"result\": %s, \"message\": \"%s\", \"code\": %d, "
      "\"trace_id\": \"%s\"}",
      ok ? "true" : "false", message, code, trace);
}

/* ---- The rattan beside this runner --------------------------------------
 */

static const char *rattan_bin(void) {
  static char path[PATH_MAX + 16];
  if (!*path) snprintf(path, sizeof path, "%s/rattan", cu_bin_dir());
  return path;
}

/* Runs rattan with args (a shell fragment); its exit code, and its
 * stdout + stderr in out. */
static int run(const char *args, char *out, size_t cap) {
  return cu_shell(fmt("'%s' %s", rattan_bin(), args), out, cap);
}

/* ---- Servers -------------------------------------------------------------
 * Started servers are killed if the test fails (abort) or times out. */

#define LIVE_MAX 8
static pid_t live[LIVE_MAX];

static void on_fatal(int sig) {
  for (int i = 0; i < LIVE_MAX; i++)
    if (live[i] > 0) {
      kill(live[i], SIGKILL);
      waitpid(live[i], NULL, 0);
      live[i] = 0;
    }
  signal(sig, SIG_DFL);
  raise(sig);
}

static void track(pid_t pid) {
  signal(SIGABRT, on_fatal);
  signal(SIGALRM, on_fatal);
  for (int i = 0; i < LIVE_MAX; i++)
    if (!live[i]) {
      live[i] = pid;
      return;
    }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  TEST_FAIL_("more than %d servers", LIVE_MAX);
}

static void untrack(pid_t pid) {
  for (int i = 0; i < LIVE_MAX; i++)
    if (live[i] == pid) live[i] = 0;
}

typedef struct srv {
  pid_t pid;
  int out;            /* its stdout */
  char err[PATH_MAX]; /* the file of its stderr */
  char base[64];      /* http://127.0.0.1:PORT */
  unsigned port;
  char secret[256]; /* app rattan's */
  char q[400];      /* bk_app_code=rattan&bk_app_secret=SECRET */
} srv;

/* Reads one line from fd within ms milliseconds: its length, -1 on a
 * timeout, -2 at the end of the file. */
static int read_line(int fd, char *buf, size_t cap, int ms) {
  size_t n = 0;
  int64_t end = now_ms() + ms;
  while (n + 1 < cap) {
    int64_t left = end - now_ms();
    if (left <= 0) return -1;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, (int)left);
    if (r < 0) continue;
    if (r == 0) return -1;
    char c;
    ssize_t got = read(fd, &c, 1);
    if (got == 0) return -2;
    if (got < 0) continue;
    if (c == '\n') break;
    buf[n++] = c;
  }
  buf[n] = '\0';
  return (int)n;
}

/* Kills a server that misbehaved and fails with its stderr. */
#define SRV_FAIL(s, ...)                                                \
  do {                                                                  \
    kill((s)->pid, SIGKILL);                                            \
    waitpid((s)->pid, NULL, 0);                                         \
    untrack((s)->pid);                                                  \
    fprintf(stderr, "  server stderr: %s\n", slurp_or_empty((s)->err)); \
    TEST_FAIL_(__VA_ARGS__);                                            \
  } while (0)

/* Starts `rattan --db DB GLOBAL serve --listen 127.0.0.1:0 --max-seconds
 * 60 SERVE` (GLOBAL and SERVE: space-separated words) and reads app
 * rattan's secret from cred (NULL: DB-credentials.json, which must then
 * have mode 0600). */
static void srv_start(srv *s, const char *db, const char *global,
                      const char *serve, const char *cred) {
  static int count;
  memset(s, 0, sizeof *s);
  snprintf(s->err, sizeof s->err, "%s/serve-%d.err", test_dir(), ++count);
  char *words = fmt("--db %s %s serve --listen 127.0.0.1:0 --max-seconds 60 %s",
                    db, global, serve);
  char *argv[64];
  int argc = 0;
  argv[argc++] = (char *)rattan_bin();
  for (char *save, *w = strtok_r(words, " ", &save); w;
       w = strtok_r(NULL, " ", &save)) {
    ASSERT(argc < 63);
    argv[argc++] = w;
  }
  argv[argc] = NULL;
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    int fd = open(s->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || dup2(pipefd[1], 1) < 0 || dup2(fd, 2) < 0) _exit(127);
    close(pipefd[0]);
    close(pipefd[1]);
    close(fd);
    execv(argv[0], argv);
    _exit(127);
  }
  close(pipefd[1]);
  s->pid = pid;
  s->out = pipefd[0];
  track(pid);
  char line[256];
  int n = read_line(s->out, line, sizeof line, START_MS);
  if (n < 0)
    SRV_FAIL(s, "serve printed no line (%s)", n == -1 ? "timeout" : "exited");
  unsigned port = 0;
  char tail[8] = "";
  if (sscanf(line, "listening on http://127.0.0.1:%u%7s", &port, tail) != 2 ||
      strcmp(tail, "/") || port == 0 || port > 65535)
    SRV_FAIL(s, "unexpected first line \"%s\"", line);
  s->port = port;
  snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", port);

  const char *path = cred ? cred : fmt("%s-credentials.json", db);
  struct stat sb;
  if (stat(path, &sb)) SRV_FAIL(s, "no credentials file %s", path);
  if (!cred && (sb.st_mode & 07777) != 0600)
    SRV_FAIL(s, "%s has mode %o, not 600", path, sb.st_mode & 07777);
  json_error_t jerr;
  json_t *j = json_load_file(path, 0, &jerr);
  const char *secret = json_string_value(jget(j, "apps.rattan"));
  if (!secret || strlen(secret) >= sizeof s->secret) {
    json_decref(j);
    SRV_FAIL(s, "%s has no secret for app rattan", path);
  }
  snprintf(s->secret, sizeof s->secret, "%s", secret);
  json_decref(j);
  snprintf(s->q, sizeof s->q, "bk_app_code=rattan&bk_app_secret=%s", s->secret);
}

/* Waits at most ms for the server to exit; its wait status. Kills it and
 * fails when it does not. */
static int srv_wait(srv *s, int ms) {
  int64_t end = now_ms() + ms;
  int status;
  for (;;) {
    pid_t r = waitpid(s->pid, &status, WNOHANG);
    if (r == s->pid) break;
    ASSERT(r == 0);
    if (now_ms() > end) SRV_FAIL(s, "the server did not stop within %d ms", ms);
    sleep_ms(10);
  }
  untrack(s->pid);
  close(s->out);
  return status;
}

/* SIGTERM: the server exits 0 within STOP_MS and says it stopped. */
static void srv_stop(srv *s) {
  ASSERT_EQ(kill(s->pid, SIGTERM), 0);
  int status = srv_wait(s, STOP_MS);
  const char *err = slurp_or_empty(s->err);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    TEST_FAIL_("serve ended with status 0x%x; stderr: %s", status, err);
  ASSERT_CONTAINS(err, "rattan serve: stopped\n");
}

/* ---- Requests ------------------------------------------------------------
 */

typedef struct resp {
  int code;   /* the HTTP status, 0 for no answer */
  char *body; /* kept */
  char *hdr;  /* the response headers, kept */
  json_t *j;  /* the body parsed, kept; NULL when it is not JSON */
} resp;

/* method PATH (s's base + the formatted path) with body (NULL: none) and
 * extra curl options opts (a shell fragment, "" for none). */
static resp call(const srv *s, const char *method, const char *body,
                 const char *opts, const char *path, ...)
    __attribute__((format(printf, 5, 6)));
static resp call(const srv *s, const char *method, const char *body,
                 const char *opts, const char *path, ...) {
  va_list ap;
  va_start(ap, path);
  int n = vsnprintf(NULL, 0, path, ap);
  va_end(ap);
  char *p = keep(malloc((size_t)n + 1));
  va_start(ap, path);
  vsnprintf(p, (size_t)n + 1, path, ap);
  va_end(ap);
  /* The URL goes through a config file: it may be longer than a shell
   * argument can be. */
  const char *cfg = fmt("%s/req.cfg", test_dir());
  const char *out = fmt("%s/resp.body", test_dir());
  const char *hdr = fmt("%s/resp.hdr", test_dir());
  const char *in = fmt("%s/req.body", test_dir());
  const char *cerr = fmt("%s/curl.err", test_dir());
  char *url = fmt("url = \"%s%s\"\n", s->base, p);
  write_file(cfg, url, strlen(url));
  remove(out);
  remove(hdr);
  if (body) write_file(in, body, strlen(body));
  char *cmd =
      fmt("curl -s -S --max-time 10 -X %s -o '%s' -D '%s' "
          "-w '%%{http_code}' %s%s%s %s -K '%s' 2>'%s'",
          method, out, hdr, body ? "--data-binary '@" : "", body ? in : "",
          body ? "'" : "", opts, cfg, cerr);
  FILE *f = popen(cmd, "r");
  ASSERT(f);
  char code[16] = "";
  size_t got = fread(code, 1, sizeof code - 1, f);
  code[got] = '\0';
  pclose(f);
  resp r = {.code = atoi(code),
            .body = slurp_or_empty(out),
            .hdr = slurp_or_empty(hdr)};
  r.j = keepj(json_loads(r.body, 0, NULL));
  return r;
}

/* The value of header name in the last header block of r (kept), or
 * NULL. */
static const char *header(const resp *r, const char *name) {
  const char *block = r->hdr;
  for (const char *p = r->hdr; (p = strstr(p, "HTTP/")); p++)
    if (p == r->hdr || p[-1] == '\n') block = p;
  size_t n = strlen(name);
  const char *found = NULL;
  size_t flen = 0;
  for (const char *l = block; *l;) {
    size_t len = strcspn(l, "\r\n");
    if (len > n && !strncasecmp(l, name, n) && l[n] == ':') {
      found = l + n + 1;
      while (*found == ' ')
        found++;
      flen = len - (size_t)(found - l);
    }
    l += len;
    while (*l == '\r' || *l == '\n')
      l++;
  }
  return found ? fmt("%.*s", (int)flen, found) : NULL;
}

/* r is a JSON answer of HTTP status code: Content-Type application/json,
 * a Sops-Trace-Id header, equal to the body's trace_id when it has one.
 * Returns the parsed body. */
#define CHECK(r, code) check_((r), (code), __LINE__)
static json_t *check_(resp r, int code, int line) {
  if (r.code != code)
    TEST_FAIL_("line %d: HTTP %d, expected %d; body: %s", line, r.code, code,
               r.body);
  if (!json_is_object(r.j))
    TEST_FAIL_("line %d: the body is not a JSON object: %s", line, r.body);
  const char *ct = header(&r, "Content-Type");
  if (!ct || strcmp(ct, "application/json"))
    TEST_FAIL_("line %d: Content-Type %s", line, ct ? ct : "(none)");
  const char *trace = header(&r, "Sops-Trace-Id");
  if (!trace || !*trace) TEST_FAIL_("line %d: no Sops-Trace-Id", line);
  json_t *t = json_object_get(r.j, "trace_id");
  if (t && strcmp(json_string_value(t) ? json_string_value(t) : "", trace))
    TEST_FAIL_("line %d: Sops-Trace-Id %s, body's trace_id %s", line, trace,
               json_string_value(t));
  if (!json_is_boolean(json_object_get(r.j, "result")))
    TEST_FAIL_("line %d: no result: %s", line, r.body);
  return r.j;
}

/* The body of r, which must be exactly want, in a JSON answer. */
#define EXPECT(r, code, want)                                           \
  do {                                                                  \
    resp r_ = (r);                                                      \
    check_(r_, (code), __LINE__);                                       \
    if (strcmp(r_.body, (want)))                                        \
      TEST_FAIL_("line %d: body\n    %s\n  expected\n    %s", __LINE__, \
                 r_.body, (want));                                      \
  } while (0)

/* Polls get_task_status until the value at path (in the answer) is want;
 * fails after ms. Returns the last answer. */
static json_t *wait_for(const srv *s, const char *task, const char *path,
                        const char *want, int ms) {
  int64_t end = now_ms() + ms;
  for (;;) {
    resp r = call(s, "GET", NULL, "", "/get_task_status/%s/2/?%s", task, s->q);
    json_t *j = CHECK(r, 200);
    if (!strcmp(jstr(j, path), want)) return j;
    if (now_ms() > end)
      TEST_FAIL_("task %s: %s is %s, not %s, after %d ms: %s", task, path,
                 jstr(j, path), want, ms, r.body);
    sleep_ms(50);
  }
}

/* {"name": name, "pipeline_tree": tree} created through the API in
 * project 2; returns its task id. */
static long long create(const srv *s, const char *name, const char *tree) {
  resp r = call(s, "POST",
                fmt("{\"name\": \"%s\", \"pipeline_tree\": %s}", name, tree),
                "", "/create_task/2/?%s", s->q);
  json_t *j = CHECK(r, 200);
  if (!json_is_true(json_object_get(j, "result")))
    TEST_FAIL_("create_task: %s", r.body);
  return jint(j, "data.task_id");
}

static void start(const srv *s, long long task) {
  resp r = call(s, "POST", NULL, "", "/start_task/%lld/2/?%s", task, s->q);
  json_t *j = CHECK(r, 200);
  if (!json_is_true(json_object_get(j, "result")))
    TEST_FAIL_("start_task: %s", r.body);
}

/* A tree whose timers wait `seconds` each: `branches` parallel branches of
 * `depth` sleep_timer activities each. free() it. */
static char *timer_tree(int branches, int depth, const char *seconds) {
  json_t *p = tb_new("p", "s", "e");
  if (branches > 1) tb_fork(p, "pg", "ParallelGateway", "cg");
  for (int b = 0; b < branches; b++) {
    char chain[512];
    snprintf(chain, sizeof chain, "%s", branches > 1 ? "pg" : "s");
    for (int d = 0; d < depth; d++) {
      char id[32];
      snprintf(id, sizeof id, "t%d_%d", b, d);
      tb_in(tb_act(p, id, "sleep_timer"), "bk_timing", "plain",
            json_string(seconds));
      strcat(chain, " ");
      strcat(chain, id);
    }
    strcat(chain, branches > 1 ? " cg" : " e");
    tb_link(p, chain);
  }
  if (branches > 1) tb_link(p, "s pg"), tb_link(p, "cg e");
  return tb_json(p);
}

/* ---- serve_routes ----------------------------------------------------------
 * Every route through HTTP on a virtual clock: the SOPS loop sample
 * created, started, driven by the server to its end and read back;
 * operate_task's refusal on a finished task; two pause pipelines finished
 * by node_callback and by operate_node's callback. */
void test_serve_routes(void) {
  srv s;
  srv_start(&s, tpath("db"),
            "--clock virtual:2024-01-01T10:00:00+08:00 --seed 1", "", NULL);
  ASSERT_EQ(strlen(s.secret), 64);
  ASSERT_EQ(strspn(s.secret, "0123456789abcdef"), 64);

  char *sample = keep(test_slurp("tests/data/loop-sample.json", NULL));
  resp r = call(&s, "POST",
                fmt("{\"name\": \"demo\", \"pipeline_tree\": %s}", sample), TPH,
                "/create_task/2/?%s", s.q);
  json_t *j = CHECK(r, 200);
  const char *url = fmt("%s/taskflow/execute/2/?instance_id=1", s.base);
  const char *head =
      fmt("{\"result\": true, \"data\": {\"task_id\": 1, \"task_url\": \"%s\", "
          "\"pipeline_tree\": {\"id\": \"n2125aebb4c8334f8ba4d575315a8d94\", ",
          url);
  if (strncmp(r.body, head, strlen(head)))
    TEST_FAIL_("create_task: %s", r.body);
  const char *tail = "}}, \"code\": 0, \"trace_id\": \"" TP "\"}";
  ASSERT(strlen(r.body) > strlen(tail));
  ASSERT_STR(r.body + strlen(r.body) - strlen(tail), tail);
  ASSERT_STR(header(&r, "Sops-Trace-Id"), TP);
  const char *timer = "nodeb268d09815476dd8a37d373b89ff";
  ASSERT(jget(j, fmt("data.pipeline_tree.activities.%s", timer)));

  /* Not started yet. */
  j = wait_for(&s, "1", "data.state", "CREATED", 1);
  r = call(&s, "POST", NULL, TPH, "/start_task/1/2/?%s", s.q);
  EXPECT(r, 200,
         fmt("{\"task_url\": \"%s\", \"data\": {\"task_url\": \"%s\"}, "
             "\"result\": true, \"code\": 0, \"trace_id\": \"" TP "\"}",
             url, url));
  const char *started =
      "{\"result\": false, \"code\": 3545000, \"message\": "
      "\"task already started\", \"trace_id\": \"" TP "\"}";
  EXPECT(call(&s, "POST", NULL, TPH, "/start_task/1/2/?%s", s.q), 200, started);

  /* The server drives it; the virtual clock jumps over the timers. */
  j = wait_for(&s, "1", "data.state", "FINISHED", 20000);
  ASSERT_STR(jstr(j, "data.start_time"), "2024-01-01 10:00:00 +0800");
  ASSERT_STR(jstr(j, "data.finish_time"), "2024-01-01 10:00:14 +0800");
  ASSERT_EQ(jint(j, "data.elapsed_time"), 14);
  ASSERT_STR(jstr(j, fmt("data.children.%s.state", timer)), "FINISHED");
  ASSERT_EQ(jint(j, fmt("data.children.%s.loop", timer)), 4);
  ASSERT_STR(jstr(j, "data.name"), "demo");
  ASSERT_EQ(jint(j, "code"), 0);
  ASSERT_STR(jstr(j, "message"), "");

  /* get_tasks_status: unknown ids are left out; no message key. */
  r = call(&s, "POST", "{\"task_id_list\": [1, 99]}", TPH,
           "/get_tasks_status/2/?%s", s.q);
  j = CHECK(r, 200);
  ASSERT(json_is_true(json_object_get(j, "result")));
  ASSERT_EQ(json_array_size(json_object_get(j, "data")), 1);
  ASSERT_EQ(jint(json_array_get(json_object_get(j, "data"), 0), "id"), 1);
  json_t *t0 = json_array_get(json_object_get(j, "data"), 0);
  ASSERT_STR(jstr(t0, "name"), "demo");
  ASSERT_STR(jstr(t0, "current_flow"), "finished");
  ASSERT_STR(jstr(t0, "status.state"), "FINISHED");
  ASSERT(!jget(t0, "status.children"));
  ASSERT(!json_object_get(j, "message"));
  ASSERT_STR(jstr(j, "trace_id"), TP);
  r = call(&s, "POST",
           "{\"task_id_list\": [\"1\"], \"include_children_status\": true}", "",
           "/get_tasks_status/2/?%s", s.q);
  j = CHECK(r, 200);
  ASSERT(jget(json_array_get(json_object_get(j, "data"), 0),
              fmt("status.children.%s", timer)));

  /* get_task_node_detail: the latest loop, then loop 2. */
  r = call(&s, "GET", NULL, TPH, "/get_task_node_detail/1/2/?%s&node_id=%s",
           s.q, timer);
  j = CHECK(r, 200);
  ASSERT(json_is_true(json_object_get(j, "result")));
  ASSERT_STR(jstr(j, "data.id"), timer);
  ASSERT_STR(jstr(j, "data.state"), "FINISHED");
  ASSERT_EQ(jint(j, "data.loop"), 4);
  ASSERT_STR(jstr(j, "data.inputs.bk_timing"), "4");
  ASSERT_EQ(jint(j, "data.history_id"), -1);
  r = call(&s, "GET", NULL, "",
           "/get_task_node_detail/1/2/?%s&node_id=%s&loop=2", s.q, timer);
  j = CHECK(r, 200);
  ASSERT_EQ(jint(j, "data.loop"), 2);

  /* get_task_detail. */
  r = call(&s, "GET", NULL, TPH, "/get_task_detail/1/2/?%s", s.q);
  j = CHECK(r, 200);
  ASSERT(json_is_true(json_object_get(j, "result")));
  ASSERT_EQ(jint(j, "data.id"), 1);
  ASSERT_STR(jstr(j, "data.name"), "demo");
  ASSERT_EQ(jint(j, "data.elapsed_time"), 14);
  ASSERT_STR(jstr(j, "data.pipeline_tree.id"),
             "n2125aebb4c8334f8ba4d575315a8d94");
  ASSERT_STR(jstr(j, "data.constants.${time_list}.value"), "1,2,3,4");

  /* operate_task on a finished task: SOPS's guard, "pauseed" included. */
  EXPECT(call(&s, "POST", "{\"action\": \"pause\"}", TPH,
              "/operate_task/1/2/?%s", s.q),
         200,
         view(0, "task with current_flow:finished cannot be pauseed", 3545000,
              TP));
  EXPECT(call(&s, "POST", "{\"action\": \"revoke\"}", TPH,
              "/operate_task/1/2/?%s", s.q),
         200,
         view(0, "task with current_flow:finished cannot be revokeed", 3545000,
              TP));
  EXPECT(call(&s, "POST", "{\"action\": \"start\"}", TPH,
              "/operate_task/1/2/?%s", s.q),
         200, started);
  /* operate_node on the finished task ({biz}/{task}): a node it does not
   * have, and a skip the engine refuses; both 3599999. */
  r = call(&s, "POST", "{\"node_id\": \"nosuch\", \"action\": \"skip\"}", TPH,
           "/operate_node/2/1/?%s", s.q);
  j = CHECK(r, 200);
  ASSERT(json_is_false(json_object_get(j, "result")));
  ASSERT_EQ(jint(j, "code"), 3599999);
  ASSERT_CONTAINS(jstr(j, "message"), "[ID: nosuch]");
  ASSERT_CONTAINS(jstr(j, "message"), "| nodes_action");
  r = call(&s, "POST",
           fmt("{\"node_id\": \"%s\", \"action\": \"skip\"}", timer), TPH,
           "/operate_node/2/1/?%s", s.q);
  j = CHECK(r, 200);
  ASSERT(json_is_false(json_object_get(j, "result")));
  ASSERT_EQ(jint(j, "code"), 3599999);
  ASSERT(!strncmp(jstr(j, "message"), "fail: ", 6));

  /* Task 2: s -> w (pause) -> e, finished by node_callback. */
  char *pause_tree = tb_json(TB_LINE("p", "s w e", "pause"));
  ASSERT_EQ(create(&s, "pause", pause_tree), 2);
  start(&s, 2);
  wait_for(&s, "2", "data.children.w.state", "RUNNING", 10000);
  /* pause and resume a running task. */
  EXPECT(call(&s, "POST", "{\"action\": \"pause\"}", TPH,
              "/operate_task/2/2/?%s", s.q),
         200, view(1, "success", 0, TP));
  wait_for(&s, "2", "data.state", "SUSPENDED", 1);
  EXPECT(call(&s, "POST", "{\"action\": \"resume\"}", TPH,
              "/operate_task/2/2/?%s", s.q),
         200, view(1, "success", 0, TP));
  j = wait_for(&s, "2", "data.state", "RUNNING", 1);
  ASSERT_STR(jstr(j, "data.children.w.state"), "RUNNING");
  EXPECT(call(&s, "POST",
              "{\"node_id\": \"w\", \"callback_data\": {\"answer\": 42}}", TPH,
              "/node_callback/2/2/?%s", s.q),
         200, view(1, "success", 0, TP));
  wait_for(&s, "2", "data.state", "FINISHED", 10000);
  r = call(&s, "GET", NULL, "", "/get_task_node_detail/2/2/?%s&node_id=w", s.q);
  j = CHECK(r, 200);
  ASSERT_STR(jstr(j, "data.state"), "FINISHED");
  ASSERT_CONTAINS(r.body, "\"value\": {\"answer\": 42}");
  /* A second callback: the engine refuses it. */
  r = call(&s, "POST", "{\"node_id\": \"w\", \"callback_data\": {}}", "",
           "/node_callback/2/2/?%s", s.q);
  j = CHECK(r, 200);
  ASSERT(json_is_false(json_object_get(j, "result")));
  ASSERT(!strncmp(jstr(j, "message"), "fail: ", 6));
  /* node_callback to a node the task does not have. */
  EXPECT(call(&s, "POST", "{\"node_id\": \"x\", \"callback_data\": {}}", TPH,
              "/node_callback/2/2/?%s", s.q),
         200, view(0, "task[2] does not have node[x]", 3540000, TP));

  /* Task 3: the same, finished by operate_node's callback. */
  ASSERT_EQ(create(&s, "pause 2", pause_tree), 3);
  free(pause_tree);
  start(&s, 3);
  wait_for(&s, "3", "data.children.w.state", "RUNNING", 10000);
  EXPECT(call(&s, "POST",
              "{\"node_id\": \"w\", \"action\": \"callback\", \"data\": "
              "{\"k\": \"v\"}}",
              TPH, "/operate_node/2/3/?%s", s.q),
         200, view(1, "success", 0, TP));
  wait_for(&s, "3", "data.state", "FINISHED", 10000);

  /* Without traceparent: a fresh random trace id per request, still in
   * the header and the body; a traceparent that is not one is not
   * echoed. */
  resp a = call(&s, "GET", NULL, "", "/get_task_status/1/2/?%s", s.q);
  resp b = call(&s, "GET", NULL,
                "-H 'traceparent: 00-x\"}, \"result\": true, \"a\": \"'",
                "/get_task_status/1/2/?%s", s.q);
  const char *ta = jstr(CHECK(a, 200), "trace_id");
  const char *tb = jstr(CHECK(b, 200), "trace_id");
  ASSERT_EQ(strlen(ta), 32);
  ASSERT_EQ(strspn(ta, "0123456789abcdef"), 32);
  ASSERT_EQ(strlen(tb), 32);
  ASSERT(strcmp(ta, tb));
  ASSERT(!strstr(b.body, "\"a\": "));

  srv_stop(&s);
  release();
}

/* ---- serve_credentials -----------------------------------------------------
 * One refusal (HTTP 401, the same body but for the trace id) whatever is
 * wrong and whatever the route; credentials as parameters, header or body
 * fields; the credentials file: created 0600, reused, refused when bad. */
void test_serve_credentials(void) {
  const char *s1 = "0123456789abcdef0123456789abcdef";
  const char *s2 = "fedcba9876543210fedcba9876543210";
  const char *apps = tpath("apps.json");
  char *text =
      fmt("{\"apps\": {\"rattan\": \"%s\", \"other\": \"%s\"}}", s1, s2);
  write_file(apps, text, strlen(text));
  srv s;
  srv_start(&s, tpath("db"), "--seed 1", fmt("--credentials %s", apps), apps);
  ASSERT_STR(s.secret, s1);
  ASSERT_CONTAINS(slurp_or_empty(s.err), fmt("credentials from %s", apps));
  ASSERT(!strstr(slurp_or_empty(s.err), "created"));
  char *tree = tb_json(TB_LINE("p", "s a e", "noop"));
  ASSERT_EQ(create(&s, "one", tree), 1);

  const char *refusal = view(0, AUTH_FAILED, 3540100, TP);
  const char *st = "/get_task_status/1/2/";
  char *half = fmt("%.16s", s1);
  const char *hdr_bad =
      fmt("-H 'X-Bkapi-Authorization: {\"bk_app_code\": \"rattan\", "
          "\"bk_app_secret\": \"%s\"}'",
          s2);
  struct {
    const char *method, *body, *opts, *path;
  } bad[] = {
      {"GET", NULL, "", st},
      {"GET", NULL, "", fmt("%s?bk_app_code=rattan&bk_app_secret=%s", st, s2)},
      {"GET", NULL, "",
       fmt("%s?bk_app_code=rattan&bk_app_secret=%s", st, half)},
      {"GET", NULL, "", fmt("%s?bk_app_code=rattan&bk_app_secret=%s0", st, s1)},
      {"GET", NULL, "", fmt("%s?bk_app_code=rattan&bk_app_secret=", st)},
      {"GET", NULL, "", fmt("%s?bk_app_code=rattan", st)},
      {"GET", NULL, "", fmt("%s?bk_app_secret=%s", st, s1)},
      {"GET", NULL, "", fmt("%s?bk_app_code=nobody&bk_app_secret=%s", st, s1)},
      {"GET", NULL, "", fmt("%s?bk_app_code=other&bk_app_secret=%s", st, s1)},
      {"GET", NULL, "", fmt("%s?bk_app_code=&bk_app_secret=%s", st, s1)},
      {"GET", NULL,
       fmt("-H 'X-Bkapi-Authorization: {\"bk_app_code\": \"rattan\", "
           "\"bk_app_secret\": \"%s\"}'",
           s2),
       st},
      {"GET", NULL, fmt("-H 'X-Bkapi-Authorization: rattan:%s'", s1), st},
      {"GET", NULL,
       fmt("-H 'X-Bkapi-Authorization: {\"bk_app_code\": \"nobody\", "
           "\"bk_app_secret\": \"%s\"}'",
           s1),
       st},
      /* Parameters come first: a wrong one is not mended by the header. */
      {"GET", NULL,
       fmt("-H 'X-Bkapi-Authorization: {\"bk_app_code\": \"rattan\", "
           "\"bk_app_secret\": \"%s\"}'",
           s1),
       fmt("%s?bk_app_secret=%s", st, s2)},
      {"POST",
       fmt("{\"task_id_list\": [1], \"bk_app_code\": \"rattan\", "
           "\"bk_app_secret\": \"%s\"}",
           s2),
       "", "/get_tasks_status/2/"},
      {"POST",
       "{\"task_id_list\": [1], \"bk_app_code\": \"rattan\", "
       "\"bk_app_secret\": 123}",
       "", "/get_tasks_status/2/"},
      /* Nothing is revealed: unknown routes and tasks, wrong methods and
       * bad bodies get the same answer. */
      {"GET", NULL, "", "/nosuch/route/"},
      {"GET", NULL, "", "/get_task_status/99/2/"},
      {"GET", NULL, "", "/get_task_status/1/3/"},
      {"GET", NULL, "", "/operate_task/1/2/"},
      {"POST", "{", "", "/operate_task/1/2/"},
      {"POST", "{\"action\": \"revoke\"}", "", "/operate_task/1/2/"},
      {"POST", NULL, "", "/start_task/1/2/"},
      {"POST", NULL, "",
       fmt("/start_task/1/2/?bk_app_code=rattan&bk_app_secret=%s", s2)},
      {"POST", "{\"action\": \"start\"}", hdr_bad, "/operate_task/1/2/"},
      {"PUT", "{}", "", "/create_task/2/"},
      {"GET", NULL, "",
       fmt("/nosuch/?bk_app_code=rattan&bk_app_secret=%s", s2)},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    resp r = call(&s, bad[i].method, bad[i].body,
                  fmt("%s %s", TPH, bad[i].opts), "%s", bad[i].path);
    if (r.code != 401 || strcmp(r.body, refusal))
      TEST_FAIL_("case %zu (%s %s): HTTP %d %s", i, bad[i].method, bad[i].path,
                 r.code, r.body);
    CHECK(r, 401);
  }
  /* Without traceparent, two refusals differ in their trace ids only. */
  resp r1 = call(&s, "GET", NULL, "", "/get_task_status/1/2/");
  resp r2 = call(&s, "GET", NULL, "", "/nosuch/");
  const char *t1 = jstr(CHECK(r1, 401), "trace_id");
  const char *t2 = jstr(CHECK(r2, 401), "trace_id");
  ASSERT(strcmp(t1, t2));
  ASSERT_STR(r1.body, view(0, AUTH_FAILED, 3540100, t1));
  ASSERT_STR(r2.body, view(0, AUTH_FAILED, 3540100, t2));
  /* The refused starts did not start the task. */
  json_t *j = wait_for(&s, "1", "data.state", "CREATED", 1);
  ASSERT_STR(jstr(j, "data.name"), "one");

  /* Accepted: parameters of either app, the header (GET and POST), body
   * fields of a POST. */
  resp r = call(&s, "GET", NULL, "",
                "/get_task_status/1/2/?bk_app_code=other&bk_app_secret=%s", s2);
  ASSERT(json_is_true(json_object_get(CHECK(r, 200), "result")));
  const char *hdr =
      fmt("-H 'X-Bkapi-Authorization: {\"bk_app_code\": \"rattan\", "
          "\"bk_app_secret\": \"%s\"}'",
          s1);
  r = call(&s, "GET", NULL, hdr, "/get_task_status/1/2/");
  ASSERT(json_is_true(json_object_get(CHECK(r, 200), "result")));
  r = call(&s, "GET", NULL, hdr, "/get_task_status/99/2/");
  ASSERT_EQ(jint(CHECK(r, 200), "code"), 3540400);
  r = call(&s, "POST", fmt("{\"name\": \"two\", \"pipeline_tree\": %s}", tree),
           hdr, "/create_task/2/");
  ASSERT_EQ(jint(CHECK(r, 200), "data.task_id"), 2);
  r = call(&s, "POST",
           fmt("{\"task_id_list\": [1, 2], \"bk_app_code\": \"rattan\", "
               "\"bk_app_secret\": \"%s\"}",
               s1),
           "", "/get_tasks_status/2/");
  j = CHECK(r, 200);
  ASSERT(json_is_true(json_object_get(j, "result")));
  ASSERT_EQ(json_array_size(json_object_get(j, "data")), 2);
  r = call(&s, "POST",
           fmt("{\"name\": \"three\", \"pipeline_tree\": %s, \"bk_app_code\": "
               "\"other\", \"bk_app_secret\": \"%s\"}",
               tree, s2),
           "", "/create_task/2/");
  ASSERT_EQ(jint(CHECK(r, 200), "data.task_id"), 3);
  free(tree);
  srv_stop(&s);

  /* The default file: created 0600 (srv_start checks the mode) with a
   * 64-hex secret, then reused as it is. */
  const char *db2 = tpath("db2");
  srv_start(&s, db2, "", "", NULL);
  ASSERT_CONTAINS(slurp_or_empty(s.err),
                  fmt("credentials created in %s-credentials.json", db2));
  ASSERT_EQ(strlen(s.secret), 64);
  char *first = fmt("%s", s.secret);
  char *before = slurp_or_empty(fmt("%s-credentials.json", db2));
  srv_stop(&s);
  srv_start(&s, db2, "", "", NULL);
  ASSERT_STR(s.secret, first);
  ASSERT_CONTAINS(slurp_or_empty(s.err),
                  fmt("credentials from %s-credentials.json", db2));
  ASSERT_STR(slurp_or_empty(fmt("%s-credentials.json", db2)), before);
  r = call(&s, "GET", NULL, "", "/get_task_status/1/2/?%s", s.q);
  ASSERT_EQ(jint(CHECK(r, 200), "code"), 3540400);
  srv_stop(&s);
  /* Another store gets another secret. */
  srv_start(&s, tpath("db3"), "", "", NULL);
  ASSERT(strcmp(s.secret, first));
  srv_stop(&s);

  /* A secret of exactly 16 characters is enough. */
  text = "{\"apps\": {\"rattan\": \"0123456789abcdef\"}}";
  write_file(apps, text, strlen(text));
  srv_start(&s, tpath("db"), "", fmt("--credentials %s", apps), apps);
  r = call(&s, "GET", NULL, "", "/get_task_status/1/2/?%s", s.q);
  ASSERT(json_is_true(json_object_get(CHECK(r, 200), "result")));
  srv_stop(&s);

  /* Bad files: exit 1 with the file's name and the reason. */
  char out[8192];
  struct {
    const char *text, *says;
  } files[] = {
      {"not json", "(line 1)"},
      {"", "(line "},
      {"{\"apps\": {}}", "expected {\"apps\": {\"CODE\": \"SECRET\"}}"},
      {"{\"apps\": []}", "expected {\"apps\""},
      {"{}", "expected {\"apps\""},
      {"{\"apps\": {\"rattan\": \"0123456789abcde\"}}",
       "secrets of 16 to 128 characters"},
      {"{\"apps\": {\"rattan\": 1234567890123456789}}", "expected {\"apps\""},
      {"{\"apps\": {\"\": \"0123456789abcdef0\"}}", "expected {\"apps\""},
      {"{\"apps\": {\"a\": \"0123456789abcdef0\", \"a\": "
       "\"0123456789abcdef1\"}}",
       "duplicate"},
  };
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    write_file(apps, files[i].text, strlen(files[i].text));
    int code = run(fmt("--db '%s' serve --listen 127.0.0.1:0 --max-seconds 5 "
                       "--credentials '%s'",
                       tpath("db"), apps),
                   out, sizeof out);
    if (code != 1 || !strstr(out, fmt("rattan serve: %s: ", apps)) ||
        !strstr(out, files[i].says) || strstr(out, "listening on http://127"))
      TEST_FAIL_("credentials %s: exit %d: %s", files[i].text, code, out);
  }
  ASSERT_EQ(run(fmt("--db '%s' serve --listen 127.0.0.1:0 --max-seconds 5 "
                    "--credentials '%s/none.json'",
                    tpath("db"), test_dir()),
                out, sizeof out),
            1);
  ASSERT_CONTAINS(out, "none.json");
  ASSERT(!strstr(out, "listening on http://127"));
  /* --credentials never creates the file. */
  struct stat sb;
  ASSERT(stat(tpath("none.json"), &sb) && errno == ENOENT);
  /* A bad default file is refused, and left as it was. */
  write_file(fmt("%s-credentials.json", db2), "{\"apps\": {}}", 12);
  ASSERT_EQ(
      run(fmt("--db '%s' serve --listen 127.0.0.1:0 --max-seconds 5", db2), out,
          sizeof out),
      1);
  ASSERT_CONTAINS(out, "expected {\"apps\"");
  ASSERT_STR(slurp_or_empty(fmt("%s-credentials.json", db2)), "{\"apps\": {}}");
  release();
}

/* ---- serve_bad_requests ----------------------------------------------------
 * Bad bodies, unknown tasks and routes, missing parameters, wrong
 * methods, oversized bodies (declared and chunked), long URLs: each gets
 * its answer, and the server keeps answering. */
void test_serve_bad_requests(void) {
  srv s;
  srv_start(&s, tpath("db"),
            "--clock virtual:2024-01-01T10:00:00+08:00 --seed 1",
            "--max-body 1024", NULL);
  char *tree = tb_json(TB_LINE("p", "s a e", "noop"));
  ASSERT_EQ(create(&s, "one", tree), 1);
  free(tree);

  /* Bodies that are not JSON objects: each route's message. */
  const char *not_valid =
      view(0, "request body is not a valid json", 3540000, TP);
  const char *invalid = view(0, "invalid json format", 3540000, TP);
  struct {
    const char *path, *want;
  } posts[] = {
      {"/get_tasks_status/2/", not_valid}, {"/create_task/2/", not_valid},
      {"/fast_create_task/2/", not_valid}, {"/operate_task/1/2/", invalid},
      {"/operate_node/2/1/", not_valid},   {"/node_callback/1/2/", invalid},
  };
  const char *bodies[] = {
      "{", "[1]", "\"x\"", "{\"a\": 1, \"a\": 2}", "{\"a\":}", "\xff\xfe"};
  for (size_t i = 0; i < sizeof posts / sizeof *posts; i++)
    for (size_t k = 0; k < sizeof bodies / sizeof *bodies; k++)
      EXPECT(call(&s, "POST", bodies[k], TPH, "%s?%s", posts[i].path, s.q), 200,
             posts[i].want);
  /* An empty body (no data at all). */
  EXPECT(call(&s, "POST", NULL, TPH, "/operate_task/1/2/?%s", s.q), 200,
         invalid);

  /* Unknown tasks, and a task of another project, answered alike. */
  const char *missing =
      "{\"result\": false, \"message\": \"\\u6570\\u636e\\u4e0d\\u5b58\\u5728"
      "\\u9519\\u8bef: \\u6570\\u636e\\u4e0d\\u5b58\\u5728\\u9519\\u8bef, "
      "\\u9519\\u8bef\\u5185\\u5bb9 TaskFlowInstance(id=%s) does not exist. | "
      "process_exception\", \"data\": null, \"code\": 3540400}";
  resp r = call(&s, "GET", NULL, TPH, "/get_task_status/99/2/?%s", s.q);
  EXPECT(r, 200, fmt(missing, "99"));
  ASSERT_STR(header(&r, "Sops-Trace-Id"), TP);
  EXPECT(call(&s, "GET", NULL, TPH, "/get_task_status/1/3/?%s", s.q), 200,
         fmt(missing, "1"));
  EXPECT(call(&s, "GET", NULL, TPH, "/get_task_detail/99/2/?%s", s.q), 200,
         fmt(missing, "99"));
  EXPECT(call(&s, "GET", NULL, TPH, "/get_task_node_detail/99/2/?%s&node_id=a",
              s.q),
         200, fmt(missing, "99"));
  EXPECT(call(&s, "POST", NULL, TPH, "/start_task/99/2/?%s", s.q), 200,
         fmt(missing, "99"));
  EXPECT(call(&s, "POST", "{\"action\": \"pause\"}", TPH,
              "/operate_task/99/2/?%s", s.q),
         200, fmt(missing, "99"));
  EXPECT(call(&s, "POST", "{\"node_id\": \"a\", \"action\": \"skip\"}", TPH,
              "/operate_node/2/99/?%s", s.q),
         200,
         view(0, "task[id=99] of project[id=2] does not exist", 3540400, TP));
  EXPECT(call(&s, "POST", "{\"node_id\": \"a\"}", TPH,
              "/node_callback/99/2/?%s", s.q),
         200,
         view(0,
              "[API] node_callback task[id=99] of project[project_id=2, "
              "biz_id2] does not exist",
              3540400, TP));
  r = call(&s, "POST", "{\"task_id_list\": [99, 1]}", TPH,
           "/get_tasks_status/3/?%s", s.q);
  ASSERT_EQ(json_array_size(json_object_get(CHECK(r, 200), "data")), 0);

  /* Missing or bad parameters. */
  EXPECT(call(&s, "GET", NULL, TPH, "/get_task_node_detail/1/2/?%s", s.q), 200,
         view(0, "node_id is required", 3540000, TP));
  EXPECT(
      call(&s, "GET", NULL, TPH, "/get_task_node_detail/1/2/?%s&node_id=", s.q),
      200, view(0, "node_id is required", 3540000, TP));
  EXPECT(call(&s, "GET", NULL, TPH,
              "/get_task_node_detail/1/2/?%s&node_id=a&loop=x", s.q),
         200, view(0, "loop must be an integer", 3540000, TP));
  EXPECT(call(&s, "GET", NULL, TPH, "/get_task_status/1/?%s", s.q), 200,
         view(0, "task_id and bk_biz_id are required", 3540000, TP));
  EXPECT(call(&s, "GET", NULL, TPH, "/get_task_status/1/2/3/?%s", s.q), 200,
         view(0, "task_id and bk_biz_id are required", 3540000, TP));
  EXPECT(call(&s, "POST", "{\"task_id_list\": [1]}", TPH,
              "/get_tasks_status/?%s", s.q),
         200, view(0, "bk_biz_id is required", 3540000, TP));
  EXPECT(call(&s, "POST", "{\"task_id_list\": \"1\"}", TPH,
              "/get_tasks_status/2/?%s", s.q),
         200, view(0, "task_id_list must be a list", 3540000, TP));
  /* No list at all: params.get("task_id_list", []). */
  EXPECT(call(&s, "POST", "{}", TPH, "/get_tasks_status/2/?%s", s.q), 200,
         "{\"result\": true, \"data\": [], \"code\": 0, \"trace_id\": \"" TP
         "\"}");
  EXPECT(call(&s, "POST", "{\"pipeline_tree\": {}}", TPH, "/create_task/2/?%s",
              s.q),
         200, view(0, "invalid params: 'name'", 3540000, TP));
  EXPECT(call(&s, "POST", "{\"name\": \"x\"}", TPH, "/create_task/2/?%s", s.q),
         200, view(0, "invalid params: 'pipeline_tree'", 3540000, TP));
  EXPECT(call(&s, "POST", "{}", TPH, "/operate_task/1/2/?%s", s.q), 200,
         view(0, "task command is invalid", 3545000, TP));
  EXPECT(call(&s, "POST", "{\"action\": \"pause\"}", TPH,
              "/operate_task/1/2/?%s", s.q),
         200, view(0, "task not started", 3545000, TP));
  char list[512] = "{\"task_id_list\": [1";
  for (int i = 2; i <= 51; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), ", %d", i);
  strcat(list, "]}");
  EXPECT(
      call(&s, "POST", list, TPH, "/get_tasks_status/2/?%s", s.q), 200,
      view(0, "task_id_list is too long, maximum length is 50", 3540000, TP));

  /* Wrong methods: 405; unknown routes: 404. */
  EXPECT(call(&s, "GET", NULL, TPH, "/operate_task/1/2/?%s", s.q), 405,
         view(0, "operate_task takes POST requests only", 3540000, TP));
  EXPECT(call(&s, "POST", "{}", TPH, "/get_task_status/1/2/?%s", s.q), 405,
         view(0, "get_task_status takes GET requests only", 3540000, TP));
  EXPECT(call(&s, "PUT", "{}", TPH, "/create_task/2/?%s", s.q), 405,
         view(0, "create_task takes POST requests only", 3540000, TP));
  EXPECT(call(&s, "DELETE", NULL, TPH, "/get_task_detail/1/2/?%s", s.q), 405,
         view(0, "get_task_detail takes GET requests only", 3540000, TP));
  EXPECT(call(&s, "GET", NULL, TPH, "/nosuch/?%s", s.q), 404,
         view(0, "no route for \\\"/nosuch/\\\"", 3540400, TP));
  EXPECT(call(&s, "GET", NULL, TPH, "/?%s", s.q), 404,
         view(0, "no route for \\\"/\\\"", 3540400, TP));
  /* The legacy ESB form and a prefix work. */
  r = call(&s, "GET", NULL, TPH,
           "/api/c/compapi/v2/sops/get_task_status/?%s&task_id=1&bk_biz_id=2",
           s.q);
  ASSERT(json_is_true(json_object_get(CHECK(r, 200), "result")));
  r = call(&s, "GET", NULL, TPH, "/prod/get_task_status/1/2?%s", s.q);
  ASSERT(json_is_true(json_object_get(CHECK(r, 200), "result")));

  /* Bodies over --max-body 1024: 413 with Content-Length, chunked, and
   * before the credentials are looked at; 1024 bytes pass. */
  const char *too_big =
      view(0, "request body is larger than 1024 bytes", 3540000, TP);
  char big[4097];
  memset(big, ' ', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  memcpy(big, "{\"task_id_list\": [1]}", 21);
  EXPECT(call(&s, "POST", big, TPH, "/get_tasks_status/2/?%s", s.q), 413,
         too_big);
  EXPECT(call(&s, "POST", big, TPH " -H 'Transfer-Encoding: chunked'",
              "/get_tasks_status/2/?%s", s.q),
         413, too_big);
  EXPECT(call(&s, "POST", big, TPH, "/get_tasks_status/2/"), 413, too_big);
  big[1025] = '\0';
  EXPECT(call(&s, "POST", big, TPH, "/get_tasks_status/2/?%s", s.q), 413,
         too_big);
  EXPECT(call(&s, "POST", big, TPH " -H 'Transfer-Encoding: chunked'",
              "/get_tasks_status/2/?%s", s.q),
         413, too_big);
  big[1024] = '\0';
  r = call(&s, "POST", big, TPH, "/get_tasks_status/2/?%s", s.q);
  ASSERT_EQ(json_array_size(json_object_get(CHECK(r, 200), "data")), 1);
  r = call(&s, "POST", big, TPH " -H 'Transfer-Encoding: chunked'",
           "/get_tasks_status/2/?%s", s.q);
  ASSERT_EQ(json_array_size(json_object_get(CHECK(r, 200), "data")), 1);

  /* Long URLs: an 8 KB route is named in 200 bytes; a task id longer
   * than 64 bytes is no id; 80 KB is over the connection's memory. */
  char *route = keep(malloc(8001));
  memset(route, 'a', 8000);
  route[8000] = '\0';
  EXPECT(call(&s, "GET", NULL, TPH, "/%s/?%s", route, s.q), 404,
         view(0, fmt("no route for \\\"/%.199s\\\"", route), 3540400, TP));
  EXPECT(call(&s, "GET", NULL, TPH, "/get_task_status/%.65s/2/?%s", route, s.q),
         200, view(0, "task_id and bk_biz_id are required", 3540000, TP));
  r = call(&s, "GET", NULL, TPH, "/get_task_status/%.64s/2/?%s", route, s.q);
  ASSERT_EQ(jint(CHECK(r, 200), "code"), 3540400);
  char *huge = keep(malloc(80001));
  memset(huge, 'a', 80000);
  huge[80000] = '\0';
  r = call(&s, "GET", NULL, TPH, "/get_task_status/%s/2/?%s", huge, s.q);
  if (r.code != 414 && r.code != 431)
    TEST_FAIL_("an 80 KB URL: HTTP %d %s", r.code, r.body);
  /* A header over the connection's memory. */
  r = call(&s, "GET", NULL, fmt("-H 'X-Big: %s'", huge),
           "/get_task_status/1/2/?%s", s.q);
  if (r.code < 400 || r.code > 499)
    TEST_FAIL_("an 80 KB header: HTTP %d %s", r.code, r.body);
  /* Many parameters, the credentials first. */
  char *many = fmt("%s", s.q);
  for (int i = 0; i < 40; i++)
    many = fmt("%s&p%d=%d", many, i, i);
  r = call(&s, "GET", NULL, TPH, "/get_task_status/1/2/?%s", many);
  ASSERT(json_is_true(json_object_get(CHECK(r, 200), "result")));

  /* Still answering. */
  wait_for(&s, "1", "data.state", "CREATED", 1);
  start(&s, 1);
  wait_for(&s, "1", "data.state", "FINISHED", 10000);
  srv_stop(&s);
  release();
}

/* ---- Load: curl processes in the background ------------------------------
 * A curl config file of n requests alternating get_task_status of task
 * and get_tasks_status of [task]; each answer is written as its body, a
 * newline, its HTTP status and a newline. Returns the file's path. */
static const char *reader_cfg(const srv *s, int k, int n, const char *task) {
  const char *list = fmt("%s/list-%s.json", test_dir(), task);
  char *l = fmt("{\"task_id_list\": [%s]}", task);
  write_file(list, l, strlen(l));
  const char *path = fmt("%s/reader-%d.cfg", test_dir(), k);
  FILE *f = fopen(path, "w");
  ASSERT(f);
  for (int i = 0; i < n; i++) {
    if (i % 2 == 0)
      fprintf(f, "url = \"%s/get_task_status/%s/2/?%s\"\n", s->base, task,
              s->q);
    else
      fprintf(f,
              "url = \"%s/get_tasks_status/2/?%s\"\nrequest = \"POST\"\n"
              "data-binary = \"@%s\"\n",
              s->base, s->q, list);
    fprintf(f, "silent\nmax-time = 10\nwrite-out = \"\\n%%{http_code}\\n\"\n%s",
            i + 1 < n ? "next\n" : "");
  }
  ASSERT_EQ(fclose(f), 0);
  return path;
}

/* Checks a reader's output: each answer HTTP 200, JSON, result true;
 * counts answers and those whose task state is state. Unanswered
 * requests (status 000) are allowed when some_missing. */
static void check_reader(const char *path, int n, int some_missing,
                         int *answered, int *in_state, const char *state) {
  char *text = slurp_or_empty(path);
  int seen = 0;
  for (char *save, *body = strtok_r(text, "\n", &save); body;
       body = strtok_r(NULL, "\n", &save)) {
    char *code = body;
    /* An unanswered request writes no body: its line is the status. */
    if (strcmp(body, "000")) code = strtok_r(NULL, "\n", &save);
    if (!code) TEST_FAIL_("%s: a body without its status: %s", path, body);
    seen++;
    if (!strcmp(code, "000") && some_missing) continue;
    if (strcmp(code, "200")) TEST_FAIL_("%s: HTTP %s: %s", path, code, body);
    json_t *j = json_loads(body, 0, NULL);
    if (!j || !json_is_true(json_object_get(j, "result")) ||
        !json_object_get(j, "trace_id")) {
      json_decref(j);
      TEST_FAIL_("%s: answer %d: %s", path, seen, body);
    }
    json_t *d = json_object_get(j, "data");
    if (json_is_array(d)) {
      if (json_array_size(d) != 1) {
        json_decref(j);
        TEST_FAIL_("%s: answer %d: %s", path, seen, body);
      }
      d = json_object_get(json_array_get(d, 0), "status");
    }
    if (!strcmp(jstr(d, "state"), state)) (*in_state)++;
    (*answered)++;
    json_decref(j);
  }
  if (seen != n) TEST_FAIL_("%s: %d answers, expected %d", path, seen, n);
}

/* ---- serve_parallel_readers ------------------------------------------------
 * A real clock: four parallel branches of two 1-second timers, created
 * and started through the API, run while 8 curl processes make 25 status
 * requests each. */
void test_serve_parallel_readers(void) {
  srv s;
  srv_start(&s, tpath("db"), "", "", NULL);
  char *tree = timer_tree(4, 2, "1");
  ASSERT_EQ(create(&s, "timers", tree), 1);
  free(tree);
  int64_t t0 = now_ms();
  start(&s, 1);
  wait_for(&s, "1", "data.state", "RUNNING", 5000);
  char *cmd = fmt("%s", "");
  for (int k = 0; k < 8; k++)
    cmd = fmt("%scurl -K '%s' > '%s/reader-%d.out' 2>/dev/null & ", cmd,
              reader_cfg(&s, k, 25, "1"), test_dir(), k);
  cmd = fmt("%swait", cmd);
  int64_t b0 = now_ms();
  ASSERT_EQ(system(cmd), 0);
  int64_t burst = now_ms() - b0;
  int answered = 0, running = 0;
  for (int k = 0; k < 8; k++)
    check_reader(fmt("%s/reader-%d.out", test_dir(), k), 25, 0, &answered,
                 &running, "RUNNING");
  ASSERT_EQ(answered, 200);
  /* The readers ran while the timers did. */
  if (running == 0)
    TEST_FAIL_("no answer saw the task RUNNING (burst of %lld ms)",
               (long long)burst);
  json_t *j = wait_for(&s, "1", "data.state", "FINISHED", 20000);
  ASSERT(now_ms() - t0 >= 1900);
  ASSERT(jint(j, "data.elapsed_time") >= 2);
  for (int b = 0; b < 4; b++)
    for (int d = 0; d < 2; d++)
      ASSERT_STR(jstr(j, fmt("data.children.t%d_%d.state", b, d)), "FINISHED");
  srv_stop(&s);
  release();
}

/* ---- serve_usage -----------------------------------------------------------
 * --help, bad option values (exit 2, nothing created), a port already
 * taken (exit 1), the options' edge values, SIGINT and --max-seconds. */
void test_serve_usage(void) {
  char out[16384];
  const char *db = fmt("%s/db", test_dir());
  ASSERT_EQ(run("serve --help", out, sizeof out), 0);
  ASSERT_CONTAINS(out, "usage: rattan serve [--listen 127.0.0.1:8080]");
  ASSERT_CONTAINS(out, "  --listen A:P ");
  ASSERT_CONTAINS(out, "exit codes: 0 stopped; 1 could not start; 2 usage");
  struct {
    const char *args, *says;
  } bad[] = {
      {"--listen 127.0.0.1", "bad --listen"},
      {"--listen 127.0.0.1:", "bad --listen"},
      {"--listen 127.0.0.1:65536", "bad --listen"},
      {"--listen 127.0.0.1:-1", "bad --listen"},
      {"--listen 127.0.0.1:80x", "bad --listen"},
      {"--listen 256.0.0.1:80", "bad --listen"},
      {"--listen localhost:http", "bad --listen"},
      {"--listen ::1:80", "bad --listen"},
      {"--listen :80", "bad --listen"},
      {"--listen example.com:80", "bad --listen"},
      {"--threads 0", "bad --threads"},
      {"--threads 257", "bad --threads"},
      {"--threads x", "bad --threads"},
      {"--threads -1", "bad --threads"},
      {"--threads 8x", "bad --threads"},
      {"--threads ''", "bad --threads"},
      {"--max-body 0", "bad --max-body"},
      {"--max-body 1073741825", "bad --max-body"},
      {"--max-body -5", "bad --max-body"},
      {"--max-body 1k", "bad --max-body"},
      {"--max-body 99999999999999999999999", "bad --max-body"},
      {"--max-seconds 0", "bad --max-seconds"},
      {"--max-seconds x", "bad --max-seconds"},
      {"--frob 1", "unknown option \"--frob\""},
      {"--listen", "unknown option \"--listen\""},
      {"extra", "unexpected argument \"extra\""},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    int code = run(fmt("--db '%s' serve --max-seconds 5 %s", db, bad[i].args),
                   out, sizeof out);
    if (code != 2 || !strstr(out, bad[i].says) ||
        !strstr(out, "usage: rattan serve") ||
        strstr(out, "listening on http://127"))
      TEST_FAIL_("serve %s: exit %d: %s", bad[i].args, code, out);
  }
  /* Nothing was created by a refused command line. */
  struct stat sb;
  ASSERT(stat(fmt("%s-credentials.json", db), &sb) && errno == ENOENT);
  ASSERT(stat(db, &sb) && errno == ENOENT);

  /* A port already taken: exit 1, naming the address and the reason. */
  srv s;
  srv_start(&s, db, "", "", NULL);
  int code = run(fmt("--db '%s/db2' serve --listen 127.0.0.1:%u "
                     "--max-seconds 5",
                     test_dir(), s.port),
                 out, sizeof out);
  if (code != 1 ||
      !strstr(out, fmt("rattan serve: cannot listen on 127.0.0.1:%u: Address "
                       "already in use",
                       s.port)) ||
      strstr(out, "listening on http://127"))
    TEST_FAIL_("a taken port: exit %d: %s", code, out);
  /* The first server is unaffected. */
  resp r = call(&s, "GET", NULL, "", "/get_task_status/1/2/?%s", s.q);
  ASSERT_EQ(jint(CHECK(r, 200), "code"), 3540400);
  /* SIGINT stops it too. */
  ASSERT_EQ(kill(s.pid, SIGINT), 0);
  int st = srv_wait(&s, STOP_MS);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ASSERT_CONTAINS(slurp_or_empty(s.err), "rattan serve: stopped\n");

  /* Edge values: localhost, one thread, --base-url (the last --listen and
   * --max-seconds given win). */
  srv_start(&s, db, "",
            "--listen localhost:0 --threads 1 --threads 256 --threads 1 "
            "--max-body 1073741824 --base-url http://sops.example/",
            NULL);
  char *tree = tb_json(TB_LINE("p", "s a e", "noop"));
  r = call(&s, "POST", fmt("{\"name\": \"x\", \"pipeline_tree\": %s}", tree),
           "", "/create_task/2/?%s", s.q);
  free(tree);
  ASSERT_STR(jstr(CHECK(r, 200), "data.task_url"),
             "http://sops.example/taskflow/execute/2/?instance_id=1");
  r = call(&s, "POST", NULL, "", "/start_task/1/2/?%s", s.q);
  ASSERT_STR(jstr(CHECK(r, 200), "task_url"),
             "http://sops.example/taskflow/execute/2/?instance_id=1");
  srv_stop(&s);
  /* --max-seconds 1: it stops by itself, exit 0. */
  int64_t t0 = now_ms();
  srv_start(&s, db, "", "--max-seconds 1", NULL);
  st = srv_wait(&s, 10000);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ASSERT_CONTAINS(slurp_or_empty(s.err), "rattan serve: stopped\n");
  ASSERT(now_ms() - t0 >= 900);
  release();
}

/* ---- serve_sigterm_during_work ---------------------------------------------
 * SIGTERM while timers run, readers read and tasks are being created: the
 * server exits 0 in time; restarted on the same store it has every task
 * it acknowledged, and the running one finishes. */
void test_serve_sigterm_during_work(void) {
  srv s;
  const char *db = fmt("%s/db", test_dir());
  srv_start(&s, db, "", "", NULL);
  char *tree = timer_tree(2, 2, "1");
  ASSERT_EQ(create(&s, "timers", tree), 1);
  free(tree);
  start(&s, 1);
  tree = tb_json(TB_LINE("p", "s a e", "noop"));
  const char *body = fmt("%s/create.json", test_dir());
  char *b = fmt("{\"name\": \"c\", \"pipeline_tree\": %s}", tree);
  free(tree);
  write_file(body, b, strlen(b));
  const char *creates = fmt("%s/creates.txt", test_dir());
  char *cmd =
      fmt("(i=0; while [ $i -lt 300 ]; do curl -s --max-time 10 "
          "--data-binary '@%s' '%s/create_task/2/?%s' >> '%s'; "
          "echo >> '%s'; i=$((i+1)); done) & ",
          body, s.base, s.q, creates, creates);
  for (int k = 0; k < 4; k++)
    cmd = fmt("%scurl -K '%s' > '%s/reader-%d.out' 2>/dev/null & ", cmd,
              reader_cfg(&s, k, 300, "1"), test_dir(), k);
  cmd = fmt("%swait", cmd);
  FILE *load = popen(cmd, "r");
  ASSERT(load);
  /* Three tasks created: the load is under way. */
  int64_t end = now_ms() + 15000;
  for (;;) {
    int lines = 0;
    FILE *f = fopen(creates, "r");
    for (int c; f && (c = getc(f)) != EOF;)
      lines += c == '\n';
    if (f) fclose(f);
    if (lines >= 3) break;
    if (now_ms() > end) {
      pclose(load);
      SRV_FAIL(&s, "the load did not start");
    }
    sleep_ms(5);
  }
  srv_stop(&s);
  pclose(load);

  /* Every acknowledged creation: ids 2, 3, ... in order. */
  char *text = slurp_or_empty(creates);
  int n = 0, empty = 0;
  for (char *save, *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    json_t *j = json_loads(line, 0, NULL);
    if (!j || !json_is_true(json_object_get(j, "result")) ||
        json_integer_value(jget(j, "data.task_id")) != n + 2) {
      json_decref(j);
      TEST_FAIL_("creation %d: %s", n + 1, line);
    }
    json_decref(j);
    n++;
  }
  for (char *p = slurp_or_empty(creates); *p; p++)
    empty += *p == '\n';
  empty -= n;
  ASSERT(n >= 3);
  /* The server stopped before the load ended. */
  if (empty == 0) TEST_FAIL_("all 300 creations answered before SIGTERM");
  int answered = 0, running = 0;
  for (int k = 0; k < 4; k++)
    check_reader(fmt("%s/reader-%d.out", test_dir(), k), 300, 1, &answered,
                 &running, "RUNNING");
  ASSERT(answered > 0);

  /* Restarted: the same credentials, every task, the timers go on. */
  srv_start(&s, db, "", "", NULL);
  ASSERT_CONTAINS(slurp_or_empty(s.err), "credentials from");
  resp r = call(&s, "GET", NULL, "", "/get_task_status/1/2/?%s", s.q);
  json_t *j = CHECK(r, 200);
  ASSERT(json_is_true(json_object_get(j, "result")));
  const char *state = jstr(j, "data.state");
  if (strcmp(state, "RUNNING") && strcmp(state, "FINISHED"))
    TEST_FAIL_("task 1 after the restart: %s", r.body);
  for (int i = 0; i < n; i++) {
    j = wait_for(&s, fmt("%d", i + 2), "data.state", "CREATED", 1);
    ASSERT_STR(jstr(j, "data.name"), "c");
  }
  /* At most one more: a creation whose answer was cut off. */
  r = call(&s, "GET", NULL, "", "/get_task_status/%d/2/?%s", n + 3, s.q);
  ASSERT_EQ(jint(CHECK(r, 200), "code"), 3540400);
  r = call(&s, "POST", "{\"task_id_list\": [1, 2, 3]}", "",
           "/get_tasks_status/2/?%s", s.q);
  ASSERT_EQ(json_array_size(json_object_get(CHECK(r, 200), "data")), 3);
  j = wait_for(&s, "1", "data.state", "FINISHED", 20000);
  ASSERT(jint(j, "data.elapsed_time") >= 2);
  srv_stop(&s);
  release();
}
