/*
 * engine: the execution layer's interface to api/.
 *
 * For now this holds the state machine (the transition table of bamboo's
 * classic line, the counter and version rules applied by every
 * transition, the version generator and the clock) and tasks created from
 * pipeline definitions (defparse.h compiles them). Every transition is
 * written together with its journal event inside one eng_write, so both
 * commit or neither does.
 */
#ifndef RATTAN_ENGINE_H
#define RATTAN_ENGINE_H

#include <stdint.h>

#include "rattan.h"
#include "store/store.h"

typedef struct eng eng;
typedef struct eng_txn eng_txn;

typedef struct eng_config {
  st_config store;
  rattan_clock clock;
  int has_seed;
  uint64_t seed;
  unsigned rerun_limit; /* 0 for bamboo's default of 100 */
  int group;            /* group commit in eng_drive (see rattan.h) */
  unsigned group_window_us, group_max; /* 0 for 2,000 us and 256 steps */
} eng_config;

/* Opens the store in dir (which must exist) and returns an engine owned by
 * the caller until eng_close. */
int eng_open(eng **out, const char *dir, const eng_config *cfg, errbuf *err);
void eng_close(eng *e);
st_store *eng_store(eng *e);

/* ---- Clock -------------------------------------------------------------- */

/* The engine clock's reading, microseconds since the epoch. */
int64_t eng_now(eng *e);
/* Moves a virtual clock forward to t (never backwards); no-op for other
 * clocks. */
void eng_clock_advance(eng *e, int64_t t);

/* ---- States -------------------------------------------------------------- */

/* Whether the table allows from -> to. CREATED stands for "no record":
 * records are created directly in RUNNING or SUSPENDED, the two states
 * bamboo's writers create them in; nothing returns to CREATED. */
int eng_can_transit(int from, int to);

/* ---- Writes -------------------------------------------------------------- */

/* Runs fn in one write transaction (see st_write: fn may run more than
 * once and must be re-runnable). Versions drawn inside fn, and the stored
 * position of a seeded generator, take effect only if the commit succeeds,
 * so a failed write leaves the engine exactly as it was. */
typedef int (*eng_write_fn)(eng_txn *t, void *ctx, errbuf *err);
int eng_write(eng *e, eng_write_fn fn, void *ctx, errbuf *err);
/* eng_drive's writes: with group commit, the change joins the open batch
 * (st_batch_write, ST_AGAIN included) and is durable only after
 * eng_batch_commit; otherwise the same as eng_write. */
int eng_step_write(eng *e, eng_write_fn fn, void *ctx, errbuf *err);
int eng_batch_commit(eng *e, errbuf *err);
/* Drops the open batch, if any (the drive failed). */
void eng_batch_abort(eng *e);

st_txn *eng_txn_store(eng_txn *t);
eng *eng_txn_engine(eng_txn *t);
/* The clock reading of the transaction: read once when it begins, so
 * every time written in it, and its journal entry, agree. */
int64_t eng_txn_now(eng_txn *t);
/* Opens the journal entry of task's changes in t (st_journal_begin), at
 * the transaction's clock reading; d may be NULL when no process record
 * is written. */
int eng_journal(eng_txn *t, const char *task, const st_def *d, const char *kind,
                errbuf *err);
/* Writes a fresh version ("v" + 32 lowercase hex) into out. */
void eng_new_version(eng_txn *t, char out[ST_VERSION_LEN + 1]);

/* ---- Transitions ---------------------------------------------------------
 * Each action is one of bamboo's state writes with its counter rules
 * (reference/bamboo-engine.md section 3):
 *   RUN          CREATED -> RUNNING: new record, loop 1, new version;
 *                READY -> RUNNING: counters kept;
 *                FINISHED -> RUNNING (re-entry): loop and inner_loop + 1,
 *                  skip, retry and error_ignored reset, new version, the
 *                  old record kept as history, archived time kept (bamboo
 *                  does not clear it); past the rerun limit the node goes
 *                  FINISHED -> FAILED instead (never for subprocesses).
 *                Every RUNNING write sets the start time, root_id and
 *                parent_id.
 *   FINISH       RUNNING -> FINISHED, archived now; with ignore_error the
 *                error_ignored flag is set.
 *   FAIL         RUNNING -> FAILED, archived now.
 *   RETRY        FAILED -> READY: retry + 1, new version, start and
 *                archived times cleared, old record to history.
 *   SKIP         FAILED -> FINISHED: skip set, new version, archived now,
 *                old record to history.
 *   FORCED_FAIL  RUNNING -> FAILED: new version, archived now.
 *   PAUSE        CREATED / READY / RUNNING -> SUSPENDED (a node not yet
 *                reached gets a record with empty root and parent ids).
 *   RESUME_NODE  SUSPENDED -> READY.  RESUME_PIPELINE  SUSPENDED -> RUNNING.
 *   REVOKE       RUNNING / SUSPENDED -> REVOKED; times untouched.
 *   SET          any edge of the table to change.to, with only the times
 *                every write sets (start on RUNNING, archived on FINISHED
 *                or FAILED): for replaying recorded edges.
 */
