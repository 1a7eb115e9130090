/* SPDX-License-Identifier: MIT */
/* Measures what the OCR layer costs on this machine: per-thread Tesseract
 * init for each language given, and repeated recognitions of one image on
 * an already warm thread. A tool for people, not a test: it prints and
 * asserts nothing. Runs everything on its main thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "ocr.h"
#include "base/clock.h"
#include "ocr_internal.h"

int main(int argc, char **argv) {
  ocr_config cfg = {0};
  ocr_engine *e;
  ocr_request req;
  const char *image, *lang;
  char code[64];
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

  t0 = ((double)clock_mono_ns() / 1e6);
  rc = ocr__tess_prepare(e, code, 0);
  printf("init %s: %.1f ms (rc %d)\n", code, ((double)clock_mono_ns() / 1e6) - t0, rc);
  t0 = ((double)clock_mono_ns() / 1e6);
  rc = ocr__tess_prepare(e, code, 1);
  printf("init osd: %.1f ms (rc %d)\n", ((double)clock_mono_ns() / 1e6) - t0, rc);

  {
    PIX *pix = pixRead(image);
    double f;
    t0 = ((double)clock_mono_ns() / 1e6);
    f = ocr__text_scale(pix);
    printf("text scale %.3f (%.1f ms)\n", f, ((double)clock_mono_ns() / 1e6) - t0);
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
    ocr_result_init(&r);
    rc = ocr_engine_run(e, &req, &r);
    printf("run %d: rc %d %dx%d %.1f ms conf %.2f boxes %zu rot %d\n", i, rc, r.width,
           r.height, r.ocr_ms, r.confidence, r.nboxes, r.rotation);
    printf("  decode %.1f orientation %.1f layout %.1f recognition %.1f encode %.3f ms\n",
           r.decode_ms, r.orientation_ms, r.layout_ms, r.recognition_ms, r.encode_ms);
    if (i == 0 && getenv("OCR_BENCH_QUIET") == NULL)
      printf("---\n%s\n---\n", r.text != NULL ? r.text : r.error_message);
    ocr_result_clear(&r);
  }
  ocr__tess_thread_release();
  ocr_engine_free(e);
  return 0;
}
