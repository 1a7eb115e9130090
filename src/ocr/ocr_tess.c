/* SPDX-License-Identifier: MIT */
/* Tesseract recognition through its C API. Every worker thread keeps its
 * own TessBaseAPI per (tessdata, language) pair, created on first use and
 * reused for later jobs, plus one orientation (OSD) instance; a pthread key
 * destructor ends them when the thread exits. Everything here runs on
 * worker threads. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "ocr_internal.h"

/* From libgomp (omp.h), declared here so that the build needs no OpenMP
 * compiler flag: only the link against libgomp. */
extern void omp_set_max_active_levels(int max_levels);

/* Instances one thread keeps for recognition. Each holds tens of MB, and
 * a client choosing language combinations freely must not be able to make
 * a thread load them without bound: the least recently used one goes. */
#define SLOTS_PER_THREAD 4

/* Tesseract's own page segmentation modes (TessPageSegMode). */
#define PSM_MAX 13

typedef struct tess_slot {
  TessBaseAPI *api;
  char *tessdata;
  char lang[64];
  unsigned long last_used;
} tess_slot;

typedef struct tess_thread {
  tess_slot slots[SLOTS_PER_THREAD];
  tess_slot osd;
  unsigned long clock;
} tess_thread;

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static int thread_key_err;

static void slot_free(tess_slot *s) {
  if (s->api != NULL) {
    TessBaseAPIEnd(s->api);
    TessBaseAPIDelete(s->api);
  }
  free(s->tessdata);
  memset(s, 0, sizeof(*s));
}

/* Runs when a worker thread exits (pthread key destructor). */
static void on_thread_exit(void *p) {
  tess_thread *t = p;
  int i;

  for (i = 0; i < SLOTS_PER_THREAD; i++)
    slot_free(&t->slots[i]);
  slot_free(&t->osd);
  free(t);
}

static void create_key(void) {
  thread_key_err = pthread_key_create(&thread_key, on_thread_exit);
}

void ocr__tess_limit_openmp(void) {
  /* Debian's libtesseract asks OpenMP for 4 threads in its LSTM code;
   * on a pool that already keeps every core busy they only spin and cost
   * 2-3x in throughput. OMP_NUM_THREADS does not apply to an explicit
   * num_threads clause, and OMP_THREAD_LIMIT is read when libgomp loads,
   * before main() could set it; no active parallel levels leaves every
   * region to the calling thread alone. */
  omp_set_max_active_levels(0);
}

/* Worker thread. */
static tess_thread *thread_state(void) {
  tess_thread *t;

  if (pthread_once(&thread_key_once, create_key) != 0 || thread_key_err != 0)
    return NULL;
  t = pthread_getspecific(thread_key);
  if (t != NULL)
    return t;
  t = ocrpc_calloc(1, sizeof(*t));
  if (pthread_setspecific(thread_key, t) != 0) {
    free(t);
    return NULL;
  }
  ocr__tess_limit_openmp();
  return t;
}

void ocr__tess_thread_release(void) {
  tess_thread *t;

  if (pthread_once(&thread_key_once, create_key) != 0 || thread_key_err != 0)
    return;
  t = pthread_getspecific(thread_key);
  if (t == NULL)
    return;
  pthread_setspecific(thread_key, NULL);
  on_thread_exit(t);
}

int ocr__tess_thread_instances(void) {
  tess_thread *t;
  int i, n = 0;

  if (pthread_once(&thread_key_once, create_key) != 0 || thread_key_err != 0)
    return 0;
  t = pthread_getspecific(thread_key);
  if (t == NULL)
    return 0;
  for (i = 0; i < SLOTS_PER_THREAD; i++)
    n += t->slots[i].api != NULL;
  return n + (t->osd.api != NULL);
}

const char *ocr__tess_version(void) { return TessVersion(); }

static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

/* Tesseract's diagnostics ("Estimating resolution", "Too few characters")
 * go to stderr unless debug_file names another file. debug_file is one
 * process-wide string, not a per-instance setting: it is written once,
 * before any instance is initialised, because workers setting it while
 * others print would race on it. */
static void quiet_tesseract(void) {
  TessBaseAPI *api = TessBaseAPICreate();

  if (api == NULL)
    return;
  TessBaseAPISetVariable(api, "debug_file", "/dev/null");
  TessBaseAPIDelete(api);
}

