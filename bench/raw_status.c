/* B3: the hand-written same-output status encoders (see raw_status.h). */
#include "raw_status.h"

#include <cbor.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NO_TIME INT64_MIN

/* The fields of one state record the answer shows; strings point into
 * the map (valid until the read transaction ends). */
typedef struct raw_rec {
  const char *id, *version, *root, *parent;
  uint8_t id_len, version_len, root_len, parent_len;
  uint8_t state, skip, ignored;
  uint32_t loop, retry, seq;
  int64_t started, archived;
} raw_rec;

/* ---- A positional msgpack reader for the record layout ------------------
 * [format, state, version, loop, inner_loop, retry, skip, error_ignored,
 *  root_id, parent_id, created, started, archived, seq, refreshed]. */

typedef struct rd {
  const uint8_t *p, *end;
} rd;

static uint64_t be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

/* An integer; nil reads as NO_TIME. */
static int64_t rd_int(rd *r) {
  uint8_t c = *r->p++;
  int64_t v;
  if (c <= 0x7f) return c;
  if (c >= 0xe0) return (int8_t)c;
  switch (c) {
    case 0xc0:
      return NO_TIME;
    case 0xcc:
      v = (int64_t)be(r->p, 1), r->p += 1;
      return v;
    case 0xcd:
      v = (int64_t)be(r->p, 2), r->p += 2;
      return v;
    case 0xce:
      v = (int64_t)be(r->p, 4), r->p += 4;
      return v;
    case 0xcf:
      v = (int64_t)be(r->p, 8), r->p += 8;
      return v;
    case 0xd0:
      v = (int8_t)be(r->p, 1), r->p += 1;
      return v;
    case 0xd1:
      v = (int16_t)be(r->p, 2), r->p += 2;
      return v;
    case 0xd2:
      v = (int32_t)be(r->p, 4), r->p += 4;
      return v;
    case 0xd3:
      v = (int64_t)be(r->p, 8), r->p += 8;
      return v;
  }
  bench_die("raw status: unexpected msgpack byte 0x%02x", c);
}

static const char *rd_str(rd *r, uint8_t *len) {
  uint8_t c = *r->p++;
  if ((c & 0xe0) == 0xa0) {
    *len = c & 0x1f;
  } else if (c == 0xd9) {
    *len = *r->p++;
  } else {
    bench_die("raw status: unexpected msgpack string byte 0x%02x", c);
  }
  const char *s = (const char *)r->p;
  r->p += *len;
  return s;
}

static void rec_read(raw_rec *x, const MDB_val *k, const MDB_val *v,
                     size_t prefix) {
  rd r = {v->mv_data, (const uint8_t *)v->mv_data + v->mv_size};
  x->id = (const char *)k->mv_data + prefix;
  x->id_len = (uint8_t)(k->mv_size - prefix);
  if ((*r.p & 0xf0) != 0x90) bench_die("raw status: not a record");
  r.p++;
  rd_int(&r); /* format version */
  x->state = (uint8_t)rd_int(&r);
  x->version = rd_str(&r, &x->version_len);
  x->loop = (uint32_t)rd_int(&r);
  rd_int(&r); /* inner_loop */
  x->retry = (uint32_t)rd_int(&r);
  x->skip = *r.p++ == 0xc3;
  x->ignored = *r.p++ == 0xc3;
  x->root = rd_str(&r, &x->root_len);
  x->parent = rd_str(&r, &x->parent_len);
  rd_int(&r); /* created */
  x->started = rd_int(&r);
  x->archived = rd_int(&r);
  x->seq = (uint32_t)rd_int(&r);
}

/* ---- Values as the answer writes them ------------------------------------ */

static const char *const state_names[] = {"CREATED",   "READY",   "RUNNING",
                                          "SUSPENDED", "BLOCKED", "FINISHED",
                                          "FAILED",    "REVOKED"};

static char *two(char *p, unsigned v) {
  p[0] = (char)('0' + v / 10);
  p[1] = (char)('0' + v % 10);
  return p + 2;
}

