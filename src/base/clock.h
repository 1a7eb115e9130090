/* SPDX-License-Identifier: MIT */
/* The two clocks the code reads: monotonic (durations, deadlines, rates)
 * and wall (timestamps stored or shown). One definition instead of a
 * helper per file; inline because deadlines and per-call timings read the
 * monotonic clock on the hot path. Any thread. */
#ifndef OCRPC_BASE_CLOCK_H
#define OCRPC_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds of CLOCK_MONOTONIC (from an arbitrary start). */
static inline uint64_t clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds of CLOCK_MONOTONIC. */
static inline uint64_t clock_mono_ms(void) { return clock_mono_ns() / 1000000u; }

/* Milliseconds of CLOCK_MONOTONIC with the fraction kept: per-phase
 * timings (decode, layout, recognition) are reported to the microsecond. */
static inline double clock_mono_ms_f(void) { return (double)clock_mono_ns() / 1e6; }

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
static inline int64_t clock_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