/* Worker thread. Creates and initialises one instance; NULL when the
 * traineddata cannot be loaded. */
static TessBaseAPI *api_new(const char *tessdata, const char *lang, TessOcrEngineMode oem) {
  TessBaseAPI *api;

  pthread_once(&quiet_once, quiet_tesseract);
  api = TessBaseAPICreate();
  if (api == NULL)
    return NULL;
  if (TessBaseAPIInit2(api, tessdata, lang, oem) != 0) {
    TessBaseAPIDelete(api);
    return NULL;
  }
  return api;
}

/* Worker thread. Finds or creates this thread's instance for lang. */
static TessBaseAPI *recognizer(tess_thread *t, const char *tessdata, const char *lang) {
  tess_slot *s, *victim = &t->slots[0];
  int i;

  for (i = 0; i < SLOTS_PER_THREAD; i++) {
    s = &t->slots[i];
    if (s->api != NULL && strcmp(s->lang, lang) == 0 &&
        strcmp(s->tessdata, tessdata) == 0) {
      s->last_used = ++t->clock;
      return s->api;
    }
    if (s->api == NULL || (victim->api != NULL && s->last_used < victim->last_used))
      victim = s;
  }
  slot_free(victim);
  if (strlen(lang) >= sizeof(victim->lang))
    return NULL;
  victim->tessdata = ocrpc_strdup(tessdata);
  /* LSTM only: the legacy models add memory and init time and would only
   * matter for OEM modes this server does not offer. */
  victim->api = api_new(tessdata, lang, OEM_LSTM_ONLY);
  if (victim->api == NULL) {
    slot_free(victim);
    return NULL;
  }
  strcpy(victim->lang, lang);
  victim->last_used = ++t->clock;
  return victim->api;
}

/* Worker thread. This thread's orientation detector. */
static TessBaseAPI *orientation_detector(tess_thread *t, const char *tessdata) {
  tess_slot *s = &t->osd;

  if (s->api != NULL && strcmp(s->tessdata, tessdata) == 0)
    return s->api;
  slot_free(s);
  s->tessdata = ocrpc_strdup(tessdata);
  /* Orientation detection exists only in the legacy engine. */
  s->api = api_new(tessdata, "osd", OEM_TESSERACT_ONLY);
  if (s->api == NULL) {
    slot_free(s);
    return NULL;
  }
  TessBaseAPISetPageSegMode(s->api, PSM_OSD_ONLY);
  strcpy(s->lang, "osd");
  return s->api;
}

/* Worker thread. */
int ocr__tess_prepare(const ocr_engine *e, const char *code, int with_osd) {
  tess_thread *t = thread_state();

  if (t == NULL)
    return ERR_NOMEM;
  if (recognizer(t, e->tessdata, code) == NULL)
    return ERR_ENGINE;
  if (with_osd && orientation_detector(t, e->tessdata) == NULL)
    return ERR_ENGINE;
  return 0;
}

/* Worker thread. Returns how many clockwise quarter turns make the page
 * upright, 0 when the page has too little text to tell. */
static int detect_quarter_turns(TessBaseAPI *osd, PIX *pix) {
  int deg = 0;
  float conf = 0;

  TessBaseAPISetImage2(osd, pix);
  /* Fails (and is not an error) when the page has too few characters. */
  if (!TessBaseAPIDetectOrientationScript(osd, &deg, &conf, NULL, NULL))
    deg = 0;
  TessBaseAPIClear(osd);
  /* Tesseract reports how far the text is turned counter-clockwise; the
   * correction turns it back clockwise. */
  return ((360 - deg) % 360) / 90;
}

/* Maps a point of the image rotated clockwise by q quarter turns back to
 * the image as sent (w x h). */
static void unrotate(int q, int w, int h, float x, float y, float *ox, float *oy) {
  switch (q) {
  case 1:
    *ox = y;
    *oy = (float)h - x;
    break;
  case 2:
    *ox = (float)w - x;
    *oy = (float)h - y;
    break;
  case 3:
    *ox = (float)w - y;
    *oy = x;
    break;
  default:
    *ox = x;
    *oy = y;
  }
}

static bool on_cancel(void *cancel_this, int words) {
  (void)words;
  return *(const volatile int *)cancel_this != 0;
}

