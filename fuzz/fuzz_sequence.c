/* libFuzzer entry: a pipeline shape and a script of steps, run and checked. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_sequence(data, size);
}
