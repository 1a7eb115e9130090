/* SPDX-License-Identifier: MIT */
/* JPEG decoding with libjpeg directly rather than through leptonica, whose
 * error manager leaves libjpeg's warnings ("Premature end of JPEG file") on
 * stderr: here every message goes into the caller's buffer instead, and a
 * fatal one ends the decode with its text. Grey images come out 8 bpp,
 * everything else 32 bpp RGB (CMYK converted as leptonica does). Worker
 * threads; each call has its own decompressor. */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <leptonica/allheaders.h>

#include "ocr_internal.h"

typedef struct quiet_err {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char *msg;
  size_t msgsize;
} quiet_err;

/* Keeps the first message (the cause; later ones are consequences). */
static void keep_message(j_common_ptr cinfo) {
  quiet_err *q = (quiet_err *)cinfo->err;
  char text[JMSG_LENGTH_MAX];

  if (q->msgsize == 0 || q->msg[0])
    return;
  q->mgr.format_message(cinfo, text);
  snprintf(q->msg, q->msgsize, "%s", text);
}

static void on_error(j_common_ptr cinfo) {
  quiet_err *q = (quiet_err *)cinfo->err;

  keep_message(cinfo);
  longjmp(q->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  /* Level -1: a warning about damaged data; trace messages (> 0) are
   * dropped. */
  if (level < 0)
    keep_message(cinfo);
}

PIX *ocr__jpeg_decode(const uint8_t *data, size_t len, int w, int h, char *msg,
                      size_t msgsize) {
  struct jpeg_decompress_struct cinfo;
  quiet_err err;
  PIX *volatile pix = NULL;
  JSAMPLE *volatile row = NULL;

  if (msgsize > 0)
    msg[0] = '\0';
  memset(&cinfo, 0, sizeof(cinfo));
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_error;
  err.mgr.emit_message = on_message;
  err.msg = msg;
  err.msgsize = msgsize;
  if (setjmp(err.jump) != 0) {
    PIX *p = pix;

    jpeg_destroy_decompress(&cinfo);
    LEPT_FREE(row);
    pixDestroy(&p);
    return NULL;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, (unsigned long)len);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_GRAYSCALE)
    cinfo.out_color_space = JCS_GRAYSCALE;
  else if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK)
    cinfo.out_color_space = JCS_CMYK;
  else
    cinfo.out_color_space = JCS_RGB;
  /* The size was checked against the limit from our own header read; a
   * file whose frame header libjpeg reads differently is refused before
   * any pixel buffer exists. */
  if ((int)cinfo.image_width != w || (int)cinfo.image_height != h) {
    if (msgsize > 0)
      snprintf(msg, msgsize, "image size differs from its header");
    longjmp(err.jump, 1);
  }
  jpeg_start_decompress(&cinfo);
  pix = pixCreate((l_int32)cinfo.output_width, (l_int32)cinfo.output_height,
                  cinfo.out_color_space == JCS_GRAYSCALE ? 8 : 32);
  row = LEPT_CALLOC((size_t)cinfo.output_width * (size_t)cinfo.output_components, 1);
  if (!pix || !row) {
    if (msgsize > 0)
      snprintf(msg, msgsize, "no memory for %ux%u pixels", cinfo.output_width,
               cinfo.output_height);
    longjmp(err.jump, 1);
  }
  {
    l_uint32 *base = pixGetData(pix);
    l_int32 wpl = pixGetWpl(pix);
    int adobe = cinfo.saw_Adobe_marker;

    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW rows[1] = {row};
      l_uint32 *line = base + (size_t)cinfo.output_scanline * (size_t)wpl;
      JDIMENSION x;

      jpeg_read_scanlines(&cinfo, rows, 1);
      for (x = 0; x < cinfo.output_width; x++) {
        if (cinfo.out_color_space == JCS_GRAYSCALE) {
          SET_DATA_BYTE(line, x, row[x]);
        } else if (cinfo.out_color_space == JCS_RGB) {
          const JSAMPLE *p = row + 3 * x;
          composeRGBPixel(p[0], p[1], p[2], line + x);
        } else {
          /* Adobe writes CMYK inverted; a plain CMYK file is not. */
          const JSAMPLE *p = row + 4 * x;
          int c = p[0], m = p[1], y = p[2], k = p[3];
          if (!adobe) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
          }
          composeRGBPixel(c * k / 255, m * k / 255, y * k / 255, line + x);
        }
      }
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  LEPT_FREE(row);
  return pix;
}
