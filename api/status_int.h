/* Shared by the status answers' files (status.c, detail.c). */
#ifndef RATTAN_STATUS_INT_H
#define RATTAN_STATUS_INT_H

#include "emit.h"

/* Folded states beyond rattan_state. */
#define NODE_SUSPENDED RATTAN_STATE_COUNT
#define NO_NODE        UINT32_MAX

/* SOPS error codes (gcloud/err_code.py). */
enum {
  CODE_PARAM_INVALID = 3540000,
  CODE_NOT_EXIST = 3540400,
  CODE_UNKNOWN = 3599999
};

/* The last time written, as text (see walk_time). */
typedef struct time_memo {
  int64_t day, sec; /* local days and seconds since the epoch */
  size_t len;
  char text[40];
} time_memo;

/* One answer's walk over a task's records. */
typedef struct walk {
  const eng_status *st;
  const rattan_status_options *o;
  emitter *m;
  uint8_t *folded; /* per record */
  uint32_t *queue; /* ex_data's breadth-first search */
  int names;       /* v2: look names up (not under a subprocess query) */
  uint32_t top;    /* the record the answer is about */
  int ex;          /* the top carries ex_data */
  int no_children; /* the top has no children key (get_tasks_status) */
  int no_names;    /* no name keys (get_children_states' entries) */
  int detail;      /* get_children_states: the top's parent_id is its
                      root_id, its children's children are {} */
  int extra;       /* keys the caller adds to the top's map (and closes) */
  size_t root_len; /* of the records' root_id */
  time_memo times;
} walk;

/* A walk over st, its records folded from the root; the caller frees
 * w->queue. RATTAN_ENOMEM on failure. */
int walk_init(walk *w, eng_status *st, const rattan_status_options *o,
              emitter *m);
/* Folds record i and its subtree (bk-sops' RUNNING-parent rule for the
 * profile) into w->folded; returns i's. */
int walk_fold(walk *w, uint32_t i);
/* Record i as its profile writes a node (children included). */
void walk_node(walk *w, uint32_t i);
/* A time as the profile writes it ("" or null when unset). */
void walk_time(walk *w, int64_t t);

/* calculate_elapsed_time: seconds, rounded half to even; now while the
 * record runs; 0 when it never started. */
int64_t st_elapsed(const st_state *s, int64_t now);
/* format_datetime: "2020-08-17 20:13:53 +0800". */
void st_local_time(int64_t us, int off_min, char out[40]);
/* Copies the caller's options (NULL: defaults) into *o, with a fresh
 * trace id in trace when none was given, and clears *out; RATTAN_EINVAL
 * for a profile, format or zone out of range. */
int st_begin(const rattan_status_options *in, rattan_status_options *o,
             char trace[33], char **out, size_t *len);
void st_random_trace(char out[33]);
void st_emit_trace(emitter *m, const char *key, const char *trace);
/* SOPS's answer for a task never started (name NULL: none; children:
 * whether the empty children key is there). */
void st_emit_created(emitter *m, const char *name, int children);
/* SOPS's error answer for code (BKFlow's own shape in that profile). */
void st_emit_error(emitter *m, const rattan_status_options *o, int code,
                   const char *message, const char *trace);
/* The answer when reading the task failed with rc: SOPS's not-found
 * answer, or its engine failure ("fail: ..."). */
void st_emit_load_error(emitter *m, const rattan_status_options *o,
                        const char *task, int rc, const errbuf *err);
/* RATTAN_ENOTFOUND, exactly as for an unknown task, when o names a
 * project that st's task does not belong to. */
int st_check_project(const rattan_status_options *o, const eng_status *st,
                     const char *task, errbuf *err);
/* Hands b to the caller as *out (NUL-terminated) and returns rc, or
 * RATTAN_ENOMEM (b freed, *out left NULL) when the writer ran out of
 * memory or rc is RATTAN_ENOMEM. */
int st_finish(emitter *m, buf *b, char **out, size_t *len, int rc);

#endif