enum eng_action {
  ACT_RUN,
  ACT_FINISH,
  ACT_FAIL,
  ACT_RETRY,
  ACT_SKIP,
  ACT_FORCED_FAIL,
  ACT_PAUSE,
  ACT_RESUME_NODE,
  ACT_RESUME_PIPELINE,
  ACT_REVOKE,
  ACT_SET,
  ACT_COUNT
};

typedef struct eng_change {
  int action;            /* enum eng_action */
  int to;                /* ACT_SET only */
  int ignore_error;      /* ACT_FINISH only */
  int is_subprocess;     /* ACT_RUN: exempt from the rerun limit */
  const char *root_id;   /* ACT_RUN: NULL keeps the stored value */
  const char *parent_id; /* ACT_RUN: NULL keeps the stored value */
} eng_change;

/* Applies c to the node's record and appends the journal event, both in
 * t. On success *out (if not NULL) holds the new record. A change the
 * table or the action's rules refuse returns RATTAN_ESTATE with a message
 * naming the node, the from and the to state, and writes nothing. */
int eng_transit(eng_txn *t, const char *task, const char *node,
                const eng_change *c, st_state *out, errbuf *err);

/* Sets the node's inner_loop to 0 (r is its record, updated): bamboo's
 * reset of a subprocess's children when the subprocess runs again. */
int eng_reset_inner_loop(eng_txn *t, const char *task, const char *node,
                         st_state *r, errbuf *err);

/* Checks a recorded change of a node's record (replay): action (a name
 * the journal uses) turned cur (NULL: no record) into rec at time at,
 * under the table, the action's counter, version and time rules, and, for
 * a new record, creation number seq. *history says the rules move cur to
 * the history first. RATTAN_ESTATE names the node, the states and the
 * first field that breaks a rule; RATTAN_EINVAL an unknown action. */
int eng_transit_check(const char *node, const char *action, const st_state *cur,
                      const st_state *rec, int64_t at, uint32_t seq,
                      int *history, errbuf *err);

/* Whether v is a version as eng_new_version writes them. */
int eng_version_ok(const char *v);
/* The name of the first field in which a and b differ, or NULL. */
const char *eng_state_diff(const st_state *a, const st_state *b);

/* ---- Export and replay (replay.c, JOURNAL.md) ---------------------------- */

/* Appends the task's journal, as an exported CBOR sequence, to out. */
int eng_export(eng *e, const char *task, buf *out, errbuf *err);

typedef struct eng_replay_opts {
  uint64_t max_events; /* apply at most this many events; 0: all */
  int64_t until;       /* apply events at or before this time; ST_NO_TIME:
                          no limit */
} eng_replay_opts;

typedef struct eng_replay_result {
  char task[ST_ID_MAX + 1];
  uint64_t events; /* applied */
  uint64_t total;  /* the header's count */
  int64_t last_at; /* the clock reading of the last event applied */
} eng_replay_result;

/* Rebuilds the task of the n-byte export at p in one write transaction,
 * checking every event first; calls no component. A damaged or
 * inconsistent journal gives RATTAN_ECORRUPT or RATTAN_ESTATE with the
 * byte offset and event index, an existing task RATTAN_EEXIST; either
 * way nothing is written. */
int eng_replay(eng *e, const void *p, size_t n, const eng_replay_opts *o,
               eng_replay_result *res, errbuf *err);

/* ---- Tasks -------------------------------------------------------------- */

/* Whether the n bytes at s are a task or project id: 1 to 64 letters,
 * digits, '-', '_' or '.'. */
int eng_plain_id(const char *s, size_t n);

typedef struct eng_task_opts {
  const char *id;          /* NULL: the next number of the id sequence */
  const char *name;        /* NULL: the pipeline's name, else the id */
  const char *template_id; /* exports with several templates */
  const char *project;     /* NULL or "": none */
} eng_task_opts;

