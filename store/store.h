/*
 * store: the persistence layer, the only interface the engine sees.
 *
 * One LMDB environment per directory with named databases. Values are
 * records encoded with msgpack (versioned: newer versions append fields,
 * readers skip fields they do not know) or, in the journal, CBOR events.
 * No LMDB type or error code leaves this layer: errors come back as
 * rattan_error codes with a message in an errbuf.
 *
 * Transactions: all writes happen inside st_write(), which runs a callback
 * in one write transaction and commits it. When the map fills up the
 * transaction is aborted, the map grown and the callback run again, so a
 * callback must be re-runnable: it may only change the store through its
 * txn and must leave any memory it fills in complete on each run. Nothing a
 * callback wrote is visible to anyone until st_write returns 0.
 *
 * Threads: a st_store may be shared by threads, each with its own
 * transactions; writes are serialized by LMDB. A thread must not begin a
 * transaction while it holds another (map growth waits for every open
 * transaction of the process to end).
 */
#ifndef RATTAN_STORE_H
#define RATTAN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "def.h"
#include "err.h"
#include "mem.h"

typedef struct st_store st_store;
typedef struct st_txn st_txn;

typedef struct st_slice {
  const void *ptr;
  size_t len;
} st_slice;

/* The named databases. The order is the on-disk DBI open order. */
enum st_db {
  ST_DB_META,      /* "schema", "rng": store-wide records */
  ST_DB_TASKS,     /* task -> task record */
  ST_DB_DEFS,      /* task -> compiled definition */
  ST_DB_STATES,    /* task \0 node -> st_state */
  ST_DB_DATA,      /* task \0 node \0 tag [be32] -> JSON text (st_data_*) */
  ST_DB_HISTORIES, /* task \0 node \0 be32 index -> st_state */
  ST_DB_SCHEDULES, /* task \0 node -> st_sched */
  ST_DB_JOURNAL,   /* task \0 be64 seq -> CBOR event */
  ST_DB_PROCS,     /* task \0 be32 pid -> st_proc, live processes only */
  ST_DB_RUNQ,      /* task \0 be32 pid -> "": the runnable processes */
  ST_DB_COUNT
};

/* The schema this library writes; a store with a larger one is refused. */
#define ST_SCHEMA_VERSION 1

#define ST_ID_MAX      64        /* bytes in a task or node id, excluding NUL */
#define ST_VERSION_LEN 33        /* "v" + 32 hex */
#define ST_NO_TIME     INT64_MIN /* an unset time */

typedef struct st_config {
  int nosync; /* no flush at commit */
  /* Group commit: a batch's commit flushes its data but not the page
   * that makes it current (LMDB's MDB_NOMETASYNC), which the next flush
   * carries; st_batch_flush makes every commit durable. Plain st_write
   * commits still flush both before they return. */
  int group;
  size_t map_size;     /* initial map size in bytes, 0 for the default */
  size_t map_size_max; /* growth stops here, 0 for the default */
} st_config;

/* Opens (creating if needed) the environment in dir, which must exist.
 * Clears stale reader slots, creates the databases and checks the schema
 * record (writing it into a new store). *out is owned by the caller until
 * st_close. On failure *out is NULL and err says why. */
int st_open(st_store **out, const char *dir, const st_config *cfg, errbuf *err);
/* Closes s; NULL is a no-op. No txn may be open. */
void st_close(st_store *s);

/* The current map size in bytes. */
size_t st_map_size(st_store *s);

/* The number of reader slots in use, by live or dead processes. */
int st_reader_count(st_store *s);

/* Begins a read transaction; end it with st_read_end. Values read through
 * it are borrowed from the map and valid only until st_read_end. */
int st_read_begin(st_store *s, st_txn **out, errbuf *err);
void st_read_end(st_txn *t);

/* Runs fn(txn, ctx, err) in a write transaction and commits it when fn
 * returns 0. If fn fails the transaction is aborted and fn's code
 * returned; nothing is written. See the file comment for the re-run rule.
 * Returns 0 only once the commit succeeded (and, without nosync, was
 * flushed). Values read inside fn are valid only inside that run of fn. */
