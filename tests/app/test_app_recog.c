/* SPDX-License-Identifier: MIT */
/* app_recog, the recognition path both front doors share: one trip to a
 * worker without the cache, read/lookup/recognise/store with it, hits
 * answered from the store, cancellation while queued, an executor that
 * refuses work, and admission control counting what it sheds. Mock engine,
 * in-process store, hand-run executors. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/metrics.h"

static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0,
                              0,    13,  'I', 'H', 'D',  'R',  0,    0,    0x01, 0x41,
                              0,    0,   0,   45,  8,    0,    0,    0,    0,    0,
                              0,    0,   0,   0,   0,    0,    0,    0,    0,    0};

/* An executor that queues; run_all runs (or cancels) what is queued. */
static exec_job *queue[8];
static int cancelled[8];
static size_t nq;
static int refuse;

static int q_submit(exec *ex, exec_job *j) {
  (void)ex;
  if (refuse)
    return ERR_UNAVAILABLE;
  cancelled[nq] = 0;
  queue[nq++] = j;
  return 0;
}

static int q_cancel(exec *ex, exec_job *j) {
  (void)ex;
  for (size_t i = 0; i < nq; i++)
    if (queue[i] == j && !cancelled[i]) {
      cancelled[i] = 1;
      return 0;
    }
  return ERR_INVAL;
}

static void run_all(void) {
  while (nq) {
    exec_job *j = queue[0];
    int c = cancelled[0];
    memmove(queue, queue + 1, (nq - 1) * sizeof queue[0]);
    memmove(cancelled, cancelled + 1, (nq - 1) * sizeof cancelled[0]);
    nq--;
    if (!c)
      j->work(j);
    j->done(j, c ? ERR_CANCELLED : 0);
  }
}

static exec ex = {q_submit, q_cancel, NULL, 0, 0};
static config cfg;
static ocr_engine *engine;
static jobs_store *jobs;
static app a;
static int ndone, last_status;

static void on_done(app_recog *r, int status) {
  (void)r;
  ndone++;
  last_status = status;
}

static void setup(void) {
  char *args[] = {"t", "--engine=mock", "--image-root=/tmp", NULL};
  char *env[] = {NULL};
  char err[128];
  cr_assert_eq(config_load(&cfg, 3, args, env, stderr, err, sizeof err), 0);
  ocr_config oc = {.kind = OCR_KIND_MOCK, .image_root = "/tmp", .default_language = "eng"};
  cr_assert_eq(ocr_engine_new(&oc, &engine), 0);
  ocr_quiet();
  cr_assert_eq(jobs_memory_new(3600 * 1000, &jobs), 0);
  app_init(&a, &cfg, engine, &ex);
  a.jobs = jobs;
  nq = 0;
  refuse = 0;
  ndone = 0;
  last_status = -1;
}

static void teardown(void) {
  jobs_free(jobs);
  ocr_engine_free(engine);
}

TestSuite(app, .init = setup, .fini = teardown);

static void prepare(app_recog *r) {
  app_recog_init(r);
  r->in.data = png;
  r->in.data_len = sizeof png;
}

Test(app, without_the_cache_one_worker_trip) {
  app_recog r;
  prepare(&r);
  cr_assert_eq(app_recog_start(&a, &r, 0, on_done), 0);
  cr_assert_eq(nq, 1);
  run_all();
  cr_assert_eq(ndone, 1);
  cr_assert_eq(last_status, 0);
  cr_assert_eq(r.out.err, 0);
  cr_assert_not_null(r.out.text);
  cr_assert_eq(r.cache, APP_CACHE_NONE);
  cr_assert_geq(app_recog_queue_ms(&r), 0);
  app_recog_clear(&r);
}

Test(app, inline_runs_an_instant_engine_at_once) {
  a.inline_instant = 1;
  app_recog r;
  prepare(&r);
  cr_assert_eq(app_recog_start(&a, &r, APP_RECOG_INLINE, on_done), 0);
  cr_assert_eq(nq, 0, "no trip to a worker");
  cr_assert_eq(ndone, 1);
  app_recog_clear(&r);
}

Test(app, cache_miss_then_hit) {
  a.cache_on = 1;
  a.cache_ttl_ms = 60000;
  app_recog r;
  prepare(&r);
  cr_assert_eq(app_recog_start(&a, &r, 0, on_done), 0);
  run_all(); /* read and hash, look up (a miss), recognise */
  cr_assert_eq(ndone, 1);
  cr_assert_eq(r.cache, APP_CACHE_MISS);
  cr_assert_eq(jobs_memory_cache_count(jobs), 1, "the fresh result was stored");
  char *text = strdup(r.out.text);
  app_recog_clear(&r);

  prepare(&r);
  cr_assert_eq(app_recog_start(&a, &r, 0, on_done), 0);
  run_all();
  cr_assert_eq(ndone, 2);
  cr_assert_eq(r.cache, APP_CACHE_HIT);
  cr_assert_str_eq(r.out.text, text);
  cr_assert_eq(a.cache_hits, 1);
  cr_assert_eq(a.cache_misses, 1);
  free(text);
  app_recog_clear(&r);
}

