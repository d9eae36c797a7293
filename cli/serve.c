/*
 * rattan serve: SOPS's gateway API over HTTP (libmicrohttpd), with the
 * tasks driven in the background.
 *
 * Threads: libmicrohttpd's pool answers requests; one driver thread
 * drives every task; the main thread waits for SIGTERM / SIGINT. The
 * engine is shared under one mutex, except for the read routes, which
 * the library lets run beside a writer (rattan_gateway_reads), so
 * status readers never wait for the driver.
 *
 * Credentials: bk_app_code / bk_app_secret as request parameters, body
 * fields or the X-Bkapi-Authorization JSON header, checked against a
 * JSON file {"apps": {"CODE": "SECRET", ...}} before anything else; a
 * request that fails gets one answer whatever was wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char serve_usage[] =
    "usage: rattan serve [--listen 127.0.0.1:8080] [--credentials FILE]\n"
    "                    [--threads N] [--max-body BYTES] [--base-url URL]\n"
    "                    [--max-seconds N]\n"
    "  answers SOPS's gateway routes over HTTP and drives the tasks\n"
    "  --listen A:P       address and port (default 127.0.0.1:8080; port 0\n"
    "                     picks a free one); loopback unless told otherwise\n"
    "  --credentials F    {\"apps\": {\"CODE\": \"SECRET\"}} (default: DB\n"
    "                     with -credentials.json appended, created with a\n"
    "                     random secret for app \"rattan\" when missing)\n"
    "  --threads N        request threads (default 8)\n"
    "  --max-body B       largest request body (default 8388608)\n"
    "  --base-url URL     task_url's prefix (default http://A:P/)\n"
    "  --max-seconds N    stop after N seconds (tests, demos)\n"
    "  prints \"listening on http://A:P/\" once ready; stops on SIGTERM or\n"
    "  SIGINT after the requests in progress\n"
    "exit codes: 0 stopped; 1 could not start; 2 usage\n";

#define PARAMS_MAX 64
#define SECRET_MAX 128

typedef struct server {
  rattan_engine *e;
  const cli *c;
  json_t *apps; /* code -> secret */
  size_t max_body;
  char base_url[300];
  pthread_mutex_t lock; /* the engine, for everything but reads */
  pthread_cond_t kick;  /* a write happened, or stop */
  int kicked, stopping;
} server;

/* One request's state across libmicrohttpd's calls. */
typedef struct req {
  char *body;
  size_t len, cap;
  int too_big;
} req;

/* ---- Credentials ----------------------------------------------------------
 */

static void random_hex(char *out, size_t n) {
  static const char hex[] = "0123456789abcdef";
  unsigned char b[64];
  size_t k = n / 2 < sizeof b ? n / 2 : sizeof b;
  if (getrandom(b, k, 0) != (ssize_t)k) { /* never on Linux >= 3.17 */
    for (size_t i = 0; i < k; i++)
      b[i] = (unsigned char)(rand() ^ (int)time(NULL));
  }
  for (size_t i = 0; i < k; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * k] = '\0';
}

/* Creates path (0600, never over an existing file) with one app. */
static int make_credentials(const char *path) {
  char secret[65];
  random_hex(secret, 64);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return -1;
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    return -1;
  }
  fprintf(f, "{\"apps\": {\"rattan\": \"%s\"}}\n", secret);
  int bad = fflush(f) || fsync(fd);
  return fclose(f) || bad ? -1 : 0;
}

static json_t *load_credentials(const char *path, int created) {
  json_error_t err;
  json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
  if (!j) {
    if (err.line > 0)
      fprintf(stderr, "rattan serve: %s: %s (line %d)\n", path, err.text,
              err.line);
    else /* jansson's text names the file */
      fprintf(stderr, "rattan serve: %s\n", err.text);
    return NULL;
  }
  json_t *apps = json_object_get(j, "apps");
  const char *k;
  json_t *v;
  int ok = json_is_object(apps) && json_object_size(apps) > 0;
  json_object_foreach(apps, k, v) ok &= json_is_string(v) && *k &&
                                        json_string_length(v) >= 16 &&
                                        json_string_length(v) <= SECRET_MAX;
  if (!ok) {
    fprintf(stderr,
            "rattan serve: %s: expected {\"apps\": {\"CODE\": \"SECRET\"}} "
            "with secrets of 16 to %d characters\n",
            path, SECRET_MAX);
    json_decref(j);
    return NULL;
  }
  json_incref(apps);
  json_decref(j);
  fprintf(stderr, "rattan serve: credentials %s %s\n",
          created ? "created in" : "from", path);
  return apps;
}

