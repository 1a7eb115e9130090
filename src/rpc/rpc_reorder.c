/* SPDX-License-Identifier: MIT */
/* The reorder buffer of rpc_reorder.h: a per-index flag with a cursor for
 * input order, a FIFO ring for completion order. Both take O(1) per result
 * and `total` slots allocated once, at the batch's start. */
#include "rpc_reorder.h"

#include <stdlib.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"

void rpc_reorder_init(rpc_reorder *r, int32_t total, int in_order) {
  *r = (rpc_reorder){._total = total, ._in_order = in_order != 0};
  if (total <= 0)
    return;
  if (r->_in_order)
    r->_done = ocrpc_calloc((size_t)total, 1);
  else
    r->_ring = ocrpc_calloc((size_t)total, sizeof *r->_ring);
}

void rpc_reorder_free(rpc_reorder *r) {
  free(r->_done);
  free(r->_ring);
  r->_done = NULL;
  r->_ring = NULL;
}

void rpc_reorder_push(rpc_reorder *r, int32_t index) {
  if (index < 0 || index >= r->_total)
    return;
  if (r->_in_order)
    r->_done[index] = 1;
  else
    r->_ring[(r->_head + r->_held) % r->_total] = index;
  r->_held++;
}

int32_t rpc_reorder_peek(const rpc_reorder *r) {
  if (r->_held == 0)
    return -1;
  if (!r->_in_order)
    return r->_ring[r->_head];
  return r->_next < r->_total && r->_done[r->_next] ? r->_next : -1;
}

void rpc_reorder_pop(rpc_reorder *r) {
  if (r->_held == 0)
    return;
  if (r->_in_order) {
    r->_done[r->_next++] = 0;
  } else {
    r->_head = (r->_head + 1) % r->_total;
  }
  r->_held--;
}
