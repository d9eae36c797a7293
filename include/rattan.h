/*
 * rattan: an embeddable pipeline execution engine.
 *
 * This is the only public header. It exposes opaque handles, plain C types
 * and one error enum; no LMDB, msgpack or CBOR type ever appears here.
 *
 * Conventions that hold for every function below unless its comment says
 * otherwise:
 *   - Functions that can fail return an int: RATTAN_OK (0) or a negative
 *     rattan_error. rattan_strerror() names the code; rattan_errmsg() gives
 *     the message of the last failing call on an engine, naming the object
 *     and the reason ("node n3: FAILED -> RUNNING is not allowed").
 *   - A failing call changes nothing that is stored (rattan_open may
 *     leave a newly created, empty store directory behind).
 *   - Strings passed in are borrowed for the duration of the call only,
 *     unless a comment says otherwise.
 *   - An engine handle is not thread-safe: calls on one handle must be
 *     serialized by the host. Different handles (on different directories)
 *     may be used from different threads at once.
 *
 * ABI: versions with the same major number are ABI compatible; the shared
 * library's SONAME carries the major number.
 */
#ifndef RATTAN_H
#define RATTAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define RATTAN_EXTERN __attribute__((visibility("default")))
#else
#define RATTAN_EXTERN
#endif

/* ---- Versions ----------------------------------------------------------- */

#define RATTAN_VERSION_MAJOR  0
#define RATTAN_VERSION_MINOR  1
#define RATTAN_VERSION_PATCH  0
#define RATTAN_VERSION_STRING "0.1.0"
/* X * 1000000 + Y * 1000 + Z, so versions compare as integers. */
#define RATTAN_VERSION_NUMBER                                     \
  (RATTAN_VERSION_MAJOR * 1000000 + RATTAN_VERSION_MINOR * 1000 + \
   RATTAN_VERSION_PATCH)

/* The library's version string ("0.1.0"); static storage, never freed.
 * Compare with RATTAN_VERSION_STRING to check header and library match. */
RATTAN_EXTERN const char *rattan_version(void);

/* The library's RATTAN_VERSION_NUMBER. */
RATTAN_EXTERN int rattan_version_number(void);

/* ---- Errors ------------------------------------------------------------- */

/* X(name, value, text). Values are stable: never renumber or reuse one. */
#define RATTAN_ERROR_MAP(X)                                         \
  X(OK, 0, "success")                                               \
  X(EINVAL, -1, "invalid argument")                                 \
  X(ENOMEM, -2, "out of memory")                                    \
  X(ENOTFOUND, -3, "not found")                                     \
  X(EEXIST, -4, "already exists")                                   \
  X(ESTATE, -5, "state transition not allowed")                     \
  X(EVERSION, -6, "version does not match")                         \
  X(ECORRUPT, -7, "corrupt record or store")                        \
  X(ESCHEMA, -8, "store written by a newer schema")                 \
  X(EFULL, -9, "store is full at its maximum map size")             \
  X(ENOSPC, -10, "no space left on device")                         \
  X(EIO, -11, "I/O error")                                          \
  X(EBUSY, -12, "resource busy")                                    \
  X(ELIMIT, -13, "limit exceeded")                                  \
  X(EPANIC, -14, "store is unusable after a fatal error; close it") \
  X(EBADTXN, -15, "transaction is unusable after an error")         \
  X(EACCES, -16, "permission denied")                               \
  X(EDEF, -17, "invalid pipeline definition")

typedef enum rattan_error {
#define RATTAN_X_(name, value, text) RATTAN_##name = value,
  RATTAN_ERROR_MAP(RATTAN_X_)
#undef RATTAN_X_
} rattan_error;

/* "RATTAN_ESTATE: state transition not allowed"; static storage.
 * Unknown codes give "RATTAN_E?: unknown error". Thread-safe. */
RATTAN_EXTERN const char *rattan_strerror(int err);

/* The symbol alone ("RATTAN_ESTATE"), or "RATTAN_E?"; static storage. */
RATTAN_EXTERN const char *rattan_errname(int err);

/* ---- Node states -------------------------------------------------------- */

/* The states of bamboo's classic line. CREATED means "never started": no
 * state record exists. Values are stored on disk: never renumber. */
typedef enum rattan_state {
  RATTAN_STATE_CREATED = 0,
  RATTAN_STATE_READY = 1,
  RATTAN_STATE_RUNNING = 2,
  RATTAN_STATE_SUSPENDED = 3,
  RATTAN_STATE_BLOCKED = 4,
  RATTAN_STATE_FINISHED = 5,
  RATTAN_STATE_FAILED = 6,
  RATTAN_STATE_REVOKED = 7
} rattan_state;
#define RATTAN_STATE_COUNT 8

