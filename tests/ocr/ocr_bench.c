/* SPDX-License-Identifier: MIT */
/* Measures what the OCR layer costs on this machine: per-thread Tesseract
 * init for each language given, and repeated recognitions of one image on
 * an already warm thread. A tool for people, not a test: it prints and
 * asserts nothing. Runs everything on its main thread; with
 * OCR_BENCH_SPLIT=W the page may be split (ocr_split.c) onto W-1 helper
 * threads, warmed first, and each run also prints the thread CPU time of
 * the page's critical path, which the machine's load changes far less than
 * wall-clock time. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <leptonica/allheaders.h>

#include "ocr.h"
#include "base/clock.h"
#include "ocr_internal.h"

/* The helper pool: W-1 threads taking posted parts from one queue. */
typedef struct job {
  ocr_part_fn fn;
  void *arg;
  struct job *next;
} job;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static job *queue;
static int stopping, warm;
static ocr_engine *engine;
static char code[64];

static void *helper_main(void *unused) {
  (void)unused;
  ocr__tess_prepare(engine, code, 0);
  pthread_mutex_lock(&mu);
  warm++;
  pthread_cond_broadcast(&cv);
  for (;;) {
    while (queue == NULL && !stopping)
      pthread_cond_wait(&cv, &mu);
    if (queue == NULL)
      break;
    job *j = queue;
    queue = j->next;
    pthread_mutex_unlock(&mu);
    j->fn(j->arg, 1);
    free(j);
    pthread_mutex_lock(&mu);
  }
  pthread_mutex_unlock(&mu);
  return NULL;
}

static int post(void *ud, ocr_part_fn fn, void *arg) {
  job *j = malloc(sizeof(*j));

  (void)ud;
  if (j == NULL)
    return -1;
  j->fn = fn;
  j->arg = arg;
  pthread_mutex_lock(&mu);
  j->next = queue;
  queue = j;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  return 0;
}

static double thread_cpu_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  pthread_t helpers[16];
  int nhelpers = 0;
  ocr_config cfg = {0};
  ocr_engine *e;
  ocr_request req;
  const char *image, *lang;
  int i, n, rc;
  double t0;

  if (argc < 2) {
    fprintf(stderr,
            "usage: %s IMAGE [LANGUAGE [RUNS [ANGLE_CLS]]]\n"
            "  (OCR_BENCH_QUIET=1: no text; per-phase times are printed)\n",
            argv[0]);
    return 2;
  }
  image = argv[1];
  lang = argc > 2 ? argv[2] : "eng";
  n = argc > 3 ? atoi(argv[3]) : 5;
  cfg.kind = OCR_KIND_TESSERACT;
  cfg.image_root = "/";
  cfg.default_language = "eng";
  if ((rc = ocr_engine_new(&cfg, &e)) != 0) {
    fprintf(stderr, "engine: %d\n", rc);
    return 1;
  }
  printf("tesseract %s\n", ocr_engine_version(e));
  if (ocr_language_code(lang, code, sizeof(code)) != 0)
    return 1;

  engine = e;
  if (getenv("OCR_BENCH_SPLIT") != NULL && atoi(getenv("OCR_BENCH_SPLIT")) > 1) {
    int w = atoi(getenv("OCR_BENCH_SPLIT"));
    for (i = 0; i < w - 1 && i < 16; i++)
      if (pthread_create(&helpers[nhelpers], NULL, helper_main, NULL) == 0)
        nhelpers++;
    pthread_mutex_lock(&mu);
    while (warm < nhelpers)
      pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    ocr_engine_set_parts(e, w, post, NULL);
  }
  t0 = clock_mono_ms_f();
  rc = ocr__tess_prepare(e, code, 0);
  printf("init %s: %.1f ms (rc %d)\n", code, clock_mono_ms_f() - t0, rc);
  t0 = clock_mono_ms_f();
  rc = ocr__tess_prepare(e, code, 1);
  printf("init osd: %.1f ms (rc %d)\n", clock_mono_ms_f() - t0, rc);

  {
    PIX *pix = pixRead(image);
    ocr__page_survey s;
    t0 = clock_mono_ms_f();
    ocr__survey(pix, &s);
    printf("text scale %.3f uneven light %d (%.1f ms)\n", s.scale, s.uneven,
           clock_mono_ms_f() - t0);
    pixDestroy(&pix);
  }
  memset(&req, 0, sizeof(req));
  req.path = image;
  req.language = lang;
  req.psm = -1;
  req.use_angle_cls = argc > 4 ? atoi(argv[4]) : 0;
  req.timings = 1;
  for (i = 0; i < n; i++) {
    ocr_result r;
    double c0 = thread_cpu_ms(), cpu;
    ocr_result_init(&r);
    rc = ocr_engine_run(e, &req, &r);
    cpu = thread_cpu_ms() - c0;
    printf("run %d: rc %d %dx%d %.1f ms conf %.2f boxes %zu rot %d\n", i, rc, r.width,
           r.height, r.ocr_ms, r.confidence, r.nboxes, r.rotation);
    /* Critical path: this thread's CPU with its own parts replaced by the
     * busiest worker's. */
    printf(
        "  cpu %.1f critical %.1f ms (own parts %.1f, busiest %.1f) parts %d workers %d\n",
        cpu, cpu - r.parts_cpu_self_ms + r.parts_cpu_max_ms, r.parts_cpu_self_ms,
        r.parts_cpu_max_ms, r.parts, r.part_workers);
    printf("  decode %.1f orientation %.1f layout %.1f recognition %.1f encode %.3f ms\n",
           r.decode_ms, r.orientation_ms, r.layout_ms, r.recognition_ms, r.encode_ms);
    if (i == 0 && getenv("OCR_BENCH_QUIET") == NULL)
      printf("---\n%s\n---\n", r.text != NULL ? r.text : r.error_message);
    ocr_result_clear(&r);
  }
  ocr__tess_thread_release();
  pthread_mutex_lock(&mu);
  stopping = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  for (i = 0; i < nhelpers; i++)
    pthread_join(helpers[i], NULL);
  ocr_engine_free(e);
  return 0;
}
