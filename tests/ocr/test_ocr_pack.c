/* SPDX-License-Identifier: MIT */
/* ocr_result_pack / ocr_result_unpack, the cached form of a result: round
 * trips with Korean text, no boxes and many boxes, refusal of failures,
 * damaged and truncated bytes; and ocr_engine_read, the read-and-check
 * half of a recognition the result cache runs first. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "ocr_internal.h"

static void add_box(ocr_result *r, const char *text, float conf, float base) {
  float quad[8];
  for (int k = 0; k < 8; k++)
    quad[k] = base + (float)k * 1.5f;
  ocr__result_add_box(r, strdup(text), conf, quad);
}

static void expect_same(const ocr_result *a, const ocr_result *b) {
  cr_assert_eq(b->err, 0);
  cr_assert_str_eq(b->text, a->text);
  cr_assert_eq(b->confidence, a->confidence);
  cr_assert_eq(b->width, a->width);
  cr_assert_eq(b->height, a->height);
  cr_assert_eq(b->rotation, a->rotation);
  cr_assert_eq(b->pages, a->pages);
  cr_assert_eq(b->orientation, a->orientation);
  cr_assert_str_eq(b->language, a->language);
  cr_assert_eq(b->nboxes, a->nboxes);
  for (size_t i = 0; i < a->nboxes; i++) {
    cr_assert_str_eq(b->boxes[i].text, a->boxes[i].text);
    cr_assert_eq(b->boxes[i].confidence, a->boxes[i].confidence);
    cr_assert_eq(b->boxes[i].page, a->boxes[i].page);
    cr_assert_eq(memcmp(b->boxes[i].quad, a->boxes[i].quad, sizeof a->boxes[i].quad), 0);
  }
  cr_assert_eq(b->ocr_ms, 0.0, "timings are not cached");
}

static void round_trip(const ocr_result *r) {
  uint8_t *data;
  size_t len;
  ocr_result back;
  cr_assert_eq(ocr_result_pack(r, &data, &len), 0);
  cr_assert_eq(ocr_result_unpack(data, len, &back), 0);
  expect_same(r, &back);
  ocr_result_clear(&back);
  free(data);
}

Test(ocr_pack, korean_text_round_trips) {
  ocr_result r;
  ocr_result_init(&r);
  add_box(&r, "안녕하세요 세계", 0.93f, 10);
  add_box(&r, "두 번째 줄", 0.71f, 40);
  ocr__result_finish(&r);
  r.width = 640;
  r.height = 120;
  r.rotation = 90;
  r.pages = 2;
  r.orientation = 6;
  r.boxes[1].page = 2;
  r.ocr_ms = 123.4;
  snprintf(r.language, sizeof r.language, "kor");
  round_trip(&r);
  ocr_result_clear(&r);
}

Test(ocr_pack, no_boxes_round_trips) {
  ocr_result r;
  ocr_result_init(&r);
  ocr__result_finish(&r);
  r.width = 1;
  r.height = 1;
  snprintf(r.language, sizeof r.language, "eng");
  round_trip(&r);
  ocr_result_clear(&r);
}

Test(ocr_pack, many_boxes_round_trip) {
  ocr_result r;
  ocr_result_init(&r);
  for (int i = 0; i < 1000; i++) {
    char t[32];
    snprintf(t, sizeof t, "line %d", i);
    add_box(&r, t, (float)i / 1000.0f, (float)i);
  }
  ocr__result_finish(&r);
  r.width = 3000;
  r.height = 4000;
  r.rotation = 270;
  snprintf(r.language, sizeof r.language, "kor+eng");
  round_trip(&r);
  ocr_result_clear(&r);
}

Test(ocr_pack, failures_are_not_packed) {
  ocr_result r;
  ocr_result_init(&r);
  r.err = ERR_DECODE;
  uint8_t *data;
  size_t len;
  cr_assert_eq(ocr_result_pack(&r, &data, &len), ERR_INVAL);
  cr_assert_null(data);
  cr_assert_eq(len, 0);
}

Test(ocr_pack, damaged_or_truncated_bytes_are_refused) {
  ocr_result r, back;
  ocr_result_init(&r);
  add_box(&r, "hello", 0.5f, 1);
  add_box(&r, "world", 0.6f, 2);
  ocr__result_finish(&r);
  snprintf(r.language, sizeof r.language, "eng");
  uint8_t *data;
  size_t len;
  cr_assert_eq(ocr_result_pack(&r, &data, &len), 0);
  /* Every prefix is refused and leaves nothing to free (LeakSanitizer). */
  for (size_t n = 0; n < len; n++) {
    cr_assert_eq(ocr_result_unpack(data, n, &back), ERR_PARSE, "prefix of %zu bytes", n);
    cr_assert_null(back.text);
    cr_assert_eq(back.nboxes, 0);
  }
  /* Trailing bytes, another version. */
  uint8_t *longer = malloc(len + 1);
  cr_assert_not_null(longer);
  memcpy(longer, data, len);
  longer[len] = 'x';
  cr_assert_eq(ocr_result_unpack(longer, len + 1, &back), ERR_PARSE);
  free(longer);
  data[3] = 1;
  cr_assert_eq(ocr_result_unpack(data, len, &back), ERR_PARSE);
  /* A box count the bytes cannot hold: refused before allocating. */
  data[3] = 2;
  size_t nboxes_at = 4 + 24 + 4 + strlen(r.language) + 4 + strlen(r.text);
  data[nboxes_at + 3] = 0x7f;
  cr_assert_eq(ocr_result_unpack(data, len, &back), ERR_PARSE);
  free(data);
  ocr_result_clear(&r);
}

