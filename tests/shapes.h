/* Generated pipeline trees shared by the tests and the benchmarks. */
#ifndef RATTAN_SHAPES_H
#define RATTAN_SHAPES_H

/* A bamboo tree: a parallel gateway fanning out to `branches` branches of
 * `len` activities each, converging before the end (bamboo's published
 * large-pipeline shape). NUL-terminated JSON allocated with rt_malloc
 * (free with rt_free), or NULL when out of memory. */
char *shape_fan_out(int branches, int len);

/* A bamboo tree: start, `len` no-op activities in a line, end. Allocated
 * as shape_fan_out's. */
char *shape_chain(int len);

#endif
