/*
 * One writer, three encodings: JSON exactly as Python's json.dumps writes
 * it by default (ensure_ascii, ", " and ": "; with pretty, indent=4),
 * msgpack (msgpack-c's packer) and CBOR (libcbor's encoding functions),
 * all streaming into one growing buffer. Maps and lists are written with
 * their sizes up front (msgpack and CBOR need them); JSON ignores them.
 * Errors are sticky: once the buffer cannot grow, em->oom is set and
 * every later call does nothing.
 */
#ifndef RATTAN_EMIT_H
#define RATTAN_EMIT_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api_int.h"

typedef enum em_format { EM_JSON, EM_MSGPACK, EM_CBOR } em_format;

/* Deeper than anything jansson parses (JSON_PARSER_MAX_DEPTH, 2048) plus
 * the envelope's own levels, so every stored value can be written. */
#define EM_DEPTH_MAX 2112

typedef struct emitter {
  em_format fmt;
  int pretty;
  buf *out;
  int oom;
  int depth;
  uint8_t written[EM_DEPTH_MAX / 8]; /* bit per open level: an item
                                        was written in it */
  int after_key;                     /* JSON: a map's value comes next */
  msgpack_packer pk;                 /* em_real's doubles only */
} emitter;

void em_init(emitter *m, em_format fmt, int pretty, buf *out);
/* A map of n pairs: em_key then a value, n times, then em_end. */
void em_map(emitter *m, size_t n);
void em_list(emitter *m, size_t n);
void em_end(emitter *m, int list);
void em_keyn(emitter *m, const char *k, size_t n);
void em_strn(emitter *m, const char *s, size_t n);
/* A key known to need no JSON escapes (printable ASCII but '"' and '\\'):
 * a literal, through EM_KEY. Skips the escape check. */
void em_keyl(emitter *m, const char *k, size_t n);
#define EM_KEY(m, lit) em_keyl((m), "" lit "", sizeof(lit) - 1)
/* Inline so that the length of a literal is known where it is written. */
static inline void em_key(emitter *m, const char *k) {
  em_keyn(m, k, strlen(k));
}
static inline void em_str(emitter *m, const char *s) {
  em_strn(m, s, strlen(s));
}
/* s, or null when s is NULL. */
void em_str_or_null(emitter *m, const char *s);
void em_int(emitter *m, int64_t v);
void em_bool(emitter *m, int v);
void em_null(emitter *m);
/* A float as Python prints it (JSON), or a double. */
void em_real(emitter *m, double v);
/* Any JSON value, recursively (objects keep their key order). */
void em_json(emitter *m, const json_t *j);

#endif