/* "FINISHED" etc., or NULL for a value outside the enum; static storage. */
RATTAN_EXTERN const char *rattan_state_name(int state);

/* ---- Memory ------------------------------------------------------------- */

/* Every allocation rattan makes goes through these (LMDB's own internal
 * allocations excepted). realloc(NULL, n) must behave as malloc(n);
 * free(NULL) must be harmless. ctx is passed back unchanged. */
typedef struct rattan_allocator {
  void *(*malloc)(size_t size, void *ctx);
  void *(*realloc)(void *ptr, size_t size, void *ctx);
  void (*free)(void *ptr, void *ctx);
  void *ctx;
} rattan_allocator;

/* Replaces the process-wide allocator; NULL restores the C library's.
 * The struct is copied. Call it only while no engine is open and no other
 * thread is inside rattan: memory allocated by one allocator must never be
 * freed by another. Returns RATTAN_EINVAL if a function pointer is NULL. */
RATTAN_EXTERN int rattan_set_allocator(const rattan_allocator *a);

/* ---- Engine ------------------------------------------------------------- */

typedef struct rattan_engine rattan_engine;

typedef enum rattan_durability {
  RATTAN_DURABILITY_SYNC = 0,   /* every commit is flushed before it returns */
  RATTAN_DURABILITY_NOSYNC = 1, /* no flush: a process crash loses nothing,
                                   an OS crash may lose the last commits */
  /* Group commit: rattan_drive() gathers its steps (of every task it
   * drives, and of each task's parallel branches) into one transaction,
   * committed once group_window_us has passed since the batch began or
   * group_max steps are in it, and always before it returns. A batch's
   * commit flushes its data; the page that makes it current is flushed
   * with the next batch, and every batch is flushed before rattan_drive
   * returns, so nothing is reported done before it is durable (other
   * threads and processes see a batch once it commits; a power cut before
   * the drive returns may undo the drive's last batches, never half of
   * one). Other calls commit and flush on their own, as with SYNC (a call
   * made while a batch is open commits the batch first). A crash loses
   * only what was not flushed, which the next drive redoes: its
   * components run again (at least once, as after any crash). */
  RATTAN_DURABILITY_GROUP = 2
} rattan_durability;

typedef enum rattan_clock_kind {
  RATTAN_CLOCK_REAL = 0,    /* the system's wall clock */
  RATTAN_CLOCK_FIXED = 1,   /* always start_us */
  RATTAN_CLOCK_VIRTUAL = 2, /* starts at start_us; the engine moves it
                               forward to the next due time when nothing
                               else can run */
  RATTAN_CLOCK_HOOK = 3     /* now_us(ctx) */
} rattan_clock_kind;

/* Engine time: microseconds since 1970-01-01T00:00:00Z. */
typedef struct rattan_clock {
  rattan_clock_kind kind;
  int64_t start_us;
  /* HOOK only. Called for the engine's whole life, so now_us and ctx must
   * stay valid until rattan_close. Must be cheap, thread-safe if engines
   * share it, and must not call back into rattan. Readings should never
   * go backwards. */
  int64_t (*now_us)(void *ctx);
  void *ctx;
} rattan_clock;

typedef struct rattan_options {
  /* sizeof(rattan_options) as the caller compiled it; set by
   * rattan_options_init. Lets later versions append fields without
   * breaking callers built against this header. */
  size_t struct_size;
  rattan_durability durability;
  /* Initial map size in bytes (0: 64 MiB, or map_size_max if smaller).
   * The map doubles when full, up to map_size_max (0: 256 GiB), after
   * which writes fail with RATTAN_EFULL and change nothing. An existing
   * store opens with at least the space its data uses. */
  size_t map_size;
  size_t map_size_max;
  rattan_clock clock;
  /* With has_seed, versions come from a generator seeded with seed, so
   * two runs with the same seed and inputs produce the same versions. The
   * generator's position is stored, so a reopened engine never repeats a
   * version. Without it the seed is random. */
  int has_seed;
  uint64_t seed;
  /* A FINISHED node may be entered again at most rerun_limit times
   * (0: 100, bamboo's default); past that the node fails. */
  unsigned rerun_limit;
  /* GROUP only: the longest a batch stays open, in microseconds (0:
   * 2,000), and the most steps it holds (0: 256). A component's call is
   * part of its step, so a slow component holds the batch longer. */
  unsigned group_window_us;
  unsigned group_max;
} rattan_options;

