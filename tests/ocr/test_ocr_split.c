/* SPDX-License-Identifier: MIT */
/* One page on several workers (ocr_split.c): a rendered two-column page
 * read in parts gives the text of the whole-page reading, in its order,
 * with every line's box where the whole-page reading put it (also when the
 * page is large enough for its layout to be found at half size); a page is
 * read whole when no worker is idle; a cancelled split page leaves no part
 * running. The "workers" are threads this test starts for each posted
 * helper and joins at the end. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "ocr.h"
#include "ocr_internal.h"
#include "ocr_test_parts.h"
#include "ocr_test_util.h"

#define HEADING "Quarterly Report of the Harbour Office"
#define LEFT                                                                               \
  "Ships arrived in the spring\n"                                                          \
  "were fewer than last year,\n"                                                           \
  "but their cargo was larger\n"                                                           \
  "and the quays were busy\n"                                                              \
  "from early morning until\n"                                                             \
  "late in the evening."
#define RIGHT                                                                              \
  "The new crane lifted 4120\n"                                                            \
  "containers in ninety days\n"                                                            \
  "without a single fault,\n"                                                              \
  "and the pilots asked for\n"                                                             \
  "two more boats before the\n"                                                            \
  "autumn storms begin."

static char *dir;
static ocr_engine *whole, *parted;

/* A heading over two columns of six lines, 1000 x 1100 pixels. */
static void render_page(void) {
  char p[PATH_MAX], q[PATH_MAX];
  const char *font = otu_font("DejaVuSans");
  const char *extra[] = {"-font", font,        "-pointsize", "22",  "-annotate", "+60+220",
                         LEFT,    "-annotate", "+540+220",   RIGHT, NULL};

  cr_assert_not_null(font);
  cr_assert_eq(otu_render(otu_join(p, sizeof(p), dir, "head.png"), "1000x1100", font, 30,
                          60, 100, HEADING),
               0);
  cr_assert_eq(otu_convert(p, otu_join(q, sizeof(q), dir, "page.png"), extra), 0);
  /* Twice the size, 2000 x 2200 grey: its layout is found at half size. */
  const char *twice[] = {"-resize", "200%", "-colorspace", "Gray", "-depth", "8", NULL};
  cr_assert_eq(otu_convert(q, otu_join(p, sizeof(p), dir, "page2x.png"), twice), 0);
}

static void setup(void) {
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT, .default_language = "eng"};

  dir = otu_tmpdir();
  cr_assert_not_null(dir);
  cfg.image_root = dir;
  cr_assert_eq(ocr_engine_new(&cfg, &whole), 0);
  cr_assert_eq(ocr_engine_new(&cfg, &parted), 0);
  ocr_engine_set_parts(parted, 4, otp_post, NULL);
  render_page();
}

static void teardown(void) {
  otp_join();
  ocr_engine_free(whole);
  ocr_engine_free(parted);
  ocr__tess_thread_release();
  otu_rmtree(dir);
  free(dir);
}

TestSuite(ocr_split, .init = setup, .fini = teardown);

static int run(ocr_engine *e, const char *path, const volatile int *cancel, ocr_result *r) {
  ocr_request req = {.path = path, .language = "eng", .psm = -1, .cancel = cancel};

  ocr_result_init(r);
  return ocr_engine_run(e, &req, r);
}

static float mid(const ocr_box *b, int axis) {
  return (b->quad[axis] + b->quad[2 + axis] + b->quad[4 + axis] + b->quad[6 + axis]) / 4;
}

/* The page at path (w x h) read whole and in parts: the same text, the
 * same boxes within tolerance pixels. */
