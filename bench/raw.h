/* Shared by the raw-LMDB baselines: the record sizes they mimic. */
#ifndef RATTAN_BENCH_RAW_H
#define RATTAN_BENCH_RAW_H

#include <stddef.h>
#include <stdint.h>

/* The bytes of a typical state record of a finished node (the engine's
 * own encoding of one), written into out (at least 256 bytes). The raw
 * baselines store values of this size so they move as many bytes as the
 * engine does. */
size_t raw_state_value(uint8_t *out);

/* A state key "t\0<node>" for node number i: the key shape of the
 * engine's "states" database. Returns its length. */
size_t raw_state_key(char *out, size_t n, uint32_t i);

#endif
