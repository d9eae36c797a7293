/* Shared by the store's own files only. */
#ifndef RATTAN_STORE_INT_H
#define RATTAN_STORE_INT_H

#include "store.h"

/* Room for task \0 node \0 and an 8-byte suffix. */
#define KEY_MAX (2 * (ST_ID_MAX + 1) + 8)

typedef struct skey {
  uint8_t b[KEY_MAX];
  size_t len;
} skey;

/* Builds task \0 (or task \0 node \0 when node is not NULL). Fails with
 * RATTAN_EINVAL when an id is empty or longer than ST_ID_MAX. */
int key_ids(skey *k, const char *task, const char *node, errbuf *err);
/* Appends an n-byte big-endian number (n = 4 or 8). */
void key_be(skey *k, uint64_t v, int n);
/* The key as a slice. */
st_slice key_slice(const skey *k);

/* The last record of db whose key starts with prefix (whose last byte
 * must be below 0xff); RATTAN_ENOTFOUND if there is none. */
int st_last(st_txn *t, int db, st_slice prefix, st_slice *k, st_slice *v,
            errbuf *err);

/* The journal entry a write txn is building (journal.c): the changes made
 * to one task's records since st_journal_begin, encoded as they happen. */
typedef struct jframe {
  int open;
  char task[ST_ID_MAX + 1];
  const st_def *def; /* names node and pipeline indices; may be NULL */
  const char *kind;
  int64_t at;
  buf args; /* the args map's entries, n_args of them */
  unsigned n_args;
  buf changes; /* the encoded changes, n_changes of them */
  unsigned n_changes;
  /* The last entry this transaction wrote (last_task "" when none): the
   * next entry of that task follows it, with no lookup. Only this txn
   * writes the journal, so it stays exact until the txn ends. */
  char last_task[ST_ID_MAX + 1];
  uint64_t last_seq;
} jframe;

/* The write txn's frame, and marking the txn failed (env.c). */
jframe *st_jframe(st_txn *t);
void st_txn_fail(st_txn *t);

void jr_reset(st_txn *t);
/* Forgets what the previous transaction wrote: call as a txn begins. */
void jr_begin_txn(st_txn *t);
void jr_free(st_txn *t);
/* 0 when a write to task's records may go ahead and be journaled: the
 * open entry is task's. A write outside an entry is refused, so nothing
 * reaches a task's records without its journal entry. */
int jr_check(st_txn *t, const char *task, errbuf *err);
/* Each records one change in the open entry (after jr_check). */
int jr_task(st_txn *t, const st_task *r, errbuf *err);
int jr_state(st_txn *t, const char *node, const st_state *r, const st_why *why,
             errbuf *err);
int jr_history(st_txn *t, const char *node, uint32_t index, const st_state *r,
               errbuf *err);
int jr_data(st_txn *t, const char *node, int tag, const st_slice *val,
            errbuf *err);
int jr_proc(st_txn *t, uint32_t pid, const st_proc *p, errbuf *err);
int jr_sched(st_txn *t, const char *node, const st_sched *s, errbuf *err);

/* CRC-32C (Castagnoli) of n bytes, continuing from crc (0 to start). */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* Checks the schema record, writing it into a new store (in st_open). */
int st_check_schema(st_txn *t, errbuf *err);

#endif
