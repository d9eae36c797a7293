/* The allocator hook and the byte buffer (see mem.h). */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#include "rattan.h"

static void *libc_malloc(size_t n, void *ctx) {
  (void)ctx;
  return malloc(n);
}
static void *libc_realloc(void *p, size_t n, void *ctx) {
  (void)ctx;
  return realloc(p, n);
}
static void libc_free(void *p, void *ctx) {
  (void)ctx;
  free(p);
}

static rattan_allocator alloc = {libc_malloc, libc_realloc, libc_free, NULL};

int rt_set_allocator(const rattan_allocator *a) {
  if (!a) {
    alloc = (rattan_allocator){libc_malloc, libc_realloc, libc_free, NULL};
    return RATTAN_OK;
  }
  if (!a->malloc || !a->realloc || !a->free) return RATTAN_EINVAL;
  alloc = *a;
  return RATTAN_OK;
}

/* Failed allocations on this thread, so callers of libraries that report
 * an allocation failure as something else (jansson: a syntax error) can
 * tell. */
static _Thread_local unsigned failures;

unsigned rt_alloc_failures(void) {
  return failures;
}

void *rt_malloc(size_t n) {
  void *p = alloc.malloc(n ? n : 1, alloc.ctx);
  if (!p) failures++;
  return p;
}

void *rt_realloc(void *p, size_t n) {
  void *q = alloc.realloc(p, n ? n : 1, alloc.ctx);
  if (!q) failures++;
  return q;
}
void rt_free(void *p) {
  if (p) alloc.free(p, alloc.ctx);
}

void *rt_calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = rt_malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void buf_init(buf *b) {
  *b = (buf){0};
}

void buf_free(buf *b) {
  rt_free(b->data);
  *b = (buf){0};
}

int buf_reserve(buf *b, size_t n) {
  if (n <= b->cap - b->len) return 0;
  if (n > SIZE_MAX / 2 - b->len) return RATTAN_ENOMEM;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < n)
    cap *= 2;
  uint8_t *d = rt_realloc(b->data, cap);
  if (!d) return RATTAN_ENOMEM;
  b->data = d;
  b->cap = cap;
  return 0;
}

int buf_append(buf *b, const void *p, size_t n) {
  if (n == 0) return 0;
  if (buf_reserve(b, n)) return RATTAN_ENOMEM;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

size_t rt_utf8_seq(const void *s, size_t n) {
  static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
  const unsigned char *p = s;
  int k = *p < 0x80         ? 0
          : (*p >> 5) == 6  ? 1
          : (*p >> 4) == 14 ? 2
          : (*p >> 3) == 30 ? 3
                            : -1;
  if (k < 0 || n <= (size_t)k) return 0;
  unsigned cp = k ? *p & (0x3fu >> k) : *p;
  for (int i = 1; i <= k; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return (size_t)k + 1;
}

int rt_utf8_valid(const void *s, size_t n) {
  const unsigned char *p = s, *end = p + n;
  for (size_t k; p < end; p += k)
    if (!(k = rt_utf8_seq(p, (size_t)(end - p)))) return 0;
  return 1;
}
