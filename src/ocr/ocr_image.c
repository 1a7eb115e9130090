/* SPDX-License-Identifier: MIT */
/* Image loading: from request bytes or from a file already confined to the
 * image root. Sizes and page counts are read from the format's own header
 * (ocr_header.c) and checked against the limits before any pixel is
 * decoded; each page is then decoded (leptonica, libjpeg for JPEG, poppler
 * for PDF) with decoder messages kept for the failure's text instead of
 * stderr, turned upright by its EXIF orientation, converted to what
 * Tesseract reads best (8 bpp grey or 32 bpp RGB, no colormap, no alpha,
 * transparency flattened onto a backdrop that contrasts with the ink) and
 * padded with white where ink touches the edge. Runs on worker threads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leptonica/allheaders.h>
#include <tiffio.h>
#include <zlib.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "ocr_internal.h"

/* Bytes an image file may take per pixel of the limit: uncompressed 16-bit
 * RGBA is 8. Bigger files cannot hold an image within the limit, so they
 * are refused before being read into memory. */
#define MAX_FILE_BYTES_PER_PIXEL 8
#define MAX_FILE_SLACK (1u << 20)

/* The last message a decoder wrote on this thread; decoders call their
 * handlers on the thread that decodes. */
static __thread char decoder_msg[160];

/* libtiff's handlers are process-wide; the text lands in the calling
 * thread's buffer (first message wins: later ones are consequences). */
static void tiff_message(const char *module, const char *fmt, va_list ap) {
  char text[sizeof(decoder_msg)];
  int n;

  if (decoder_msg[0])
    return;
  n = snprintf(text, sizeof(text), "%s: ", module ? module : "TIFF");
  if (n < 0 || (size_t)n >= sizeof(text))
    n = 0;
  vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
  memcpy(decoder_msg, text, sizeof(text));
}

static void tiff_warning(const char *module, const char *fmt, va_list ap) {
  /* Warnings (unknown tags, ...) do not stop the decode and are not the
   * caller's business. */
  (void)module;
  (void)fmt;
  (void)ap;
}

/* Leptonica's messages, through its one process-wide handler, into the
 * calling thread's buffer. */
static void lept_message(const char *msg) {
  size_t n;

  if (decoder_msg[0])
    return;
  snprintf(decoder_msg, sizeof(decoder_msg), "%s", msg);
  n = strlen(decoder_msg);
  while (n > 0 && (decoder_msg[n - 1] == '\n' || decoder_msg[n - 1] == ' '))
    decoder_msg[--n] = '\0';
}

void ocr__image_quiet(void) {
  /* Leptonica and libtiff print every decode failure to stderr; a server
   * answering bad uploads would fill its log with them, without time or
   * request. Errors reach the caller as codes and messages instead.
   * (Leptonica installs silent libtiff handlers of its own around its
   * reads; ours cover libtiff anywhere else.) */
  leptSetStderrHandler(lept_message);
  setMsgSeverity(L_SEVERITY_ERROR);
  TIFFSetErrorHandler(tiff_message);
  TIFFSetWarningHandler(tiff_warning);
  ocr__pdf_quiet();
}

void ocr_quiet(void) { ocr__image_quiet(); }

/* The header check kept for the mock engine: size of the first page. */
int ocr__image_header(const uint8_t *data, size_t len, int *w, int *h) {
  ocr__header hd;

  if (ocr__header_read(data, len, 1, &hd) != 0 || hd.width <= 0 || hd.height <= 0)
    return ERR_DECODE;
  *w = hd.width;
  *h = hd.height;
  return 0;
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* For PNG data, true when its chunks run whole up to IEND and each
 * chunk's CRC matches. Leptonica lets libpng print its errors ("libpng
 * error: read error", "CRC error") to stderr before it sees the failure,
 * and a server should not write that for every cut-off or damaged upload;
 * this walk catches both without decoding, at the cost of one CRC pass.
 * Other formats, and damage that keeps the CRCs valid, are left to the
 * decoder. */
static int png_intact(const uint8_t *data, size_t len) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  size_t off = 8;

  if (len < 8 || memcmp(data, sig, 8) != 0)
    return 1;
  while (len - off >= 12) {
    uint32_t n = be32(data + off);

    if (n > len - off - 12)
      return 0;
    if (crc32(0, data + off + 4, (uInt)n + 4) != be32(data + off + 8 + n))
      return 0;
    if (memcmp(data + off + 4, "IEND", 4) == 0)
      return 1;
    off += 12 + (size_t)n;
  }
  return 0;
}

