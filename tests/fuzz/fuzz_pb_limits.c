/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the repeated-field limits checked before decoding
 * (rpc__pb_count) against what nanopb then decodes, for the two requests
 * whose repeated fields a client sizes: OCRBatchRequest.image_paths and
 * OCRRequest.options. The first byte picks the message; the rest is it.
 * Wherever nanopb decodes the bytes, the scan must count exactly the
 * entries it decoded (or stop past the limit), and decoding large repeated
 * fields goes through the geometric allocator (src/base/pb_realloc.c).
 * Single thread. */
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>

#include "ocr.pb.h"
#include "rpc_internal.h"

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int batch = data[0] & 1;
  /* A small limit sometimes, so the early stop is reached too. */
  size_t stop = (data[0] & 2) ? 3 : 1000000;
  const uint8_t *msg = data + 1;
  size_t len = size - 1;
  ssize_t n =
      batch ? rpc__pb_count(msg, len, 1, 0, stop) : rpc__pb_count(msg, len, 6, 1, stop);
  if (batch) {
    ocr_OCRBatchRequest req = ocr_OCRBatchRequest_init_zero;
    pb_istream_t is = pb_istream_from_buffer(msg, len);
    if (pb_decode(&is, ocr_OCRBatchRequest_fields, &req)) {
      CHECK(n >= 0);
      CHECK((size_t)n > stop ? req.image_paths_count > stop
                             : (size_t)n == req.image_paths_count);
      pb_release(ocr_OCRBatchRequest_fields, &req);
    }
  } else {
    ocr_OCRRequest req = ocr_OCRRequest_init_zero;
    pb_istream_t is = pb_istream_from_buffer(msg, len);
    if (pb_decode(&is, ocr_OCRRequest_fields, &req)) {
      CHECK(n >= 0);
      CHECK((size_t)n > stop ? req.options.data_count > stop
                             : (size_t)n == req.options.data_count);
      pb_release(ocr_OCRRequest_fields, &req);
    }
  }
  return 0;
}
