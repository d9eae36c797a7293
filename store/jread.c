/*
 * Exported journals: the header writer, the export of stored entries, and
 * the bounded reader (see store.h and JOURNAL.md).
 *
 * The reader pulls one CBOR head at a time through libcbor's streaming
 * decoder, which claims every length against the bytes present before it
 * reports a string. Before an item's fields are read, the whole item is
 * walked once: its end found, its nesting bounded, its counts checked
 * against the bytes left and its checksum verified. Fields are then read
 * in the one order the writer uses, so anything else is refused where it
 * stands. Nothing is allocated: strings are slices of the input.
 */
#include <cbor.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cbw.h"
#include "rattan.h"
#include "store_int.h"

/* The deepest nesting the format has: event, changes, change, process,
 * stack. */
#define DEPTH_MAX 5

/* ---- Writing --------------------------------------------------------------
 */

static int text(buf *b, const char *s) {
  return cbw_text(b, s, strlen(s));
}

int st_journal_header(buf *out, const st_jheader *h) {
  size_t at = out->len;
  int bad =
      cbw_map(out, *h->task.project ? 12 : 11) || text(out, "format") ||
      text(out, ST_JOURNAL_FORMAT) || text(out, "version") ||
      cbw_uint(out, h->version) || text(out, "engine") ||
      cbw_text(out, h->engine.ptr, h->engine.len) || text(out, "task") ||
      text(out, h->task.id) || text(out, "name") || text(out, h->task.name) ||
      text(out, "root") || text(out, h->task.root) || text(out, "created") ||
      cbw_int(out, h->task.created) ||
      (*h->task.project &&
       (text(out, "project") || text(out, h->task.project))) ||
      text(out, "clock") || cbw_int(out, h->clock) || text(out, "events") ||
      cbw_uint(out, h->events) || text(out, "definition") ||
      cbw_text(out, h->definition.ptr, h->definition.len);
  if (!bad) {
    uint32_t crc = crc32c(0, out->data + at, out->len - at);
    bad = text(out, "crc") || cbw_uint(out, crc);
  }
  if (bad) out->len = at;
  return bad ? RATTAN_ENOMEM : 0;
}

int st_journal_export(st_txn *t, const char *task, uint64_t n, buf *out,
                      errbuf *err) {
  for (uint64_t seq = 1; seq <= n; seq++) {
    st_slice v;
    int rc = st_journal_get(t, task, seq, &v, err);
    if (rc == RATTAN_ENOTFOUND)
      return err_set(err, RATTAN_ECORRUPT,
                     "journal of task %s: entry %llu "
                     "is missing",
                     task, (unsigned long long)seq);
    if (rc) return rc;
    if (buf_append(out, v.ptr, v.len))
      return err_set(err, RATTAN_ENOMEM, "journal of task %s: out of memory",
                     task);
  }
  return 0;
}

/* ---- Tokens ---------------------------------------------------------------
 */

enum {
  T_UINT,
  T_NEG,
  T_BYTES,
  T_TEXT,
  T_ARRAY,
  T_MAP,
  T_BOOL,
  T_NULL,
  T_OTHER
};

static const char *const tok_names[] = {"an unsigned integer",
                                        "a negative integer",
                                        "a byte string",
                                        "a text string",
                                        "an array",
                                        "a map",
                                        "a boolean",
                                        "null",
                                        "another item"};

typedef struct tok {
  int type;
  uint64_t v; /* the number, count, or flag */
  const char *s;
  size_t len;
  const char *what; /* T_OTHER: what it is */
} tok;

