/*
 * rattan_open / rattan_close: options, the store directory, and the
 * per-process registry that keeps one directory from being opened twice
 * (LMDB drops its locks when a second handle on the same file closes).
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "api_int.h"

/* ---- Open directories ---------------------------------------------------- */

typedef struct open_dir open_dir; /* in api_int.h, inside the engine */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static open_dir *registry;

/* Claims (dev, ino) for this process; RATTAN_EBUSY if already claimed. */
static int claim(open_dir *d) {
  int rc = 0;
  pthread_mutex_lock(&registry_lock);
  for (open_dir *o = registry; o; o = o->next)
    if (o->dev == d->dev && o->ino == d->ino) rc = RATTAN_EBUSY;
  if (!rc) {
    d->next = registry;
    registry = d;
  }
  pthread_mutex_unlock(&registry_lock);
  return rc;
}

static void release(open_dir *d) {
  pthread_mutex_lock(&registry_lock);
  for (open_dir **p = &registry; *p; p = &(*p)->next)
    if (*p == d) {
      *p = d->next;
      break;
    }
  pthread_mutex_unlock(&registry_lock);
}

/* ---- Options --------------------------------------------------------------
 */

void rattan_options_init(rattan_options *o) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->durability = RATTAN_DURABILITY_SYNC;
  o->clock.kind = RATTAN_CLOCK_REAL;
}

/* The group fields, or 0 (the defaults) when the caller's struct ends
 * before them. */
#define GROUP_FIELD(o, f) \
  ((o)->struct_size >= offsetof(rattan_options, f) + sizeof(o)->f ? (o)->f : 0)

static int check_options(const rattan_options *o, errbuf *err) {
  /* Callers built against an older header pass a shorter struct, which
   * may end before the group fields. */
  if (o->struct_size <
          offsetof(rattan_options, rerun_limit) + sizeof o->rerun_limit ||
      o->struct_size > sizeof *o)
    return err_set(err, RATTAN_EINVAL,
                   "options.struct_size: %zu (use rattan_options_init)",
                   o->struct_size);
  if ((unsigned)o->durability > RATTAN_DURABILITY_GROUP)
    return err_set(err, RATTAN_EINVAL, "options.durability: unknown value %d",
                   (int)o->durability);
  if ((unsigned)o->clock.kind > RATTAN_CLOCK_HOOK)
    return err_set(err, RATTAN_EINVAL, "options.clock.kind: unknown value %d",
                   (int)o->clock.kind);
  if (o->clock.kind == RATTAN_CLOCK_HOOK && !o->clock.now_us)
    return err_set(err, RATTAN_EINVAL,
                   "options.clock.now_us: required by RATTAN_CLOCK_HOOK");
  if (o->map_size_max && o->map_size > o->map_size_max)
    return err_set(err, RATTAN_EINVAL,
                   "options.map_size: %zu is above map_size_max %zu",
                   o->map_size, o->map_size_max);
  return 0;
}

/* ---- Open and close ------------------------------------------------------ */

static int open_engine(rattan_engine *re, const char *dir,
                       const rattan_options *o, errbuf *err) {
  int rc = check_options(o, err);
  if (rc) return rc;
  if (mkdir(dir, 0700) && errno != EEXIST)
    return err_set(err, errno == EACCES ? RATTAN_EACCES : RATTAN_EIO,
                   "store %s: cannot create directory: %s", dir,
                   strerror(errno));
  struct stat sb;
  if (stat(dir, &sb))
    return err_set(err, RATTAN_EIO, "store %s: %s", dir, strerror(errno));
  if (!S_ISDIR(sb.st_mode))
    return err_set(err, RATTAN_EINVAL, "store %s: not a directory", dir);
  re->dir = (open_dir){.dev = sb.st_dev, .ino = sb.st_ino};
  if (claim(&re->dir))
    return err_set(err, RATTAN_EBUSY, "store %s: already open in this process",
                   dir);
  eng_config cfg = {
      .store = {.nosync = o->durability == RATTAN_DURABILITY_NOSYNC,
                .map_size = o->map_size,
                .map_size_max = o->map_size_max},
      .clock = o->clock,
      .has_seed = o->has_seed,
      .seed = o->seed,
      .rerun_limit = o->rerun_limit,
      .group = o->durability == RATTAN_DURABILITY_GROUP,
      .group_window_us = GROUP_FIELD(o, group_window_us),
      .group_max = GROUP_FIELD(o, group_max),
  };
  if ((rc = eng_open(&re->e, dir, &cfg, err))) release(&re->dir);
  return rc;
}

int rattan_open(const char *dir, const rattan_options *opts,
                rattan_engine **out, char *errmsg, size_t errmsg_len) {
  errbuf err = {0};
  rattan_options defaults;
  int rc;
  if (out) *out = NULL;
  if (!out || !dir || !*dir) {
    rc = err_set(&err, RATTAN_EINVAL, "rattan_open: %s is required",
                 !out ? "out" : "dir");
    goto out_report;
  }
  if (!opts) {
    rattan_options_init(&defaults);
    opts = &defaults;
  }
  rattan_engine *re = rt_malloc(sizeof *re);
  if (!re) {
    rc = err_set(&err, RATTAN_ENOMEM, "store %s: out of memory", dir);
    goto out_report;
  }
  *re = (rattan_engine){0};
  if ((rc = open_engine(re, dir, opts, &err))) {
    rt_free(re);
    goto out_report;
  }
  *out = re;
  return 0;

out_report:
  if (errmsg && errmsg_len) snprintf(errmsg, errmsg_len, "%s", err.msg);
  return rc;
}

void rattan_close(rattan_engine *re) {
  if (!re) return;
  eng_close(re->e);
  release(&re->dir);
  rt_free(re);
}

const char *rattan_errmsg(const rattan_engine *re) {
  return re ? re->err.msg : "";
}

int64_t rattan_now(rattan_engine *re) {
  return eng_now(re->e);
}