static int cancelled(const ocr_request *req) {
  return req->cancel != NULL && *req->cancel != 0;
}

/* Share of a line's characters its surviving words must carry for the
 * line to be kept without its unsure words: below it, what is left is more
 * likely noise that happened to look like a word than a line. */
#define SALVAGE_MIN_SHARE 0.6

/* Worker thread. For a line under the threshold (it at its start, line its
 * full text): the words at or above the threshold, in order and with the
 * line's own spacing between them, into *text (heap), their mean
 * confidence into *conf and their union box into l/t/r/b. 0 when they
 * carry at least SALVAGE_MIN_SHARE of the line's characters, 1 when they
 * do not (nothing allocated), ERR_NOMEM. */
static int salvage_words(const TessResultIterator *it, const char *line, float threshold,
                         char **text, float *conf, int *l, int *t, int *r, int *b) {
  TessResultIterator *w = TessResultIteratorCopy(it);
  size_t total = 0, kept = 0, cap = 2 * strlen(line) + 16, len = 0;
  const char *cursor = line;
  double sum = 0;
  int nkept = 0, gap_space = 0, first = 1;
  char *buf;

  if (w == NULL)
    return ERR_NOMEM;
  buf = ocrpc_malloc(cap);
  do {
    const TessPageIterator *pw = TessResultIteratorGetPageIteratorConst(w);
    char *word;
    const char *at;
    size_t wl;
    float wc;
    int wl_, wt_, wr_, wb_;

    if (!first && TessPageIteratorIsAtBeginningOf(pw, RIL_TEXTLINE))
      break;
    first = 0;
    word = TessResultIteratorGetUTF8Text(w, RIL_WORD);
    if (word == NULL)
      continue;
    wl = strlen(word);
    wc = TessResultIteratorConfidence(w, RIL_WORD) / 100.0f;
    total += wl;
    /* The word's place in the line text: what lies between it and the
     * previous word is the line's spacing. */
    at = strstr(cursor, word);
    if (at != NULL) {
      for (const char *g = cursor; g < at; g++)
        gap_space |= *g == ' ' || *g == '\t';
      cursor = at + wl;
    }
    if (wc >= threshold &&
        TessPageIteratorBoundingBox(pw, RIL_WORD, &wl_, &wt_, &wr_, &wb_) &&
        len + wl + 2 <= cap) {
      if (nkept > 0 && gap_space)
        buf[len++] = ' ';
      memcpy(buf + len, word, wl);
      len += wl;
      if (nkept == 0) {
        *l = wl_;
        *t = wt_;
        *r = wr_;
        *b = wb_;
      } else {
        *l = wl_ < *l ? wl_ : *l;
        *t = wt_ < *t ? wt_ : *t;
        *r = wr_ > *r ? wr_ : *r;
        *b = wb_ > *b ? wb_ : *b;
      }
      sum += wc;
      kept += wl;
      nkept++;
      gap_space = 0;
    }
    TessDeleteText(word);
  } while (TessResultIteratorNext(w, RIL_WORD));
  TessResultIteratorDelete(w);
  if (nkept == 0 || (double)kept < SALVAGE_MIN_SHARE * (double)total) {
    free(buf);
    return 1;
  }
  buf[len] = '\0';
  *text = buf;
  *conf = (float)(sum / nkept);
  return 0;
}

typedef ocr__read_stats read_stats;

/* Worker thread. One Recognize() pass with the given segmentation mode,
 * then the text lines from its result iterator. Lines go into out (those
 * under the threshold are dropped); *st counts what was read. */
