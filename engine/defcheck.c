/*
 * Graph rules for a parsed definition, pipeline by pipeline, after
 * bamboo-engine's validator (bamboo_engine/validator: rules.py,
 * connection.py, gateway.py):
 *
 *   1. connections: in / out degree per node type and the types each may
 *      lead to (every node is checked and every problem reported; bamboo
 *      stops at the first node and skips nodes without targets);
 *   2. every node must reach the end event: cycles are allowed (SOPS
 *      always validates with cycle_tolerate), but a cycle with no gateway
 *      exit would never end;
 *   3. gateways: each gateway's converge gateway is found with bamboo's
 *      block matching (match_converge), which also refuses parallel
 *      gateways whose branches do not converge and exclusive gateways
 *      inside a parallel branch that do not converge;
 *   4. streams: every node belongs to exactly one stream (the main line or
 *      one parallel branch), so branches never meet outside their
 *      converge gateway and no node is isolated.
 * A pipeline with connection problems skips 3 and 4, which assume sound
 * connections; gateway matching stops at its first problem, as bamboo's
 * does.
 */
#include <stdlib.h>
#include <string.h>

#include "defparse.h"

#define NONE       ST_NONE
#define MAX_IN_OUT 1000 /* bamboo's MAX_IN and MAX_OUT */
#define MAX_NESTING                                    \
  1000 /* gateway recursion: Python's own limit, where \
          bamboo itself would fail */
#define MAIN_STREAM 0

/* A node's streams: at most two are kept, enough to see "more than one". */
typedef struct streams {
  uint8_t n;
  uint64_t s[2];
} streams;

typedef struct check {
  st_def *d;
  const char *const *paths;
  const uint32_t *in_first, *in_list; /* incoming flows in listed order */
  diag *diag;
  uint32_t pipe;
  uint32_t end; /* the pipeline's end event */
  int failed;   /* a gateway problem: stop matching this pipeline */
  /* Per node. */
  uint32_t *tfirst, *tn; /* gateway targets: tgt[tfirst .. + tn] */
  uint32_t *tgt;
  int64_t *dist;       /* distance from the start, -1 when unknown */
  uint32_t *stamp;     /* distance_from's visited set */
  uint32_t *match;     /* a gateway's converge, NONE while unmatched */
  uint8_t *shared;     /* its converge is shared */
  uint32_t *block;     /* the first block that holds the node */
  uint8_t *multi;      /* held by more than one block */
  uint32_t *conv_n;    /* converges: gateways matched to it */
  uint32_t *conv_npar; /*   of which parallel ones */
  uint32_t *pos_in;    /* converges: incoming from nearer the start */
  uint32_t *stack;     /* match_converge's gateway stack */
  streams *st;         /* per node: its streams */
  uint32_t *pconv;     /* per node: the parallel gateway it converges */
  uint32_t *after;     /* activities: the first non-activity after them */
  uint32_t depth;
  uint32_t call;
} check;

static int is_gw(const st_def_node *n) {
  return n->type == ST_EXCLUSIVE_GW || n->type == ST_PARALLEL_GW ||
         n->type == ST_COND_PARALLEL_GW;
}
static int is_parallel(const st_def_node *n) {
  return n->type == ST_PARALLEL_GW || n->type == ST_COND_PARALLEL_GW;
}
static int is_conv(const st_def_node *n) {
  return n->type == ST_CONVERGE_GW;
}

/* ---- 1. Connections -------------------------------------------------------
 */

typedef struct rule {
  uint32_t min_in, max_in, min_out, max_out;
  unsigned allowed_out; /* node type bits */
} rule;

#define T(x) (1u << (x))
#define WITHOUT_START_AND_END                                      \
  (T(ST_SERVICE_ACTIVITY) | T(ST_SUBPROCESS) | T(ST_PARALLEL_GW) | \
   T(ST_COND_PARALLEL_GW) | T(ST_EXCLUSIVE_GW) | T(ST_CONVERGE_GW))
#define WITHOUT_START \
  (WITHOUT_START_AND_END | T(ST_EMPTY_END) | T(ST_EXECUTABLE_END))

