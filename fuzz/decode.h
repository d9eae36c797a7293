/*
 * Reading status answers back, for the fuzz targets and the tests: the
 * msgpack and CBOR encodings are decoded with msgpack-c's and libcbor's
 * own decoders into jansson trees, and a tree is printed the way Python's
 * json.dumps prints it (ASCII escapes in lower case, ", " and ": "), so
 * all three encodings can be compared with the JSON answer byte for byte.
 */
#ifndef RATTAN_FUZZ_DECODE_H
#define RATTAN_FUZZ_DECODE_H

#include <jansson.h>
#include <stddef.h>

/* The one item of n bytes as a new tree, or NULL when the bytes are not
 * exactly one item of the types status answers use. */
json_t *fz_from_msgpack(const void *p, size_t n);
json_t *fz_from_cbor(const void *p, size_t n);

/* json.dumps(j, ensure_ascii=True) with keys in their order; free it
 * with rt_free (jansson allocates through rattan's allocator). NULL when
 * out of memory. */
char *fz_python_dumps(const json_t *j);

#endif
