/* SPDX-License-Identifier: MIT */
/* The growable byte buffer: append, consume, steal, reserve. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"

Test(buf, starts_empty_and_free_is_idempotent) {
  buf b = BUF_INIT;
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(buf_append(&b, "x", 0), 0);
  cr_assert_null(b.data, "appending nothing allocates nothing");
  buf_free(&b);
  buf_free(&b);
  cr_assert_null(b.data);
  cr_assert_eq(b.cap, 0);
}

Test(buf, append_keeps_every_byte_in_order_across_growth) {
  buf b = BUF_INIT;
  uint8_t chunk[1000];
  for (int round = 0; round < 100; round++) {
    for (size_t i = 0; i < sizeof chunk; i++)
      chunk[i] = (uint8_t)(round * 7 + i);
    cr_assert_eq(buf_append(&b, chunk, sizeof chunk), 0);
    cr_assert_eq(b.len, (size_t)(round + 1) * sizeof chunk);
    cr_assert_geq(b.cap, b.len);
  }
  for (int round = 0; round < 100; round++)
    for (size_t i = 0; i < sizeof chunk; i++)
      cr_assert_eq(b.data[round * sizeof chunk + i], (uint8_t)(round * 7 + i),
                   "byte %zu of round %d", i, round);
  buf_free(&b);
}

Test(buf, reserve_grows_geometrically_and_keeps_content) {
  buf b = BUF_INIT;
  cr_assert_eq(buf_reserve(&b, 1), 0);
  cr_assert_geq(b.cap, 1);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(buf_append(&b, "hello", 5), 0);
  size_t cap = b.cap;
  uint8_t *p = b.data;
  /* Room already there: no reallocation. */
  cr_assert_eq(buf_reserve(&b, cap - 5), 0);
  cr_assert_eq(b.cap, cap);
  cr_assert_eq(b.data, p);
  /* One more byte than there is room for: at least doubles. */
  cr_assert_eq(buf_reserve(&b, cap - 5 + 1), 0);
  cr_assert_geq(b.cap, 2 * cap);
  cr_assert_eq(b.len, 5);
  cr_assert_arr_eq(b.data, "hello", 5);
  /* A big request is met in one step. */
  cr_assert_eq(buf_reserve(&b, 10 * 1000 * 1000), 0);
  cr_assert_geq(b.cap - b.len, 10 * 1000 * 1000);
  cr_assert_arr_eq(b.data, "hello", 5);
  buf_free(&b);
}

Test(buf, reserve_overflow_is_nomem_and_leaves_the_buffer) {
  buf b = BUF_INIT;
  cr_assert_eq(buf_append(&b, "0123456789", 10), 0);
  uint8_t *p = b.data;
  size_t cap = b.cap;
  cr_assert_eq(buf_reserve(&b, SIZE_MAX - 5), ERR_NOMEM);
  cr_assert_eq(buf_append(&b, "x", SIZE_MAX - 5), ERR_NOMEM);
  cr_assert_eq(b.data, p);
  cr_assert_eq(b.cap, cap);
  cr_assert_eq(b.len, 10);
  buf_free(&b);
}

Test(buf, consume_drops_the_front) {
  buf b = BUF_INIT;
  cr_assert_eq(buf_append(&b, "abcdefgh", 8), 0);
  buf_consume(&b, 3);
  cr_assert_eq(b.len, 5);
  cr_assert_arr_eq(b.data, "defgh", 5);
  buf_consume(&b, 0);
  cr_assert_eq(b.len, 5);
  cr_assert_eq(buf_append(&b, "ij", 2), 0);
  cr_assert_arr_eq(b.data, "defghij", 7);
  buf_consume(&b, 7);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(buf_append(&b, "xy", 2), 0);
  buf_consume(&b, 100); /* more than there is: empties */
  cr_assert_eq(b.len, 0);
  buf_free(&b);
}

Test(buf, steal_moves_the_bytes_out) {
  buf b = BUF_INIT;
  cr_assert_eq(buf_append(&b, "payload", 7), 0);
  size_t len = 0;
  uint8_t *p = buf_steal(&b, &len);
  cr_assert_eq(len, 7);
  cr_assert_arr_eq(p, "payload", 7);
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(b.cap, 0);
  /* The buffer is usable again and does not share the stolen bytes. */
  cr_assert_eq(buf_append(&b, "new", 3), 0);
  cr_assert_neq(b.data, p);
  cr_assert_arr_eq(p, "payload", 7);
  free(p);
  cr_assert_null(buf_steal(&(buf)BUF_INIT, NULL));
  buf_free(&b);
}

Test(buf, reset_keeps_capacity) {
  buf b = BUF_INIT;
  cr_assert_eq(buf_append(&b, "abc", 3), 0);
  size_t cap = b.cap;
  buf_reset(&b);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(b.cap, cap);
  cr_assert_not_null(b.data);
  buf_free(&b);
}

/* A source of frames for buf_gather: `pieces` pieces of `size` bytes,
 * then `end` (0: nothing more; negative: an error). */
typedef struct frames {
  int pieces, pulls;
  long size, end;
  uint8_t bytes[64];
} frames;

static long pull_frames(void *src, const uint8_t **data) {
  frames *f = src;
  f->pulls++;
  if (f->pieces == 0)
    return f->end;
  f->pieces--;
  memset(f->bytes, 'a' + f->pieces % 26, (size_t)f->size);
  *data = f->bytes;
  return f->size;
}

Test(buf, gather_coalesces_until_the_source_is_dry) {
  buf b = BUF_INIT;
  frames f = {.pieces = 5, .size = 9, .end = 0};
  cr_assert_eq(buf_gather(&b, 1000, pull_frames, &f), 0);
  cr_assert_eq(b.len, 45);
  cr_assert_eq(f.pulls, 6);
  cr_assert_eq(b.data[0], 'e');
  cr_assert_eq(b.data[44], 'a');
  buf_free(&b);
}

Test(buf, gather_stops_at_the_high_mark_and_says_more_may_wait) {
  buf b = BUF_INIT;
  frames f = {.pieces = 10, .size = 16, .end = 0};
  cr_assert_eq(buf_gather(&b, 40, pull_frames, &f), 1);
  cr_assert_eq(b.len, 48, "the piece that crosses the mark is kept whole");
  cr_assert_eq(f.pieces, 7);
  cr_assert_eq(buf_gather(&b, 40, pull_frames, &f), 1, "already over: pulls nothing");
  cr_assert_eq(f.pieces, 7);
  buf_free(&b);
}

Test(buf, gather_passes_the_source_error_on) {
  buf b = BUF_INIT;
  frames f = {.pieces = 2, .size = 4, .end = ERR_PROTOCOL};
  cr_assert_eq(buf_gather(&b, 1000, pull_frames, &f), ERR_PROTOCOL);
  cr_assert_eq(b.len, 8, "what was gathered before the error stays");
  buf_free(&b);
}
