/* SPDX-License-Identifier: MIT */
/* Counting repeated entries in protobuf wire bytes before decoding them:
 * every decoded entry costs a struct (tens of bytes) for two bytes on the
 * wire, so the methods' limits on entries are checked first, in one pass
 * that stops as soon as the limit is passed. Loop thread (any thread:
 * pure function). */
#include <string.h>

#include "rpc_internal.h"

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

/* A varint value skipped as nanopb's pb_skip_varint does: any number of
 * continuation bytes. Stricter than the decoder, the scan would give up on
 * a message the decoder then accepts whole, and its entries would escape
 * the count. */
static int skip_varint(const uint8_t **p, const uint8_t *end) {
  while (*p < end)
    if (!(*(*p)++ & 0x80))
      return 0;
  return -1;
}

ssize_t rpc__pb_count(const uint8_t *data, size_t len, uint32_t field, uint32_t sub,
                      size_t stop) {
  const uint8_t *p = data, *end = data + len;
  size_t count = 0;
  while (p < end) {
    uint64_t key, n;
    if (read_varint(&p, end, &key))
      return -1;
    uint32_t num = (uint32_t)(key >> 3), wt = (uint32_t)(key & 7);
    switch (wt) {
    case 0:
      if (skip_varint(&p, end))
        return -1;
      break;
    case 1:
    case 5: {
      size_t w = wt == 1 ? 8 : 4;
      if ((size_t)(end - p) < w)
        return -1;
      p += w;
      break;
    }
    case 2:
      if (read_varint(&p, end, &n) || n > (uint64_t)(end - p))
        return -1;
      if (num == field) {
        if (!sub) {
          count++;
        } else {
          ssize_t k = rpc__pb_count(p, (size_t)n, sub, 0, stop - count);
          if (k < 0)
            return -1;
          count += (size_t)k;
        }
      }
      p += n;
      break;
    default:
      return -1; /* groups: nanopb refuses them too */
    }
    if (count > stop)
      return (ssize_t)count; /* enough to refuse; the rest is not read */
  }
  return (ssize_t)count;
}
