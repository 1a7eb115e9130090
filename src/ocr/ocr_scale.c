/* SPDX-License-Identifier: MIT */
/* Text size estimate and downscaling before recognition, and the check for
 * uneven light that picks adaptive binarisation. Tesseract's LSTM reads
 * best with letters a few tens of pixels tall; a 600 DPI scan or a large
 * photo hands it four times the pixels for the same text, and every phase
 * (binarisation, layout, recognition) pays for them. Worker threads. */
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
/* Uneven light: the paper's brightness, taken as the brightest pixel of
 * each tile of TILE x TILE pixels of the half-size copy, is compared
 * between the nine regions of a 3 x 3 grid (median of each region's
 * tiles, so that a figure or a heading does not count as shade). A spread
 * of more than UNEVEN_SPREAD grey levels between the brightest and the
 * darkest region is light falling off across a photo, which a global
 * threshold (Otsu) turns into black patches; scans and renderings keep
 * their paper within a few levels. */
#define TILE 16
#define UNEVEN_SPREAD 40

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* Median text component height of a 1 bpp copy, 0 when too few. */
static int median_height(PIX *bin) {
  BOXA *boxa = pixConnComp(bin, NULL, 8);
  int n = boxa ? boxaGetCount(boxa) : 0, k = 0, median = 0, *heights;

  if (n < MIN_COMPONENTS) {
    boxaDestroy(&boxa);
    return 0;
  }
  heights = ocrpc_malloc((size_t)n * sizeof(*heights));
  for (int i = 0; i < n; i++) {
    l_int32 x, y, w, h;

    if (boxaGetBoxGeometry(boxa, i, &x, &y, &w, &h) != 0)
      continue;
    /* Glyph-like: neither specks nor rules, frames or pictures. */
    if (h >= 4 && h <= 400 && w <= 3 * h && w >= 1)
      heights[k++] = h;
  }
  if (k >= MIN_COMPONENTS) {
    qsort(heights, (size_t)k, sizeof(*heights), cmp_int);
    median = heights[k / 2];
  }
  free(heights);
  boxaDestroy(&boxa);
  return median;
}

/* 1 when the paper of an 8 bpp image is lit unevenly (see UNEVEN_SPREAD). */
static int uneven_light(PIX *grey) {
  PIX *tiles = pixScaleGrayMinMax(grey, TILE, TILE, L_CHOOSE_MAX);
  int tw, th, lo = 255, hi = 0, *vals;

  if (tiles == NULL)
    return 0;
  tw = pixGetWidth(tiles);
  th = pixGetHeight(tiles);
  if (tw < 3 || th < 3) {
    pixDestroy(&tiles);
    return 0;
  }
  vals = ocrpc_malloc((size_t)(tw / 3 + 1) * (size_t)(th / 3 + 1) * sizeof(*vals));
  for (int gy = 0; gy < 3; gy++)
    for (int gx = 0; gx < 3; gx++) {
      int n = 0;

      for (int y = gy * th / 3; y < (gy + 1) * th / 3; y++)
        for (int x = gx * tw / 3; x < (gx + 1) * tw / 3; x++) {
          l_uint32 v = 0;

          pixGetPixel(tiles, x, y, &v);
          vals[n++] = (int)v;
        }
      qsort(vals, (size_t)n, sizeof(*vals), cmp_int);
      lo = vals[n / 2] < lo ? vals[n / 2] : lo;
      hi = vals[n / 2] > hi ? vals[n / 2] : hi;
    }
  free(vals);
  pixDestroy(&tiles);
  return hi - lo > UNEVEN_SPREAD;
}

void ocr__survey(void *p, ocr__page_survey *s) {
  PIX *pix = p, *grey = NULL, *small = NULL, *bin = NULL;
  int median;

  s->scale = 1.0;
  s->uneven = 0;
  if (!pix || pixGetWidth(pix) * (double)pixGetHeight(pix) < 2e6)
    return;
  /* Both measures on a half-size copy: heights halve, the count stays, and
   * the pass costs a quarter. */
  grey = pixConvertTo8(pix, 0);
  if (grey)
    small = pixScaleAreaMap2(grey);
  if (small) {
    s->uneven = uneven_light(small);
    bin = pixConvertTo1(small, 128);
  }
  median = bin ? 2 * median_height(bin) : 0;
  if (median >= MIN_RATIO * TARGET_HEIGHT)
    s->scale = TARGET_HEIGHT / median;
  pixDestroy(&bin);
  pixDestroy(&small);
  pixDestroy(&grey);
}

double ocr__text_scale(void *pix) {
  ocr__page_survey s;

  ocr__survey(pix, &s);
  return s.scale;
}

void *ocr__scale_pix(void *p, double scale) {
  PIX *pix = p;

  /* Area mapping (each output pixel averages the input pixels it covers)
   * keeps thin strokes that sampling would lose. */
  return pixScaleAreaMap(pix, (l_float32)scale, (l_float32)scale);
}