static int recognise(TessBaseAPI *api, PIX *pix, const int *at, int psm, int q,
                     const ocr__image *img, int page, const ocr_request *req,
                     float threshold, ocr_result *out, read_stats *st, PIX *ink,
                     BOXA *seen) {
  TessResultIterator *it;
  ETEXT_DESC *monitor;
  double t_start;
  int rc;

  st->lines = st->turned = 0;
  TessBaseAPISetPageSegMode(api, (TessPageSegMode)psm);
  TessBaseAPISetImage2(api, pix);
  /* A photo's uneven light: Sauvola's local threshold instead of Otsu's
   * global one, for this reading only (the instance serves other pages
   * next). Binarisation happens in layout analysis or Recognize(). */
  if (img->adaptive)
    TessBaseAPISetVariable(api, "thresholding_method", "2");
  if (req->timings && at == NULL) {
    /* Recognize() reuses the layout found here (FindLines keeps its block
     * list), so timing the two apart costs only the iterator. */
    double t0 = clock_mono_ms_f();
    TessPageIterator *layout = TessBaseAPIAnalyseLayout(api);

    TessPageIteratorDelete(layout);
    out->layout_ms += clock_mono_ms_f() - t0;
  }
  t_start = clock_mono_ms_f();
  monitor = TessMonitorCreate();
  if (monitor == NULL) {
    TessBaseAPISetVariable(api, "thresholding_method", "0");
    return ocr__fail(out, ERR_NOMEM, "no memory for the progress monitor");
  }
  if (req->cancel != NULL) {
    TessMonitorSetCancelFunc(monitor, on_cancel);
    TessMonitorSetCancelThis(monitor, (void *)(uintptr_t)req->cancel);
  }
  /* One pass computes layout, text and confidences together; the
   * iterator below only reads them. GetUTF8Text() or MeanTextConf() would
   * each run layout analysis again. */
  rc = TessBaseAPIRecognize(api, monitor);
  TessMonitorDelete(monitor);
  if (img->adaptive)
    TessBaseAPISetVariable(api, "thresholding_method", "0");
  if (cancelled(req))
    return ocr__fail(out, ERR_CANCELLED, "cancelled during recognition");
  if (rc != 0)
    return ocr__fail(out, ERR_ENGINE, "Tesseract recognition failed");

  it = TessBaseAPIGetIterator(api);
  if (it == NULL) {
    out->recognition_ms += clock_mono_ms_f() - t_start;
    return 0;
  }
  do {
    const TessPageIterator *pit = TessResultIteratorGetPageIteratorConst(it);
    char *line = TessResultIteratorGetUTF8Text(it, RIL_TEXTLINE);
    float conf, quad[8];
    int l, t, r, b, i;
    size_t n;
    char *copy;

    if (line == NULL)
      continue;
    /* Every line Tesseract found, read or not, covers its ink. */
    if ((ink != NULL || seen != NULL) &&
        TessPageIteratorBoundingBox(pit, RIL_TEXTLINE, &l, &t, &r, &b)) {
      BOX *box;

      /* A part of a split page: its place in the whole image. */
      if (at != NULL) {
        l += at[0];
        r += at[0];
        t += at[1];
        b += at[1];
      }
      box = boxCreate(l, t, r - l, b - t);
      if (box != NULL && ink != NULL)
        pixClearInRect(ink, box);
      if (box != NULL && seen != NULL)
        boxaAddBox(seen, box, L_COPY);
      boxDestroy(&box);
    }
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\t' ||
                     line[n - 1] == '\r'))
      n--;
    if (n == 0 || !TessPageIteratorBoundingBox(pit, RIL_TEXTLINE, &l, &t, &r, &b)) {
      TessDeleteText(line);
      continue;
    }
    st->lines++;
    {
      TessOrientation o = ORIENTATION_PAGE_UP;
      TessWritingDirection wd;
      TessTextlineOrder tlo;
      float deskew;

      /* The C API takes a mutable iterator for a read-only query. */
      TessPageIteratorOrientation((TessPageIterator *)pit, &o, &wd, &tlo, &deskew);
      /* A page turned by a quarter is read as vertical text, which the
       * block may still call upright: a line of several characters that
       * is taller than wide is turned too. */
      st->turned += o != ORIENTATION_PAGE_UP || (n >= 3 && b - t > r - l);
    }
    conf = TessResultIteratorConfidence(it, RIL_TEXTLINE) / 100.0f;
    if (conf < threshold) {
      /* One unsure word pulls a whole line under the threshold (Korean
       * lines most of all): keep the sure words when they carry most of
       * the line. */
      int sr = salvage_words(it, line, threshold, &copy, &conf, &l, &t, &r, &b);
      TessDeleteText(line);
      if (sr == ERR_NOMEM) {
        TessResultIteratorDelete(it);
        return ocr__fail(out, ERR_NOMEM, "no memory for line text");
      }
      if (sr != 0)
        continue;
    } else {
      /* Text comes from Tesseract's allocator and must go back to it;
       * the result owns plain heap memory. */
      copy = ocrpc_strndup(line, n);
      TessDeleteText(line);
    }
    {
      /* Corners of the upright box, clockwise from the text's top-left;
       * mapping each keeps that order in the image as sent. */
      const float dx = at != NULL ? (float)at[0] : 0, dy = at != NULL ? (float)at[1] : 0;
      const float cx[4] = {l + dx, r + dx, r + dx, l + dx};
      const float cy[4] = {t + dy, t + dy, b + dy, b + dy};
      /* First undo the orientation detector's turn (on the image
       * Tesseract got), then padding and EXIF orientation. */
      PIX *src = img->pix;
      float inv = img->scale > 0 && img->scale < 1 ? (float)(1.0 / img->scale) : 1.0f;
      int sw = pixGetWidth(src), sh = pixGetHeight(src);
      for (i = 0; i < 4; i++) {
        float ux, uy, x = cx[i] * inv, y = cy[i] * inv;
        /* Back to the size of pix first (a downscaled copy was read): the
         * turned copy's sides are pix's, turned. */
        x = x > (float)(q % 2 ? sh : sw) ? (float)(q % 2 ? sh : sw) : x;
        y = y > (float)(q % 2 ? sw : sh) ? (float)(q % 2 ? sw : sh) : y;
        unrotate(q, sw, sh, x, y, &ux, &uy);
        ocr__image_map(img, ux, uy, &quad[2 * i], &quad[2 * i + 1]);
      }
    }
    ocr__result_add_box(out, copy, conf, quad);
    out->boxes[out->nboxes - 1].page = page;
  } while (TessResultIteratorNext(it, RIL_TEXTLINE));
  TessResultIteratorDelete(it);
  out->recognition_ms += clock_mono_ms_f() - t_start;
  return 0;
}

