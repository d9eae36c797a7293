/*
 * The bench's groups. Each runs in its own forked child (harness.h) and
 * records its rows; main.c runs them in this order, baselines first.
 */
#ifndef RATTAN_BENCH_WORKLOADS_H
#define RATTAN_BENCH_WORKLOADS_H

/* B0, B1, B2 (baselines.c). */
void group_baselines(void);
/* 1 durable single transitions, 2 group commit (work_durable.c). */
void group_durable(void);
/* 3 nosync CPU per transition, 4 chain latency, 5 fan-out scaling,
 * 6 concurrent normal_pipeline tasks (work_engine.c). */
void group_engine(void);
/* 7 creating a 10,000-node task (work_create.c). */
void group_create(void);
/* 8 get_task_status with B3, its same-output floor (work_status.c). */
void group_status(void);
/* 9 bytes per node on disk after create + full run (work_footprint.c). */
void group_footprint(void);

#endif
