/*
 * rattan run --watch: the task's live tree while cli_drive drives it.
 *
 * Each refresh walks rattan_task_nodes into one array of nodes (sized by
 * the node count, kept across refreshes with the states seen last) and
 * one buffer of their strings. On a terminal the tree is redrawn in place
 * at most ten times a second; elsewhere each node change is one line and
 * the final tree is printed once. Uses include/rattan.h only.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Minimum time between two redraws on a terminal. */
#define REDRAW_US 100000
/* Steps per rattan_drive call: each one is followed by a look. */
#define WATCH_BUDGET 1
/* Widths when stdout is not a terminal: the label column's limit and
 * the longest ex_data shown. */
#define PLAIN_LABEL_MAX 48
#define PLAIN_EX_MAX    1000

/* A growing byte buffer; oom sticks once an allocation failed. */
typedef struct buf {
  char *p;
  size_t len, cap;
  int oom;
} buf;

static int b_reserve(buf *b, size_t n) {
  if (b->oom) return -1;
  if (b->len + n + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n + 1)
    cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

static void b_put(buf *b, const char *s, size_t n) {
  if (b_reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void b_str(buf *b, const char *s) {
  b_put(b, s, strlen(s));
}

static void b_printf(buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) b_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void b_spaces(buf *b, int n) {
  static const char sp[] = "                                ";
  for (; n > 0; n -= 32)
    b_put(b, sp, n < 32 ? (size_t)n : 32);
}

/* ---- UTF-8 text and its width in terminal columns ---------------------- */

/* Decodes one character at s (n > 0 bytes left): its length, with *cp
 * set, or 0 for a malformed sequence. */
static size_t u8_next(const unsigned char *s, size_t n, uint32_t *cp) {
  size_t len = s[0] < 0x80                   ? 1
               : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
               : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
               : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
                                             : 0;
  if (!len || len > n) return 0;
  uint32_t c = len == 1 ? s[0] : s[0] & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    c = c << 6 | (s[i] & 0x3f);
  }
  static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < least[len] || c > 0x10ffff || (c >= 0xd800 && c < 0xe000)) return 0;
  *cp = c;
  return len;
}

/* Columns a character takes: 2 for East Asian wide ones (the names of
 * SOPS templates are often Chinese), 0 for combining marks. */
static int cp_width(uint32_t c) {
  if ((c >= 0x300 && c < 0x370) || (c >= 0x200b && c < 0x2010) ||
      (c >= 0xfe00 && c < 0xfe10))
    return 0;
  if ((c >= 0x1100 && c < 0x1160) || (c >= 0x2e80 && c < 0x303f) ||
      (c >= 0x3041 && c < 0xa4d0) || (c >= 0xac00 && c < 0xd7a4) ||
      (c >= 0xf900 && c < 0xfb00) || (c >= 0xfe30 && c < 0xfe50) ||
      (c >= 0xff00 && c < 0xff61) || (c >= 0xffe0 && c < 0xffe7) ||
      (c >= 0x1f300 && c < 0x1f650) || (c >= 0x1f900 && c < 0x1fa00) ||
      (c >= 0x20000 && c < 0x3fffe))
    return 2;
  return 1;
}

/* Appends s to b as one line of text: control characters (newlines, the
 * escape of a component's coloured output, ...) become spaces, runs of
 * spaces one space, malformed UTF-8 '?'. */
static void b_clean(buf *b, const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s);
  int space = 0;
  while (n) {
    uint32_t c = 0;
    size_t len = u8_next(u, n, &c);
    int blank = len && (c <= 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0));
    if (blank && !space) b_put(b, " ", 1);
    if (!blank) b_put(b, len ? (const char *)u : "?", len ? len : 1);
    space = blank;
    u += len ? len : 1;
    n -= len ? len : 1;
  }
}

/* The columns clean text takes. */
static int text_width(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s);
  int w = 0;
  while (n) {
    uint32_t c = '?';
    size_t len = u8_next(u, n, &c);
    if (!len) len = 1;
    w += cp_width(c);
    u += len;
    n -= len;
  }
  return w;
}

/* Appends clean text s, cut with "…" to fit *room columns (< 0: no
 * limit); takes the columns used from *room and returns them. */