/* Fills *o with the defaults: sync durability, default map sizes, real
 * clock, random seed, rerun limit 100; sets struct_size. */
RATTAN_EXTERN void rattan_options_init(rattan_options *o);

/* Opens (creating if needed) the store in directory dir and returns an
 * engine in *out. opts may be NULL for the defaults; it is copied.
 * On failure *out is NULL, nothing is left open, and if errmsg is not NULL
 * a NUL-terminated message naming the directory and the reason is written
 * to it (at most errmsg_len bytes). A directory can be open only once per
 * process at a time (RATTAN_EBUSY); other processes may open it too.
 * Stale reader slots left by dead processes are cleared. A store written by
 * a newer schema is refused with RATTAN_ESCHEMA.
 * The engine is owned by the caller until rattan_close(). */
RATTAN_EXTERN int rattan_open(const char *dir, const rattan_options *opts,
                              rattan_engine **out, char *errmsg,
                              size_t errmsg_len);

/* Closes the engine and frees everything it owns. NULL is a no-op. Every
 * pointer obtained from the engine is invalid afterwards. */
RATTAN_EXTERN void rattan_close(rattan_engine *e);

/* The message of the last failing call on e ("" if none failed yet).
 * Owned by e; valid until the next call on e. */
RATTAN_EXTERN const char *rattan_errmsg(const rattan_engine *e);

/* The engine clock's current reading in microseconds since the epoch. */
RATTAN_EXTERN int64_t rattan_now(rattan_engine *e);

/* Frees memory rattan returned to the caller (rattan_task_definition).
 * NULL is a no-op. */
RATTAN_EXTERN void rattan_free(void *p);

/* ---- Pipeline definitions ------------------------------------------------
 * A definition is JSON text in one of three forms, detected by its shape:
 * a bamboo pipeline_tree; a SOPS web template tree (constants,
 * component.data, outputs); or a SOPS export envelope
 * (pipeline_template_data.template.<id>.tree), whose SubProcess nodes may
 * reference other templates of the export by template_id. The limits are
 * 64 MiB of text, 200,000 nodes, subprocesses nested 16 deep, and ids of
 * 64 bytes. */

#define RATTAN_ID_MAX 64 /* bytes in a task, node or flow id */

/* Receives one problem of a definition: the JSON path of the offending
 * value ("activities.n3.outgoing") and the reason. Both strings are valid
 * only during the call. */
typedef void (*rattan_problem_fn)(void *ctx, const char *path,
                                  const char *reason);

/* Parses and validates a definition (len bytes at json) without storing
 * anything. Returns RATTAN_OK, RATTAN_EDEF after calling fn (if not NULL)
 * for every problem found (up to 1,000), or RATTAN_ENOMEM. template_id
 * picks the template of an export to check (NULL: every template that is
 * not another's subprocess). Thread-safe. */
RATTAN_EXTERN int rattan_validate(const char *json, size_t len,
                                  const char *template_id, rattan_problem_fn fn,
                                  void *ctx);

typedef struct rattan_task_options {
  const char *id;               /* NULL: the next free number ("1", "2", ...);
                                   else letters, digits, '-', '_', '.' */
  const char *name;             /* NULL: the pipeline's name, else the id */
  const char *template_id;      /* an export's template to use (NULL: the
                                   only one not another's subprocess) */
  rattan_problem_fn on_problem; /* NULL, or called for each problem */
  void *ctx;
  const char *project; /* NULL or "": none; else the id (as a task id's
                          characters) of the project the task belongs to,
                          SOPS's bk_biz_id; journaled and replayed */
} rattan_task_options;

/* Creates a task from a definition, in state CREATED (not started): the
 * compiled definition is stored with it, so it never needs the JSON again.
 * The new task's id is written to id. o may be NULL. An invalid definition
 * gives RATTAN_EDEF (the problems go to o->on_problem; rattan_errmsg names
 * the first); a taken id gives RATTAN_EEXIST. */
RATTAN_EXTERN int rattan_task_create(rattan_engine *e, const char *json,
                                     size_t len, const rattan_task_options *o,
                                     char id[RATTAN_ID_MAX + 1]);

/* The project the task belongs to (rattan_task_options.project) into
 * out, "" for none. RATTAN_ENOTFOUND for an unknown task. */
RATTAN_EXTERN int rattan_task_project(rattan_engine *e, const char *task,
                                      char out[RATTAN_ID_MAX + 1]);

/* The task's definition as a bamboo pipeline_tree in compact JSON,
 * whatever form it was created from. *json is NUL-terminated, *len its
 * length; the caller frees it with rattan_free. */
