/* SPDX-License-Identifier: MIT */
/* rest_handle over a fake transport that records the answer: routing
 * (404, 405 with Allow), health and readiness, /ocr/extract from JSON, raw
 * bodies and bad input, and batch status from the in-process store. Mock
 * engine, run-at-once executor: every answer comes before rest_handle
 * returns. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "exec_now.h"
#include "rest/rest.h"

static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0,    0,
                              0,    13,  'I', 'H', 'D',  'R',  0,    0,    0x01, 0x41,
                              0,    0,   0,   45,  8,    0,    0,    0,    0,    0,
                              0,    0,   0,   0,   0,    0,    0,    0,    0,    0};

static struct answer {
  int n, status;
  char body[4096];
  char allow[32], retry[8];
} ans;

static int respond(void *conn, int status, const hdr *h, size_t n, const uint8_t *body,
                   size_t len) {
  (void)conn;
  ans.n++;
  ans.status = status;
  snprintf(ans.body, sizeof ans.body, "%.*s", (int)len, (const char *)body);
  for (size_t i = 0; i < n; i++) {
    if (HDR_IS(&h[i], "allow"))
      snprintf(ans.allow, sizeof ans.allow, "%.*s", (int)h[i].value_len, h[i].value);
    if (HDR_IS(&h[i], "retry-after"))
      snprintf(ans.retry, sizeof ans.retry, "%.*s", (int)h[i].value_len, h[i].value);
  }
  return 0;
}

static const rest_transport tr = {.respond = respond};

static exec ex = EXEC_NOW_INIT;

static config cfg;
static ocr_engine *engine;
static jobs_store *jobs;
static app a;
static rest_server *rs;
static int store_up_value = 1;
static int store_up(void *ud) {
  (void)ud;
  return store_up_value;
}

static void setup(void) {
  char *args[] = {"t", "--engine=mock", "--image-root=/tmp", NULL};
  char *env[] = {NULL};
  char err[128];
  cr_assert_eq(config_load(&cfg, 3, args, env, stderr, err, sizeof err), 0);
  ocr_config oc = {.kind = OCR_KIND_MOCK, .image_root = "/tmp", .default_language = "eng"};
  cr_assert_eq(ocr_engine_new(&oc, &engine), 0);
  ocr_quiet();
  cr_assert_eq(jobs_memory_new(3600 * 1000, &jobs), 0);
  app_init(&a, &cfg, engine, &ex);
  a.jobs = jobs;
  rs = rest_server_new(&cfg, &a, &tr);
  memset(&ans, 0, sizeof ans);
}

static void teardown(void) {
  cr_assert_eq(rest_server_busy(rs), 0);
  rest_server_free(rs);
  jobs_free(jobs);
  ocr_engine_free(engine);
}

TestSuite(rest, .init = setup, .fini = teardown);

static void call(const char *method, const char *path, const char *query, const char *ctype,
                 const void *body, size_t len) {
  hdr h = hdr_make("content-type", ctype ? ctype : "", ctype ? strlen(ctype) : 0);
  rest_request r = {method, path, query ? query : "", &h, ctype ? 1 : 0, body, len};
  int before = ans.n;
  cr_assert_null(rest_handle(rs, &ans, &r), "answered at once");
  cr_assert_eq(ans.n, before + 1, "exactly one answer (%d after %d) %s", ans.n, before,
               path);
}

static void json(const char *body) {
  call("POST", "/ocr/extract", NULL, "application/json", body, strlen(body));
}

Test(rest, unknown_path_and_wrong_method) {
  call("GET", "/nope", NULL, NULL, NULL, 0);
  cr_assert_eq(ans.status, 404);
  cr_assert_str_eq(ans.body, "{\"detail\":\"Not Found\"}");
  call("GET", "/ocr/extract", NULL, NULL, NULL, 0);
  cr_assert_eq(ans.status, 405);
  cr_assert_str_eq(ans.allow, "POST");
  call("GET", "/v1/batches/a/b", NULL, NULL, NULL, 0);
  cr_assert_eq(ans.status, 404, "one path segment only");
}

Test(rest, health_and_readiness) {
  call("GET", "/healthy", NULL, NULL, NULL, 0);
  cr_assert_eq(ans.status, 200);
  cr_assert_not_null(strstr(ans.body, "\"healthy\""));
  call("HEAD", "/healthz", NULL, NULL, NULL, 0);
  cr_assert_eq(ans.status, 200);
  rest_server_set_store_probe(rs, store_up, NULL);
  call("GET", "/readyz", NULL, NULL, NULL, 0);
  cr_assert_eq(ans.status, 200);
  store_up_value = 0;
  rest_server_drain(rs);
  call("GET", "/readyz", NULL, NULL, NULL, 0);
  store_up_value = 1;
  cr_assert_eq(ans.status, 503);
  cr_assert_not_null(strstr(ans.body, "draining"), "%s", ans.body);
  cr_assert_not_null(strstr(ans.body, "Redis"), "%s", ans.body);
  json("{\"image_base64\": \"iVBORw0KGgo=\"}");
  cr_assert_eq(ans.status, 503);
  cr_assert_str_eq(ans.retry, "1");
}

Test(rest, extract_from_json_and_raw) {
  /* The mock engine answers without reading paths; with the result cache
   * the path is read (and refused) first. */
  a.cache_on = 1;
  json("{\"public_image_path\": \"ocrpc-rest-test-none.png\"}");
  cr_assert_eq(ans.status, 404, "%s", ans.body);
  cr_assert_not_null(strstr(ans.body, "\"details\":\"NOT_FOUND\""), "%s", ans.body);
  json("{\"private_image_path\": \"../etc/passwd\"}");
  cr_assert_eq(ans.status, 403, "%s", ans.body);
  call("POST", "/ocr/extract", "language=eng&psm=6&use_angle_cls=true", "image/png", png,
       sizeof png);
  cr_assert_eq(ans.status, 200, "%s", ans.body);
  cr_assert_not_null(strstr(ans.body, "\"status\":\"success\""), "%s", ans.body);
  cr_assert_not_null(strstr(ans.body, "\"text\":\"mock text\""), "%s", ans.body);
  cr_assert_not_null(strstr(ans.body, "\"text_boxes\":["), "%s", ans.body);
}

