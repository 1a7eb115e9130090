/* SPDX-License-Identifier: MIT */
/* The metrics registry: counters, gauges and histograms with labels, and
 * their Prometheus text exposition (format 0.0.4, HELP and TYPE for each
 * family). One registry per server, owned by the loop thread: series are
 * plain numbers updated without locks or atomics, so the hot path costs an
 * add (a counter) or a bucket search (a histogram) on a series the caller
 * looked up once. Loop thread only, every function. */
#ifndef OCRPC_BASE_METRICS_H
#define OCRPC_BASE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct metrics metrics;
typedef struct metric_family metric_family;
typedef struct metric metric; /* one series: a family and its label values */

typedef enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;

/* Labels per family, and series per family. Past the series cap every new
 * combination of label values is counted in one series whose values are all
 * "other", so label values a client chooses cannot grow memory without
 * bound. */
#define METRICS_MAX_LABELS 4
#define METRICS_MAX_SERIES 512

/* Prometheus client libraries' default histogram buckets (seconds), the
 * ones the guide's prometheus_client Histogram uses. */
extern const double metrics_default_buckets[];
extern const size_t metrics_default_nbuckets;

/* Creates an empty registry (free with metrics_free). Never NULL: out of
 * memory aborts (base/ocrpc_alloc.h). */
metrics *metrics_new(void);

/* Frees the registry, its families and series (every metric pointer handed
 * out dies with it). NULL is a no-op. */
void metrics_free(metrics *m);

/* Registers a family. name and help are copied; `labels` (nlabels names,
 * at most METRICS_MAX_LABELS) too. For histograms, `buckets` are the
 * nbuckets upper bounds in increasing order (copied; +Inf is implied);
 * NULL means metrics_default_buckets. A family without labels has its one
 * series from the start, so it is exposed (as 0) before any update.
 * Returns the family (owned by the registry), or NULL for a
 * name or label name that is not a valid Prometheus name, too many labels,
 * a duplicate family name, or unordered buckets. */
metric_family *metrics_family(metrics *m, metric_type type, const char *name,
                              const char *help, size_t nlabels, const char *const *labels,
                              const double *buckets, size_t nbuckets);

/* The series of f with these label values (f's nlabels strings, copied on
 * first use; any bytes, escaped on output), created at 0 when new. Look a
 * series up once and keep the pointer where the values are fixed. Returns
 * NULL when f is NULL; every update below ignores NULL. */
metric *metrics_series(metric_family *f, const char *const *values);

/* Counters and gauges. A counter is only ever increased (v >= 0). */
static inline void metric_inc(metric *s);
static inline void metric_add(metric *s, double v);
/* Gauges (and counters mirrored from another count, e.g. CPU seconds). */
static inline void metric_set(metric *s, double v);
/* Histograms: counts v in the first bucket whose bound is >= v. */
void metric_observe(metric *s, double v);

/* The current value of a counter or gauge (for tests); 0 for NULL. */
double metric_value(const metric *s);

/* Registers fn(ud) to run at the start of every metrics_render, to set
 * gauges that are read rather than counted (process memory, queue depth).
 * ud is borrowed; when release is not NULL, metrics_free calls
 * release(ud). At most 16. Returns 0 or ERR_INVAL (16 already: nothing registered,
 * release not called). */
int metrics_on_collect(metrics *m, void (*fn)(void *ud), void *ud,
                       void (*release)(void *ud));

/* Appends the exposition of every family, in registration order, to out
 * (Content-Type: text/plain; version=0.0.4). */
void metrics_render(metrics *m, buf *out);

/* Registers the process_* families Prometheus client libraries export
 * (process_cpu_seconds_total, process_open_fds, process_max_fds,
 * process_virtual_memory_bytes, process_resident_memory_bytes,
 * process_start_time_seconds), read from /proc at each render. Returns 0,
 * or ERR_INVAL when a family of these names exists or the registry already
 * has its 16 collectors. */
int metrics_process_register(metrics *m);

/* ---- the series layout, for the inline updates only ---- */
struct metric {
  double value; /* counter, gauge */
  double sum;   /* histogram */
  uint64_t count;
  uint64_t *buckets; /* histogram: per-bucket (not cumulative) counts */
  const double *bounds;
  size_t nbounds;
  metric_family *_family;
  char **_values;
  metric *_next;
};

static inline void metric_inc(metric *s) {
  if (s)
    s->value += 1.0;
}
static inline void metric_add(metric *s, double v) {
  if (s)
    s->value += v;
}
static inline void metric_set(metric *s, double v) {
  if (s)
    s->value = v;
}

#endif
