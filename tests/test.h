/*
 * The test harness: assertion macros and per-test fixtures.
 *
 * Each test runs in its own child process with a fresh temporary
 * directory (test_dir()); a failed assertion prints where and what, then
 * aborts the child, which the runner counts as a failure.
 */
#ifndef RATTAN_TEST_H
#define RATTAN_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rattan.h"

/* The test's own empty directory, removed after the test. */
const char *test_dir(void);
/* test_dir()/name, in a static buffer overwritten by the next call. */
const char *test_path(const char *name);
/* The whole file at path, NUL-terminated, from malloc; *len (if not NULL)
 * gets its length. Aborts the test when it cannot be read. */
char *test_slurp(const char *path, size_t *len);

#define TEST_FAIL_(...)                               \
  do {                                                \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__);                     \
    fputc('\n', stderr);                              \
    abort();                                          \
  } while (0)

#define ASSERT(c)                                     \
  do {                                                \
    if (!(c)) TEST_FAIL_("assertion failed: %s", #c); \
  } while (0)

#define ASSERT_EQ(a, b)                                                 \
  do {                                                                  \
    long long a_ = (long long)(a), b_ = (long long)(b);                 \
    if (a_ != b_) TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_); \
  } while (0)

#define ASSERT_NE(a, b)                                          \
  do {                                                           \
    long long a_ = (long long)(a), b_ = (long long)(b);          \
    if (a_ == b_) TEST_FAIL_("%s != %s: both %lld", #a, #b, a_); \
  } while (0)

#define ASSERT_STR(a, b)                                        \
  do {                                                          \
    const char *a_ = (a), *b_ = (b);                            \
    if (strcmp(a_, b_))                                         \
      TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_, b_); \
  } while (0)

#define ASSERT_CONTAINS(hay, needle)                                       \
  do {                                                                     \
    const char *h_ = (hay), *n_ = (needle);                                \
    if (!strstr(h_, n_))                                                   \
      TEST_FAIL_("%s contains %s: \"%s\" lacks \"%s\"", #hay, #needle, h_, \
                 n_);                                                      \
  } while (0)

/* rc must be RATTAN_OK; msg (a string) is printed when it is not. */
#define ASSERT_OK(rc, msg)                                              \
  do {                                                                  \
    int r_ = (rc);                                                      \
    if (r_) TEST_FAIL_("%s: %s (%s)", #rc, rattan_strerror(r_), (msg)); \
  } while (0)

#define ASSERT_ERR(rc, code)                                         \
  do {                                                               \
    int r_ = (rc), c_ = (code);                                      \
    if (r_ != c_)                                                    \
      TEST_FAIL_("%s: got %s, expected %s", #rc, rattan_errname(r_), \
                 rattan_errname(c_));                                \
  } while (0)

#endif
