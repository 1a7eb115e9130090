/* SPDX-License-Identifier: MIT */
/* Images as people send them (issue #13), each class by path and inline:
 * decompression bombs of every format refused from the header, valid but
 * unsupported encodings, JPEG EXIF orientation, text on transparency, ink
 * touching the border, multi-page TIFF, PDFs (rendered, text layer,
 * encrypted, broken) and decoders kept off stderr. Inputs are rendered per
 * test (ImageMagick, exiftool, img2pdf) or written byte by byte. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "ocr.h"
#include "ocr_internal.h"
#include "ocr_test_util.h"

static char *dir;
static ocr_engine *engine;

static ocr_engine *make_engine(int max_pages) {
  ocr_config cfg = {.kind = OCR_KIND_TESSERACT,
                    .image_root = dir,
                    .default_language = "eng",
                    .max_pages = max_pages};
  ocr_engine *e = NULL;

  cr_assert_eq(ocr_engine_new(&cfg, &e), 0);
  return e;
}

static void setup(void) {
  dir = otu_tmpdir();
  cr_assert_not_null(dir);
  engine = make_engine(0);
}

static void teardown(void) {
  ocr_engine_free(engine);
  ocr__tess_thread_release();
  otu_rmtree(dir);
  free(dir);
}

TestSuite(ocr_inputs, .init = setup, .fini = teardown);

static char *path_of(char *buf, const char *name) {
  return otu_join(buf, PATH_MAX, dir, name);
}

/* Runs name by path, then its bytes inline, with the same options; the
 * inline result is left in *r (the path result is compared to it). */
static int run_both(ocr_engine *e, const char *name, int pdf_text, ocr_result *r) {
  char p[PATH_MAX];
  ocr_request by_path = {.path = name, .psm = -1, .pdf_text = pdf_text};
  ocr_result rp;
  size_t len;
  uint8_t *data = otu_read_file(path_of(p, name), &len);
  int rc;

  cr_assert_not_null(data, "read %s", name);
  ocr_result_init(&rp);
  rc = ocr_engine_run(e, &by_path, &rp);
  {
    ocr_request inl = {.data = data, .data_len = len, .psm = -1, .pdf_text = pdf_text};
    ocr_result_init(r);
    cr_assert_eq(ocr_engine_run(e, &inl, r), rc, "%s: path gave %s, inline %s", name,
                 err_name(rc), err_name(r->err));
  }
  cr_assert_str_eq(rp.text ? rp.text : "", r->text ? r->text : "", "%s", name);
  ocr_result_clear(&rp);
  free(data);
  return rc;
}

static void expect_err(const char *name, int err) {
  ocr_result r;

  cr_assert_eq(run_both(engine, name, 0, &r), err, "%s: %s (%s)", name, err_name(r.err),
               r.error_message ? r.error_message : "");
  cr_assert_not_null(r.error_message);
  ocr_result_clear(&r);
}

static void expect_text(const char *name, const char *text, ocr_result *r) {
  cr_assert_eq(run_both(engine, name, 0, r), 0, "%s: %s (%s)", name, err_name(r->err),
               r->error_message ? r->error_message : "");
  cr_assert_not_null(strstr(r->text, text), "%s: \"%s\" lacks \"%s\"", name, r->text, text);
}

static void write_bytes(const char *name, const void *data, size_t len) {
  char p[PATH_MAX];
  cr_assert_eq(otu_write_file(path_of(p, name), data, len), 0);
}