/* Worker thread. */
int ocr__tess_recognise(void *api, void *pix, const int *at, int psm, const ocr__image *img,
                        int page, const ocr_request *req, float threshold, ocr_result *out,
                        ocr__read_stats *st, void *seen) {
  return recognise(api, pix, at, psm, 0, img, page, req, threshold, out, st, NULL, seen);
}

/* Worker thread. */
void *ocr__tess_api(const ocr_engine *e, const char *code) {
  tess_thread *t = thread_state();

  return t != NULL ? recognizer(t, e->tessdata, code) : NULL;
}

/* Characters and mean confidence of out's boxes from index first on. */
static void page_score(const ocr_result *out, size_t first, size_t *chars, double *conf) {
  double sum = 0;

  *chars = 0;
  for (size_t i = first; i < out->nboxes; i++) {
    *chars += strlen(out->boxes[i].text);
    sum += out->boxes[i].confidence;
  }
  *conf = out->nboxes > first ? sum / (double)(out->nboxes - first) : 0;
}

/* Worker thread. Reads the page again as one uniform block (PSM 6) and
 * keeps that reading instead of out's boxes from index first on when it
 * reads clearly more (10 % more characters) at about the same confidence
 * (at most 0.05 lower). Returns 0 or out's error. */
static int try_block_mode(TessBaseAPI *api, PIX *pix, int q, const ocr__image *img,
                          int page, const ocr_request *req, float threshold, size_t first,
                          ocr_result *out) {
  ocr_result alt;
  size_t chars, alt_chars, i;
  double conf, alt_conf;
  read_stats st;
  int rc;

  ocr_result_init(&alt);
  rc = recognise(api, pix, NULL, PSM_SINGLE_BLOCK, q, img, page, req, threshold, &alt, &st,
                 NULL, NULL);
  if (rc != 0) {
    ocr__fail(out, rc, "%s", alt.error_message != NULL ? alt.error_message : "");
    ocr_result_clear(&alt);
    return rc;
  }
  out->layout_ms += alt.layout_ms;
  out->recognition_ms += alt.recognition_ms;
  page_score(out, first, &chars, &conf);
  page_score(&alt, 0, &alt_chars, &alt_conf);
  if ((double)alt_chars > 1.1 * (double)chars && alt_conf >= conf - 0.05) {
    for (i = first; i < out->nboxes; i++)
      free(out->boxes[i].text);
    out->nboxes = first;
    for (i = 0; i < alt.nboxes; i++) {
      char *text = alt.boxes[i].text;

      alt.boxes[i].text = NULL;
      ocr__result_add_box(out, text, alt.boxes[i].confidence, alt.boxes[i].quad);
      out->boxes[out->nboxes - 1].page = page;
    }
  }
  ocr_result_clear(&alt);
  return 0;
}

