/* SPDX-License-Identifier: MIT */
/* One-shot timers for layers that may not include uv.h (rpc deadlines,
 * job-store timeouts). src/loop provides them over uv_timer_t; tests may
 * provide a manual clock. Loop thread only. */
#ifndef OCRPC_BASE_TIMER_H
#define OCRPC_BASE_TIMER_H

#include <stdint.h>

typedef struct timer_src timer_src;
typedef struct timer timer;

typedef void (*timer_cb)(void *arg);

struct timer_src {
  /* Calls cb(arg) once after ms milliseconds, on the loop thread, unless
   * stopped first. Returns the timer (never NULL: out of memory aborts,
   * base/ocrpc_alloc.h). */
  timer *(*start)(timer_src *src, uint64_t ms, timer_cb cb, void *arg);
  /* Stops and frees the timer; the callback will not run. Must not be
   * called after the callback ran (the timer is freed then). NULL is a
   * no-op. */
  void (*stop)(timer_src *src, timer *t);
  /* Milliseconds of a monotonic clock. */
  uint64_t (*now_ms)(timer_src *src);
  void *ud;
};

#endif
