/*
 * Open-addressing hash tables of ids: a table of uint32 indices (the
 * caller's rows), the keys being strings the caller looks up by index.
 * Used where sorted arrays and strcmp searches cost a logarithm per
 * lookup: the definition cache's node index and the status tree's
 * parents.
 *
 * A table has a power-of-two size at least twice its entries, so probes
 * stay short and a free slot (IDH_FREE) always ends a miss.
 */
#ifndef RATTAN_IDHASH_H
#define RATTAN_IDHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define IDH_FREE UINT32_MAX

/* A 64-bit hash of n bytes: eight bytes a step, each step a multiply and a
 * fold, so an id of 32 hex digits costs a handful of multiplies. */
static inline uint64_t idh_hash(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9e3779b97f4a7c15u ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9u;
    h ^= h >> 31;
    s += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, s, n);
  h = (h ^ w) * 0x94d049bb133111ebu;
  return h ^ (h >> 29);
}

/* The number of slots for n entries: a power of two >= 2n (>= 16). */
static inline size_t idh_slots(size_t n) {
  size_t s = 16;
  while (s < 2 * n)
    s *= 2;
  return s;
}

#endif