/* For an image with transparency: the backdrop that contrasts with what
 * is opaque. Light ink (white subtitles, white glyphs with a dark outline,
 * where the fill outweighs the outline) goes on black, dark ink on white,
 * judged by the alpha-weighted mean luminance of the pixels. */
static l_uint32 backdrop_for(PIX *pix) {
  l_uint32 *data = pixGetData(pix);
  l_int32 w = pixGetWidth(pix), h = pixGetHeight(pix), wpl = pixGetWpl(pix);
  double lum = 0, weight = 0;
  l_int32 x, y;

  for (y = 0; y < h; y++) {
    const l_uint32 *line = data + (size_t)y * (size_t)wpl;
    for (x = 0; x < w; x++) {
      l_int32 r, g, b, a;
      extractRGBAValues(line[x], &r, &g, &b, &a);
      lum += (double)a * (0.299 * r + 0.587 * g + 0.114 * b);
      weight += a;
    }
  }
  if (weight > 0 && lum / weight > 160)
    return 0x00000000;
  return 0xffffff00;
}

/* True when pix (32 bpp RGBA) has any pixel that is not fully opaque. */
static int has_transparency(PIX *pix) {
  l_uint32 *data = pixGetData(pix);
  l_int32 w = pixGetWidth(pix), h = pixGetHeight(pix), wpl = pixGetWpl(pix);
  l_int32 x, y;

  for (y = 0; y < h; y++)
    for (x = 0; x < w; x++)
      if (GET_DATA_BYTE(data + (size_t)y * (size_t)wpl + x, L_ALPHA_CHANNEL) != 255)
        return 1;
  return 0;
}

/* Converts pix to 8 bpp grey or 32 bpp RGB. Consumes pix; returns the new
 * image or NULL. */
static PIX *normalise(PIX *pix) {
  PIX *next;
  l_int32 d;

  if (pixGetColormap(pix)) {
    next = pixRemoveColormap(pix, REMOVE_CMAP_BASED_ON_SRC);
    pixDestroy(&pix);
    if (!next)
      return NULL;
    pix = next;
  }
  d = pixGetDepth(pix);
  if (d == 32 && pixGetSpp(pix) == 4) {
    if (has_transparency(pix)) {
      next = pixAlphaBlendUniform(pix, backdrop_for(pix));
      pixDestroy(&pix);
      if (!next)
        return NULL;
      pix = next;
    }
    pixSetSpp(pix, 3);
  } else if (d == 24) {
    next = pixConvert24To32(pix);
    pixDestroy(&pix);
    pix = next;
  } else if (d == 16) {
    next = pixConvert16To8(pix, L_MS_BYTE);
    pixDestroy(&pix);
    pix = next;
  } else if (d != 8 && d != 32) {
    next = pixConvertTo8(pix, 0);
    pixDestroy(&pix);
    pix = next;
  }
  return pix;
}

/* Turns pix upright for EXIF orientation o (2..8). Consumes pix. */
static PIX *orient(PIX *pix, int o) {
  PIX *next = NULL, *tmp;

  switch (o) {
  case 2:
    next = pixFlipLR(NULL, pix);
    break;
  case 3:
    next = pixRotate180(NULL, pix);
    break;
  case 4:
    next = pixFlipTB(NULL, pix);
    break;
  case 5: /* transpose */
  case 7: /* transverse */
    tmp = pixRotate90(pix, o == 5 ? 1 : -1);
    next = tmp ? pixFlipLR(NULL, tmp) : NULL;
    pixDestroy(&tmp);
    break;
  case 6:
    next = pixRotate90(pix, 1);
    break;
  case 8:
    next = pixRotate90(pix, -1);
    break;
  default:
    return pix;
  }
  pixDestroy(&pix);
  return next;
}

/* Pixels padded on each side when ink touches the edge: Tesseract misreads
 * glyphs cut exactly at the border; 5 px or more fixes it. */
#define INK_PAD 10

/* True when dark pixels (the ink of dark-on-light text) touch the edge
 * of an 8 or 32 bpp page whose border is mostly light. A dark border
 * (inverted text, a photo) is left alone: a white frame would only add
 * an edge of its own. */
static int ink_touches_edge(PIX *pix) {
  l_int32 w = pixGetWidth(pix), h = pixGetHeight(pix), d = pixGetDepth(pix);
  l_int32 wpl = pixGetWpl(pix), i, dark = 0, total = 0;
  l_uint32 *data = pixGetData(pix);

  for (i = 0; i < 2 * (w + h); i++) {
    l_int32 x, y, v;
    const l_uint32 *line;

    if (i < w) {
      x = i;
      y = 0;
    } else if (i < 2 * w) {
      x = i - w;
      y = h - 1;
    } else if (i < 2 * w + h) {
      x = 0;
      y = i - 2 * w;
    } else {
      x = w - 1;
      y = i - 2 * w - h;
    }
    line = data + (size_t)y * (size_t)wpl;
    if (d == 8) {
      v = GET_DATA_BYTE(line, x);
    } else {
      l_int32 r, g, b;
      extractRGBValues(line[x], &r, &g, &b);
      v = (r * 299 + g * 587 + b * 114) / 1000;
    }
    dark += v < 128;
    total++;
  }
  return dark > 0 && dark * 2 < total;
}

