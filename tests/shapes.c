/* Generated pipeline trees shared by the tests and the benchmarks. */
#include "shapes.h"

#include <stdio.h>

#include "store/mem.h"

/* A parallel gateway fanning out to `branches` branches of `len`
 * activities: bamboo's published large-pipeline shape. */
char *shape_fan_out(int branches, int len) {
  buf b = {0};
  char line[256];
  int oom = 0;
#define OUT(...)                                            \
  do {                                                      \
    int n_ = snprintf(line, sizeof line, __VA_ARGS__);      \
    oom |= n_ < 0 || buf_append(&b, line, (size_t)n_) != 0; \
  } while (0)
  OUT("{\"id\":\"root\",\"start_event\":{\"id\":\"s\",\"type\":"
      "\"EmptyStartEvent\",\"incoming\":\"\",\"outgoing\":\"fs\"},"
      "\"end_event\":{\"id\":\"e\",\"type\":\"EmptyEndEvent\","
      "\"incoming\":[\"fe\"],\"outgoing\":\"\"},\"activities\":{");
  for (int i = 0; i < branches; i++)
    for (int j = 0; j < len; j++)
      OUT("%s\"a%d_%d\":{\"id\":\"a%d_%d\",\"type\":\"ServiceActivity\","
          "\"incoming\":[\"f%d_%d\"],\"outgoing\":\"f%d_%d\",\"component\":"
          "{\"code\":\"noop\",\"inputs\":{}},\"error_ignorable\":false,"
          "\"skippable\":true,\"retryable\":true}",
          i || j ? "," : "", i, j, i, j, i, j, i, j + 1);
  OUT("},\"gateways\":{\"pg\":{\"id\":\"pg\",\"type\":\"ParallelGateway\","
      "\"incoming\":[\"fs\"],\"outgoing\":[");
  for (int i = 0; i < branches; i++)
    OUT("%s\"f%d_0\"", i ? "," : "", i);
  OUT("]},\"cg\":{\"id\":\"cg\",\"type\":\"ConvergeGateway\",\"incoming\":[");
  for (int i = 0; i < branches; i++)
    OUT("%s\"f%d_%d\"", i ? "," : "", i, len);
  OUT("],\"outgoing\":\"fe\"}},\"flows\":{\"fs\":{\"id\":\"fs\",\"source\":"
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
      OUT(",\"f%d_%d\":{\"id\":\"f%d_%d\",\"source\":\"%s\",\"target\":"
          "\"%s\"}",
          i, j, i, j, src, dst);
    }
  OUT("},\"data\":{\"inputs\":{},\"outputs\":[]}}");
#undef OUT
  if (oom || buf_append(&b, "", 1)) {
    buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}

/* Start, len no-op activities one after another, end. */
char *shape_chain(int len) {
  buf b = {0};
  char line[256];
  int oom = 0;
#define OUT(...)                                            \
  do {                                                      \
    int n_ = snprintf(line, sizeof line, __VA_ARGS__);      \
    oom |= n_ < 0 || buf_append(&b, line, (size_t)n_) != 0; \
  } while (0)
  OUT("{\"id\":\"root\",\"start_event\":{\"id\":\"s\",\"type\":"
      "\"EmptyStartEvent\",\"incoming\":\"\",\"outgoing\":\"f0\"},"
      "\"end_event\":{\"id\":\"e\",\"type\":\"EmptyEndEvent\","
      "\"incoming\":[\"f%d\"],\"outgoing\":\"\"},\"activities\":{",
      len);
  for (int i = 0; i < len; i++)
    OUT("%s\"a%d\":{\"id\":\"a%d\",\"type\":\"ServiceActivity\","
        "\"incoming\":[\"f%d\"],\"outgoing\":\"f%d\",\"component\":"
        "{\"code\":\"noop\",\"inputs\":{}},\"error_ignorable\":false,"
        "\"skippable\":true,\"retryable\":true}",
        i ? "," : "", i, i, i, i + 1);
  OUT("},\"gateways\":{},\"flows\":{");
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
    OUT("%s\"f%d\":{\"id\":\"f%d\",\"source\":\"%s\",\"target\":\"%s\"}",
        i ? "," : "", i, i, src, dst);
  }
  OUT("},\"data\":{\"inputs\":{},\"outputs\":[]}}");
#undef OUT
  if (oom || buf_append(&b, "", 1)) {
    buf_free(&b);
    return NULL;
  }
  return (char *)b.data;
}