static const rule rules[ST_NODE_TYPES] = {
    [ST_EMPTY_START] = {0, 0, 1, 1, WITHOUT_START_AND_END},
    [ST_EMPTY_END] = {1, MAX_IN_OUT, 0, 0, 0},
    [ST_EXECUTABLE_END] = {1, MAX_IN_OUT, 0, 0, 0},
    [ST_SERVICE_ACTIVITY] = {1, MAX_IN_OUT, 1, 1, WITHOUT_START},
    [ST_SUBPROCESS] = {1, MAX_IN_OUT, 1, 1, WITHOUT_START},
    [ST_EXCLUSIVE_GW] = {1, MAX_IN_OUT, 1, MAX_IN_OUT, WITHOUT_START},
    [ST_PARALLEL_GW] = {1, MAX_IN_OUT, 1, MAX_IN_OUT, WITHOUT_START},
    [ST_COND_PARALLEL_GW] = {1, MAX_IN_OUT, 1, MAX_IN_OUT, WITHOUT_START},
    [ST_CONVERGE_GW] = {1, MAX_IN_OUT, 1, 1, WITHOUT_START},
};

static void degree_problem(check *c, uint32_t i, const char *what, uint32_t n,
                           uint32_t lo, uint32_t hi) {
  const char *type = def_node_type_name(c->d->nodes[i].type);
  if (lo == hi)
    diag_add(c->diag, c->paths[i], "a %s must have %u %s flow%s, it has %u",
             type, lo, what, lo == 1 ? "" : "s", n);
  else
    diag_add(c->diag, c->paths[i],
             "a %s must have %u to %u %s flows, it has %u", type, lo, hi, what,
             n);
}

static int check_connections(check *c, const uint32_t *nodes, uint32_t n) {
  unsigned before = c->diag->count;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = nodes[k];
    const st_def_node *nd = &c->d->nodes[i];
    const rule *r = &rules[nd->type];
    if (nd->n_in < r->min_in || nd->n_in > r->max_in)
      degree_problem(c, i, "incoming", nd->n_in, r->min_in, r->max_in);
    if (nd->n_out < r->min_out || nd->n_out > r->max_out)
      degree_problem(c, i, "outgoing", nd->n_out, r->min_out, r->max_out);
    for (uint32_t f = nd->out; f < nd->out + nd->n_out; f++) {
      uint32_t t = c->d->flows[f].target;
      if (!(r->allowed_out & T(c->d->nodes[t].type)))
        diag_add(c->diag, c->paths[i], "a %s cannot lead to a %s (flow \"%s\")",
                 def_node_type_name(nd->type),
                 def_node_type_name(c->d->nodes[t].type),
                 c->d->pool + c->d->flows[f].id);
    }
  }
  return c->diag->count == before;
}

/* ---- 2. Every node reaches the end ----------------------------------------
 */

static int check_reach_end(check *c, const uint32_t *nodes, uint32_t n,
                           uint32_t *queue) {
  /* Backwards from the end event over incoming flows; stamp marks seen. */
  uint32_t mark = ++c->call, head = 0, tail = 0;
  queue[tail++] = c->end;
  c->stamp[c->end] = mark;
  while (head < tail) {
    uint32_t v = queue[head++];
    for (uint32_t k = c->in_first[v]; k < c->in_first[v + 1]; k++) {
      uint32_t s = c->d->flows[c->in_list[k]].source;
      if (c->stamp[s] != mark) {
        c->stamp[s] = mark;
        queue[tail++] = s;
      }
    }
  }
  int ok = 1;
  for (uint32_t k = 0; k < n; k++)
    if (c->stamp[nodes[k]] != mark) {
      diag_add(c->diag, c->paths[nodes[k]],
               "cannot reach the end event: it is on a cycle with no "
               "gateway exit");
      ok = 0;
    }
  return ok;
}

/* ---- 3. Gateways ----------------------------------------------------------
 */

/* bamboo's distance_from: the longest distance from the start over
 * incoming flows, not following a node twice in one call, memoised in
 * dist across calls. Iterative, so long chains cannot exhaust the stack;
 * frames follow the recursion exactly, so the results (which depend on
 * the order cycles are cut) are bamboo's. */
typedef struct dframe {
  uint32_t node, k;
  int64_t best;
} dframe;