/* Pads pix with white when ink touches its edge; sets *pad. Consumes
 * pix. */
static PIX *pad_if_needed(PIX *pix, int *pad) {
  PIX *next;

  *pad = 0;
  if (!ink_touches_edge(pix))
    return pix;
  next = pixAddBorder(pix, INK_PAD, pixGetDepth(pix) == 8 ? 0xff : 0xffffff00);
  pixDestroy(&pix);
  if (next)
    *pad = INK_PAD;
  return next;
}

static const char *format_name(ocr__format f) {
  static const char *const names[] = {"image", "PNG",  "JPEG",      "GIF", "BMP",
                                      "TIFF",  "WebP", "JPEG 2000", "PNM", "PDF"};
  return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "image";
}

/* Worker thread. */
int ocr__doc_open(const ocr_engine *e, const uint8_t *data, size_t len, ocr__doc *doc,
                  ocr_result *out) {
  ocr__header *hd = &doc->hdr;
  int max_pages = e->max_pages > 0 ? e->max_pages : OCR_DEFAULT_MAX_PAGES;

  doc->data = data;
  doc->len = len;
  doc->pages = 0;
  doc->pdf = NULL;
  if (len == 0)
    return ocr__fail(out, ERR_DECODE, "empty image");
  if (ocr__header_read(data, len, max_pages, hd) != 0)
    return ocr__fail(out, ERR_DECODE, "not a readable image (%zu bytes)", len);
  if (hd->format == OCR__FMT_PDF)
    return ocr__pdf_open(e, doc, out);
  out->width = hd->width;
  out->height = hd->height;
  if ((uint64_t)hd->max_w * (uint64_t)hd->max_h > e->max_pixels)
    return ocr__fail(out, ERR_TOO_LARGE, "%s%s is %dx%d = %llu pixels, limit %llu",
                     hd->pages > 1 ? "a page of the " : "", format_name(hd->format),
                     hd->max_w, hd->max_h,
                     (unsigned long long)hd->max_w * (unsigned long long)hd->max_h,
                     (unsigned long long)e->max_pixels);
  if (hd->frame_pixels > e->max_pixels)
    return ocr__fail(out, ERR_TOO_LARGE,
                     "GIF frames hold %llu pixels together (all are decoded), limit %llu",
                     (unsigned long long)hd->frame_pixels,
                     (unsigned long long)e->max_pixels);
  if (hd->max_side > OCR__MAX_SIDE)
    return ocr__fail(out, ERR_TOO_LARGE,
                     "%s has a side of %d pixels, sides are limited to %d",
                     format_name(hd->format), hd->max_side, OCR__MAX_SIDE);
  if (hd->pages > max_pages)
    return ocr__fail(out, ERR_TOO_LARGE, "TIFF has more than %d pages (--max-pages)",
                     max_pages);
  if (hd->unsupported)
    return ocr__fail(out, ERR_UNSUPPORTED_FORMAT, "%s is not supported", hd->unsupported);
  if (!png_intact(data, len))
    return ocr__fail(out, ERR_DECODE, "PNG data is truncated or corrupt");
  doc->pages = hd->format == OCR__FMT_TIFF ? hd->pages : 1;
  return 0;
}

/* Worker thread. Decodes page index (0-based) of an image document. */
static PIX *decode_page(ocr__doc *doc, int index) {
  const ocr__header *hd = &doc->hdr;

  if (hd->format == OCR__FMT_JPEG)
    return ocr__jpeg_decode(doc->data, doc->len, hd->width, hd->height, decoder_msg,
                            sizeof(decoder_msg));
  if (hd->format == OCR__FMT_TIFF)
    return pixReadMemTiff(doc->data, doc->len, index);
  return pixReadMem(doc->data, doc->len);
}

