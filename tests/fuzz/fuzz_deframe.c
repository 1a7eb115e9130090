/* SPDX-License-Identifier: MIT */
/* libFuzzer target: gRPC message reassembly (rpc_deframe_feed). The first
 * byte picks the message-size limit (and whether the callback fails), the
 * next SPLITS bytes the sizes of the pieces, repeated (0 is an empty DATA
 * frame); the rest is the DATA payload, fed once in those pieces and once
 * whole. Both feeds must hand up the same messages, none over the limit,
 * and stop with the same result. Single thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "rpc_internal.h"

#define SPLITS 8
#define MAX_MSGS 1024
#define MAX_PIECES 256

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

/* What one feed saw: every message's length, flag and a checksum, and the
 * byte total. */
typedef struct seen {
  uint64_t limit;
  size_t n;
  size_t len[MAX_MSGS];
  int compressed[MAX_MSGS];
  uint32_t sum[MAX_MSGS];
  uint64_t total;
  int stop_after; /* the callback fails on this message (1-based); 0: never */
} seen;

static uint32_t checksum(const uint8_t *p, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 16777619u;
  return h;
}

static int on_msg(void *ud, const uint8_t *data, size_t len, int compressed) {
  seen *s = ud;
  CHECK(len <= s->limit);
  CHECK(compressed == 0 || compressed == 1);
  CHECK(len == 0 || data != NULL);
  if (s->n < MAX_MSGS) {
    s->len[s->n] = len;
    s->compressed[s->n] = compressed;
    s->sum[s->n] = checksum(data, len);
  }
  s->n++;
  s->total += len;
  if (s->stop_after && (int)s->n == s->stop_after)
    return ERR_PROTOCOL; /* like rpc_call's second unary message */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 + SPLITS)
    return 0;
  /* Limits around the sizes the input can reach, and 0 (only empty
   * messages fit). */
  static const uint64_t limits[] = {0, 1, 4, 16, 64, 255, 1024, 1 << 20};
  uint64_t limit = limits[data[0] & 7];
  int stop_after = data[0] >> 3 & 3; /* 0: the callback never fails */
  const uint8_t *splits = data + 1;
  const uint8_t *payload = data + 1 + SPLITS;
  size_t plen = size - 1 - SPLITS;

  /* Static (too big for the stack); the arrays are written before read,
   * so only the counters are reset. */
  static seen whole, pieces;
  whole.n = pieces.n = 0;
  whole.total = pieces.total = 0;
  whole.limit = pieces.limit = limit;
  whole.stop_after = pieces.stop_after = stop_after;

  rpc_deframer d;
  rpc_deframer_init(&d, limit);
  int rc_whole = rpc_deframe_feed(&d, payload, plen, on_msg, &whole);
  int partial_whole = rpc_deframer_partial(&d);
  rpc_deframer_free(&d);

  /* The same bytes in pieces; a size of 0 is an empty DATA frame (legal,
   * e.g. END_STREAM alone). */
  rpc_deframer_init(&d, limit);
  size_t split_sum = 0;
  for (size_t i = 0; i < SPLITS; i++)
    split_sum += splits[i];
  int rc_pieces = 0;
  size_t off = 0;
  for (size_t i = 0; off < plen || i == 0; i++) {
    /* After MAX_PIECES pieces the rest goes in one: enough to cover every
     * boundary pattern, few enough calls to keep the target fast. */
    size_t n = split_sum && i < MAX_PIECES ? splits[i % SPLITS] : (i == 0 ? 0 : plen - off);
    if (n > plen - off)
      n = plen - off;
    rc_pieces = rpc_deframe_feed(&d, payload + off, n, on_msg, &pieces);
    off += n;
    if (rc_pieces)
      break; /* the caller stops feeding a failed call */
  }
  int partial_pieces = rpc_deframer_partial(&d);
  rpc_deframer_free(&d);

  CHECK(rc_whole == rc_pieces);
  CHECK(rc_whole == 0 || rc_whole == ERR_MSG_TOO_LARGE || rc_whole == ERR_PROTOCOL);
  CHECK(whole.n == pieces.n);
  CHECK(whole.total == pieces.total);
  for (size_t i = 0; i < whole.n && i < MAX_MSGS; i++) {
    CHECK(whole.len[i] == pieces.len[i]);
    CHECK(whole.compressed[i] == pieces.compressed[i]);
    CHECK(whole.sum[i] == pieces.sum[i]);
  }
  if (rc_whole == 0)
    CHECK(partial_whole == partial_pieces);
  /* Every byte is accounted for: 5 per message plus its payload. */
  if (rc_whole == 0)
    CHECK(whole.total + 5 * (uint64_t)whole.n <= plen);
  return 0;
}
