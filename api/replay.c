/* Export and replay of task journals: rattan_export, rattan_replay. */
#include <string.h>

#include "api_int.h"

int rattan_export(rattan_engine *re, const char *task, void **out,
                  size_t *len) {
  if (!re) return RATTAN_EINVAL;
  if (!task || !out || !len)
    return err_set(&re->err, RATTAN_EINVAL, "rattan_export: missing argument");
  *out = NULL;
  *len = 0;
  buf b = {0};
  int rc = eng_export(re->e, task, &b, &re->err);
  if (rc) {
    buf_free(&b);
    return rc;
  }
  *out = b.data;
  *len = b.len;
  return 0;
}

void rattan_replay_options_init(rattan_replay_options *o) {
  *o = (rattan_replay_options){.struct_size = sizeof *o,
                               .until_us = RATTAN_NO_TIME};
}

int rattan_replay(rattan_engine *re, const void *journal, size_t len,
                  const rattan_replay_options *in, rattan_replay_result *res) {
  if (!re) return RATTAN_EINVAL;
  if (!journal && len)
    return err_set(&re->err, RATTAN_EINVAL, "rattan_replay: missing argument");
  rattan_replay_options o;
  rattan_replay_options_init(&o);
  if (in) {
    if (in->struct_size < offsetof(rattan_replay_options, max_events) ||
        in->struct_size > sizeof o)
      return err_set(&re->err, RATTAN_EINVAL,
                     "replay options: struct_size %zu (use "
                     "rattan_replay_options_init)",
                     in->struct_size);
    memcpy(&o, in, in->struct_size);
  }
  eng_replay_opts eo = {o.max_events, o.until_us};
  eng_replay_result er;
  int rc = eng_replay(re->e, journal ? journal : "", len, &eo, &er, &re->err);
  if (res) {
    /* A refused replay applied nothing, whatever it got through. */
    *res = (rattan_replay_result){
        .events = rc ? 0 : er.events, .total = er.total, .last_us = er.last_at};
    memcpy(res->task, er.task, sizeof res->task);
  }
  return rc;
}
