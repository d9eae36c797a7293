/* libFuzzer entry: exported task journals (CBOR sequences), replayed. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_journal(data, size);
}
