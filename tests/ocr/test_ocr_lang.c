/* SPDX-License-Identifier: MIT */
/* Language names: the guide's names and Tesseract codes map to the code
 * Tesseract loads; malformed, unknown or uninstalled languages are
 * ERR_LANGUAGE naming the language. Runs on the test's main thread. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ocr.h"
#include "ocr_internal.h"
#include "ocr_test_util.h"

static char code[64];

static const char *map(const char *name) {
  if (ocr_language_code(name, code, sizeof(code)) != 0)
    return NULL;
  return code;
}

Test(ocr_lang, guide_names_map_to_tesseract_codes) {
  cr_assert_str_eq(map("korean"), "kor");
  cr_assert_str_eq(map("english"), "eng");
  cr_assert_str_eq(map("Korean"), "kor");
  cr_assert_str_eq(map("ENGLISH"), "eng");
  cr_assert_str_eq(map("japanese"), "jpn");
  cr_assert_str_eq(map("chinese"), "chi_sim");
  cr_assert_str_eq(map("korean+english"), "kor+eng");
}

Test(ocr_lang, tesseract_codes_pass_through) {
  cr_assert_str_eq(map("kor"), "kor");
  cr_assert_str_eq(map("eng"), "eng");
  cr_assert_str_eq(map("kor+eng"), "kor+eng");
  cr_assert_str_eq(map("chi_sim"), "chi_sim");
  /* Syntax only: whether it is installed is the engine's question. */
  cr_assert_str_eq(map("klingon"), "klingon");
}

Test(ocr_lang, malformed_names_are_refused) {
  static const char *bad[] = {"",          "+",      "eng+",   "+eng",
                              "kor++eng",  "../eng", "eng/..", "eng;rm",
                              "e\xc3\xa9", "eng1",   "osd",    "kor+osd"};
  size_t i;

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_expect_eq(ocr_language_code(bad[i], code, sizeof(code)), ERR_LANGUAGE, "%s", bad[i]);
  cr_assert_eq(ocr_language_code(NULL, code, sizeof(code)), ERR_LANGUAGE);
}

Test(ocr_lang, result_must_fit_the_buffer) {
  char small[4], longname[200];

  cr_assert_eq(ocr_language_code("kor", small, sizeof(small)), 0);
  cr_assert_str_eq(small, "kor");
  cr_assert_eq(ocr_language_code("kor+eng", small, sizeof(small)), ERR_LANGUAGE);
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  cr_assert_eq(ocr_language_code(longname, code, sizeof(code)), ERR_LANGUAGE);
}

Test(ocr_lang, korean_decides_segmentation) {
  cr_assert(ocr__language_is_korean("kor"));
  cr_assert(ocr__language_is_korean("eng+kor"));
  cr_assert(ocr__language_is_korean("kor_vert"));
  cr_assert_not(ocr__language_is_korean("eng"));
  cr_assert_not(ocr__language_is_korean("korx"));
}

/* Engine-level checks: an image, a root, an engine. */
static char *dir;
static ocr_engine *engine;
static char image[PATH_MAX];

static void setup(void) {
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT, .default_language = "eng"};

  dir = otu_tmpdir();
  cr_assert_not_null(dir);
  cfg.image_root = dir;
  cr_assert_eq(ocr_engine_new(&cfg, &engine), 0);
  otu_join(image, sizeof(image), dir, "hello.png");
  cr_assert_eq(
      otu_render(image, "500x80", otu_font("DejaVuSans"), 36, 10, 55, "Hello World 123"),
      0);
}

static void teardown(void) {
  ocr_engine_free(engine);
  ocr__tess_thread_release();
  otu_rmtree(dir);
  free(dir);
}

static int run(const char *language, ocr_result *r) {
  ocr_request req = {.path = "hello.png", .language = language, .psm = -1};

  ocr_result_init(r);
  return ocr_engine_run(engine, &req, r);
}

Test(ocr_lang_engine, unknown_language_is_named_in_the_message, .init = setup,
     .fini = teardown) {
  ocr_result r;

  cr_assert_eq(run("klingon", &r), ERR_LANGUAGE);
  cr_assert_not_null(r.error_message);
  cr_assert_not_null(strstr(r.error_message, "klingon"), "%s", r.error_message);
  ocr_result_clear(&r);

  cr_assert_eq(run("kor+klingon", &r), ERR_LANGUAGE);
  cr_assert_not_null(strstr(r.error_message, "klingon"), "%s", r.error_message);
  ocr_result_clear(&r);

  cr_assert_eq(run("eng;rm -rf", &r), ERR_LANGUAGE);
  cr_assert_not_null(strstr(r.error_message, "eng;rm -rf"), "%s", r.error_message);
  ocr_result_clear(&r);
}

Test(ocr_lang_engine, english_runs_as_eng, .init = setup, .fini = teardown) {
  ocr_result r;

  cr_assert_eq(run("english", &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.language, "eng");
  cr_assert_str_eq(r.text, "Hello World 123");
  ocr_result_clear(&r);
}

Test(ocr_lang_engine, korean_runs_as_kor, .init = setup, .fini = teardown) {
  ocr_result r;

  cr_assert_eq(run("korean", &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.language, "kor");
  ocr_result_clear(&r);
}

Test(ocr_lang_engine, empty_language_uses_the_default, .init = setup, .fini = teardown) {
  ocr_result r;

  cr_assert_eq(run("", &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.language, "eng");
  ocr_result_clear(&r);
  cr_assert_eq(run(NULL, &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.language, "eng");
  ocr_result_clear(&r);
}

Test(ocr_lang_engine, default_language_must_be_installed) {
  ocr_config cfg = {
      .kind = OCR_KIND_TESSERACT, .image_root = "/", .default_language = "klingon"};
  ocr_engine *e = (ocr_engine *)&cfg;

  cr_assert_eq(ocr_engine_new(&cfg, &e), ERR_CONFIG);
  cr_assert_eq(e, (ocr_engine *)&cfg, "*out untouched on failure");
  cfg.default_language = "not a language";
  cr_assert_eq(ocr_engine_new(&cfg, &e), ERR_CONFIG);
  cfg.default_language = NULL; /* "korean" */
  cr_assert_eq(ocr_engine_new(&cfg, &e), 0);
  ocr_engine_free(e);
}
