/*
 * The sequence fuzz target's pipelines and its reference model.
 *
 * md_graph describes one small pipeline; fuzz/sequence.c writes it as a
 * bamboo pipeline_tree and runs it on the engine, and md_model predicts,
 * step by step, the node records the engine must hold. The model is
 * written from the documented semantics (README "Running tasks",
 * JOURNAL.md's rules, bamboo's classic line) and shares no code with
 * engine/: where the two disagree, one of them is wrong.
 *
 * What the model understands: start and end events, activities whose
 * components finish at once or wait for one callback, parallel,
 * exclusive and conditional parallel gateways with their converge
 * gateways, cycles through exclusive gateways (re-entry and the rerun
 * limit), a subprocess (one level, entered with the graph's param),
 * inputs given with a retry, every operation. Graphs with polling
 * components or timeouts (whose outcome depends on the clock) leave it
 * unknown: md_expect then predicts nothing.
 */
#ifndef RATTAN_FUZZ_MODEL_H
#define RATTAN_FUZZ_MODEL_H

#include <stddef.h>

#define MD_NODES 16 /* nodes of a graph, the root pipeline excluded */
#define MD_OUT   3  /* outgoing flows of a gateway */
#define MD_VARS  2
#define MD_PROCS 8

enum md_kind {
  MD_START,
  MD_END,
  MD_ACT,
  MD_SUB, /* a SubProcess node; its pipeline's nodes name it as pipe */
  MD_PARALLEL,
  MD_EXCLUSIVE,
  MD_CONDPAR,
  MD_CONVERGE
};

/* How an activity's component behaves (sequence.c registers them):
 * PLAIN finishes in execute; MISSING is not registered, so the node
 * fails without outputs of its own; CALLBACK waits for one callback;
 * POLL polls every second (or after v / 2 seconds) until the script
 * lets it finish. */
enum md_comp { MD_PLAIN, MD_MISSING, MD_CALLBACK, MD_POLL };

/* A gateway flow's condition: var's value in [lo, hi]. var < 0: none
 * (the default flow). */
typedef struct md_cond {
  int var, lo, hi;
} md_cond;

typedef struct md_node {
  char id[8];
  int kind;
  int pipe; /* the SubProcess node whose pipeline holds it, -1: the root */
  int n_out;
  int out[MD_OUT];  /* targets, in the order of the node's outgoing list */
  int flow[MD_OUT]; /* flow numbers: flow k has id "f<k>" */
  md_cond cond[MD_OUT];
  int dflt;     /* the default flow's position in out, or -1 */
  int converge; /* parallel and conditional parallel gateways */
  int comp;     /* activities: enum md_comp */
  int timeout;  /* activities: seconds, 0 for none */
  int ignorable;
  int locked;     /* activities: neither retryable nor skippable */
  int start, end; /* MD_SUB: its pipeline's events */
} md_node;

/* A context variable "${name}" of the root pipeline, taken from output
 * key of activity src. */
typedef struct md_var {
  char name[8];
  int src;
  const char *key;
} md_var;

typedef struct md_graph {
  char root[8];
  int start, end; /* the root pipeline's events */
  md_node n[MD_NODES];
  int count;
  int n_flows;
  md_var var[MD_VARS];
  int n_vars;
  unsigned rerun_limit; /* 0: the default, 100 */
} md_graph;

/* What the script told a node's component: the model reads the same
 * table the components do, at the same moments. */
typedef struct md_fate {
  int fail;      /* execute and schedule runs fail */
  int value;     /* the output "v" */
  int poll_done; /* the next poll run finishes (and clears it) */
} md_fate;

/* Operations, as the public API names them. */
enum md_op {
  MD_OP_START,
  MD_OP_PAUSE,
  MD_OP_RESUME,
  MD_OP_REVOKE,
  MD_OP_RETRY,
  MD_OP_SKIP,
  MD_OP_SKIP_EXG,
  MD_OP_SKIP_CPG,
  MD_OP_NODE_PAUSE,
  MD_OP_NODE_RESUME,
  MD_OP_SUB_PAUSE,
  MD_OP_SUB_RESUME,
  MD_OP_SUB_RETRY,
  MD_OP_FORCED_FAIL,
  MD_OP_CALLBACK
};

enum { MD_VER_NONE, MD_VER_CURRENT, MD_VER_STALE };

/* A retry's inputs: none (the stored ones are kept), the object
 * {"k": "${10 // (x - 1)}"} (stored; it fails the node's runs while
 * x = 1), or text that is no JSON object. */
enum { MD_INPUTS_NONE, MD_INPUTS_OBJECT, MD_INPUTS_BAD };

/* An operation's arguments beyond the node. Flows are positions in the
 * node's outgoing list; -1 is a flow the node does not have. */
typedef struct md_args {
  int flows[MD_OUT + 1];
  int n_flows;  /* skip_exg: always 1 */
  int version;  /* callback: MD_VER_* */
  int ok;       /* callback: the data says success */
  int bad_data; /* callback: the data is no JSON */
  int inputs;   /* retry: MD_INPUTS_* */
} md_args;

/* A node's record as the model sees it: the fields a status answer
 * shows. */
typedef struct md_rec {
  int state; /* rattan_state; RATTAN_STATE_CREATED: no record */
  unsigned loop, retry;
  int skip, ignored;
} md_rec;

typedef struct md_proc {
  unsigned id, parent, need_ack;
  int cur, dest; /* node indices; dest -1: none */
  int sub;       /* the SubProcess it is inside, or -1 */
  int status;    /* MD_RUN, MD_SLEEP, MD_SUSPEND */
  int by;        /* who suspended it: a node index or MD_NODES (the root) */
} md_proc;

typedef struct md_sched {
  int live;
  unsigned ver, pid;
  int pending, ok;
} md_sched;

typedef struct md_model {
  const md_graph *g;
  const md_fate *fate;
  int known;
  /* Records by node index; index MD_NODES is the root pipeline. ver
   * counts the versions a record had, for stale schedules. */
  md_rec rec[MD_NODES + 1];
  unsigned ver[MD_NODES + 1];
  md_proc proc[MD_PROCS];
  int n_proc;
  md_sched sched[MD_NODES];
  int inputs[MD_NODES]; /* a retry stored the inputs object */
  int var_set[MD_VARS], var_val[MD_VARS];
} md_model;

/* Starts the model of a created task of g, whose components follow fate
 * (fate[i] for node i; both must outlive the model). */
void md_init(md_model *m, const md_graph *g, const md_fate *fate);

/* The outcome the engine must give operation op on node (an index, or
 * -1 for an id the task does not have; ignored by task operations):
 * RATTAN_OK or the refusal's code. Applies an accepted one. Returns 1
 * when the model is unknown. */
int md_operate(md_model *m, int op, int node, const md_args *a);

/* Takes the steps rattan_drive(task, budget) takes (budget > 0) and
 * returns how many, or -1 when the model is unknown. */
int md_drive(md_model *m, unsigned budget);

/* The record node (an index, or MD_NODES for the root pipeline) must
 * have. Returns 0 when the model is unknown. */
int md_expect(const md_model *m, int node, md_rec *out);

#endif
