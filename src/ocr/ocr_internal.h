/* SPDX-License-Identifier: MIT */
/* Functions shared between the files of src/ocr/ and its tests; nothing
 * outside the module includes this header. The engine struct lives here so
 * that the Tesseract, image and language files can read its settings, which
 * are written once on the loop thread by ocr_engine_new and only read by
 * worker threads afterwards. */
#ifndef OCRPC_OCR_INTERNAL_H
#define OCRPC_OCR_INTERNAL_H

#include <limits.h>
#include <stdint.h>

#include "ocr.h"

/* Tesseract keeps image coordinates in 16-bit integers in places; larger
 * sides fail deep inside recognition, so they are refused up front. */
#define OCR__MAX_SIDE 32767

struct ocr_engine {
  ocr_kind kind;
  char image_root[PATH_MAX]; /* realpath of the configured root */
  char tessdata[PATH_MAX];   /* directory holding <lang>.traineddata */
  char default_language[64]; /* Tesseract code, already mapped */
  uint64_t max_pixels;
  int max_pages; /* pages of one TIFF or PDF recognised at most */
  int pdf_dpi;   /* resolution PDF pages are rendered at */
  /* Page splitting (ocr_engine_set_parts): pool size, the hook that hands
   * a part to another worker, and the workers inside a recognition or a
   * part right now (the rest are idle), changed with __atomic builtins
   * (this header is also C++'s, which has no _Atomic). */
  int workers;
  ocr_post_fn post;
  void *post_ud;
  int busy;
};

/* A decoded image ready for Tesseract: 8 bpp grey or 32 bpp RGB without
 * colormap or alpha. pix is a leptonica PIX *, kept opaque here so that
 * this header stays free of third-party includes. */
typedef struct ocr__image {
  void *pix;
  int width, height; /* of the image (page) as sent */
  /* How pix was derived from the pixels as sent, so that boxes map back:
   * first the EXIF orientation (1..8, 1 = as stored) was applied, then
   * pad white pixels were added on every side. */
  int orientation;
  int pad;
  /* Set by ocr__tess_run when it reads a downscaled copy (ocr_scale.c):
   * the factor from pix to that copy; 0 or 1 = pix as is. */
  double scale;
  /* Set by ocr__tess_run: the page is lit unevenly (a photo), so every
   * reading of it, parts included, binarises adaptively (Sauvola). */
  int adaptive;
} ocr__image;

/* ocr_header.c */

typedef enum ocr__format {
  OCR__FMT_UNKNOWN = 0,
  OCR__FMT_PNG,
  OCR__FMT_JPEG,
  OCR__FMT_GIF,
  OCR__FMT_BMP,
  OCR__FMT_TIFF,
  OCR__FMT_WEBP,
  OCR__FMT_JP2,
  OCR__FMT_PNM,
  OCR__FMT_PDF
} ocr__format;

/* What a format's own header says, read without decoding. */
typedef struct ocr__header {
  ocr__format format;
  int width, height; /* first page (GIF: logical screen); 0 for PDF */
  int max_w, max_h;  /* the largest size any decoder would allocate */
  int max_side;      /* the longest side of any page or frame */
  /* GIF: pixels of every frame together (giflib decodes them all at
   * once); else 0. */
  uint64_t frame_pixels;
  int pages;       /* TIFF: pages counted, at most page_cap + 1; else 1 */
  int orientation; /* JPEG EXIF Orientation 1..8; 0 when absent */
  /* Static text naming a valid encoding this server cannot decode
   * ("tiled TIFF", "RLE8-compressed BMP"), NULL otherwise. */
  const char *unsupported;
} ocr__header;

/* Reads the header of image bytes: PNG, JPEG (with EXIF orientation),
 * GIF (every frame descriptor), BMP, WebP (VP8, VP8L, VP8X), JPEG 2000
 * (JP2 ihdr or codestream SIZ), PNM/PAM, TIFF (every page up to
 * page_cap + 1) and PDF (format only). Never allocates, never reads past
 * d + n. Returns 0 with *h filled, or ERR_DECODE (unknown format or a
 * header cut short). Any thread. */
int ocr__header_read(const uint8_t *d, size_t n, int page_cap, ocr__header *h);

/* A document being recognised: image bytes, their header and, for a PDF,
 * poppler's document. */
typedef struct ocr__doc {
  const uint8_t *data; /* borrowed */
  size_t len;
  ocr__header hdr;
  int pages; /* pages to recognise */
  void *pdf; /* ocr_pdf.cc's document, or NULL */
} ocr__doc;

/* ocr_image.c */

/* Worker thread. Reads the header of data (borrowed until
 * ocr__doc_close) and checks every limit: pixels and sides of every page,
 * page count (max_pages), encodings that cannot be decoded. Sets
 * out->width/height. Returns 0, or ERR_DECODE, ERR_TOO_LARGE,
 * ERR_UNSUPPORTED_FORMAT, ERR_PDF, ERR_PDF_ENCRYPTED, ERR_NOMEM with a
 * message in out. Call ocr__doc_close even on failure. */
