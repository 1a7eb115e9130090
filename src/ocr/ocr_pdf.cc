// SPDX-License-Identifier: MIT
// PDF input through poppler's C++ API (Debian libpoppler-cpp-dev): pages are
// counted and measured before any is rendered, so the page and pixel limits
// hold for PDFs as for images, then rendered one at a time to 8 bpp grey at
// the configured resolution. poppler-cpp rather than poppler-glib because it
// lets us take poppler's own error messages (set_debug_error_function)
// instead of leaving them on stderr, and renders without cairo or GObject.
// The only C++ file of the server: everything crossing into C is caught.
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-image.h>
#include <poppler/cpp/poppler-page-renderer.h>
#include <poppler/cpp/poppler-page.h>

#include <leptonica/allheaders.h>

extern "C" {
#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "ocr_internal.h"
}

namespace {

// The first message poppler wrote on this thread since the last reset.
thread_local std::string pdf_msg;

void on_poppler_message(const std::string &msg, void *) {
  if (pdf_msg.empty())
    pdf_msg = msg;
}

struct pdf_doc {
  std::unique_ptr<poppler::document> doc;
  std::vector<double> w_pt, h_pt; // page sizes, upright, in points
};

// Size of page p in points as rendered (its /Rotate applied).
void page_size(const poppler::page *p, double *w, double *h) {
  poppler::rectf r = p->page_rect(poppler::crop_box);
  poppler::page::orientation_enum o = p->orientation();

  if (o == poppler::page::landscape || o == poppler::page::seascape) {
    *w = r.height();
    *h = r.width();
  } else {
    *w = r.width();
    *h = r.height();
  }
}

int dpi_of(const ocr_engine *e) {
  return e->pdf_dpi > 0 ? e->pdf_dpi : OCR_DEFAULT_PDF_DPI;
}

} // namespace

extern "C" void ocr__pdf_quiet(void) {
  poppler::set_debug_error_function(on_poppler_message, nullptr);
}

extern "C" int ocr__pdf_open(const ocr_engine *e, ocr__doc *d, ocr_result *out) {
  int max_pages = e->max_pages > 0 ? e->max_pages : OCR_DEFAULT_MAX_PAGES;
  double dpi = dpi_of(e);

  if (d->len > (size_t)INT32_MAX)
    return ocr__fail(out, ERR_TOO_LARGE, "PDF of %zu bytes is too big", d->len);
  try {
    std::unique_ptr<pdf_doc> pd(new pdf_doc);
    int n;

    pdf_msg.clear();
    pd->doc.reset(poppler::document::load_from_raw_data(
        reinterpret_cast<const char *>(d->data), static_cast<int>(d->len)));
    if (!pd->doc)
      return ocr__fail(out, ERR_PDF, "PDF cannot be read%s%s", pdf_msg.empty() ? "" : ": ",
                       pdf_msg.c_str());
    if (pd->doc->is_locked())
      return ocr__fail(out, ERR_PDF_ENCRYPTED, "PDF is encrypted with a password");
    n = pd->doc->pages();
    if (n <= 0)
      return ocr__fail(out, ERR_PDF, "PDF has no pages");
    if (n > max_pages)
      return ocr__fail(out, ERR_TOO_LARGE, "PDF has %d pages, limit %d (--max-pages)", n,
                       max_pages);
    for (int i = 0; i < n; i++) {
      std::unique_ptr<poppler::page> p(pd->doc->create_page(i));
      double w, h, pw, ph;

      if (!p)
        return ocr__fail(out, ERR_PDF, "PDF page %d cannot be read", i + 1);
      page_size(p.get(), &w, &h);
      pw = w * dpi / 72.0;
      ph = h * dpi / 72.0;
      if (i == 0) {
        out->width = static_cast<int>(pw + 0.5);
        out->height = static_cast<int>(ph + 0.5);
      }
      if (!(pw >= 1 && ph >= 1))
        return ocr__fail(out, ERR_PDF, "PDF page %d has no area", i + 1);
      if (pw * ph > static_cast<double>(e->max_pixels))
        return ocr__fail(out, ERR_TOO_LARGE,
                         "PDF page %d is %.0fx%.0f pixels at %d dpi, limit %llu pixels",
                         i + 1, pw, ph, static_cast<int>(dpi),
                         static_cast<unsigned long long>(e->max_pixels));
      if (pw > OCR__MAX_SIDE || ph > OCR__MAX_SIDE)
        return ocr__fail(
            out, ERR_TOO_LARGE,
            "PDF page %d is %.0fx%.0f pixels at %d dpi, sides are limited to %d", i + 1, pw,
            ph, static_cast<int>(dpi), OCR__MAX_SIDE);
      pd->w_pt.push_back(w);
      pd->h_pt.push_back(h);
    }
    d->pages = n;
    d->pdf = pd.release();
    return 0;
  } catch (const std::bad_alloc &) {
    return ocr__fail(out, ERR_NOMEM, "no memory to read the PDF");
  } catch (...) {
    return ocr__fail(out, ERR_PDF, "PDF cannot be read");
  }
}

