/* libFuzzer entry: task records written from the input, status answers
 * in every profile and format compared. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_status(data, size);
}
