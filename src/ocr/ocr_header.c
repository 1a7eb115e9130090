/* SPDX-License-Identifier: MIT */
/* Dimensions, page count and encoding of an image read from the format's
 * own header, without a decoder and without allocating: the pixel limit is
 * checked on these figures before any pixel buffer exists, so a small file
 * declaring a huge image (a decompression bomb) is refused in microseconds.
 * Every read is bounds-checked against the buffer (a libFuzzer target runs
 * over this file). Pure functions; any thread. */
#include <string.h>

#include "base/err.h"
#include "ocr_internal.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int clamp_int(uint32_t v) { return v > INT32_MAX ? INT32_MAX : (int)v; }

/* Notes a size some decoder would allocate: the largest by pixel count
 * sets max_w/max_h, the longest side max_side. */
static void note_size(ocr__header *h, uint32_t w32, uint32_t h32) {
  int w = clamp_int(w32), ht = clamp_int(h32);

  if ((uint64_t)w * (uint64_t)ht >= (uint64_t)h->max_w * (uint64_t)h->max_h) {
    h->max_w = w;
    h->max_h = ht;
  }
  if (w > h->max_side)
    h->max_side = w;
  if (ht > h->max_side)
    h->max_side = ht;
}

/* Records one page of w x h; the first one sets width/height. */
static void add_page(ocr__header *h, uint32_t w, uint32_t ht) {
  if (h->pages == 0) {
    h->width = clamp_int(w);
    h->height = clamp_int(ht);
  }
  note_size(h, w, ht);
  h->pages++;
}

static int png(const uint8_t *d, size_t n, ocr__header *h) {
  /* The signature, then IHDR first: length 13, "IHDR", width, height. */
  if (n < 24 || memcmp(d + 12, "IHDR", 4) != 0)
    return ERR_DECODE;
  h->format = OCR__FMT_PNG;
  add_page(h, be32(d + 16), be32(d + 20));
  return 0;
}

/* The Orientation tag (0x0112) of the TIFF structure inside an EXIF APP1
 * segment (t, n bytes, starting at "II" or "MM"); 0 when absent. */
static int exif_orientation(const uint8_t *t, size_t n) {
  uint32_t (*u16)(const uint8_t *), (*u32)(const uint8_t *);
  uint32_t ifd, count, i;

  if (n < 8)
    return 0;
  if (memcmp(t, "II", 2) == 0) {
    u16 = le16;
    u32 = le32;
  } else if (memcmp(t, "MM", 2) == 0) {
    u16 = be16;
    u32 = be32;
  } else {
    return 0;
  }
  ifd = u32(t + 4);
  if (ifd > n || n - ifd < 2)
    return 0;
  count = u16(t + ifd);
  for (i = 0; i < count; i++) {
    size_t off = (size_t)ifd + 2 + (size_t)i * 12;
    uint32_t v;

    if (off + 12 > n)
      return 0;
    if (u16(t + off) != 0x0112 || u16(t + off + 2) != 3)
      continue;
    v = u16(t + off + 8);
    return v >= 1 && v <= 8 ? (int)v : 0;
  }
  return 0;
}

static int jpeg(const uint8_t *d, size_t n, ocr__header *h) {
  size_t off = 2;

  h->format = OCR__FMT_JPEG;
  while (off + 4 <= n) {
    uint8_t m;
    size_t seg;

    if (d[off] != 0xff)
      return ERR_DECODE;
    m = d[off + 1];
    if (m == 0xff) { /* fill byte */
      off++;
      continue;
    }
    if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      off += 2;
      continue;
    }
    if (m == 0xd9 || m == 0xda) /* end of image, or scan data before a frame */
      return ERR_DECODE;
    seg = be16(d + off + 2);
    if (seg < 2 || seg > n - off - 2)
      return ERR_DECODE;
    if (m == 0xe1 && seg >= 8 && memcmp(d + off + 4, "Exif\0\0", 6) == 0 &&
        h->orientation == 0)
      h->orientation = exif_orientation(d + off + 10, seg - 8);
    /* SOF0..SOF15 but DHT (c4), JPG (c8) and DAC (cc). */
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
      if (seg < 8)
        return ERR_DECODE;
      if (m == 0xc3 || m == 0xc7 || m == 0xcb || m == 0xcf)
        h->unsupported = "lossless JPEG";
      else if (m >= 0xc5 && m != 0xc9 && m != 0xca)
        h->unsupported = "hierarchical JPEG";
      /* Height 0 means "given by a DNL marker after the first scan",
       * which libjpeg does not support. */
      if (be16(d + off + 5) == 0) {
        h->unsupported = "JPEG with the height in a DNL marker";
        add_page(h, be16(d + off + 7), 1);
        return 0;
      }
      add_page(h, be16(d + off + 7), be16(d + off + 5));
      return 0;
    }
    off += 2 + seg;
  }
  return ERR_DECODE;
}

