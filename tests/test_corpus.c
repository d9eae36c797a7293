/* Replays the committed fuzz corpora through the target bodies, so every
 * build (gcc included) re-checks the inputs fuzzing once found. */
#include <dirent.h>

#include "fuzz/targets.h"
#include "test.h"

static int replay(const char *dir, int (*target)(const uint8_t *, size_t)) {
  DIR *d = opendir(dir);
  if (!d) TEST_FAIL_("corpus %s: cannot open", dir);
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    FILE *f = fopen(path, "rb");
    ASSERT(f);
    static uint8_t data[1 << 20];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    target(data, len);
    n++;
  }
  closedir(d);
  return n;
}

void test_corpus_record(void) {
  ASSERT(replay("fuzz/corpus/record", fuzz_record) > 0);
}

void test_corpus_definition(void) {
  ASSERT(replay("fuzz/corpus/definition", fuzz_definition) > 0);
}

void test_corpus_expr(void) {
  ASSERT(replay("fuzz/corpus/expr", fuzz_expr) > 0);
}

void test_corpus_journal(void) {
  ASSERT(replay("fuzz/corpus/journal", fuzz_journal) > 0);
}

void test_corpus_sequence(void) {
  ASSERT(replay("fuzz/corpus/sequence", fuzz_sequence) > 0);
}

void test_corpus_status(void) {
  ASSERT(replay("fuzz/corpus/status", fuzz_status) > 0);
}