RATTAN_EXTERN int rattan_task_definition(rattan_engine *e, const char *task,
                                         char **json, size_t *len);

/* ---- Running tasks -------------------------------------------------------
 * A started task is a set of processes (one per parallel branch, as in
 * bamboo) that rattan_drive() pushes from node to node. rattan has no
 * thread of its own: the host calls rattan_drive() again when it returns
 * a due time, after an operation, or after a callback. Each state change
 * is written together with its journal entry in one write transaction
 * (with group commit a drive's steps share one; a drive that fails drops
 * its open batch), so closing the engine (or crashing) at any point and
 * driving again continues where it stopped. A component's execute or schedule
 * step may run again after a crash that interrupted it before its result was
 * stored (at least once); nothing stored is ever applied twice. */

#define RATTAN_NO_TIME INT64_MIN /* an unset time */

/* How a service activity finishes after execute succeeded. */
typedef enum rattan_schedule_type {
  RATTAN_SCHEDULE_NONE = 0,          /* finished by execute */
  RATTAN_SCHEDULE_POLL = 1,          /* schedule runs every interval */
  RATTAN_SCHEDULE_CALLBACK = 2,      /* schedule runs once, on a callback */
  RATTAN_SCHEDULE_MULTI_CALLBACK = 3 /* schedule runs on each callback */
} rattan_schedule_type;

/* One invocation of a component; valid only during the callback. */
typedef struct rattan_call rattan_call;

/* A component's execute or schedule function. Return 0 for success,
 * non-zero for failure (after rattan_call_fail to give the reason). It
 * must not block: long work finishes through polls or callbacks. It may
 * call other rattan functions on the engine, except rattan_drive. */
typedef int (*rattan_component_fn)(rattan_call *call, void *ctx);

typedef struct rattan_component {
  const char *code; /* the activity's component.code */
  rattan_schedule_type schedule;
  int64_t interval_us;             /* POLL: time between schedule runs */
  rattan_component_fn execute;     /* required */
  rattan_component_fn schedule_fn; /* required unless schedule is NONE */
  void *ctx;                       /* passed to both; must outlive the engine */
} rattan_component;

/* Registers (or replaces) the component for c->code on this engine. The
 * struct and code are copied. Built-ins registered by rattan_open: noop,
 * fail, sleep_timer, pause (alias pause_node) and shell (README lists
 * their inputs and outputs). An activity whose code has no component
 * fails when it runs, naming the code. */
RATTAN_EXTERN int rattan_component_register(rattan_engine *e,
                                            const rattan_component *c);

/* The task, node and attempt the call is for. Strings are owned by the
 * call. */
RATTAN_EXTERN const char *rattan_call_task(const rattan_call *c);
RATTAN_EXTERN const char *rattan_call_node(const rattan_call *c);
RATTAN_EXTERN unsigned rattan_call_loop(const rattan_call *c);
/* Schedule runs so far, this one included (0 in execute). */
RATTAN_EXTERN unsigned rattan_call_times(const rattan_call *c);
RATTAN_EXTERN int64_t rattan_call_now(const rattan_call *c);

/* The rendered value of input key as compact JSON text, or NULL when the
 * input is absent. _loop and _inner_loop are inputs too. */
RATTAN_EXTERN const char *rattan_call_input(rattan_call *c, const char *key);
/* The input as a string: a JSON string's text, or the JSON text of any
 * other value; NULL when absent. */
RATTAN_EXTERN const char *rattan_call_input_text(rattan_call *c,
                                                 const char *key);
/* An output stored by an earlier step of this attempt (or this one), as
 * JSON text, or NULL. */
RATTAN_EXTERN const char *rattan_call_output(rattan_call *c, const char *key);
/* The data of the callback that triggered this schedule run, as JSON
 * text; NULL outside callback schedules. */
RATTAN_EXTERN const char *rattan_call_callback_data(const rattan_call *c);

/* Sets output key to a JSON value (RATTAN_EINVAL if json does not parse),
 * a string, or an integer. Outputs go to the node's execution data and,
 * through source_act / source_key mappings, into the context. */
RATTAN_EXTERN int rattan_call_set_output(rattan_call *c, const char *key,
                                         const char *json);
RATTAN_EXTERN int rattan_call_set_output_text(rattan_call *c, const char *key,
                                              const char *text);
RATTAN_EXTERN int rattan_call_set_output_int(rattan_call *c, const char *key,
                                             int64_t v);