static int b_fit(buf *b, const char *s, int *room) {
  if (!s) return 0; /* a piece that could not be allocated */
  int w = text_width(s);
  if (*room < 0) {
    b_str(b, s);
    return w;
  }
  if (w <= *room) {
    b_str(b, s);
    *room -= w;
    return w;
  }
  if (*room < 1) return 0;
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s), i = 0;
  int used = 0;
  while (i < n) {
    uint32_t c = '?';
    size_t len = u8_next(u + i, n - i, &c);
    if (!len) len = 1;
    if (used + cp_width(c) > *room - 1) break;
    used += cp_width(c);
    i += len;
  }
  b_put(b, s, i);
  b_str(b, "\xe2\x80\xa6"); /* … */
  *room -= used + 1;
  return used + 1;
}

/* ---- The nodes --------------------------------------------------------- */

typedef struct wnode {
  /* As of the last walk. */
  rattan_state state;
  unsigned depth, loop, retry;
  int skip, error_ignored, archived;
  int64_t elapsed_s;
  size_t id, label, ex; /* offsets in watch.text; ex: 0 for none */
  /* As of the last change line (plain output). */
  rattan_state seen;
  unsigned seen_loop, seen_retry;
  int seen_skip;
} wnode;

typedef struct watch {
  const cli *c;
  const char *task;
  int tty, colour;
  wnode *nodes;
  size_t n, cap; /* nodes of the last walk; allocated */
  buf text;      /* their strings (offset 0: "") */
  buf out;       /* the frame or lines being printed */
  int drawn;     /* lines of the last frame on the terminal */
  int64_t now;   /* the engine clock at the last walk */
  int64_t last_draw;
} watch;

/* A monotonic clock in microseconds, for the redraw rate. */
static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The words events and gateways are shown with. */
static const char *type_tag(const char *type) {
  static const char *const tags[][2] = {
      {"EmptyStartEvent", "start"},
      {"EmptyEndEvent", "end"},
      {"ExecutableEndEvent", "end"},
      {"ExclusiveGateway", "exclusive gateway"},
      {"ParallelGateway", "parallel gateway"},
      {"ConditionalParallelGateway", "conditional parallel gateway"},
      {"ConvergeGateway", "converge gateway"},
      {"SubProcess", "subprocess"}};
  for (size_t i = 0; type && i < sizeof tags / sizeof *tags; i++)
    if (!strcmp(type, tags[i][0])) return tags[i][1];
  return NULL;
}

static int take_node(void *ctx, const rattan_node_view *v) {
  watch *w = ctx;
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 64;
    wnode *p = realloc(w->nodes, cap * sizeof *p);
    if (!p) return RATTAN_ENOMEM;
    /* Nodes never seen before start as never run. */
    memset(p + w->cap, 0, (cap - w->cap) * sizeof *p);
    w->nodes = p;
    w->cap = cap;
  }
  wnode *n = &w->nodes[w->n++];
  n->state = v->state;
  n->depth = v->depth;
  n->loop = v->loop;
  n->retry = v->retry;
  n->skip = v->skip;
  n->error_ignored = v->error_ignored;
  /* A node that runs again (a loop) keeps the archived time of its last
   * run, so get_task_status's elapsed time is negative: a node that is
   * not done counts from its start. */
  n->archived = v->state == RATTAN_STATE_FINISHED ||
                v->state == RATTAN_STATE_FAILED ||
                v->state == RATTAN_STATE_REVOKED;
  n->elapsed_s = v->started_us == RATTAN_NO_TIME ? -1
                 : n->archived                   ? v->elapsed_s
                               : (w->now - v->started_us) / 1000000;
  if (n->elapsed_s < 0 && v->started_us != RATTAN_NO_TIME) n->elapsed_s = 0;
  buf *t = &w->text;
  n->id = t->len;
  b_clean(t, v->id);
  b_put(t, "", 1);
  n->label = t->len;
  const char *tag = type_tag(v->type);
  if (*v->name) {
    b_clean(t, v->name);
    if (tag) b_printf(t, " (%s)", tag);
  } else if (tag && strcmp(tag, "subprocess")) {
    b_printf(t, "(%s)", tag);
  } else {
    b_clean(t, v->id);
  }
  b_put(t, "", 1);
  n->ex = 0;
  if (v->ex_data && v->state == RATTAN_STATE_FAILED) {
    n->ex = t->len;
    b_clean(t, v->ex_data);
    b_put(t, "", 1);
  }
  return t->oom ? RATTAN_ENOMEM : 0;
}

