/* SPDX-License-Identifier: MIT */
/* Recognition with Tesseract: exact text and one box per line, Korean,
 * orientation detection with boxes mapped back to the image as sent, the
 * confidence threshold, segmentation overrides, per-thread instance reuse,
 * the OpenMP limit and concurrent runs from two threads. Tests render
 * their images at start; worker threads are created and joined here. */
#include <criterion/criterion.h>
#include <leptonica/allheaders.h>
#include <math.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ocr.h"
#include "ocr_internal.h"
#include "ocr_test_util.h"

/* libgomp (omp.h), asked directly what the engine set. */
extern int omp_get_max_active_levels(void);

#define LINES3                                                                             \
  "The quick brown fox 123\nJumps over the lazy dog\nPack my box with five jugs"
#define KOREAN "안녕하세요 세계"
#define PAGE                                                                               \
  "It was the best of times, it was the worst\n"                                           \
  "of times, it was the age of wisdom, it was\n"                                           \
  "the age of foolishness, it was the epoch of\n"                                          \
  "belief, it was the epoch of incredulity, it\n"                                          \
  "was the season of Light, it was the season\n"                                           \
  "of Darkness, it was the spring of hope, it\n"                                           \
  "was the winter of despair."

static char *dir;
static ocr_engine *engine;

static void render(const char *name, const char *size, const char *font, int pointsize,
                   int x, int y, const char *text) {
  char p[PATH_MAX];

  cr_assert_eq(otu_render(otu_join(p, sizeof(p), dir, name), size, otu_font(font),
                          pointsize, x, y, text),
               0, "render %s", name);
}

static void setup(void) {
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT, .default_language = "eng"};

  dir = otu_tmpdir();
  cr_assert_not_null(dir);
  cfg.image_root = dir;
  cr_assert_eq(ocr_engine_new(&cfg, &engine), 0);
}

static void teardown(void) {
  ocr_engine_free(engine);
  ocr__tess_thread_release();
  otu_rmtree(dir);
  free(dir);
}

TestSuite(ocr_tess, .init = setup, .fini = teardown);

static int run(const char *path, const char *lang, int angle, ocr_result *r) {
  ocr_request req = {.path = path, .language = lang, .use_angle_cls = angle, .psm = -1};

  ocr_result_init(r);
  return ocr_engine_run(engine, &req, r);
}

/* Every corner of every box within [0,w] x [0,h]. */
static void expect_boxes_inside(const ocr_result *r, int w, int h) {
  size_t i;
  int k;

  for (i = 0; i < r->nboxes; i++)
    for (k = 0; k < 4; k++) {
      cr_expect_geq(r->boxes[i].quad[2 * k], 0.0f, "box %zu x%d", i, k);
      cr_expect_leq(r->boxes[i].quad[2 * k], (float)w, "box %zu x%d", i, k);
      cr_expect_geq(r->boxes[i].quad[2 * k + 1], 0.0f, "box %zu y%d", i, k);
      cr_expect_leq(r->boxes[i].quad[2 * k + 1], (float)h, "box %zu y%d", i, k);
    }
}

static float mid_x(const ocr_box *b) {
  return (b->quad[0] + b->quad[2] + b->quad[4] + b->quad[6]) / 4;
}

static float mid_y(const ocr_box *b) {
  return (b->quad[1] + b->quad[3] + b->quad[5] + b->quad[7]) / 4;
}