typedef int (*st_write_fn)(st_txn *t, void *ctx, errbuf *err);
int st_write(st_store *s, st_write_fn fn, void *ctx, errbuf *err);

/* ---- Group commit --------------------------------------------------------
 * A batch is one write transaction filled by several st_batch_write calls
 * of one thread and committed, with one flush, by st_batch_commit. Until
 * then nothing of it is visible to other threads or processes; the
 * owner's own st_read_begin reads through it. A batch is all or nothing:
 * when any write of it fails, the whole batch is dropped.
 *
 * ST_AGAIN from either call means the batch was dropped for a reason that
 * is gone now (the map was full and has grown): everything written since
 * the last commit is lost and must be redone from what the store holds.
 * Any other error also means the batch is gone. A plain st_write while a
 * batch is open commits the batch first; if that commit fails, the
 * owner's next batch call reports it. */
#define ST_AGAIN 1

/* Runs fn as st_write does, but inside the open batch (beginning one if
 * none is open). Returns 0 once fn's changes are in the batch. */
int st_batch_write(st_store *s, st_write_fn fn, void *ctx, errbuf *err);
/* Commits the open batch, if any. In a group store its data is flushed
 * but it is durable only after the next st_batch_flush (or plain
 * st_write); a crash of the machine before then may undo it, never
 * half of it. */
int st_batch_commit(st_store *s, errbuf *err);
/* Makes every committed batch durable: 0 once flushed (at once when
 * nothing waits, or the store is nosync). */
int st_batch_flush(st_store *s, errbuf *err);
/* Drops the open batch, if any: nothing of it is written. */
void st_batch_abort(st_store *s);
/* Whether a batch is open. */
int st_batch_open(st_store *s);
/* The id of the last committed transaction (it counts commits). */
uint64_t st_last_txn(st_store *s);

/* ---- Raw access ---------------------------------------------------------
 * A failed put makes the txn unusable (RATTAN_EBADTXN afterwards);
 * st_write then aborts it. st_get returns RATTAN_ENOTFOUND without any
 * message work when the key is absent. */
int st_get(st_txn *t, int db, st_slice key, st_slice *val, errbuf *err);
int st_put(st_txn *t, int db, st_slice key, st_slice val, errbuf *err);
/* Like st_put, but an existing key is an error (RATTAN_EEXIST). */
int st_insert(st_txn *t, int db, st_slice key, st_slice val, errbuf *err);

/* Deletes key; an absent key is not an error. */
int st_del(st_txn *t, int db, st_slice key, errbuf *err);

/* Calls fn for each record of db whose key starts with prefix (all
 * records for an empty prefix), in key order. fn returning non-zero stops
 * the walk and that value is returned. */
typedef int (*st_each_fn)(st_slice key, st_slice val, void *ctx);
int st_each(st_txn *t, int db, st_slice prefix, st_each_fn fn, void *ctx,
            errbuf *err);

/* The scratch buffer of a write txn, emptied by each st_write run; for
 * encoders, so writes need no allocation of their own. */
buf *st_scratch(st_txn *t);

/* ---- Node state records ------------------------------------------------ */

typedef struct st_state {
  uint8_t state; /* rattan_state */
  uint8_t skip;
  uint8_t error_ignored;
  uint32_t loop;
  uint32_t inner_loop;
  uint32_t retry;
  char version[ST_VERSION_LEN + 1]; /* "" when none */
  char root_id[ST_ID_MAX + 1];
  char parent_id[ST_ID_MAX + 1];
  int64_t created; /* microseconds since the epoch or ST_NO_TIME */
  int64_t started;
  int64_t archived;
  int64_t refreshed; /* the last change of the record */
  uint32_t seq;      /* creation order within the task, from 0 */
} st_state;

/* "CREATED", "RUNNING", ... for a rattan_state, NULL for other numbers;
 * st_state_parse is the reverse (-1 when n bytes at s name no state). */
const char *st_state_name(int state);
int st_state_parse(const char *s, size_t n);

/* Appends the msgpack encoding of r to out. */
int st_state_encode(const st_state *r, buf *out);
/* Decodes n bytes at p into *r. Corrupt input gives RATTAN_ECORRUPT with
 * the byte offset and the reason; no allocation happens. */
