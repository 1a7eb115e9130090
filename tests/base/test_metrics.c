/* SPDX-License-Identifier: MIT */
/* The metrics registry and its Prometheus text: exact exposition of each
 * type, label escaping, the series cap, bad names refused, the process_*
 * collector. The same text passes `promtool check metrics` in
 * test_metrics_promtool (tests/base/CMakeLists.txt). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/metrics.h"

static char *render(metrics *m) {
  buf b = BUF_INIT;
  metrics_render(m, &b);
  buf_append(&b, "", 1);
  return (char *)b.data;
}

Test(metrics, counter_with_labels) {
  metrics *m;
  m = metrics_new();
  const char *labels[] = {"method", "status"};
  metric_family *f = metrics_family(m, METRIC_COUNTER, "grpc_requests_total",
                                    "Total gRPC requests", 2, labels, NULL, 0);
  cr_assert_not_null(f);
  metric *ok = metrics_series(f, (const char *[]){"/ocr.OCRService/ExtractText", "OK"});
  metric_inc(ok);
  metric_inc(ok);
  metric_inc(
      metrics_series(f, (const char *[]){"/ocr.OCRService/ExtractText", "UNAVAILABLE"}));
  cr_assert_eq(metrics_series(f, (const char *[]){"/ocr.OCRService/ExtractText", "OK"}), ok,
               "the same values find the same series");
  char *t = render(m);
  cr_assert_str_eq(
      t, "# HELP grpc_requests_total Total gRPC requests\n"
         "# TYPE grpc_requests_total counter\n"
         "grpc_requests_total{method=\"/ocr.OCRService/ExtractText\",status=\"OK\"} 2\n"
         "grpc_requests_total{method=\"/ocr.OCRService/ExtractText\","
         "status=\"UNAVAILABLE\"} 1\n");
  free(t);
  metrics_free(m);
}

Test(metrics, unlabelled_gauge_is_exposed_before_any_update) {
  metrics *m;
  m = metrics_new();
  metric_family *f =
      metrics_family(m, METRIC_GAUGE, "ocr_queue_depth", "Jobs waiting", 0, NULL, NULL, 0);
  char *t = render(m);
  cr_assert_str_eq(t, "# HELP ocr_queue_depth Jobs waiting\n"
                      "# TYPE ocr_queue_depth gauge\n"
                      "ocr_queue_depth 0\n");
  free(t);
  metric *g = metrics_series(f, NULL);
  metric_set(g, 3);
  metric_add(g, -1);
  metric_add(g, 0.5);
  cr_assert_eq(metric_value(g), 2.5);
  t = render(m);
  cr_assert(strstr(t, "\nocr_queue_depth 2.5\n"), "%s", t);
  free(t);
  metrics_free(m);
}

Test(metrics, histogram_buckets_are_cumulative_with_sum_and_count) {
  metrics *m;
  m = metrics_new();
  const char *labels[] = {"method"};
  const double bounds[] = {0.001, 0.01, 0.1};
  metric_family *f = metrics_family(m, METRIC_HISTOGRAM, "grpc_request_duration_seconds",
                                    "gRPC request duration", 1, labels, bounds, 3);
  metric *s = metrics_series(f, (const char *[]){"/x.Y/Z"});
  metric_observe(s, 0.0005);
  metric_observe(s, 0.001); /* on the bound: le is "less or equal" */
  metric_observe(s, 0.05);
  metric_observe(s, 7);
  char *t = render(m);
  cr_assert_str_eq(
      t, "# HELP grpc_request_duration_seconds gRPC request duration\n"
         "# TYPE grpc_request_duration_seconds histogram\n"
         "grpc_request_duration_seconds_bucket{method=\"/x.Y/Z\",le=\"0.001\"} 2\n"
         "grpc_request_duration_seconds_bucket{method=\"/x.Y/Z\",le=\"0.01\"} 2\n"
         "grpc_request_duration_seconds_bucket{method=\"/x.Y/Z\",le=\"0.1\"} 3\n"
         "grpc_request_duration_seconds_bucket{method=\"/x.Y/Z\",le=\"+Inf\"} 4\n"
         "grpc_request_duration_seconds_sum{method=\"/x.Y/Z\"} 7.0515\n"
         "grpc_request_duration_seconds_count{method=\"/x.Y/Z\"} 4\n");
  free(t);
  metrics_free(m);
}

