/* SPDX-License-Identifier: MIT */
/* The libuv-backed executor on a real loop: work runs on a pool thread,
 * done on the loop thread; a job still queued can be taken back and then
 * completes with ERR_CANCELLED. Every test ends with uv_loop_close == 0. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "base/exec.h"
#include "loop/loop.h"

typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int started; /* the blocking job is running */
  int open;    /* the blocking job may finish */
} gate;

typedef struct tjob {
  exec_job ej; /* first */
  pthread_t work_thread, done_thread;
  int worked;
  int done_calls;
  int status;
  gate *g; /* non-NULL: block in work until the gate opens */
} tjob;

static pthread_t main_thread;

/* Worker thread. */
static void t_work(exec_job *ej) {
  tjob *j = (tjob *)ej;
  j->work_thread = pthread_self();
  j->worked++;
  if (j->g) {
    pthread_mutex_lock(&j->g->mu);
    j->g->started = 1;
    pthread_cond_broadcast(&j->g->cv);
    while (!j->g->open)
      pthread_cond_wait(&j->g->cv, &j->g->mu);
    pthread_mutex_unlock(&j->g->mu);
  }
}

static void t_done(exec_job *ej, int status) {
  tjob *j = (tjob *)ej;
  j->done_thread = pthread_self();
  j->done_calls++;
  j->status = status;
}

static void tjob_init(tjob *j, gate *g) {
  memset(j, 0, sizeof *j);
  j->ej.work = t_work;
  j->ej.done = t_done;
  j->g = g;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* Closes every handle and checks that nothing was left behind. */
static void finish_loop(uv_loop_t *loop) {
  uv_walk(loop, close_walk, NULL);
  cr_assert_eq(uv_run(loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(uv_loop_close(loop), 0, "the loop still has handles or requests");
}

Test(loop_exec, work_on_a_pool_thread_done_on_the_loop_thread) {
  main_thread = pthread_self();
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  exec ex;
  loop_exec_init(&ex, &loop);
  tjob j;
  tjob_init(&j, NULL);
  cr_assert_eq(ex.submit(&ex, &j.ej), 0);
  cr_assert_eq(j.done_calls, 0, "done ran inside submit");
  /* The queued work keeps the loop alive until done has run. */
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(j.worked, 1);
  cr_assert_eq(j.done_calls, 1);
  cr_assert_eq(j.status, 0);
  cr_assert_not(pthread_equal(j.work_thread, main_thread), "work ran on the loop thread");
  cr_assert(pthread_equal(j.done_thread, main_thread), "done ran off the loop thread");
  finish_loop(&loop);
}

Test(loop_exec, many_jobs_each_done_once) {
  main_thread = pthread_self();
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  exec ex;
  loop_exec_init(&ex, &loop);
  enum { N = 32 };
  static tjob jobs[N];
  for (int i = 0; i < N; i++) {
    tjob_init(&jobs[i], NULL);
    cr_assert_eq(ex.submit(&ex, &jobs[i].ej), 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(jobs[i].worked, 1, "job %d", i);
    cr_assert_eq(jobs[i].done_calls, 1, "job %d", i);
    cr_assert_eq(jobs[i].status, 0);
    cr_assert(pthread_equal(jobs[i].done_thread, main_thread));
  }
  finish_loop(&loop);
}

Test(loop_exec, queued_job_cancelled_gets_done_with_err_cancelled) {
  main_thread = pthread_self();
  /* One pool thread (this process has not used the pool yet): a job that
   * blocks it keeps the next one queued. */
  loop_pool_size(1);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  exec ex;
  loop_exec_init(&ex, &loop);

  gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
  tjob blocker, victim;
  tjob_init(&blocker, &g);
  tjob_init(&victim, NULL);
  cr_assert_eq(ex.submit(&ex, &blocker.ej), 0);
  pthread_mutex_lock(&g.mu);
  while (!g.started)
    pthread_cond_wait(&g.cv, &g.mu);
  pthread_mutex_unlock(&g.mu);

  cr_assert_eq(ex.submit(&ex, &victim.ej), 0);
  cr_assert_eq(ex.cancel(&ex, &victim.ej), 0, "a queued job could not be taken back");
  /* A running job cannot be. */
  cr_assert_lt(ex.cancel(&ex, &blocker.ej), 0);

  pthread_mutex_lock(&g.mu);
  g.open = 1;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);

  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(victim.worked, 0, "the cancelled job ran");
  cr_assert_eq(victim.done_calls, 1, "done was not called for the cancelled job");
  cr_assert_eq(victim.status, ERR_CANCELLED);
  cr_assert(pthread_equal(victim.done_thread, main_thread));
  cr_assert_eq(blocker.worked, 1);
  cr_assert_eq(blocker.done_calls, 1);
  cr_assert_eq(blocker.status, 0);
  finish_loop(&loop);
}
