/* Status answers read back (see decode.h). */
#include "decode.h"

#include <cbor.h>
#include <ctype.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "store/mem.h"

/* Keys are set with their length: json_object_setn keeps NULs and long
 * keys intact. */
static json_t *from_msgpack(const msgpack_object *o) {
  json_t *r = NULL;
  switch (o->type) {
    case MSGPACK_OBJECT_NIL:
      return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
      return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
      return o->via.u64 > INT64_MAX ? NULL
                                    : json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
      return json_integer(o->via.i64);
    case MSGPACK_OBJECT_STR:
      return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
      r = json_array();
      for (uint32_t i = 0; r && i < o->via.array.size; i++) {
        json_t *v = from_msgpack(&o->via.array.ptr[i]);
        if (!v || json_array_append_new(r, v)) goto out_bad;
      }
      return r;
    case MSGPACK_OBJECT_MAP:
      r = json_object();
      for (uint32_t i = 0; r && i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR) goto out_bad;
        json_t *v = from_msgpack(&kv->val);
        if (!v || json_object_setn_new(r, kv->key.via.str.ptr,
                                       kv->key.via.str.size, v))
          goto out_bad;
      }
      return r;
    default:
      return NULL;
  }
out_bad:
  json_decref(r);
  return NULL;
}

json_t *fz_from_msgpack(const void *p, size_t n) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  json_t *j = NULL;
  if (msgpack_unpack_next(&u, p, n, &off) == MSGPACK_UNPACK_SUCCESS && off == n)
    j = from_msgpack(&u.data);
  msgpack_unpacked_destroy(&u);
  return j;
}

static json_t *from_cbor(cbor_item_t *it) {
  json_t *r = NULL;
  switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT:
      return cbor_get_int(it) > INT64_MAX
                 ? NULL
                 : json_integer((json_int_t)cbor_get_int(it));
    case CBOR_TYPE_NEGINT:
      return cbor_get_int(it) > INT64_MAX
                 ? NULL
                 : json_integer(-1 - (json_int_t)cbor_get_int(it));
    case CBOR_TYPE_STRING:
      if (!cbor_string_is_definite(it)) return NULL;
      return json_stringn((const char *)cbor_string_handle(it),
                          cbor_string_length(it));
    case CBOR_TYPE_MAP: {
      if (!cbor_map_is_definite(it)) return NULL;
      struct cbor_pair *p = cbor_map_handle(it);
      r = json_object();
      for (size_t i = 0; r && i < cbor_map_size(it); i++) {
        if (!cbor_isa_string(p[i].key) || !cbor_string_is_definite(p[i].key))
          goto out_bad;
        json_t *v = from_cbor(p[i].value);
        if (!v ||
            json_object_setn_new(r, (const char *)cbor_string_handle(p[i].key),
                                 cbor_string_length(p[i].key), v))
          goto out_bad;
      }
      return r;
    }
    case CBOR_TYPE_ARRAY:
      if (!cbor_array_is_definite(it)) return NULL;
      r = json_array();
      for (size_t i = 0; r && i < cbor_array_size(it); i++) {
        json_t *v = from_cbor(cbor_array_handle(it)[i]);
        if (!v || json_array_append_new(r, v)) goto out_bad;
      }
      return r;
    case CBOR_TYPE_FLOAT_CTRL:
      if (cbor_is_null(it)) return json_null();
      if (cbor_is_bool(it)) return json_boolean(cbor_get_bool(it));
      return NULL;
    default:
      return NULL;
  }
out_bad:
  json_decref(r);
  return NULL;
}

json_t *fz_from_cbor(const void *p, size_t n) {
  struct cbor_load_result res;
  cbor_item_t *it = cbor_load(p, n, &res);
  json_t *j = NULL;
  if (it && res.error.code == CBOR_ERR_NONE && res.read == n) j = from_cbor(it);
  if (it) cbor_decref(&it);
  return j;
}

/* jansson writes ", " and ": " as Python does, but its \u escapes are in
 * upper case where Python's are in lower case, and it leaves DEL (0x7f)
 * as it is where Python escapes everything outside ' ' to '~'. An escaped
 * backslash is skipped whole, so a backslash and a 'u' in the data stay
 * as they are. */
char *fz_python_dumps(const json_t *j) {
  char *raw =
      json_dumps(j, JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
  if (!raw) return NULL;
  size_t n = 0, dels = 0;
  for (; raw[n]; n++)
    dels += raw[n] == 0x7f;
  char *s = rt_malloc(n + 5 * dels + 1);
  if (!s) {
    rt_free(raw);
    return NULL;
  }
  char *o = s;
  for (size_t i = 0; i <= n; i++) {
    if (raw[i] == 0x7f) {
      memcpy(o, "\\u007f", 6);
      o += 6;
    } else {
      *o++ = raw[i];
    }
  }
  rt_free(raw);
  for (char *p = s; *p; p++) {
    if (*p != '\\') continue;
    if (p[1] == 'u') {
      for (int i = 2; i < 6; i++)
        p[i] = (char)tolower((unsigned char)p[i]);
      p += 5;
    } else {
      p++;
    }
  }
  return s;
}