static int64_t distance_from(check *c, uint32_t start, uint32_t node,
                             dframe *fr) {
  if (c->dist[node] >= 0) return c->dist[node];
  if (node == start) return 0;
  uint32_t mark = ++c->call, top = 0;
  fr[top++] = (dframe){node, c->in_first[node], -1};
  c->stamp[node] = mark;
  for (;;) {
    dframe *f = &fr[top - 1];
    if (f->k < c->in_first[f->node + 1]) {
      uint32_t prev = c->d->flows[c->in_list[f->k++]].source;
      int64_t r;
      if (c->dist[prev] >= 0)
        r = c->dist[prev];
      else if (prev == start)
        r = 0;
      else if (c->stamp[prev] == mark)
        r = -1;
      else {
        c->stamp[prev] = mark;
        fr[top++] = (dframe){prev, c->in_first[prev], -1};
        continue;
      }
      if (r >= 0 && r + 1 > f->best) f->best = r + 1;
      continue;
    }
    int64_t r = f->best;
    if (r >= 0) c->dist[f->node] = r;
    if (--top == 0) return r;
    if (r >= 0 && r + 1 > fr[top - 1].best) fr[top - 1].best = r + 1;
  }
}

static void gw_problem(check *c, uint32_t node, const char *reason) {
  if (!c->failed) diag_add(c->diag, c->paths[node], "%s", reason);
  c->failed = 1;
}

/* True if no parallel gateway is on the stack from position `from` up. */
static int no_parallel_from(const check *c, uint32_t from) {
  for (uint32_t k = from; k < c->depth; k++)
    if (is_parallel(&c->d->nodes[c->stack[k]])) return 0;
  return 1;
}

static int in_other_block(const check *c, uint32_t n, uint32_t block) {
  return c->multi[n] || (c->block[n] != NONE && c->block[n] != block);
}

static void add_to_block(check *c, uint32_t n, uint32_t block) {
  if (c->block[n] == NONE)
    c->block[n] = block;
  else if (c->block[n] != block)
    c->multi[n] = 1;
}

/* can_shared: an exclusive gateway may share any converge; a parallel one
 * only a converge no other parallel gateway converges at. */
static int can_share(const check *c, uint32_t cur, uint32_t conv) {
  return !is_parallel(&c->d->nodes[cur]) || c->conv_npar[conv] == 0;
}

/* bamboo's match_converge for gateway cur within block `block`; returns
 * its converge gateway (NONE if none) and sets *shared. */
static uint32_t match_converge(check *c, uint32_t cur, uint32_t block,
                               int *shared) {
  const st_def_node *g = &c->d->nodes[cur];
  *shared = 0;
  if (c->failed || !is_gw(g)) return NONE;
  if (c->match[cur] != NONE) {
    *shared = c->shared[cur];
    return c->match[cur];
  }
  if (c->depth >= MAX_NESTING) {
    gw_problem(c, cur, "gateways nested too deeply");
    return NONE;
  }
  c->stack[c->depth++] = cur;
  uint32_t depth_here = c->depth; /* the stack as the id set sees it */
  uint32_t *t = c->tgt + c->tfirst[cur];
  uint32_t n = c->tn[cur];
  for (uint32_t i = 0; i < n && !c->failed; i++) {
    /* A gateway matched before (visited again from another branch or as
     * its own block) holds NONE for branches that led back. */
    if (t[i] == NONE) continue;
    if (in_other_block(c, t[i], block)) {
      t[i] = NONE;
      continue;
    }
    add_to_block(c, t[i], block);
    while (t[i] != NONE && is_gw(&c->d->nodes[t[i]]) && t[i] != cur) {
      uint32_t at = 0;
      while (at < depth_here && c->stack[at] != t[i])
        at++;
      if (at < depth_here) {
        /* Back to a gateway on the stack: a loop. Fine unless a parallel
         * gateway lies between. */
        if (no_parallel_from(c, at)) {
          t[i] = NONE;
          break;
        }
        gw_problem(c, cur,
                   "an exclusive gateway inside a parallel branch must "
                   "converge all its branches at one converge gateway");
        break;
      }
      int sh;
      uint32_t conv = match_converge(c, t[i], block, &sh);
      if (c->failed) break;
      if (conv != NONE) {
        t[i] = conv;
        if (!sh || !can_share(c, cur, conv))
          t[i] = c->tgt[c->tfirst[conv]]; /* past that converge */
      } else {
        t[i] = c->end; /* this branch reaches the end event directly */
      }
    }
    if (t[i] != NONE && is_conv(&c->d->nodes[t[i]]) &&
        c->dist[t[i]] < c->dist[cur])
      t[i] = NONE; /* an earlier converge: not ours */
  }
  c->depth--;
  if (c->failed) return NONE;

  int exg = g->type == ST_EXCLUSIVE_GW;
  uint32_t conv = NONE, to_converge = n;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t x = t[i];
    int x_conv = x != NONE && is_conv(&c->d->nodes[x]);
    if (x_conv && conv == NONE) {
      conv = x;
    } else if (x_conv && x == conv) {
    } else if (exg && x == c->end) {
      if (!no_parallel_from(c, 0)) {
        gw_problem(c, cur,
                   "an exclusive gateway inside a parallel branch must "
                   "converge all its branches at one converge gateway");
        return NONE;
      }
    } else if (exg && (x == cur || x == NONE)) {
      to_converge--; /* loops back: not a converging branch */
    } else if (exg && x_conv) {
      gw_problem(c, cur,
                 "all branches of an exclusive gateway must first meet the "
                 "same converge gateway");
      return NONE;
    } else {
      gw_problem(c, cur,
                 exg ? "invalid gateway: a branch neither converges, ends "
                       "nor loops back"
                     : "every branch of a parallel gateway must reach its "
                       "converge gateway");
      return NONE;
    }
  }
  int sh = 0;
  if (exg) {
    if (conv != NONE) sh = c->pos_in[conv] > to_converge || c->conv_n[conv];
  } else {
    uint32_t conv_in = c->d->nodes[conv].n_in;
    if (conv_in > n) {
      if (c->conv_npar[conv]) {
        gw_problem(c, conv,
                   "a converge gateway may only converge the branches of "
                   "one parallel gateway");
        return NONE;
      }
      sh = 1;
    } else if (conv_in < n) {
      gw_problem(c, conv,
                 "the converge gateway does not converge every branch of "
                 "its parallel gateway");
      return NONE;
    }
  }
  c->match[cur] = conv;
  c->shared[cur] = (uint8_t)sh;
  if (conv != NONE) {
    c->conv_n[conv]++;
    if (!exg) c->conv_npar[conv]++;
  }
  add_to_block(c, cur, block);
  *shared = sh;
  return conv;
}