int ocr__doc_open(const ocr_engine *e, const uint8_t *data, size_t len, ocr__doc *doc,
                  ocr_result *out);

/* Worker thread. Decodes page index (0-based, < doc->pages) into img,
 * oriented, normalised and padded (release with ocr__image_release).
 * Returns 0, or ERR_DECODE / ERR_PDF / ERR_TOO_LARGE / ERR_NOMEM with
 * the decoder's own message in out's. */
int ocr__doc_page(const ocr_engine *e, ocr__doc *doc, int index, ocr__image *img,
                  ocr_result *out);

void ocr__doc_close(ocr__doc *doc);

/* Maps a point of img->pix (upright, padded) to the pixels as sent. */
void ocr__image_map(const ocr__image *img, float x, float y, float *ox, float *oy);

/* ocr_jpeg.c */

struct Pix;

/* Worker thread. Decodes JPEG data of the given header size (refused
 * before allocating if libjpeg reads another size) into 8 bpp grey or
 * 32 bpp RGB; NULL on failure. libjpeg's first message, fatal or not,
 * lands in msg instead of stderr. */
struct Pix *ocr__jpeg_decode(const uint8_t *data, size_t len, int w, int h, char *msg,
                             size_t msgsize);

/* ocr_pdf.cc */

/* Sends poppler's messages to the calling thread's buffer instead of
 * stderr; idempotent. */
void ocr__pdf_quiet(void);

/* Worker thread. Opens doc->data as a PDF: counts and measures every page
 * at e->pdf_dpi before rendering any. 0, or ERR_PDF, ERR_PDF_ENCRYPTED,
 * ERR_TOO_LARGE, ERR_NOMEM. */
int ocr__pdf_open(const ocr_engine *e, ocr__doc *doc, ocr_result *out);

/* Worker thread. Renders page index to 8 bpp grey into img. */
int ocr__pdf_page(const ocr_engine *e, ocr__doc *doc, int index, ocr__image *img,
                  ocr_result *out);

/* Worker thread. Appends the text layer of page index as line boxes (page
 * set, confidence 1, pixels at e->pdf_dpi); *found is 1 when the page had
 * any text. 0, ERR_PDF or ERR_NOMEM. */
int ocr__pdf_page_text(const ocr_engine *e, ocr__doc *doc, int index, int *found,
                       ocr_result *out);

void ocr__pdf_close(ocr__doc *doc);

/* ocr_result.c */

/* Sets out->err and a formatted message; returns err. Frees any earlier
 * message. Any thread. */
