/*
 * Fuzz target bodies, shared by the libFuzzer entry points
 * (fuzz/fuzz_<name>.c) and the corpus replay in the test suite. Each
 * accepts any bytes and aborts only on a real bug.
 */
#ifndef RATTAN_FUZZ_TARGETS_H
#define RATTAN_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* A stored record, its kind chosen by the first byte (state, process,
 * schedule, else task and definition): decode; a record that decodes must
 * encode and decode again to the same bytes. */
int fuzz_record(const uint8_t *data, size_t size);

/* A pipeline definition (any of the accepted JSON forms): compile; a
 * definition that compiles must give the same graph when its bamboo form
 * is compiled again, and survive encoding and decoding. */
int fuzz_definition(const uint8_t *data, size_t size);

/* An expression, then a text with splices, over a fixed context:
 * evaluate and render; results must print with str() and repr(). */
int fuzz_expr(const uint8_t *data, size_t size);

/* An exported task journal: replay it into an empty store. A refused
 * replay must leave the store empty; an accepted one must export back to
 * the same task and exactly the input's events. */
int fuzz_journal(const uint8_t *data, size_t size);

/* Status answers of a task whose records the input writes: every
 * profile's JSON must parse, and its msgpack and CBOR decode to the same
 * maps. */
int fuzz_status(const uint8_t *data, size_t size);

/* A pipeline shape and a script of steps (see sequence.c), run on a real
 * store with invariants checked after every step against a reference
 * model, the stored records, the status answer and a replay. */
int fuzz_sequence(const uint8_t *data, size_t size);

#endif