/* Reads every node of the task into w. */
static int walk(watch *w, rattan_engine *e) {
  w->n = 0;
  w->now = rattan_now(e);
  w->text.len = 0;
  b_put(&w->text, "", 1);
  if (w->text.oom) return RATTAN_ENOMEM;
  return rattan_task_nodes(e, w->task, take_node, w);
}

static const char *str(const watch *w, size_t off) {
  return w->text.p + off;
}

/* "3s", "2m05s", "1h02m", "3d04h". */
static void b_elapsed(buf *b, int64_t s) {
  if (s < 60)
    b_printf(b, "%llds", (long long)s);
  else if (s < 3600)
    b_printf(b, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else if (s < 86400)
    b_printf(b, "%lldh%02lldm", (long long)(s / 3600),
             (long long)(s % 3600 / 60));
  else
    b_printf(b, "%lldd%02lldh", (long long)(s / 86400),
             (long long)(s % 86400 / 3600));
}

static const char *state_text(rattan_state s) {
  return s == RATTAN_STATE_CREATED ? "pending" : rattan_state_name(s);
}

static const char *state_colour(rattan_state s) {
  switch (s) {
    case RATTAN_STATE_READY:
      return "\x1b[36m"; /* cyan */
    case RATTAN_STATE_RUNNING:
      return "\x1b[1;33m"; /* bold yellow */
    case RATTAN_STATE_SUSPENDED:
    case RATTAN_STATE_BLOCKED:
      return "\x1b[35m"; /* magenta */
    case RATTAN_STATE_FINISHED:
      return "\x1b[32m"; /* green */
    case RATTAN_STATE_FAILED:
      return "\x1b[1;31m"; /* bold red */
    case RATTAN_STATE_REVOKED:
    case RATTAN_STATE_CREATED:
    default:
      return "\x1b[2m"; /* dim */
  }
}

/* Appends " retry 2  loop 3  skipped" (what is not the default). */
static void b_counters(buf *b, unsigned loop, unsigned retry, int skip,
                       int error_ignored) {
  if (retry) b_printf(b, "  retry %u", retry);
  if (loop > 1) b_printf(b, "  loop %u", loop);
  if (skip) b_str(b, "  skipped");
  if (error_ignored) b_str(b, "  error ignored");
}

/* Takes n columns from *room (< 0: no limit). */
static void take(int *room, int n) {
  if (*room >= 0) *room = *room > n ? *room - n : 0;
}

/* Appends clean text in colour (when the view has colours). */
static void b_coloured(const watch *w, buf *b, const char *colour,
                       const char *s, int *room) {
  if (w->colour) b_str(b, colour);
  b_fit(b, s, room);
  if (w->colour) b_str(b, "\x1b[0m");
}

/* ---- The tree ---------------------------------------------------------- */

/* Appends the summary line and the tree; width is the terminal's columns
 * (0: no limit) and max_lines the lines it may take (0: no limit).
 * Returns the lines appended. */
static int b_tree(const watch *w, buf *o, int width, int max_lines) {
  int lim = width > 1 ? width - 1 : -1; /* never the last column */
  size_t count[RATTAN_STATE_COUNT] = {0};
  int col = 0;
  for (size_t i = 0; i < w->n; i++) {
    const wnode *n = &w->nodes[i];
    if (n->depth > 0 && n->state < RATTAN_STATE_COUNT) count[n->state]++;
    int c = 2 * (int)n->depth + text_width(str(w, n->label));
    if (c > col) col = c;
  }
  /* The label column: as wide as the widest label, within limits that
   * leave room for the state and the time. */
  int most = lim > 0 ? lim - 30 : PLAIN_LABEL_MAX;
  if (most < 12) most = 12;
  if (col > most) col = most;
  col += 2;
  if (max_lines && max_lines < 3) max_lines = 3;

  int lines = 0;
  buf piece = {0};
  if (w->n) {
    /* "task 1  RUNNING  12s  9 nodes: 3 FINISHED, 1 RUNNING, 5 pending" */
    const wnode *r = &w->nodes[0];
    int room = lim;
    b_printf(&piece, "task %s  ", w->task);
    b_fit(o, piece.p, &room);
    /* As get_task_status folds it: a running task with a failed node
     * has failed until an operator acts. */
    rattan_state top =
        r->state == RATTAN_STATE_RUNNING && count[RATTAN_STATE_FAILED]
            ? RATTAN_STATE_FAILED
            : r->state;
    b_coloured(w, o, state_colour(top), rattan_state_name(top), &room);
    piece.len = 0;
    if (r->elapsed_s >= 0) {
      b_str(&piece, "  ");
      b_elapsed(&piece, r->elapsed_s);
    }
    b_printf(&piece, "  %zu node%s:", w->n - 1, w->n == 2 ? "" : "s");
    static const rattan_state order[] = {
        RATTAN_STATE_FINISHED,  RATTAN_STATE_RUNNING, RATTAN_STATE_READY,
        RATTAN_STATE_SUSPENDED, RATTAN_STATE_BLOCKED, RATTAN_STATE_FAILED,
        RATTAN_STATE_REVOKED,   RATTAN_STATE_CREATED};
    const char *sep = " ";
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
      if (count[order[i]]) {
        b_printf(&piece, "%s%zu %s", sep, count[order[i]],
                 state_text(order[i]));
        sep = ", ";
      }
    b_fit(o, piece.p, &room);
    b_str(o, "\n");
    lines++;
  }

  for (size_t i = 0; i < w->n; i++) {
    const wnode *n = &w->nodes[i];
    int need = n->ex ? 2 : 1;
    if (max_lines && lines + need > max_lines - (i + 1 < w->n)) {
      char more[64];
      int room = lim;
      snprintf(more, sizeof more, "... %zu more", w->n - i);
      b_fit(o, more, &room);
      b_str(o, "\n");
      lines++;
      break;
    }
    int room = lim, indent = 2 * (int)n->depth;
    if (lim > 0 && indent > lim / 2) indent = lim / 2;
    b_spaces(o, indent);
    take(&room, indent);
    int label_room = col - 2 - indent;
    if (label_room < 4) label_room = 4;
    if (room >= 0 && label_room > room) label_room = room;
    int used = b_fit(o, str(w, n->label), &label_room);
    take(&room, used);
    int pad = col - indent - used;
    if (room >= 0 && pad > room) pad = room;
    b_spaces(o, pad);
    take(&room, pad);
    piece.len = 0;
    b_put(&piece, "", 0);
    if (n->elapsed_s >= 0) {
      b_str(&piece, "  ");
      b_elapsed(&piece, n->elapsed_s);
    }
    b_counters(&piece, n->loop, n->retry, n->skip, n->error_ignored);
    const char *st = state_text(n->state);
    b_coloured(w, o, state_colour(n->state), st, &room);
    if (piece.len) {
      /* The state column is as wide as the longest name (SUSPENDED). */
      int fill = 9 - (int)strlen(st);
      if (room >= 0 && fill > room) fill = room;
      b_spaces(o, fill);
      take(&room, fill);
      b_fit(o, piece.p, &room);
    }
    b_str(o, "\n");
    lines++;
    if (n->ex) {
      int ex_indent = indent + 4;
      if (lim > 0 && ex_indent > lim / 2) ex_indent = lim / 2;
      int ex_room = lim > 0 ? lim - ex_indent : PLAIN_EX_MAX;
      b_spaces(o, ex_indent);
      b_coloured(w, o, "\x1b[31m", str(w, n->ex), &ex_room);
      b_str(o, "\n");
      lines++;
    }
  }
  if (piece.oom) o->oom = 1;
  free(piece.p);
  return lines;
}

/* The terminal's size, or 80 x 24. */
static void term_size(int *cols, int *rows) {
  struct winsize ws;
  *cols = 80;
  *rows = 24;
  if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws)) {
    if (ws.ws_col) *cols = ws.ws_col;
    if (ws.ws_row) *rows = ws.ws_row;
  }
}