static int cmp_dist_ctx_sort(const void *a, const void *b, void *ctx) {
  const check *c = ctx;
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  if (c->dist[x] != c->dist[y]) return c->dist[x] < c->dist[y] ? -1 : 1;
  return x < y ? -1 : x > y; /* document order for ties (a stable sort) */
}

static int is_activity(const st_def_node *n) {
  return n->type == ST_SERVICE_ACTIVITY || n->type == ST_SUBPROCESS;
}

/* The first node at or after x that is not an activity. Memoised in
 * c->after for every activity passed, so chains shared by many branches
 * are walked once. Activity-only cycles were refused before. */
static uint32_t past_activities(check *c, uint32_t x) {
  uint32_t y = x;
  while (is_activity(&c->d->nodes[y]) && c->after[y] == NONE)
    y = c->d->flows[c->d->nodes[y].out].target;
  if (is_activity(&c->d->nodes[y])) y = c->after[y];
  while (x != y && is_activity(&c->d->nodes[x]) && c->after[x] == NONE) {
    c->after[x] = y;
    x = c->d->flows[c->d->nodes[x].out].target;
  }
  return y;
}

static int check_gateways(check *c, const uint32_t *nodes, uint32_t n,
                          uint32_t *order, dframe *fr) {
  const st_def_pipe *p = &c->d->pipes[c->pipe];
  uint32_t n_order = 0;
  /* Targets: the first node past any activities on each branch. */
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = nodes[k];
    const st_def_node *g = &c->d->nodes[i];
    if (!is_gw(g) && !is_conv(g)) continue;
    for (uint32_t f = 0; f < g->n_out; f++)
      c->tgt[c->tfirst[i] + f] =
          past_activities(c, c->d->flows[g->out + f].target);
    if (distance_from(c, p->start, i, fr) <= 0) {
      diag_add(c->diag, c->paths[i], "not reachable from the start event");
      return 0;
    }
    if (is_gw(g)) order[n_order++] = i;
  }
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = nodes[k];
    if (!is_gw(&c->d->nodes[i]) && !is_conv(&c->d->nodes[i])) continue;
    for (uint32_t f = 0; f < c->tn[i]; f++) {
      uint32_t x = c->tgt[c->tfirst[i] + f];
      if (is_conv(&c->d->nodes[x]) && c->dist[x] > c->dist[i]) c->pos_in[x]++;
    }
  }
  qsort_r(order, n_order, sizeof *order, cmp_dist_ctx_sort, c);
  for (uint32_t k = 0; k < n_order && !c->failed; k++) {
    int sh;
    match_converge(c, order[k], order[k], &sh);
  }
  if (c->failed) return 0;
  for (uint32_t k = 0; k < n_order; k++) {
    uint32_t i = order[k];
    c->d->nodes[i].converge = c->match[i];
  }
  return 1;
}

