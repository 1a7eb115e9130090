/* SPDX-License-Identifier: MIT */
/* A growable byte buffer. Callers check sizes a client chooses against
 * their limits before appending. One owner; not thread-safe. */
#ifndef OCRPC_BASE_BUF_H
#define OCRPC_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} buf;

#define BUF_INIT                                                                           \
  { NULL, 0, 0 }

/* Ensures room for `extra` more bytes; 0 or ERR_NOMEM. */
int buf_reserve(buf *b, size_t extra);
/* Appends n bytes; 0 or ERR_NOMEM. */
int buf_append(buf *b, const void *data, size_t n);
/* Drops the first n bytes (n <= len). */
void buf_consume(buf *b, size_t n);
/* Moves the bytes out: returns the data pointer (caller frees) and resets b. */
uint8_t *buf_steal(buf *b, size_t *len);
void buf_reset(buf *b);
void buf_free(buf *b);

/* Hands out the next bytes to write (borrowed until the next call): their
 * length, 0 when there is nothing, or a negative ERR_*. h2_session_pull
 * and the client session's pull have this shape. */
typedef long (*buf_pull_fn)(void *src, const uint8_t **data);

/* Write coalescing, as the server's connections and the client do it:
 * appends what pull hands out until it has nothing, it fails, or b holds
 * `high` bytes or more, so many small frames leave in one write. Returns 0
 * (pull has nothing more), 1 (stopped at `high`: more may be waiting), or
 * the negative ERR_* of pull or ERR_NOMEM (b keeps what it gathered). */
int buf_gather(buf *b, size_t high, buf_pull_fn pull, void *src);

#endif
