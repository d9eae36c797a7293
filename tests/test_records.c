/* The state record codec: round trip, versioned fields, and hostile
 * bytes. */
#include "fixture.h"

static st_state sample(void) {
  st_state r = {.state = RATTAN_STATE_FAILED,
                .skip = 1,
                .error_ignored = 0,
                .loop = 3,
                .inner_loop = 70000,
                .retry = 4000000000u,
                .version = "v0123456789abcdef0123456789abcdef",
                .root_id = "root",
                .parent_id = "sub",
                .created = T0,
                .started = -5,
                .archived = ST_NO_TIME,
                .refreshed = T0 + 7,
                .seq = 70001};
  return r;
}

static void assert_equal(const st_state *a, const st_state *b) {
  ASSERT_EQ(a->state, b->state);
  ASSERT_EQ(a->skip, b->skip);
  ASSERT_EQ(a->error_ignored, b->error_ignored);
  ASSERT_EQ(a->loop, b->loop);
  ASSERT_EQ(a->inner_loop, b->inner_loop);
  ASSERT_EQ(a->retry, b->retry);
  ASSERT_STR(a->version, b->version);
  ASSERT_STR(a->root_id, b->root_id);
  ASSERT_STR(a->parent_id, b->parent_id);
  ASSERT_EQ(a->created, b->created);
  ASSERT_EQ(a->started, b->started);
  ASSERT_EQ(a->archived, b->archived);
  ASSERT_EQ(a->refreshed, b->refreshed);
  ASSERT_EQ(a->seq, b->seq);
}

void test_record_roundtrip(void) {
  st_state r = sample(), d;
  buf b = {0};
  errbuf err = {0};
  ASSERT_OK(st_state_encode(&r, &b), "encode");
  ASSERT_OK(st_state_decode(b.data, b.len, &d, &err), err.msg);
  assert_equal(&r, &d);
  buf_free(&b);
}

/* A newer record version appends fields; this reader skips them. */
void test_record_newer_fields_skipped(void) {
  st_state r = sample(), d;
  buf b = {0}, newer = {0};
  errbuf err = {0};
  ASSERT_OK(st_state_encode(&r, &b), "encode");
  ASSERT_EQ(b.data[0], 0x9f); /* fixarray of 15 */
  ASSERT_EQ(b.data[1], 2);    /* record version 2 */
  /* Version 3 with two more fields: array16 of 17. */
  ASSERT_OK(buf_append(&newer, "\xdc\x00\x11\x03", 4), "header");
  ASSERT_OK(buf_append(&newer, b.data + 2, b.len - 2), "fields");
  ASSERT_OK(buf_append(&newer, "\x81\xa1k\x92\x01\xc0\xa3xyz", 10), "append");
  ASSERT_OK(st_state_decode(newer.data, newer.len, &d, &err), err.msg);
  assert_equal(&r, &d);
  buf_free(&newer);
  buf_free(&b);
}

/* A version 1 record (13 fields) reads with no creation number and no
 * refresh time. */
void test_record_version1(void) {
  st_state r = sample(), d;
  buf b = {0};
  errbuf err = {0};
  ASSERT_OK(st_state_encode(&r, &b), "encode");
  b.data[0] = 0x9d; /* fixarray of 13 */
  b.data[1] = 1;
  /* Drop the last two fields: seq (uint32: 5 bytes) and refreshed (an
   * int64 of 9 bytes). */
  b.len -= 5 + 9;
  ASSERT_OK(st_state_decode(b.data, b.len, &d, &err), err.msg);
  r.seq = 0;
  r.refreshed = ST_NO_TIME;
  assert_equal(&r, &d);
  buf_free(&b);
}

void test_record_truncated_and_flipped(void) {
  st_state r = sample(), d;
  buf b = {0};
  errbuf err = {0};
  ASSERT_OK(st_state_encode(&r, &b), "encode");
  for (size_t n = 0; n < b.len; n++) {
    ASSERT_ERR(st_state_decode(b.data, n, &d, &err), RATTAN_ECORRUPT);
    ASSERT_CONTAINS(err.msg, "state record: corrupt");
  }
  /* Every single-bit flip decodes or is refused; none may crash. */
  int refused = 0;
  for (size_t i = 0; i < b.len; i++)
    for (int bit = 0; bit < 8; bit++) {
      b.data[i] ^= (uint8_t)(1 << bit);
      int rc = st_state_decode(b.data, b.len, &d, &err);
      ASSERT(rc == 0 || rc == RATTAN_ECORRUPT);
      refused += rc != 0;
      b.data[i] ^= (uint8_t)(1 << bit);
    }
  ASSERT(refused > 0);
  buf_free(&b);
}

void test_record_hostile_lengths(void) {
  static const struct {
    const char *bytes;
    size_t len;
    const char *msg;
  } cases[] = {
      {"\xdd\xff\xff\xff\xff", 5,
       "corrupt at byte 0: array count exceeds the bytes present"},
      {"\x9d\x01\x02\xdb\xff\xff\xff\xff\0\0\0\0\0\0\0\0\0\0", 18,
       "corrupt at byte 3: string length exceeds the bytes present"},
      {"\x9d\x01\x09\0\0\0\0\0\0\0\0\0\0\0", 14,
       "corrupt at byte 2: integer out of range"},
      {"\x93\x01\x02\x03", 4, "3 fields, expected 13"},
      {"\xc1", 1, "corrupt at byte 0: expected an array"},
      {"", 0, "truncated, expected an array"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    st_state d;
    errbuf err = {0};
    ASSERT_ERR(st_state_decode(cases[i].bytes, cases[i].len, &d, &err),
               RATTAN_ECORRUPT);
    ASSERT_CONTAINS(err.msg, cases[i].msg);
  }
  /* Trailing bytes after a whole record are refused too. */
  st_state r = sample(), d;
  buf b = {0};
  errbuf err = {0};
  ASSERT_OK(st_state_encode(&r, &b), "encode");
  ASSERT_OK(buf_append(&b, "\x00", 1), "append");
  ASSERT_ERR(st_state_decode(b.data, b.len, &d, &err), RATTAN_ECORRUPT);
  ASSERT_CONTAINS(err.msg, "trailing bytes");
  buf_free(&b);
}
