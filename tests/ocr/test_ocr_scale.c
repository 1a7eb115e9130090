/* SPDX-License-Identifier: MIT */
/* The page survey before recognition (ocr_scale.c): a photo-like page
 * (light falling off to one side) is found uneven and read with adaptive
 * binarisation, giving the text and boxes of the same page evenly lit; a
 * plain page of the same size, or one with a dark band, a printed photo or
 * grey boxes, keeps the old path (no scaling, global threshold); a page downscaled for its
 * large text is still split across idle workers, with boxes in the coordinates of the image
 * as sent. Images are rendered here; helper "workers" are threads joined at the end. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>

#include "base/err.h"
#include "ocr.h"
#include "ocr_internal.h"
#include "ocr_test_parts.h"
#include "ocr_test_util.h"

#define PAGE                                                                               \
  "Invoice 2024-0173 was issued on 12 March\n"                                             \
  "The committee met on Tuesday to review\n"                                               \
  "Please send all correspondence before\n"                                                \
  "A quiet river winds through the valley\n"                                               \
  "Temperature readings rose from 18 to 23\n"                                              \
  "Order number 88213 ships within two days"

static char *dir;
static ocr_engine *whole, *parted;

static void setup(void) {
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT, .default_language = "eng"};

  dir = otu_tmpdir();
  cr_assert_not_null(dir);
  cfg.image_root = dir;
  cr_assert_eq(ocr_engine_new(&cfg, &whole), 0);
  cr_assert_eq(ocr_engine_new(&cfg, &parted), 0);
  ocr_engine_set_parts(parted, 4, otp_post, NULL);
}

static void teardown(void) {
  otp_join();
  ocr_engine_free(whole);
  ocr_engine_free(parted);
  ocr__tess_thread_release();
  otu_rmtree(dir);
  free(dir);
}

TestSuite(ocr_scale, .init = setup, .fini = teardown);

static void render(const char *name, const char *size, int pointsize, int x, int y) {
  char p[PATH_MAX];

  cr_assert_eq(otu_render(otu_join(p, sizeof(p), dir, name), size, otu_font("DejaVuSans"),
                          pointsize, x, y, PAGE),
               0, "render %s", name);
}

static int run(ocr_engine *e, const char *path, ocr_result *r) {
  ocr_request req = {.path = path, .language = "eng", .psm = -1};

  ocr_result_init(r);
  return ocr_engine_run(e, &req, r);
}

static ocr__page_survey survey(const char *name) {
  char p[PATH_MAX];
  ocr__page_survey s;
  PIX *pix = pixRead(otu_join(p, sizeof(p), dir, name));

  cr_assert_not_null(pix, "read %s", name);
  ocr__survey(pix, &s);
  pixDestroy(&pix);
  return s;
}

static float mid(const ocr_box *b, int axis) {
  return (b->quad[axis] + b->quad[2 + axis] + b->quad[4 + axis] + b->quad[6 + axis]) / 4;
}

/* Edit distance between a and b (short texts). */
static size_t distance(const char *a, const char *b) {
  size_t n = strlen(b), *row = calloc(n + 1, sizeof(*row));

  cr_assert_not_null(row);
  for (size_t j = 0; j <= n; j++)
    row[j] = j;
  for (size_t i = 1; a[i - 1]; i++) {
    size_t diag = row[0];

    row[0] = i;
    for (size_t j = 1; j <= n; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

      best = up + 1 < best ? up + 1 : best;
      best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
      diag = up;
      row[j] = best;
    }
  }
  n = row[n];
  free(row);
  return n;
}

/* At most typos characters apart from ref's text, and every box's centre
 * within tol pixels of ref's. */
static void expect_same_reading(const ocr_result *r, const ocr_result *ref, size_t typos,
                                float tol) {
  cr_assert_not_null(r->text);
  cr_expect_leq(distance(r->text, ref->text), typos, "%s\n  vs\n%s", r->text, ref->text);
  cr_assert_eq(r->nboxes, ref->nboxes);
  for (size_t i = 0; i < r->nboxes; i++)
    for (int axis = 0; axis < 2; axis++)
      cr_expect(fabsf(mid(&r->boxes[i], axis) - mid(&ref->boxes[i], axis)) <= tol,
                "box %zu axis %d: %g vs %g", i, axis, (double)mid(&r->boxes[i], axis),
                (double)mid(&ref->boxes[i], axis));
}

/* A 2400 x 1200 page (2.9 MP, text at about 300 DPI size), and the same
 * page as a phone would see it under a lamp to its right: brightness
 * falling to 35 % at the left edge, where a global threshold turns the
 * paper black (the old path read nothing). Read whole and split. */
