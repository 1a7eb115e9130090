/* SPDX-License-Identifier: MIT */
/* ocrpc-bench's histogram: every value and percentile within 1%. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "bench_hist.h"

static bench_hist h;

static void near(uint64_t got, uint64_t want) {
  double err = want ? fabs((double)got - (double)want) / (double)want : (double)got;
  cr_assert_leq(err, 0.01, "got %llu, want %llu (%.3f%%)", (unsigned long long)got,
                (unsigned long long)want, err * 100);
}

Test(hist, buckets_tile_the_range) {
  uint64_t prev_end = 0;
  for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
    uint64_t lo, w;
    bench_hist_bucket(i, &lo, &w);
    cr_assert_eq(lo, prev_end, "bucket %u", i);
    cr_assert_eq(bench_hist_index(lo), i);
    cr_assert_eq(bench_hist_index(lo + w - 1), i);
    /* Width at most 1/128 of the bucket's start: 1% resolution. */
    if (lo >= BENCH_HIST_LINEAR)
      cr_assert_leq((double)w / (double)lo, 1.0 / 128);
    prev_end = lo + w;
    if (i == BENCH_HIST_BUCKETS - 1)
      cr_assert_eq(prev_end, 0); /* wrapped: the last bucket ends at 2^64 */
  }
  cr_assert_eq(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}

Test(hist, single_values_round_trip) {
  const uint64_t vals[] = {0,
                           1,
                           255,
                           256,
                           257,
                           1000,
                           12345,
                           999999,
                           1234567890,
                           (uint64_t)1 << 40,
                           UINT64_MAX / 3};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    bench_hist_init(&h);
    bench_hist_record(&h, vals[i]);
    cr_assert_eq(h.min, vals[i]);
    cr_assert_eq(h.max, vals[i]);
    for (double p = 1; p <= 100; p += 9.9)
      cr_assert_eq(bench_hist_percentile(&h, p), vals[i]); /* clamped to min..max */
  }
}

Test(hist, uniform_percentiles_within_one_percent) {
  /* 1..100000 microseconds in ns: percentile p is p% of 100 ms. */
  bench_hist_init(&h);
  for (uint64_t v = 1; v <= 100000; v++)
    bench_hist_record(&h, v * 1000);
  cr_assert_eq(h.n, 100000);
  const double ps[] = {1, 10, 50, 90, 95, 99, 99.9, 99.99};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
    near(bench_hist_percentile(&h, ps[i]), (uint64_t)(ps[i] * 1000.0) * 1000);
  cr_assert_eq(bench_hist_percentile(&h, 100), 100000000);
  near((uint64_t)bench_hist_mean(&h), 50000500);
}

static int cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

Test(hist, skewed_distribution_against_sorted_truth) {
  /* Log-uniform values over six decades, compared with the exact order
   * statistic of the same sample. */
  enum { N = 200000 };
  uint64_t *v = malloc(N * sizeof *v);
  srand(7);
  bench_hist_init(&h);
  for (int i = 0; i < N; i++) {
    double x = exp(log(1e3) + (log(1e9) - log(1e3)) * rand() / (double)RAND_MAX);
    v[i] = (uint64_t)x;
    bench_hist_record(&h, v[i]);
  }
  qsort(v, N, sizeof *v, cmp);
  const double ps[] = {50, 90, 95, 99, 99.9};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
    size_t rank = (size_t)ceil(ps[i] / 100 * N);
    near(bench_hist_percentile(&h, ps[i]), v[rank - 1]);
  }
  free(v);
}

Test(hist, merge_equals_recording_together) {
  static bench_hist a, b, all;
  bench_hist_init(&a);
  bench_hist_init(&b);
  bench_hist_init(&all);
  for (uint64_t i = 1; i < 5000; i++) {
    bench_hist_record(i % 2 ? &a : &b, i * 777);
    bench_hist_record(&all, i * 777);
  }
  bench_hist_merge(&a, &b);
  cr_assert_eq(a.n, all.n);
  cr_assert_eq(a.min, all.min);
  cr_assert_eq(a.max, all.max);
  for (double p = 0.5; p < 100; p += 3.7)
    cr_assert_eq(bench_hist_percentile(&a, p), bench_hist_percentile(&all, p));
}

Test(hist, empty) {
  bench_hist_init(&h);
  cr_assert_eq(bench_hist_percentile(&h, 50), 0);
  cr_assert_eq(bench_hist_mean(&h), 0);
}