Test(metrics, default_buckets_are_the_client_libraries) {
  metrics *m;
  m = metrics_new();
  metric_family *f =
      metrics_family(m, METRIC_HISTOGRAM, "ocr_recognition_seconds", "h", 0, NULL, NULL, 0);
  metric_observe(metrics_series(f, NULL), 0.3);
  char *t = render(m);
  cr_assert(strstr(t, "ocr_recognition_seconds_bucket{le=\"0.005\"} 0\n"), "%s", t);
  cr_assert(strstr(t, "ocr_recognition_seconds_bucket{le=\"0.25\"} 0\n"), "%s", t);
  cr_assert(strstr(t, "ocr_recognition_seconds_bucket{le=\"0.5\"} 1\n"), "%s", t);
  cr_assert(strstr(t, "ocr_recognition_seconds_bucket{le=\"10\"} 1\n"), "%s", t);
  cr_assert(strstr(t, "ocr_recognition_seconds_bucket{le=\"+Inf\"} 1\n"), "%s", t);
  cr_assert(strstr(t, "ocr_recognition_seconds_sum 0.3\n"), "%s", t);
  free(t);
  metrics_free(m);
}

Test(metrics, label_values_and_help_are_escaped) {
  metrics *m;
  m = metrics_new();
  const char *labels[] = {"route"};
  metric_family *f = metrics_family(m, METRIC_COUNTER, "http_requests_total",
                                    "Line one\nback\\slash \"quoted\"", 1, labels, NULL, 0);
  metric_inc(metrics_series(f, (const char *[]){"a\"b\\c\nd"}));
  char *t = render(m);
  cr_assert_str_eq(t, "# HELP http_requests_total Line one\\nback\\\\slash \"quoted\"\n"
                      "# TYPE http_requests_total counter\n"
                      "http_requests_total{route=\"a\\\"b\\\\c\\nd\"} 1\n");
  free(t);
  metrics_free(m);
}

Test(metrics, series_past_the_cap_share_one_other_series) {
  metrics *m;
  m = metrics_new();
  const char *labels[] = {"language"};
  metric_family *f = metrics_family(m, METRIC_COUNTER, "c_total", "h", 1, labels, NULL, 0);
  char v[32];
  for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
    snprintf(v, sizeof v, "lang%d", i);
    metric_inc(metrics_series(f, (const char *[]){v}));
  }
  metric *other = metrics_series(f, (const char *[]){"another"});
  cr_assert_eq(metric_value(other), 10);
  char *t = render(m);
  cr_assert(strstr(t, "c_total{language=\"other\"} 10\n"), "the overflow series is shown");
  cr_assert(strstr(t, "c_total{language=\"lang0\"} 1\n"));
  free(t);
  metrics_free(m);
}