/* Skips GIF data sub-blocks starting at *off; ERR_DECODE when they run
 * past the end. */
static int gif_skip_blocks(const uint8_t *d, size_t n, size_t *off) {
  while (*off < n) {
    uint8_t len = d[*off];

    (*off)++;
    if (len == 0)
      return 0;
    if (len > n - *off)
      return ERR_DECODE;
    *off += len;
  }
  return ERR_DECODE;
}

static int gif(const uint8_t *d, size_t n, ocr__header *h) {
  uint32_t sw, sh;
  size_t off = 13;
  int frames = 0;

  if (n < 13)
    return ERR_DECODE;
  h->format = OCR__FMT_GIF;
  sw = le16(d + 6);
  sh = le16(d + 8);
  if (d[10] & 0x80)
    off += (size_t)3 << ((d[10] & 7) + 1);
  /* Decoders allocate each frame at its own size, whatever the logical
   * screen says, and giflib's DGifSlurp reads every frame: the largest of
   * all counts, however many there are. The walk reads only block headers
   * and lengths (linear in the file's size). */
  add_page(h, sw, sh);
  while (off < n) {
    uint8_t b = d[off++];

    if (b == 0x3b) /* trailer */
      break;
    if (b == 0x21) {
      if (off >= n)
        return ERR_DECODE;
      off++; /* label */
      if (gif_skip_blocks(d, n, &off) != 0)
        return ERR_DECODE;
    } else if (b == 0x2c) {
      uint32_t fw, fh, left, top;

      if (n - off < 9)
        return ERR_DECODE;
      left = le16(d + off);
      top = le16(d + off + 2);
      fw = le16(d + off + 4);
      fh = le16(d + off + 6);
      if (d[off + 8] & 0x80)
        off += (size_t)3 << ((d[off + 8] & 7) + 1);
      off += 9;
      if (off >= n)
        return ERR_DECODE;
      off++; /* LZW minimum code size */
      if (gif_skip_blocks(d, n, &off) != 0)
        return ERR_DECODE;
      /* A frame placed past the screen's edge makes some decoders grow
       * the canvas: count its far corner too. */
      note_size(h, fw, fh);
      h->frame_pixels += (uint64_t)fw * fh;
      note_size(h, left + fw > sw ? left + fw : sw, top + fh > sh ? top + fh : sh);
      frames++;
    } else {
      return ERR_DECODE;
    }
  }
  if (frames == 0)
    return ERR_DECODE;
  /* Only the first frame is recognised: an animation is one picture. */
  return 0;
}

static int bmp(const uint8_t *d, size_t n, ocr__header *h) {
  uint32_t dib, comp = 0;
  int32_t w, ht;

  if (n < 26)
    return ERR_DECODE;
  h->format = OCR__FMT_BMP;
  dib = le32(d + 14);
  if (dib == 12) { /* OS/2 BITMAPCOREHEADER: 16-bit sizes */
    add_page(h, le16(d + 18), le16(d + 20));
    return 0;
  }
  if (dib < 40 || n < 34)
    return ERR_DECODE;
  w = (int32_t)le32(d + 18);
  ht = (int32_t)le32(d + 22);
  comp = le32(d + 30);
  if (w <= 0 || ht == 0 || ht == INT32_MIN)
    return ERR_DECODE;
  add_page(h, (uint32_t)w, (uint32_t)(ht < 0 ? -ht : ht));
  /* Leptonica reads uncompressed BMP only. */
  if (comp == 1)
    h->unsupported = "RLE8-compressed BMP";
  else if (comp == 2)
    h->unsupported = "RLE4-compressed BMP";
  else if (comp == 3 || comp == 6)
    h->unsupported = "BMP with BI_BITFIELDS pixel masks";
  else if (comp == 4 || comp == 5)
    h->unsupported = "BMP holding JPEG or PNG data";
  else if (comp != 0)
    h->unsupported = "BMP with an unknown compression";
  return 0;
}