/* Compares in time that depends only on b's length. */
static int same_secret(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  unsigned diff = na != nb;
  for (size_t i = 0; i < nb; i++)
    diff |= (unsigned)(unsigned char)(i < na ? a[i] : 0) ^
            (unsigned)(unsigned char)b[i];
  return diff == 0;
}

static int authorized(const server *s, const char *code, const char *secret) {
  /* An unknown code still costs one comparison. */
  static const char nobody[] = "0000000000000000";
  const char *want =
      code ? json_string_value(json_object_get(s->apps, code)) : NULL;
  int same = same_secret(want ? want : nobody, secret ? secret : "");
  return want && secret && same;
}

/* ---- Answers
 * -----------------------------------------------------------------
 */

static enum MHD_Result reply(struct MHD_Connection *conn, int status,
                             char *body, size_t len, const char *trace) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", "application/json");
  if (status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header(r, "WWW-Authenticate", "X-Bkapi-Authorization");
  if (trace) MHD_add_response_header(r, "Sops-Trace-Id", trace);
  enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
  MHD_destroy_response(r);
  return ok;
}

/* An answer the server gives before any route: SOPS's error shape. */
static enum MHD_Result refuse(struct MHD_Connection *conn, int status, int code,
                              const char *message, const char *trace) {
  char body[512];
  int n = snprintf(body, sizeof body,
                   "{\"result\": false, \"message\": \"%s\", \"code\": %d, "
                   "\"trace_id\": \"%s\"}",
                   message, code, trace);
  return reply(conn, status, body, (size_t)n, trace);
}

/* ---- Requests
 * ----------------------------------------------------------------
 */

typedef struct params {
  const char *kv[2 * PARAMS_MAX];
  size_t n;
  int overflow; /* more than PARAMS_MAX were given */
} params;

static enum MHD_Result add_param(void *ctx, enum MHD_ValueKind kind,
                                 const char *key, const char *value) {
  (void)kind;
  params *p = ctx;
  if (p->n == PARAMS_MAX) {
    p->overflow = 1;
    return MHD_NO;
  }
  p->kv[2 * p->n] = key;
  p->kv[2 * p->n + 1] = value ? value : "";
  p->n++;
  return MHD_YES;
}

/* The last value given, as the gateway (and Django) take it. */
static const char *param(const params *p, const char *name) {
  const char *v = NULL;
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->kv[2 * i], name)) v = p->kv[2 * i + 1];
  return v;
}

/* The credentials and operator of a request: parameters first, then the
 * X-Bkapi-Authorization header, then the body. *hold keeps parsed JSON
 * alive while the strings are used. */
typedef struct who {
  const char *code, *secret, *user;
  json_t *hold[2];
} who;

static void pick(who *w, json_t *j) {
  if (!w->code) w->code = json_string_value(json_object_get(j, "bk_app_code"));
  if (!w->secret)
    w->secret = json_string_value(json_object_get(j, "bk_app_secret"));
  if (!w->user) w->user = json_string_value(json_object_get(j, "bk_username"));
}

static void identify(struct MHD_Connection *conn, const params *p, const req *q,
                     who *w) {
  *w = (who){.code = param(p, "bk_app_code"),
             .secret = param(p, "bk_app_secret"),
             .user = param(p, "bk_username")};
  const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                              "X-Bkapi-Authorization");
  if (h && strlen(h) <= 4096) pick(w, w->hold[0] = json_loads(h, 0, NULL));
  if (q->len) pick(w, w->hold[1] = json_loadb(q->body, q->len, 0, NULL));
}

static void unhold(who *w) {
  json_decref(w->hold[0]);
  json_decref(w->hold[1]);
}

