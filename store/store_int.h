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

/* Checks the schema record, writing it into a new store (in st_open). */
int st_check_schema(st_txn *t, errbuf *err);

#endif
