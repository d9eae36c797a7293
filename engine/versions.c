/*
 * Versions: "v" + 32 lowercase hex, new on record creation, retry, skip,
 * forced fail and re-entry, like bamboo's uuid4-based ones.
 *
 * Version i of a generator is two splitmix64 outputs of (seed, 2i) and
 * (seed, 2i + 1): a pure function of seed and position, so a seeded
 * engine is reproducible and, with its position stored, never repeats a
 * version after a reopen.
 */
#include <stdio.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t draw(uint64_t seed, uint64_t i) {
  return mix(seed + (i + 1) * 0x9e3779b97f4a7c15ULL);
}

void eng_new_version(eng_txn *t, char out[ST_VERSION_LEN + 1]) {
  uint64_t i = t->rng_pos++;
  snprintf(out, ST_VERSION_LEN + 1, "v%016llx%016llx",
           (unsigned long long)draw(t->e->seed, 2 * i),
           (unsigned long long)draw(t->e->seed, 2 * i + 1));
}

uint64_t eng_random_seed(void) {
  uint64_t s;
  if (getrandom(&s, sizeof s, 0) == (ssize_t)sizeof s) return s;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
             (uint64_t)getpid());
}