/* Worker thread. */
int ocr__doc_page(const ocr_engine *e, ocr__doc *doc, int index, ocr__image *img,
                  ocr_result *out) {
  const ocr__header *hd = &doc->hdr;
  PIX *pix;
  int w, h;

  memset(img, 0, sizeof(*img));
  img->orientation = 1;
  if (doc->pdf)
    return ocr__pdf_page(e, doc, index, img, out);
  decoder_msg[0] = '\0';
  pix = decode_page(doc, index);
  if (!pix)
    return decoder_msg[0] != '\0'
               ? ocr__fail(out, ERR_DECODE, "%s data is corrupt or truncated (%s)",
                           format_name(hd->format), decoder_msg)
               : ocr__fail(out, ERR_DECODE, "%s data is corrupt or truncated",
                           format_name(hd->format));
  w = pixGetWidth(pix);
  h = pixGetHeight(pix);
  /* The header and the decoder could disagree on a crafted file; the
   * decoded size is what Tesseract would get. */
  if ((index == 0 && hd->format != OCR__FMT_TIFF && (w != hd->width || h != hd->height)) ||
      (uint64_t)w * (uint64_t)h > (uint64_t)hd->max_w * (uint64_t)hd->max_h ||
      w > hd->max_side || h > hd->max_side) {
    pixDestroy(&pix);
    return ocr__fail(out, ERR_DECODE, "image size differs from its header");
  }
  pix = normalise(pix);
  if (!pix)
    return ocr__fail(out, ERR_DECODE, "unsupported pixel format");
  if (hd->orientation > 1 && hd->format == OCR__FMT_JPEG) {
    pix = orient(pix, hd->orientation);
    if (!pix)
      return ocr__fail(out, ERR_NOMEM, "no memory to orient the image");
    img->orientation = hd->orientation;
  }
  pix = pad_if_needed(pix, &img->pad);
  if (!pix)
    return ocr__fail(out, ERR_NOMEM, "no memory to pad the image");
  img->pix = pix;
  img->width = w;
  img->height = h;
  return 0;
}

void ocr__doc_close(ocr__doc *doc) {
  if (doc->pdf)
    ocr__pdf_close(doc);
  doc->pdf = NULL;
}

void ocr__image_map(const ocr__image *img, float x, float y, float *ox, float *oy) {
  float w = (float)img->width, h = (float)img->height, p = (float)img->pad;
  /* Upright (oriented) size, before padding. */
  float uw = img->orientation >= 5 ? h : w, uh = img->orientation >= 5 ? w : h;

  x -= p;
  y -= p;
  x = x < 0 ? 0 : x > uw ? uw : x;
  y = y < 0 ? 0 : y > uh ? uh : y;
  switch (img->orientation) {
  case 2:
    *ox = w - x;
    *oy = y;
    break;
  case 3:
    *ox = w - x;
    *oy = h - y;
    break;
  case 4:
    *ox = x;
    *oy = h - y;
    break;
  case 5:
    *ox = y;
    *oy = x;
    break;
  case 6:
    *ox = y;
    *oy = h - x;
    break;
  case 7:
    *ox = w - y;
    *oy = h - x;
    break;
  case 8:
    *ox = w - y;
    *oy = x;
    break;
  default:
    *ox = x;
    *oy = y;
  }
}

/* Worker thread. The file is read through our own descriptor rather than
 * leptonica's pixRead(), which retries a missing file's base name in the
 * working directory and would thereby step outside the image root. */
int ocr__file_read(const char *path, uint64_t max_pixels, uint8_t **data, size_t *lenp,
                   ocr_result *out) {
  struct stat st;
  uint8_t *bytes;
  size_t len, got = 0;
  int fd, rc;

  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return errno == ENOENT
               ? ocr__fail(out, ERR_NOT_FOUND, "file not found")
               : ocr__fail(out, ERR_IO, "cannot open image: %s", strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return ocr__fail(out, ERR_DECODE, "not a regular file");
  }
  if ((uint64_t)st.st_size > max_pixels * MAX_FILE_BYTES_PER_PIXEL + MAX_FILE_SLACK) {
    close(fd);
    return ocr__fail(out, ERR_TOO_LARGE,
                     "file of %lld bytes cannot hold an image within the "
                     "limit of %llu pixels",
                     (long long)st.st_size, (unsigned long long)max_pixels);
  }
  len = (size_t)st.st_size;
  if (len == 0) {
    close(fd);
    return ocr__fail(out, ERR_DECODE, "empty image file");
  }
  bytes = ocrpc_malloc(len);
  while (got < len) {
    ssize_t n = read(fd, bytes + got, len - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = errno;
      close(fd);
      free(bytes);
      return ocr__fail(out, ERR_IO, "cannot read image: %s", strerror(rc));
    }
    if (n == 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  /* A file that shrank while being read yields what was read, which the
   * decoder reports as truncated. */
  *data = bytes;
  *lenp = got;
  return 0;
}

void ocr__image_release(ocr__image *img) {
  PIX *pix = img->pix;

  pixDestroy(&pix);
  img->pix = NULL;
}