static void on_u8(void *c, uint8_t v) {
  *(tok *)c = (tok){.type = T_UINT, .v = v};
}
static void on_u16(void *c, uint16_t v) {
  *(tok *)c = (tok){.type = T_UINT, .v = v};
}
static void on_u32(void *c, uint32_t v) {
  *(tok *)c = (tok){.type = T_UINT, .v = v};
}
static void on_u64(void *c, uint64_t v) {
  *(tok *)c = (tok){.type = T_UINT, .v = v};
}
static void on_n8(void *c, uint8_t v) {
  *(tok *)c = (tok){.type = T_NEG, .v = v};
}
static void on_n16(void *c, uint16_t v) {
  *(tok *)c = (tok){.type = T_NEG, .v = v};
}
static void on_n32(void *c, uint32_t v) {
  *(tok *)c = (tok){.type = T_NEG, .v = v};
}
static void on_n64(void *c, uint64_t v) {
  *(tok *)c = (tok){.type = T_NEG, .v = v};
}
static void on_bytes(void *c, cbor_data s, uint64_t n) {
  *(tok *)c = (tok){.type = T_BYTES, .s = (const char *)s, .len = (size_t)n};
}
static void on_text(void *c, cbor_data s, uint64_t n) {
  *(tok *)c = (tok){.type = T_TEXT, .s = (const char *)s, .len = (size_t)n};
}
static void on_array(void *c, uint64_t n) {
  *(tok *)c = (tok){.type = T_ARRAY, .v = n};
}
static void on_map(void *c, uint64_t n) {
  *(tok *)c = (tok){.type = T_MAP, .v = n};
}
static void on_bool(void *c, bool v) {
  *(tok *)c = (tok){.type = T_BOOL, .v = v};
}
static void on_null(void *c) {
  *(tok *)c = (tok){.type = T_NULL};
}
static void on_indef(void *c) {
  *(tok *)c = (tok){.type = T_OTHER, .what = "an indefinite-length item"};
}
static void on_tag(void *c, uint64_t v) {
  (void)v;
  *(tok *)c = (tok){.type = T_OTHER, .what = "a tag"};
}
static void on_f2(void *c, float v) {
  (void)v;
  *(tok *)c = (tok){.type = T_OTHER, .what = "a float"};
}
static void on_f8(void *c, double v) {
  (void)v;
  *(tok *)c = (tok){.type = T_OTHER, .what = "a float"};
}
static void on_undef(void *c) {
  *(tok *)c = (tok){.type = T_OTHER, .what = "undefined"};
}

static const struct cbor_callbacks callbacks = {
    .uint8 = on_u8,
    .uint16 = on_u16,
    .uint32 = on_u32,
    .uint64 = on_u64,
    .negint8 = on_n8,
    .negint16 = on_n16,
    .negint32 = on_n32,
    .negint64 = on_n64,
    .byte_string_start = on_indef,
    .byte_string = on_bytes,
    .string = on_text,
    .string_start = on_indef,
    .indef_array_start = on_indef,
    .array_start = on_array,
    .indef_map_start = on_indef,
    .map_start = on_map,
    .tag = on_tag,
    .float2 = on_f2,
    .float4 = on_f2,
    .float8 = on_f8,
    .undefined = on_undef,
    .null = on_null,
    .boolean = on_bool,
    .indef_break = on_indef,
};

int st_jr_fail(st_jreader *r, size_t off, int code, const char *fmt, ...) {
  char why[ERRBUF_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (r->index == 0)
    return err_set(r->err, code, "journal: header, byte %zu: %s", off, why);
  return err_set(r->err, code, "journal: event %llu, byte %zu: %s",
                 (unsigned long long)r->index, off, why);
}

/* Reads one head (a whole string) at r->off. */
static int next(st_jreader *r, tok *t) {
  size_t at = r->off;
  if (at >= r->n)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "truncated: the item ends early");
  *t = (tok){.type = T_OTHER, .what = "an unknown item"};
  struct cbor_decoder_result res =
      cbor_stream_decode(r->p + at, r->n - at, &callbacks, t);
  if (res.status == CBOR_DECODER_NEDATA)
    return st_jr_fail(r, at, RATTAN_ECORRUPT,
                      "truncated: the item needs %zu bytes, %zu are left",
                      res.required, r->n - at);
  if (res.status != CBOR_DECODER_FINISHED || res.read == 0)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "malformed CBOR (byte 0x%02x)",
                      r->p[at]);
  r->off += res.read;
  if (t->type == T_OTHER)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "%s, which the format never uses",
                      t->what);
  /* Each element takes a byte at least: a count the bytes left cannot
   * hold is refused before anything loops on it. */
  uint64_t left = r->n - r->off;
  if ((t->type == T_ARRAY && t->v > left) ||
      (t->type == T_MAP && (t->v > left / 2)))
    return st_jr_fail(r, at, RATTAN_ECORRUPT,
                      "a count of %llu is larger than the %llu bytes left",
                      (unsigned long long)t->v, (unsigned long long)left);
  return 0;
}

/* Walks the item at r->off to its end without reading fields: nesting at
 * most DEPTH_MAX, and notes where its last top-level key starts. */
