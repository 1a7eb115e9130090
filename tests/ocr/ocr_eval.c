/* SPDX-License-Identifier: MIT */
/* Recognises files with the real engine and prints one TSV line per file:
 * name, ocr_ms, text (newlines as "\n"), line confidences. For quality
 * measurements (bench/quality.sh); not run by ctest.
 *   ocr_eval ROOT LANGUAGE PSM THRESHOLD FILE...   (PSM -1: automatic) */
#include <stdio.h>
#include <stdlib.h>

#include "ocr.h"

int main(int argc, char **argv) {
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT, .default_language = "eng"};
  ocr_engine *e;

  if (argc < 6) {
    fprintf(stderr, "usage: ocr_eval ROOT LANGUAGE PSM THRESHOLD FILE...\n");
    return 2;
  }
  cfg.image_root = argv[1];
  if (ocr_engine_new(&cfg, &e) != 0)
    return 1;
  for (int i = 5; i < argc; i++) {
    ocr_request req = {.path = argv[i],
                       .psm = atoi(argv[3]),
                       .language = argv[2],
                       .confidence_threshold = (float)atof(argv[4])};
    ocr_result r;

    ocr_result_init(&r);
    ocr_engine_run(e, &req, &r);
    printf("%s\t%.0f\t", argv[i], r.ocr_ms);
    for (const char *p = r.text ? r.text : ""; *p; p++)
      fputs(*p == '\n' ? "\\n" : *p == '\t' ? " " : (char[]){*p, 0}, stdout);
    putchar('\t');
    for (size_t k = 0; k < r.nboxes; k++)
      printf("%.2f ", r.boxes[k].confidence);
    putchar('\n');
    ocr_result_clear(&r);
  }
  ocr_engine_free(e);
  return 0;
}
