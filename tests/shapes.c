/* Generated pipeline trees shared by the tests and the benchmarks. */
#include "shapes.h"

#include <stdarg.h>
#include <stdio.h>

#include "store/mem.h"

/* A tree being written: the text so far, and whether memory ran out. */
typedef struct tree {
  buf b;
  int oom;
} tree;

__attribute__((format(printf, 2, 3))) static void out(tree *t, const char *fmt,
                                                      ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  /* A line that did not fit counts as a failure, never a short read. */
  t->oom |= n < 0 || (size_t)n >= sizeof line ||
            buf_append(&t->b, line, (size_t)n) != 0;
}

/* The finished text, NUL-terminated, or NULL when memory ran out. */
static char *done(tree *t) {
  if (t->oom || buf_append(&t->b, "", 1)) {
    buf_free(&t->b);
    return NULL;
  }
  return (char *)t->b.data;
}

/* A parallel gateway fanning out to `branches` branches of `len`
 * activities: bamboo's published large-pipeline shape. */
char *shape_fan_out(int branches, int len) {
  tree t = {0};
  out(&t,
      "{\"id\":\"root\",\"start_event\":{\"id\":\"s\",\"type\":"
      "\"EmptyStartEvent\",\"incoming\":\"\",\"outgoing\":\"fs\"},"
      "\"end_event\":{\"id\":\"e\",\"type\":\"EmptyEndEvent\","
      "\"incoming\":[\"fe\"],\"outgoing\":\"\"},\"activities\":{");
  for (int i = 0; i < branches; i++)
    for (int j = 0; j < len; j++)
      out(&t,
          "%s\"a%d_%d\":{\"id\":\"a%d_%d\",\"type\":\"ServiceActivity\","
          "\"incoming\":[\"f%d_%d\"],\"outgoing\":\"f%d_%d\",\"component\":"
          "{\"code\":\"noop\",\"inputs\":{}},\"error_ignorable\":false,"
          "\"skippable\":true,\"retryable\":true}",
          i || j ? "," : "", i, j, i, j, i, j, i, j + 1);
  out(&t,
      "},\"gateways\":{\"pg\":{\"id\":\"pg\",\"type\":\"ParallelGateway\","
      "\"incoming\":[\"fs\"],\"outgoing\":[");
  for (int i = 0; i < branches; i++)
    out(&t, "%s\"f%d_0\"", i ? "," : "", i);
  out(&t,
      "]},\"cg\":{\"id\":\"cg\",\"type\":\"ConvergeGateway\",\"incoming\":[");
  for (int i = 0; i < branches; i++)
    out(&t, "%s\"f%d_%d\"", i ? "," : "", i, len);
  out(&t,
      "],\"outgoing\":\"fe\"}},\"flows\":{\"fs\":{\"id\":\"fs\",\"source\":"
      "\"s\",\"target\":\"pg\"},\"fe\":{\"id\":\"fe\",\"source\":\"cg\","
      "\"target\":\"e\"}");
  for (int i = 0; i < branches; i++)
    for (int j = 0; j <= len; j++) {
      char src[32], dst[32];
      if (j == 0)
        snprintf(src, sizeof src, "pg");
      else
        snprintf(src, sizeof src, "a%d_%d", i, j - 1);
      if (j == len)
        snprintf(dst, sizeof dst, "cg");
      else
        snprintf(dst, sizeof dst, "a%d_%d", i, j);
      out(&t,
          ",\"f%d_%d\":{\"id\":\"f%d_%d\",\"source\":\"%s\",\"target\":"
          "\"%s\"}",
          i, j, i, j, src, dst);
    }
  out(&t, "},\"data\":{\"inputs\":{},\"outputs\":[]}}");
  return done(&t);
}

/* Start, len no-op activities one after another, end. */
char *shape_chain(int len) {
  tree t = {0};
  out(&t,
      "{\"id\":\"root\",\"start_event\":{\"id\":\"s\",\"type\":"
      "\"EmptyStartEvent\",\"incoming\":\"\",\"outgoing\":\"f0\"},"
      "\"end_event\":{\"id\":\"e\",\"type\":\"EmptyEndEvent\","
      "\"incoming\":[\"f%d\"],\"outgoing\":\"\"},\"activities\":{",
      len);
  for (int i = 0; i < len; i++)
    out(&t,
        "%s\"a%d\":{\"id\":\"a%d\",\"type\":\"ServiceActivity\","
        "\"incoming\":[\"f%d\"],\"outgoing\":\"f%d\",\"component\":"
        "{\"code\":\"noop\",\"inputs\":{}},\"error_ignorable\":false,"
        "\"skippable\":true,\"retryable\":true}",
        i ? "," : "", i, i, i, i + 1);
  out(&t, "},\"gateways\":{},\"flows\":{");
  for (int i = 0; i <= len; i++) {
    char src[32], dst[32];
    if (i == 0)
      snprintf(src, sizeof src, "s");
    else
      snprintf(src, sizeof src, "a%d", i - 1);
    if (i == len)
      snprintf(dst, sizeof dst, "e");
    else
      snprintf(dst, sizeof dst, "a%d", i);
    out(&t, "%s\"f%d\":{\"id\":\"f%d\",\"source\":\"%s\",\"target\":\"%s\"}",
        i ? "," : "", i, i, src, dst);
  }
  out(&t, "},\"data\":{\"inputs\":{},\"outputs\":[]}}");
  return done(&t);
}
