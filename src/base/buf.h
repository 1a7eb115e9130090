/* SPDX-License-Identifier: MIT */
/* A growable byte buffer. Callers check sizes a client chooses against
 * their limits before appending: growing never fails, out of memory aborts
 * (base/ocrpc_alloc.h). One owner; not thread-safe. */
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

/* Ensures room for `extra` more bytes. */
void buf_reserve(buf *b, size_t extra);
/* Appends n bytes. */
void buf_append(buf *b, const void *data, size_t n);
/* Drops the first n bytes (n <= len). */
void buf_consume(buf *b, size_t n);
/* Moves the bytes out: returns the data pointer (caller frees) and resets b. */
uint8_t *buf_steal(buf *b, size_t *len);
void buf_reset(buf *b);
void buf_free(buf *b);

#endif