/* Records why the call fails (the node's ex_data); return non-zero after. */
RATTAN_EXTERN void rattan_call_fail(rattan_call *c, const char *ex_data);
/* POLL and MULTI_CALLBACK: the schedule is done, the node finishes. */
RATTAN_EXTERN void rattan_call_finish_schedule(rattan_call *c);
/* POLL: the next schedule run is due after us instead of the interval. */
RATTAN_EXTERN void rattan_call_poll_after(rattan_call *c, int64_t us);

typedef struct rattan_drive_result {
  unsigned steps; /* steps taken by this call */
  /* The earliest time a waiting poll or timeout is due, RATTAN_NO_TIME if
   * none: call rattan_drive again then. */
  int64_t next_due_us;
  /* Non-zero when the budget ran out with work left (with a virtual
   * clock, a jump to the next due time counts as work): call again now. */
  int more;
} rattan_drive_result;

/* Advances every runnable process of task (of every task when NULL),
 * runs due polls and pending callbacks, until nothing can move or budget
 * steps were taken (0: no limit). With a virtual clock, when everything
 * waits on a due time, the clock jumps to it. A failing node is not an
 * error: it stops its branch until an operator acts. An error returned is
 * a store or memory failure; what was committed before it stays. */
RATTAN_EXTERN int rattan_drive(rattan_engine *e, const char *task,
                               unsigned budget, rattan_drive_result *r);

/* ---- Operations ----------------------------------------------------------
 * Each is one write transaction that journals what it changed, checked
 * against the state table. A refused operation changes nothing and
 * returns RATTAN_ESTATE with a message naming the node and the states
 * (RATTAN_EINVAL for a node or flow the task does not have or malformed
 * JSON, RATTAN_ENOTFOUND for an unknown task, RATTAN_EVERSION and
 * RATTAN_EBUSY as rattan_node_callback says). None runs anything: call
 * rattan_drive afterwards. */

RATTAN_EXTERN int rattan_task_start(rattan_engine *e, const char *task);
RATTAN_EXTERN int rattan_task_pause(rattan_engine *e, const char *task);
RATTAN_EXTERN int rattan_task_resume(rattan_engine *e, const char *task);
RATTAN_EXTERN int rattan_task_revoke(rattan_engine *e, const char *task);

/* A FAILED retryable node runs again. inputs (NULL: keep) is a JSON object
 * that replaces the node's inputs, rendered like the definition's. */
RATTAN_EXTERN int rattan_node_retry(rattan_engine *e, const char *task,
                                    const char *node, const char *inputs);
/* A FAILED skippable activity (or start event) finishes as skipped. */
RATTAN_EXTERN int rattan_node_skip(rattan_engine *e, const char *task,
                                   const char *node);
/* A FAILED exclusive gateway finishes, continuing on flow flow_id. */
RATTAN_EXTERN int rattan_node_skip_exg(rattan_engine *e, const char *task,
                                       const char *node, const char *flow_id);
/* A FAILED conditional parallel gateway finishes, forking flow_ids. */
RATTAN_EXTERN int rattan_node_skip_cpg(rattan_engine *e, const char *task,
                                       const char *node,
                                       const char *const *flow_ids, size_t n);
/* Appointments: a paused node suspends its branch when reached. */
RATTAN_EXTERN int rattan_node_pause(rattan_engine *e, const char *task,
                                    const char *node);
RATTAN_EXTERN int rattan_node_resume(rattan_engine *e, const char *task,
                                     const char *node);
RATTAN_EXTERN int rattan_subprocess_pause(rattan_engine *e, const char *task,
                                          const char *node);
RATTAN_EXTERN int rattan_subprocess_resume(rattan_engine *e, const char *task,
                                           const char *node);
RATTAN_EXTERN int rattan_subprocess_retry(rattan_engine *e, const char *task,
                                          const char *node);
/* A RUNNING activity fails now with ex_data (may be NULL). */
RATTAN_EXTERN int rattan_node_forced_fail(rattan_engine *e, const char *task,
                                          const char *node,
                                          const char *ex_data);
/* Delivers a callback to an activity waiting on one (RUNNING, with a
 * CALLBACK or MULTI_CALLBACK component). data is JSON text (NULL: null);
 * version, when not NULL, must be the node's version (RATTAN_EVERSION
 * otherwise). A CALLBACK component takes one callback: a second one
 * before the first ran gives RATTAN_EBUSY; MULTI_CALLBACK ones queue. */
RATTAN_EXTERN int rattan_node_callback(rattan_engine *e, const char *task,
                                       const char *node, const char *data,
                                       const char *version);

/* ---- Reading node state -------------------------------------------------- */

