/* SPDX-License-Identifier: MIT */
/* timer_src over uv_timer_t: each timer is a heap-allocated handle, freed
 * in its close callback (never inside its own callback's caller frame). */
#include <stdlib.h>
#include <uv.h>

#include "loop.h"

struct timer {
  uv_timer_t h;
  timer_cb cb;
  void *arg;
};

static void on_closed(uv_handle_t *h) { free(h->data); }

static void on_fire(uv_timer_t *h) {
  struct timer *t = h->data;
  timer_cb cb = t->cb;
  void *arg = t->arg;
  uv_close((uv_handle_t *)h, on_closed);
  cb(arg);
}

static timer *start(timer_src *src, uint64_t ms, timer_cb cb, void *arg) {
  struct timer *t = malloc(sizeof *t);
  if (!t)
    return NULL;
  uv_timer_init(src->ud, &t->h);
  t->h.data = t;
  t->cb = cb;
  t->arg = arg;
  uv_timer_start(&t->h, on_fire, ms, 0);
  return t;
}

static void stop(timer_src *src, timer *t) {
  (void)src;
  if (!t)
    return;
  uv_timer_stop(&t->h);
  uv_close((uv_handle_t *)&t->h, on_closed);
}

static uint64_t now_ms(timer_src *src) { return uv_now(src->ud); }

void loop_timer_init(timer_src *src, uv_loop_t *loop) {
  src->start = start;
  src->stop = stop;
  src->now_ms = now_ms;
  src->ud = loop;
}
