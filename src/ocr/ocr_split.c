/* SPDX-License-Identifier: MIT */
/* One page on every idle core. While other workers are idle, the worker
 * that owns a page runs Tesseract's layout analysis, cuts the page into its
 * text blocks (and blocks into groups of lines when there are fewer blocks
 * than idle workers), hands helpers to the idle workers and reads parts
 * itself. A part is an image of its own holding only its lines' words (so
 * that ink of overlapping blocks is not read twice), read as one block
 * (PSM 6) by whichever worker claims it first with that worker's own
 * Tesseract instance; boxes are shifted back to page coordinates and the
 * parts merged in the layout's reading order. A large grey page's layout
 * is found on a half-size copy. Under load no worker is idle and pages
 * stay whole, so throughput is what it was. Worker threads throughout. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "ocr_internal.h"

/* Smaller pages are read whole: layout analysis done twice and the
 * hand-off cost more than a second core saves on them. */
#define SPLIT_MIN_PIXELS 500000
/* From this size on, layout analysis runs on a half-size copy. */
#define SPLIT_HALF_PIXELS 4000000
/* Fewer lines than this: one worker reads them as fast as several. */
#define SPLIT_MIN_LINES 4
/* Pixels around a layout line's box copied with it: its boxes are tight,
 * and a diacritic or descender just outside must not be lost. */
#define SPLIT_MARGIN 3
/* White around a part's lines: the recogniser reads a line touching the
 * image's edge worse. Its reading of a hard glyph also changes with the
 * frame at the pixel level: on korpage_12lines a syllable at the end of a
 * part was read with 24, 30, 35, 40 and 50 px, lost with 10, 20, 27, 28,
 * 32 and 60; from 35 px on the drop-capital page 8071_093.3B reads worse
 * (bench/RESULTS.md 8b). 30 px keeps all 8 corpus pages of bench/split.sh
 * within 0.005 of the whole-page reading. */
#define SPLIT_BORDER 30

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

typedef struct box4 {
  int l, t, r, b;
  int line; /* of a word: its line's index */
} box4;

typedef struct piece {
  int rect[4];       /* left, top, width, height in pix */
  int first, nlines; /* its lines in split.lines */
  ocr_result res;
  ocr__read_stats st;
} piece;

/* Shared by the page's owner and its helpers. The owner returns only once
 * no part runs; helpers that start later find it closed and only drop
 * their reference, so that nothing of the request is touched after the
 * owner returned. */
typedef struct split {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs;    /* owner + helpers not yet finished or dropped */
  int next;    /* first part not claimed */
  int n;       /* parts */
  int running; /* parts being read */
  int closed;  /* the owner merged: claim nothing more */
  int helpers_used;
  double cpu_max_ms; /* the most CPU one thread spent on parts */
  piece *pieces;
  const box4 *lines; /* the layout's lines, page coordinates */
  const box4 *words; /* and their words */
  int nwords;
  int margin;
  ocr_engine *e;
  const ocr_request *req;
  /* A copy: a helper loads its instance for it before claiming a part,
   * possibly after the owner has returned. */
  char code[64];
  PIX *pix;
  const ocr__image *img;
  int page;
  float threshold;
} split;

/* Parts being read right now, and parts ever claimed, over the process
 * (tests). */
static int parts_running, parts_claimed, half_layouts;

int ocr__split_parts_running(void) {
  return __atomic_load_n(&parts_running, __ATOMIC_SEQ_CST);
}

int ocr__split_parts_claimed(void) {
  return __atomic_load_n(&parts_claimed, __ATOMIC_SEQ_CST);
}

int ocr__split_half_layouts(void) {
  return __atomic_load_n(&half_layouts, __ATOMIC_SEQ_CST);
}

static int cancelled(const ocr_request *req) {
  return req->cancel != NULL && *req->cancel != 0;
}

static void release(split *sp) {
  int last;

  pthread_mutex_lock(&sp->mu);
  last = --sp->refs == 0;
  pthread_mutex_unlock(&sp->mu);
  if (!last)
    return;
  pthread_mutex_destroy(&sp->mu);
  pthread_cond_destroy(&sp->cv);
  free(sp);
}

/* Part i as an image of its own: the pixels of its layout lines (with a
 * small margin) on white, so that ink of other blocks inside its box
 * (overlapping block boxes, drop capitals, pictures) is not read twice
 * or as noise. NULL when out of memory. */
