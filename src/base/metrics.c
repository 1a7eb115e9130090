/* SPDX-License-Identifier: MIT */
/* The metrics registry and its Prometheus text exposition (format 0.0.4):
 * families in registration order, each with HELP and TYPE, then its series
 * in creation order; histograms as cumulative _bucket lines with le, then
 * _sum and _count. Loop thread. */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ocrpc_alloc.h"

const double metrics_default_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                          0.5,   0.75, 1.0,   2.5,  5.0,   7.5, 10.0};
const size_t metrics_default_nbuckets =
    sizeof metrics_default_buckets / sizeof metrics_default_buckets[0];

#define MAX_COLLECTORS 16

struct metric_family {
  metric_type type;
  char *name;
  char *help;
  size_t nlabels;
  char *labels[METRICS_MAX_LABELS];
  double *bounds; /* histograms */
  size_t nbounds;
  metric *series, *series_tail;
  size_t nseries;
  metric *overflow; /* the "other" series past METRICS_MAX_SERIES */
  metric_family *next;
};

struct metrics {
  metric_family *families, *tail;
  struct {
    void (*fn)(void *);
    void *ud;
    void (*release)(void *);
  } collect[MAX_COLLECTORS];
  size_t ncollect;
};

metrics *metrics_new(void) { return ocrpc_calloc(1, sizeof(metrics)); }

static void series_free(metric *s, size_t nlabels) {
  if (!s)
    return;
  for (size_t i = 0; s->_values && i < nlabels; i++)
    free(s->_values[i]);
  free(s->_values);
  free(s->buckets);
  free(s);
}

static void family_free(metric_family *f) {
  for (metric *s = f->series, *next; s; s = next) {
    next = s->_next;
    series_free(s, f->nlabels);
  }
  series_free(f->overflow, f->nlabels);
  for (size_t i = 0; i < f->nlabels; i++)
    free(f->labels[i]);
  free(f->bounds);
  free(f->name);
  free(f->help);
  free(f);
}

