/* libFuzzer entry: pipeline definitions (JSON). */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_definition(data, size);
}
