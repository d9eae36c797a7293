/* Scratch directories (see scratch.h). */
#include "scratch.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fz_scratch_dir(char *out, size_t n, const char *name) {
  const char *tmp = getenv("TMPDIR");
  snprintf(out, n, "%.40s/rattan-%.8s-XXXXXX",
           tmp && *tmp && strlen(tmp) <= 40 ? tmp : "/tmp", name);
  return mkdtemp(out) ? 0 : -1;
}

void fz_empty_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  char path[4096];
  while (d && (de = readdir(d)))
    if (de->d_name[0] != '.') {
      snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
      unlink(path);
    }
  if (d) closedir(d);
}