/* ---- 4. Streams -----------------------------------------------------------
 */

static void add_stream(streams *t, uint64_t s) {
  for (int k = 0; k < t->n; k++)
    if (t->s[k] == s) return;
  if (t->n < 2)
    t->s[t->n++] = s;
  else
    t->n = 3;
}

static uint64_t branch_stream(uint32_t gw, uint32_t i) {
  return (uint64_t)(gw + 1) << 32 | i;
}

static int stream_problem(check *c, uint32_t node, const streams *st) {
  diag_add(c->diag, c->paths[node], "%s",
           st->n == 0 ? "not reachable from the start event"
                      : "branches of a parallel gateway meet here outside "
                        "their converge gateway");
  return 0;
}

/* Adds where's streams (or the one given) to target's. */
static int blend(check *c, uint32_t where, uint32_t target, streams *st,
                 int custom, uint64_t s) {
  if (custom) {
    add_stream(&st[target], s);
    return 1;
  }
  if (st[where].n == 0) return stream_problem(c, where, &st[where]);
  for (int k = 0; k < st[where].n && k < 2; k++)
    add_stream(&st[target], st[where].s[k]);
  return 1;
}

/* bamboo's flowing(): pushes where's stream along its flows. pconv[x] is
 * the parallel gateway whose converge x is, or NONE. */
static int flowing(check *c, uint32_t where, streams *st,
                   const uint32_t *pconv) {
  const st_def_node *w = &c->d->nodes[where];
  int par = is_parallel(w);
  if (par) {
    uint32_t conv = w->converge;
    if (!blend(c, where, conv, st, 0, 0)) return 0;
    if (st[conv].n > 1) return stream_problem(c, conv, &st[conv]);
  }
  for (uint32_t i = 0; i < w->n_out; i++) {
    uint32_t t = c->d->flows[w->out + i].target;
    int fake = 0;
    if (pconv[t] != NONE) {
      /* where's streams all branches of that parallel gateway? */
      uint32_t pg = pconv[t];
      int subset = 1;
      for (int k = 0; k < st[where].n && k < 2; k++) {
        uint64_t s = st[where].s[k];
        if ((s >> 32) != (uint64_t)pg + 1 ||
            (s & 0xffffffffu) >= c->d->nodes[pg].n_out)
          subset = 0;
      }
      if (st[where].n > 2) subset = 0;
      if (subset || w->converge == t) fake = 1;
    }
    if (!fake && !blend(c, where, t, st, par, branch_stream(where, i)))
      return 0;
    if (st[t].n != 1) return stream_problem(c, t, &st[t]);
  }
  return 1;
}

static int check_streams(check *c, const uint32_t *nodes, uint32_t n,
                         uint32_t *queue, uint8_t *seen) {
  const st_def_pipe *p = &c->d->pipes[c->pipe];
  streams *st = c->st;
  uint32_t *pconv = c->pconv;
  for (uint32_t k = 0; k < n; k++) {
    st[nodes[k]] = (streams){0};
    pconv[nodes[k]] = NONE;
  }
  for (uint32_t k = 0; k < n; k++) {
    const st_def_node *g = &c->d->nodes[nodes[k]];
    if (is_parallel(g)) pconv[g->converge] = nodes[k];
  }
  add_stream(&st[p->start], MAIN_STREAM);
  add_stream(&st[p->end], MAIN_STREAM);
  /* Breadth first from the start; a node met again flows again but does
   * not queue its targets again. Each node queues its targets once, so the
   * queue holds at most the flows plus one. */
  uint32_t head = 0, tail = 0;
  queue[tail++] = p->start;
  while (head < tail) {
    uint32_t v = queue[head++];
    if (!seen[v]) {
      const st_def_node *w = &c->d->nodes[v];
      for (uint32_t i = 0; i < w->n_out; i++)
        queue[tail++] = c->d->flows[w->out + i].target;
      seen[v] = 1;
    }
    if (!flowing(c, v, st, pconv)) return 0;
  }
  for (uint32_t k = 0; k < n; k++)
    if (st[nodes[k]].n != 1) return stream_problem(c, nodes[k], &st[nodes[k]]);
  return 1;
}

/* ---- Driver ---------------------------------------------------------------
 */