void metrics_free(metrics *m) {
  if (!m)
    return;
  for (metric_family *f = m->families, *next; f; f = next) {
    next = f->next;
    family_free(f);
  }
  for (size_t i = 0; i < m->ncollect; i++)
    if (m->collect[i].release)
      m->collect[i].release(m->collect[i].ud);
  free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; label names take no ':' and
 * may not start with "__" (reserved by Prometheus). */
static int valid_name(const char *s, int label) {
  if (!s || !*s || (label && s[0] == '_' && s[1] == '_'))
    return 0;
  for (const char *p = s; *p; p++) {
    char c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
             (!label && c == ':') || (p > s && c >= '0' && c <= '9');
    if (!ok)
      return 0;
  }
  return 1;
}

static metric *series_new(metric_family *f, const char *const *values) {
  metric *s = ocrpc_calloc(1, sizeof *s);
  s->_family = f;
  if (f->nlabels) {
    s->_values = ocrpc_calloc(f->nlabels, sizeof *s->_values);
    for (size_t i = 0; i < f->nlabels; i++)
      s->_values[i] = ocrpc_strdup(values[i] ? values[i] : "");
  }
  if (f->type == METRIC_HISTOGRAM) {
    s->buckets = ocrpc_calloc(f->nbounds + 1, sizeof *s->buckets);
    s->bounds = f->bounds;
    s->nbounds = f->nbounds;
  }
  return s;
}

static void series_link(metric_family *f, metric *s) {
  if (f->series_tail)
    f->series_tail->_next = s;
  else
    f->series = s;
  f->series_tail = s;
  f->nseries++;
}

metric_family *metrics_family(metrics *m, metric_type type, const char *name,
                              const char *help, size_t nlabels, const char *const *labels,
                              const double *buckets, size_t nbuckets) {
  if (!m || !valid_name(name, 0) || nlabels > METRICS_MAX_LABELS)
    return NULL;
  for (metric_family *g = m->families; g; g = g->next)
    if (strcmp(g->name, name) == 0)
      return NULL;
  for (size_t i = 0; i < nlabels; i++)
    if (!valid_name(labels[i], 1) || (type == METRIC_HISTOGRAM && !strcmp(labels[i], "le")))
      return NULL;
  if (type == METRIC_HISTOGRAM && !buckets) {
    buckets = metrics_default_buckets;
    nbuckets = metrics_default_nbuckets;
  }
  for (size_t i = 1; type == METRIC_HISTOGRAM && i < nbuckets; i++)
    if (!(buckets[i] > buckets[i - 1]))
      return NULL;

  metric_family *f = ocrpc_calloc(1, sizeof *f);
  f->type = type;
  f->nlabels = nlabels;
  f->name = ocrpc_strdup(name);
  f->help = ocrpc_strdup(help ? help : "");
  for (size_t i = 0; i < nlabels; i++)
    f->labels[i] = ocrpc_strdup(labels[i]);
  if (type == METRIC_HISTOGRAM) {
    f->nbounds = nbuckets;
    if (nbuckets)
      f->bounds = ocrpc_memdup(buckets, nbuckets * sizeof *f->bounds);
  }
  if (nlabels == 0)
    series_link(f, series_new(f, NULL));
  if (m->tail)
    m->tail->next = f;
  else
    m->families = f;
  m->tail = f;
  return f;
}

metric *metrics_series(metric_family *f, const char *const *values) {
  if (!f)
    return NULL;
  for (metric *s = f->series; s; s = s->_next) {
    size_t i = 0;
    while (i < f->nlabels && strcmp(s->_values[i], values[i] ? values[i] : "") == 0)
      i++;
    if (i == f->nlabels)
      return s;
  }
  if (f->nseries >= METRICS_MAX_SERIES) {
    if (!f->overflow) {
      const char *other[METRICS_MAX_LABELS] = {"other", "other", "other", "other"};
      f->overflow = series_new(f, other);
    }
    return f->overflow;
  }
  metric *s = series_new(f, values);
  series_link(f, s);
  return s;
}

void metric_observe(metric *s, double v) {
  if (!s || !s->buckets)
    return;
  /* Few bounds (the default is 14): a linear scan beats a binary search
   * on short arrays and most observations land in the first buckets. */
  size_t i = 0;
  while (i < s->nbounds && v > s->bounds[i])
    i++;
  s->buckets[i]++;
  s->count++;
  s->sum += v;
}

double metric_value(const metric *s) { return s ? s->value : 0; }

int metrics_on_collect(metrics *m, void (*fn)(void *ud), void *ud,
                       void (*release)(void *ud)) {
  if (m->ncollect == MAX_COLLECTORS)
    return ERR_INVAL;
  m->collect[m->ncollect].fn = fn;
  m->collect[m->ncollect].ud = ud;
  m->collect[m->ncollect].release = release;
  m->ncollect++;
  return 0;
}

/* ---- the text format ---- */

typedef struct out {
  buf *b;
} out;

static void put(out *o, const char *s, size_t n) { buf_append(o->b, s, n); }

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

/* Shortest text that reads back as v (Go's strconv 'g' -1 in spirit):
 * "0.005", "1", "1e+06"; +Inf, -Inf and NaN as Prometheus spells them.
 * tmp holds at least 40 bytes; returns the length. */
static size_t format_double(char *tmp, double v) {
  if (isnan(v))
    return (size_t)sprintf(tmp, "NaN");
  if (isinf(v))
    return (size_t)sprintf(tmp, "%s", v > 0 ? "+Inf" : "-Inf");
  int n = 0;
  for (int prec = 6; prec <= 17; prec++) {
    n = snprintf(tmp, 40, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  return (size_t)n;
}

static void put_double(out *o, double v) {
  char tmp[40];
  put(o, tmp, format_double(tmp, v));
}

static void put_u64(out *o, uint64_t v) {
  char tmp[24];
  int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
  put(o, tmp, (size_t)n);
}

/* HELP text escapes backslash and newline; label values also '"'. */
static void put_escaped(out *o, const char *s, int quote) {
  for (const char *p = s; *p; p++) {
    if (*p == '\\')
      puts_(o, "\\\\");
    else if (*p == '\n')
      puts_(o, "\\n");
    else if (quote && *p == '"')
      puts_(o, "\\\"");
    else
      put(o, p, 1);
  }
}

/* `{a="x",b="y"}`, with an extra le="..." for buckets; nothing when the
 * series has no labels and no le. */
static void put_labels(out *o, const metric_family *f, const metric *s, const char *le) {
  if (f->nlabels == 0 && !le)
    return;
  puts_(o, "{");
  for (size_t i = 0; i < f->nlabels; i++) {
    if (i)
      puts_(o, ",");
    puts_(o, f->labels[i]);
    puts_(o, "=\"");
    put_escaped(o, s->_values[i], 1);
    puts_(o, "\"");
  }
  if (le) {
    if (f->nlabels)
      puts_(o, ",");
    puts_(o, "le=\"");
    puts_(o, le);
    puts_(o, "\"");
  }
  puts_(o, "}");
}

static void put_series(out *o, const metric_family *f, const metric *s) {
  if (f->type != METRIC_HISTOGRAM) {
    puts_(o, f->name);
    put_labels(o, f, s, NULL);
    puts_(o, " ");
    put_double(o, s->value);
    puts_(o, "\n");
    return;
  }
  uint64_t cum = 0;
  for (size_t i = 0; i <= f->nbounds; i++) {
    char le[40];
    if (i < f->nbounds)
      le[format_double(le, f->bounds[i])] = 0;
    else
      strcpy(le, "+Inf");
    cum += s->buckets[i];
    puts_(o, f->name);
    puts_(o, "_bucket");
    put_labels(o, f, s, le);
    puts_(o, " ");
    put_u64(o, cum);
    puts_(o, "\n");
  }
  puts_(o, f->name);
  puts_(o, "_sum");
  put_labels(o, f, s, NULL);
  puts_(o, " ");
  put_double(o, s->sum);
  puts_(o, "\n");
  puts_(o, f->name);
  puts_(o, "_count");
  put_labels(o, f, s, NULL);
  puts_(o, " ");
  put_u64(o, s->count);
  puts_(o, "\n");
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

void metrics_render(metrics *m, buf *b) {
  for (size_t i = 0; i < m->ncollect; i++)
    m->collect[i].fn(m->collect[i].ud);
  out o = {b};
  for (const metric_family *f = m->families; f; f = f->next) {
    puts_(&o, "# HELP ");
    puts_(&o, f->name);
    puts_(&o, " ");
    put_escaped(&o, f->help, 0);
    puts_(&o, "\n# TYPE ");
    puts_(&o, f->name);
    puts_(&o, " ");
    puts_(&o, type_names[f->type]);
    puts_(&o, "\n");
    for (const metric *s = f->series; s; s = s->_next)
      put_series(&o, f, s);
    if (f->overflow)
      put_series(&o, f, f->overflow);
  }
}