static int skim(st_jreader *r, size_t *end, size_t *last_key) {
  uint64_t todo[DEPTH_MAX + 1]; /* items left at each open level */
  int depth = 0;
  size_t save = r->off;
  tok t;
  todo[0] = 1;
  *last_key = 0;
  for (;;) {
    while (depth > 0 && todo[depth] == 0)
      depth--;
    if (depth == 0 && todo[0] == 0) break;
    if (depth == 1 && (todo[1] & 1) == 0 && r->top_map) *last_key = r->off;
    size_t at = r->off;
    int rc = next(r, &t);
    if (rc) return rc;
    todo[depth]--;
    if (t.type == T_ARRAY || t.type == T_MAP) {
      if (depth == DEPTH_MAX)
        return st_jr_fail(r, at, RATTAN_ECORRUPT,
                          "nested deeper than the format's %d levels",
                          DEPTH_MAX);
      if (depth == 0) r->top_map = t.type == T_MAP;
      todo[++depth] = t.type == T_MAP ? 2 * t.v : t.v;
    }
  }
  *end = r->off;
  r->off = save;
  return 0;
}

/* Starts an item: skims it and checks its checksum, which covers every
 * byte before its "crc" key. */
static int item_begin(st_jreader *r) {
  size_t end = 0, last_key = 0;
  r->item = r->off;
  r->top_map = 0;
  int rc = skim(r, &end, &last_key);
  if (rc) return rc;
  if (!r->top_map || !last_key)
    return st_jr_fail(r, r->item, RATTAN_ECORRUPT, "not a map with a checksum");
  /* The last key must be "crc" and its value the checksum. */
  st_jreader k = *r;
  k.off = last_key;
  tok key, val;
  if ((rc = next(&k, &key)) || (rc = next(&k, &val))) return rc;
  if (key.type != T_TEXT || key.len != 3 || memcmp(key.s, "crc", 3) ||
      val.type != T_UINT)
    return st_jr_fail(r, last_key, RATTAN_ECORRUPT,
                      "the item does not end with its \"crc\"");
  uint32_t want = crc32c(0, r->p + r->item, last_key - r->item);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  /* Fuzzers mutate past the checksum to reach the checks behind it; the
   * replay still refuses the item, which no longer re-encodes to its own
   * bytes. */
  want = (uint32_t)val.v;
#endif
  if (val.v != want)
    return st_jr_fail(r, last_key, RATTAN_ECORRUPT,
                      "checksum mismatch (stored %08llx, computed %08x)",
                      (unsigned long long)val.v, want);
  r->crc_at = last_key;
  r->end = end;
  return 0;
}

/* ---- Fields ---------------------------------------------------------------
 */

static int want(st_jreader *r, tok *t, int type, const char *what) {
  size_t at = r->off;
  int rc = next(r, t);
  if (rc) return rc;
  if (t->type != type)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "%s: expected %s, found %s", what,
                      tok_names[type], tok_names[t->type]);
  return 0;
}

static int key(st_jreader *r, const char *name) {
  size_t at = r->off;
  tok t;
  int rc = next(r, &t);
  if (rc) return rc;
  if (t.type != T_TEXT || t.len != strlen(name) || memcmp(t.s, name, t.len))
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "expected the key \"%s\" here",
                      name);
  return 0;
}

static int map_of(st_jreader *r, uint64_t lo, uint64_t hi, const char *what,
                  uint64_t *n) {
  size_t at = r->off;
  tok t;
  int rc = want(r, &t, T_MAP, what);
  if (rc) return rc;
  if (t.v < lo || t.v > hi)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "%s: %llu keys", what,
                      (unsigned long long)t.v);
  if (n) *n = t.v;
  return 0;
}

static int uint_field(st_jreader *r, const char *name, uint64_t max,
                      uint64_t *v) {
  tok t;
  size_t at;
  int rc = key(r, name);
  at = r->off;
  if (rc || (rc = want(r, &t, T_UINT, name))) return rc;
  if (t.v > max)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "%s: %llu is out of range", name,
                      (unsigned long long)t.v);
  *v = t.v;
  return 0;
}

static int u32_field(st_jreader *r, const char *name, uint32_t *v) {
  uint64_t x = 0;
  int rc = uint_field(r, name, UINT32_MAX, &x);
  if (!rc) *v = (uint32_t)x;
  return rc;
}

