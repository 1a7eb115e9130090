/* SPDX-License-Identifier: MIT */
/* The engine object and the dispatch of one request: settings validated
 * once on the loop thread by ocr_engine_new, then ocr_engine_run on worker
 * threads picks the language, loads the image and hands it to Tesseract,
 * or answers at once for the mock engine, which exists only for RPC
 * benchmarks and for tests of the layers above OCR. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/clock.h"
#include "base/err.h"
#include "ocr_internal.h"

#define MOCK_TEXT "mock text"
#define MOCK_CONFIDENCE 0.99f

static char tess_version[32];
static pthread_once_t tess_version_once = PTHREAD_ONCE_INIT;

static void copy_tess_version(void) {
  snprintf(tess_version, sizeof(tess_version), "%s", ocr__tess_version());
}

int ocr_engine_new(const ocr_config *cfg, ocr_engine **out) {
  const char *root, *lang;
  ocr_engine *e;
  struct stat st;
  ocr_result probe;
  int rc;

  if (cfg == NULL || out == NULL ||
      (cfg->kind != OCR_KIND_TESSERACT && cfg->kind != OCR_KIND_MOCK))
    return ERR_CONFIG;
  e = calloc(1, sizeof(*e));
  if (e == NULL)
    return ERR_NOMEM;
  e->kind = cfg->kind;
  e->max_pixels = cfg->max_pixels != 0 ? cfg->max_pixels : OCR_DEFAULT_MAX_PIXELS;
  e->max_pages = cfg->max_pages > 0 ? cfg->max_pages : OCR_DEFAULT_MAX_PAGES;
  e->pdf_dpi = cfg->pdf_dpi > 0 ? cfg->pdf_dpi : OCR_DEFAULT_PDF_DPI;

  root = cfg->image_root != NULL && cfg->image_root[0] != '\0' ? cfg->image_root : ".";
  if (realpath(root, e->image_root) == NULL || stat(e->image_root, &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    rc = ERR_CONFIG;
    goto fail_engine;
  }

  lang = cfg->default_language != NULL && cfg->default_language[0] != '\0'
             ? cfg->default_language
             : "korean";
  if (ocr_language_code(lang, e->default_language, sizeof(e->default_language)) != 0) {
    rc = ERR_CONFIG;
    goto fail_engine;
  }

  if (e->kind == OCR_KIND_TESSERACT) {
    rc = ocr__tessdata_dir(cfg->tessdata_dir, e->tessdata, sizeof(e->tessdata));
    if (rc != 0)
      goto fail_engine;
    ocr_result_init(&probe);
    rc = ocr__language_installed(e->tessdata, e->default_language, &probe);
    ocr_result_clear(&probe);
    if (rc != 0) {
      rc = ERR_CONFIG;
      goto fail_engine;
    }
    pthread_once(&tess_version_once, copy_tess_version);
  }
  /* Leptonica's message level is process-wide; setting it here, before
   * any worker runs, avoids racing on it. The mock engine reads image
   * headers with leptonica too. */
  ocr__image_quiet();
  *out = e;
  return 0;

fail_engine:
  free(e);
  return rc;
}

void ocr_engine_free(ocr_engine *e) {
  /* Per-thread Tesseract instances are not the engine's: they belong to
   * their worker threads and are ended when those exit. */
  free(e);
}

const char *ocr_engine_name(const ocr_engine *e) {
  return e->kind == OCR_KIND_MOCK ? "mock" : "tesseract";
}

const char *ocr_engine_version(const ocr_engine *e) {
  if (e->kind == OCR_KIND_MOCK)
    return "0";
  pthread_once(&tess_version_once, copy_tess_version);
  return tess_version;
}

void ocr_engine_set_parts(ocr_engine *e, int workers, ocr_post_fn post, void *ud) {
  e->workers = workers;
  e->post = post;
  e->post_ud = ud;
}

int ocr_engine_is_instant(const ocr_engine *e) { return e->kind == OCR_KIND_MOCK; }