int ocr__fail(ocr_result *out, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends one box; takes ownership of text (heap, NUL-terminated). */
void ocr__result_add_box(ocr_result *out, char *text, float confidence,
                         const float quad[8]);

/* Joins the box texts with '\n' into out->text and sets out->confidence to
 * their mean. */
void ocr__result_finish(ocr_result *out);

/* ocr_image.c (files and headers) */

/* Worker thread. Reads a file already resolved inside the image root into
 * *data (malloc'd, caller frees) without decoding it. Returns 0, or
 * ERR_NOT_FOUND / ERR_IO / ERR_DECODE (empty, not a regular file) /
 * ERR_TOO_LARGE (bigger than any image within max_pixels) with a message
 * in out. */
int ocr__file_read(const char *realpath_, uint64_t max_pixels, uint8_t **data, size_t *len,
                   ocr_result *out);

/* Reads only the header of in-memory image bytes. Returns 0 or ERR_DECODE.
 * Any thread. */
int ocr__image_header(const uint8_t *data, size_t len, int *w, int *h);

void ocr__image_release(ocr__image *img);

/* Silences leptonica's messages on stderr; idempotent. Any thread. */
void ocr__image_quiet(void);

/* ocr_lang.c */

/* Picks the tessdata directory: configured, else $TESSDATA_PREFIX, else
 * Debian's default. Writes it into buf. Returns 0 or ERR_CONFIG. Loop
 * thread (reads the environment). */
int ocr__tessdata_dir(const char *configured, char *buf, size_t bufsize);

/* Checks that every '+'-joined part of code has a traineddata file in
 * tessdata. Returns 0, or ERR_LANGUAGE with the missing part named in the
 * message. Any thread. */
int ocr__language_installed(const char *tessdata, const char *code, ocr_result *out);

/* True when one of code's parts is Korean, which decides the page
 * segmentation mode. */
int ocr__language_is_korean(const char *code);

/* ocr_scale.c */

/* What one look at a page says before recognition. */
typedef struct ocr__page_survey {
  double scale; /* as ocr__text_scale */
  int uneven;   /* 1: the paper's light varies across the image (a photo) */
} ocr__page_survey;

/* Any thread. Surveys pix (a leptonica PIX *) on one half-size grey copy:
 * the text scale (see ocr__text_scale) and whether the paper is lit
 * unevenly, as in a photo whose light falls off to one side, which a
 * global threshold turns into black patches. Images under 2 megapixels
 * get {1, 0} without any pass. Never fails: {1, 0} when out of memory. */
void ocr__survey(void *pix, ocr__page_survey *s);

/* Any thread. The factor (0 < f <= 1) that brings the text of pix (a
 * leptonica PIX *) to the size Tesseract reads best, from the median
 * height of its glyph-like connected components; 1 when the image is
 * small (under 2 megapixels), has too few components to tell, or its text
 * is not much larger than that size. Never fails: 1 when out of memory. */
double ocr__text_scale(void *pix);

/* Any thread. pix scaled by f (area mapping); a new PIX *, NULL when out
 * of memory. */
void *ocr__scale_pix(void *pix, double f);

/* Worker thread. Recognises img (page `page`, 1-based, already loaded)
 * with this thread's Tesseract instance for language code; appends its
 * boxes to out (and sets rotation for page 1); the caller joins the text
 * with ocr__result_finish. Returns out->err. */
int ocr__tess_run(ocr_engine *e, const ocr_request *req, const char *code,
                  ocr__image *img, int page, ocr_result *out);

/* What one reading found besides its boxes. */
typedef struct ocr__read_stats {
  int lines;  /* non-empty lines read, kept or not */
  int turned; /* of those, lines Tesseract's layout analysis found turned
                 or that run vertically (text it rotated itself) */
} ocr__read_stats;

/* Worker thread. The calling thread's Tesseract instance (a TessBaseAPI *)
 * for code, created on first use; NULL when it cannot be loaded. */
void *ocr__tess_api(const ocr_engine *e, const char *code);

/* Worker thread. One Recognize() pass of api over pix with mode psm. pix
 * is the image Tesseract reads (img says how it maps back to the image as
 * sent) or, when at is not NULL, a part of it whose top-left corner lies
 * at (at[0], at[1]) in that image. Lines at or above threshold go into out
 * as boxes of page `page`; every line's box, kept or not, is added to seen
 * (a BOXA *, in the coordinates of img's image) when not NULL. */
int ocr__tess_recognise(void *api, void *pix, const int *at, int psm, const ocr__image *img,
                        int page, const ocr_request *req, float threshold, ocr_result *out,
                        ocr__read_stats *st, void *seen);

/* ocr_split.c */

/* Worker thread. Reads pix in parts on idle workers when it pays: layout
 * analysis (mode psm, 3 or 6) on api, then its text blocks, cut into
 * groups of lines when there are fewer blocks than idle workers, each read
 * as one block (an image of its lines' words alone) on whichever worker
 * claims it first (this thread too), and merged in the layout's reading
 * order into out. Returns 1 without
 * touching out when the page stays whole (no idle worker, small page, few
 * lines, text not upright), else 0 or out's error; *st as
 * ocr__tess_recognise's, and seen (a BOXA *, or NULL) gets the box of
 * every line the layout analysis found, as the whole-page reading would
 * have covered them. Returns only once no part runs. */
int ocr__split_read(ocr_engine *e, void *api, void *pix, int psm, const ocr__image *img,
                    int page, const ocr_request *req, const char *code, float threshold,
                    ocr_result *out, ocr__read_stats *st, void *seen);

/* Parts of split pages being read right now, and parts ever claimed by a
 * worker (read or found cancelled), over the process (tests). Any
 * thread. */
int ocr__split_parts_running(void);
int ocr__split_parts_claimed(void);
/* Layout analyses run on a half-size copy of a large page, over the
 * process (tests). Any thread. */
int ocr__split_half_layouts(void);

/* Worker thread. Creates the calling thread's instance for code (and the
 * orientation detector when with_osd) ahead of the first job, so that a
 * warm-up or a measurement can pay the init cost on its own. Returns 0,
 * ERR_NOMEM or ERR_ENGINE. */
int ocr__tess_prepare(const ocr_engine *e, const char *code, int with_osd);

/* Worker thread. Limits OpenMP inside Tesseract to the calling thread;
 * ocr__tess_run does it before the thread's first recognition. */
void ocr__tess_limit_openmp(void);

/* Worker thread. Frees the calling thread's Tesseract instances now rather
 * than at thread exit (for the main thread of tests, whose thread-specific
 * destructors never run). */
void ocr__tess_thread_release(void);

/* Number of Tesseract instances the calling thread holds (tests). */
int ocr__tess_thread_instances(void);

/* Version string of the linked Tesseract, static storage. */
const char *ocr__tess_version(void);

#endif