static int bool_field(st_jreader *r, const char *name, uint8_t *v) {
  tok t;
  int rc = key(r, name);
  if (rc || (rc = want(r, &t, T_BOOL, name))) return rc;
  *v = (uint8_t)t.v;
  return 0;
}

/* A time: an integer of microseconds, or null for none. */
static int time_field(st_jreader *r, const char *name, int64_t *v) {
  tok t;
  int rc = key(r, name);
  size_t at = r->off;
  if (rc || (rc = next(r, &t))) return rc;
  if (t.type == T_NULL) {
    *v = ST_NO_TIME;
  } else if (t.type == T_UINT && t.v <= INT64_MAX) {
    *v = (int64_t)t.v;
  } else if (t.type == T_NEG && t.v < (uint64_t)INT64_MAX) {
    *v = -1 - (int64_t)t.v;
  } else {
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "%s: not a time", name);
  }
  return 0;
}

static int text_field(st_jreader *r, const char *name, st_slice *v) {
  tok t;
  int rc = key(r, name);
  size_t at = r->off;
  if (rc || (rc = want(r, &t, T_TEXT, name))) return rc;
  if (!rt_utf8_valid(t.s, t.len))
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "%s: not UTF-8", name);
  *v = (st_slice){t.s, t.len};
  return 0;
}

/* Copies a text of at most max bytes without NULs into out; empty allowed
 * only when may_be_empty. */
static int copy_text(st_jreader *r, size_t at, const tok *t, const char *name,
                     char *out, size_t max, int may_be_empty) {
  if (t->len > max || (!t->len && !may_be_empty) || memchr(t->s, 0, t->len) ||
      !rt_utf8_valid(t->s, t->len))
    return st_jr_fail(r, at, RATTAN_ECORRUPT,
                      "%s: %s, or longer than %zu bytes, or not UTF-8", name,
                      may_be_empty ? "has a NUL" : "empty or has a NUL", max);
  memcpy(out, t->s, t->len);
  out[t->len] = '\0';
  return 0;
}

static int id_field(st_jreader *r, const char *name, char *out, size_t max,
                    int may_be_empty) {
  tok t;
  int rc = key(r, name);
  size_t at = r->off;
  if (rc || (rc = want(r, &t, T_TEXT, name))) return rc;
  return copy_text(r, at, &t, name, out, max, may_be_empty);
}

/* A state name (or, with null_ok, null: -1). */
static int state_field(st_jreader *r, const char *name, int null_ok, int *v) {
  tok t;
  int rc = key(r, name);
  size_t at = r->off;
  if (rc || (rc = next(r, &t))) return rc;
  if (null_ok && t.type == T_NULL) {
    *v = -1;
    return 0;
  }
  int s = t.type == T_TEXT ? st_state_parse(t.s, t.len) : -1;
  if (s < 0)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "%s: not a state name", name);
  *v = s;
  return 0;
}

/* ---- Items ----------------------------------------------------------------
 */

void st_jr_init(st_jreader *r, const void *p, size_t n, errbuf *err) {
  *r = (st_jreader){.p = p, .n = n, .err = err};
}

int st_jr_header(st_jreader *r, st_jheader *h) {
  r->index = 0;
  *h = (st_jheader){0};
  int rc = item_begin(r);
  if (rc) return rc;
  st_slice fmt;
  size_t at;
  uint64_t keys;
  if ((rc = map_of(r, 11, 12, "header", &keys)) ||
      (rc = text_field(r, "format", &fmt)))
    return rc;
  if (fmt.len != strlen(ST_JOURNAL_FORMAT) ||
      memcmp(fmt.ptr, ST_JOURNAL_FORMAT, fmt.len))
    return st_jr_fail(r, r->item, RATTAN_ECORRUPT,
                      "format \"%.*s\" is not \"" ST_JOURNAL_FORMAT "\"",
                      (int)(fmt.len > 40 ? 40 : fmt.len),
                      (const char *)fmt.ptr);
  at = r->off;
  if ((rc = uint_field(r, "version", UINT32_MAX, &h->version))) return rc;
  if (h->version != ST_JOURNAL_VERSION)
    return st_jr_fail(r, at, RATTAN_ECORRUPT,
                      "format version %llu is not one this library reads (%d)",
                      (unsigned long long)h->version, ST_JOURNAL_VERSION);
  if ((rc = text_field(r, "engine", &h->engine)) ||
      (rc = id_field(r, "task", h->task.id, ST_ID_MAX, 0)) ||
      (rc = id_field(r, "name", h->task.name, ST_NAME_MAX, 0)))
    return rc;
  h->root_at = r->off;
  if ((rc = id_field(r, "root", h->task.root, ST_ID_MAX, 0)) ||
      (rc = time_field(r, "created", &h->task.created)) ||
      (keys == 12 &&
       (rc = id_field(r, "project", h->task.project, ST_ID_MAX, 0))))
    return rc;
  at = r->off;
  if ((rc = time_field(r, "clock", &h->clock))) return rc;
  if (h->clock != h->task.created)
    return st_jr_fail(r, at, RATTAN_ECORRUPT,
                      "clock: not the creation time, as version 1 has it");
  if ((rc = uint_field(r, "events", UINT64_MAX, &h->events))) return rc;
  h->definition_at = r->off;
  if ((rc = text_field(r, "definition", &h->definition))) return rc;
  return st_jr_event_end(r);
}

