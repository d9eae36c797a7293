/* Scratch directories for the fuzz targets' stores. */
#ifndef RATTAN_FUZZ_SCRATCH_H
#define RATTAN_FUZZ_SCRATCH_H

#include <stddef.h>

/* Makes $TMPDIR/rattan-<name>-XXXXXX (or under /tmp) into out (n bytes,
 * at least 64); returns -1 when it cannot. */
int fz_scratch_dir(char *out, size_t n, const char *name);
/* Removes the files directly in dir: an LMDB store's two files. */
void fz_empty_dir(const char *dir);

#endif