/* Worker thread. The mock engine: a fixed answer without Tesseract or the
 * file system, so that benchmarks measure the RPC path alone. The image
 * size is read from inline bytes when there are any (header only). */
static int mock_run(const ocr_request *req, ocr_result *out) {
  float quad[8] = {0, 0, 100, 0, 100, 20, 0, 20};
  char *text;
  int w, h;

  if (req->data_len > 0 && ocr__image_header(req->data, req->data_len, &w, &h) == 0) {
    out->width = w;
    out->height = h;
    quad[2] = quad[4] = (float)w;
    quad[5] = quad[7] = (float)h;
  }
  text = strdup(MOCK_TEXT);
  if (text == NULL || ocr__result_add_box(out, text, MOCK_CONFIDENCE, quad) != 0 ||
      ocr__result_finish(out) != 0)
    return ocr__fail(out, ERR_NOMEM, "no memory for the mock answer");
  return 0;
}

/* Worker thread. Resolves req->path inside the image root into real
 * (PATH_MAX bytes), failing with the messages every caller shares. */
static int resolve(const ocr_engine *e, const ocr_request *req, char *real,
                   ocr_result *out) {
  int rc;

  if (req->path == NULL || req->path[0] == '\0')
    return ocr__fail(out, ERR_INVAL, "request has neither a path nor image data");
  rc = ocr_path_resolve(e->image_root, req->path, real, PATH_MAX);
  if (rc == ERR_NOT_FOUND)
    return ocr__fail(out, rc, "%s: no such file in the image root", req->path);
  if (rc != 0)
    return ocr__fail(out, rc, "%s: path leads outside the image root", req->path);
  return 0;
}

int ocr_psm_parse(const char *v) {
  char *end;
  long n;

  if (v == NULL)
    return -1;
  n = strtol(v, &end, 10);
  if (end == v || *end != '\0' || n < 0 || n > 1000)
    return OCR_PSM_INVALID;
  return (int)n;
}

/* Worker thread. The checks ocr_engine_run makes before touching the
 * image, in its order: cancel flag, option ranges, language name,
 * installed data. Out-of-range options are refused rather than ignored:
 * a threshold of 5 would drop every line and still "succeed". */
static int pick_language(ocr_engine *e, const ocr_request *req, ocr_result *out) {
  if (req->cancel != NULL && *req->cancel != 0)
    return ocr__fail(out, ERR_CANCELLED, "cancelled before start");
  if (!(req->confidence_threshold >= 0.0f && req->confidence_threshold <= 1.0f))
    return ocr__fail(out, ERR_INVAL,
                     "confidence_threshold must be between 0 and 1 (got %g)",
                     (double)req->confidence_threshold);
  if (req->psm == 0)
    return ocr__fail(out, ERR_INVAL,
                     "options.psm 0 (orientation detection only) recognises no text: "
                     "use 1 to 13");
  if (req->psm != -1 && (req->psm < 1 || req->psm > 13))
    return ocr__fail(out, ERR_INVAL, "options.psm must be an integer from 1 to 13");
  if (req->language == NULL || req->language[0] == '\0')
    snprintf(out->language, sizeof(out->language), "%s", e->default_language);
  else if (ocr_language_code(req->language, out->language, sizeof(out->language)) != 0)
    return ocr__fail(out, ERR_LANGUAGE, "unknown language \"%.64s\"", req->language);
  if (e->kind == OCR_KIND_MOCK)
    return 0;
  return ocr__language_installed(e->tessdata, out->language, out);
}

/* Worker thread. */
int ocr_engine_read(ocr_engine *e, const ocr_request *req, uint8_t **data, size_t *len,
                    ocr_result *out) {
  char real[PATH_MAX];
  int rc;

  *data = NULL;
  *len = 0;
  if (e == NULL || req == NULL)
    return ocr__fail(out, ERR_INVAL, "no engine or request");
  rc = pick_language(e, req, out);
  if (rc != 0)
    return rc;
  if (req->data_len > 0)
    return req->data == NULL ? ocr__fail(out, ERR_INVAL, "image data is NULL") : 0;
  rc = resolve(e, req, real, out);
  if (rc != 0)
    return rc;
  return ocr__file_read(real, e->max_pixels, data, len, out);
}

