/* SPDX-License-Identifier: MIT */
/* Text size estimate and downscaling before recognition, and the check for
 * uneven light that picks adaptive binarisation. Tesseract's LSTM reads
 * best with letters a few tens of pixels tall; a 600 DPI scan or a large
 * photo hands it four times the pixels for the same text, and every phase
 * (binarisation, layout, recognition) pays for them. Worker threads. */
#include <math.h>
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
 * each tile of TILE x TILE pixels of the half-size copy, is fitted with a
 * smooth surface (quadratic in x and y, least squares). Light falling off
 * across a photo is such a surface: when it spans more than UNEVEN_SPREAD
 * grey levels and at least SMOOTH_SHARE of the tiles lie within
 * SMOOTH_RESIDUAL levels of it, a global threshold (Otsu) would turn the
 * dark side into black patches. A page whose "paper" changes in steps —
 * a photo printed on it, a dark header band, a grey box — fits no smooth
 * surface (its tiles fall far on either side), and stays with the global
 * threshold, which reads such pages better (adaptive thresholds read a
 * printed photo's texture as characters); scans and renderings of plain
 * text keep their paper within a few levels. */
#define TILE 16
#define UNEVEN_SPREAD 40
#define SMOOTH_RESIDUAL 16
#define SMOOTH_SHARE 0.9

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

/* The six terms of the quadratic surface at (x, y). */
static void terms(double x, double y, double t[6]) {
  t[0] = 1;
  t[1] = x;
  t[2] = y;
  t[3] = x * x;
  t[4] = x * y;
  t[5] = y * y;
}

/* 1 when the paper of an 8 bpp image is lit unevenly (see UNEVEN_SPREAD). */
static int uneven_light(PIX *grey) {
  PIX *tiles = pixScaleGrayMinMax(grey, TILE, TILE, L_CHOOSE_MAX);
  double m[6][6] = {{0}}, r[6] = {0}, t[6], lo = 1e9, hi = -1e9;
  int tw, th, near = 0, uneven = 0;

  if (tiles == NULL)
    return 0;
  tw = pixGetWidth(tiles);
  th = pixGetHeight(tiles);
  if (tw < 5 || th < 5) {
    pixDestroy(&tiles);
    return 0;
  }
  /* The outer ring of tiles is left out: a white frame the decoder adds
   * when dark pixels touch the edge (ocr_image.c), or a photo's edge past
   * the paper, is not the paper's light. Coordinates in [0, 1] keep the
   * normal equations well conditioned. */
  for (int y = 1; y < th - 1; y++)
    for (int x = 1; x < tw - 1; x++) {
      l_uint32 v = 0;

      pixGetPixel(tiles, x, y, &v);
      terms((double)x / (tw - 1), (double)y / (th - 1), t);
      for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 6; j++)
          m[i][j] += t[i] * t[j];
        r[i] += t[i] * v;
      }
    }
  /* The normal equations, summed in double, solved by leptonica's
   * Gauss-Jordan (float; the decision is about whole grey levels). */
  l_float32 rows[6][6], *a[6], b[6];
  for (int i = 0; i < 6; i++) {
    for (int k = 0; k < 6; k++)
      rows[i][k] = (l_float32)m[i][k];
    a[i] = rows[i];
    b[i] = (l_float32)r[i];
  }
  if (gaussjordan(a, b, 6) == 0) {
    for (int y = 1; y < th - 1; y++)
      for (int x = 1; x < tw - 1; x++) {
        l_uint32 v = 0;
        double f = 0;

        pixGetPixel(tiles, x, y, &v);
        terms((double)x / (tw - 1), (double)y / (th - 1), t);
        for (int i = 0; i < 6; i++)
          f += b[i] * t[i];
        lo = f < lo ? f : lo;
        hi = f > hi ? f : hi;
        near += fabs(f - v) <= SMOOTH_RESIDUAL;
      }
    uneven = hi - lo > UNEVEN_SPREAD && near >= SMOOTH_SHARE * (tw - 2) * (th - 2);
  }
  pixDestroy(&tiles);
  return uneven;
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
