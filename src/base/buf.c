/* SPDX-License-Identifier: MIT */
/* Growable byte buffer. */
#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "ocrpc_alloc.h"

void buf_reserve(buf *b, size_t extra) {
  if (b->cap - b->len >= extra)
    return;
  size_t need = b->len + extra;
  /* Wrapped: no limit checked the size first (a bug); no block fits. */
  if (need < b->len)
    ocrpc__oom(SIZE_MAX, __FILE__, __LINE__);
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  b->data = ocrpc_realloc(b->data, cap);
  b->cap = cap;
}

void buf_append(buf *b, const void *data, size_t n) {
  if (n == 0)
    return;
  buf_reserve(b, n);
  memcpy(b->data + b->len, data, n);
  b->len += n;
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
    buf_append(b, data, (size_t)n);
  }
  return 1;
}

void buf_free(buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