/* Worker thread. Reads one page (pix, already turned by q quarter turns)
 * with the request's segmentation mode and its fallbacks, appending boxes
 * to out; *st says what the main pass found. */
static int read_page(ocr_engine *e, TessBaseAPI *api, PIX *pix, int q,
                     const ocr__image *img, int page, const ocr_request *req,
                     const char *code, float threshold, ocr_result *out, read_stats *st) {
  PIX *ink = NULL;
  l_int32 ink_before = 0;
  size_t first = out->nboxes;
  int psm, rc;

  /* Automatic segmentation reads multi-column pages right but often finds
   * no text at all on a single Korean line, which a uniform block (6)
   * reads; other languages try automatic first and fall back to a block
   * only when it found nothing. */
  if (req->psm >= 0)
    psm = req->psm;
  else if (ocr__language_is_korean(code))
    psm = PSM_SINGLE_BLOCK;
  else
    psm = PSM_AUTO;
  if (req->psm < 0 && psm == PSM_AUTO) {
    ink = pixConvertTo1(pix, 128);
    if (ink != NULL)
      pixCountPixels(ink, &ink_before, NULL);
  }
  rc = 1;
  /* An upright page while other workers are idle may be read in parts
   * on several of them (ocr_split.c); the fallbacks below then judge the
   * merged reading as they would the whole one. */
  if (q == 0 && (psm == PSM_AUTO || psm == PSM_SINGLE_BLOCK)) {
    BOXA *seen = ink != NULL ? boxaCreate(0) : NULL;

    /* The split's layout analysis binarises the page on this instance:
     * a photo's as recognise() would (parts set it themselves). */
    if (img->adaptive)
      TessBaseAPISetVariable(api, "thresholding_method", "2");
    rc = ocr__split_read(e, api, pix, psm, img, page, req, code, threshold, out, st, seen);
    if (img->adaptive)
      TessBaseAPISetVariable(api, "thresholding_method", "0");
    if (rc == 0 && seen != NULL) {
      for (l_int32 i = 0; i < boxaGetCount(seen); i++) {
        BOX *box = boxaGetBox(seen, i, L_CLONE);
        pixClearInRect(ink, box);
        boxDestroy(&box);
      }
    }
    boxaDestroy(&seen);
  }
  if (rc == 1) {
    out->parts = 1;
    out->part_workers = 1;
    rc = recognise(api, pix, NULL, psm, q, img, page, req, threshold, out, st, ink, NULL);
  }
  if (rc == 0 && st->lines == 0 && req->psm < 0 && psm == PSM_AUTO && !cancelled(req)) {
    rc = recognise(api, pix, NULL, PSM_SINGLE_BLOCK, q, img, page, req, threshold, out, st,
                   NULL, NULL);
  } else if (rc == 0 && ink != NULL && !cancelled(req)) {
    l_int32 left = 0, area = pixGetWidth(pix) * pixGetHeight(pix);

    pixCountPixels(ink, &left, NULL);
    /* Automatic layout analysis sometimes files a column of figures (the
     * prices of a bill) as non-text and reads nothing there: dark ink
     * left outside every line it found means a uniform block (6) may
     * read more. A page that is mostly dark (inverted text, a photo) is
     * no evidence either way. */
    if (ink_before < area / 2 && left > ink_before / 10 && left > area / 2000)
      rc = try_block_mode(api, pix, q, img, page, req, threshold, first, out);
  }
  pixDestroy(&ink);
  return rc;
}

/* A reading of an upright page at least this sure, keeping at least this
 * share of the lines it found, is taken as upright without asking the
 * orientation detector. Text turned by 90, 180 or 270 degrees reads as
 * lines the recogniser is unsure of (measured on the rendered pages of
 * test_ocr_tess and bench/gen_images.sh: see bench/RESULTS.md). */
#define UPRIGHT_MIN_CONFIDENCE 0.80
#define UPRIGHT_MIN_KEPT_SHARE 0.8

/* Boxes out holds from first on read like upright text. Tesseract's own
 * layout analysis reads a page turned by 90 degrees as vertical text,
 * often confidently: a line it found turned also asks the detector. */
