/* SPDX-License-Identifier: MIT */
/* Text size estimate and downscaling before recognition. Tesseract's LSTM
 * reads best with letters a few tens of pixels tall; a 600 DPI scan or a
 * large photo hands it four times the pixels for the same text, and every
 * phase (binarisation, layout, recognition) pays for them. Worker threads. */
#include <stdlib.h>

#include <leptonica/allheaders.h>

#include "ocr_internal.h"
#include "base/ocrpc_alloc.h"

/* Median height, in pixels, of the glyph-like connected components scaling
 * aims for: 12 pt text at 300 DPI, the size Tesseract is trained around
 * (its components are 26-36 px tall there). */
#define TARGET_HEIGHT 32.0
/* Scaling only pays when it removes most pixels: below 1.6x the target
 * height the page stays as sent (300 DPI pages are never touched). */
#define MIN_RATIO 1.6
/* Components counted at most, and at least for an estimate to count. */
#define MIN_COMPONENTS 30

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

double ocr__text_scale(void *p) {
  PIX *pix = p, *grey = NULL, *small = NULL, *bin = NULL;
  BOXA *boxa = NULL;
  int *heights = NULL, n, k = 0, i, median;
  double scale = 1.0;

  if (!pix || pixGetWidth(pix) * (double)pixGetHeight(pix) < 2e6)
    return 1.0;
  /* Components on a half-size copy: heights halve, the count stays, and
   * the pass costs a quarter. */
  grey = pixConvertTo8(pix, 0);
  if (grey)
    small = pixScaleAreaMap2(grey);
  if (small)
    bin = pixConvertTo1(small, 128);
  if (bin)
    boxa = pixConnComp(bin, NULL, 8);
  n = boxa ? boxaGetCount(boxa) : 0;
  if (n >= MIN_COMPONENTS)
    heights = ocrpc_malloc((size_t)n * sizeof(*heights));
  for (i = 0; heights != NULL && i < n; i++) {
    l_int32 x, y, w, h;

    if (boxaGetBoxGeometry(boxa, i, &x, &y, &w, &h) != 0)
      continue;
    /* Glyph-like: neither specks nor rules, frames or pictures. */
    if (h >= 4 && h <= 400 && w <= 3 * h && w >= 1)
      heights[k++] = h;
  }
  if (k >= MIN_COMPONENTS) {
    qsort(heights, (size_t)k, sizeof(*heights), cmp_int);
    median = 2 * heights[k / 2];
    if (median >= MIN_RATIO * TARGET_HEIGHT)
      scale = TARGET_HEIGHT / median;
  }
  free(heights);
  boxaDestroy(&boxa);
  pixDestroy(&bin);
  pixDestroy(&small);
  pixDestroy(&grey);
  return scale;
}

void *ocr__scale_pix(void *p, double scale) {
  PIX *pix = p;

  /* Area mapping (each output pixel averages the input pixels it covers)
   * keeps thin strokes that sampling would lose. */
  return pixScaleAreaMap(pix, (l_float32)scale, (l_float32)scale);
}
