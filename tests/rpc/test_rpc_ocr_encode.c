/* SPDX-License-Identifier: MIT */
/* The hand-written OCRResponse encoder must produce exactly the bytes
 * nanopb produces from the same result (rpc__ocr_response), for successes
 * with and without boxes, boxes with empty text or zero confidence, and
 * failures with and without a message; and it must refuse a message over
 * the limit. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ocr.pb.h"
#include "rpc_internal.h"
#include "rpc_test_util.h"

static ocr_engine *eng;

static void setup(void) {
  ocr_config oc = {.kind = OCR_KIND_MOCK, .image_root = "/tmp", .default_language = "eng"};
  cr_assert_eq(ocr_engine_new(&oc, &eng), 0);
}
static void teardown(void) { ocr_engine_free(eng); }

TestSuite(ocr_encode, .init = setup, .fini = teardown);

static void add_box(ocr_result *r, const char *text, float conf, float x) {
  r->boxes = realloc(r->boxes, (r->nboxes + 1) * sizeof *r->boxes);
  ocr_box *b = &r->boxes[r->nboxes++];
  memset(b, 0, sizeof *b);
  b->text = text ? strdup(text) : NULL;
  b->confidence = conf;
  for (int i = 0; i < 8; i++)
    b->quad[i] = x + (float)i * 1.5f;
}

static void expect_same_bytes(const ocr_result *r, double queue_ms) {
  rpc_kv kv1 = {0}, kv2 = {0};
  ocr_OCRResponse resp = ocr_OCRResponse_init_zero;
  rpc__ocr_response(r, eng, queue_ms, &resp, &kv1);
  buf want = BUF_INIT, got = BUF_INIT;
  cr_assert_eq(rpc_encode_message(&want, ocr_OCRResponse_fields, &resp, 1 << 20), 0);
  free(resp.text_boxes);
  rpc__ocr_kv(r, eng, queue_ms, &kv2);
  cr_assert_eq(rpc__ocr_response_encode(r, &kv2, &got, 1 << 20), 0);
  cr_assert_eq(got.len, want.len, "length %zu, nanopb %zu", got.len, want.len);
  cr_assert_eq(memcmp(got.data, want.data, got.len), 0, "bytes differ from nanopb's");
  buf_free(&want);
  buf_free(&got);
}

Test(ocr_encode, success_with_boxes_matches_nanopb) {
  ocr_result r;
  ocr_result_init(&r);
  r.text = strdup("first line\nsecond line\n안녕하세요");
  r.confidence = 0.875f;
  r.width = 640;
  r.height = 480;
  r.ocr_ms = 123.4567;
  snprintf(r.language, sizeof r.language, "kor");
  add_box(&r, "first line", 0.9f, 1);
  add_box(&r, "", 0.5f, 100);           /* empty text: omitted */
  add_box(&r, "안녕하세요", 0.0f, 300); /* zero confidence: omitted */
  expect_same_bytes(&r, 0.25);
  ocr_result_clear(&r);
}

Test(ocr_encode, empty_success_matches_nanopb) {
  ocr_result r;
  ocr_result_init(&r);
  expect_same_bytes(&r, 0);
  ocr_result_clear(&r);
}

Test(ocr_encode, failures_match_nanopb) {
  ocr_result r;
  ocr_result_init(&r);
  r.err = ERR_NOT_FOUND;
  r.error_message = strdup("scans/x.png: no such file");
  expect_same_bytes(&r, 3.5);
  ocr_result_clear(&r);
  ocr_result_init(&r);
  r.err = ERR_DECODE; /* no message: the error's own text */
  expect_same_bytes(&r, 1000000.001);
  ocr_result_clear(&r);
}

Test(ocr_encode, many_boxes_and_long_text_match_nanopb) {
  ocr_result r;
  ocr_result_init(&r);
  char *text = malloc(20000);
  memset(text, 'a', 19999);
  text[19999] = 0;
  r.text = text;
  r.confidence = 0.5f;
  for (int i = 0; i < 300; i++)
    add_box(&r, "a box line of some length", 0.01f * (float)(i % 100), (float)i);
  expect_same_bytes(&r, 12);
  ocr_result_clear(&r);
}

Test(ocr_encode, refuses_a_message_over_the_limit) {
  ocr_result r;
  ocr_result_init(&r);
  r.text = strdup("some text that makes the message longer than sixteen bytes");
  rpc_kv kv = {0};
  rpc__ocr_kv(&r, eng, 0, &kv);
  buf out = BUF_INIT;
  cr_assert_eq(rpc__ocr_response_encode(&r, &kv, &out, 16), ERR_MSG_TOO_LARGE);
  cr_assert_eq(out.len, 0);
  buf_free(&out);
  ocr_result_clear(&r);
}
