/* SPDX-License-Identifier: MIT */
/* The delivery order of a batch's results. Images are recognised in
 * parallel and finish in any order; this unit says which finished result
 * to send next: in input order (the default, so that a client built from
 * the guide's .proto, which has no OCRBatchProgress.index, pairs results
 * with its inputs correctly) it holds a result until every result before it
 * was sent; in completion order it sends each one as soon as it is done.
 * Pure bookkeeping on indexes: no I/O, loop thread only. */
#ifndef OCRPC_RPC_REORDER_H
#define OCRPC_RPC_REORDER_H

#include <stdint.h>

typedef struct rpc_reorder {
  int32_t _total;
  int _in_order;
  uint8_t *_done; /* input order: finished and unsent, per index */
  int32_t _next;  /* input order: the next index to send */
  int32_t *_ring; /* completion order: finished, unsent indexes */
  int32_t _head;  /* completion order: ring position of the oldest */
  int32_t _held;  /* finished and not yet sent, in either order */
} rpc_reorder;

/* Prepares r for `total` results (0 allowed), in input order when
 * in_order is nonzero, else in completion order. */
void rpc_reorder_init(rpc_reorder *r, int32_t total, int in_order);

/* Frees what r holds. Idempotent. */
void rpc_reorder_free(rpc_reorder *r);

/* Records that result `index` (0 <= index < total, each at most once) is
 * finished and waits to be sent. */
void rpc_reorder_push(rpc_reorder *r, int32_t index);

/* The index to send next, or -1 when none may be sent yet (nothing
 * finished, or, in input order, the next one in line is still running). */
int32_t rpc_reorder_peek(const rpc_reorder *r);

/* Marks the result rpc_reorder_peek returned as sent. Only after a peek
 * that returned an index. */
void rpc_reorder_pop(rpc_reorder *r);

/* Finished results not yet sent (ready or held back for a predecessor):
 * they count against the batch's window, which bounds the memory that
 * holding results back can take. */
static inline int32_t rpc_reorder_held(const rpc_reorder *r) { return r->_held; }

#endif