static void same_as_whole(const char *path, int w, int h, float tolerance) {
  ocr_result a, b;

  cr_assert_eq(run(whole, path, NULL, &a), 0, "%s", a.error_message);
  cr_assert_eq(run(parted, path, NULL, &b), 0, "%s", b.error_message);
  otp_join();
  cr_expect_eq(a.parts, 1);
  cr_expect_eq(a.part_workers, 1);
  cr_expect_geq(b.parts, 3, "the page was not split (%d parts)", b.parts);
  /* 4 workers, this one busy: up to 3 helpers (fewer when there are
   * fewer parts); the first holds a part before the page's own worker
   * claims any (post), later ones may find the parts all taken. */
  cr_expect_geq(b.part_workers, 2);
  cr_expect_leq(b.part_workers, 1 + (b.parts - 1 < 3 ? b.parts - 1 : 3));
  /* The whole-page reading is right, and the parts say the same. */
  cr_expect_str_eq(a.text, HEADING "\n" LEFT "\n" RIGHT);
  cr_expect_str_eq(b.text, a.text);
  cr_assert_eq(b.nboxes, a.nboxes);
  for (size_t i = 0; i < b.nboxes; i++) {
    for (int k = 0; k < 4; k++) {
      cr_expect(b.boxes[i].quad[2 * k] >= 0 && b.boxes[i].quad[2 * k] <= w, "box %zu", i);
      cr_expect(b.boxes[i].quad[2 * k + 1] >= 0 && b.boxes[i].quad[2 * k + 1] <= h,
                "box %zu", i);
    }
    cr_expect_str_eq(b.boxes[i].text, a.boxes[i].text);
    cr_expect_eq(b.boxes[i].page, 1);
    for (int axis = 0; axis < 2; axis++)
      cr_expect(fabsf(mid(&b.boxes[i], axis) - mid(&a.boxes[i], axis)) <= tolerance,
                "box %zu axis %d: %g split vs %g whole", i, axis,
                (double)mid(&b.boxes[i], axis), (double)mid(&a.boxes[i], axis));
  }
  ocr_result_clear(&a);
  ocr_result_clear(&b);
}

Test(ocr_split, parts_merge_in_reading_order_with_boxes_in_page_coordinates) {
  same_as_whole("page.png", 1000, 1100, 4.0f);
}

/* Layout boxes found at half size come back in page coordinates. */
Test(ocr_split, half_size_layout_gives_the_whole_page_reading) {
  int before = ocr__split_half_layouts();

  same_as_whole("page2x.png", 2000, 2200, 8.0f);
  cr_expect_eq(ocr__split_half_layouts(), before + 1,
               "the layout was not found at half size");
}

/* Every worker but this one busy (as the pool's own count says): the page
 * is read whole, on this thread alone, and nothing is posted. */
Test(ocr_split, busy_workers_leave_the_page_whole) {
  ocr_result r;

  __atomic_store_n(&parted->busy, 3, __ATOMIC_RELAXED);
  cr_assert_eq(run(parted, "page.png", NULL, &r), 0, "%s", r.error_message);
  __atomic_store_n(&parted->busy, 0, __ATOMIC_RELAXED);
  cr_expect_eq(r.parts, 1);
  cr_expect_eq(r.part_workers, 1);
  cr_expect_eq(otp_posted(), 0, "helpers were posted for a busy pool");
  cr_expect_str_eq(r.text, HEADING "\n" LEFT "\n" RIGHT);
  ocr_result_clear(&r);
}

typedef struct canceller {
  volatile int flag;
  int saw_part; /* a part was being read when the flag went up */
} canceller;

/* Raises the flag once a part is being read; the ceiling is only reached
 * by a hang (then the run ends by itself and the test fails on saw_part). */
static void *cancel_main(void *p) {
  canceller *c = p;
  struct timespec ts = {0, 1000000};

  for (int i = 0; i < 120000; i++) {
    if (ocr__split_parts_running() > 0) {
      c->saw_part = 1;
      break;
    }
    nanosleep(&ts, NULL);
  }
  c->flag = 1;
  return NULL;
}

Test(ocr_split, cancelled_split_page_leaves_no_part_running) {
  canceller c = {0, 0};
  pthread_t t;
  ocr_result r;

  cr_assert_eq(pthread_create(&t, NULL, cancel_main, &c), 0);
  cr_expect_eq(run(parted, "page.png", &c.flag, &r), ERR_CANCELLED, "%s",
               r.error_message ? r.error_message : "(no error)");
  /* Checked the moment the owner returns, before any join. */
  cr_expect_eq(ocr__split_parts_running(), 0, "a part still runs after the page returned");
  pthread_join(t, NULL);
  cr_expect(c.saw_part, "no part was ever read");
  otp_join();
  cr_expect_eq(ocr__split_parts_running(), 0);
  ocr_result_clear(&r);
}