extern "C" int ocr__pdf_page(const ocr_engine *e, ocr__doc *d, int index, ocr__image *img,
                             ocr_result *out) {
  pdf_doc *pd = static_cast<pdf_doc *>(d->pdf);
  double dpi = dpi_of(e);

  try {
    std::unique_ptr<poppler::page> p(pd->doc->create_page(index));
    poppler::page_renderer r;
    PIX *pix;

    if (!p)
      return ocr__fail(out, ERR_PDF, "PDF page %d cannot be read", index + 1);
    pdf_msg.clear();
    r.set_render_hint(poppler::page_renderer::antialiasing, true);
    r.set_render_hint(poppler::page_renderer::text_antialiasing, true);
    r.set_image_format(poppler::image::format_gray8);
    poppler::image im = r.render_page(p.get(), dpi, dpi);
    if (!im.is_valid() || im.width() <= 0 || im.height() <= 0)
      return ocr__fail(out, ERR_PDF, "PDF page %d cannot be rendered%s%s", index + 1,
                       pdf_msg.empty() ? "" : ": ", pdf_msg.c_str());
    // Rounding aside, the size was checked in ocr__pdf_open.
    if (static_cast<uint64_t>(im.width()) * static_cast<uint64_t>(im.height()) >
            e->max_pixels + e->max_pixels / 50 + 4096 ||
        im.width() > OCR__MAX_SIDE || im.height() > OCR__MAX_SIDE)
      return ocr__fail(out, ERR_TOO_LARGE, "PDF page %d rendered larger than measured",
                       index + 1);
    pix = pixCreate(im.width(), im.height(), 8);
    if (pix == nullptr)
      return ocr__fail(out, ERR_NOMEM, "no memory for PDF page %d", index + 1);
    {
      l_uint32 *base = pixGetData(pix);
      l_int32 wpl = pixGetWpl(pix);
      const char *src = im.const_data();
      for (int y = 0; y < im.height(); y++) {
        const unsigned char *row = reinterpret_cast<const unsigned char *>(src) +
                                   static_cast<size_t>(y) * im.bytes_per_row();
        l_uint32 *line = base + static_cast<size_t>(y) * wpl;
        for (int x = 0; x < im.width(); x++)
          SET_DATA_BYTE(line, x, row[x]);
      }
    }
    img->pix = pix;
    img->width = im.width();
    img->height = im.height();
    img->orientation = 1;
    img->pad = 0;
    return 0;
  } catch (const std::bad_alloc &) {
    return ocr__fail(out, ERR_NOMEM, "no memory to render PDF page %d", index + 1);
  } catch (...) {
    return ocr__fail(out, ERR_PDF, "PDF page %d cannot be rendered", index + 1);
  }
}

extern "C" int ocr__pdf_page_text(const ocr_engine *e, ocr__doc *d, int index, int *found,
                                  ocr_result *out) {
  pdf_doc *pd = static_cast<pdf_doc *>(d->pdf);
  double scale = dpi_of(e) / 72.0;

  *found = 0;
  try {
    std::unique_ptr<poppler::page> p(pd->doc->create_page(index));
    if (!p)
      return ocr__fail(out, ERR_PDF, "PDF page %d cannot be read", index + 1);
    std::vector<poppler::text_box> words = p->text_list();
    // Words in reading order; a word whose vertical extent overlaps the
    // current line's by more than half joins it, otherwise it starts a new
    // line. Boxes are in pixels of the page as rendered at --pdf-dpi.
    size_t i = 0;
    while (i < words.size()) {
      poppler::rectf first = words[i].bbox();
      double l = first.left(), t = first.top(), r = first.right(), b = first.bottom();
      std::string text;
      size_t j = i;
      for (; j < words.size(); j++) {
        poppler::rectf wb = words[j].bbox();
        double top = wb.top() > t ? wb.top() : t;
        double bottom = wb.bottom() < b ? wb.bottom() : b;
        double hmin = wb.height() < b - t ? wb.height() : b - t;
        if (j > i && !(bottom - top > hmin / 2))
          break;
        if (j > i)
          text += ' ';
        l = wb.left() < l ? wb.left() : l;
        t = wb.top() < t ? wb.top() : t;
        r = wb.right() > r ? wb.right() : r;
        b = wb.bottom() > b ? wb.bottom() : b;
        poppler::byte_array u = words[j].text().to_utf8();
        text.append(u.begin(), u.end());
      }
      i = j;
      if (text.empty())
        continue;
      float quad[8] = {static_cast<float>(l * scale), static_cast<float>(t * scale),
                       static_cast<float>(r * scale), static_cast<float>(t * scale),
                       static_cast<float>(r * scale), static_cast<float>(b * scale),
                       static_cast<float>(l * scale), static_cast<float>(b * scale)};
      ocr__result_add_box(out, ocrpc_strdup(text.c_str()), 1.0f, quad);
      out->boxes[out->nboxes - 1].page = index + 1;
      *found = 1;
    }
    return 0;
  } catch (const std::bad_alloc &) {
    return ocr__fail(out, ERR_NOMEM, "no memory for the PDF text");
  } catch (...) {
    return ocr__fail(out, ERR_PDF, "PDF page %d text cannot be read", index + 1);
  }
}

extern "C" void ocr__pdf_close(ocr__doc *d) {
  delete static_cast<pdf_doc *>(d->pdf);
  d->pdf = nullptr;
}

// LeakSanitizer's hook (weak in the sanitizer runtime, unused otherwise):
// fontconfig, which poppler asks for substitute fonts, keeps its
// process-wide configuration in memory it never frees; that is a cache,
// not a leak of ours.
extern "C" const char *__lsan_default_suppressions(void);
extern "C" const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }
