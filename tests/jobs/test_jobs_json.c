/* SPDX-License-Identifier: MIT */
/* The JSON of a stored result: the string escaper (quotes, backslash,
 * control characters, UTF-8 passthrough, invalid bytes), the result
 * writer, and the parser that reads results back. Pure functions. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/err.h"
#include "jobs_redis_internal.h"

static char out[1024];

static const char *esc(const char *s, size_t n) {
  buf b = BUF_INIT;
  cr_assert_eq(jobs__json_escape(&b, s, n), 0);
  cr_assert_lt(b.len, sizeof out);
  memcpy(out, b.data, b.len);
  out[b.len] = 0;
  buf_free(&b);
  return out;
}

#define ESC(lit) esc(lit, sizeof lit - 1)

Test(jobs_json, plain_and_empty) {
  cr_assert_str_eq(ESC(""), "\"\"");
  cr_assert_str_eq(ESC("hello world"), "\"hello world\"");
  cr_assert_str_eq(ESC("a/b"), "\"a/b\"");
}

Test(jobs_json, quotes_and_backslash) {
  cr_assert_str_eq(ESC("say \"hi\""), "\"say \\\"hi\\\"\"");
  cr_assert_str_eq(ESC("C:\\dir\\"), "\"C:\\\\dir\\\\\"");
  cr_assert_str_eq(ESC("\\\""), "\"\\\\\\\"\"");
}

Test(jobs_json, control_characters) {
  cr_assert_str_eq(ESC("a\nb\tc\rd\be\ff"), "\"a\\nb\\tc\\rd\\be\\ff\"");
  cr_assert_str_eq(ESC("\x01\x1f"), "\"\\u0001\\u001f\"");
  cr_assert_str_eq(ESC("nul\0in"), "\"nul\\u0000in\"");
  cr_assert_str_eq(ESC("del\x7f"), "\"del\x7f\"", "DEL is allowed raw in JSON");
}

Test(jobs_json, utf8_passes_through) {
  cr_assert_str_eq(ESC("h\xc3\xa9llo"), "\"h\xc3\xa9llo\"");
  cr_assert_str_eq(ESC("\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4"),
                   "\"\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4\"");      /* 한국어 */
  cr_assert_str_eq(ESC("\xf0\x9f\x98\x88"), "\"\xf0\x9f\x98\x88\""); /* U+1F608 */
  cr_assert_str_eq(ESC("\xe2\x98\xba\t"), "\"\xe2\x98\xba\\t\"");
}

Test(jobs_json, invalid_utf8_becomes_replacement) {
  cr_assert_str_eq(ESC("a\xff"
                       "b"),
                   "\"a\\ufffdb\"");
  cr_assert_str_eq(ESC("\xc3"), "\"\\ufffd\"", "truncated at the end");
  cr_assert_str_eq(ESC("\xc0\x80"), "\"\\ufffd\\ufffd\"", "overlong NUL");
  cr_assert_str_eq(ESC("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"", "UTF-16 surrogate");
  cr_assert_str_eq(ESC("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
                   "past U+10FFFF");
}

static const char *json_of(const jobs_result *r) {
  buf b = BUF_INIT;
  cr_assert_eq(jobs__result_json(&b, r), 0);
  memcpy(out, b.data, b.len);
  out[b.len] = 0;
  buf_free(&b);
  return out;
}

Test(jobs_json, result_objects) {
  jobs_result ok = {.index = 3, .ok = 1, .text = "Hi \"there\"\n", .confidence = 0.93f};
  cr_assert_str_eq(json_of(&ok),
                   "{\"index\":3,\"ok\":true,\"text\":\"Hi \\\"there\\\"\\n\","
                   "\"confidence\":0.93}");
  jobs_result bad = {.index = 12,
                     .ok = 0,
                     .error_code = "OCR_ERROR",
                     .error_message = "file not found",
                     .error_details = "NOT_FOUND"};
  cr_assert_str_eq(json_of(&bad),
                   "{\"index\":12,\"ok\":false,\"error\":{\"code\":\"OCR_ERROR\","
                   "\"message\":\"file not found\",\"details\":\"NOT_FOUND\"}}");
  jobs_result nulls = {.index = 0, .ok = 1};
  cr_assert_str_eq(json_of(&nulls),
                   "{\"index\":0,\"ok\":true,\"text\":\"\",\"confidence\":0}");
}

Test(jobs_json, round_trip) {
  const char *text = "line1\nq\"uote\\ \x01 h\xc3\xa9 \xf0\x9f\x98\x88";
  jobs_result ok = {.index = 7, .ok = 1, .text = text, .confidence = 0.5f};
  const char *j = json_of(&ok);
  jobs_result r;
  cr_assert_eq(jobs__result_parse(j, strlen(j), &r), 0);
  cr_assert_eq(r.index, 7);
  cr_assert(r.ok);
  cr_assert_str_eq(r.text, text);
  cr_assert_float_eq(r.confidence, 0.5f, 1e-6);
  jobs__result_clear(&r);

  jobs_result bad = {.index = 1,
                     .ok = 0,
                     .error_code = "OCR_ERROR",
                     .error_message = "bad \"bytes\"",
                     .error_details = "DECODE_ERROR"};
  j = json_of(&bad);
  cr_assert_eq(jobs__result_parse(j, strlen(j), &r), 0);
  cr_assert_not(r.ok);
  cr_assert_null(r.text);
  cr_assert_str_eq(r.error_code, "OCR_ERROR");
  cr_assert_str_eq(r.error_message, "bad \"bytes\"");
  cr_assert_str_eq(r.error_details, "DECODE_ERROR");
  jobs__result_clear(&r);
}

Test(jobs_json, parses_other_writers) {
  /* Order, whitespace, \u escapes (with a surrogate pair), unknown members. */
  const char *j = " { \"ok\" : true , \"extra\":[1,{\"x\":null},\"s\"], \"text\":"
                  "\"\\u00e9\\ud83d\\ude08\\/\", \"confidence\":9.3e-1, \"index\":2 } ";
  jobs_result r;
  cr_assert_eq(jobs__result_parse(j, strlen(j), &r), 0);
  cr_assert_eq(r.index, 2);
  cr_assert_str_eq(r.text, "\xc3\xa9\xf0\x9f\x98\x88/");
  cr_assert_float_eq(r.confidence, 0.93f, 1e-6);
  jobs__result_clear(&r);
}

Test(jobs_json, rejects_malformed) {
  const char *bad[] = {
      "",
      "[]",
      "{\"index\":1}",                                /* no ok */
      "{\"ok\":true}",                                /* no index */
      "{\"index\":1,\"ok\":true} x",                  /* trailing junk */
      "{\"index\":1,\"ok\":true,\"text\":\"a\nb\"}",  /* raw newline */
      "{\"index\":1,\"ok\":true,\"text\":\"a\\qb\"}", /* bad escape */
      "{\"index\":1,\"ok\":true,\"text\":\"abc",      /* unterminated */
      "{\"index\":-1,\"ok\":true}",
      "{\"index\":1.5,\"ok\":true}",
      "{\"index\":1,\"ok\":maybe}",
      "{\"index\":1,\"ok\":true,}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    jobs_result r;
    cr_assert_eq(jobs__result_parse(bad[i], strlen(bad[i]), &r), ERR_PARSE, "%s", bad[i]);
    cr_assert_null(r.text);
  }
}
