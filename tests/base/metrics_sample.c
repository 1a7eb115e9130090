/* SPDX-License-Identifier: MIT */
/* Prints a registry with every kind of family (labelled and not, custom and
 * default buckets, escaped values, the process collector) to stdout, for
 * `promtool check metrics` in test_metrics_promtool: the text format is
 * checked by Prometheus' own parser and linter, not only by our asserts. */
#include <stdio.h>

#include "base/metrics.h"

int main(void) {
  metrics *m = metrics_new();
  if (metrics_process_register(m))
    return 1;
  const char *ms[] = {"method", "status"};
  metric_family *c = metrics_family(m, METRIC_COUNTER, "grpc_requests_total",
                                    "Total gRPC requests", 2, ms, NULL, 0);
  metric_inc(metrics_series(c, (const char *[]){"/ocr.OCRService/ExtractText", "OK"}));
  metric_inc(metrics_series(c, (const char *[]){"/a\"b\\c\nd", "UNIMPLEMENTED"}));
  const char *mm[] = {"method"};
  metric_family *h = metrics_family(m, METRIC_HISTOGRAM, "grpc_request_duration_seconds",
                                    "gRPC request duration", 1, mm, NULL, 0);
  metric_observe(metrics_series(h, (const char *[]){"/ocr.OCRService/ExtractText"}), 0.02);
  const double b[] = {0.0001, 0.001, 1};
  metric_family *q = metrics_family(m, METRIC_HISTOGRAM, "ocr_queue_wait_seconds",
                                    "Time waiting\nfor a worker", 0, NULL, b, 3);
  metric_observe(metrics_series(q, NULL), 5);
  metric_family *g =
      metrics_family(m, METRIC_GAUGE, "ocr_queue_depth", "Jobs waiting", 0, NULL, NULL, 0);
  metric_set(metrics_series(g, NULL), 3);
  buf out = BUF_INIT;
  metrics_render(m, &out);
  fwrite(out.data, 1, out.len, stdout);
  buf_free(&out);
  metrics_free(m);
  return 0;
}
