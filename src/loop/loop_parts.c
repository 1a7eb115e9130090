/* SPDX-License-Identifier: MIT */
/* How a worker hands the parts of a split page to other workers
 * (ocr_engine_set_parts): libuv's pool takes work only from the loop
 * thread, so a worker queues the helper here and wakes the loop with an
 * async handle, which submits it through the executor like any job. After
 * close nothing more is accepted: the worker then reads its parts itself. */
#include <pthread.h>
#include <stdlib.h>
#include <uv.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "loop_parts.h"

typedef struct part_job {
  exec_job ej; /* first: the executor hands back &ej */
  ocr_part_fn fn;
  void *arg;
  struct part_job *next;
} part_job;

struct loop_parts {
  uv_async_t async;
  exec *ex;
  pthread_mutex_t mu;
  part_job *pending; /* posted, not yet submitted (newest first) */
  int closed;
};

/* Worker thread. */
static void part_work(exec_job *ej) {
  part_job *j = (part_job *)ej;
  j->fn(j->arg, 1);
}

static void part_done(exec_job *ej, int status) {
  part_job *j = (part_job *)ej;
  if (status)
    j->fn(j->arg, 0); /* taken back before it ran */
  free(j);
}

static void on_async(uv_async_t *h) {
  loop_parts *p = h->data;
  pthread_mutex_lock(&p->mu);
  part_job *j = p->pending;
  p->pending = NULL;
  pthread_mutex_unlock(&p->mu);
  while (j) {
    part_job *next = j->next;
    j->ej.work = part_work;
    j->ej.done = part_done;
    if (p->ex->submit(p->ex, &j->ej)) {
      j->fn(j->arg, 0);
      free(j);
    }
    j = next;
  }
}

int loop_parts_new(uv_loop_t *loop, exec *ex, loop_parts **out) {
  loop_parts *p = ocrpc_calloc(1, sizeof *p);
  if (uv_async_init(loop, &p->async, on_async)) {
    free(p);
    return ERR_NOMEM;
  }
  /* Waiting for helpers is no reason to keep the loop running. */
  uv_unref((uv_handle_t *)&p->async);
  p->async.data = p;
  p->ex = ex;
  pthread_mutex_init(&p->mu, NULL);
  *out = p;
  return 0;
}

int loop_parts_post(void *ud, ocr_part_fn fn, void *arg) {
  loop_parts *p = ud;
  part_job *j = ocrpc_malloc(sizeof *j);
  j->fn = fn;
  j->arg = arg;
  pthread_mutex_lock(&p->mu);
  if (p->closed) {
    pthread_mutex_unlock(&p->mu);
    free(j);
    return ERR_UNAVAILABLE;
  }
  j->next = p->pending;
  p->pending = j;
  /* Under the lock: close cannot end the handle in between. */
  uv_async_send(&p->async);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

void loop_parts_close(loop_parts *p) {
  if (!p)
    return;
  pthread_mutex_lock(&p->mu);
  if (p->closed) {
    pthread_mutex_unlock(&p->mu);
    return;
  }
  p->closed = 1;
  part_job *j = p->pending;
  p->pending = NULL;
  pthread_mutex_unlock(&p->mu);
  while (j) {
    part_job *next = j->next;
    j->fn(j->arg, 0);
    free(j);
    j = next;
  }
  uv_close((uv_handle_t *)&p->async, NULL);
}

void loop_parts_free(loop_parts *p) {
  if (!p)
    return;
  pthread_mutex_destroy(&p->mu);
  free(p);
}
