/* SPDX-License-Identifier: MIT */
/* The hook through which a worker reading a split page hands its parts to
 * idle workers (ocr_engine_set_parts): queued from any thread, submitted
 * to the executor by the loop thread. */
#ifndef OCRPC_LOOP_PARTS_H
#define OCRPC_LOOP_PARTS_H

#include "base/exec.h"
#include "ocr/ocr.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct loop_parts loop_parts;

/* Creates the hook on loop, submitting through ex (both borrowed, must
 * outlive it). 0 or ERR_NOMEM (libuv could not make its async handle).
 * Loop thread. */
int loop_parts_new(uv_loop_t *loop, exec *ex, loop_parts **out);

/* An ocr_post_fn (ud: the loop_parts): queues fn for a worker. 0, or
 * ERR_UNAVAILABLE (closed); fn is then never called. Any
 * thread. */
int loop_parts_post(void *ud, ocr_part_fn fn, void *arg);

/* Accepts nothing more, drops what waits to be submitted (fn(arg, 0)) and
 * closes the async handle. Idempotent; NULL is a no-op. Loop thread. */
void loop_parts_close(loop_parts *p);

/* Frees p once the loop has run the close to its end and no worker can
 * post any more (after the last uv_run). Loop thread. */
void loop_parts_free(loop_parts *p);

#endif
