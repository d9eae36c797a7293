/*
 * Memory and byte buffers shared by every layer.
 *
 * store/ is the lowest layer, so the few utilities all layers need live
 * here: the allocator hook behind rattan_set_allocator() and a growable
 * byte buffer that encoders stream into.
 */
#ifndef RATTAN_MEM_H
#define RATTAN_MEM_H

#include <stddef.h>
#include <stdint.h>

struct rattan_allocator;
/* Replaces the allocator (NULL: the C library's); see
 * rattan_set_allocator. */
int rt_set_allocator(const struct rattan_allocator *a);

void *rt_malloc(size_t n);
void *rt_realloc(void *p, size_t n);
void rt_free(void *p);
/* How many allocations failed on this thread so far. */
unsigned rt_alloc_failures(void);
/* n * size zeroed bytes, or NULL on overflow or OOM. */
void *rt_calloc(size_t n, size_t size);

/* True if the n bytes at s are well-formed UTF-8 (NUL bytes allowed). */
int rt_utf8_valid(const void *s, size_t n);
/* The length of the valid UTF-8 sequence at s (n >= 1 bytes there), or 0:
 * overlong forms, surrogates and code points past U+10FFFF are invalid,
 * as jansson has it. */
size_t rt_utf8_seq(const void *s, size_t n);

/* A growable byte buffer. Zero-initialise it, or use buf_init. The bytes
 * belong to the buffer until buf_free; pointers into it are invalidated by
 * any call that grows it. */
typedef struct buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
/* Makes room for n more bytes; 0 or RATTAN_ENOMEM. */
int buf_reserve(buf *b, size_t n);
/* Appends n bytes; 0 or RATTAN_ENOMEM (the buffer is unchanged then). */
int buf_append(buf *b, const void *p, size_t n);

#endif