int st_jr_event(st_jreader *r, st_jevent *ev) {
  *ev = (st_jevent){0};
  if (r->off >= r->n) return RATTAN_ENOTFOUND;
  r->index++;
  int rc = item_begin(r);
  if (rc) return rc;
  uint64_t n;
  tok t;
  if ((rc = map_of(r, 5, 6, "event", &n)) ||
      (rc = uint_field(r, "seq", UINT64_MAX, &ev->seq)) ||
      (rc = text_field(r, "kind", &ev->kind)) ||
      (rc = time_field(r, "at", &ev->at)))
    return rc;
  if (n == 6) {
    size_t at;
    if ((rc = key(r, "args"))) return rc;
    at = r->off;
    if ((rc = want(r, &t, T_MAP, "args"))) return rc;
    if (t.v == 0 || t.v > 16)
      return st_jr_fail(r, at, RATTAN_ECORRUPT, "args: %llu keys",
                        (unsigned long long)t.v);
    ev->n_args = (unsigned)t.v;
    size_t from = r->off;
    /* Arguments: texts, numbers, flags, or lists of texts. */
    for (unsigned i = 0; i < ev->n_args; i++) {
      at = r->off;
      if ((rc = want(r, &t, T_TEXT, "args key"))) return rc;
      at = r->off;
      if ((rc = next(r, &t))) return rc;
      if (t.type == T_ARRAY) {
        uint64_t m = t.v;
        for (uint64_t k = 0; k < m; k++)
          if ((rc = want(r, &t, T_TEXT, "args list"))) return rc;
      } else if (t.type != T_TEXT && t.type != T_UINT && t.type != T_BOOL) {
        return st_jr_fail(r, at, RATTAN_ECORRUPT, "args: a value is %s",
                          tok_names[t.type]);
      }
    }
    ev->args = (st_slice){r->p + from, r->off - from};
  }
  if ((rc = key(r, "changes"))) return rc;
  size_t at = r->off;
  if ((rc = want(r, &t, T_ARRAY, "changes"))) return rc;
  if (t.v == 0 || t.v > UINT32_MAX)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "changes: %llu of them",
                      (unsigned long long)t.v);
  ev->n_changes = (uint32_t)t.v;
  ev->bytes = (st_slice){r->p + r->item, r->end - r->item};
  return 0;
}

int st_jr_event_end(st_jreader *r) {
  if (r->off != r->crc_at)
    return st_jr_fail(r, r->off, RATTAN_ECORRUPT,
                      "unexpected fields before the \"crc\"");
  tok k, v;
  int rc;
  if ((rc = next(r, &k)) || (rc = next(r, &v))) return rc;
  return 0;
}

static int rec_fields(st_jreader *r, st_state *s) {
  int st = 0;
  uint64_t x = 0;
  int rc;
  *s = (st_state){0};
  if ((rc = map_of(r, 14, 14, "rec", NULL)) ||
      (rc = state_field(r, "state", 0, &st)) ||
      (rc = id_field(r, "version", s->version, ST_VERSION_LEN, 1)) ||
      (rc = u32_field(r, "loop", &s->loop)) ||
      (rc = u32_field(r, "inner_loop", &s->inner_loop)) ||
      (rc = u32_field(r, "retry", &s->retry)) ||
      (rc = bool_field(r, "skip", &s->skip)) ||
      (rc = bool_field(r, "error_ignored", &s->error_ignored)) ||
      (rc = id_field(r, "root_id", s->root_id, ST_ID_MAX, 1)) ||
      (rc = id_field(r, "parent_id", s->parent_id, ST_ID_MAX, 1)) ||
      (rc = time_field(r, "created", &s->created)) ||
      (rc = time_field(r, "started", &s->started)) ||
      (rc = time_field(r, "archived", &s->archived)) ||
      (rc = time_field(r, "refreshed", &s->refreshed)) ||
      (rc = uint_field(r, "seq", UINT32_MAX, &x)))
    return rc;
  s->state = (uint8_t)st;
  s->seq = (uint32_t)x;
  return 0;
}

