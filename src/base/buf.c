/* SPDX-License-Identifier: MIT */
/* Growable byte buffer. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

int buf_reserve(buf *b, size_t extra) {
  if (b->cap - b->len >= extra)
    return 0;
  size_t need = b->len + extra;
  if (need < b->len)
    return ERR_NOMEM;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p)
    return ERR_NOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int buf_append(buf *b, const void *data, size_t n) {
  if (n == 0)
    return 0;
  int rc = buf_reserve(b, n);
  if (rc)
    return rc;
  memcpy(b->data + b->len, data, n);
  b->len += n;
  return 0;
}

void buf_consume(buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

uint8_t *buf_steal(buf *b, size_t *len) {
  uint8_t *p = b->data;
  if (len)
    *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

void buf_reset(buf *b) { b->len = 0; }

int buf_gather(buf *b, size_t high, buf_pull_fn pull, void *src) {
  while (b->len < high) {
    const uint8_t *data;
    long n = pull(src, &data);
    if (n <= 0)
      return (int)n;
    if (buf_append(b, data, (size_t)n))
      return ERR_NOMEM;
  }
  return 1;
}

void buf_free(buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
