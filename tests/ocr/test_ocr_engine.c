/* SPDX-License-Identifier: MIT */
/* The engine object: validation in ocr_engine_new, names and versions,
 * the mock engine's fixed answer, cancellation before start and
 * ocr_result_clear. Runs on the test's main thread. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "ocr.h"
#include "ocr_internal.h"
#include "ocr_test_util.h"

static char *dir;

static void setup(void) {
  dir = otu_tmpdir();
  cr_assert_not_null(dir);
}

static void teardown(void) {
  ocr__tess_thread_release();
  otu_rmtree(dir);
  free(dir);
}

TestSuite(ocr_engine, .init = setup, .fini = teardown);

static ocr_engine *make(ocr_kind kind) {
  ocr_config cfg = {.kind = kind, .image_root = dir, .default_language = "eng"};
  ocr_engine *e = NULL;

  cr_assert_eq(ocr_engine_new(&cfg, &e), 0);
  return e;
}

Test(ocr_engine, mock_gives_its_fixed_answer) {
  ocr_engine *e = make(OCR_KIND_MOCK);
  /* The file does not exist: the mock never looks. */
  ocr_request req = {.path = "no/such/file.png", .psm = -1};
  ocr_result r;

  cr_assert_str_eq(ocr_engine_name(e), "mock");
  ocr_result_init(&r);
  cr_assert_eq(ocr_engine_run(e, &req, &r), 0);
  cr_assert_eq(r.err, 0);
  cr_assert_null(r.error_message);
  cr_assert_str_eq(r.text, "mock text");
  cr_assert_eq(r.nboxes, 1);
  cr_assert_str_eq(r.boxes[0].text, "mock text");
  cr_assert_float_eq(r.boxes[0].confidence, 0.99f, 1e-6);
  cr_assert_float_eq(r.confidence, 0.99f, 1e-6);
  cr_assert_eq(r.width, 0);
  cr_assert_eq(r.height, 0);
  cr_assert_str_eq(r.language, "eng");
  cr_assert_eq(r.rotation, 0);
  cr_assert_eq(ocr__tess_thread_instances(), 0, "the mock never starts Tesseract");
  ocr_result_clear(&r);
  ocr_engine_free(e);
}

Test(ocr_engine, mock_reads_size_of_inline_bytes) {
  ocr_engine *e = make(OCR_KIND_MOCK);
  char p[PATH_MAX];
  const char *argv[] = {
      OTU_CONVERT, "-size", "321x123", "xc:white", otu_join(p, sizeof(p), dir, "blank.png"),
      NULL};
  ocr_request req = {.language = "korean", .psm = -1};
  ocr_result r;
  uint8_t *data;
  size_t len;

  cr_assert_eq(otu_run(argv), 0);
  data = otu_read_file(p, &len);
  cr_assert_not_null(data);
  req.data = data;
  req.data_len = len;
  ocr_result_init(&r);
  cr_assert_eq(ocr_engine_run(e, &req, &r), 0);
  cr_assert_eq(r.width, 321);
  cr_assert_eq(r.height, 123);
  cr_assert_str_eq(r.text, "mock text");
  cr_assert_str_eq(r.language, "kor");
  ocr_result_clear(&r);
  ocr_engine_free(e);
  free(data);
}

Test(ocr_engine, cancel_already_raised) {
  static const char *const kinds[] = {"mock", "tesseract"};
  volatile int cancel = 1;
  ocr_request req = {.path = "x.png", .psm = -1, .cancel = &cancel};
  int k;

  for (k = 0; k < 2; k++) {
    ocr_engine *e = make(k == 0 ? OCR_KIND_MOCK : OCR_KIND_TESSERACT);
    ocr_result r;

    ocr_result_init(&r);
    cr_assert_eq(ocr_engine_run(e, &req, &r), ERR_CANCELLED, "%s", kinds[k]);
    cr_assert_eq(r.err, ERR_CANCELLED);
    cr_assert_null(r.text);
    ocr_result_clear(&r);
    ocr_engine_free(e);
  }
}

Test(ocr_engine, names_and_versions) {
  ocr_engine *t = make(OCR_KIND_TESSERACT);
  ocr_engine *m = make(OCR_KIND_MOCK);

  cr_assert_str_eq(ocr_engine_name(t), "tesseract");
  cr_assert_str_eq(ocr_engine_version(t), ocr__tess_version());
  cr_assert_neq(ocr_engine_version(t), ocr__tess_version(), "a copy in our storage");
  cr_assert_eq(strncmp(ocr_engine_version(t), "5.", 2), 0);
  cr_assert_str_eq(ocr_engine_name(m), "mock");
  cr_assert_not_null(ocr_engine_version(m));
  ocr_engine_free(t);
  ocr_engine_free(m);
}