Test(app, failures_are_never_cached) {
  a.cache_on = 1;
  app_recog r;
  prepare(&r);
  r.in.data = NULL;
  r.in.data_len = 0;
  r.in.path = "ocrpc-app-test-no-such-file.png";
  cr_assert_eq(app_recog_start(&a, &r, 0, on_done), 0);
  run_all();
  cr_assert_eq(last_status, 0);
  cr_assert_eq(r.out.err, ERR_NOT_FOUND);
  cr_assert_eq(jobs_memory_cache_count(jobs), 0);
  app_recog_clear(&r);
}

Test(app, cancel_while_queued) {
  app_recog r;
  prepare(&r);
  cr_assert_eq(app_recog_start(&a, &r, 0, on_done), 0);
  cr_assert_eq(app_recog_cancel(&r), 0, "done still comes");
  run_all();
  cr_assert_eq(ndone, 1);
  cr_assert_eq(last_status, ERR_CANCELLED);
  app_recog_clear(&r);
}

Test(app, refused_by_the_executor) {
  refuse = 1;
  app_recog r;
  prepare(&r);
  cr_assert_eq(app_recog_start(&a, &r, 0, on_done), ERR_UNAVAILABLE);
  cr_assert_eq(ndone, 0, "no callback for work never queued");
  app_recog_clear(&r);
}

/* A timed result adds one observation to each phase's histogram; an
 * untimed one (a cache hit, a request without options timings=1) none. */
Test(app_metrics, phase_histograms_count_timed_results_only) {
  app ap;
  metrics *m;
  ocr_result r;
  buf out = BUF_INIT;

  memset(&ap, 0, sizeof ap);
  m = metrics_new();
  cr_assert_eq(app_metrics_register(&ap, m), 0);
  ocr_result_init(&r);
  snprintf(r.language, sizeof r.language, "eng");
  app_metrics_image(&ap, &r, 1.0);
  r.timed = 1;
  r.decode_ms = 2;
  r.layout_ms = 30;
  r.recognition_ms = 400;
  app_metrics_image(&ap, &r, 1.0);
  metrics_render(m, &out);
  buf_append(&out, "", 1);
  const char *t = (const char *)out.data;
  cr_assert(strstr(t, "ocr_phase_seconds_count{phase=\"decode\"} 1\n"), "%s", t);
  cr_assert(strstr(t, "ocr_phase_seconds_count{phase=\"orientation\"} 1\n"), "%s", t);
  cr_assert(strstr(t, "ocr_phase_seconds_sum{phase=\"recognition\"} 0.4\n"), "%s", t);
  cr_assert(strstr(t, "ocr_phase_seconds_sum{phase=\"layout\"} 0.03\n"), "%s", t);
  cr_assert(strstr(t, "ocr_recognition_seconds_count 2\n"), "%s", t);
  buf_free(&out);
  metrics_free(m);
}

/* app_admit refuses when the queue is full or the deadline is too near,
 * and each refusal adds exactly one to its series of
 * ocr_requests_shed_total; admitted requests add nothing. */
Test(app, admit_counts_what_it_sheds) {
  metrics *m = metrics_new();
  cr_assert_eq(app_metrics_register(&a, m), 0);
  cfg.workers = 1;
  cfg.max_queued_jobs = 2;
  snprintf(cfg.shed_by_deadline, sizeof cfg.shed_by_deadline, "on");
  char msg[160];
  ex.service_ms = 100;
  ex.in_flight = 2; /* one running, one queued */
  cr_assert_eq(app_admit(&a, APP_DOOR_GRPC, 0, msg, sizeof msg), 0);
  cr_assert_eq(app_admit(&a, APP_DOOR_HTTP, 0, msg, sizeof msg), 0);
  uint64_t far = clock_mono_ns() + 3600ull * 1000000000ull;
  cr_assert_eq(app_admit(&a, APP_DOOR_GRPC, far, msg, sizeof msg), 0);
  /* The one queued job takes ~100 ms; 1 ms is left. */
  uint64_t near = clock_mono_ns() + 1000000ull;
  cr_assert_eq(app_admit(&a, APP_DOOR_GRPC, near, msg, sizeof msg), 1);
  cr_assert(strstr(msg, "deadline"), "%s", msg);
  ex.in_flight = 3; /* two queued: full */
  for (int i = 0; i < 3; i++)
    cr_assert_eq(app_admit(&a, APP_DOOR_GRPC, 0, msg, sizeof msg), 1);
  cr_assert(strstr(msg, "--max-queued-jobs 2"), "%s", msg);
  cr_assert_eq(app_admit(&a, APP_DOOR_HTTP, 0, msg, sizeof msg), 1);
  ex.in_flight = 0;
  ex.service_ms = 0;

  buf out = BUF_INIT;
  metrics_render(m, &out);
  buf_append(&out, "", 1);
  const char *t = (const char *)out.data;
  cr_assert(strstr(t, "# TYPE ocr_requests_shed_total counter\n"), "%s", t);
  cr_assert(
      strstr(t, "ocr_requests_shed_total{protocol=\"grpc\",reason=\"queue_full\"} 3\n"),
      "%s", t);
  cr_assert(strstr(t, "ocr_requests_shed_total{protocol=\"grpc\",reason=\"deadline\"} 1\n"),
            "%s", t);
  cr_assert(
      strstr(t, "ocr_requests_shed_total{protocol=\"http\",reason=\"queue_full\"} 1\n"),
      "%s", t);
  cr_assert(strstr(t, "ocr_requests_shed_total{protocol=\"http\",reason=\"deadline\"} 0\n"),
            "%s", t);
  buf_free(&out);
  metrics_free(m);
}
