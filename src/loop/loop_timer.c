/* SPDX-License-Identifier: MIT */
/* timer_src for call deadlines: a binary min-heap of timers driven by one
 * uv_timer_t, with nodes recycled through a free list. Every call with a
 * grpc-timeout starts and stops one; a uv handle per call (init, start,
 * stop, close, free in the close callback) cost a fifth of a mock call's
 * throughput (bench/RESULTS.md). The client library's call deadlines use
 * it too. Loop thread. */
#include <stdlib.h>
#include <uv.h>

#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "loop_timer.h"

struct timer {
  uint64_t due;
  uint64_t seq; /* equal deadlines fire in start order */
  size_t idx;   /* position in the heap */
  timer_cb cb;
  void *arg;
  struct timer *next_free;
};

typedef struct loop_timers {
  uv_timer_t uv;
  uv_loop_t *loop;
  struct timer **heap;
  size_t n, cap;
  uint64_t seq;
  struct timer *free_list;
} loop_timers;

static int before(const struct timer *a, const struct timer *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(loop_timers *lt, struct timer *t, size_t i) {
  lt->heap[i] = t;
  t->idx = i;
}

static void sift_up(loop_timers *lt, size_t i) {
  struct timer *t = lt->heap[i];
  while (i > 0 && before(t, lt->heap[(i - 1) / 2])) {
    place(lt, lt->heap[(i - 1) / 2], i);
    i = (i - 1) / 2;
  }
  place(lt, t, i);
}

static void sift_down(loop_timers *lt, size_t i) {
  struct timer *t = lt->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= lt->n)
      break;
    if (c + 1 < lt->n && before(lt->heap[c + 1], lt->heap[c]))
      c++;
    if (!before(lt->heap[c], t))
      break;
    place(lt, lt->heap[c], i);
    i = c;
  }
  place(lt, t, i);
}

static void remove_at(loop_timers *lt, size_t i) {
  OCRPC_ASSERT(i < lt->n && lt->heap[i]->idx == i);
  struct timer *last = lt->heap[--lt->n];
  if (i == lt->n)
    return;
  place(lt, last, i);
  sift_down(lt, i);
  sift_up(lt, last->idx);
}

static void release(loop_timers *lt, struct timer *t) {
  t->next_free = lt->free_list;
  lt->free_list = t;
}

static void on_fire(uv_timer_t *h);

/* Arms the uv timer for the earliest deadline (or stops it). */
static void arm(loop_timers *lt) {
  if (lt->n == 0) {
    uv_timer_stop(&lt->uv);
    return;
  }
  uint64_t now = uv_now(lt->loop), due = lt->heap[0]->due;
  uv_timer_start(&lt->uv, on_fire, due > now ? due - now : 0, 0);
}

static void on_fire(uv_timer_t *h) {
  loop_timers *lt = h->data;
  uint64_t now = uv_now(lt->loop);
  while (lt->n > 0 && lt->heap[0]->due <= now) {
    struct timer *t = lt->heap[0];
    remove_at(lt, 0);
    timer_cb cb = t->cb;
    void *arg = t->arg;
    release(lt, t); /* fired timers are freed: the callback may start more */
    cb(arg);
  }
  arm(lt);
}

static timer *start(timer_src *src, uint64_t ms, timer_cb cb, void *arg) {
  loop_timers *lt = src->ud;
  struct timer *t = lt->free_list;
  if (t) {
    lt->free_list = t->next_free;
  } else {
    t = ocrpc_malloc(sizeof *t);
  }
  if (lt->n == lt->cap) {
    size_t cap = lt->cap ? lt->cap * 2 : 64;
    lt->heap = ocrpc_realloc(lt->heap, cap * sizeof *lt->heap);
    lt->cap = cap;
  }
  t->due = uv_now(lt->loop) + ms;
  t->seq = lt->seq++;
  t->cb = cb;
  t->arg = arg;
  lt->heap[lt->n] = t;
  t->idx = lt->n++;
  sift_up(lt, t->idx);
  /* Heap order: no timer is due before its parent. */
  OCRPC_ASSERT(t->idx == 0 || !before(t, lt->heap[(t->idx - 1) / 2]));
  if (t->idx == 0)
    arm(lt);
  return t;
}

static void stop(timer_src *src, timer *t) {
  if (!t)
    return;
  loop_timers *lt = src->ud;
  /* Only a pending timer may be stopped: not one that fired or stopped. */
  OCRPC_ASSERT(t->idx < lt->n && lt->heap[t->idx] == t);
  remove_at(lt, t->idx);
  release(lt, t);
  /* The uv timer stays armed for the old earliest deadline, if that was
   * this one: when it fires it finds nothing due and re-arms. */
  if (lt->n == 0)
    uv_timer_stop(&lt->uv);
}

static uint64_t now_ms(timer_src *src) {
  loop_timers *lt = src->ud;
  return uv_now(lt->loop);
}

void loop_timer_init(timer_src *src, uv_loop_t *loop) {
  loop_timers *lt = ocrpc_calloc(1, sizeof *lt);
  lt->loop = loop;
  uv_timer_init(loop, &lt->uv);
  lt->uv.data = lt;
  src->start = start;
  src->stop = stop;
  src->now_ms = now_ms;
  src->ud = lt;
}

static void on_closed(uv_handle_t *h) {
  loop_timers *lt = h->data;
  while (lt->free_list) {
    struct timer *t = lt->free_list;
    lt->free_list = t->next_free;
    free(t);
  }
  for (size_t i = 0; i < lt->n; i++)
    free(lt->heap[i]);
  free(lt->heap);
  free(lt);
}

void loop_timer_close(timer_src *src) {
  loop_timers *lt = src->ud;
  if (lt && !uv_is_closing((uv_handle_t *)&lt->uv))
    uv_close((uv_handle_t *)&lt->uv, on_closed);
  src->ud = NULL;
}
