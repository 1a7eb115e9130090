/* SPDX-License-Identifier: MIT */
/* The decoder: an executor with one thread of its own, apart from libuv's
 * pool (the recognition workers), for decoding large request messages off
 * the loop. A 100 MiB message of tiny protobuf fields takes the better part
 * of a second to decode: on the loop that froze every client, and on the
 * pool it would wait behind queued recognitions. Jobs run one at a time in
 * submission order; results come back to the loop through a uv_async_t.
 * The thread starts with the first job: while a process has one thread,
 * glibc's malloc skips its atomics, and the mock engine's hot path (no
 * worker pool either) stays ~300 instructions per call cheaper. */
#include <pthread.h>
#include <stdlib.h>
#include <uv.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "base/log.h"
#include "loop_internal.h"

/* What the decoder keeps in a job's _impl: the list link and the status
 * done will get. */
typedef struct dj {
  exec_job *next;
  int status;
} dj;

_Static_assert(sizeof(dj) <= sizeof(((exec_job *)0)->_impl),
               "exec_job._impl too small for the decoder's link");

typedef struct decoder {
  uv_async_t async; /* first: the async callback's handle is the decoder */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  exec_job *todo, *todo_tail; /* submitted, not started (under mu) */
  exec_job *done;             /* finished or cancelled, in any order (under mu) */
  int stop;                   /* under mu */
  int started;                /* the thread runs (loop thread only) */
  exec *ex;
} decoder;

static dj *link_of(exec_job *j) { return (dj *)j->_impl; }

/* Under mu. */
static void push_done(decoder *d, exec_job *j, int status) {
  link_of(j)->status = status;
  link_of(j)->next = d->done;
  d->done = j;
}

/* The decoder thread. */
static void *run(void *arg) {
  decoder *d = arg;
  pthread_mutex_lock(&d->mu);
  for (;;) {
    while (!d->todo && !d->stop)
      pthread_cond_wait(&d->cv, &d->mu);
    if (d->stop)
      break;
    exec_job *j = d->todo;
    d->todo = link_of(j)->next;
    if (!d->todo)
      d->todo_tail = NULL;
    pthread_mutex_unlock(&d->mu);
    j->work(j);
    pthread_mutex_lock(&d->mu);
    push_done(d, j, 0);
    uv_async_send(&d->async);
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

/* Loop thread: hands finished jobs back, oldest first. */
static void deliver(decoder *d) {
  pthread_mutex_lock(&d->mu);
  exec_job *list = d->done;
  d->done = NULL;
  pthread_mutex_unlock(&d->mu);
  exec_job *rev = NULL; /* the list is newest first */
  while (list) {
    exec_job *n = link_of(list)->next;
    link_of(list)->next = rev;
    rev = list;
    list = n;
  }
  while (rev) {
    exec_job *n = link_of(rev)->next;
    d->ex->in_flight--;
    rev->done(rev, link_of(rev)->status);
    rev = n;
  }
}

static void on_async(uv_async_t *a) { deliver((decoder *)a); }

static int submit(exec *ex, exec_job *job) {
  decoder *d = ex->ud;
  if (!d->started) {
    if (pthread_create(&d->thread, NULL, run, d)) {
      log_warn("cannot start the decoder thread: a large message is decoded on the loop");
      return ERR_UNAVAILABLE;
    }
    d->started = 1;
  }
  link_of(job)->next = NULL;
  pthread_mutex_lock(&d->mu);
  if (d->todo_tail)
    link_of(d->todo_tail)->next = job;
  else
    d->todo = job;
  d->todo_tail = job;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
  ex->in_flight++;
  return 0;
}

static int cancel(exec *ex, exec_job *job) {
  decoder *d = ex->ud;
  int rc = ERR_INVAL; /* running or ran */
  pthread_mutex_lock(&d->mu);
  for (exec_job **p = &d->todo, *prev = NULL; *p; prev = *p, p = &link_of(*p)->next) {
    if (*p != job)
      continue;
    *p = link_of(job)->next;
    if (d->todo_tail == job)
      d->todo_tail = prev;
    push_done(d, job, ERR_CANCELLED);
    uv_async_send(&d->async);
    rc = 0;
    break;
  }
  pthread_mutex_unlock(&d->mu);
  return rc;
}

static void on_closed(uv_handle_t *h) { free(h); }

int loop__decoder_init(exec *ex, uv_loop_t *loop) {
  decoder *d = ocrpc_calloc(1, sizeof *d);
  d->ex = ex;
  if (pthread_mutex_init(&d->mu, NULL)) {
    free(d);
    return ERR_NOMEM;
  }
  if (pthread_cond_init(&d->cv, NULL)) {
    pthread_mutex_destroy(&d->mu);
    free(d);
    return ERR_NOMEM;
  }
  if (uv_async_init(loop, &d->async, on_async)) {
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return ERR_NOMEM;
  }
  uv_unref((uv_handle_t *)&d->async); /* never holds up the loop's end */
  ex->submit = submit;
  ex->cancel = cancel;
  ex->ud = d;
  ex->in_flight = 0;
  ex->service_ms = 0;
  return 0;
}

void loop__decoder_close(exec *ex) {
  decoder *d = ex->ud;
  if (!d)
    return;
  pthread_mutex_lock(&d->mu);
  d->stop = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
  if (d->started)
    pthread_join(d->thread, NULL); /* after the job it runs, if any */
  /* Jobs never started are handed back cancelled, with those done. */
  while (d->todo) {
    exec_job *j = d->todo;
    d->todo = link_of(j)->next;
    push_done(d, j, ERR_CANCELLED);
  }
  d->todo_tail = NULL;
  deliver(d);
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  ex->ud = NULL;
  uv_close((uv_handle_t *)&d->async, on_closed);
}
