/*
 * The engine clock. Real time comes from CLOCK_REALTIME; the fixed,
 * virtual and hook clocks make tests, fuzzing and replay deterministic.
 */
#include <time.h>

#include "engine_int.h"

int64_t eng_now(eng *e) {
  switch (e->clock.kind) {
    case RATTAN_CLOCK_FIXED:
      return e->clock.start_us;
    case RATTAN_CLOCK_VIRTUAL:
      /* Status readers on other threads read it while a driver moves it. */
      return __atomic_load_n(&e->vnow, __ATOMIC_RELAXED);
    case RATTAN_CLOCK_HOOK:
      return e->clock.now_us(e->clock.ctx);
    default: {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
  }
}

void eng_clock_advance(eng *e, int64_t t) {
  if (e->clock.kind == RATTAN_CLOCK_VIRTUAL && t > e->vnow)
    __atomic_store_n(&e->vnow, t, __ATOMIC_RELAXED);
}
