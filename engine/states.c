/*
 * The state table of bamboo's classic line (reference/bamboo-engine.md
 * section 2.1 without LOOP_READY and the rollback states).
 */
#include "engine.h"

#define B(s) (1u << RATTAN_STATE_##s)

/* allowed[from] is the set of states from may move to. */
static const unsigned allowed[RATTAN_STATE_COUNT] = {
    [RATTAN_STATE_CREATED] = B(RUNNING) | B(SUSPENDED),
    [RATTAN_STATE_READY] = B(RUNNING) | B(SUSPENDED),
    [RATTAN_STATE_RUNNING] =
        B(FINISHED) | B(FAILED) | B(REVOKED) | B(SUSPENDED),
    [RATTAN_STATE_SUSPENDED] = B(READY) | B(REVOKED) | B(RUNNING),
    [RATTAN_STATE_BLOCKED] = 0,
    [RATTAN_STATE_FINISHED] = B(RUNNING) | B(FAILED),
    [RATTAN_STATE_FAILED] = B(READY) | B(FINISHED),
    [RATTAN_STATE_REVOKED] = 0,
};

const char *rattan_state_name(int state) {
  return st_state_name(state);
}

int eng_can_transit(int from, int to) {
  if (from < 0 || from >= RATTAN_STATE_COUNT || to < 0 ||
      to >= RATTAN_STATE_COUNT)
    return 0;
  return (allowed[from] >> to) & 1;
}