/* "2024-01-01 10:00:00 +0800" (25 bytes, years 0..9999). */
static void fmt_time(int64_t us, int off_min, char out[25]) {
  int64_t s = us / 1000000 - (us % 1000000 < 0) + (int64_t)off_min * 60;
  int64_t days = s / 86400, sod = s % 86400;
  if (sod < 0) sod += 86400, days--;
  /* Howard Hinnant's civil_from_days. */
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100),
           mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  unsigned y = (unsigned)(yoe + era * 400 + (m <= 2));
  unsigned a = (unsigned)(off_min < 0 ? -off_min : off_min);
  char *p = two(two(out, y / 100), y % 100);
  *p++ = '-';
  p = two(p, m);
  *p++ = '-';
  p = two(p, d);
  *p++ = ' ';
  p = two(p, (unsigned)(sod / 3600));
  *p++ = ':';
  p = two(p, (unsigned)(sod / 60 % 60));
  *p++ = ':';
  p = two(p, (unsigned)(sod % 60));
  *p++ = ' ';
  *p++ = off_min < 0 ? '-' : '+';
  p = two(p, a / 60);
  two(p, a % 60);
}

/* Python's round() of the elapsed seconds (half to even). */
static int64_t elapsed(const raw_rec *x) {
  if (x->started == NO_TIME || x->archived == NO_TIME) return 0;
  int64_t d = x->archived - x->started, q = d / 1000000, r = d % 1000000;
  if (r < 0) r += 1000000, q--;
  return q + (r > 500000 || (r == 500000 && (q & 1)));
}

/* ---- The scan ------------------------------------------------------------ */

typedef struct scan {
  MDB_txn *txn;
  raw_rec *recs; /* by seq */
  size_t n;
} scan;

/* Reads every record of task into s->recs, placed by creation number. */
static void scan_records(MDB_env *env, const char *task, scan *s) {
  MDB_dbi dbi;
  MDB_cursor *c;
  size_t plen = strlen(task) + 1, cap = 0;
  s->n = 0;
  if (mdb_txn_begin(env, NULL, MDB_RDONLY, &s->txn) ||
      mdb_dbi_open(s->txn, "states", 0, &dbi) ||
      mdb_cursor_open(s->txn, dbi, &c))
    bench_die("raw status: open");
  MDB_val k = {plen, (void *)task}, v;
  for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
       rc == 0 && k.mv_size > plen && !memcmp(k.mv_data, task, plen);
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    raw_rec x;
    rec_read(&x, &k, &v, plen);
    if (x.seq >= cap) {
      size_t ncap = cap ? 2 * cap : 1024;
      while (ncap <= x.seq)
        ncap *= 2;
      s->recs = realloc(s->recs, ncap * sizeof *s->recs);
      if (!s->recs) bench_die("out of memory");
      cap = ncap;
    }
    s->recs[x.seq] = x;
    s->n++;
  }
  mdb_cursor_close(c);
}

static void scan_end(scan *s) {
  mdb_txn_abort(s->txn);
  free(s->recs);
}

/* ---- JSON ---------------------------------------------------------------- */

#define PUT(lit)   (memcpy(p, lit, sizeof lit - 1), p += sizeof lit - 1)
#define PUTN(s, n) (memcpy(p, s, n), p += n)

static char *json_int(char *p, int64_t v) {
  char t[24], *q = t + sizeof t;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do
    *--q = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0) *--q = '-';
  return (char *)memcpy(p, q, (size_t)(t + sizeof t - q)) + (t + sizeof t - q);
}

static char *json_time(char *p, int64_t t, int off) {
  if (t == NO_TIME) return PUT("null"), p;
  *p++ = '"';
  fmt_time(t, off, p);
  p += 25;
  *p++ = '"';
  return p;
}

