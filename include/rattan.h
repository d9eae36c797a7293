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
  RATTAN_DURABILITY_SYNC = 0,  /* every commit is flushed before it returns */
  RATTAN_DURABILITY_NOSYNC = 1 /* no flush: a process crash loses nothing,
                                  an OS crash may lose the last commits */
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
} rattan_task_options;

/* Creates a task from a definition, in state CREATED (not started): the
 * compiled definition is stored with it, so it never needs the JSON again.
 * The new task's id is written to id. o may be NULL. An invalid definition
 * gives RATTAN_EDEF (the problems go to o->on_problem; rattan_errmsg names
 * the first); a taken id gives RATTAN_EEXIST. */
RATTAN_EXTERN int rattan_task_create(rattan_engine *e, const char *json,
                                     size_t len, const rattan_task_options *o,
                                     char id[RATTAN_ID_MAX + 1]);

/* The task's definition as a bamboo pipeline_tree in compact JSON,
 * whatever form it was created from. *json is NUL-terminated, *len its
 * length; the caller frees it with rattan_free. */
RATTAN_EXTERN int rattan_task_definition(rattan_engine *e, const char *task,
                                         char **json, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* RATTAN_H */
