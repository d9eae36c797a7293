/* The public surface: versions, errors, options, open and close, and the
 * allocator hook. */
#include <sys/stat.h>

#include "test.h"

void test_api_version(void) {
  ASSERT_STR(rattan_version(), RATTAN_VERSION_STRING);
  ASSERT_EQ(rattan_version_number(), RATTAN_VERSION_NUMBER);
  ASSERT_EQ(RATTAN_VERSION_NUMBER, RATTAN_VERSION_MAJOR * 1000000 +
                                       RATTAN_VERSION_MINOR * 1000 +
                                       RATTAN_VERSION_PATCH);
}

void test_api_errors(void) {
  static const struct {
    int code;
    const char *name;
  } codes[] = {
#define X(name, value, text) {value, "RATTAN_" #name},
      RATTAN_ERROR_MAP(X)
#undef X
  };
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    ASSERT_STR(rattan_errname(codes[i].code), codes[i].name);
    const char *s = rattan_strerror(codes[i].code);
    ASSERT(strncmp(s, codes[i].name, strlen(codes[i].name)) == 0);
    ASSERT(s[strlen(codes[i].name)] == ':');
    for (size_t j = 0; j < i; j++)
      ASSERT_NE(codes[i].code, codes[j].code);
  }
  ASSERT_STR(rattan_strerror(-999), "RATTAN_E?: unknown error");
  ASSERT_STR(rattan_errname(12345), "RATTAN_E?");
  ASSERT_EQ(RATTAN_OK, 0);
}

void test_api_open_close(void) {
  rattan_engine *e;
  char msg[512];
  rattan_options o;
  rattan_options_init(&o);
  ASSERT_EQ(o.durability, RATTAN_DURABILITY_SYNC);
  o.clock.kind = RATTAN_CLOCK_FIXED;
  o.clock.start_us = 1615347954000000LL;
  const char *dir = test_path("new-store");
  ASSERT_OK(rattan_open(dir, &o, &e, msg, sizeof msg), msg);
  struct stat sb;
  ASSERT_EQ(stat(test_path("new-store/data.mdb"), &sb), 0);
  ASSERT_EQ(rattan_now(e), 1615347954000000LL);
  ASSERT_STR(rattan_errmsg(e), "");
  rattan_close(e);
  rattan_close(NULL);
  ASSERT_STR(rattan_errmsg(NULL), "");
}

void test_api_open_refusals(void) {
  rattan_engine *e = (rattan_engine *)1;
  char msg[512];
  rattan_options o;
  rattan_options_init(&o);
  o.durability = 7;
  ASSERT_ERR(rattan_open(test_dir(), &o, &e, msg, sizeof msg), RATTAN_EINVAL);
  ASSERT(e == NULL);
  ASSERT_STR(msg, "options.durability: unknown value 7");
  rattan_options_init(&o);
  o.clock.kind = RATTAN_CLOCK_HOOK;
  ASSERT_ERR(rattan_open(test_dir(), &o, &e, msg, sizeof msg), RATTAN_EINVAL);
  ASSERT_CONTAINS(msg, "options.clock.now_us");
  rattan_options_init(&o);
  o.map_size = 2 << 20;
  o.map_size_max = 1 << 20;
  ASSERT_ERR(rattan_open(test_dir(), &o, &e, msg, sizeof msg), RATTAN_EINVAL);
  ASSERT_CONTAINS(msg, "options.map_size");
  ASSERT_ERR(rattan_open("", NULL, &e, msg, sizeof msg), RATTAN_EINVAL);
  ASSERT_ERR(rattan_open(test_dir(), NULL, NULL, NULL, 0), RATTAN_EINVAL);
  /* A file where the directory should be. */
  FILE *f = fopen(test_path("file"), "w");
  ASSERT(f);
  fclose(f);
  ASSERT_ERR(rattan_open(test_path("file"), NULL, &e, msg, sizeof msg),
             RATTAN_EINVAL);
  ASSERT_CONTAINS(msg, "not a directory");
  ASSERT_ERR(
      rattan_open(test_path("no/such/parent"), NULL, &e, msg, sizeof msg),
      RATTAN_EIO);
  ASSERT_CONTAINS(msg, "cannot create directory");
  /* A tiny message buffer is truncated, never overrun. */
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  ASSERT_ERR(rattan_open(test_path("file"), NULL, &e, tiny, 4), RATTAN_EINVAL);
  ASSERT_EQ(strlen(tiny), 3);
  ASSERT_EQ(tiny[4], 'x');
}

