/* The machine a bench run measured: recorded in the table's header and in
 * results.json, because absolute figures only mean something with it. */
#ifndef RATTAN_BENCH_MACHINE_H
#define RATTAN_BENCH_MACHINE_H

#include <jansson.h>

/* Probes the CPU, core count, kernel, the filesystem of dir (statfs), the
 * block devices' write_cache settings and the libraries' versions. */
void machine_probe(const char *dir);
/* Non-zero when dir (as probed) is on tmpfs or ramfs: no flush reaches a
 * disk there, so durable figures are refused. */
int machine_on_tmpfs(void);
/* The filesystem's name ("ext4", "tmpfs", or its magic number in hex). */
const char *machine_fs(void);
/* A few lines describing the machine, for the table's header. */
void machine_print(void);
/* The same as a new JSON object (the caller owns the reference). */
json_t *machine_json(void);

#endif