/* ---- ocr_engine_read ---- */

static ocr_engine *mock_engine(const char *root) {
  ocr_config oc = {.kind = OCR_KIND_MOCK, .image_root = root, .default_language = "korean"};
  ocr_engine *e = NULL;
  cr_assert_eq(ocr_engine_new(&oc, &e), 0);
  return e;
}

Test(ocr_pack, engine_read_returns_the_file_bytes_and_the_language_code) {
  char dir[] = "/tmp/ocrpc-read-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/a.png", dir);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  fwrite("0123456789", 1, 10, f);
  fclose(f);
  ocr_engine *e = mock_engine(dir);

  ocr_request req = {.path = "a.png", .language = "", .psm = -1};
  ocr_result out;
  uint8_t *data = NULL;
  size_t len = 0;
  ocr_result_init(&out);
  cr_assert_eq(ocr_engine_read(e, &req, &data, &len, &out), 0);
  cr_assert_eq(len, 10);
  cr_assert_eq(memcmp(data, "0123456789", 10), 0);
  cr_assert_str_eq(out.language, "kor", "the default language, mapped");
  free(data);
  ocr_result_clear(&out);

  req.language = "english";
  req.path = "missing.png";
  cr_assert_eq(ocr_engine_read(e, &req, &data, &len, &out), ERR_NOT_FOUND);
  cr_assert_null(data);
  cr_assert_str_eq(out.language, "eng");
  ocr_result_clear(&out);

  req.path = "../etc/passwd";
  cr_assert_eq(ocr_engine_read(e, &req, &data, &len, &out), ERR_FORBIDDEN_PATH);
  ocr_result_clear(&out);

  req.path = "a.png";
  req.language = "../../etc/passwd";
  cr_assert_eq(ocr_engine_read(e, &req, &data, &len, &out), ERR_LANGUAGE);
  ocr_result_clear(&out);

  /* Inline bytes: nothing is read, the caller keeps its bytes. */
  ocr_request inl = {.data = (const uint8_t *)"xyz", .data_len = 3, .psm = -1};
  cr_assert_eq(ocr_engine_read(e, &inl, &data, &len, &out), 0);
  cr_assert_null(data);
  ocr_result_clear(&out);

  unlink(path);
  rmdir(dir);
  ocr_engine_free(e);
}