static const char *const proc_status_names[] = {"run", "sleep", "suspend"};
static const struct {
  const char *name;
  int tag;
} data_tags[] = {{"exec", ST_DATA_EXEC},
                 {"context", ST_DATA_CONTEXT},
                 {"inputs", ST_DATA_INPUTS},
                 {"callbacks", ST_DATA_CALLBACKS}};

static int is_text(const tok *t, const char *s) {
  return t->type == T_TEXT && t->len == strlen(s) && !memcmp(t->s, s, t->len);
}

/* A value that may be null (a deletion): *present says which. */
static int null_or(st_jreader *r, const char *name, int *present) {
  st_jreader k = *r;
  tok t;
  int rc = key(r, name);
  if (rc) return rc;
  k.off = r->off;
  if ((rc = next(&k, &t))) return rc;
  *present = t.type != T_NULL;
  if (!*present) r->off = k.off;
  return 0;
}

static int proc_fields(st_jreader *r, st_jproc *p) {
  tok t;
  size_t at;
  uint64_t x;
  int rc;
  if ((rc = map_of(r, 8, 8, "process", NULL)) ||
      (rc = u32_field(r, "parent", &p->parent)) ||
      (rc = u32_field(r, "need_ack", &p->need_ack)) ||
      (rc = id_field(r, "cur", p->cur, ST_ID_MAX, 0)) || (rc = key(r, "dest")))
    return rc;
  at = r->off;
  if ((rc = next(r, &t))) return rc;
  if (t.type == T_NULL)
    p->dest[0] = '\0';
  else if (t.type != T_TEXT)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "dest: not an id or null");
  else if ((rc = copy_text(r, at, &t, "dest", p->dest, ST_ID_MAX, 0)))
    return rc;
  if ((rc = key(r, "status"))) return rc;
  at = r->off;
  if ((rc = want(r, &t, T_TEXT, "status"))) return rc;
  for (x = 0; x < 3 && !is_text(&t, proc_status_names[x]); x++)
    ;
  if (x == 3)
    return st_jr_fail(r, at, RATTAN_ECORRUPT,
                      "status: not run, sleep or "
                      "suspend");
  p->status = (uint8_t)x;
  if ((rc = bool_field(r, "inflight", &p->inflight)) || (rc = key(r, "stack")))
    return rc;
  at = r->off;
  if ((rc = want(r, &t, T_ARRAY, "stack"))) return rc;
  if (t.v == 0 || t.v > ST_STACK_MAX)
    return st_jr_fail(r, at, RATTAN_ECORRUPT, "stack: %llu pipelines",
                      (unsigned long long)t.v);
  p->depth = (uint8_t)t.v;
  for (unsigned i = 0; i < p->depth; i++) {
    at = r->off;
    if ((rc = want(r, &t, T_TEXT, "stack")) ||
        (rc = copy_text(r, at, &t, "stack", p->stack[i], ST_ID_MAX, 0)))
      return rc;
  }
  return id_field(r, "suspended_by", p->suspended_by, ST_ID_MAX, 1);
}

static int sched_fields(st_jreader *r, st_sched *s) {
  uint64_t type;
  int rc;
  *s = (st_sched){0};
  if ((rc = map_of(r, 7, 7, "schedule", NULL)) ||
      (rc = id_field(r, "version", s->version, ST_VERSION_LEN, 0)) ||
      (rc = uint_field(r, "type", RATTAN_SCHEDULE_MULTI_CALLBACK, &type)) ||
      (rc = u32_field(r, "pid", &s->pid)) ||
      (rc = u32_field(r, "times", &s->times)) ||
      (rc = u32_field(r, "pending", &s->pending)) ||
      (rc = time_field(r, "due", &s->due)) ||
      (rc = time_field(r, "deadline", &s->deadline)))
    return rc;
  s->type = (uint8_t)type;
  return 0;
}