void def_check(st_def *d, const char *const *paths, const uint32_t *in_first,
               const uint32_t *in_list, diag *dg) {
  uint32_t nn = d->n_nodes;
  check c = {.d = d,
             .paths = paths,
             .in_first = in_first,
             .in_list = in_list,
             .diag = dg};
  uint32_t *by_pipe = rt_malloc((nn + 1) * sizeof *by_pipe);
  uint32_t *pipe_first = rt_calloc(d->n_pipes + 1, sizeof *pipe_first);
  uint32_t *scratch = rt_malloc((d->n_flows + nn + 1) * sizeof *scratch);
  uint8_t *seen = rt_calloc(nn + 1, 1);
  dframe *fr = rt_malloc((nn + 1) * sizeof *fr);
  c.tfirst = rt_malloc((nn + 1) * sizeof *c.tfirst);
  c.tn = rt_malloc((nn + 1) * sizeof *c.tn);
  c.tgt = rt_malloc((d->n_flows + 1) * sizeof *c.tgt);
  c.dist = rt_malloc((nn + 1) * sizeof *c.dist);
  c.stamp = rt_calloc(nn + 1, sizeof *c.stamp);
  c.match = rt_malloc((nn + 1) * sizeof *c.match);
  c.shared = rt_calloc(nn + 1, 1);
  c.block = rt_malloc((nn + 1) * sizeof *c.block);
  c.multi = rt_calloc(nn + 1, 1);
  c.conv_n = rt_calloc(nn + 1, sizeof *c.conv_n);
  c.conv_npar = rt_calloc(nn + 1, sizeof *c.conv_npar);
  c.pos_in = rt_calloc(nn + 1, sizeof *c.pos_in);
  c.stack = rt_malloc((MAX_NESTING + 1) * sizeof *c.stack);
  c.st = rt_malloc((nn + 1) * sizeof *c.st);
  c.pconv = rt_malloc((nn + 1) * sizeof *c.pconv);
  c.after = rt_malloc((nn + 1) * sizeof *c.after);
  if (!by_pipe || !pipe_first || !scratch || !seen || !fr || !c.tfirst ||
      !c.tn || !c.tgt || !c.dist || !c.stamp || !c.match || !c.shared ||
      !c.block || !c.multi || !c.conv_n || !c.conv_npar || !c.pos_in ||
      !c.stack || !c.st || !c.pconv || !c.after) {
    dg->oom = 1;
    goto out_free;
  }
  uint32_t nt = 0;
  for (uint32_t i = 0; i < nn; i++) {
    c.tfirst[i] = nt;
    c.tn[i] = d->nodes[i].n_out;
    nt += c.tn[i];
    c.dist[i] = -1;
    c.match[i] = NONE;
    c.after[i] = NONE;
    c.block[i] = NONE;
    pipe_first[d->nodes[i].pipe + 1]++;
  }
  for (uint32_t p = 0; p < d->n_pipes; p++)
    pipe_first[p + 1] += pipe_first[p];
  {
    uint32_t *fill = scratch; /* next slot per pipeline */
    memcpy(fill, pipe_first, d->n_pipes * sizeof *fill);
    for (uint32_t i = 0; i < nn; i++)
      by_pipe[fill[d->nodes[i].pipe]++] = i;
  }
  /* bamboo validates subprocesses before their parents. */
  for (uint32_t p = d->n_pipes; p-- > 0;) {
    const uint32_t *nodes = by_pipe + pipe_first[p];
    uint32_t n = pipe_first[p + 1] - pipe_first[p];
    c.pipe = p;
    c.end = d->pipes[p].end;
    c.failed = 0;
    if (!check_connections(&c, nodes, n)) continue;
    if (!check_reach_end(&c, nodes, n, scratch)) continue;
    if (!check_gateways(&c, nodes, n, scratch, fr)) continue;
    check_streams(&c, nodes, n, scratch, seen);
  }
out_free:
  rt_free(by_pipe);
  rt_free(pipe_first);
  rt_free(scratch);
  rt_free(seen);
  rt_free(fr);
  rt_free(c.tfirst);
  rt_free(c.tn);
  rt_free(c.tgt);
  rt_free(c.dist);
  rt_free(c.stamp);
  rt_free(c.match);
  rt_free(c.shared);
  rt_free(c.block);
  rt_free(c.multi);
  rt_free(c.conv_n);
  rt_free(c.conv_npar);
  rt_free(c.pos_in);
  rt_free(c.stack);
  rt_free(c.st);
  rt_free(c.pconv);
  rt_free(c.after);
}