Test(ocr_scale, uneven_light_reads_adaptively_with_boxes_in_original_coordinates) {
  char p[PATH_MAX], q[PATH_MAX];
  const char *shade[] = {
      "(",        "-size",    "1200x2400",  "gradient:white-gray35", "-rotate", "90", ")",
      "-compose", "multiply", "-composite", "-colorspace",           "Gray",    NULL};
  ocr__page_survey plain_s, photo_s;
  ocr_result plain, photo;

  render("plain.png", "2400x1200", 40, 100, 150);
  cr_assert_eq(otu_convert(otu_join(p, sizeof(p), dir, "plain.png"),
                           otu_join(q, sizeof(q), dir, "photo.png"), shade),
               0);
  plain_s = survey("plain.png");
  photo_s = survey("photo.png");
  cr_expect_eq(plain_s.uneven, 0, "an evenly lit page is taken for a photo");
  cr_expect_eq(plain_s.scale, 1.0);
  cr_expect_eq(photo_s.uneven, 1, "the shaded page is not found uneven");
  cr_expect_eq(photo_s.scale, 1.0);

  cr_assert_eq(run(whole, "plain.png", &plain), 0, "%s", plain.error_message);
  cr_assert_eq(run(whole, "photo.png", &photo), 0, "%s", photo.error_message);
  cr_expect_str_eq(plain.text, PAGE);
  cr_expect_eq(photo.width, 2400);
  cr_expect_eq(photo.height, 1200);
  /* Sauvola's strokes differ a little from Otsu's on clean paper: a
   * character or two may read differently (here "guiet"), not lines. */
  expect_same_reading(&photo, &plain, 2, 4.0f);
  ocr_result_clear(&photo);
  /* Split across idle workers, the layout and every part binarise the
   * same way. */
  cr_assert_eq(run(parted, "photo.png", &photo), 0, "%s", photo.error_message);
  otp_join();
  cr_expect_geq(photo.parts, 2, "the photo was not split (%d parts)", photo.parts);
  expect_same_reading(&photo, &plain, 2, 4.0f);
  ocr_result_clear(&plain);
  ocr_result_clear(&photo);
}

/* Evenly lit pages whose "paper" changes in steps — a dark header band,
 * a photo printed beside the text, a grey box under it — are not taken
 * for uneven light: they keep the global threshold (an adaptive one reads
 * a printed photo's texture as characters). */
Test(ocr_scale, printed_dark_areas_are_not_uneven_light) {
  char p[PATH_MAX], q[PATH_MAX];
  const char *band[] = {"-fill", "gray20", "-draw", "rectangle 0,0 2399,260", NULL};
  const char *photo[] = {"-fill", "gray30", "-draw", "rectangle 1500,300 2300,1100", NULL};
  const char *box[] = {"-fill", "gray80", "-draw", "rectangle 0,600 1400,1199",
                       "-fill", "gray40", "-draw", "rectangle 1700,0 2399,1199",
                       NULL};

  render("plain.png", "2400x1200", 40, 100, 150);
  otu_join(p, sizeof(p), dir, "plain.png");
  cr_assert_eq(otu_convert(p, otu_join(q, sizeof(q), dir, "band.png"), band), 0);
  cr_assert_eq(otu_convert(p, otu_join(q, sizeof(q), dir, "printed.png"), photo), 0);
  cr_assert_eq(otu_convert(p, otu_join(q, sizeof(q), dir, "box.png"), box), 0);
  cr_expect_eq(survey("band.png").uneven, 0, "a dark header band taken for uneven light");
  cr_expect_eq(survey("printed.png").uneven, 0, "a printed photo taken for uneven light");
  cr_expect_eq(survey("box.png").uneven, 0, "grey boxes taken for uneven light");
}

/* Text three times the size Tesseract needs, on a page large enough to
 * split: the split reads the downscaled copy in parts, and its boxes land
 * where the whole reading of the same copy puts them, in the coordinates
 * of the image as sent. */
Test(ocr_scale, downscaled_page_is_split_with_boxes_in_original_coordinates) {
  ocr__page_survey s;
  ocr_result a, b;

  render("big.png", "3600x2000", 96, 120, 260);
  s = survey("big.png");
  cr_assert_lt(s.scale, 0.7, "the large text is not scaled (%g)", s.scale);
  cr_expect_eq(s.uneven, 0);
  cr_assert_eq(run(whole, "big.png", &a), 0, "%s", a.error_message);
  cr_assert_eq(run(parted, "big.png", &b), 0, "%s", b.error_message);
  otp_join();
  cr_expect_str_eq(a.text, PAGE);
  cr_expect_eq(a.parts, 1);
  cr_expect_geq(b.parts, 2, "the scaled page was not split (%d parts)", b.parts);
  cr_expect_eq(b.width, 3600);
  for (size_t i = 0; i < b.nboxes; i++)
    for (int k = 0; k < 4; k++) {
      cr_expect(b.boxes[i].quad[2 * k] >= 0 && b.boxes[i].quad[2 * k] <= 3600, "box %zu",
                i);
      cr_expect(b.boxes[i].quad[2 * k + 1] >= 0 && b.boxes[i].quad[2 * k + 1] <= 2000,
                "box %zu", i);
    }
  /* The first line's box starts near where it was drawn (x = 120,
   * baseline y = 260 at 96 pt): original coordinates, not the copy's. */
  cr_assert_gt(b.nboxes, 0);
  cr_expect(fabsf(b.boxes[0].quad[0] - 120) < 40, "first box x %g",
            (double)b.boxes[0].quad[0]);
  cr_expect(b.boxes[0].quad[5] > 200 && b.boxes[0].quad[5] < 300, "first box bottom %g",
            (double)b.boxes[0].quad[5]);
  /* Parts are cut from the copy and mapped back with its scale: within a
   * few of the copy's pixels of the whole reading. */
  expect_same_reading(&b, &a, 0, 4.0f / (float)s.scale);
  ocr_result_clear(&a);
  ocr_result_clear(&b);
}