static int webp(const uint8_t *d, size_t n, ocr__header *h) {
  if (n < 30)
    return ERR_DECODE;
  h->format = OCR__FMT_WEBP;
  if (memcmp(d + 12, "VP8 ", 4) == 0) {
    if (d[23] != 0x9d || d[24] != 0x01 || d[25] != 0x2a)
      return ERR_DECODE;
    add_page(h, le16(d + 26) & 0x3fff, le16(d + 28) & 0x3fff);
    return 0;
  }
  if (memcmp(d + 12, "VP8L", 4) == 0) {
    uint32_t b = le32(d + 21);

    if (d[20] != 0x2f)
      return ERR_DECODE;
    add_page(h, (b & 0x3fff) + 1, ((b >> 14) & 0x3fff) + 1);
    return 0;
  }
  if (memcmp(d + 12, "VP8X", 4) == 0) {
    uint32_t w = ((uint32_t)d[24] | (uint32_t)d[25] << 8 | (uint32_t)d[26] << 16) + 1;
    uint32_t ht = ((uint32_t)d[27] | (uint32_t)d[28] << 8 | (uint32_t)d[29] << 16) + 1;

    add_page(h, w, ht);
    if (d[20] & 0x02)
      h->unsupported = "animated WebP";
    return 0;
  }
  return ERR_DECODE;
}

/* JPEG 2000: the JP2 box structure (ihdr inside jp2h), or a bare
 * codestream (SIZ marker segment). */
static int jp2(const uint8_t *d, size_t n, ocr__header *h) {
  size_t off = 0, end = n;

  h->format = OCR__FMT_JP2;
  if (n >= 4 && d[0] == 0xff && d[1] == 0x4f && d[2] == 0xff && d[3] == 0x51) {
    uint32_t xs, ys, xo, yo;

    if (n < 24)
      return ERR_DECODE;
    xs = be32(d + 8);
    ys = be32(d + 12);
    xo = be32(d + 16);
    yo = be32(d + 20);
    if (xo >= xs || yo >= ys)
      return ERR_DECODE;
    add_page(h, xs - xo, ys - yo);
    return 0;
  }
  while (end - off >= 8) {
    uint64_t len = be32(d + off);
    size_t hdr = 8;

    if (len == 1) {
      if (end - off < 16)
        return ERR_DECODE;
      len = (uint64_t)be32(d + off + 8) << 32 | be32(d + off + 12);
      hdr = 16;
    } else if (len == 0) {
      len = end - off;
    }
    if (len < hdr || len > end - off)
      return ERR_DECODE;
    if (memcmp(d + off + 4, "jp2h", 4) == 0) { /* superbox: look inside */
      end = off + (size_t)len;
      off += hdr;
      continue;
    }
    if (memcmp(d + off + 4, "ihdr", 4) == 0) {
      if (len < hdr + 8)
        return ERR_DECODE;
      add_page(h, be32(d + off + hdr + 4), be32(d + off + hdr));
      return 0;
    }
    off += (size_t)len;
  }
  return ERR_DECODE;
}

/* The next decimal number of a PNM header, skipping white space and
 * '#' comments. */
static int pnm_number(const uint8_t *d, size_t n, size_t *off, uint32_t *v) {
  uint64_t x = 0;
  int digits = 0;

  while (*off < n) {
    if (d[*off] == '#') {
      while (*off < n && d[*off] != '\n' && d[*off] != '\r')
        (*off)++;
    } else if (d[*off] == ' ' || d[*off] == '\t' || d[*off] == '\n' || d[*off] == '\r' ||
               d[*off] == '\v' || d[*off] == '\f') {
      (*off)++;
    } else {
      break;
    }
  }
  while (*off < n && d[*off] >= '0' && d[*off] <= '9') {
    x = x * 10 + (uint64_t)(d[*off] - '0');
    if (x > UINT32_MAX)
      return ERR_DECODE;
    (*off)++;
    digits++;
  }
  if (digits == 0)
    return ERR_DECODE;
  *v = (uint32_t)x;
  return 0;
}

