/* SPDX-License-Identifier: MIT */
/* A timer_src (base/timer.h) over libuv: a heap of timers behind one
 * uv_timer_t. Its own library (ocrpc_uvtimer), because the client library
 * uses it as well as the server's loop. While a timer is pending the
 * handle keeps the loop alive, as a uv_timer_t per timer would. Loop
 * thread. */
#ifndef OCRPC_LOOP_TIMER_H
#define OCRPC_LOOP_TIMER_H

#include "base/timer.h"

typedef struct uv_loop_s uv_loop_t;

/* Initialises `src` on `loop`. */
void loop_timer_init(timer_src *src, uv_loop_t *loop);

/* Closes the source's handle; its memory goes in the close callback, so
 * the loop must run once more. Timers still pending never fire. */
void loop_timer_close(timer_src *src);

#endif