int st_state_decode(const void *p, size_t n, st_state *r, errbuf *err);

/* RATTAN_ENOTFOUND if the node has no record. */
int st_state_get(st_txn *t, const char *task, const char *node, st_state *r,
                 errbuf *err);
/* Why a state record changes, for its journal entry. */
typedef struct st_why {
  const char *action; /* the rule applied: "run", "retry", ... */
  int from;           /* rattan_state before, -1 for a new record */
  const char *note;   /* a reason, or NULL */
} st_why;

int st_state_put(st_txn *t, const char *task, const char *node,
                 const st_state *r, const st_why *why, errbuf *err);

/* The next creation number of the task's node records (0, 1, ...),
 * stored in t. */
int st_state_seq(st_txn *t, const char *task, uint32_t *seq, errbuf *err);

/* Appends r as the next history entry of the node (an earlier attempt)
 * and copies the node's execution data (if any) to the entry's index. */
int st_history_add(st_txn *t, const char *task, const char *node,
                   const st_state *r, errbuf *err);
/* The number of history entries of the node, and entry i (0 = oldest). */
int st_history_count(st_txn *t, const char *task, const char *node, uint32_t *n,
                     errbuf *err);
int st_history_get(st_txn *t, const char *task, const char *node, uint32_t i,
                   st_state *r, errbuf *err);

/* ---- Journal ------------------------------------------------------------
 * Append-only, keyed by (task, sequence); JOURNAL.md describes the format.
 * A write transaction that changes a task's records opens an entry for
 * the task first (st_journal_begin). Every put and delete of the task's
 * records is then encoded into the entry as it happens, and the entry is
 * written when the transaction commits (or at st_journal_end), so the
 * journal holds each change exactly once and commits with it. A write to
 * a task's records without an open entry for that task is refused. */

/* Opens the entry of task's next change: kind names what happens (an
 * operation, "push", "result", ...), at is the clock reading every time
 * in it carries, d (may be NULL when no process is written) names the
 * node indices in process records. kind must outlive the transaction. An
 * open entry is ended first. */
int st_journal_begin(st_txn *t, const char *task, const st_def *d,
                     const char *kind, int64_t at, errbuf *err);
/* Adds an argument to the open entry: a text, a number, a flag, or a
 * list of texts. */
int st_journal_arg_text(st_txn *t, const char *key, const char *v, size_t n,
                        errbuf *err);
int st_journal_arg_uint(st_txn *t, const char *key, uint64_t v, errbuf *err);
int st_journal_arg_bool(st_txn *t, const char *key, int v, errbuf *err);
int st_journal_arg_texts(st_txn *t, const char *key, const char *const *v,
                         size_t n, errbuf *err);
/* Sets the open entry's args to n entries of an encoded map (replay). */
int st_journal_args_raw(st_txn *t, const void *p, size_t len, unsigned n,
                        errbuf *err);
/* Writes the open entry, if it recorded any change, and closes it; *seq
 * (if not NULL) gets its sequence number, 0 when nothing was written. */
int st_journal_end(st_txn *t, uint64_t *seq, errbuf *err);
/* The number of entries in the task's journal (its last sequence). */
int st_journal_count(st_txn *t, const char *task, uint64_t *n, errbuf *err);
/* The CBOR bytes of entry seq, borrowed for the txn's lifetime. */
int st_journal_get(st_txn *t, const char *task, uint64_t seq, st_slice *out,
                   errbuf *err);

/* ---- Tasks and their definitions --------------------------------------- */

#define ST_NAME_MAX 511 /* bytes in a task name, excluding NUL */

typedef struct st_task {
  char id[ST_ID_MAX + 1];
  char name[ST_NAME_MAX + 1];
  char root[ST_ID_MAX + 1]; /* the root pipeline's id */
  int64_t created;
  char project[ST_ID_MAX + 1]; /* "" for none */
} st_task;

/* RATTAN_ENOTFOUND if there is no such task. */
int st_task_get(st_txn *t, const char *id, st_task *r, errbuf *err);
/* Decodes a stored task record (bounded: corrupt input is
 * RATTAN_ECORRUPT, never a crash or an allocation). */