static enum MHD_Result answer(server *s, struct MHD_Connection *conn,
                              const char *url, const char *method, req *q) {
  /* W3C's traceparent, verbatim as SOPS takes it, when it looks like
   * one (it is echoed in headers and JSON). */
  char trace[65];
  const char *tp =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "traceparent");
  size_t tn = tp ? strlen(tp) : 0;
  if (tn && tn < sizeof trace && strspn(tp, "0123456789abcdefABCDEF-") == tn)
    memcpy(trace, tp, tn + 1);
  else
    random_hex(trace, 32);
  if (q->too_big) {
    char msg[80];
    snprintf(msg, sizeof msg, "request body is larger than %zu bytes",
             s->max_body);
    return refuse(conn, 413, 3540000, msg, trace);
  }
  params p = {.n = 0};
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_param, &p);
  if (p.overflow)
    return refuse(conn, MHD_HTTP_BAD_REQUEST, 3540000,
                  "more than 64 query parameters", trace);
  who w;
  identify(conn, &p, q, &w);
  if (!authorized(s, w.code, w.secret)) {
    unhold(&w);
    return refuse(conn, MHD_HTTP_UNAUTHORIZED, 3540100,
                  "app authentication failed: bk_app_code or bk_app_secret "
                  "is missing or wrong",
                  trace);
  }
  rattan_request rq;
  rattan_request_init(&rq);
  rq.method = method;
  rq.path = url;
  rq.params = p.kv;
  rq.n_params = p.n;
  rq.body = q->body;
  rq.body_len = q->len;
  rq.trace_id = trace;
  rq.username = w.user ? w.user : w.code;
  rq.base_url = s->base_url;
  rq.tz_offset_min = s->c->tz_offset_min;
  int reads = rattan_gateway_reads(url);
  char *out = NULL;
  size_t len = 0;
  int status = 500;
  if (!reads) pthread_mutex_lock(&s->lock);
  rattan_gateway(s->e, &rq, &out, &len, &status);
  if (!reads) {
    s->kicked = 1;
    pthread_cond_signal(&s->kick);
    pthread_mutex_unlock(&s->lock);
  }
  unhold(&w);
  enum MHD_Result ok = out ? reply(conn, status, out, len, trace)
                           : refuse(conn, 500, 3599999, "out of memory", trace);
  rattan_free(out);
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **state) {
  (void)version;
  server *s = cls;
  req *q = *state;
  if (!q) { /* the headers arrived: refuse a declared oversize at once */
    if (!(q = calloc(1, sizeof *q))) return MHD_NO;
    *state = q;
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->max_body) {
      /* Answered before the body is read: no 100 Continue, and
       * libmicrohttpd closes the connection after the answer. */
      q->too_big = 1;
      return answer(s, conn, url, method, q);
    }
    return MHD_YES;
  }
  if (*data_size) {
    size_t n = *data_size;
    *data_size = 0;
    if (q->too_big || n > s->max_body - q->len) {
      q->too_big = 1; /* the rest is read and dropped */
      return MHD_YES;
    }
    if (q->len + n + 1 > q->cap) {
      size_t cap = q->cap ? q->cap : 4096;
      while (cap < q->len + n + 1)
        cap *= 2;
      char *b = realloc(q->body, cap);
      if (!b) return MHD_NO;
      q->body = b;
      q->cap = cap;
    }
    memcpy(q->body + q->len, data, n);
    q->len += n;
    q->body[q->len] = '\0';
    return MHD_YES;
  }
  return answer(s, conn, url, method, q);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
                    enum MHD_RequestTerminationCode why) {
  (void)cls;
  (void)conn;
  (void)why;
  req *q = *state;
  if (q) free(q->body);
  free(q);
  *state = NULL;
}

/* ---- The driver
 * ---------------------------------------------------------------
 */