/* One node's entry from "{" to "}", its children's entries between. */
static char *json_node(char *p, const scan *s, const raw_rec *x, int is_root,
                       const raw_answer *a) {
  const raw_rec *last = &s->recs[s->n - 1];
  int flags = is_root ? last->ignored : x->ignored;
  PUT("{\"id\": \"");
  PUTN(x->id, x->id_len);
  PUT("\", \"state\": \"");
  const char *st = state_names[x->state];
  PUTN(st, strlen(st));
  PUT("\", \"root_id:\": \"");
  PUTN(x->root, x->root_len);
  PUT("\", \"parent_id\": \"");
  if (is_root)
    PUTN(x->root, x->root_len);
  else
    PUTN(x->parent, x->parent_len);
  PUT("\", \"version\": \"");
  PUTN(x->version, x->version_len);
  PUT("\", \"loop\": ");
  p = json_int(p, x->loop);
  PUT(", \"retry\": ");
  p = json_int(p, x->retry);
  if (x->skip)
    PUT(", \"skip\": true");
  else
    PUT(", \"skip\": false");
  if (flags)
    PUT(", \"error_ignorable\": true, \"error_ignored\": true");
  else
    PUT(", \"error_ignorable\": false, \"error_ignored\": false");
  PUT(", \"children\": {");
  if (is_root)
    for (size_t i = 1; i < s->n; i++) {
      if (i > 1) PUT(", ");
      *p++ = '"';
      PUTN(s->recs[i].id, s->recs[i].id_len);
      PUT("\": ");
      p = json_node(p, s, &s->recs[i], 0, a);
    }
  PUT("}, \"elapsed_time\": ");
  p = json_int(p, elapsed(x));
  PUT(", \"start_time\": ");
  p = json_time(p, x->started, a->tz_offset_min);
  PUT(", \"finish_time\": ");
  p = json_time(p, x->archived, a->tz_offset_min);
  PUT(", \"name\": \"");
  if (is_root) PUTN(a->task_name, strlen(a->task_name));
  PUT("\"}");
  return p;
}

static void json_answer(const scan *s, const raw_answer *a, char **out,
                        size_t *len) {
  /* An entry is under 500 bytes with 64-byte ids; ids here are short. */
  char *b = malloc(512 * s->n + 1024), *p = b;
  if (!b) bench_die("out of memory");
  PUT("{\"result\": true, \"data\": ");
  p = json_node(p, s, &s->recs[0], 1, a);
  PUT(", \"code\": 0, \"message\": \"\", \"trace_id\": \"");
  PUTN(a->trace_id, strlen(a->trace_id));
  PUT("\"}");
  *p = '\0';
  *out = b;
  *len = (size_t)(p - b);
}

/* ---- msgpack ------------------------------------------------------------- */

static void mp_key(msgpack_packer *pk, const char *k, size_t n) {
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, k, n);
}
#define MP_KEY(pk, lit) mp_key(pk, lit, sizeof lit - 1)

static void mp_time(msgpack_packer *pk, int64_t t, int off) {
  char text[25];
  if (t == NO_TIME) {
    msgpack_pack_nil(pk);
    return;
  }
  fmt_time(t, off, text);
  mp_key(pk, text, sizeof text);
}

static void mp_node(msgpack_packer *pk, const scan *s, const raw_rec *x,
                    int is_root, const raw_answer *a) {
  int flags = is_root ? s->recs[s->n - 1].ignored : x->ignored;
  const char *st = state_names[x->state];
  msgpack_pack_map(pk, 15);
  MP_KEY(pk, "id");
  mp_key(pk, x->id, x->id_len);
  MP_KEY(pk, "state");
  mp_key(pk, st, strlen(st));
  MP_KEY(pk, "root_id:");
  mp_key(pk, x->root, x->root_len);
  MP_KEY(pk, "parent_id");
  if (is_root)
    mp_key(pk, x->root, x->root_len);
  else
    mp_key(pk, x->parent, x->parent_len);
  MP_KEY(pk, "version");
  mp_key(pk, x->version, x->version_len);
  MP_KEY(pk, "loop");
  msgpack_pack_int64(pk, x->loop);
  MP_KEY(pk, "retry");
  msgpack_pack_int64(pk, x->retry);
  MP_KEY(pk, "skip");
  x->skip ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
  MP_KEY(pk, "error_ignorable");
  flags ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
  MP_KEY(pk, "error_ignored");
  flags ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
  MP_KEY(pk, "children");
  msgpack_pack_map(pk, is_root ? s->n - 1 : 0);
  if (is_root)
    for (size_t i = 1; i < s->n; i++) {
      mp_key(pk, s->recs[i].id, s->recs[i].id_len);
      mp_node(pk, s, &s->recs[i], 0, a);
    }
  MP_KEY(pk, "elapsed_time");
  msgpack_pack_int64(pk, elapsed(x));
  MP_KEY(pk, "start_time");
  mp_time(pk, x->started, a->tz_offset_min);
  MP_KEY(pk, "finish_time");
  mp_time(pk, x->archived, a->tz_offset_min);
  MP_KEY(pk, "name");
  if (is_root)
    mp_key(pk, a->task_name, strlen(a->task_name));
  else
    mp_key(pk, "", 0);
}