typedef struct rattan_node_info {
  rattan_state state;
  unsigned loop, inner_loop, retry;
  int skip, error_ignored;
  char version[34]; /* "v" + 32 hex */
  char root_id[RATTAN_ID_MAX + 1];
  char parent_id[RATTAN_ID_MAX + 1];
  int64_t created_us, started_us, archived_us; /* or RATTAN_NO_TIME */
} rattan_node_info;

/* The node's state record (node may also be the root pipeline's or a
 * subprocess's id). RATTAN_ENOTFOUND when the node never started
 * (state CREATED). */
RATTAN_EXTERN int rattan_node_get(rattan_engine *e, const char *task,
                                  const char *node, rattan_node_info *out);
/* The node's execution data as JSON text {"inputs": {...}, "outputs":
 * {...}, "ex_data": ...}; the caller frees *json with rattan_free.
 * RATTAN_ENOTFOUND when there is none. */
RATTAN_EXTERN int rattan_node_data(rattan_engine *e, const char *task,
                                   const char *node, char **json, size_t *len);
/* The number of earlier attempts kept for the node (retry, skip,
 * re-entry), and attempt i (0 = oldest): its record and, when json is not
 * NULL, its execution data as rattan_node_data gives it. */
RATTAN_EXTERN int rattan_node_history_count(rattan_engine *e, const char *task,
                                            const char *node, unsigned *n);
RATTAN_EXTERN int rattan_node_history(rattan_engine *e, const char *task,
                                      const char *node, unsigned i,
                                      rattan_node_info *out, char **json,
                                      size_t *len);
/* Calls fn for every task, in id order, with its name and state; a
 * non-zero return from fn stops the walk and is returned. The strings
 * are valid during the call only. fn must not call rattan on e. */
typedef int (*rattan_task_fn)(void *ctx, const char *id, const char *name,
                              rattan_state state);
RATTAN_EXTERN int rattan_task_each(rattan_engine *e, rattan_task_fn fn,
                                   void *ctx);

/* The task's state: its root pipeline's (CREATED before start). */
RATTAN_EXTERN int rattan_task_state(rattan_engine *e, const char *task,
                                    rattan_state *out);

/* ---- The live tree ----------------------------------------------------------
 * Every node of a task's definition with its current record, for views
 * such as `rattan run --watch`. */

typedef struct rattan_node_view {
  const char *id;
  const char *name;   /* the definition's name ("" when it has none) */
  const char *type;   /* "ServiceActivity", "SubProcess", "ExclusiveGateway",
                         ...; "Pipeline" for the root */
  const char *code;   /* a ServiceActivity's component code, else NULL */
  unsigned depth;     /* 0 for the root pipeline, 1 for its nodes, one more
                         below each subprocess */
  rattan_state state; /* RATTAN_STATE_CREATED: never ran */
  unsigned loop, retry;
  int skip, error_ignored;
  int64_t started_us, archived_us; /* or RATTAN_NO_TIME */
  int64_t elapsed_s;               /* as get_task_status computes it */
  const char *ex_data; /* a FAILED node's ex_data: a string's text, other
                          values as JSON; NULL when it has none */
} rattan_node_view;

/* Receives one node; the view and its strings are valid during the call
 * only. A non-zero return stops the walk and is returned. fn must not
 * call rattan on e. */
typedef int (*rattan_node_fn)(void *ctx, const rattan_node_view *v);

/* Calls fn for the task's root pipeline, then for every node of its
 * definition: each pipeline's nodes in the order its flows reach them
 * from the start event (the branches of a gateway one after another, a
 * loop's way back ignored), each subprocess's nodes right after it. The
 * records come from one read transaction. Like rattan_task_status, other
 * threads may call it while one drives, and it does not set
 * rattan_errmsg. RATTAN_ENOTFOUND for an unknown task. */
RATTAN_EXTERN int rattan_task_nodes(rattan_engine *e, const char *task,
                                    rattan_node_fn fn, void *ctx);

/* ---- Task status ----------------------------------------------------------
 * get_task_status exactly as SOPS answers it, the whole API envelope
 * included, from one read transaction. */

typedef enum rattan_profile {
  RATTAN_PROFILE_SOPS_V2 = 0, /* today's SOPS gateway (bamboo engine) */
  RATTAN_PROFILE_SOPS_V1 = 1, /* the legacy shape of the 2020 documents */
  RATTAN_PROFILE_BKFLOW = 2   /* BKFlow's get_task_states */
} rattan_profile;

typedef enum rattan_format {
  RATTAN_FORMAT_JSON = 0, /* byte for byte as Python's json.dumps */
  RATTAN_FORMAT_MSGPACK = 1,
  RATTAN_FORMAT_CBOR = 2
} rattan_format;

