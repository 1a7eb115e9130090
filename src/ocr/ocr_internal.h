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
};

/* A decoded image ready for Tesseract: 8 bpp grey or 32 bpp RGB without
 * colormap or alpha. pix is a leptonica PIX *, kept opaque here so that
 * this header stays free of third-party includes. */
typedef struct ocr__image {
  void *pix;
  int width, height; /* of the image as sent */
} ocr__image;

/* ocr_result.c */

/* Sets out->err and a formatted message; returns err. Frees any earlier
 * message. Any thread. */
int ocr__fail(ocr_result *out, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends one box; takes ownership of text (heap, NUL-terminated) even on
 * failure. Returns 0 or ERR_NOMEM. */
int ocr__result_add_box(ocr_result *out, char *text, float confidence, const float quad[8]);

/* Joins the box texts with '\n' into out->text and sets out->confidence to
 * their mean. Returns 0 or ERR_NOMEM. */
int ocr__result_finish(ocr_result *out);

/* Milliseconds on the monotonic clock. */
double ocr__now_ms(void);

/* ocr_image.c */

/* Worker thread. Reads an image from bytes, checking its size from the
 * header against max_pixels before decoding. Returns 0 and fills *img
 * (release with ocr__image_release), or ERR_DECODE / ERR_TOO_LARGE /
 * ERR_NOMEM with a message in out. */
int ocr__image_from_bytes(const uint8_t *data, size_t len, uint64_t max_pixels,
                          ocr__image *img, ocr_result *out);

/* Worker thread. Same for a file already resolved inside the image root
 * (see ocr_path_resolve); also ERR_NOT_FOUND / ERR_IO. */
int ocr__image_from_file(const char *realpath_, uint64_t max_pixels, ocr__image *img,
                         ocr_result *out);

/* Worker thread. Reads a file already resolved inside the image root into
 * *data (malloc'd, caller frees) without decoding it. Returns 0, or
 * ERR_NOT_FOUND / ERR_IO / ERR_DECODE (empty, not a regular file) /
 * ERR_TOO_LARGE (bigger than any image within max_pixels) / ERR_NOMEM
 * with a message in out. */
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

/* ocr_tess.c */

/* Worker thread. Recognises img (already loaded) with this thread's
 * Tesseract instance for language code; fills boxes, text, confidence and
 * rotation of out. Returns out->err. */
int ocr__tess_run(const ocr_engine *e, const ocr_request *req, const char *code,
                  ocr__image *img, ocr_result *out);

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