Test(ocr_tess, three_english_lines_exact_with_one_box_each) {
  ocr_result r;
  size_t i;

  render("lines.png", "800x200", "DejaVuSans", 36, 10, 50, LINES3);
  cr_assert_eq(run("lines.png", "english", 0, &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.text, LINES3);
  cr_assert_eq(r.nboxes, 3);
  cr_assert_eq(r.width, 800);
  cr_assert_eq(r.height, 200);
  cr_assert_str_eq(r.language, "eng");
  cr_assert_eq(r.rotation, 0);
  expect_boxes_inside(&r, 800, 200);
  for (i = 0; i < 3; i++) {
    const float *q = r.boxes[i].quad;
    /* Upright axis-aligned box, clockwise from top-left. */
    cr_expect_lt(q[0], q[2]);
    cr_expect_float_eq(q[1], q[3], 1e-6);
    cr_expect_float_eq(q[2], q[4], 1e-6);
    cr_expect_lt(q[3], q[5]);
    cr_expect_float_eq(q[4], q[6] + (q[2] - q[0]), 1e-3);
    cr_expect_geq(r.boxes[i].confidence, 0.5f);
    cr_expect_leq(r.boxes[i].confidence, 1.0f);
    if (i > 0)
      cr_expect_gt(mid_y(&r.boxes[i]), mid_y(&r.boxes[i - 1]), "top to bottom");
  }
  cr_assert_str_eq(r.boxes[1].text, "Jumps over the lazy dog");
  cr_assert_float_eq(
      r.confidence,
      (r.boxes[0].confidence + r.boxes[1].confidence + r.boxes[2].confidence) / 3, 1e-5);
  cr_assert_gt(r.ocr_ms, 0.0);
  ocr_result_clear(&r);
}

Test(ocr_tess, korean_line_with_nanum_gothic) {
  ocr_result r;

  render("kor.png", "600x100", "NanumGothic", 40, 10, 60, KOREAN);
  cr_assert_eq(run("kor.png", "korean", 0, &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.language, "kor");
  cr_assert_str_eq(r.text, KOREAN);
  cr_assert_eq(r.nboxes, 1);
  expect_boxes_inside(&r, 600, 100);
  ocr_result_clear(&r);
}

/* Orientation: the page as sent is turned clockwise by `turn` degrees;
 * the engine must read the upright text, report the correction, and give
 * boxes in the coordinates of the turned image. */
static void check_turned(int turn) {
  static const char *const none[] = {NULL};
  char in[PATH_MAX], out[PATH_MAX], name[32], deg[8];
  const char *rot[] = {"-rotate", deg, NULL};
  ocr_result r;
  int w, h;

  render("page.png", "640x480", "DejaVuSans", 24, 20, 40, PAGE);
  snprintf(deg, sizeof(deg), "%d", turn);
  snprintf(name, sizeof(name), "page%d.png", turn);
  cr_assert_eq(otu_convert(otu_join(in, sizeof(in), dir, "page.png"),
                           otu_join(out, sizeof(out), dir, name), turn ? rot : none),
               0);
  w = turn % 180 ? 480 : 640;
  h = turn % 180 ? 640 : 480;

  {
    ocr_request req = {
        .path = name, .language = "eng", .use_angle_cls = 1, .psm = -1, .timings = 1};
    ocr_result_init(&r);
    cr_assert_eq(ocr_engine_run(engine, &req, &r), 0, "%s", r.error_message);
  }
  cr_assert_str_eq(r.text, PAGE, "turned %d", turn);
  /* An upright page reads confidently as sent: the orientation detector
   * never runs. A turned one needs it. */
  if (turn == 0)
    cr_assert_eq(r.orientation_ms, 0.0, "OSD ran on an upright page");
  else
    cr_assert_gt(r.orientation_ms, 0.0, "OSD did not run on a page turned %d", turn);
  cr_assert_eq(r.rotation, (360 - turn) % 360);
  cr_assert_eq(r.width, w);
  cr_assert_eq(r.height, h);
  cr_assert_eq(r.nboxes, 7);
  expect_boxes_inside(&r, w, h);
  /* The first line of the upright page sits at its top: after the turn
   * that edge is on the right (90), bottom (180) or left (270). */
  switch (turn) {
  case 0:
    cr_assert_lt(mid_y(&r.boxes[0]), h / 4.0f);
    break;
  case 90:
    cr_assert_gt(mid_x(&r.boxes[0]), w * 3 / 4.0f);
    /* Clockwise from the text's own top-left, which is now top-right. */
    cr_assert_gt(r.boxes[0].quad[0], r.boxes[0].quad[4]);
    cr_assert_lt(r.boxes[0].quad[1], r.boxes[0].quad[3]);
    break;
  case 180:
    cr_assert_gt(mid_y(&r.boxes[0]), h * 3 / 4.0f);
    break;
  case 270:
    cr_assert_lt(mid_x(&r.boxes[0]), w / 4.0f);
    break;
  }
  ocr_result_clear(&r);
}

Test(ocr_tess, orientation_upright) { check_turned(0); }

Test(ocr_tess, orientation_90) { check_turned(90); }

Test(ocr_tess, orientation_180) { check_turned(180); }

Test(ocr_tess, orientation_270) { check_turned(270); }

Test(ocr_tess, orientation_with_too_little_text_leaves_image_alone) {
  ocr_result r;

  render("hi.png", "200x40", "DejaVuSans", 20, 5, 27, "Hi");
  cr_assert_eq(run("hi.png", "eng", 1, &r), 0, "%s", r.error_message);
  cr_assert_eq(r.rotation, 0);
  cr_assert_str_eq(r.text, "Hi");
  ocr_result_clear(&r);
}

Test(ocr_tess, confidence_threshold_drops_lines) {
  ocr_request req = {.path = "lines.png", .psm = -1};
  ocr_result all, strict;
  size_t i, kept = 0;

  render("lines.png", "800x200", "DejaVuSans", 36, 10, 50, LINES3);
  ocr_result_init(&all);
  cr_assert_eq(ocr_engine_run(engine, &req, &all), 0);
  cr_assert_eq(all.nboxes, 3);
  for (i = 0; i < all.nboxes; i++)
    kept += all.boxes[i].confidence >= 0.99f;
  /* Clean renders read at about 0.96: 0.99 must drop something. */
  cr_assert_lt(kept, 3);

  req.confidence_threshold = 0.99f;
  ocr_result_init(&strict);
  cr_assert_eq(ocr_engine_run(engine, &req, &strict), 0);
  cr_assert_eq(strict.nboxes, kept);
  for (i = 0; i < strict.nboxes; i++)
    cr_assert_geq(strict.boxes[i].confidence, 0.99f);
  if (kept == 0) {
    cr_assert_str_eq(strict.text, "");
    cr_assert_float_eq(strict.confidence, 0.0f, 1e-6);
  }
  ocr_result_clear(&all);
  ocr_result_clear(&strict);
}

Test(ocr_tess, segmentation_mode_override) {
  ocr_request req = {.path = "line.png", .psm = 7};
  ocr_result r;

  render("line.png", "640x80", "DejaVuSans", 36, 10, 55, "Hello World 123");
  ocr_result_init(&r);
  cr_assert_eq(ocr_engine_run(engine, &req, &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.text, "Hello World 123");
  ocr_result_clear(&r);

  req.psm = 0; /* orientation only: recognises nothing */
  cr_assert_eq(ocr_engine_run(engine, &req, &r), ERR_INVAL);
  ocr_result_clear(&r);
  req.psm = 14;
  cr_assert_eq(ocr_engine_run(engine, &req, &r), ERR_INVAL);
  ocr_result_clear(&r);
}

Test(ocr_tess, blank_page_is_empty_success) {
  char p[PATH_MAX];
  const char *argv[] = {
      OTU_CONVERT, "-size", "300x200", "xc:white", otu_join(p, sizeof(p), dir, "blank.png"),
      NULL};
  ocr_result r;

  cr_assert_eq(otu_run(argv), 0);
  cr_assert_eq(run("blank.png", "eng", 1, &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.text, "");
  cr_assert_eq(r.nboxes, 0);
  ocr_result_clear(&r);
}

Test(ocr_tess, instances_are_per_thread_per_language_and_reused) {
  ocr_result r;

  render("line.png", "640x80", "DejaVuSans", 36, 10, 55, "Hello World 123");
  cr_assert_eq(ocr__tess_thread_instances(), 0);
  cr_assert_eq(run("line.png", "eng", 0, &r), 0);
  ocr_result_clear(&r);
  cr_assert_eq(ocr__tess_thread_instances(), 1);
  cr_assert_eq(run("line.png", "english", 0, &r), 0);
  ocr_result_clear(&r);
  cr_assert_eq(ocr__tess_thread_instances(), 1, "same language, same instance");
  cr_assert_eq(run("line.png", "kor", 0, &r), 0);
  ocr_result_clear(&r);
  cr_assert_eq(ocr__tess_thread_instances(), 2);
  cr_assert_eq(run("line.png", "eng", 1, &r), 0);
  ocr_result_clear(&r);
  cr_assert_eq(ocr__tess_thread_instances(), 3, "plus the orientation detector");
  ocr__tess_thread_release();
  cr_assert_eq(ocr__tess_thread_instances(), 0);
}

/* Worker threads for the OpenMP and concurrency tests. */
typedef struct job {
  const char *path, *lang, *want;
  int runs;
  int ok;             /* runs that gave exactly `want` */
  int threads_before; /* this process's threads before the first run */
  int threads_after;  /* ... and after the last, same thread */
  int max_active_levels;
  int instances;
} job;

static void *worker(void *arg) {
  job *j = arg;
  int i;

  j->threads_before = otu_thread_count();
  for (i = 0; i < j->runs; i++) {
    ocr_request req = {.path = j->path, .language = j->lang, .psm = -1};
    ocr_result r;

    ocr_result_init(&r);
    if (ocr_engine_run(engine, &req, &r) == 0 && strcmp(r.text, j->want) == 0)
      j->ok++;
    ocr_result_clear(&r);
  }
  j->threads_after = otu_thread_count();
  j->max_active_levels = omp_get_max_active_levels();
  j->instances = ocr__tess_thread_instances();
  return NULL;
}

/* Tesseract's LSTM code asks OpenMP for 4 threads; limited, a recognition
 * in a worker adds no threads to the process. libgomp keeps the threads of
 * a team alive after the region, so any it had started would still be
 * counted after the run. */
Test(ocr_tess, openmp_is_limited_in_worker_threads) {
  job j = {.path = "page.png", .lang = "eng", .want = PAGE, .runs = 2};
  pthread_t t;

  render("page.png", "640x480", "DejaVuSans", 24, 20, 40, PAGE);
  cr_assert_eq(pthread_create(&t, NULL, worker, &j), 0);
  cr_assert_eq(pthread_join(t, NULL), 0);
  cr_assert_eq(j.ok, 2);
  cr_expect_eq(j.threads_after, j.threads_before, "before %d, after %d", j.threads_before,
               j.threads_after);
  cr_expect_eq(j.max_active_levels, 0);
  cr_assert_eq(j.instances, 1);
}

Test(ocr_tess, concurrent_runs_from_two_threads) {
  job jobs[2] = {
      {.path = "lines.png", .lang = "eng", .want = LINES3, .runs = 3},
      {.path = "kor.png", .lang = "korean", .want = KOREAN, .runs = 3},
  };
  pthread_t t[2];
  int i;

  render("lines.png", "800x200", "DejaVuSans", 36, 10, 50, LINES3);
  render("kor.png", "600x100", "NanumGothic", 40, 10, 60, KOREAN);
  for (i = 0; i < 2; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, worker, &jobs[i]), 0);
  for (i = 0; i < 2; i++)
    cr_assert_eq(pthread_join(t[i], NULL), 0);
  for (i = 0; i < 2; i++) {
    cr_assert_eq(jobs[i].ok, 3, "%s", jobs[i].path);
    cr_assert_eq(jobs[i].instances, 1, "one instance per thread, reused");
  }
  /* The joined threads' instances went with them; this thread has none. */
  cr_assert_eq(ocr__tess_thread_instances(), 0);
}

/* options["timings"]: every phase the request went through is measured,
 * and timing layout apart from recognition changes nothing read. */
Test(ocr_tess, timings_are_measured_and_change_nothing) {
  ocr_request req = {.path = "lines.png", .language = "eng", .use_angle_cls = 1, .psm = -1};
  ocr_result plain, timed;

  render("lines.png", "800x200", "DejaVuSans", 36, 10, 50, LINES3);
  ocr_result_init(&plain);
  cr_assert_eq(ocr_engine_run(engine, &req, &plain), 0, "%s", plain.error_message);
  cr_assert_eq(plain.timed, 0);
  cr_assert_eq(plain.layout_ms, 0.0);
  req.timings = 1;
  ocr_result_init(&timed);
  cr_assert_eq(ocr_engine_run(engine, &req, &timed), 0, "%s", timed.error_message);
  cr_assert_eq(timed.timed, 1);
  cr_assert_gt(timed.decode_ms, 0.0);
  cr_assert_gt(timed.layout_ms, 0.0);
  cr_assert_gt(timed.recognition_ms, 0.0);
  cr_assert_geq(timed.encode_ms, 0.0);
  cr_assert_leq(timed.decode_ms + timed.orientation_ms + timed.layout_ms +
                    timed.recognition_ms + timed.encode_ms,
                timed.ocr_ms + 0.001);
  cr_assert_str_eq(timed.text, plain.text);
  cr_assert_eq(timed.nboxes, plain.nboxes);
  for (size_t i = 0; i < timed.nboxes; i++)
    for (int k = 0; k < 8; k++)
      cr_assert_float_eq(timed.boxes[i].quad[k], plain.boxes[i].quad[k], 1e-6);
  ocr_result_clear(&plain);
  ocr_result_clear(&timed);
}

/* Text four times the size Tesseract needs (a 600 DPI scan of small
 * print) is read from a downscaled copy: the same text as the page at its
 * plain size, and boxes in the coordinates of the image as sent (four
 * times the small page's, within a few pixels of the rendering). */
Test(ocr_tess, large_text_is_read_downscaled_with_boxes_in_original_coordinates) {
  char p[PATH_MAX];
  ocr_result small, big;
  PIX *pix;
  size_t i;

  render("small.png", "640x480", "DejaVuSans", 24, 20, 40, PAGE);
  render("big.png", "2560x1920", "DejaVuSans", 96, 80, 160, PAGE);
  pix = pixRead(otu_join(p, sizeof(p), dir, "big.png"));
  cr_assert_not_null(pix);
  cr_assert_lt(ocr__text_scale(pix), 0.7, "the large page is not scaled");
  pixDestroy(&pix);
  pix = pixRead(otu_join(p, sizeof(p), dir, "small.png"));
  cr_assert_eq(ocr__text_scale(pix), 1.0, "a small page is scaled");
  pixDestroy(&pix);

  cr_assert_eq(run("small.png", "eng", 0, &small), 0, "%s", small.error_message);
  cr_assert_eq(run("big.png", "eng", 0, &big), 0, "%s", big.error_message);
  cr_assert_str_eq(big.text, PAGE);
  cr_assert_str_eq(big.text, small.text);
  cr_assert_eq(big.width, 2560);
  cr_assert_eq(big.nboxes, small.nboxes);
  expect_boxes_inside(&big, 2560, 1920);
  for (i = 0; i < big.nboxes; i++)
    for (int k = 0; k < 8; k++)
      cr_expect(fabsf(big.boxes[i].quad[k] - 4 * small.boxes[i].quad[k]) < 24.0f,
                "box %zu coordinate %d: %g vs 4 x %g", i, k, (double)big.boxes[i].quad[k],
                (double)small.boxes[i].quad[k]);
  ocr_result_clear(&small);
  ocr_result_clear(&big);
}
