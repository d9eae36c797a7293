/*
 * Pipeline definitions: from JSON text to a validated, compiled st_def.
 *
 * Accepted inputs: a bamboo pipeline_tree; a SOPS web template tree
 * (constants, component.data, outputs; layout fields ignored); a SOPS
 * export envelope (pipeline_template_data.template.<id>.tree, subprocess
 * templates referenced by id). All three become the same model.
 *
 * Every problem is reported as "PATH: reason", PATH being the JSON path in
 * the input (activities.n3.outgoing); all problems are collected, not
 * only the first.
 */
#ifndef RATTAN_DEFPARSE_H
#define RATTAN_DEFPARSE_H

#include "defbuild.h"

/* Limits a definition must stay within. */
#define DEF_MAX_BYTES (64u << 20) /* document size */
#define DEF_MAX_DEPTH 16          /* subprocess nesting below the root */
#define DEF_MAX_NODES 200000      /* nodes, all pipelines together */

typedef struct def_options {
  /* Export envelopes holding several top-level templates: the one to
   * load (NULL: the only template no other one references). */
  const char *template_id;
  /* The root pipeline's id when the input has none (web trees); NULL
   * derives it from the template id, else "root". */
  const char *root_id;
  /* Exports without template_id: check every top-level template instead
   * of refusing the choice (validation only: nothing is compiled out). */
  int all_templates;
  /* Lower limits than the defaults (0: DEF_MAX_BYTES, DEF_MAX_NODES). */
  size_t max_bytes;
  uint32_t max_nodes;
} def_options;

/* Parses, validates and compiles len bytes of JSON at text into *out
 * (owned by the caller, freed with st_def_free). Returns 0, or
 * RATTAN_EDEF with every problem in d, or RATTAN_ENOMEM. *out is left
 * empty on failure. d must be zeroed by the caller and freed with
 * diag_free. If name is not NULL it receives the pipeline's name (the
 * template's name in an export, the tree's "name", else ""). */
int def_compile(const char *text, size_t len, const def_options *o, st_def *out,
                diag *d, char name[ST_NAME_MAX + 1]);

/* The definition as a bamboo pipeline_tree (a new jansson reference the
 * caller decrefs), or NULL when out of memory. Compiling its text gives
 * back an equal definition. */
struct json_t *def_to_json(const st_def *d);

/* "ServiceActivity" etc. */
const char *def_node_type_name(int type);

/* Checks a parsed graph (connections, reachability, gateways, streams)
 * and fills in converge gateways; problems go to d. Called by
 * def_compile. paths[i] is the JSON path of node i; node i's incoming
 * flows, in the order its "incoming" lists them, are
 * in_list[in_first[i] .. in_first[i + 1]). */
void def_check(st_def *def, const char *const *paths, const uint32_t *in_first,
               const uint32_t *in_list, diag *d);

#endif