static void *driver(void *arg) {
  server *s = arg;
  pthread_mutex_lock(&s->lock);
  while (!s->stopping) {
    rattan_drive_result r;
    s->kicked = 0;
    int rc = rattan_drive(s->e, NULL, 64, &r);
    if (rc) fprintf(stderr, "rattan serve: drive: %s\n", rattan_errmsg(s->e));
    if (!rc && r.more) {
      /* Let waiting requests in between slices. */
      pthread_mutex_unlock(&s->lock);
      sched_yield();
      pthread_mutex_lock(&s->lock);
      continue;
    }
    if (s->kicked) continue;
    int64_t wait = rc ? 1000000 : 60000000;
    if (!rc && r.next_due_us != RATTAN_NO_TIME) {
      int64_t d = r.next_due_us - rattan_now(s->e);
      wait = d < 0 ? 0 : d < wait ? d : wait;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + wait % 1000000 * 1000;
    ts.tv_sec += (time_t)(wait / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    while (!s->kicked && !s->stopping &&
           pthread_cond_timedwait(&s->kick, &s->lock, &ts) == 0) {
    }
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- The command
 * -----------------------------------------------------------------
 */

/* "A:P" into an IPv4 socket address; -1 if it is not one. */
static int parse_listen(const char *s, struct sockaddr_in *a) {
  const char *colon = strrchr(s, ':');
  char host[64];
  if (!colon || (size_t)(colon - s) >= sizeof host) return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  char *end;
  if (colon[1] < '0' || colon[1] > '9') return -1;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (!colon[1] || *end || port > 65535) return -1;
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  if (!strcmp(host, "localhost")) snprintf(host, sizeof host, "127.0.0.1");
  return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static int positive(const char *s, unsigned long long max,
                    unsigned long long *out) {
  char *end;
  errno = 0;
  if (*s < '0' || *s > '9') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || !*s || *end || *s == '-' || v == 0 || v > max) return -1;
  *out = v;
  return 0;
}

int cmd_serve(const cli *c, int argc, char **argv) {
  static const char *const names[] = {"listen",   "credentials", "threads",
                                      "max-body", "base-url",    "max-seconds"};
  const char *vals[6] = {"127.0.0.1:8080", NULL, "8", "8388608", NULL, NULL};
  if (cli_args(argc, argv, serve_usage, names, vals, 6, NULL, 0, ""))
    return EXIT_USAGE;
  struct sockaddr_in addr;
  unsigned long long threads, max_body, max_seconds = 0;
  const char *bad = parse_listen(vals[0], &addr)               ? "listen"
                    : positive(vals[2], 256, &threads)         ? "threads"
                    : positive(vals[3], 1ull << 30, &max_body) ? "max-body"
                    : vals[5] && positive(vals[5], 1ull << 31, &max_seconds)
                        ? "max-seconds"
                        : NULL;
  if (bad) {
    fprintf(stderr, "rattan serve: bad --%s\n%s", bad, serve_usage);
    return EXIT_USAGE;
  }
  char cred[4096];
  snprintf(cred, sizeof cred, "%s-credentials.json", c->db);
  if (vals[1]) snprintf(cred, sizeof cred, "%s", vals[1]);
  struct stat sb;
  int created = 0;
  if (!vals[1] && stat(cred, &sb) && errno == ENOENT) {
    if (make_credentials(cred)) {
      fprintf(stderr, "rattan serve: %s: %s\n", cred, strerror(errno));
      return EXIT_REFUSED;
    }
    created = 1;
  }
  server s = {.c = c, .max_body = max_body};
  if (!(s.apps = load_credentials(cred, created))) return EXIT_REFUSED;
  if (!(s.e = cli_open(c))) {
    json_decref(s.apps);
    return EXIT_REFUSED;
  }
  if (ntohl(addr.sin_addr.s_addr) >> 24 != 127)
    fprintf(stderr,
            "rattan serve: warning: %s is not a loopback address; "
            "credentials travel in clear text\n",
            vals[0]);
  pthread_mutex_init(&s.lock, NULL);
  pthread_cond_init(&s.kick, NULL);

  /* Signals go to the main thread only: block them before any thread. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  int code = EXIT_REFUSED;
  pthread_t drv;
  if (pthread_create(&drv, NULL, driver, &s)) {
    fprintf(stderr, "rattan serve: cannot start the driver thread\n");
    goto out_engine;
  }
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, &s,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
      MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)30, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "rattan serve: cannot listen on %s: %s\n", vals[0],
            strerror(errno));
    goto out_driver;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
  unsigned port = info ? info->port : ntohs(addr.sin_port);
  if (vals[4])
    snprintf(s.base_url, sizeof s.base_url, "%s", vals[4]);
  else
    snprintf(s.base_url, sizeof s.base_url, "http://%s:%u/", host, port);
  printf("listening on http://%s:%u/\n", host, port);
  fflush(stdout);

  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct timespec one = {1, 0}, now;
    int sig = sigtimedwait(&sigs, NULL, &one);
    if (sig == SIGTERM || sig == SIGINT) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (max_seconds &&
        (unsigned long long)(now.tv_sec - start.tv_sec) >= max_seconds)
      break;
  }
  MHD_stop_daemon(d); /* waits for the requests in progress */
  fprintf(stderr, "rattan serve: stopped\n");
  code = EXIT_DONE;
out_driver:
  pthread_mutex_lock(&s.lock);
  s.stopping = 1;
  pthread_cond_signal(&s.kick);
  pthread_mutex_unlock(&s.lock);
  pthread_join(drv, NULL);
out_engine:
  rattan_close(s.e);
  json_decref(s.apps);
  pthread_cond_destroy(&s.kick);
  pthread_mutex_destroy(&s.lock);
  return code;
}