Test(metrics, bad_names_and_duplicates_are_refused) {
  metrics *m;
  m = metrics_new();
  cr_assert_null(
      metrics_family(m, METRIC_COUNTER, "9starts_with_digit", "h", 0, NULL, NULL, 0));
  cr_assert_null(metrics_family(m, METRIC_COUNTER, "has-dash", "h", 0, NULL, NULL, 0));
  cr_assert_null(metrics_family(m, METRIC_COUNTER, "", "h", 0, NULL, NULL, 0));
  const char *reserved[] = {"__name"};
  cr_assert_null(metrics_family(m, METRIC_COUNTER, "a", "h", 1, reserved, NULL, 0));
  const char *le[] = {"le"};
  cr_assert_null(metrics_family(m, METRIC_HISTOGRAM, "h", "h", 1, le, NULL, 0));
  const double unordered[] = {1, 0.5};
  cr_assert_null(metrics_family(m, METRIC_HISTOGRAM, "h", "h", 0, NULL, unordered, 2));
  const char *five[] = {"a", "b", "c", "d", "e"};
  cr_assert_null(metrics_family(m, METRIC_COUNTER, "x", "h", 5, five, NULL, 0));
  cr_assert_not_null(
      metrics_family(m, METRIC_COUNTER, "ns:x_total", "h", 0, NULL, NULL, 0));
  cr_assert_null(metrics_family(m, METRIC_GAUGE, "ns:x_total", "h", 0, NULL, NULL, 0),
                 "a family name is registered once");
  /* Updates through a refused family are no-ops, not crashes. */
  metric_inc(metrics_series(NULL, NULL));
  metric_observe(NULL, 1);
  metrics_free(m);
}

Test(metrics, numbers_use_the_shortest_exact_form) {
  metrics *m;
  m = metrics_new();
  metric *a =
      metrics_series(metrics_family(m, METRIC_GAUGE, "a", "h", 0, NULL, NULL, 0), NULL);
  metric *b =
      metrics_series(metrics_family(m, METRIC_GAUGE, "b", "h", 0, NULL, NULL, 0), NULL);
  metric *c =
      metrics_series(metrics_family(m, METRIC_GAUGE, "c", "h", 0, NULL, NULL, 0), NULL);
  metric *d =
      metrics_series(metrics_family(m, METRIC_GAUGE, "d", "h", 0, NULL, NULL, 0), NULL);
  metric_set(a, 0.1);
  metric_set(b, 1e15);
  metric_set(c, -1.0 / 0.0);
  metric_set(d, 123456789012.0);
  char *t = render(m);
  cr_assert(strstr(t, "\na 0.1\n"), "%s", t);
  cr_assert(strstr(t, "\nb 1e+15\n"), "%s", t);
  cr_assert(strstr(t, "\nc -Inf\n"), "%s", t);
  cr_assert(strstr(t, "\nd 123456789012\n"), "%s", t);
  free(t);
  metrics_free(m);
}

static int collected;
static void on_collect(void *ud) {
  collected++;
  metric_set(ud, collected);
}

Test(metrics, collectors_run_before_each_render) {
  metrics *m;
  m = metrics_new();
  metric *g =
      metrics_series(metrics_family(m, METRIC_GAUGE, "g", "h", 0, NULL, NULL, 0), NULL);
  cr_assert_eq(metrics_on_collect(m, on_collect, g, NULL), 0);
  free(render(m));
  char *t = render(m);
  cr_assert(strstr(t, "\ng 2\n"), "%s", t);
  free(t);
  metrics_free(m);
}

Test(metrics, process_metrics_read_this_process) {
  metrics *m;
  m = metrics_new();
  cr_assert_eq(metrics_process_register(m), 0);
  char *t = render(m);
  const char *names[] = {"process_cpu_seconds_total ",
                         "process_open_fds ",
                         "process_max_fds ",
                         "process_virtual_memory_bytes ",
                         "process_resident_memory_bytes ",
                         "process_start_time_seconds "};
  for (size_t i = 0; i < 6; i++) {
    const char *line = NULL; /* the sample line, not HELP or TYPE */
    for (char *q = t; (q = strstr(q, names[i])); q++)
      if (q == t || q[-1] == '\n')
        line = q;
    cr_assert_not_null(line, "%s missing in\n%s", names[i], t);
    double v = strtod(line + strlen(names[i]), NULL);
    /* CPU time counts in clock ticks: a fresh test process may have none. */
    if (i == 0)
      cr_assert_geq(v, 0, "%s is %g", names[i], v);
    else
      cr_assert_gt(v, 0, "%s is %g", names[i], v);
  }
  free(t);
  metrics_free(m);
}
