/* SPDX-License-Identifier: MIT */
/* A latency histogram in the style of HdrHistogram: exact counts below 256,
 * then 128 log-linear sub-buckets per power of two, so any recorded value
 * is reported within 1/256 (0.4%) of itself. Values are unsigned 64-bit
 * (nanoseconds in ocrpc-bench). One owner per histogram; merge per-thread
 * histograms after the threads have joined. */
#ifndef OCRPC_BENCH_HIST_H
#define OCRPC_BENCH_HIST_H

#include <stdint.h>

#define BENCH_HIST_SUB 128 /* sub-buckets per power of two */
#define BENCH_HIST_LINEAR 256
#define BENCH_HIST_BUCKETS (BENCH_HIST_LINEAR + (64 - 8) * BENCH_HIST_SUB)

typedef struct bench_hist {
  uint64_t counts[BENCH_HIST_BUCKETS];
  uint64_t n;
  uint64_t min, max;
  double sum;
} bench_hist;

void bench_hist_init(bench_hist *h);
void bench_hist_record(bench_hist *h, uint64_t v);
/* Adds src's counts to dst. */
void bench_hist_merge(bench_hist *dst, const bench_hist *src);
/* The value at percentile p (0 < p <= 100): the midpoint of the bucket
 * holding the ceil(p% * n)-th smallest value, clamped to [min, max]. 0 for
 * an empty histogram. */
uint64_t bench_hist_percentile(const bench_hist *h, double p);
double bench_hist_mean(const bench_hist *h);

/* Bucket index of v and the range [lo, lo + width) of a bucket; exposed
 * for the tests. */
unsigned bench_hist_index(uint64_t v);
void bench_hist_bucket(unsigned idx, uint64_t *lo, uint64_t *width);

#endif