typedef struct rattan_status_options {
  size_t struct_size; /* set by rattan_status_options_init */
  rattan_profile profile;
  rattan_format format;
  const char *subprocess_id; /* NULL: the whole task */
  int with_ex_data;          /* collect the failed nodes' ex_data */
  int tz_offset_min;         /* times' zone, minutes east of UTC */
  int pretty;                /* JSON only: indented for people */
  /* The envelope's trace_id (and the v1 profile's request_id); NULL for
   * a fresh random one. Borrowed for the call. */
  const char *trace_id;
  /* The moment the answer describes, for running nodes' elapsed time:
   * RATTAN_NO_TIME for the engine clock's reading (a replayed task as of
   * its last event, for instance, passes that event's time). */
  int64_t now_us;
  /* NULL, or a project id: a task that does not belong to it is answered
   * as an unknown one (SOPS looks tasks up within the request's
   * project). Borrowed for the call. */
  const char *project;
} rattan_status_options;

/* Defaults: sops-v2, JSON, the whole task, no ex_data, +08:00 (SOPS's
 * Asia/Shanghai), compact, a random trace_id, the engine's clock. */
RATTAN_EXTERN void rattan_status_options_init(rattan_status_options *o);

/* The task's status envelope in *out (length *len, NUL-terminated for
 * JSON), allocated for the caller, who frees it with rattan_free. o may
 * be NULL for the defaults. Errors that SOPS answers with an envelope
 * (an unknown task: RATTAN_ENOTFOUND; a bad subprocess_id:
 * RATTAN_EINVAL; a store failure) return their code and still set *out
 * to that envelope; only RATTAN_ENOMEM and missing arguments leave it
 * NULL. Never-started tasks and subprocesses that never ran give SOPS's
 * CREATED answer. An exception to the header's thread rule: other
 * threads may call this on the same engine while one drives it; it does
 * not set rattan_errmsg (the envelope carries the message). A bad
 * profile, format or zone gives RATTAN_EINVAL and no envelope. */
RATTAN_EXTERN int rattan_task_status(rattan_engine *e, const char *task,
                                     const rattan_status_options *o, char **out,
                                     size_t *len);

/* get_tasks_status for at most 50 tasks (more: SOPS's refusal, with
 * RATTAN_ELIMIT): a list with, per task found (unknown ids are left out,
 * as SOPS leaves them), its id, name, status (without children unless
 * include_children), flow_type, current_flow, is_deleted and times.
 * Task ids that are all digits are written as numbers, as SOPS's are. */
RATTAN_EXTERN int rattan_tasks_status(rattan_engine *e,
                                      const char *const *tasks, size_t n,
                                      int include_children,
                                      const rattan_status_options *o,
                                      char **out, size_t *len);

/* get_task_node_detail: the node's state with its direct children, its
 * earlier attempts of that loop ("histories"), inputs, outputs and
 * ex_data. loop 0 is the latest; an earlier loop answers from the
 * history. A node the task does not have is SOPS's refusal (code
 * 3540000, RATTAN_EINVAL); one that never ran answers READY. */
RATTAN_EXTERN int rattan_node_detail(rattan_engine *e, const char *task,
                                     const char *node, unsigned loop,
                                     const rattan_status_options *o, char **out,
                                     size_t *len);

/* A get_task_detail subset: id, name, create_time, start_time,
 * finish_time, elapsed_time, pipeline_tree, constants (the root's
 * data.inputs) and outputs ([{key, value, name}]). */
RATTAN_EXTERN int rattan_task_detail(rattan_engine *e, const char *task,
                                     const rattan_status_options *o, char **out,
                                     size_t *len);

/* ---- The SOPS gateway -------------------------------------------------------
 * The HTTP API of SOPS's gateway as one call, so any HTTP server can
 * serve it (`rattan serve` does, with libmicrohttpd). Routes, with
 * {task} a task id and {biz} its project (rattan_task_options.project):
 *   GET  get_task_status/{task}/{biz}/      subprocess_id, with_ex_data
 *   POST get_tasks_status/{biz}/            task_id_list,
 *                                           include_children_status
 *   GET  get_task_node_detail/{task}/{biz}/ node_id, loop
 *   GET  get_task_detail/{task}/{biz}/
 *   POST create_task/{biz}/                 name, pipeline_tree (also
 *                                           fast_create_task/{biz}/)
 *   POST start_task/{task}/{biz}/
 *   POST operate_task/{task}/{biz}/         action
 *   POST operate_node/{biz}/{task}/         node_id, action, data, inputs,
 *                                           flow_id
 *   POST node_callback/{task}/{biz}/        node_id, callback_data, version
 * Every answer is SOPS's JSON envelope, its messages and codes included
 * (README, "HTTP API"). Credentials are the server's business: this call
 * trusts its caller. It never drives: after a write route the host
 * drives the task. */