static void msgpack_answer(const scan *s, const raw_answer *a, char **out,
                           size_t *len) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  /* Sized up front, as the JSON writer's buffer is: the floor should not
   * pay for growth. */
  sb.alloc = 400 * s->n + 1024;
  sb.data = malloc(sb.alloc);
  if (!sb.data) bench_die("out of memory");
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 5);
  MP_KEY(&pk, "result");
  msgpack_pack_true(&pk);
  MP_KEY(&pk, "data");
  mp_node(&pk, s, &s->recs[0], 1, a);
  MP_KEY(&pk, "code");
  msgpack_pack_int64(&pk, 0);
  MP_KEY(&pk, "message");
  mp_key(&pk, "", 0);
  MP_KEY(&pk, "trace_id");
  mp_key(&pk, a->trace_id, strlen(a->trace_id));
  *len = sb.size;
  *out = msgpack_sbuffer_release(&sb);
}

/* ---- CBOR ---------------------------------------------------------------- */

typedef struct cb {
  unsigned char *b;
  size_t len, cap;
} cb;

/* Room for the largest item written at once (a 64-byte text). */
static void cb_room(cb *c) {
  if (c->cap - c->len >= 128) return;
  c->cap *= 2;
  c->b = realloc(c->b, c->cap);
  if (!c->b) bench_die("out of memory");
}

static void cb_text(cb *c, const char *s, size_t n) {
  cb_room(c);
  c->len += cbor_encode_string_start(n, c->b + c->len, c->cap - c->len);
  memcpy(c->b + c->len, s, n);
  c->len += n;
}
#define CB_KEY(c, lit) cb_text(c, lit, sizeof lit - 1)

static void cb_uint(cb *c, uint64_t v) {
  cb_room(c);
  c->len += cbor_encode_uint(v, c->b + c->len, c->cap - c->len);
}

static void cb_bool(cb *c, int v) {
  cb_room(c);
  c->len += cbor_encode_bool(v, c->b + c->len, c->cap - c->len);
}

static void cb_map(cb *c, size_t n) {
  cb_room(c);
  c->len += cbor_encode_map_start(n, c->b + c->len, c->cap - c->len);
}

static void cb_time(cb *c, int64_t t, int off) {
  char text[25];
  if (t == NO_TIME) {
    cb_room(c);
    c->len += cbor_encode_null(c->b + c->len, c->cap - c->len);
    return;
  }
  fmt_time(t, off, text);
  cb_text(c, text, sizeof text);
}