Test(ocr_engine, new_validates_its_configuration) {
  char p[PATH_MAX], td[PATH_MAX];
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT, .default_language = "eng"};
  ocr_engine *e = NULL;

  cfg.image_root = otu_join(p, sizeof(p), dir, "missing");
  cr_assert_eq(ocr_engine_new(&cfg, &e), ERR_CONFIG);
  cr_assert_null(e);
  cr_assert_eq(otu_write_file(p, "x", 1), 0);
  cr_assert_eq(ocr_engine_new(&cfg, &e), ERR_CONFIG, "root is a file");
  cfg.kind = OCR_KIND_MOCK;
  cr_assert_eq(ocr_engine_new(&cfg, &e), ERR_CONFIG, "the mock checks the root too");
  cfg.kind = (ocr_kind)7;
  cfg.image_root = dir;
  cr_assert_eq(ocr_engine_new(&cfg, &e), ERR_CONFIG, "unknown kind");
  cr_assert_eq(ocr_engine_new(NULL, &e), ERR_CONFIG);

  /* A tessdata directory holding only English: English works, Korean as
   * the default is refused, a missing directory is refused. */
  cfg.kind = OCR_KIND_TESSERACT;
  otu_join(td, sizeof(td), dir, "tessdata");
  cr_assert_eq(mkdir(td, 0755), 0);
  otu_join(p, sizeof(p), td, "eng.traineddata");
  cr_assert_eq(symlink("/usr/share/tesseract-ocr/5/tessdata/eng.traineddata", p), 0);
  cfg.tessdata_dir = td;
  cr_assert_eq(ocr_engine_new(&cfg, &e), 0);
  ocr_engine_free(e);
  e = NULL;
  cfg.default_language = "korean";
  cr_assert_eq(ocr_engine_new(&cfg, &e), ERR_CONFIG);
  cfg.default_language = "eng";
  cfg.tessdata_dir = otu_join(p, sizeof(p), dir, "no-tessdata");
  cr_assert_eq(ocr_engine_new(&cfg, &e), ERR_CONFIG);
  cr_assert_null(e);

  /* The mock needs no tessdata at all. */
  cfg.kind = OCR_KIND_MOCK;
  cr_assert_eq(ocr_engine_new(&cfg, &e), 0);
  ocr_engine_free(e);
}

Test(ocr_engine, request_language_missing_from_tessdata) {
  char p[PATH_MAX], td[PATH_MAX];
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT,
                    .image_root = dir,
                    .default_language = "eng",
                    .tessdata_dir = td};
  ocr_request req = {.path = "x.png", .language = "korean", .psm = -1};
  ocr_engine *e;
  ocr_result r;

  otu_join(td, sizeof(td), dir, "tessdata");
  cr_assert_eq(mkdir(td, 0755), 0);
  cr_assert_eq(symlink("/usr/share/tesseract-ocr/5/tessdata/eng.traineddata",
                       otu_join(p, sizeof(p), td, "eng.traineddata")),
               0);
  cr_assert_eq(ocr_engine_new(&cfg, &e), 0);
  ocr_result_init(&r);
  cr_assert_eq(ocr_engine_run(e, &req, &r), ERR_LANGUAGE);
  cr_assert_not_null(strstr(r.error_message, "kor"), "%s", r.error_message);
  ocr_result_clear(&r);
  ocr_engine_free(e);
}

Test(ocr_engine, free_and_clear_accept_empty) {
  ocr_result r;

  ocr_engine_free(NULL);
  ocr_result_init(&r);
  ocr_result_clear(&r);
  ocr_result_clear(NULL);
  cr_assert_null(r.text);
  cr_assert_eq(r.nboxes, 0);
}

/* Many boxes exercise the growth of the box array. */
Test(ocr_engine, result_boxes_grow_and_join) {
  static const float quad[8] = {0};
  ocr_result r;
  char want[512] = "";
  int i;

  ocr_result_init(&r);
  for (i = 0; i < 37; i++) {
    char *t = malloc(8);
    snprintf(t, 8, "l%d", i);
    strcat(want, t);
    if (i < 36)
      strcat(want, "\n");
    ocr__result_add_box(&r, t, 0.5f + (i % 2) * 0.25f, quad);
  }
  ocr__result_finish(&r);
  cr_assert_eq(r.nboxes, 37);
  cr_assert_str_eq(r.text, want);
  cr_assert_float_eq(r.confidence, (19 * 0.5f + 18 * 0.75f) / 37, 1e-5);
  ocr_result_clear(&r);
  cr_assert_null(r.boxes);
}
