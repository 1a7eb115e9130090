/* SPDX-License-Identifier: MIT */
/* Image input: PNG, JPEG and TIFF by path and by bytes, pixel formats
 * Tesseract does not take as they are (palette, 16 bit, alpha, 1 bit),
 * undecodable inputs, the 1x1 image and the pixel limit checked from the
 * header. Images are rendered per test; runs on the test's main thread. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ocr.h"
#include "ocr_internal.h"
#include "ocr_test_util.h"

#define TEXT "The quick brown fox 123"

static char *dir;
static ocr_engine *engine;

static ocr_engine *make_engine(uint64_t max_pixels) {
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT,
                    .image_root = dir,
                    .default_language = "eng",
                    .max_pixels = max_pixels};
  ocr_engine *e = NULL;

  cr_assert_eq(ocr_engine_new(&cfg, &e), 0);
  return e;
}

/* dir/line.png: one clean English line, 640x80. */
static void setup(void) {
  char p[PATH_MAX];

  dir = otu_tmpdir();
  cr_assert_not_null(dir);
  engine = make_engine(0);
  cr_assert_eq(otu_render(otu_join(p, sizeof(p), dir, "line.png"), "640x80",
                          otu_font("DejaVuSans"), 36, 10, 55, TEXT),
               0);
}

static void teardown(void) {
  ocr_engine_free(engine);
  ocr__tess_thread_release();
  otu_rmtree(dir);
  free(dir);
}

TestSuite(ocr_image, .init = setup, .fini = teardown);

/* Converts dir/line.png into dir/name with extra convert arguments;
 * format ("PNG8") forces ImageMagick's output encoder, NULL keeps the
 * extension's. */
static void derive(const char *name, const char *format, const char *const extra[]) {
  char in[PATH_MAX], out[PATH_MAX];

  if (format != NULL)
    snprintf(out, sizeof(out), "%s:%s/%s", format, dir, name);
  else
    otu_join(out, sizeof(out), dir, name);
  cr_assert_eq(otu_convert(otu_join(in, sizeof(in), dir, "line.png"), out, extra), 0,
               "convert to %s", name);
}

static int run_path(ocr_engine *e, const char *path, ocr_result *r) {
  ocr_request req = {.path = path, .psm = -1};

  ocr_result_init(r);
  return ocr_engine_run(e, &req, r);
}

static int run_bytes(ocr_engine *e, const uint8_t *data, size_t len, ocr_result *r) {
  ocr_request req = {.data = data, .data_len = len, .psm = -1};

  ocr_result_init(r);
  return ocr_engine_run(e, &req, r);
}

static void expect_text_by_path(const char *name) {
  ocr_result r;

  cr_assert_eq(run_path(engine, name, &r), 0, "%s: %s", name, r.error_message);
  cr_assert_str_eq(r.text, TEXT, "%s", name);
  cr_assert_eq(r.width, 640);
  cr_assert_eq(r.height, 80);
  cr_assert_eq(r.nboxes, 1);
  ocr_result_clear(&r);
}

Test(ocr_image, png_jpeg_tiff_by_path) {
  static const char *const none[] = {NULL};
  static const char *const jpeg[] = {"-quality", "90", NULL};

  expect_text_by_path("line.png");
  derive("line.jpg", NULL, jpeg);
  expect_text_by_path("line.jpg");
  derive("line.tif", NULL, none);
  expect_text_by_path("line.tif");
}

Test(ocr_image, same_image_by_bytes) {
  static const char *const none[] = {NULL};
  static const char *names[] = {"line.png", "line.jpg", "line.tif"};
  char p[PATH_MAX];
  size_t i;

  derive("line.jpg", NULL, none);
  derive("line.tif", NULL, none);
  for (i = 0; i < 3; i++) {
    ocr_result r;
    size_t len;
    uint8_t *data = otu_read_file(otu_join(p, sizeof(p), dir, names[i]), &len);

    cr_assert_not_null(data);
    cr_assert_eq(run_bytes(engine, data, len, &r), 0, "%s: %s", names[i], r.error_message);
    cr_assert_str_eq(r.text, TEXT, "%s", names[i]);
    cr_assert_eq(r.width, 640);
    cr_assert_eq(r.height, 80);
    cr_assert_gt(r.ocr_ms, 0.0);
    ocr_result_clear(&r);
    free(data);
  }
}

Test(ocr_image, pixel_formats_are_converted) {
  static const char *const rgb16[] = {"-depth", "16", NULL};
  static const char *const gray16[] = {"-colorspace", "Gray", "-depth", "16", NULL};
  static const char *const mono[] = {"-monochrome", NULL};
  static const char *const none[] = {NULL};
  char p[PATH_MAX];
  const char *argv[] = {
      OTU_CONVERT,  "-size", "640x80", "xc:none", "-font",     otu_font("DejaVuSans"),
      "-pointsize", "36",    "-fill",  "black",   "-annotate", "+10+55",
      TEXT,         p,       NULL};

  derive("rgb48.png", "PNG48", rgb16);
  expect_text_by_path("rgb48.png");
  derive("gray16.png", NULL, gray16);
  expect_text_by_path("gray16.png");
  derive("palette.png", "PNG8", none);
  expect_text_by_path("palette.png");
  derive("mono.png", NULL, mono);
  expect_text_by_path("mono.png");
  derive("mono.tif", NULL, mono);
  expect_text_by_path("mono.tif");
  /* Black text on a transparent background: blended onto white, not
   * read as black on black. */
  snprintf(p, sizeof(p), "PNG32:%s/alpha.png", dir);
  cr_assert_eq(otu_run(argv), 0);
  expect_text_by_path("alpha.png");
}

