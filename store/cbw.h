/*
 * CBOR writing into a growable buffer with libcbor's encoding functions:
 * no item trees, nothing allocated once the buffer has grown. Each call
 * returns 0, or -1 when the buffer cannot grow (it is then unchanged).
 * Used by the journal and by the api's status encoder.
 */
#ifndef RATTAN_CBW_H
#define RATTAN_CBW_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

int cbw_uint(buf *b, uint64_t v);
int cbw_int(buf *b, int64_t v);
/* A text string of n bytes (UTF-8 is the caller's business). */
int cbw_text(buf *b, const char *s, size_t n);
int cbw_map(buf *b, size_t n);
int cbw_array(buf *b, size_t n);
int cbw_bool(buf *b, int v);
int cbw_null(buf *b);

#endif