Test(rest, bad_input) {
  json("{\"private_image_path\": ");
  cr_assert_eq(ans.status, 400);
  cr_assert_not_null(strstr(ans.body, "at byte"), "%s", ans.body);
  json("{}");
  cr_assert_eq(ans.status, 422);
  json("{\"private_image_path\": \"a.png\", \"use_angle_cls\": 3}");
  cr_assert_eq(ans.status, 422);
  cr_assert_not_null(strstr(ans.body, "use_angle_cls"), "%s", ans.body);
  json("{\"image_base64\": \"***\"}");
  cr_assert_eq(ans.status, 422);
  call("POST", "/ocr/extract", "confidence_threshold=2", "image/png", png, sizeof png);
  cr_assert_eq(ans.status, 422);
  call("POST", "/ocr/extract", "cache&language", "image/png", png, sizeof png);
  cr_assert_eq(ans.status, 200, "keys without values: %s", ans.body);
  call("POST", "/ocr/extract", "psm=x", "image/png", png, sizeof png);
  cr_assert_eq(ans.status, 422, "an unparsable psm is refused: %s", ans.body);
  call("POST", "/ocr/extract", NULL, "image/png", NULL, 0);
  cr_assert_eq(ans.status, 422, "empty body");
  call("POST", "/ocr/extract", NULL, "text/plain", "x", 1);
  cr_assert_eq(ans.status, 415);
}

Test(rest, batch_status) {
  call("GET", "/v1/batches/none", NULL, NULL, NULL, 0);
  cr_assert_eq(ans.status, 404);
  jobs_create(jobs, "b1", 2);
  jobs_result ok = {.index = 0, .ok = 1, .text = "hello", .confidence = 0.5f};
  jobs_put_result(jobs, "b1", &ok, 1, 0);
  jobs_result bad = {.index = 1,
                     .error_code = "OCR_ERROR",
                     .error_message = "gone",
                     .error_details = "NOT_FOUND"};
  jobs_put_result(jobs, "b1", &bad, 2, 1);
  jobs_finish(jobs, "b1", JOBS_SUCCESS, 2, 1);
  call("GET", "/v1/batches/b1", NULL, NULL, NULL, 0);
  cr_assert_eq(ans.status, 200);
  cr_assert_not_null(strstr(ans.body, "\"state\":\"SUCCESS\""), "%s", ans.body);
  cr_assert_not_null(strstr(ans.body, "\"failed_images\":1"), "%s", ans.body);
  cr_assert_not_null(strstr(ans.body, "\"text\":\"hello\""), "%s", ans.body);
  cr_assert_not_null(strstr(ans.body, "\"details\":\"NOT_FOUND\""), "%s", ans.body);
}