int st_task_decode(const void *p, size_t n, st_task *r, errbuf *err);
int st_task_put(st_txn *t, const st_task *r, errbuf *err);
/* Calls fn(task, ctx) for every task in id order; a non-zero return
 * stops the walk and is returned. */
int st_task_each(st_txn *t, int (*fn)(const st_task *task, void *ctx),
                 void *ctx, errbuf *err);
/* The next number of the task id sequence (1, 2, ...), stored in t. */
int st_task_seq(st_txn *t, uint64_t *next, errbuf *err);

int st_def_put(st_txn *t, const char *task, const st_def *d, errbuf *err);
/* Decodes the task's definition into *d (free with st_def_free). */
int st_def_get(st_txn *t, const char *task, st_def *d, errbuf *err);

/* ---- Run state: processes, the run queue, schedules, data ---------------
 * What the runner needs to continue after a restart. Processes are
 * bamboo's threads of control (one per parallel branch); only live ones
 * are stored. */

#define ST_STACK_MAX 18 /* pipelines on a process's stack: root + 16 + 1 */

enum st_proc_status {
  ST_PROC_RUN,     /* runnable: its current node is to be pushed */
  ST_PROC_SLEEP,   /* waits on a schedule, an operator, or its children */
  ST_PROC_SUSPEND, /* stopped by a paused pipeline or node (suspended_by) */
};

typedef struct st_proc {
  uint32_t id;       /* 1, 2, ... within the task */
  uint32_t parent;   /* 0 for the task's first process */
  uint32_t need_ack; /* children still to arrive at the converge gateway */
  uint32_t cur;      /* current node index */
  uint32_t dest;     /* children: the converge gateway, else ST_NONE */
  uint8_t status;    /* enum st_proc_status */
  uint8_t inflight;  /* the current activity ran; its result is not stored */
  uint8_t depth;     /* pipelines on the stack */
  uint32_t stack[ST_STACK_MAX]; /* pipeline indices, root first */
  char suspended_by[ST_ID_MAX + 1];
} st_proc;

int st_proc_get(st_txn *t, const char *task, uint32_t id, st_proc *p,
                errbuf *err);
/* The stored encodings of processes and schedules, for round trips:
 * encode appends to out; decode is bounded like every record reader. */
int st_proc_encode(const st_proc *p, buf *out);
int st_proc_decode(const void *p, size_t n, st_proc *out, errbuf *err);
/* Stores p and keeps the run queue in step with p->status. */
int st_proc_put(st_txn *t, const char *task, const st_proc *p, errbuf *err);
int st_proc_del(st_txn *t, const char *task, uint32_t id, errbuf *err);
/* Calls fn for each live process of the task, in id order; a non-zero
 * return stops the walk and is returned. p is valid during the call. */
int st_proc_each(st_txn *t, const char *task,
                 int (*fn)(const st_proc *p, void *ctx), void *ctx,
                 errbuf *err);
/* An unused process id for the task. */
int st_proc_next_id(st_txn *t, const char *task, uint32_t *id, errbuf *err);
/* The first runnable process of task (of any task when task is NULL):
 * its task id into task_out and its id; RATTAN_ENOTFOUND when none. */
int st_runq_first(st_txn *t, const char *task, char task_out[ST_ID_MAX + 1],
                  uint32_t *id, errbuf *err);

/* A service activity waiting on polls or callbacks. */
typedef struct st_sched {
  char version[ST_VERSION_LEN + 1]; /* the node's version it belongs to */
  uint8_t type;                     /* rattan_schedule_type */
  uint32_t pid;                     /* the sleeping process */
  uint32_t times;                   /* schedule runs so far */
  uint32_t pending;                 /* callbacks received, not yet run */
  int64_t due;                      /* next poll, or ST_NO_TIME */
  int64_t deadline;                 /* the activity's timeout, or ST_NO_TIME */
} st_sched;

int st_sched_get(st_txn *t, const char *task, const char *node, st_sched *s,
                 errbuf *err);