int st_jr_change(st_jreader *r, st_jchange *c) {
  memset(c, 0, offsetof(st_jchange, proc));
  c->off = r->off;
  uint64_t n;
  tok t;
  int rc;
  if ((rc = map_of(r, 3, 7, "change", &n)) || (rc = key(r, "type"))) return rc;
  size_t at = r->off;
  if ((rc = want(r, &t, T_TEXT, "type"))) return rc;
  if (is_text(&t, "task") && (n == 5 || n == 6)) {
    c->type = ST_JC_TASK;
    if ((rc = id_field(r, "id", c->task.id, ST_ID_MAX, 0)) ||
        (rc = id_field(r, "name", c->task.name, ST_NAME_MAX, 0)) ||
        (rc = id_field(r, "root", c->task.root, ST_ID_MAX, 0)))
      return rc;
    if ((rc = time_field(r, "created", &c->task.created))) return rc;
    return n == 6 ? id_field(r, "project", c->task.project, ST_ID_MAX, 0) : 0;
  }
  if (is_text(&t, "state") && (n == 6 || n == 7)) {
    c->type = ST_JC_STATE;
    if ((rc = id_field(r, "node", c->node, ST_ID_MAX, 0)) ||
        (rc = text_field(r, "action", &c->action)) ||
        (rc = state_field(r, "from", 1, &c->from)) ||
        (rc = state_field(r, "to", 0, &c->to)) || (rc = key(r, "rec")) ||
        (rc = rec_fields(r, &c->rec)))
      return rc;
    if (c->to != c->rec.state)
      return st_jr_fail(r, c->off, RATTAN_ECORRUPT,
                        "node %s: \"to\" is not the record's state", c->node);
    if (n == 7) {
      c->has_note = 1;
      return text_field(r, "note", &c->note);
    }
    return 0;
  }
  if (is_text(&t, "history") && n == 4) {
    c->type = ST_JC_HISTORY;
    if ((rc = id_field(r, "node", c->node, ST_ID_MAX, 0)) ||
        (rc = u32_field(r, "index", &c->index)) || (rc = key(r, "rec")))
      return rc;
    return rec_fields(r, &c->rec);
  }
  if (is_text(&t, "data") && n == 4) {
    c->type = ST_JC_DATA;
    if ((rc = id_field(r, "node", c->node, ST_ID_MAX, 0)) ||
        (rc = key(r, "tag")))
      return rc;
    at = r->off;
    if ((rc = want(r, &t, T_TEXT, "tag"))) return rc;
    c->tag = -1;
    for (size_t i = 0; i < sizeof data_tags / sizeof *data_tags; i++)
      if (is_text(&t, data_tags[i].name)) c->tag = data_tags[i].tag;
    if (c->tag < 0) return st_jr_fail(r, at, RATTAN_ECORRUPT, "tag: unknown");
    if ((rc = null_or(r, "value", &c->present))) return rc;
    if (!c->present) return 0;
    at = r->off;
    if ((rc = want(r, &t, T_TEXT, "value"))) return rc;
    if (!rt_utf8_valid(t.s, t.len))
      return st_jr_fail(r, at, RATTAN_ECORRUPT, "value: not UTF-8");
    c->value = (st_slice){t.s, t.len};
    return 0;
  }
  if (is_text(&t, "proc") && n == 3) {
    c->type = ST_JC_PROC;
    if ((rc = u32_field(r, "pid", &c->pid)) ||
        (rc = null_or(r, "value", &c->present)))
      return rc;
    return c->present ? proc_fields(r, &c->proc) : 0;
  }
  if (is_text(&t, "sched") && n == 3) {
    c->type = ST_JC_SCHED;
    if ((rc = id_field(r, "node", c->node, ST_ID_MAX, 0)) ||
        (rc = null_or(r, "value", &c->present)))
      return rc;
    return c->present ? sched_fields(r, &c->sched) : 0;
  }
  return st_jr_fail(r, at, RATTAN_ECORRUPT,
                    "unknown change type \"%.*s\" with %llu keys",
                    (int)(t.type == T_TEXT && t.len < 32 ? t.len : 0),
                    t.type == T_TEXT ? t.s : "", (unsigned long long)n);
}