/* Problems found in a definition, each a JSON path and a reason. */
typedef struct diag {
  buf text;       /* path \0 reason \0, for each problem kept */
  unsigned count; /* problems found (more than are kept past the cap) */
  int oom;        /* a problem could not be stored */
} diag;
typedef diag eng_problems;

/* Compiles the tree and creates a task in state CREATED: its record, its
 * definition and a "create" journal entry, in one transaction. Problems
 * with the tree are listed in *problems (zeroed by the caller, freed with
 * eng_problems_free) and give RATTAN_EDEF. The new id is written to id. */
int eng_task_create(eng *e, const char *json, size_t len,
                    const eng_task_opts *o, eng_problems *problems,
                    char id[ST_ID_MAX + 1], errbuf *err);
void eng_problems_free(eng_problems *p);
/* Calls fn for each problem. */
void eng_problems_each(const eng_problems *p,
                       void (*fn)(void *ctx, const char *path,
                                  const char *reason),
                       void *ctx);
/* Validates a tree without storing anything. */
int eng_validate(const char *json, size_t len, const char *template_id,
                 eng_problems *problems);

/* The task's record; RATTAN_ENOTFOUND (with a message) if none. */
int eng_task_get(eng *e, const char *task, st_task *out, errbuf *err);
/* Calls fn for every task in id order with its root's state (CREATED
 * before start), in one read transaction; a non-zero return stops the
 * walk and is returned. */
int eng_task_each(eng *e, int (*fn)(void *ctx, const st_task *task, int state),
                  void *ctx, errbuf *err);

/* The task's definition as bamboo pipeline_tree JSON text, allocated with
 * rt_malloc (the caller frees it); *len is its length. */
int eng_task_definition(eng *e, const char *task, char **json, size_t *len,
                        errbuf *err);

/* ---- Running ---------------------------------------------------------------
 * runner.c drives processes (rattan_drive), ops.c applies operator
 * actions, call.c holds the components. */

typedef struct eng_drive_result {
  unsigned steps;
  int64_t next_due; /* ST_NO_TIME when nothing waits on a time */
  int more;         /* the budget ran out with work left */
} eng_drive_result;

/* See rattan_drive. */
int eng_drive(eng *e, const char *task, unsigned budget, eng_drive_result *r,
              errbuf *err);

enum eng_op_kind {
  OP_START,
  OP_PAUSE,
  OP_RESUME,
  OP_REVOKE,
  OP_RETRY,
  OP_SKIP,
  OP_SKIP_EXG,
  OP_SKIP_CPG,
  OP_NODE_PAUSE,
  OP_NODE_RESUME,
  OP_SUB_PAUSE,
  OP_SUB_RESUME,
  OP_SUB_RETRY,
  OP_FORCED_FAIL,
  OP_CALLBACK
};

typedef struct eng_op {
  int kind; /* enum eng_op_kind */
  const char *task;
  const char *node;
  const char *text;    /* retry inputs, ex_data, the skip_exg flow, callback
                          data */
  const char *version; /* callback: the node's version, or NULL */
  const char *const *flows; /* skip_cpg */
  size_t n_flows;
} eng_op;

/* See the operations of rattan.h; one write transaction. */
int eng_operate(eng *e, const eng_op *op, errbuf *err);

/* Registers (or replaces) a component; the struct and code are copied. */
int eng_component_register(eng *e, const rattan_component *c, errbuf *err);
/* Registers the built-in components (eng_open does). */
int eng_register_builtins(eng *e, errbuf *err);

/* Reading: the node's record, its execution data (hist < 0) or that of
 * history entry hist, as JSON text from rt_malloc. */
int eng_node_get(eng *e, const char *task, const char *node, st_state *s,
                 errbuf *err);
int eng_node_data(eng *e, const char *task, const char *node, int64_t hist,
                  char **json, size_t *len, errbuf *err);
int eng_node_history(eng *e, const char *task, const char *node, uint32_t i,
                     st_state *s, errbuf *err);
int eng_node_history_count(eng *e, const char *task, const char *node,
                           uint32_t *n, errbuf *err);

/* 64 bits from the system's random source (trace ids, unseeded
 * generators). */
uint64_t eng_random_seed(void);

/* Fills by_id (d->n_nodes entries) with d's node indices sorted by id. */
void def_index(const st_def *d, uint32_t *by_id);
/* The index of node id in d, or ST_NONE (by_id from def_index). */
uint32_t def_find(const st_def *d, const uint32_t *by_id, const char *id);

/* ---- Shared definitions --------------------------------------------------
 * A task's decoded definition, cached by the engine and shared by every
 * thread that reads it (defcache.c). A definition never changes after its
 * task is created, so an entry is exact for the task's lifetime; it is
 * keyed by the task record (id, creation time, root) read in the caller's
 * transaction. Safe to call from any thread while another drives. */