static int cancelled(const ocr_request *req) {
  return req->cancel != NULL && *req->cancel != 0;
}

/* Worker thread. Every page of an opened document, in order, with the
 * cancel flag (raised by the loop thread on cancel or deadline) checked
 * before each phase this code controls: decoding a page, answering it
 * from a PDF text layer, recognising it. Tesseract itself checks it
 * between its own phases through the progress monitor. */
static int run_pages(ocr_engine *e, const ocr_request *req, ocr__doc *doc,
                     ocr_result *out) {
  int i, rc = 0;
  double t0;

  for (i = 0; i < doc->pages; i++) {
    ocr__image img;

    if (cancelled(req))
      return ocr__fail(out, ERR_CANCELLED, "cancelled before page %d", i + 1);
    if (req->pdf_text && doc->pdf != NULL) {
      int found = 0;

      rc = ocr__pdf_page_text(e, doc, i, &found, out);
      if (rc != 0)
        return rc;
      if (found)
        continue;
    }
    t0 = clock_mono_ms_f();
    rc = ocr__doc_page(e, doc, i, &img, out);
    out->decode_ms += clock_mono_ms_f() - t0;
    if (rc != 0)
      return rc;
    if (i == 0)
      out->orientation = img.orientation;
    if (cancelled(req)) {
      ocr__image_release(&img);
      return ocr__fail(out, ERR_CANCELLED, "cancelled after decoding page %d", i + 1);
    }
    rc = ocr__tess_run(e, req, out->language, &img, i + 1, out);
    ocr__image_release(&img);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* Worker thread. */
int ocr_engine_run(ocr_engine *e, const ocr_request *req, ocr_result *out) {
  ocr__doc doc;
  uint8_t *file = NULL;
  const uint8_t *data = req != NULL ? req->data : NULL;
  size_t len = req != NULL ? req->data_len : 0;
  double t0 = clock_mono_ms_f(), t1;
  int rc;

  if (e == NULL || req == NULL)
    return ocr__fail(out, ERR_INVAL, "no engine or request");
  rc = pick_language(e, req, out);
  if (rc != 0)
    return rc;
  out->pages = 1;
  out->orientation = 1;
  out->timed = req->timings != 0;

  if (e->kind == OCR_KIND_MOCK) {
    rc = mock_run(req, out);
    out->ocr_ms = clock_mono_ms_f() - t0;
    return rc;
  }

  if (req->data_len == 0) {
    char real[PATH_MAX];

    rc = resolve(e, req, real, out);
    if (rc == 0)
      rc = ocr__file_read(real, e->max_pixels, &file, &len, out);
    if (rc != 0) {
      out->ocr_ms = clock_mono_ms_f() - t0;
      return rc;
    }
    data = file;
  } else if (req->data == NULL) {
    return ocr__fail(out, ERR_INVAL, "image data is NULL");
  }
  memset(&doc, 0, sizeof(doc));
  /* Counted busy from here: a page split while this one runs would take
   * the worker it needs (ocr_split.c). */
  __atomic_fetch_add(&e->busy, 1, __ATOMIC_RELAXED);
  t1 = clock_mono_ms_f();
  rc = ocr__doc_open(e, data, len, &doc, out);
  out->decode_ms += clock_mono_ms_f() - t1;
  if (rc == 0) {
    out->pages = doc.pages;
    rc = run_pages(e, req, &doc, out);
  }
  __atomic_fetch_sub(&e->busy, 1, __ATOMIC_RELAXED);
  ocr__doc_close(&doc);
  free(file);
  t1 = clock_mono_ms_f();
  if (rc == 0 && ocr__result_finish(out) != 0)
    rc = ocr__fail(out, ERR_NOMEM, "no memory for the text");
  out->encode_ms = clock_mono_ms_f() - t1;
  out->ocr_ms = clock_mono_ms_f() - t0;
  return rc;
}