int st_sched_encode(const st_sched *s, buf *out);
int st_sched_decode(const void *p, size_t n, st_sched *out, errbuf *err);
int st_sched_put(st_txn *t, const char *task, const char *node,
                 const st_sched *s, errbuf *err);
int st_sched_del(st_txn *t, const char *task, const char *node, errbuf *err);
/* Calls fn for each schedule of task (of every task when NULL). */
typedef int (*st_sched_fn)(const char *task, const char *node,
                           const st_sched *s, void *ctx);
int st_sched_each(st_txn *t, const char *task, st_sched_fn fn, void *ctx,
                  errbuf *err);

/* Per-node JSON texts: execution data, a pipeline's context, retry
 * inputs, queued callbacks, and the execution data of earlier attempts
 * (ST_DATA_HISTORY, by history index; idx is ignored for the others). */
enum {
  ST_DATA_EXEC = 'd',
  ST_DATA_CONTEXT = 'c',
  ST_DATA_INPUTS = 'i',
  ST_DATA_CALLBACKS = 'b',
  ST_DATA_HISTORY = 'h'
};
/* *out is borrowed for the txn's lifetime; RATTAN_ENOTFOUND if absent. */
int st_data_get(st_txn *t, const char *task, const char *node, int tag,
                uint32_t idx, st_slice *out, errbuf *err);
int st_data_put(st_txn *t, const char *task, const char *node, int tag,
                uint32_t idx, st_slice val, errbuf *err);
int st_data_del(st_txn *t, const char *task, const char *node, int tag,
                uint32_t idx, errbuf *err);

/* ---- Exported journals ---------------------------------------------------
 * An export is a CBOR sequence: a header item, then the task's entries as
 * stored. The reader below checks every item against the bytes present
 * before using it: framing, nesting (no deeper than the format needs),
 * definite lengths only, counts no larger than the bytes left, and the
 * checksum, so a damaged journal is refused at the item it breaks; it
 * allocates nothing. Errors are RATTAN_ECORRUPT naming the byte offset
 * and the item ("header" or "event N", N from 1). */

#define ST_JOURNAL_FORMAT  "rattan-journal"
#define ST_JOURNAL_VERSION 1

typedef struct st_jheader {
  uint64_t version;
  st_slice engine;
  st_task task;
  int64_t clock;       /* the clock reading when the task was created */
  uint64_t events;     /* entries that follow */
  st_slice definition; /* the pipeline tree, JSON text */
  size_t root_at, definition_at; /* where those fields start (read only) */
} st_jheader;

/* Appends the header item h describes to out. */
int st_journal_header(buf *out, const st_jheader *h);
/* Appends entries 1..n of task's journal to out. */
int st_journal_export(st_txn *t, const char *task, uint64_t n, buf *out,
                      errbuf *err);

typedef struct st_jreader {
  const uint8_t *p;
  size_t n, off;
  size_t item;    /* where the current item starts */
  uint64_t index; /* the current item: 0 the header, then events from 1,
                     counted when their reading starts */
  size_t crc_at;  /* where the current item's "crc" key starts */
  size_t end;     /* where the current item ends */
  int top_map;    /* the current item is a map */
  errbuf *err;
} st_jreader;

void st_jr_init(st_jreader *r, const void *p, size_t n, errbuf *err);
/* Reads the header item. */
int st_jr_header(st_jreader *r, st_jheader *h);

typedef struct st_jevent {
  uint64_t seq;
  st_slice kind;
  int64_t at;
  st_slice args; /* the args map's entries (after its head), or empty */
  unsigned n_args;
  uint32_t n_changes;
  st_slice bytes; /* the whole item */
} st_jevent;

/* Reads the next event item up to its changes; RATTAN_ENOTFOUND (no
 * message) at the end of the input. Then call st_jr_change n_changes
 * times and st_jr_event_end. */
int st_jr_event(st_jreader *r, st_jevent *ev);
int st_jr_event_end(st_jreader *r);

enum {
  ST_JC_TASK,
  ST_JC_STATE,
  ST_JC_HISTORY,
  ST_JC_DATA,
  ST_JC_PROC,
  ST_JC_SCHED
};

