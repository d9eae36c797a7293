/* libFuzzer entry: stored state records (msgpack). */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_record(data, size);
}
