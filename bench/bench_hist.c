/* SPDX-License-Identifier: MIT */
/* Log-linear latency histogram (see bench_hist.h). Single-threaded. */
#include "bench_hist.h"

#include <math.h>
#include <string.h>

void bench_hist_init(bench_hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

unsigned bench_hist_index(uint64_t v) {
  if (v < BENCH_HIST_LINEAR)
    return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
  unsigned shift = e - 7;
  unsigned sub = (unsigned)(v >> shift) - BENCH_HIST_SUB;
  return BENCH_HIST_LINEAR + (e - 8) * BENCH_HIST_SUB + sub;
}

void bench_hist_bucket(unsigned idx, uint64_t *lo, uint64_t *width) {
  if (idx < BENCH_HIST_LINEAR) {
    *lo = idx;
    *width = 1;
    return;
  }
  unsigned k = idx - BENCH_HIST_LINEAR;
  unsigned e = k / BENCH_HIST_SUB + 8;
  unsigned sub = k % BENCH_HIST_SUB;
  *lo = (uint64_t)(BENCH_HIST_SUB + sub) << (e - 7);
  *width = (uint64_t)1 << (e - 7);
}

void bench_hist_record(bench_hist *h, uint64_t v) {
  h->counts[bench_hist_index(v)]++;
  h->n++;
  h->sum += (double)v;
  if (v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
}

void bench_hist_merge(bench_hist *dst, const bench_hist *src) {
  for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
    dst->counts[i] += src->counts[i];
  dst->n += src->n;
  dst->sum += src->sum;
  if (src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
}

uint64_t bench_hist_percentile(const bench_hist *h, double p) {
  if (h->n == 0)
    return 0;
  if (p >= 100)
    return h->max;
  double r = ceil(p / 100.0 * (double)h->n);
  uint64_t rank = r < 1 ? 1 : (uint64_t)r;
  uint64_t seen = 0;
  for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t lo, w;
      bench_hist_bucket(i, &lo, &w);
      uint64_t v = lo + (w - 1) / 2;
      if (v < h->min)
        v = h->min;
      if (v > h->max)
        v = h->max;
      return v;
    }
  }
  return h->max;
}

double bench_hist_mean(const bench_hist *h) { return h->n ? h->sum / (double)h->n : 0; }
