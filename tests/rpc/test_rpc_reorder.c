/* SPDX-License-Identifier: MIT */
/* The batch reorder buffer alone: input order holds a result back until
 * its predecessors are sent, completion order is first in first out, and
 * the held count (what the batch window charges) covers both ready and
 * held-back results. */
#include <criterion/criterion.h>

#include "rpc_reorder.h"

Test(rpc_reorder, input_order_holds_results_until_their_predecessors_are_sent) {
  rpc_reorder r;
  rpc_reorder_init(&r, 4, 1);
  cr_assert_eq(rpc_reorder_peek(&r), -1);
  rpc_reorder_push(&r, 2);
  rpc_reorder_push(&r, 1);
  cr_assert_eq(rpc_reorder_peek(&r), -1, "0 still running: nothing may go");
  cr_assert_eq(rpc_reorder_held(&r), 2);
  rpc_reorder_push(&r, 0);
  int32_t sent[4], n = 0, i;
  while ((i = rpc_reorder_peek(&r)) >= 0) {
    sent[n++] = i;
    rpc_reorder_pop(&r);
  }
  cr_assert_eq(n, 3);
  cr_assert(sent[0] == 0 && sent[1] == 1 && sent[2] == 2);
  cr_assert_eq(rpc_reorder_held(&r), 0);
  rpc_reorder_push(&r, 3);
  cr_assert_eq(rpc_reorder_peek(&r), 3);
  rpc_reorder_pop(&r);
  cr_assert_eq(rpc_reorder_peek(&r), -1);
  rpc_reorder_free(&r);
  rpc_reorder_free(&r);
}

Test(rpc_reorder, completion_order_sends_first_finished_first) {
  rpc_reorder r;
  rpc_reorder_init(&r, 3, 0);
  rpc_reorder_push(&r, 2);
  cr_assert_eq(rpc_reorder_peek(&r), 2);
  rpc_reorder_push(&r, 0);
  cr_assert_eq(rpc_reorder_held(&r), 2);
  rpc_reorder_pop(&r);
  cr_assert_eq(rpc_reorder_peek(&r), 0);
  rpc_reorder_pop(&r);
  rpc_reorder_push(&r, 1);
  cr_assert_eq(rpc_reorder_peek(&r), 1);
  rpc_reorder_pop(&r);
  cr_assert_eq(rpc_reorder_peek(&r), -1);
  cr_assert_eq(rpc_reorder_held(&r), 0);
  rpc_reorder_free(&r);
}

Test(rpc_reorder, empty_batch_and_out_of_range_indexes_are_harmless) {
  rpc_reorder r;
  rpc_reorder_init(&r, 0, 1);
  rpc_reorder_push(&r, 0);
  cr_assert_eq(rpc_reorder_peek(&r), -1);
  rpc_reorder_pop(&r);
  cr_assert_eq(rpc_reorder_held(&r), 0);
  rpc_reorder_free(&r);
}

Test(rpc_reorder, long_input_order_run_in_reverse_completion) {
  enum { N = 1000 };
  rpc_reorder r;
  rpc_reorder_init(&r, N, 1);
  for (int32_t i = N - 1; i > 0; i--)
    rpc_reorder_push(&r, i);
  cr_assert_eq(rpc_reorder_peek(&r), -1);
  cr_assert_eq(rpc_reorder_held(&r), N - 1);
  rpc_reorder_push(&r, 0);
  for (int32_t i = 0; i < N; i++) {
    cr_assert_eq(rpc_reorder_peek(&r), i);
    rpc_reorder_pop(&r);
  }
  cr_assert_eq(rpc_reorder_peek(&r), -1);
  rpc_reorder_free(&r);
}