static PIX *part_image(const split *sp, const piece *p) {
  PIX *sub = pixCreate(p->rect[2], p->rect[3], pixGetDepth(sp->pix));

  if (sub == NULL)
    return NULL;
  /* Tesseract reads the resolution to judge text sizes, as on the page. */
  pixCopyResolution(sub, sp->pix);
  /* White is all ones in grey and RGB, zero in 1 bpp. */
  if (pixGetDepth(sub) == 1)
    pixClearAll(sub);
  else
    pixSetAll(sub);
  for (int k = 0; k < sp->nwords; k++) {
    const box4 *wd = &sp->words[k];
    int l, t, r, b;

    if (wd->line < p->first || wd->line >= p->first + p->nlines)
      continue;
    l = imax(wd->l - sp->margin, p->rect[0]);
    t = imax(wd->t - sp->margin, p->rect[1]);
    r = imin(wd->r + sp->margin, p->rect[0] + p->rect[2]);
    b = imin(wd->b + sp->margin, p->rect[1] + p->rect[3]);
    if (r > l && b > t)
      pixRasterop(sub, l - p->rect[0], t - p->rect[1], r - l, b - t, PIX_SRC, sp->pix, l,
                  t);
  }
  return sub;
}

/* Reads part i with api (this thread's instance). */
static void read_piece(split *sp, TessBaseAPI *api, int i) {
  piece *p = &sp->pieces[i];
  PIX *sub;

  if (cancelled(sp->req)) {
    ocr__fail(&p->res, ERR_CANCELLED, "cancelled before part %d of the page", i + 1);
    return;
  }
  __atomic_fetch_add(&parts_running, 1, __ATOMIC_SEQ_CST);
  sub = part_image(sp, p);
  if (sub == NULL)
    ocr__fail(&p->res, ERR_NOMEM, "no memory for part %d of the page", i + 1);
  else
    ocr__tess_recognise(api, sub, p->rect, PSM_SINGLE_BLOCK, sp->img, sp->page, sp->req,
                        sp->threshold, &p->res, &p->st, NULL);
  TessBaseAPIClear(api);
  pixDestroy(&sub);
  __atomic_fetch_sub(&parts_running, 1, __ATOMIC_SEQ_CST);
}

static double thread_cpu_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Claims and reads parts until none is left; returns the thread CPU time
 * it spent on them (ms). A helper counts itself in helpers_used with its
 * first claim. */