/* Redraws the tree over the last frame. The live frames fit the screen
 * (cursor movement cannot reach lines scrolled off it); the final one is
 * whole. */
static void draw(watch *w, int final) {
  int cols, rows;
  term_size(&cols, &rows);
  buf *o = &w->out;
  o->len = 0;
  if (w->drawn > 0) b_printf(o, "\r\x1b[%dA", w->drawn);
  b_str(o, "\x1b[J");
  w->drawn = b_tree(w, o, cols, final ? 0 : rows - 1);
  if (!o->oom) fwrite(o->p, 1, o->len, stdout);
  fflush(stdout);
  w->last_draw = mono_us();
}

/* Prints one line per node whose state or counters changed since the
 * last look:
 * "2024-01-01 10:00:03 +0800  n3 build  RUNNING -> FINISHED  (2s)". */
static void print_changes(watch *w, rattan_engine *e) {
  buf *o = &w->out;
  o->len = 0;
  char when[64] = "";
  for (size_t i = 0; i < w->n; i++) {
    wnode *n = &w->nodes[i];
    if (n->state == n->seen && n->loop == n->seen_loop &&
        n->retry == n->seen_retry && n->skip == n->seen_skip)
      continue;
    if (!*when) {
      int tz = w->c->tz_offset_min, a = tz < 0 ? -tz : tz;
      int64_t us = rattan_now(e), sec = us / 1000000 - (us % 1000000 < 0);
      time_t t = (time_t)(sec + (int64_t)tz * 60);
      struct tm tm;
      if (gmtime_r(&t, &tm))
        snprintf(when, sizeof when, "%04d-%02d-%02d %02d:%02d:%02d %c%02d%02d",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, tz < 0 ? '-' : '+', a / 60, a % 60);
    }
    b_printf(o, "%s  ", when);
    b_str(o, str(w, n->id));
    const char *label = str(w, n->label);
    if (strcmp(label, str(w, n->id))) {
      b_str(o, " ");
      b_str(o, label);
    }
    b_printf(o, "  %s -> %s", rattan_state_name(n->seen),
             rattan_state_name(n->state));
    if (n->archived) {
      b_str(o, "  (");
      b_elapsed(o, n->elapsed_s);
      b_str(o, ")");
    }
    b_counters(o, n->loop, n->retry, n->skip, n->error_ignored);
    if (n->ex) {
      int room = PLAIN_EX_MAX;
      b_str(o, "  ");
      b_fit(o, str(w, n->ex), &room);
    }
    b_str(o, "\n");
    n->seen = n->state;
    n->seen_loop = n->loop;
    n->seen_retry = n->retry;
    n->seen_skip = n->skip;
  }
  if (o->len && !o->oom) {
    fwrite(o->p, 1, o->len, stdout);
    fflush(stdout);
  }
}

