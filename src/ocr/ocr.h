/* SPDX-License-Identifier: MIT */
/* OCR engines: Tesseract (real) and mock (fixed answer, only for measuring
 * RPC overhead and testing the layers above OCR). An engine is created once
 * on the loop thread; ocr_engine_run() is called from worker threads, each
 * of which lazily builds and then reuses its own Tesseract instances (one
 * per language set). No network, no libuv, no logging: errors are ERR_*
 * codes plus a message. */
#ifndef OCRPC_OCR_H
#define OCRPC_OCR_H

#include <stddef.h>
#include <stdint.h>

typedef enum ocr_kind { OCR_KIND_TESSERACT = 0, OCR_KIND_MOCK = 1 } ocr_kind;

typedef struct ocr_config {
  ocr_kind kind;
  /* Directory that request paths resolve inside (absolute or relative to
   * the working directory). Borrowed; copied by ocr_engine_new. */
  const char *image_root;
  /* Language used when a request leaves it empty ("korean", "eng", ...). */
  const char *default_language;
  /* Images whose width*height exceeds this are refused (ERR_TOO_LARGE),
   * checked from the header before the pixels are decoded. 0 means
   * OCR_DEFAULT_MAX_PIXELS. */
  uint64_t max_pixels;
  /* Tessdata directory; NULL for Tesseract's default. */
  const char *tessdata_dir;
  /* Pages of one multi-page TIFF or PDF recognised at most; a document
   * with more is refused (ERR_TOO_LARGE) before any page is decoded. 0
   * means OCR_DEFAULT_MAX_PAGES. */
  int max_pages;
  /* Resolution PDF pages are rendered at, in dots per inch; 0 means
   * OCR_DEFAULT_PDF_DPI. */
  int pdf_dpi;
} ocr_config;

#define OCR_DEFAULT_MAX_PAGES 100
#define OCR_DEFAULT_PDF_DPI 300

/* Pixel limit used when ocr_config.max_pixels is 0 (about 10000 x 10000). */
#define OCR_DEFAULT_MAX_PIXELS ((uint64_t)100000000)

typedef struct ocr_engine ocr_engine;

/* ocr_request.psm for an options["psm"] that is not an integer. */
#define OCR_PSM_INVALID (-2)

/* The psm option as every front door reads it: -1 (automatic) for NULL,
 * the value for an integer 0..1000, else OCR_PSM_INVALID; the engine then
 * refuses all but -1 and 1..13 with ERR_INVAL naming options.psm, rather
 * than ignoring a bad value. Any thread. */
int ocr_psm_parse(const char *v);

/* What one recognition reads. All pointers are owned by the caller (the
 * job) and must stay valid until ocr_engine_run returns. */
typedef struct ocr_request {
  /* Path relative to the image root (or absolute inside it); NULL or ""
   * when the image comes inline. */
  const char *path;
  /* Inline image bytes (PNG, JPEG, TIFF, ...); used when len > 0. */
  const uint8_t *data;
  size_t data_len;
  /* "korean", "english", Tesseract codes ("kor", "eng", "kor+eng");
   * NULL or "" means the engine's default language. */
  const char *language;
  /* 0..1; boxes below it are dropped. 0 means the default 0.5; outside
   * 0..1 (or NaN) the request fails with ERR_INVAL naming the field. */
  float confidence_threshold;
  /* Detect orientation and rotate upright before recognition. */
  int use_angle_cls;
  /* Page segmentation mode override (options["psm"]): 1..13, or -1 =
   * automatic. Anything else (OCR_PSM_INVALID for a value that is not an
   * integer) fails with ERR_INVAL naming options.psm. */
  int psm;
  /* Raised by the loop thread when the caller has gone (cancel, deadline);
   * read by the recognition's progress monitor. May be NULL. */
  const volatile int *cancel;
  /* PDF pages that carry a text layer are answered from it instead of by
   * OCR (options["pdf_text"]="use"); 0 = OCR every page. */
  int pdf_text;
  /* options["timings"]="1": the result's per-phase times are measured
   * (ocr_result.timed); layout analysis is then timed apart from
   * recognition, at no extra cost (Tesseract reuses the layout it found). */
  int timings;
} ocr_request;