typedef struct eng_def eng_def;

/* A reference to task's definition (task: its record, read in t), decoded
 * from t on a miss; release it with eng_def_release. The tables are
 * immutable and valid until then. RATTAN_ENOMEM, or a store error. */
int eng_def_acquire(eng *e, st_txn *t, const st_task *task, const eng_def **out,
                    errbuf *err);
/* Drops the reference; NULL is a no-op. */
void eng_def_release(eng *e, const eng_def *d);
const st_def *eng_def_tables(const eng_def *d);
/* The node indices sorted by id (def_index's order). */
const uint32_t *eng_def_by_id(const eng_def *d);
/* The node whose id is the n bytes at id, or ST_NONE (one hash probe). */
uint32_t eng_def_lookup(const eng_def *d, const char *id, size_t n);
/* The same for a run of ids in ascending (strcmp) order, as a merge with
 * the sorted ids: *pos (0 before the first) moves forward over them, so
 * the run costs about one comparison per id. Any order is still answered
 * right, through eng_def_lookup. */
uint32_t eng_def_seek(const eng_def *d, uint32_t *pos, const char *id,
                      size_t n);

/* ---- Status ---------------------------------------------------------------
 * The records of a task's status tree (status.c), for the api's
 * encoders. */

typedef struct eng_status_node {
  st_state s;
  uint32_t id;      /* pool offset of the node id */
  uint32_t id_len;  /* its length in bytes */
  uint32_t def;     /* its node in the definition, or ST_NONE (the root) */
  uint32_t ex_data; /* FAILED nodes: pool offset of ex_data, or ST_NONE */
  uint32_t parent;  /* index of the parent record, or UINT32_MAX */
  uint32_t first, next, last; /* children in creation order (UINT32_MAX) */
  uint32_t n_children;
} eng_status_node;

typedef struct eng_status {
  st_task task;
  eng *e;                 /* the engine the shared definition is from */
  const eng_def *shared;  /* the reference behind def and by_id */
  const st_def *def;      /* the task's definition (shared, immutable) */
  const uint32_t *by_id;  /* its node indices sorted by id */
  eng_status_node *nodes; /* in creation order; n == 0: never started */
  size_t n, cap;
  uint32_t root; /* index of the root pipeline's record */
  buf pool;
  int64_t now; /* the clock when the records were read */
  /* With a detail node: its execution data and its earlier attempts,
   * each record with its data (pool offsets of JSON text, or ST_NONE). */
  uint32_t data;
  struct eng_attempt {
    st_state s;
    uint32_t data;
  } * attempts;
  uint32_t n_attempts;
} eng_status;

/* Reads the task's records in one read transaction into *o (freed with
 * eng_status_free, also after a failure). RATTAN_ENOTFOUND names an
 * unknown task. With detail_node (may be NULL) that node's execution data
 * and attempts are read too. now is the moment described (running
 * nodes' elapsed time), ST_NO_TIME for the engine clock. Safe to call
 * from any thread while another drives: it touches no engine state but
 * the store and the clock. */
int eng_status_load(eng *e, const char *task, const char *detail_node,
                    int64_t now, eng_status *o, errbuf *err);
/* The same inside the caller's read transaction t (several tasks in one
 * read). detail_node "" stands for the task's root. */
int eng_status_read(eng *e, st_txn *t, const char *task,
                    const char *detail_node, int64_t now, eng_status *o,
                    errbuf *err);
/* The definition as a bamboo tree (jansson), or NULL when out of
 * memory. */
struct json_t *eng_def_to_json(const st_def *d);
void eng_status_free(eng_status *o);

/* json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)'s text, NUL-terminated,
 * from rt_malloc; NULL when v is NULL, memory runs out or a string is not
 * UTF-8. Use it instead of json_dumps: jansson 2.14's writer ignores a
 * failure to write an object's key, so under memory pressure json_dumps
 * can return text with a key missing ({"id":"p",":{...}). */
char *jdump_text(const struct json_t *v);
struct json_error_t;
/* json_loadb and json_loads, except that an allocation failing anywhere
 * in the parse fails it (NULL, the failure counted by rt_alloc_failures):
 * jansson 2.14 can drop a member it could not store and still return the
 * rest. Use them instead of jansson's. */
struct json_t *jparse(const char *p, size_t n, size_t flags,
                      struct json_error_t *je);
struct json_t *jparse_str(const char *s, size_t flags, struct json_error_t *je);

#endif
