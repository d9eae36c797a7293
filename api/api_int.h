/* Shared by the api's own files only. */
#ifndef RATTAN_API_INT_H
#define RATTAN_API_INT_H

#include <sys/types.h>

#include "engine/defparse.h"
#include "engine/engine.h"
#include "engine/expr.h"
#include "store/cbw.h"
#include "rattan.h"

struct rattan_engine {
  eng *e;
  errbuf err; /* the last failing call's report */
  struct open_dir {
    dev_t dev;
    ino_t ino;
    struct open_dir *next;
  } dir;
};

#endif