/* One text line. */
typedef struct ocr_box {
  char *text;       /* UTF-8, owned by the result */
  float confidence; /* 0..1 */
  /* Quadrilateral x1,y1,...,x4,y4, clockwise from top-left, in the
   * coordinates of the image as sent (before any rotation). */
  float quad[8];
  int page; /* 1-based page (TIFF, PDF) the line is on; 1 for images */
} ocr_box;

typedef struct ocr_result {
  int err;             /* 0, or ERR_NOT_FOUND, ERR_FORBIDDEN_PATH,
                          ERR_DECODE, ERR_TOO_LARGE (pixels, sides or
                          pages over the limits), ERR_UNSUPPORTED_FORMAT
                          (a valid encoding this server cannot decode:
                          tiled TIFF, RLE BMP, ...), ERR_PDF (broken PDF),
                          ERR_PDF_ENCRYPTED, ERR_LANGUAGE,
                          ERR_CANCELLED, ERR_ENGINE, ERR_NOMEM; also
                          ERR_INVAL (no image given, psm not 1..13,
                          confidence_threshold not 0..1) and
                          ERR_IO (the file could not be read) */
  char *error_message; /* owned; human-readable, set when err != 0 */
  char *text;          /* owned; lines joined by '\n', no trailing '\n' */
  float confidence;    /* 0..1, mean over the kept boxes (0 if none) */
  ocr_box *boxes;      /* owned array of nboxes */
  size_t nboxes;
  int width, height; /* of the image (first page) as sent; PDF: as rendered */
  char language[64]; /* the Tesseract language code used, e.g. "kor" */
  int rotation;      /* degrees applied by orientation detection: 0/90/180/270
                        (clockwise turn that made the page upright) */
  int pages;         /* pages recognised (multi-page TIFF, PDF); 1 for images */
  int orientation;   /* EXIF Orientation applied before recognition (JPEG),
                        1..8; 1 when the pixels were used as stored */
  double ocr_ms;     /* time spent decoding + recognising */
  /* Per-phase wall-clock times in milliseconds, summed over pages, set
   * when the request asked for them (timed = 1): decoding the image
   * (header checks, decompression, EXIF turn), orientation detection,
   * layout analysis (binarisation, page segmentation), recognition (the
   * LSTM and line assembly; with fallbacks and re-reads) and encode
   * (joining the lines into the result's text). Not cached. */
  int timed;
  double decode_ms, orientation_ms, layout_ms, recognition_ms, encode_ms;
  /* Parts the page (the last page of a document that was split) was
   * recognised in: 1 when read whole, more when its blocks were read on
   * several workers at once (ocr_engine_set_parts); 0 when no page was
   * recognised (mock engine, cached result). part_workers: the workers that
   * read them, the page's own included. Not cached. */
  int parts, part_workers;
  /* Of a split page (benchmarks: the machine's load does not change CPU
   * time as it does wall time): thread CPU time, in ms, the page's own
   * worker spent reading parts, and the most any one worker spent on them;
   * the page's critical path is then its worker's CPU time - self + max. */
  double parts_cpu_self_ms, parts_cpu_max_ms;
} ocr_result;

/* Creates an engine. Loop thread, before workers run. Returns 0 and sets
 * *out, or ERR_NOMEM / ERR_CONFIG (image root missing, tessdata or the
 * default language not installed) with *out untouched. */
int ocr_engine_new(const ocr_config *cfg, ocr_engine **out);

/* Frees the engine; NULL is a no-op. Call after every worker is done. */
void ocr_engine_free(ocr_engine *e);

/* Runs fn(arg, 1) on another worker thread soon, or fn(arg, 0) (on any
 * thread) when it never will (shutdown); returns 0, or an ERR_* code and
 * then never calls fn. Called from worker threads. */
typedef void (*ocr_part_fn)(void *arg, int run);
typedef int (*ocr_post_fn)(void *ud, ocr_part_fn fn, void *arg);

