/* SPDX-License-Identifier: MIT */
/* Image loading with leptonica: from request bytes or from a file already
 * confined to the image root. The size is read from the header and checked
 * against the pixel limit before any pixel is decoded, then the image is
 * converted to what Tesseract reads best (8 bpp grey or 32 bpp RGB, no
 * colormap, no alpha). Runs on worker threads. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leptonica/allheaders.h>
#include <zlib.h>

#include "base/err.h"
#include "ocr_internal.h"

/* Bytes an image file may take per pixel of the limit: uncompressed 16-bit
 * RGBA is 8. Bigger files cannot hold an image within the limit, so they
 * are refused before being read into memory. */
#define MAX_FILE_BYTES_PER_PIXEL 8
#define MAX_FILE_SLACK (1u << 20)

void ocr__image_quiet(void) {
  /* Leptonica prints every decode failure to stderr; a server answering
   * bad uploads would fill its log with them. Errors reach the caller as
   * codes instead. */
  setMsgSeverity(L_SEVERITY_NONE);
}

int ocr__image_header(const uint8_t *data, size_t len, int *w, int *h) {
  l_int32 format = 0, pw = 0, ph = 0, bps = 0, spp = 0, iscmap = 0;

  if (data == NULL || len == 0)
    return ERR_DECODE;
  if (pixReadHeaderMem(data, len, &format, &pw, &ph, &bps, &spp, &iscmap) != 0 ||
      format == IFF_UNKNOWN || pw <= 0 || ph <= 0)
    return ERR_DECODE;
  *w = pw;
  *h = ph;
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

/* Converts pix to 8 bpp grey or 32 bpp RGB. Consumes pix; returns the new
 * image or NULL. */
static PIX *normalise(PIX *pix) {
  PIX *next;
  l_int32 d;

  if (pixGetColormap(pix) != NULL) {
    next = pixRemoveColormap(pix, REMOVE_CMAP_BASED_ON_SRC);
    pixDestroy(&pix);
    if (next == NULL)
      return NULL;
    pix = next;
  }
  d = pixGetDepth(pix);
  if (d == 32 && pixGetSpp(pix) == 4) {
    /* Transparent regions usually mean "paper": text drawn on a
     * transparent background would otherwise become black on black. */
    next = pixAlphaBlendUniform(pix, 0xffffff00);
    pixDestroy(&pix);
    if (next == NULL)
      return NULL;
    pix = next;
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

/* Header check, decode, conversion. */
static int load(const uint8_t *data, size_t len, uint64_t max_pixels, ocr__image *img,
                ocr_result *out) {
  PIX *pix;
  int w, h;

  if (len == 0)
    return ocr__fail(out, ERR_DECODE, "empty image");
  if (ocr__image_header(data, len, &w, &h) != 0)
    return ocr__fail(out, ERR_DECODE, "not a readable image (%zu bytes)", len);
  out->width = w;
  out->height = h;
  if ((uint64_t)w * (uint64_t)h > max_pixels)
    return ocr__fail(out, ERR_TOO_LARGE, "image is %dx%d = %llu pixels, limit %llu", w, h,
                     (unsigned long long)w * (unsigned long long)h,
                     (unsigned long long)max_pixels);
  if (w > OCR__MAX_SIDE || h > OCR__MAX_SIDE)
    return ocr__fail(out, ERR_TOO_LARGE, "image is %dx%d, sides are limited to %d", w, h,
                     OCR__MAX_SIDE);

  if (!png_intact(data, len))
    return ocr__fail(out, ERR_DECODE, "PNG data is truncated or corrupt");
  pix = pixReadMem(data, len);
  if (pix == NULL)
    return ocr__fail(out, ERR_DECODE, "image data is corrupt or truncated");
  /* The header and the decoder could disagree on a crafted file; the
   * decoded size is what Tesseract would get. */
  if (pixGetWidth(pix) != w || pixGetHeight(pix) != h) {
    pixDestroy(&pix);
    return ocr__fail(out, ERR_DECODE, "image size differs from its header");
  }
  pix = normalise(pix);
  if (pix == NULL)
    return ocr__fail(out, ERR_DECODE, "unsupported pixel format");
  img->pix = pix;
  img->width = w;
  img->height = h;
  return 0;
}

/* Worker thread. */
int ocr__image_from_bytes(const uint8_t *data, size_t len, uint64_t max_pixels,
                          ocr__image *img, ocr_result *out) {
  return load(data, len, max_pixels, img, out);
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
  bytes = malloc(len);
  if (bytes == NULL) {
    close(fd);
    return ocr__fail(out, ERR_NOMEM, "no memory for %zu bytes", len);
  }
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

/* Worker thread. */
int ocr__image_from_file(const char *path, uint64_t max_pixels, ocr__image *img,
                         ocr_result *out) {
  uint8_t *bytes = NULL;
  size_t len = 0;
  int rc = ocr__file_read(path, max_pixels, &bytes, &len, out);

  if (rc != 0)
    return rc;
  rc = load(bytes, len, max_pixels, img, out);
  free(bytes);
  return rc;
}

void ocr__image_release(ocr__image *img) {
  PIX *pix = img->pix;

  pixDestroy(&pix);
  img->pix = NULL;
}