Test(ocr_image, undecodable_inputs_are_decode_errors) {
  char p[PATH_MAX];
  ocr_result r;
  size_t len;
  uint8_t *png = otu_read_file(otu_join(p, sizeof(p), dir, "line.png"), &len);

  cr_assert_not_null(png);
  /* Truncated: the first half of a valid PNG. */
  cr_assert_eq(otu_write_file(otu_join(p, sizeof(p), dir, "trunc.png"), png, len / 2), 0);
  cr_assert_eq(run_path(engine, "trunc.png", &r), ERR_DECODE);
  cr_assert_not_null(r.error_message);
  ocr_result_clear(&r);
  cr_assert_eq(run_bytes(engine, png, len / 2, &r), ERR_DECODE);
  ocr_result_clear(&r);
  /* Cut inside the header. */
  cr_assert_eq(run_bytes(engine, png, 20, &r), ERR_DECODE);
  ocr_result_clear(&r);

  /* Corrupt: bytes flipped in the middle of the compressed data. */
  {
    uint8_t *bad = malloc(len);
    size_t i;
    memcpy(bad, png, len);
    for (i = len / 2; i < len / 2 + 16; i++)
      bad[i] ^= 0x5a;
    cr_assert_eq(run_bytes(engine, bad, len, &r), ERR_DECODE);
    ocr_result_clear(&r);
    free(bad);
  }

  /* Zero bytes, and a text file named like an image. */
  cr_assert_eq(otu_write_file(otu_join(p, sizeof(p), dir, "zero.png"), "", 0), 0);
  cr_assert_eq(run_path(engine, "zero.png", &r), ERR_DECODE);
  ocr_result_clear(&r);
  cr_assert_eq(
      otu_write_file(otu_join(p, sizeof(p), dir, "text.png"), "hello, not an image\n", 20),
      0);
  cr_assert_eq(run_path(engine, "text.png", &r), ERR_DECODE);
  ocr_result_clear(&r);
  cr_assert_eq(run_bytes(engine, (const uint8_t *)"hello", 5, &r), ERR_DECODE);
  ocr_result_clear(&r);

  /* A directory is no image either. */
  cr_assert_eq(
      otu_run((const char *[]){"/bin/mkdir", otu_join(p, sizeof(p), dir, "d.png"), NULL}),
      0);
  cr_assert_eq(run_path(engine, "d.png", &r), ERR_DECODE);
  ocr_result_clear(&r);
  free(png);
}

Test(ocr_image, one_pixel_image_is_empty_success) {
  char p[PATH_MAX];
  const char *argv[] = {
      OTU_CONVERT, "-size", "1x1", "xc:white", otu_join(p, sizeof(p), dir, "one.png"),
      NULL};
  ocr_result r;

  cr_assert_eq(otu_run(argv), 0);
  cr_assert_eq(run_path(engine, "one.png", &r), 0, "%s", r.error_message);
  cr_assert_str_eq(r.text, "");
  cr_assert_eq(r.nboxes, 0);
  cr_assert_float_eq(r.confidence, 0.0f, 1e-6);
  cr_assert_eq(r.width, 1);
  cr_assert_eq(r.height, 1);
  ocr_result_clear(&r);
}

Test(ocr_image, pixel_limit) {
  ocr_engine *small = make_engine(640 * 80 - 1);
  ocr_engine *exact = make_engine(640 * 80);
  char p[PATH_MAX];
  ocr_result r;
  size_t len;
  uint8_t *png = otu_read_file(otu_join(p, sizeof(p), dir, "line.png"), &len);

  cr_assert_eq(run_path(small, "line.png", &r), ERR_TOO_LARGE);
  cr_assert_not_null(r.error_message);
  cr_assert_eq(r.width, 640, "size from the header is still reported");
  ocr_result_clear(&r);
  cr_assert_eq(run_bytes(small, png, len, &r), ERR_TOO_LARGE);
  ocr_result_clear(&r);
  cr_assert_eq(run_path(exact, "line.png", &r), 0, "%s", r.error_message);
  ocr_result_clear(&r);
  ocr_engine_free(small);
  ocr_engine_free(exact);
  free(png);
}

static uint32_t crc32_png(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  size_t i;
  int k;

  for (i = 0; i < n; i++) {
    c ^= p[i];
    for (k = 0; k < 8; k++)
      c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* A PNG whose header claims 30000x30000 pixels (900 M) and which is cut
 * off 64 bytes in (leptonica reads PNG headers from 40 bytes on): refused as too large,
 * which proves the limit is checked from the header before any decoding (decoding would
 * fail as DECODE). */
Test(ocr_image, limit_is_checked_before_decoding) {
  char p[PATH_MAX];
  ocr_result r;
  size_t len;
  uint8_t *png = otu_read_file(otu_join(p, sizeof(p), dir, "line.png"), &len);

  cr_assert_not_null(png);
  cr_assert_eq(memcmp(png + 12, "IHDR", 4), 0);
  put32(png + 16, 30000);
  put32(png + 20, 30000);
  put32(png + 29, crc32_png(png + 12, 17));
  cr_assert_eq(run_bytes(engine, png, 64, &r), ERR_TOO_LARGE, "%s", r.error_message);
  ocr_result_clear(&r);
  free(png);
}

Test(ocr_image, request_without_image_is_invalid) {
  ocr_request req = {.psm = -1};
  ocr_result r;

  ocr_result_init(&r);
  cr_assert_eq(ocr_engine_run(engine, &req, &r), ERR_INVAL);
  cr_assert_not_null(r.error_message);
  ocr_result_clear(&r);
}