/* cli_drive's tick: a look after each step; on a terminal at most one
 * redraw per REDRAW_US (also while waiting, so running times grow). */
static int tick(void *ctx, rattan_engine *e, int waiting) {
  watch *w = ctx;
  if (w->tty) {
    if (mono_us() - w->last_draw < REDRAW_US) return 0;
  } else if (waiting) {
    return 0; /* nothing changes while we sleep */
  }
  int rc = walk(w, e);
  if (rc) return rc;
  if (w->tty)
    draw(w, 0);
  else
    print_changes(w, e);
  return w->out.oom ? RATTAN_ENOMEM : 0;
}

int cli_watch(const cli *c, rattan_engine *e, const char *task) {
  const char *term = getenv("TERM"), *no_colour = getenv("NO_COLOR");
  watch w = {.c = c, .task = task, .last_draw = mono_us() - REDRAW_US};
  /* A dumb terminal cannot move its cursor: it gets the plain lines. */
  w.tty = isatty(STDOUT_FILENO) && !(term && !strcmp(term, "dumb"));
  w.colour = w.tty && !(no_colour && *no_colour);
  int rc = tick(&w, e, 0);
  if (!rc) rc = cli_drive(c, e, task, WATCH_BUDGET, tick, &w);
  /* The final state is always shown, whatever stopped the drive. */
  int shown = walk(&w, e);
  if (!shown) {
    if (w.tty) {
      draw(&w, 1);
    } else {
      print_changes(&w, e);
      buf *o = &w.out;
      o->len = 0;
      b_str(o, "\n");
      b_tree(&w, o, 0, 0);
      if (!o->oom) fwrite(o->p, 1, o->len, stdout);
      fflush(stdout);
    }
    if (w.out.oom) shown = RATTAN_ENOMEM;
  }
  free(w.nodes);
  free(w.text.p);
  free(w.out.p);
  return rc ? rc : shown;
}