static void cb_node(cb *c, const scan *s, const raw_rec *x, int is_root,
                    const raw_answer *a) {
  int flags = is_root ? s->recs[s->n - 1].ignored : x->ignored;
  const char *st = state_names[x->state];
  cb_map(c, 15);
  CB_KEY(c, "id");
  cb_text(c, x->id, x->id_len);
  CB_KEY(c, "state");
  cb_text(c, st, strlen(st));
  CB_KEY(c, "root_id:");
  cb_text(c, x->root, x->root_len);
  CB_KEY(c, "parent_id");
  if (is_root)
    cb_text(c, x->root, x->root_len);
  else
    cb_text(c, x->parent, x->parent_len);
  CB_KEY(c, "version");
  cb_text(c, x->version, x->version_len);
  CB_KEY(c, "loop");
  cb_uint(c, x->loop);
  CB_KEY(c, "retry");
  cb_uint(c, x->retry);
  CB_KEY(c, "skip");
  cb_bool(c, x->skip);
  CB_KEY(c, "error_ignorable");
  cb_bool(c, flags);
  CB_KEY(c, "error_ignored");
  cb_bool(c, flags);
  CB_KEY(c, "children");
  cb_map(c, is_root ? s->n - 1 : 0);
  if (is_root)
    for (size_t i = 1; i < s->n; i++) {
      cb_text(c, s->recs[i].id, s->recs[i].id_len);
      cb_node(c, s, &s->recs[i], 0, a);
    }
  CB_KEY(c, "elapsed_time");
  cb_uint(c, (uint64_t)elapsed(x));
  CB_KEY(c, "start_time");
  cb_time(c, x->started, a->tz_offset_min);
  CB_KEY(c, "finish_time");
  cb_time(c, x->archived, a->tz_offset_min);
  CB_KEY(c, "name");
  if (is_root)
    cb_text(c, a->task_name, strlen(a->task_name));
  else
    cb_text(c, "", 0);
}

static void cbor_answer(const scan *s, const raw_answer *a, char **out,
                        size_t *len) {
  cb c = {.cap = 400 * s->n + 1024};
  c.b = malloc(c.cap);
  if (!c.b) bench_die("out of memory");
  cb_map(&c, 5);
  CB_KEY(&c, "result");
  cb_bool(&c, 1);
  CB_KEY(&c, "data");
  cb_node(&c, s, &s->recs[0], 1, a);
  CB_KEY(&c, "code");
  cb_uint(&c, 0);
  CB_KEY(&c, "message");
  cb_text(&c, "", 0);
  CB_KEY(&c, "trace_id");
  cb_text(&c, a->trace_id, strlen(a->trace_id));
  *out = (char *)c.b;
  *len = c.len;
}

/* ---- Entry points -------------------------------------------------------- */

void raw_status(MDB_env *env, const raw_answer *a, raw_format fmt, char **out,
                size_t *len) {
  scan s = {0};
  scan_records(env, a->task, &s);
  if (!s.n) bench_die("raw status: no records for task %s", a->task);
  if (fmt == RAW_JSON)
    json_answer(&s, a, out, len);
  else if (fmt == RAW_MSGPACK)
    msgpack_answer(&s, a, out, len);
  else
    cbor_answer(&s, a, out, len);
  scan_end(&s);
}

size_t raw_scan(MDB_env *env, const char *task) {
  scan s = {0};
  scan_records(env, task, &s);
  size_t n = s.n;
  scan_end(&s);
  return n;
}

size_t raw_scan_ids(MDB_env *env, const char *task) {
  static const char body[] =
      "\": {\"state\": \"FINISHED\", \"loop\": 1, \"children\": {}}, ";
  MDB_txn *txn;
  MDB_dbi dbi;
  MDB_cursor *c;
  size_t plen = strlen(task) + 1, len = 0, cap = 1 << 16;
  char *out = malloc(cap);
  if (!out || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
      mdb_dbi_open(txn, "states", 0, &dbi) || mdb_cursor_open(txn, dbi, &c))
    bench_die("raw scan: open");
  MDB_val k = {plen, (void *)task}, v;
  for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
       rc == 0 && k.mv_size > plen && !memcmp(k.mv_data, task, plen);
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (cap - len < 256 && !(out = realloc(out, cap *= 2)))
      bench_die("out of memory");
    out[len++] = '"';
    memcpy(out + len, (char *)k.mv_data + plen, k.mv_size - plen);
    len += k.mv_size - plen;
    memcpy(out + len, body, sizeof body - 1);
    len += sizeof body - 1;
  }
  mdb_cursor_close(c);
  mdb_txn_abort(txn);
  free(out);
  return len;
}
