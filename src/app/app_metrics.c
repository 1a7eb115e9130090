/* SPDX-License-Identifier: MIT */
/* What the recognition path counts, whichever front door asked: images by
 * language and result, the time each waited for a worker and spent in the
 * engine (measured on the worker, handed back inside the result), and the
 * result cache's hits and misses (read from the app's own counters at
 * scrape time), and the requests admission control shed. Loop thread. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "base/err.h"
#include "base/metrics.h"

/* Seconds, from a mock answer (tens of microseconds) to a long page
 * (minutes): the client libraries' defaults stop at 10 s. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                 0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                 5,      10,      30,     60,    120,    300};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

static void collect(void *ud) {
  app *a = ud;
  metric_set(a->m_cache_hits, (double)a->cache_hits);
  metric_set(a->m_cache_misses, (double)a->cache_misses);
}

static metric *single(metrics *m, metric_type t, const char *name, const char *help) {
  return metrics_series(metrics_family(m, t, name, help, 0, NULL, buckets, NBUCKETS), NULL);
}

int app_metrics_register(app *a, metrics *m) {
  const char *lr[] = {"language", "result"};
  a->m_images = metrics_family(
      m, METRIC_COUNTER, "ocr_images_total",
      "Images answered (gRPC ExtractText, batch items, REST), by the Tesseract language "
      "code used and result: success, or the failure's details code.",
      2, lr, NULL, 0);
  a->m_recognition =
      single(m, METRIC_HISTOGRAM, "ocr_recognition_seconds",
             "Time a worker spent reading, decoding and recognising one image.");
  a->m_queue_wait = single(m, METRIC_HISTOGRAM, "ocr_queue_wait_seconds",
                           "Time an image waited for a free worker.");
  a->m_cache_hits = single(m, METRIC_COUNTER, "ocr_result_cache_hits_total",
                           "Result cache lookups that found a stored result.");
  a->m_cache_misses =
      single(m, METRIC_COUNTER, "ocr_result_cache_misses_total",
             "Result cache lookups that found none (or the store was unreachable).");
  const char *pl[] = {"phase"};
  metric_family *phase = metrics_family(
      m, METRIC_HISTOGRAM, "ocr_phase_seconds",
      "Time one image spent in each phase of recognition (decode, orientation, layout, "
      "recognition, encode), for requests that asked for timings (options timings=1).",
      1, pl, buckets, NBUCKETS);
  static const char *const phases[] = {"decode", "orientation", "layout", "recognition",
                                       "encode"};
  for (size_t i = 0; i < 5; i++)
    if (!(a->m_phase[i] = metrics_series(phase, (const char *[]){phases[i]})))
      return ERR_INVAL;
  const char *pr[] = {"protocol", "reason"};
  metric_family *shed = metrics_family(
      m, METRIC_COUNTER, "ocr_requests_shed_total",
      "Recognition requests refused at once by admission control (gRPC UNAVAILABLE, "
      "HTTP 503), by front door and reason: queue_full (--max-queued-jobs) or deadline "
      "(--shed-by-deadline).",
      2, pr, NULL, 0);
  /* Every series from the start, at 0: rate() needs the zero. */
  static const char *const doors[] = {"grpc", "http"};          /* by app_door */
  static const char *const whys[] = {"queue_full", "deadline"}; /* by app_shed_reason */
  for (size_t d = 0; d < 2; d++)
    for (size_t w = 0; w < 2; w++)
      if (!shed ||
          !(a->m_shed[d][w] = metrics_series(shed, (const char *[]){doors[d], whys[w]})))
        return ERR_INVAL;
  if (!a->m_images || !a->m_recognition || !a->m_queue_wait || !a->m_cache_hits ||
      !a->m_cache_misses || metrics_on_collect(m, collect, a, NULL))
    return ERR_INVAL;
  return 0;
}

void app_metrics_image(app *a, const ocr_result *r, double queue_ms) {
  if (!a->m_images)
    return;
  /* Most images repeat the last one's language and result: one compare
   * instead of a search through the family's series. */
  const char *lang = r->language[0] ? r->language : "unknown";
  if (!a->m_last_image || a->m_last_err != r->err || strcmp(a->m_last_lang, lang) != 0) {
    const char *v[] = {lang, r->err ? err_name(r->err) : "success"};
    a->m_last_image = metrics_series(a->m_images, v);
    a->m_last_err = r->err;
    snprintf(a->m_last_lang, sizeof a->m_last_lang, "%s", lang);
  }
  metric_inc(a->m_last_image);
  if (queue_ms < 0)
    return;
  metric_observe(a->m_queue_wait, queue_ms / 1000.0);
  metric_observe(a->m_recognition, r->ocr_ms / 1000.0);
  /* Only measured results: a cache hit or an unasked request has none, and
   * counting zeros would drag every phase's quantiles down. */
  if (r->timed && !r->err) {
    const double ms[] = {r->decode_ms, r->orientation_ms, r->layout_ms, r->recognition_ms,
                         r->encode_ms};
    for (size_t i = 0; i < 5; i++)
      metric_observe(a->m_phase[i], ms[i] / 1000.0);
  }
}