/* A counting allocator that can fail the nth allocation. */
static long live, calls, fail_at;

static void *t_malloc(size_t n, void *ctx) {
  (void)ctx;
  if (fail_at && ++calls == fail_at) return NULL;
  void *p = malloc(n);
  if (p) live++;
  return p;
}
static void *t_realloc(void *p, size_t n, void *ctx) {
  (void)ctx;
  if (fail_at && ++calls == fail_at) return NULL;
  void *q = realloc(p, n);
  if (q && !p) live++;
  return q;
}
static void t_free(void *p, void *ctx) {
  (void)ctx;
  if (p) live--;
  free(p);
}

/* Fail the 1st, 2nd, ... allocation of open until it succeeds: each
 * failure is RATTAN_ENOMEM with nothing left allocated. */
void test_api_allocator_oom(void) {
  rattan_allocator a = {t_malloc, t_realloc, t_free, NULL};
  rattan_allocator bad = {NULL, t_realloc, t_free, NULL};
  ASSERT_ERR(rattan_set_allocator(&bad), RATTAN_EINVAL);
  ASSERT_OK(rattan_set_allocator(&a), "set");
  char msg[512];
  int failures = 0;
  for (fail_at = 1;; fail_at++) {
    calls = 0;
    rattan_engine *e;
    int rc = rattan_open(test_dir(), NULL, &e, msg, sizeof msg);
    if (rc == 0) {
      ASSERT(live > 0);
      rattan_close(e);
      ASSERT_EQ(live, 0);
      break;
    }
    ASSERT_ERR(rc, RATTAN_ENOMEM);
    ASSERT_CONTAINS(msg, "out of memory");
    ASSERT(e == NULL);
    ASSERT_EQ(live, 0);
    failures++;
  }
  ASSERT(failures >= 2);
  ASSERT_OK(rattan_set_allocator(NULL), "reset");
}

/* Fail the 1st, 2nd, ... allocation of creating a task (jansson's
 * included) until it succeeds: each failure is RATTAN_ENOMEM, leaks
 * nothing and stores nothing. */
void test_api_create_oom(void) {
  static const char tree[] =
      "{\"id\":\"p\",\"start_event\":{\"id\":\"s\",\"type\":"
      "\"EmptyStartEvent\","
      "\"incoming\":\"\",\"outgoing\":\"f1\"},\"activities\":{\"a\":{\"id\":"
      "\"a\",\"type\":\"ServiceActivity\",\"incoming\":[\"f1\"],\"outgoing\":"
      "\"f2\",\"component\":{\"code\":\"noop\",\"inputs\":{\"x\":{\"type\":"
      "\"splice\",\"value\":\"${y}\"}}},\"error_ignorable\":false,"
      "\"skippable\":true,\"retryable\":true}},\"gateways\":{},\"flows\":{"
      "\"f1\":{\"id\":\"f1\",\"source\":\"s\",\"target\":\"a\"},\"f2\":{"
      "\"id\":\"f2\",\"source\":\"a\",\"target\":\"e\"}},\"end_event\":{"
      "\"id\":\"e\",\"type\":\"EmptyEndEvent\",\"incoming\":[\"f2\"],"
      "\"outgoing\":\"\"},\"data\":{\"inputs\":{\"${y}\":{\"type\":\"plain\","
      "\"value\":1}},\"outputs\":[]}}";
  rattan_allocator a = {t_malloc, t_realloc, t_free, NULL};
  ASSERT_OK(rattan_set_allocator(&a), "set");
  rattan_engine *e;
  char msg[512], id[RATTAN_ID_MAX + 1];
  fail_at = 0;
  ASSERT_OK(rattan_open(test_dir(), NULL, &e, msg, sizeof msg), msg);
  long base = live;
  int failures = 0;
  for (fail_at = 1;; fail_at++) {
    calls = 0;
    int rc = rattan_task_create(e, tree, sizeof tree - 1, NULL, id);
    if (rc == 0) break;
    if (rc != RATTAN_ENOMEM)
      TEST_FAIL_("allocation %ld: %s: %s", fail_at, rattan_errname(rc),
                 rattan_errmsg(e));
    ASSERT_EQ(live, base);
    failures++;
  }
  ASSERT(failures > 10);
  ASSERT_STR(id, "1"); /* nothing was stored before */
  fail_at = 0;
  rattan_close(e);
  ASSERT_EQ(live, 0);
  ASSERT_OK(rattan_set_allocator(NULL), "reset");
}