/* Lets a page read while other workers are idle be split into its blocks
 * (or groups of lines), read on several workers at once and merged in
 * reading order (--split-pages auto). workers: the size of the pool the
 * engine runs in; post (with ud, borrowed) hands a part to another worker.
 * Without this call, or with workers < 2 or post NULL, pages are read
 * whole. Loop thread, before workers run. */
void ocr_engine_set_parts(ocr_engine *e, int workers, ocr_post_fn post, void *ud);

/* "tesseract" or "mock". Static storage. */
const char *ocr_engine_name(const ocr_engine *e);

/* 1 when ocr_engine_run never blocks (the mock engine: no file system, no
 * Tesseract), so a caller may run it on its own thread instead of handing
 * it to a worker. Any thread. */
int ocr_engine_is_instant(const ocr_engine *e);

/* Engine version ("5.3.0" for Tesseract). Static storage. */
const char *ocr_engine_version(const ocr_engine *e);

/* Worker thread. Recognises one image. Always fills *out (zero it first
 * with ocr_result_init); returns out->err. Failures of the image itself
 * (missing, forbidden, undecodable, too large, unknown language) are
 * results, never crashes. Thread-safe: concurrent calls on different
 * threads each use that thread's own Tesseract instances. */
int ocr_engine_run(ocr_engine *e, const ocr_request *req, ocr_result *out);

/* Worker thread. The first half of ocr_engine_run, for a caller that
 * needs the image bytes before recognising (the result cache keys on
 * them): picks the language code as ocr_engine_run would (into
 * out->language) and checks that it is installed, then, for a request
 * that names a path, resolves it inside the image root and reads the file
 * into *data (malloc'd; the caller frees it) and *len. For an inline
 * image *data stays NULL: the caller has the bytes. Fails as
 * ocr_engine_run would for the same request, with the same codes and
 * messages: ERR_CANCELLED, ERR_LANGUAGE, ERR_INVAL, ERR_NOT_FOUND,
 * ERR_FORBIDDEN_PATH, ERR_IO, ERR_TOO_LARGE (a file too big for the pixel
 * limit), ERR_DECODE (empty or not a regular file), ERR_NOMEM. The mock
 * engine reads files too. Returns out->err. */
int ocr_engine_read(ocr_engine *e, const ocr_request *req, uint8_t **data, size_t *len,
                    ocr_result *out);

void ocr_result_init(ocr_result *r);
/* Frees what the result owns and re-initialises it. */
void ocr_result_clear(ocr_result *r);

/* The compact binary form of a successful result, in *data (malloc'd;
 * the caller frees it) and *len: text, confidence, boxes (text,
 * confidence, quad), width, height, language and rotation, little-endian
 * whatever the host, so that servers sharing a store read each other's
 * values. ocr_ms and errors are not kept (only successes are worth
 * caching). 0, ERR_INVAL (r->err is set) or ERR_NOMEM. Any thread. */
int ocr_result_pack(const ocr_result *r, uint8_t **data, size_t *len);

/* Reads what ocr_result_pack wrote into out (initialised; the caller
 * clears it). Bytes from another version or damaged ones are refused
 * with ERR_PARSE, out left empty; also ERR_NOMEM. Any thread. */
int ocr_result_unpack(const uint8_t *data, size_t len, ocr_result *out);

/* Maps a language name ("korean", "english", "kor+eng", ...) to the
 * Tesseract code into buf. Returns 0 or ERR_LANGUAGE. Any thread. */
int ocr_language_code(const char *name, char *buf, size_t bufsize);

/* Resolves a request path inside root: rejects "..", absolute paths
 * outside root and symlinks that escape it (resolve, then check).
 * On success writes the real path into out (PATH_MAX bytes) and returns 0;
 * else ERR_FORBIDDEN_PATH or ERR_NOT_FOUND. Any thread. */
int ocr_path_resolve(const char *root, const char *path, char *out, size_t outsize);

/* Keeps the decoders' (leptonica, libtiff, poppler) messages off stderr:
 * failures reach callers as codes and messages instead. ocr_engine_new
 * does it; tests and fuzz targets that read image headers without an
 * engine call it themselves. Idempotent. Any thread. */
void ocr_quiet(void);

#endif
