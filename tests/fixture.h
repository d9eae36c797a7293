/* Helpers shared by the engine and store tests. */
#ifndef RATTAN_FIXTURE_H
#define RATTAN_FIXTURE_H

#include "engine/engine.h"
#include "test.h"

/* 2021-03-10 03:45:54 UTC, the start of every test clock. */
#define T0 1615347954000000LL

/* Opens an engine in test_dir()/name: nosync, virtual clock at T0,
 * seed 42 and the given rerun limit (0: default). Aborts on failure. */
eng *fx_open(const char *name, unsigned rerun_limit);
/* fx_open's configuration, and opening test_dir()/name with another. */
eng_config fx_config(void);
eng *fx_open_with(const char *name, const eng_config *cfg);
/* Creates task "t" from the len bytes of json and starts it. */
void fx_start(eng *e, const char *json, size_t len);

/* One transition in its own write transaction. */
int fx_transit(eng *e, const char *task, const char *node, const eng_change *c,
               st_state *out, errbuf *err);
/* Shorthand: action only; aborts unless it succeeds. */
st_state fx_do(eng *e, const char *node, int action);

/* The node's record in task "t"; aborts unless it exists. */
st_state fx_get(eng *e, const char *node);
/* 1 if the node of task "t" has a record, 0 if not. */
int fx_has(eng *e, const char *node);
/* The number of journal entries of task "t". */
uint64_t fx_journal(eng *e);
uint32_t fx_history(eng *e, const char *node);
/* Every record of the store, for equality checks; the caller frees it. */
buf fx_dump(eng *e);

#endif