typedef struct rattan_request {
  size_t struct_size;        /* set by rattan_request_init */
  const char *method;        /* "GET" or "POST" */
  const char *path;          /* "get_task_status/12/2/" (a leading '/'
                                and the trailing one are optional) */
  const char *const *params; /* query parameters, decoded: n_params pairs
                                of name, value */
  size_t n_params;
  const char *body; /* POST: the JSON body (len bytes, any termination) */
  size_t body_len;
  const char *trace_id; /* the answers' trace_id; NULL: a random one */
  const char *username; /* the operator (forced_fail's message) */
  const char *base_url; /* task_url's prefix ("http://host:port/") */
  int tz_offset_min;    /* times' zone, minutes east of UTC */
} rattan_request;

/* Defaults: GET, no parameters or body, a random trace id, +08:00. */
RATTAN_EXTERN void rattan_request_init(rattan_request *r);

/* Answers rq: the envelope in *out (length *len, NUL-terminated), which
 * the caller frees with rattan_free, and the HTTP status in *http_status
 * (200 for every SOPS answer, errors included; 404 for an unknown route,
 * 405 for a wrong method). Returns RATTAN_OK when the envelope's result is
 * true, else the error behind it (the envelope says it); only
 * RATTAN_ENOMEM and missing arguments leave *out NULL. Thread rule: calls
 * for which rattan_gateway_reads() is true may run on other threads while
 * one thread drives or makes other calls, like rattan_task_status; every
 * other call must be serialized with all other calls on e. */
RATTAN_EXTERN int rattan_gateway(rattan_engine *e, const rattan_request *rq,
                                 char **out, size_t *len, int *http_status);

/* Non-zero when the route of path only reads (the get_ routes). */
RATTAN_EXTERN int rattan_gateway_reads(const char *path);

/* ---- Export and replay -----------------------------------------------------
 * Every change of a task is journaled with the change itself (one entry
 * per write transaction). An export is the journal as a CBOR sequence
 * (RFC 8742): a header (format version, engine version, the task, its
 * definition, the clock's origin) and one item per entry; JOURNAL.md
 * gives the format. Replaying it rebuilds the task, records, execution
 * data, histories, processes and journal alike, without calling any
 * component, so its status is byte for byte the original's. */

/* The task's journal as an export, in *out (length *len), allocated for
 * the caller, who frees it with rattan_free. */
RATTAN_EXTERN int rattan_export(rattan_engine *e, const char *task, void **out,
                                size_t *len);

typedef struct rattan_replay_options {
  size_t struct_size;  /* set by rattan_replay_options_init */
  uint64_t max_events; /* apply only the first max_events; 0: all */
  int64_t until_us;    /* apply only events at or before this time;
                          RATTAN_NO_TIME: no limit */
} rattan_replay_options;

/* Defaults: every event. */
RATTAN_EXTERN void rattan_replay_options_init(rattan_replay_options *o);

typedef struct rattan_replay_result {
  char task[RATTAN_ID_MAX + 1]; /* the task rebuilt */
  uint64_t events;              /* events applied */
  uint64_t total;               /* events the export holds */
  int64_t last_us;              /* the time of the last event applied */
} rattan_replay_result;

/* Rebuilds the task of the len-byte export at journal into e's store (o
 * may be NULL; res may be NULL). Every event is checked before it is
 * applied: the framing, the checksum, the fields, the state table, the
 * counter, version and time rules, and that the event is exactly what
 * this library writes for it. A damaged or inconsistent export gives
 * RATTAN_ECORRUPT (or RATTAN_ESTATE for a broken rule) with the byte
 * offset and the event's index in rattan_errmsg; a task id the store
 * already has gives RATTAN_EEXIST. Either way the store is unchanged: the
 * replay is one write transaction. Reading stops at the limits of o: after
 * the max_events-th event, or at the first event later than until_us
 * (whose item is still checked); later bytes are not examined. No claimed
 * length or count is ever trusted before it is checked against the bytes
 * present. */
RATTAN_EXTERN int rattan_replay(rattan_engine *e, const void *journal,
                                size_t len, const rattan_replay_options *o,
                                rattan_replay_result *res);

#ifdef __cplusplus
}
#endif

#endif /* RATTAN_H */