static int pnm(const uint8_t *d, size_t n, ocr__header *h) {
  size_t off = 2;
  uint32_t w, ht;

  h->format = OCR__FMT_PNM;
  if (d[1] == '7') { /* PAM: "WIDTH w" and "HEIGHT h" lines */
    uint32_t pw = 0, ph = 0;

    while (off < n) {
      size_t eol = off;

      while (eol < n && d[eol] != '\n')
        eol++;
      if (eol - off >= 6 && memcmp(d + off, "ENDHDR", 6) == 0)
        break;
      if (eol - off > 6 && memcmp(d + off, "WIDTH ", 6) == 0) {
        size_t o = off + 6;
        if (pnm_number(d, eol, &o, &pw) != 0)
          return ERR_DECODE;
      } else if (eol - off > 7 && memcmp(d + off, "HEIGHT ", 7) == 0) {
        size_t o = off + 7;
        if (pnm_number(d, eol, &o, &ph) != 0)
          return ERR_DECODE;
      }
      off = eol + 1;
    }
    if (pw == 0 || ph == 0)
      return ERR_DECODE;
    add_page(h, pw, ph);
    return 0;
  }
  if (pnm_number(d, n, &off, &w) != 0 || pnm_number(d, n, &off, &ht) != 0)
    return ERR_DECODE;
  add_page(h, w, ht);
  return 0;
}

/* Classic TIFF: every IFD of the chain (up to page_cap + 1 of them) is a
 * page; each one's ImageWidth/ImageLength count, and tiles mark the file
 * as unsupported (leptonica reads strips only). */
static int tiff(const uint8_t *d, size_t n, int page_cap, ocr__header *h) {
  int little = d[0] == 'I';
  uint32_t (*u16)(const uint8_t *) = little ? le16 : be16;
  uint32_t (*u32)(const uint8_t *) = little ? le32 : be32;
  uint32_t ifd;

  h->format = OCR__FMT_TIFF;
  if (u16(d + 2) == 43) {
    h->unsupported = "BigTIFF";
    add_page(h, 1, 1);
    return 0;
  }
  if (n < 8)
    return ERR_DECODE;
  ifd = u32(d + 4);
  while (ifd != 0) {
    uint32_t count, i, w = 0, ht = 0;
    int tiled = 0;

    if (ifd > n || n - ifd < 2)
      break; /* a broken chain ends the pages here */
    count = u16(d + ifd);
    if ((size_t)count * 12 + 6 > n - ifd)
      break;
    for (i = 0; i < count; i++) {
      const uint8_t *e = d + ifd + 2 + (size_t)i * 12;
      uint32_t tag = u16(e), type = u16(e + 2), v;

      if (type == 3)
        v = u16(e + 8);
      else if (type == 4)
        v = u32(e + 8);
      else
        continue;
      if (tag == 256)
        w = v;
      else if (tag == 257)
        ht = v;
      else if (tag == 322 || tag == 323)
        tiled = 1;
    }
    if (w == 0 || ht == 0)
      break;
    if (tiled && !h->unsupported)
      h->unsupported = "tiled TIFF";
    add_page(h, w, ht);
    if (h->pages > page_cap)
      break;
    ifd = u32(d + ifd + 2 + (size_t)count * 12);
  }
  return h->pages > 0 ? 0 : ERR_DECODE;
}

int ocr__header_read(const uint8_t *d, size_t n, int page_cap, ocr__header *h) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const uint8_t jp2_sig[12] = {0,   0,   0,    12,   'j',  'P',
                                      ' ', ' ', '\r', '\n', 0x87, '\n'};

  memset(h, 0, sizeof(*h));
  if (page_cap < 1)
    page_cap = 1;
  if (!d || n < 4)
    return ERR_DECODE;
  if (n >= 8 && memcmp(d, png_sig, 8) == 0)
    return png(d, n, h);
  if (d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
    return jpeg(d, n, h);
  if (n >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
    return gif(d, n, h);
  if (d[0] == 'B' && d[1] == 'M')
    return bmp(d, n, h);
  if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
    return webp(d, n, h);
  if ((n >= 12 && memcmp(d, jp2_sig, 12) == 0) ||
      (d[0] == 0xff && d[1] == 0x4f && d[2] == 0xff && d[3] == 0x51))
    return jp2(d, n, h);
  if (d[0] == 'P' && d[1] >= '1' && d[1] <= '7')
    return pnm(d, n, h);
  if ((d[0] == 'I' && d[1] == 'I' && d[2] == 42 && d[3] == 0) ||
      (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 42) ||
      (d[0] == 'I' && d[1] == 'I' && d[2] == 43 && d[3] == 0) ||
      (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 43))
    return tiff(d, n, page_cap, h);
  if (n >= 5 && memcmp(d, "%PDF-", 5) == 0) {
    h->format = OCR__FMT_PDF;
    return 0;
  }
  return ERR_DECODE;
}
