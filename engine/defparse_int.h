/* Shared by the definition parser's files only: defparse.c (bamboo trees,
 * pipelines, documents), defweb.c (SOPS web trees) and defresolve.c
 * (flows into edges). */
#ifndef RATTAN_DEFPARSE_INT_H
#define RATTAN_DEFPARSE_INT_H

#include <jansson.h>

#include "defparse.h"

#define PATH_MAX_LEN 4096 /* 16 nested levels of 64-byte ids fit */

typedef struct nodeinfo {
  json_t *obj;
  uint32_t path; /* offset in parser.paths */
} nodeinfo;

typedef struct flowinfo {
  json_t *obj;
  const char *id;
  uint32_t pipe;
  uint32_t path;
  int used;
} flowinfo;

typedef struct parser {
  builder b;
  diag *d;
  idmap ids;   /* every node and flow id -> its path offset */
  idmap nodes; /* node id -> node index */
  idmap flows; /* flow id -> flowinfo index */
  nodeinfo *ni;
  uint32_t cap_ni;
  flowinfo *fi;
  uint32_t n_fi, cap_fi;
  buf paths;                    /* NUL-terminated JSON paths */
  uint32_t *in_first, *in_list; /* see resolve() */
  json_t *templates;            /* an export's template map, or NULL */
  idmap reserved;      /* ids of every pipeline met so far, embedded or not */
  json_t *constants;   /* web constants of the pipeline being parsed */
  json_t *keep;        /* JSON made while parsing, freed with the parser */
  const char *root_id; /* for a root pipeline without an id (web trees) */
  uint32_t max_nodes;
  int too_many; /* the node limit was reported */
  int oom;
} parser;

/* ---- Paths and problems ------------------------------------------------- */

typedef struct path {
  char s[PATH_MAX_LEN];
  size_t len;
} path;

#define BAD(p, pth, ...) diag_add((p)->d, (pth), __VA_ARGS__)

/* Appends ".key" (or "key" at the start) / "[i]"; returns the previous
 * length for dp_pop. */
size_t dp_push(path *p, const char *key);
size_t dp_index(path *p, size_t i);
void dp_pop(path *p, size_t old);
/* pt + "." + key, in a static buffer overwritten by the next call. */
const char *dp_at(path *p, const char *key);
/* Keeps a path for later messages; its offset for dp_path_at. */
uint32_t dp_keep_path(parser *p, const char *s);
const char *dp_path_at(parser *p, uint32_t off);

/* ---- Field readers: each reports a wrong or missing field ------------- */

const char *dp_type(const json_t *v); /* "a string", "a list", ... */
const char *dp_str(parser *p, path *pt, json_t *obj, const char *key,
                   int required);
const char *dp_id(parser *p, path *pt, json_t *obj, const char *key);
int dp_bool(parser *p, path *pt, json_t *obj, const char *key, int required,
            int def);
json_t *dp_obj(parser *p, path *pt, json_t *obj, const char *key, int required);
/* v as compact JSON text in the pool. */
uint32_t dp_json(parser *p, json_t *v);

/* ---- SOPS web trees (defweb.c) ------------------------------------------ */

/* component.data -> inputs; returns the first var, *n the count. */
uint32_t dp_web_inputs(parser *p, path *pt, json_t *data, uint32_t *n);
/* A node's executor_proxy as its "__executor_proxy" input; returns the
 * inputs added (0 or 1). */
uint32_t dp_web_executor_proxy(parser *p, path *pt, json_t *node);
/* constants -> a pipeline's variables (is_sub: inside a subprocess). */
void dp_web_constants(parser *p, path *pt, json_t *constants, int is_sub,
                      uint32_t *first, uint32_t *n);
/* A SubProcess node's params from its merged constants; parent is the
 * constants of the pipeline holding node act. */
void dp_web_params(parser *p, path *pt, json_t *merged, json_t *parent,
                   const char *act, uint32_t *first, uint32_t *n);
/* A copy of a web tree with fresh ids derived from salt, kept in p->keep;
 * NULL when out of memory. */
json_t *dp_renamed_copy(parser *p, json_t *tree, const char *salt);
/* Reserves the node and flow ids of a tree (done for every pipeline as it
 * is entered), and tells whether a tree's ids collide with reserved ones:
 * a template embedded again, or sharing an id with what came before. */
void dp_reserve_ids(parser *p, json_t *tree);
/* The constants a SubProcess node's template runs with. */
json_t *dp_merge_constants(parser *p, path *pt, json_t *node, json_t *tree);
int dp_ids_collide(parser *p, json_t *tree);

/* ---- Pass 2 (defresolve.c) ---------------------------------------------- */

/* Flows into edges in listed order, conditions onto flows; fills
 * p->in_first / p->in_list. */
void dp_resolve(parser *p);

#endif
