/*
 * Error reports passed down through the layers.
 *
 * Every internal function that can fail takes an `errbuf *` (which may be
 * NULL when the caller only wants the code), fills it, and returns the same
 * negative rattan_error. The message names the object and the reason.
 */
#ifndef RATTAN_ERR_H
#define RATTAN_ERR_H

#define ERRBUF_MAX 512

typedef struct errbuf {
  int code;
  char msg[ERRBUF_MAX];
} errbuf;

/* Records code and a printf-style message in e (if not NULL); returns
 * code, so callers can write `return err_set(e, RATTAN_EINVAL, ...)`. */
int err_set(errbuf *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears e to RATTAN_OK and "". */
void err_clear(errbuf *e);

#endif
