/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the image header readers (ocr_header.c), which see
 * every upload before any decoder does. The first byte is the page cap,
 * the rest the file. The bytes are copied to a heap buffer of exactly
 * their size so ASan sees any read past them; the answer is checked for
 * consistency (sizes and page counts within what the readers promise).
 * Single thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "ocr_internal.h"

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ocr__header h;
  uint8_t *copy;
  int cap, rc, w, ht;

  if (size < 1)
    return 0;
  cap = data[0] % 8 + 1;
  copy = malloc(size - 1 ? size - 1 : 1);
  CHECK(copy != NULL);
  memcpy(copy, data + 1, size - 1);
  rc = ocr__header_read(copy, size - 1, cap, &h);
  if (rc == 0) {
    CHECK(h.format != OCR__FMT_UNKNOWN);
    CHECK(h.width >= 0 && h.height >= 0 && h.max_w >= 0 && h.max_h >= 0);
    CHECK(h.orientation >= 0 && h.orientation <= 8);
    if (h.format == OCR__FMT_PDF) {
      CHECK(h.pages == 0);
    } else {
      CHECK(h.pages >= 1 && h.pages <= cap + 1);
      CHECK((uint64_t)h.max_w * (uint64_t)h.max_h >=
            (uint64_t)h.width * (uint64_t)h.height);
      CHECK(h.max_side >= h.width && h.max_side >= h.height);
    }
    if (h.format != OCR__FMT_TIFF)
      CHECK(h.pages <= 1);
  } else {
    CHECK(rc == ERR_DECODE);
  }
  /* The mock engine's reader agrees with the full one. */
  if (ocr__image_header(copy, size - 1, &w, &ht) == 0)
    CHECK(rc == 0 && w == h.width && ht == h.height);
  free(copy);
  return 0;
}