typedef struct st_jproc {
  uint32_t parent, need_ack;
  char cur[ST_ID_MAX + 1], dest[ST_ID_MAX + 1]; /* dest "" for none */
  uint8_t status, inflight, depth;
  char stack[ST_STACK_MAX][ST_ID_MAX + 1];
  char suspended_by[ST_ID_MAX + 1];
} st_jproc;

typedef struct st_jchange {
  int type;   /* ST_JC_* */
  size_t off; /* where the change starts */
  char node[ST_ID_MAX + 1];
  st_task task;    /* TASK */
  st_slice action; /* STATE */
  int from;        /* STATE: -1 for null */
  int to;
  st_slice note; /* STATE: empty when absent */
  int has_note;
  st_state rec;   /* STATE, HISTORY */
  uint32_t index; /* HISTORY */
  int tag;        /* DATA: ST_DATA_* */
  int present;    /* DATA, PROC, SCHED: 0 for a deletion */
  st_slice value; /* DATA */
  uint32_t pid;   /* PROC */
  st_jproc proc;
  st_sched sched;
} st_jchange;

int st_jr_change(st_jreader *r, st_jchange *c);
/* Sets r's error for the current item at offset off. */
int st_jr_fail(st_jreader *r, size_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- Store-wide records ------------------------------------------------ */

/* The position of the version generator seeded with seed: how many
 * versions were drawn from it; RATTAN_ENOTFOUND if none ever was. */
int st_rng_get(st_txn *t, uint64_t seed, uint64_t *pos, errbuf *err);
int st_rng_put(st_txn *t, uint64_t seed, uint64_t pos, errbuf *err);

/* The reading of a virtual clock when the last write committed, so a
 * virtual clock resumes where it stood (RATTAN_ENOTFOUND if never set). */
int st_vclock_get(st_txn *t, int64_t *us, errbuf *err);
int st_vclock_put(st_txn *t, int64_t us, errbuf *err);

/* Replaces the schema record (tests use it to simulate other versions). */
int st_schema_put(st_txn *t, uint64_t schema, errbuf *err);

/* Appends every record of every database to out, in database and key
 * order, each as (db, key length, key, value length, value); equal dumps
 * mean equal stores. */
int st_dump(st_txn *t, buf *out, errbuf *err);

/* The same for one task's records: every database's records keyed by the
 * task, and its meta record; equal dumps mean equal tasks. */
int st_dump_task(st_txn *t, const char *task, buf *out, errbuf *err);

/* ---- Fault injection (tests) --------------------------------------------
 * Makes the nth put (ST_FAULT_PUT) or commit (ST_FAULT_COMMIT) from now on
 * fail with code, as if LMDB had returned it: RATTAN_ENOSPC, RATTAN_EIO, or
 * RATTAN_EFULL to simulate a full map (which st_write answers by growing
 * the map and running its callback again). n = 0 disarms. */
enum { ST_FAULT_PUT, ST_FAULT_COMMIT };
void st_fault(st_store *s, int what, unsigned n, int code);
/* Calls fn(ctx) after every successful commit (fn NULL: stops), with no
 * transaction of s open, so fn may read the store: tests record the
 * store after each commit to check that a failure leaves whole commits
 * only. */
void st_on_commit(st_store *s, void (*fn)(void *ctx), void *ctx);

/* ---- Crash points (tests/crash) -------------------------------------------
 * The crash loop kills a writer process at named moments of a write: right
 * after a put succeeded, just before a commit, and right after a commit
 * succeeded (before the store returns). With a hook set, the store calls
 * it at each of those points with the point's number; the hook may end
 * the process there (SIGKILL), and otherwise must return without touching
 * the store. One process-wide pointer, NULL unless set: set it before any
 * thread writes (it is not synchronized). Unset, a point costs one load
 * and one branch. */
enum { ST_POINT_PUT, ST_POINT_PRECOMMIT, ST_POINT_COMMIT, ST_POINT_COUNT };
void st_set_point_hook(void (*fn)(int point));

/* The number of reader slots of dead processes that st_open cleared. */
int st_stale_cleared(st_store *s);

#endif