static int reads_upright(const ocr_result *out, size_t first, const read_stats *st) {
  size_t chars, kept = out->nboxes - first;
  double conf;

  if (kept == 0 || st->lines <= 0 || st->turned > 0)
    return 0;
  page_score(out, first, &chars, &conf);
  return conf >= UPRIGHT_MIN_CONFIDENCE &&
         (double)kept >= UPRIGHT_MIN_KEPT_SHARE * st->lines;
}

/* Worker thread. */
int ocr__tess_run(ocr_engine *e, const ocr_request *req, const char *code, ocr__image *img,
                  int page, ocr_result *out) {
  tess_thread *t;
  TessBaseAPI *api, *osd;
  PIX *pix = img->pix, *rotated = NULL, *scaled = NULL;
  float threshold = req->confidence_threshold > 0 ? req->confidence_threshold : 0.5f;
  read_stats st;
  ocr__page_survey survey;
  int q = 0, rc;
  double t0;
  size_t first = out->nboxes, i;

  if (req->psm > PSM_MAX || req->psm == PSM_OSD_ONLY)
    return ocr__fail(out, ERR_INVAL,
                     "page segmentation mode %d is not one "
                     "that recognises text",
                     req->psm);
  t = thread_state();
  if (t == NULL)
    return ocr__fail(out, ERR_NOMEM, "no memory for thread state");
  api = recognizer(t, e->tessdata, code);
  if (api == NULL)
    return ocr__fail(out, ERR_ENGINE,
                     "Tesseract could not load language %s "
                     "from %s",
                     code, e->tessdata);
  osd = NULL;
  if (req->use_angle_cls) {
    /* Loaded before reading, so that a missing osd.traineddata fails
     * every request that asks for orientation, upright or not. */
    osd = orientation_detector(t, e->tessdata);
    if (osd == NULL)
      return ocr__fail(out, ERR_ENGINE,
                       "orientation detection unavailable "
                       "(osd.traineddata in %s)",
                       e->tessdata);
  }
  if (cancelled(req))
    return ocr__fail(out, ERR_CANCELLED, "cancelled before recognition");

  /* Text far larger than Tesseract needs (600 DPI scans, large photos) is
   * read from a downscaled copy; boxes are mapped back (recognise). */
  t0 = clock_mono_ms_f();
  ocr__survey(pix, &survey);
  img->scale = survey.scale;
  img->adaptive = survey.uneven;
  if (img->scale < 1) {
    scaled = ocr__scale_pix(pix, img->scale);
    if (scaled == NULL)
      return ocr__fail(out, ERR_NOMEM, "no memory to scale the image");
    pix = scaled;
  }
  out->decode_ms += clock_mono_ms_f() - t0;

  /* Read first, as sent: most pages are upright, and a confident reading
   * makes the orientation pass (about a sixth of a page's time) useless.
   * Only a reading that looks wrong asks the detector, which then decides
   * exactly as it did when it ran on every page. */
  rc = read_page(e, api, pix, 0, img, page, req, code, threshold, out, &st);
  if (rc == 0 && osd != NULL && !reads_upright(out, first, &st)) {
    if (cancelled(req)) {
      TessBaseAPIClear(api);
      pixDestroy(&scaled);
      return ocr__fail(out, ERR_CANCELLED, "cancelled before orientation detection");
    }
    t0 = clock_mono_ms_f();
    q = detect_quarter_turns(osd, pix);
    out->orientation_ms += clock_mono_ms_f() - t0;
    if (q != 0) {
      for (i = first; i < out->nboxes; i++)
        free(out->boxes[i].text);
      out->nboxes = first;
      rotated = pixRotateOrth(pix, q);
      if (rotated == NULL) {
        TessBaseAPIClear(api);
        pixDestroy(&scaled);
        return ocr__fail(out, ERR_NOMEM, "no memory to rotate the image");
      }
      if (cancelled(req))
        rc = ocr__fail(out, ERR_CANCELLED, "cancelled before recognition");
      else
        rc = read_page(e, api, rotated, q, img, page, req, code, threshold, out, &st);
    }
  }
  if (page == 1)
    out->rotation = q * 90;
  /* Drops the page results and this instance's reference to the image,
   * which would otherwise stay in memory until the thread's next job. */
  TessBaseAPIClear(api);
  pixDestroy(&rotated);
  pixDestroy(&scaled);
  return rc;
}
