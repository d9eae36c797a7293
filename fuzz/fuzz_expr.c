/* libFuzzer entry: expressions. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_expr(data, size);
}
