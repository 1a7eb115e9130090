/* SPDX-License-Identifier: MIT */
/* The access log's lines as an operator reads them (text and JSON, info
 * and warn, client-chosen values quoted and escaped), its buffering (no
 * write until a flush), the level and on/off switches, and generated
 * request ids. stderr is redirected to a temporary file per test. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/access_log.h"
#include "base/log.h"

static FILE *capture;

static void redirect(void) {
  capture = tmpfile();
  cr_assert_not_null(capture);
  cr_assert_geq(dup2(fileno(capture), STDERR_FILENO), 0);
}

/* What was written to stderr so far (caller frees). */
static char *captured(void) {
  fflush(capture);
  long n = lseek(fileno(capture), 0, SEEK_END);
  char *s = calloc(1, (size_t)n + 1);
  cr_assert_eq(pread(fileno(capture), s, (size_t)n, 0), n);
  return s;
}

TestSuite(access_log, .init = redirect);

static access_entry ok_entry(void) {
  access_entry e = {
      .protocol = "grpc",
      .peer = "127.0.0.1:5000",
      .method = "/ocr.OCRService/ExtractText",
      .status = 0,
      .status_name = "OK",
      .ocr_status = "SUCCESS",
      .queue_ms = 0.0125,
      .ocr_ms = 41.3,
      .bytes_in = 27,
      .bytes_out = 222,
      .duration_ms = 41.47,
      .request_id = "run-7",
  };
  return e;
}

Test(access_log, text_line_after_a_flush_only) {
  access_entry e = ok_entry();
  access_log_write(&e);
  char *s = captured();
  cr_assert_str_eq(s, "", "buffered: nothing written before the flush");
  free(s);
  access_log_flush();
  s = captured();
  const char *tail =
      " info  access protocol=grpc peer=127.0.0.1:5000 method=/ocr.OCRService/ExtractText "
      "status=OK grpc_code=0 ocr_status=SUCCESS details=- queue_ms=0.013 ocr_ms=41.300 "
      "bytes_in=27 bytes_out=222 duration_ms=41.470 request_id=run-7\n";
  cr_assert(strlen(s) > strlen(tail) && strcmp(s + strlen(s) - strlen(tail), tail) == 0,
            "line: %s", s);
  cr_assert_eq(s[23], 'Z', "ISO 8601 time with milliseconds first: %s", s);
  free(s);
}

Test(access_log, failure_at_warn_with_quoted_values) {
  access_entry e = ok_entry();
  e.status = 14;
  e.status_name = "UNAVAILABLE";
  e.ocr_status = NULL;
  e.queue_ms = e.ocr_ms = -1;
  e.message = "the server is \"shutting\" down";
  e.request_id = "id with space";
  e.failed = 1;
  access_log_write(&e);
  access_log_flush();
  char *s = captured();
  cr_assert(strstr(s, "Z warn  access "), "%s", s);
  cr_assert(strstr(s, " status=UNAVAILABLE grpc_code=14 ocr_status=- details=- queue_ms=- "
                      "ocr_ms=- "),
            "%s", s);
  cr_assert(strstr(s, " request_id=\"id with space\" message=\"the server is "
                      "\\\"shutting\\\" down\"\n"),
            "%s", s);
  free(s);
}

Test(access_log, http_line_has_route_and_no_grpc_code) {
  access_entry e = ok_entry();
  e.protocol = "http";
  e.method = "POST";
  e.route = "/ocr/extract";
  e.status = 404;
  e.status_name = NULL;
  e.ocr_status = "FAILURE";
  e.details = "NOT_FOUND";
  e.failed = 1;
  access_log_write(&e);
  access_log_flush();
  char *s = captured();
  cr_assert(strstr(s, " method=POST route=/ocr/extract status=404 ocr_status=FAILURE "
                      "details=NOT_FOUND "),
            "%s", s);
  cr_assert_null(strstr(s, "grpc_code"), "%s", s);
  free(s);
}

Test(access_log, json_line) {
  log_set_format(LOG_FORMAT_JSON);
  access_entry e = ok_entry();
  e.request_id = "a\"b\\c\n";
  access_log_write(&e);
  access_log_flush();
  char *s = captured();
  cr_assert(strncmp(s, "{\"time\":\"", 9) == 0, "%s", s);
  cr_assert(strstr(s,
                   "\",\"level\":\"info\",\"msg\":\"access\",\"protocol\":\"grpc\","
                   "\"peer\":\"127.0.0.1:5000\",\"method\":\"/ocr.OCRService/ExtractText\","
                   "\"status\":\"OK\",\"grpc_code\":0,\"ocr_status\":\"SUCCESS\","
                   "\"details\":null,\"queue_ms\":0.013,\"ocr_ms\":41.300,\"bytes_in\":27,"
                   "\"bytes_out\":222,\"duration_ms\":41.470,"
                   "\"request_id\":\"a\\\"b\\\\c\\n\",\"message\":null}\n"),
            "%s", s);
  free(s);
}

Test(access_log, level_and_switch) {
  access_entry e = ok_entry();
  log_set_level(LOG_WARN);
  access_log_write(&e); /* info: below the level */
  e.failed = 1;
  access_log_enable(0);
  access_log_write(&e); /* off */
  access_log_flush();
  char *s = captured();
  cr_assert_str_eq(s, "");
  free(s);
  access_log_enable(1);
  access_log_write(&e); /* warn, on */
  access_log_flush();
  s = captured();
  cr_assert(strstr(s, " warn  access "), "%s", s);
  free(s);
  cr_assert_eq(access_log_parse("on"), 1);
  cr_assert_eq(access_log_parse("off"), 0);
  cr_assert_eq(access_log_parse("yes"), -1);
}

Test(access_log, many_lines_are_written_in_few_writes) {
  /* The buffer holds hundreds of lines: every one arrives, in order. */
  access_entry e = ok_entry();
  char id[16];
  e.request_id = id;
  for (int i = 0; i < 2000; i++) {
    snprintf(id, sizeof id, "r%d", i);
    access_log_write(&e);
  }
  access_log_flush();
  char *s = captured();
  int n = 0;
  for (char *p = s; (p = strstr(p, " request_id=r")); p++) {
    cr_assert_eq(atoi(p + 13), n, "line %d out of order", n);
    n++;
  }
  cr_assert_eq(n, 2000);
  free(s);
}

Test(access_log, generated_ids_are_uuid4_in_base64url) {
  static char ids[1000][ACCESS_LOG_ID_LEN + 1];
  for (int i = 0; i < 1000; i++) {
    access_log_new_id(ids[i]);
    cr_assert_eq(strlen(ids[i]), ACCESS_LOG_ID_LEN);
    cr_assert_eq(strspn(ids[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_"),
                 ACCESS_LOG_ID_LEN, "%s", ids[i]);
    /* Byte 6 holds the version (0x4_): characters 8 and 9 carry bits
     * 48..59; the high nibble of byte 6 is bits 48..51 = the top 4 bits
     * of character 8's 6. */
    const char *b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int c8 = (int)(strchr(b64, ids[i][8]) - b64);
    cr_assert_eq(c8 >> 2, 4, "version 4 in %s", ids[i]);
    for (int j = 0; j < i; j++)
      cr_assert_str_neq(ids[i], ids[j]);
  }
}
