/* SPDX-License-Identifier: MIT */
/* The deadline timer source on a real uv loop: timers fire in deadline
 * order (start order for equal deadlines), stopped timers never fire, a
 * callback may start another timer, and closing the source leaves the
 * loop closable. */
#include <criterion/criterion.h>
#include <uv.h>

#include "loop/loop.h"

typedef struct rec {
  int order[16];
  int n;
  timer_src *src;
} rec;

typedef struct tag {
  rec *r;
  int id;
} tag;

static void on_fire(void *arg) {
  tag *t = arg;
  t->r->order[t->r->n++] = t->id;
}

static void on_fire_restart(void *arg) {
  tag *t = arg;
  on_fire(arg);
  t->id += 100;
  t->r->src->start(t->r->src, 0, on_fire, t);
}

static void close_and_check(uv_loop_t *loop, timer_src *src) {
  loop_timer_close(src);
  uv_run(loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(loop), 0);
}

Test(loop_timer, fire_in_deadline_order_and_stopped_ones_never) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  timer_src src;
  loop_timer_init(&src, &loop);
  rec r = {.src = &src};
  tag t[6];
  uint64_t ms[6] = {30, 10, 20, 10, 5, 25};
  timer *h[6];
  for (int i = 0; i < 6; i++) {
    t[i] = (tag){&r, i};
    h[i] = src.start(&src, ms[i], on_fire, &t[i]);
    cr_assert_not_null(h[i]);
  }
  src.stop(&src, h[5]);
  src.stop(&src, h[4]); /* the earliest: the source must re-arm */
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(r.n, 4);
  int want[4] = {1, 3, 2, 0}; /* 10 (first started), 10, 20, 30 */
  for (int i = 0; i < 4; i++)
    cr_assert_eq(r.order[i], want[i], "fired #%d: %d", i, r.order[i]);
  close_and_check(&loop, &src);
}

Test(loop_timer, a_callback_may_start_another_timer) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  timer_src src;
  loop_timer_init(&src, &loop);
  rec r = {.src = &src};
  tag t = {&r, 1};
  src.start(&src, 1, on_fire_restart, &t);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(r.n, 2);
  cr_assert_eq(r.order[0], 1);
  cr_assert_eq(r.order[1], 101);
  close_and_check(&loop, &src);
}

Test(loop_timer, pending_timers_do_not_keep_a_closed_source_alive) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  timer_src src;
  loop_timer_init(&src, &loop);
  rec r = {.src = &src};
  tag t[100];
  for (int i = 0; i < 100; i++) {
    t[i] = (tag){&r, i};
    cr_assert_not_null(src.start(&src, 60000 + (uint64_t)i, on_fire, &t[i]));
  }
  close_and_check(&loop, &src);
  cr_assert_eq(r.n, 0);
}