static void put16le(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put32le(uint8_t *p, uint32_t v) {
  put16le(p, v & 0xffff);
  put16le(p + 2, v >> 16);
}
static void put32be(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Peak resident set of this process, in kB. */
static long peak_rss_kb(void) {
  char line[256];
  long kb = -1;
  FILE *f = fopen("/proc/self/status", "r");

  cr_assert_not_null(f);
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

/* Small files declaring 20000 x 20000 (400 M pixels) in every format the
 * server reads: refused from the header, before a pixel buffer exists
 * (the peak RSS would grow by hundreds of MB otherwise). */
Test(ocr_inputs, decompression_bombs_are_too_large_without_decoding) {
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  uint8_t b[256];
  long before = peak_rss_kb();

  /* GIF: a small logical screen, one huge frame (decoders allocate the
   * frame), then a few LZW bytes. */
  memset(b, 0, sizeof(b));
  memcpy(b, "GIF89a", 6);
  put16le(b + 6, 100);
  put16le(b + 8, 100);
  b[13] = 0x2c;
  put16le(b + 18, 20000);
  put16le(b + 20, 20000);
  b[23] = 2;    /* LZW minimum code size */
  b[24] = 2;    /* one sub-block of 2 bytes */
  b[25] = 0x4c; /* clear, end */
  b[26] = 0x01;
  b[27] = 0;
  b[28] = 0x3b;
  write_bytes("bomb.gif", b, 29);
  expect_err("bomb.gif", ERR_TOO_LARGE);

  /* GIF: twelve 4000 x 4000 frames, each within the limit, 192 M pixels
   * together (giflib decodes every frame at once). */
  {
    size_t n = 13;
    memset(b, 0, sizeof(b));
    memcpy(b, "GIF89a", 6);
    put16le(b + 6, 4000);
    put16le(b + 8, 4000);
    for (int f = 0; f < 12; f++) {
      b[n] = 0x2c;
      put16le(b + n + 5, 4000);
      put16le(b + n + 7, 4000);
      b[n + 10] = 2;
      b[n + 11] = 2;
      b[n + 12] = 0x4c;
      b[n + 13] = 0x01;
      b[n + 14] = 0;
      n += 15;
    }
    b[n++] = 0x3b;
    write_bytes("frames.gif", b, n);
    expect_err("frames.gif", ERR_TOO_LARGE);
  }

  /* BMP, 24 bpp uncompressed. */
  memset(b, 0, sizeof(b));
  b[0] = 'B';
  b[1] = 'M';
  put32le(b + 2, 154);
  put32le(b + 10, 54);
  put32le(b + 14, 40);
  put32le(b + 18, 20000);
  put32le(b + 22, 20000);
  put16le(b + 26, 1);
  put16le(b + 28, 24);
  write_bytes("bomb.bmp", b, 154);
  expect_err("bomb.bmp", ERR_TOO_LARGE);

  /* PNG IHDR. */
  memset(b, 0, sizeof(b));
  memcpy(b, png_sig, 8);
  put32be(b + 8, 13);
  memcpy(b + 12, "IHDR", 4);
  put32be(b + 16, 20000);
  put32be(b + 20, 20000);
  b[24] = 8;
  write_bytes("bomb.png", b, 64);
  expect_err("bomb.png", ERR_TOO_LARGE);

  /* WebP VP8L (lossless): 14-bit sizes minus one. */
  memset(b, 0, sizeof(b));
  memcpy(b, "RIFF", 4);
  put32le(b + 4, 56);
  memcpy(b + 8, "WEBPVP8L", 8);
  put32le(b + 16, 44);
  b[20] = 0x2f;
  put32le(b + 21, (16000u - 1) | (16000u - 1) << 14);
  write_bytes("bomb.webp", b, 64);
  expect_err("bomb.webp", ERR_TOO_LARGE);

  /* JPEG 2000 codestream, SIZ marker. */
  memset(b, 0, sizeof(b));
  b[0] = 0xff;
  b[1] = 0x4f;
  b[2] = 0xff;
  b[3] = 0x51;
  put32be(b + 8, 20000);
  put32be(b + 12, 20000);
  write_bytes("bomb.j2k", b, 64);
  expect_err("bomb.j2k", ERR_TOO_LARGE);

  /* PNM. */
  write_bytes("bomb.pgm", "P5\n# big\n20000 20000\n255\n\0\0\0\0", 29);
  expect_err("bomb.pgm", ERR_TOO_LARGE);

  /* JPEG: SOI, then a baseline SOF0 of 20000 x 20000. */
  {
    static const uint8_t jpg[] = {0xff, 0xd8, 0xff, 0xc0, 0,    11, 8,    0x4e, 0x20,
                                  0x4e, 0x20, 1,    1,    0x11, 0,  0xff, 0xd9};
    write_bytes("bomb.jpg", jpg, sizeof(jpg));
    expect_err("bomb.jpg", ERR_TOO_LARGE);
  }

  /* TIFF: a 1 x 1 first page, then a 20000 x 20000 second page. */
  {
    uint8_t t[128];
    size_t ifd1 = 8, ifd2 = 8 + 2 + 2 * 12 + 4;

    memset(t, 0, sizeof(t));
    memcpy(t, "II*\0", 4);
    put32le(t + 4, (uint32_t)ifd1);
    put16le(t + ifd1, 2);
    put16le(t + ifd1 + 2, 256); /* ImageWidth, LONG, 1 */
    put16le(t + ifd1 + 4, 4);
    put32le(t + ifd1 + 6, 1);
    put32le(t + ifd1 + 10, 1);
    put16le(t + ifd1 + 14, 257);
    put16le(t + ifd1 + 16, 4);
    put32le(t + ifd1 + 18, 1);
    put32le(t + ifd1 + 22, 1);
    put32le(t + ifd1 + 26, (uint32_t)ifd2);
    put16le(t + ifd2, 2);
    put16le(t + ifd2 + 2, 256);
    put16le(t + ifd2 + 4, 4);
    put32le(t + ifd2 + 6, 1);
    put32le(t + ifd2 + 10, 20000);
    put16le(t + ifd2 + 14, 257);
    put16le(t + ifd2 + 16, 4);
    put32le(t + ifd2 + 18, 1);
    put32le(t + ifd2 + 22, 20000);
    write_bytes("bomb.tif", t, sizeof(t));
    expect_err("bomb.tif", ERR_TOO_LARGE);
  }
  /* 400 M pixels would be at least 400 MB at 8 bpp. */
  cr_assert_lt(peak_rss_kb() - before, 100 * 1024, "peak RSS grew from %ld to %ld kB",
               before, peak_rss_kb());
}

/* Valid files in encodings the decoders do not read: said so, not
 * "corrupt". */
Test(ocr_inputs, unsupported_encodings_say_so) {
  char p[PATH_MAX], out[PATH_MAX + 8];
  const char *font = otu_font("DejaVuSans");

  cr_assert_eq(
      otu_render(path_of(p, "line.png"), "400x60", font, 30, 10, 45, "Tiles and runs"), 0);
  cr_assert_eq(otu_convert(p, path_of(out, "tiled.tif"),
                           (const char *[]){"-define", "tiff:tile-geometry=64x64", NULL}),
               0);
  expect_err("tiled.tif", ERR_UNSUPPORTED_FORMAT);
  snprintf(out, sizeof(out), "BMP3:%s/rle8.bmp", dir);
  cr_assert_eq(
      otu_convert(p, out, (const char *[]){"-type", "palette", "-compress", "RLE", NULL}),
      0);
  expect_err("rle8.bmp", ERR_UNSUPPORTED_FORMAT);
}

/* A 3-line page photographed sideways: pixels stored turned, the EXIF tag
 * says how to show them. Boxes stay in the stored pixels' coordinates. */
Test(ocr_inputs, jpeg_exif_orientation_is_applied) {
  static const struct {
    const char *rotate, *tag, *name;
    int orientation;
  } cases[] = {{"-90", "-Orientation=6", "o6.jpg", 6},
               {"180", "-Orientation=3", "o3.jpg", 3},
               {"90", "-Orientation=8", "o8.jpg", 8}};
  char p[PATH_MAX], out[PATH_MAX];
  const char *font = otu_font("DejaVuSans");
  size_t i;

  cr_assert_eq(otu_run((const char *[]){
                   OTU_CONVERT, "-size", "640x240", "xc:white", "-font", font, "-pointsize",
                   "36", "-annotate", "+10+60", "Invoice total 318", "-annotate", "+10+130",
                   "Paid in full today", "-annotate", "+10+200", "Thank you kindly",
                   path_of(p, "page.png"), NULL}),
               0);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ocr_result r;
    size_t k;

    cr_assert_eq(otu_convert(p, path_of(out, cases[i].name),
                             (const char *[]){"-rotate", cases[i].rotate, NULL}),
                 0);
    cr_assert_eq(otu_run((const char *[]){"/usr/bin/exiftool", "-q", "-overwrite_original",
                                          "-n", cases[i].tag, out, NULL}),
                 0);
    expect_text(cases[i].name, "Invoice total 318", &r);
    cr_assert_not_null(strstr(r.text, "Thank you kindly"), "%s", r.text);
    cr_assert_eq(r.orientation, cases[i].orientation);
    /* The image as sent: 240 x 640 for the quarter turns. */
    cr_assert_eq(r.width, cases[i].orientation == 3 ? 640 : 240);
    for (k = 0; k < r.nboxes; k++)
      for (int c = 0; c < 4; c++) {
        cr_assert(r.boxes[k].quad[2 * c] >= 0 && r.boxes[k].quad[2 * c] <= (float)r.width);
        cr_assert(r.boxes[k].quad[2 * c + 1] >= 0 &&
                  r.boxes[k].quad[2 * c + 1] <= (float)r.height);
      }
    if (cases[i].orientation == 6) {
      /* The first line (top of the page as shown, x 10..~310) is stored
       * along the left edge, its start at the bottom. */
      float y_min = r.boxes[0].quad[1], x_max = r.boxes[0].quad[0];
      for (int c = 0; c < 4; c++) {
        y_min = r.boxes[0].quad[2 * c + 1] < y_min ? r.boxes[0].quad[2 * c + 1] : y_min;
        x_max = r.boxes[0].quad[2 * c] > x_max ? r.boxes[0].quad[2 * c] : x_max;
      }
      cr_assert_lt(x_max, 80.0f);
      cr_assert_gt(y_min, 300.0f);
    }
    ocr_result_clear(&r);
  }
}

/* Light glyphs on alpha 0 (a subtitle overlay), and white glyphs with a
 * black outline. */
Test(ocr_inputs, light_text_on_transparency_is_read) {
  char p[PATH_MAX];
  const char *font = otu_font("DejaVuSans");
  ocr_result r;

  snprintf(p, sizeof(p), "PNG32:%s/overlay.png", dir);
  cr_assert_eq(
      otu_run((const char *[]){OTU_CONVERT, "-size", "640x120", "xc:none", "-font", font,
                               "-pointsize", "40", "-fill", "white", "-annotate", "+10+70",
                               "Overlay subtitle", p, NULL}),
      0);
  expect_text("overlay.png", "Overlay subtitle", &r);
  ocr_result_clear(&r);
  snprintf(p, sizeof(p), "PNG32:%s/outlined.png", dir);
  cr_assert_eq(otu_run((const char *[]){OTU_CONVERT, "-size", "640x120", "xc:none", "-font",
                                        font, "-pointsize", "44", "-fill", "white",
                                        "-stroke", "black", "-strokewidth", "2",
                                        "-annotate", "+10+70", "Outlined words", p, NULL}),
               0);
  expect_text("outlined.png", "Outlined words", &r);
  ocr_result_clear(&r);
}

/* A line cropped exactly to its glyphs: padded before recognition, boxes
 * still inside the image as sent. */
Test(ocr_inputs, ink_touching_the_border_is_read) {
  char p[PATH_MAX];
  const char *font = otu_font("DejaVuSans");
  ocr_result r;

  cr_assert_eq(otu_run((const char *[]){OTU_CONVERT, "-size", "600x60", "xc:white", "-font",
                                        font, "-pointsize", "40", "-fill", "black",
                                        "-annotate", "+5+45", "Quick brown fox 42", "-trim",
                                        "+repage", path_of(p, "cropped.png"), NULL}),
               0);
  expect_text("cropped.png", "Quick brown fox 42", &r);
  cr_assert_eq(r.nboxes, 1);
  for (int c = 0; c < 4; c++) {
    cr_assert(r.boxes[0].quad[2 * c] >= 0 && r.boxes[0].quad[2 * c] <= (float)r.width);
    cr_assert(r.boxes[0].quad[2 * c + 1] >= 0 &&
              r.boxes[0].quad[2 * c + 1] <= (float)r.height);
  }
  ocr_result_clear(&r);
}

static void render_two_pages(void) {
  char p1[PATH_MAX], p2[PATH_MAX], out[PATH_MAX];
  const char *font = otu_font("DejaVuSans");

  cr_assert_eq(
      otu_render(path_of(p1, "p1.png"), "640x120", font, 36, 10, 70, "Page one text"), 0);
  cr_assert_eq(
      otu_render(path_of(p2, "p2.png"), "640x120", font, 36, 10, 70, "Second page here"),
      0);
  cr_assert_eq(
      otu_run((const char *[]){OTU_CONVERT, p1, p2, path_of(out, "two.tif"), NULL}), 0);
  cr_assert_eq(otu_run((const char *[]){"/usr/bin/img2pdf", p1, p2, "-o",
                                        path_of(out, "two.pdf"), NULL}),
               0);
}

static void expect_two_pages(const ocr_result *r) {
  cr_assert_eq(r->pages, 2);
  cr_assert_eq(r->nboxes, 2, "%s", r->text);
  cr_assert_str_eq(r->boxes[0].text, "Page one text");
  cr_assert_eq(r->boxes[0].page, 1);
  cr_assert_str_eq(r->boxes[1].text, "Second page here");
  cr_assert_eq(r->boxes[1].page, 2);
}

/* Every page of a TIFF, each box saying its page; --max-pages bounds it. */
Test(ocr_inputs, multi_page_tiff_reads_every_page) {
  ocr_engine *one = make_engine(1);
  ocr_result r;

  render_two_pages();
  expect_text("two.tif", "Page one text\nSecond page here", &r);
  expect_two_pages(&r);
  ocr_result_clear(&r);
  cr_assert_eq(run_both(one, "two.tif", 0, &r), ERR_TOO_LARGE);
  cr_assert_not_null(strstr(r.error_message, "pages"), "%s", r.error_message);
  ocr_result_clear(&r);
  ocr_engine_free(one);
}

/* A minimal one-page PDF with a text layer (Helvetica), or with an
 * /Encrypt dictionary whose user password is not empty. */
static void write_pdf(const char *name, int encrypted) {
  static const char content[] = "BT /F1 24 Tf 40 100 Td (Layer words here) Tj ET";
  const char *objs[6];
  char stream[256], out[4096];
  size_t off[6], n = 0, nobj = encrypted ? 6 : 5;

  snprintf(stream, sizeof(stream), "<< /Length %zu >>\nstream\n%s\nendstream",
           strlen(content), content);
  objs[0] = "<< /Type /Catalog /Pages 2 0 R >>";
  objs[1] = "<< /Type /Pages /Kids [3 0 R] /Count 1 >>";
  objs[2] = "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R "
            "/Resources << /Font << /F1 5 0 R >> >> >>";
  objs[3] = stream;
  objs[4] = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
  objs[5] = "<< /Filter /Standard /V 1 /R 2 /P -4 "
            "/O <1111111111111111111111111111111111111111111111111111111111111111> "
            "/U <2222222222222222222222222222222222222222222222222222222222222222> >>";
  n += (size_t)snprintf(out + n, sizeof(out) - n, "%%PDF-1.4\n");
  for (size_t i = 0; i < nobj; i++) {
    off[i] = n;
    n += (size_t)snprintf(out + n, sizeof(out) - n, "%zu 0 obj\n%s\nendobj\n", i + 1,
                          objs[i]);
  }
  {
    size_t xref = n;
    n += (size_t)snprintf(out + n, sizeof(out) - n, "xref\n0 %zu\n0000000000 65535 f \n",
                          nobj + 1);
    for (size_t i = 0; i < nobj; i++)
      n += (size_t)snprintf(out + n, sizeof(out) - n, "%010zu 00000 n \n", off[i]);
    n += (size_t)snprintf(
        out + n, sizeof(out) - n,
        "trailer\n<< /Size %zu /Root 1 0 R %s>>\nstartxref\n%zu\n%%%%EOF\n", nobj + 1,
        encrypted ? "/Encrypt 6 0 R /ID [<33333333333333333333333333333333> "
                    "<33333333333333333333333333333333>] "
                  : "",
        xref);
  }
  cr_assert_lt(n, sizeof(out));
  write_bytes(name, out, n);
}

/* PDFs: rendered pages with page numbers, the text layer on request,
 * encrypted and broken files as their own failures, the page limit
 * checked before rendering. */
Test(ocr_inputs, pdf_pages_text_layer_and_failures) {
  ocr_engine *one = make_engine(1);
  ocr_result r;
  char p[PATH_MAX];
  size_t len;
  uint8_t *pdf;

  render_two_pages();
  expect_text("two.pdf", "Page one text\nSecond page here", &r);
  expect_two_pages(&r);
  ocr_result_clear(&r);
  cr_assert_eq(run_both(one, "two.pdf", 0, &r), ERR_TOO_LARGE);
  ocr_result_clear(&r);
  ocr_engine_free(one);

  write_pdf("layer.pdf", 0);
  cr_assert_eq(run_both(engine, "layer.pdf", 1, &r), 0);
  cr_assert_str_eq(r.text, "Layer words here");
  cr_assert_eq(r.boxes[0].confidence, 1.0f);
  cr_assert_eq(r.boxes[0].page, 1);
  ocr_result_clear(&r);
  expect_text("layer.pdf", "Layer words here", &r); /* OCR of the rendered page */
  ocr_result_clear(&r);

  write_pdf("locked.pdf", 1);
  expect_err("locked.pdf", ERR_PDF_ENCRYPTED);

  pdf = otu_read_file(path_of(p, "two.pdf"), &len);
  cr_assert_not_null(pdf);
  write_bytes("cut.pdf", pdf, 200);
  free(pdf);
  expect_err("cut.pdf", ERR_PDF);
}

/* Damaged uploads of every decoder: failures (or partial images), and not
 * one byte on stderr. */
Test(ocr_inputs, decoders_write_nothing_on_stderr) {
  static const char *const exts[] = {"jpg", "tif", "gif", "webp", "jp2", "png", "pdf"};
  char p[PATH_MAX], out[PATH_MAX], errpath[PATH_MAX];
  const char *font = otu_font("DejaVuSans");
  int saved, fd;
  struct stat st;

  cr_assert_eq(otu_render(path_of(p, "src.png"), "320x60", font, 30, 10, 45, "Noise"), 0);
  fd = open(path_of(errpath, "stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  cr_assert_geq(fd, 0);
  fflush(stderr);
  saved = dup(2);
  dup2(fd, 2);
  for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
    char name[32];
    size_t len;
    uint8_t *data;

    snprintf(name, sizeof(name), "src.%s", exts[i]);
    if (strcmp(exts[i], "pdf") == 0)
      cr_assert_eq(
          otu_run((const char *[]){"/usr/bin/img2pdf", p, "-o", path_of(out, name), NULL}),
          0);
    else
      cr_assert_eq(otu_convert(p, path_of(out, name), NULL), 0);
    data = otu_read_file(out, &len);
    cr_assert_not_null(data);
    for (int k = 0; k < 3; k++) {
      ocr_request req = {.data = data, .data_len = len, .psm = -1};
      ocr_result r;
      size_t j, cut = len * (size_t)(k + 1) / 4;

      /* Cut short, then bytes of the middle overwritten. */
      ocr_result_init(&r);
      req.data_len = cut;
      ocr_engine_run(engine, &req, &r);
      ocr_result_clear(&r);
      for (j = len / 3; j < len / 3 + 24 && j < len; j++)
        data[j] = (uint8_t)(data[j] * 31 + 7 + k);
      req.data_len = len;
      ocr_engine_run(engine, &req, &r);
      ocr_result_clear(&r);
    }
    free(data);
  }
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  cr_assert_eq(stat(errpath, &st), 0);
  if (st.st_size != 0) {
    size_t len;
    char *text = (char *)otu_read_file(errpath, &len);
    cr_assert_fail("decoders wrote %lld bytes on stderr: %.*s", (long long)st.st_size,
                   (int)(len > 400 ? 400 : len), text);
  }
}

/* A Korean line Tesseract reads right but for one word, whose near-zero
 * confidence pulls the line's under the threshold: the sure words stay
 * (before, the whole line was dropped and the answer was empty). Random
 * noise still comes back empty at the default threshold. */
Test(ocr_inputs, unsure_word_does_not_drop_its_line) {
  char p[PATH_MAX];
  ocr_request req = {.path = "kline.png", .psm = -1, .language = "kor"};
  ocr_result r;

  cr_assert_eq(otu_render(path_of(p, "kline.png"), "900x70", otu_font("NanumGothic"), 32,
                          10, 48, "측하고 (뮌헨숨지고 모두 배"),
               0);
  /* The line reads at about 0.68 (one word near 0): 0.8 is above it. */
  req.confidence_threshold = 0.8f;
  ocr_result_init(&r);
  cr_assert_eq(ocr_engine_run(engine, &req, &r), 0, "%s", r.error_message);
  cr_assert_eq(r.nboxes, 1, "text \"%s\"", r.text);
  cr_assert_not_null(strstr(r.text, "숨지고 모두"), "%s", r.text);
  cr_assert_geq(r.boxes[0].confidence, 0.8f);
  ocr_result_clear(&r);

  for (int seed = 1; seed <= 3; seed++) {
    char s[16], name[32];
    ocr_request noise = {.path = name, .psm = -1};

    snprintf(s, sizeof(s), "%d", seed);
    snprintf(name, sizeof(name), "noise%d.png", seed);
    cr_assert_eq(otu_run((const char *[]){OTU_CONVERT, "-size", "400x200", "xc:gray",
                                          "-seed", s, "+noise", "Random", "-colorspace",
                                          "gray", path_of(p, name), NULL}),
                 0);
    for (int k = 0; k < 2; k++) {
      noise.language = k == 0 ? "eng" : "kor";
      ocr_result_init(&r);
      cr_assert_eq(ocr_engine_run(engine, &noise, &r), 0);
      cr_assert_str_eq(r.text, "", "%s (%s): \"%s\"", name, noise.language, r.text);
      ocr_result_clear(&r);
    }
  }
}

/* A receipt whose price column automatic layout analysis (PSM 3) files as
 * non-text: the ink it leaves outside every line makes the engine read the
 * page as one block (PSM 6) too and keep that reading, which has the
 * prices. */
Test(ocr_inputs, column_missed_by_page_layout_is_read) {
  char p[PATH_MAX];
  const char *font = otu_font("DejaVuSans");
  ocr_result r;

  cr_assert_eq(otu_run((const char *[]){OTU_CONVERT,
                                        "-size",
                                        "1000x700",
                                        "xc:white",
                                        "-font",
                                        font,
                                        "-fill",
                                        "black",
                                        "-pointsize",
                                        "28",
                                        "-annotate",
                                        "+40+60",
                                        "GREEN GROCERY",
                                        "-pointsize",
                                        "14",
                                        "-annotate",
                                        "+700+40",
                                        "Tel 555-0199",
                                        "-annotate",
                                        "+700+60",
                                        "Receipt 88412",
                                        "-pointsize",
                                        "18",
                                        "-annotate",
                                        "+40+150",
                                        "Apples",
                                        "-annotate",
                                        "+800+150",
                                        "3.20",
                                        "-annotate",
                                        "+40+190",
                                        "Bananas",
                                        "-annotate",
                                        "+800+190",
                                        "1.10",
                                        "-annotate",
                                        "+40+230",
                                        "Carrots",
                                        "-annotate",
                                        "+800+230",
                                        "0.95",
                                        "-pointsize",
                                        "22",
                                        "-annotate",
                                        "+40+340",
                                        "TOTAL",
                                        "-annotate",
                                        "+790+340",
                                        "5.25",
                                        path_of(p, "receipt.png"),
                                        NULL}),
               0);
  expect_text("receipt.png", "Apples 3.20", &r);
  cr_assert_not_null(strstr(r.text, "Carrots 0.95"), "%s", r.text);
  cr_assert_not_null(strstr(r.text, "TOTAL 5.25"), "%s", r.text);
  ocr_result_clear(&r);
}