static double work(split *sp, TessBaseAPI *api, int is_helper) {
  int did = 0, i;
  double t0 = thread_cpu_ms(), cpu = 0;

  for (;;) {
    pthread_mutex_lock(&sp->mu);
    if (sp->closed || sp->next >= sp->n) {
      pthread_mutex_unlock(&sp->mu);
      return cpu;
    }
    i = sp->next++;
    sp->running++;
    sp->helpers_used += is_helper && did == 0;
    __atomic_fetch_add(&parts_claimed, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&sp->mu);
    read_piece(sp, api, i);
    did++;
    cpu = thread_cpu_ms() - t0;
    pthread_mutex_lock(&sp->mu);
    /* Counted before the part ends: the owner reads it once none runs. */
    if (cpu > sp->cpu_max_ms)
      sp->cpu_max_ms = cpu;
    if (--sp->running == 0)
      pthread_cond_broadcast(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
  }
}

/* A helper on another worker (run 1), or its job dropped (run 0). The
 * worker it reserved in e->busy is given back either way. */
static void helper(void *arg, int run) {
  split *sp = arg;
  ocr_engine *e = sp->e;

  if (run) {
    TessBaseAPI *api = NULL;
    int open;

    pthread_mutex_lock(&sp->mu);
    open = !sp->closed && sp->next < sp->n;
    pthread_mutex_unlock(&sp->mu);
    /* The instance is loaded before claiming anything: a thread's first
     * load takes longer than a part, and the owner reads on meanwhile. */
    if (open)
      api = ocr__tess_api(e, sp->code);
    if (api != NULL)
      work(sp, api, 1);
  }
  __atomic_fetch_sub(&e->busy, 1, __ATOMIC_RELAXED);
  release(sp);
}

/* Whether layout analysis may run on a half-size copy of pix: a grey page
 * with grey levels. Colour pages are left at full size (not measured), and
 * so is a grey page whose pixels are (nearly) all black or white, a
 * bilevel scan as decoded: at half size its thin strokes average to grey and break,
 * and the layout found there lost letters of a magazine scan
 * (8071_093.3B: CER 0.0598 split, with lines in other parts, vs 0.0884
 * whole); such pages keep their layout at full size. Samples every 4th
 * pixel of every 4th row. */
static int halvable(PIX *pix) {
  NUMA *hist;
  l_float32 black = 0, white = 0, sum = 0;
  int n;

  if (pixGetDepth(pix) != 8 || pixGetColormap(pix) != NULL)
    return 0;
  hist = pixGetGrayHistogram(pix, 4);
  if (hist == NULL)
    return 0;
  numaGetSum(hist, &sum);
  numaGetFValue(hist, 0, &black);
  n = numaGetCount(hist);
  numaGetFValue(hist, n - 1, &white);
  numaDestroy(&hist);
  return black + white < 0.99f * sum;
}

/* Makes room for element n of *a (capacity *cap, doubling). Aborts when
 * out of memory (base/ocrpc_alloc.h). */
static void grow(void **a, int *cap, int n, size_t size) {
  if (n < *cap)
    return;
  *cap = *cap ? 2 * *cap : 16;
  *a = ocrpc_realloc(*a, (size_t)*cap * size);
}

/* The text blocks of the layout analysis (api has the image) and their
 * lines, in reading order: blocks[i] holds lines first[i] .. first[i+1]-1.
 * 0 or 1 (the page stays whole: no layout, turned or vertical text). The
 * caller frees the arrays. */
static int layout(TessBaseAPI *api, box4 **blocks, int **first, int *nblocks, box4 **lines,
                  int *nlines, box4 **words, int *nwords, BOXA *all, int f) {
  TessPageIterator *it = TessBaseAPIAnalyseLayout(api);
  int cap_b = 0, cap_f = 0, cap_l = 0, cap_w = 0, in_text = 0, rc = 0, more = 1,
      at_next = 0;

  *blocks = NULL;
  *first = NULL;
  *lines = NULL;
  *words = NULL;
  *nblocks = *nlines = *nwords = 0;
  if (it == NULL)
    return 1;
  TessPageIteratorBegin(it);
  do {
    int l, t, r, b;

    if (TessPageIteratorIsAtBeginningOf(it, RIL_BLOCK)) {
      TessPolyBlockType ty = TessPageIteratorBlockType(it);
      TessOrientation o = ORIENTATION_PAGE_UP;
      TessWritingDirection wd;
      TessTextlineOrder tlo;
      float deskew;

      /* Images, rules and noise are not read on the whole page either. */
      in_text = ty == PT_UNKNOWN || ty == PT_FLOWING_TEXT || ty == PT_HEADING_TEXT ||
                ty == PT_PULLOUT_TEXT || ty == PT_TABLE || ty == PT_CAPTION_TEXT ||
                ty == PT_VERTICAL_TEXT;
      TessPageIteratorOrientation(it, &o, &wd, &tlo, &deskew);
      /* Turned or vertical text is read whole, as orientation detection
       * expects to judge it. */
      if (in_text && (ty == PT_VERTICAL_TEXT || o != ORIENTATION_PAGE_UP ||
                      tlo != TEXTLINE_ORDER_TOP_TO_BOTTOM)) {
        rc = 1;
        break;
      }
      if (in_text && TessPageIteratorBoundingBox(it, RIL_BLOCK, &l, &t, &r, &b)) {
        grow((void **)blocks, &cap_b, *nblocks, sizeof(box4));
        grow((void **)first, &cap_f, *nblocks + 1, sizeof(int));
        (*blocks)[*nblocks] = (box4){l * f, t * f, r * f, b * f, 0};
        (*first)[*nblocks] = *nlines;
        (*nblocks)++;
      } else {
        in_text = 0;
      }
    }
    /* Every line of any block covers its ink for the fallbacks' judgement,
     * as the whole-page reading's iterator does. */
    if (all != NULL && TessPageIteratorBoundingBox(it, RIL_TEXTLINE, &l, &t, &r, &b)) {
      BOX *bx = boxCreate(l * f, t * f, (r - l) * f, (b - t) * f);

      if (bx != NULL)
        boxaAddBox(all, bx, L_INSERT);
    }
    if (in_text && TessPageIteratorBoundingBox(it, RIL_TEXTLINE, &l, &t, &r, &b)) {
      grow((void **)lines, &cap_l, *nlines, sizeof(box4));
      (*lines)[(*nlines)++] = (box4){l * f, t * f, r * f, b * f, 0};
      /* The line's words, for the part's image: a line's box may span
       * other lines' ink (a drop capital makes it tall), its words' boxes
       * hardly. */
      do {
        if (TessPageIteratorBoundingBox(it, RIL_WORD, &l, &t, &r, &b)) {
          grow((void **)words, &cap_w, *nwords, sizeof(box4));
          (*words)[(*nwords)++] = (box4){l * f, t * f, r * f, b * f, *nlines - 1};
        }
        more = TessPageIteratorNext(it, RIL_WORD);
      } while (more && !TessPageIteratorIsAtBeginningOf(it, RIL_TEXTLINE));
      if (rc != 0 || !more)
        break;
      /* Already at the next line. */
      at_next = 1;
    }
  } while (at_next ? (at_next = 0, 1) : TessPageIteratorNext(it, RIL_TEXTLINE));
  TessPageIteratorDelete(it);
  if (rc == 0 && *nblocks > 0)
    (*first)[*nblocks] = *nlines;
  return rc;
}

/* Cuts the blocks into parts of about target lines (a block of fewer stays
 * whole), in reading order, into *out: each covers its lines' boxes and a
 * white border. Returns the number of parts. */
static int cut(const int *first, int nblocks, const box4 *lines, int target, int w, int h,
               piece **out) {
  piece *p = NULL;
  int cap = 0, n = 0;

  for (int k = 0; k < nblocks; k++) {
    int f = first[k], nl = first[k + 1] - f;
    int groups = nl > target ? (nl + target - 1) / target : 1;

    if (nl == 0)
      continue;
    for (int g = 0; g < groups; g++) {
      int a = f + g * nl / groups, z = f + (g + 1) * nl / groups - 1; /* lines a..z */
      int l = lines[a].l, t = lines[a].t, r = lines[a].r, b = lines[a].b;

      for (int i = a + 1; i <= z; i++) {
        l = imin(l, lines[i].l);
        t = imin(t, lines[i].t);
        r = imax(r, lines[i].r);
        b = imax(b, lines[i].b);
      }
      l -= SPLIT_BORDER;
      t -= SPLIT_BORDER;
      r += SPLIT_BORDER;
      b += SPLIT_BORDER;
      l = imax(l, 0);
      t = imax(t, 0);
      r = imin(r, w);
      b = imin(b, h);
      if (r <= l || b <= t)
        continue;
      grow((void **)&p, &cap, n, sizeof(piece));
      memset(&p[n], 0, sizeof(piece));
      p[n].rect[0] = l;
      p[n].rect[1] = t;
      p[n].rect[2] = r - l;
      p[n].rect[3] = b - t;
      p[n].first = a;
      p[n].nlines = z - a + 1;
      n++;
    }
  }
  *out = p;
  return n;
}

/* Moves the parts' boxes into out in order; returns the first error. */
static int merge(split *sp, ocr_result *out, ocr__read_stats *st) {
  int rc = 0;

  st->lines = st->turned = 0;
  for (int i = 0; i < sp->n; i++) {
    piece *p = &sp->pieces[i];

    if (p->res.err != 0 && (rc == 0 || p->res.err == ERR_CANCELLED)) {
      rc = p->res.err;
      ocr__fail(out, rc, "%s", p->res.error_message != NULL ? p->res.error_message : "");
    }
    st->lines += p->st.lines;
    st->turned += p->st.turned;
    for (size_t j = 0; rc == 0 && j < p->res.nboxes; j++) {
      ocr_box *bx = &p->res.boxes[j];

      ocr__result_add_box(out, bx->text, bx->confidence, bx->quad);
      bx->text = NULL;
      out->boxes[out->nboxes - 1].page = bx->page;
    }
  }
  return rc;
}

/* Worker thread. */
int ocr__split_read(ocr_engine *e, void *api_, void *pix_, int psm, const ocr__image *img,
                    int page, const ocr_request *req, const char *code, float threshold,
                    ocr_result *out, ocr__read_stats *st, void *seen) {
  TessBaseAPI *api = api_;
  PIX *pix = pix_;
  int w = pixGetWidth(pix), h = pixGetHeight(pix);
  int idle, nblocks, nlines, rc, helpers, posted = 0;
  box4 *blocks, *lines, *words;
  int nwords;
  int *first;
  piece *pieces = NULL;
  split *sp;
  BOXA *all;
  PIX *half = NULL;
  int f = 1;
  double t0, t1;

  if (e->post == NULL || e->workers < 2 || (double)w * h < SPLIT_MIN_PIXELS)
    return 1;
  idle = e->workers - __atomic_load_n(&e->busy, __ATOMIC_RELAXED);
  if (idle < 1)
    return 1;

  t0 = clock_mono_ms_f();
  TessBaseAPISetPageSegMode(api, (TessPageSegMode)psm);
  /* Layout analysis is the part of the page no other worker can share;
   * on a large page it finds the blocks and lines at half the size for
   * less than half the work (an A4 page: 1.51 G instructions instead of
   * 3.32 G, bench/RESULTS.md 8b). Its boxes come back doubled. */
  if ((double)w * h >= SPLIT_HALF_PIXELS && halvable(pix))
    half = pixScaleAreaMap2(pix);
  if (half != NULL) {
    f = 2;
    __atomic_fetch_add(&half_layouts, 1, __ATOMIC_SEQ_CST);
    pixSetResolution(half, pixGetXRes(pix) / 2, pixGetYRes(pix) / 2);
    TessBaseAPISetImage2(api, half);
  } else {
    TessBaseAPISetImage2(api, pix);
  }
  all = seen != NULL ? boxaCreate(0) : NULL;
  rc = layout(api, &blocks, &first, &nblocks, &lines, &nlines, &words, &nwords, all, f);
  if (half != NULL) {
    TessBaseAPIClear(api);
    pixDestroy(&half);
  }
  t1 = clock_mono_ms_f();
  out->layout_ms += t1 - t0;
  if (rc == 0 && nlines >= SPLIT_MIN_LINES) {
    int parts = idle + 1;

    rc = cut(first, nblocks, lines, (nlines + parts - 1) / parts, w, h, &pieces);
    rc = rc < 2 ? 1 : rc;
  } else if (rc == 0) {
    rc = 1;
  }
  free(blocks);
  free(first);
  if (rc == 1) {
    boxaDestroy(&all);
    free(words);
    free(lines);
    free(pieces);
    /* The whole-page reading does its own layout analysis again. */
    TessBaseAPIClear(api);
    return 1;
  }

  sp = ocrpc_calloc(1, sizeof(*sp));
  pthread_mutex_init(&sp->mu, NULL);
  pthread_cond_init(&sp->cv, NULL);
  sp->refs = 1;
  sp->n = rc;
  sp->pieces = pieces;
  sp->lines = lines;
  sp->words = words;
  sp->nwords = nwords;
  /* A box found at half size is off by up to a pixel there. */
  sp->margin = SPLIT_MARGIN + f - 1;
  sp->e = e;
  sp->req = req;
  snprintf(sp->code, sizeof(sp->code), "%s", code);
  sp->pix = pix;
  sp->img = img;
  sp->page = page;
  sp->threshold = threshold;
  for (int i = 0; i < sp->n; i++)
    ocr_result_init(&pieces[i].res);

  /* One helper per idle worker (at most one per part but this thread's),
   * each reserving its worker in busy until it ends, so that a page
   * arriving meanwhile does not count on it. */
  helpers = imin(idle, sp->n - 1);
  for (int i = 0; i < helpers; i++) {
    pthread_mutex_lock(&sp->mu);
    sp->refs++;
    pthread_mutex_unlock(&sp->mu);
    __atomic_fetch_add(&e->busy, 1, __ATOMIC_RELAXED);
    if (e->post(e->post_ud, helper, sp) != 0) {
      __atomic_fetch_sub(&e->busy, 1, __ATOMIC_RELAXED);
      pthread_mutex_lock(&sp->mu);
      sp->refs--;
      pthread_mutex_unlock(&sp->mu);
      break;
    }
    posted++;
  }
  (void)posted;
  out->parts_cpu_self_ms = work(sp, api, 0);
  pthread_mutex_lock(&sp->mu);
  while (sp->running > 0)
    pthread_cond_wait(&sp->cv, &sp->mu);
  sp->closed = 1;
  pthread_mutex_unlock(&sp->mu);
  out->recognition_ms += clock_mono_ms_f() - t1;

  rc = merge(sp, out, st);
  /* The ink the whole-page reading would have covered: every line its
   * layout analysis found (the same analysis as here), read or not. */
  if (seen != NULL && all != NULL)
    boxaJoin(seen, all, 0, -1);
  boxaDestroy(&all);
  out->parts = sp->n;
  out->part_workers = 1 + sp->helpers_used;
  pthread_mutex_lock(&sp->mu);
  out->parts_cpu_max_ms = sp->cpu_max_ms;
  pthread_mutex_unlock(&sp->mu);
  for (int i = 0; i < sp->n; i++) {
    ocr_result_clear(&pieces[i].res);
  }
  free(pieces);
  free(lines);
  free(words);
  sp->pieces = NULL;
  sp->lines = NULL;
  release(sp);
  return rc;
}
