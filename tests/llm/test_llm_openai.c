/* SPDX-License-Identifier: MIT */
/* The OpenAI wire format: the request body, whole completions, streamed
 * chunks with usage, the model's JSON answer (fenced, numbers, nulls), and
 * error bodies. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "llm/llm.h"
#include "llm/llm_backend.h"

Test(llm_openai, request_body) {
  llm_params p = {.model = "m1",
                  .text = "doc \"quoted\"",
                  .text_len = 12,
                  .prompt = "Q?",
                  .temperature = 0.5,
                  .max_tokens = 64,
                  .stream = 1,
                  .json_answer = 0};
  char *body;
  size_t len;
  llm_openai_request(&p, &body, &len);
  cr_assert_eq(strlen(body), len);
  cJSON *j = cJSON_Parse(body);
  cr_assert_not_null(j);
  cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "m1");
  cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
  cr_assert_float_eq(cJSON_GetObjectItem(j, "temperature")->valuedouble, 0.5, 1e-9);
  cr_assert_eq(cJSON_GetObjectItem(j, "max_tokens")->valueint, 64);
  cr_assert_null(cJSON_GetObjectItem(j, "response_format"));
  cJSON *msgs = cJSON_GetObjectItem(j, "messages");
  cr_assert_eq(cJSON_GetArraySize(msgs), 2);
  const char *user =
      cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring;
  cr_assert(strstr(user, "Q?") && strstr(user, "doc \"quoted\""));
  cJSON_Delete(j);
  free(body);

  llm_params q = {
      .model = "m", .text = "t", .text_len = 1, .temperature = -1, .json_answer = 1};
  llm_openai_request(&q, &body, &len);
  j = cJSON_Parse(body);
  cr_assert_null(cJSON_GetObjectItem(j, "temperature"));
  cr_assert_null(cJSON_GetObjectItem(j, "max_tokens"));
  cr_assert_null(cJSON_GetObjectItem(j, "stream"));
  cr_assert_str_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "response_format"), "type")->valuestring,
      "json_object");
  cJSON_Delete(j);
  free(body);
}

Test(llm_openai, completion) {
  const char *b = "{\"model\":\"m\",\"choices\":[{\"message\":{\"role\":\"assistant\","
                  "\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
                  "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}";
  llm_completion c;
  memset(&c, 0, sizeof c);
  llm_completion_clear(&c);
  cr_assert_eq(llm_openai_completion(b, strlen(b), &c), 0);
  cr_assert_str_eq(c.content, "hi");
  cr_assert_str_eq(c.model, "m");
  cr_assert_str_eq(c.finish_reason, "stop");
  cr_assert_eq(c.prompt_tokens, 5);
  cr_assert_eq(c.completion_tokens, 2);
  llm_completion_clear(&c);
  cr_assert_eq(llm_openai_completion("not json", 8, &c), ERR_PARSE);
  cr_assert_eq(llm_openai_completion("{\"choices\":[]}", 14, &c), ERR_PARSE);
  cr_assert_eq(c.prompt_tokens, -1);
  llm_completion_clear(&c);
}

Test(llm_openai, chunks) {
  llm_completion c;
  memset(&c, 0, sizeof c);
  llm_completion_clear(&c);
  char *tok;
  int done;
  const char *d = "{\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}";
  cr_assert_eq(llm_openai_chunk(d, strlen(d), &tok, &done, &c), 0);
  cr_assert_str_eq(tok, "Hel");
  cr_assert_eq(done, 0);
  free(tok);
  const char *role = "{\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}";
  cr_assert_eq(llm_openai_chunk(role, strlen(role), &tok, &done, &c), 0);
  cr_assert_null(tok);
  const char *usage =
      "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":9}}";
  cr_assert_eq(llm_openai_chunk(usage, strlen(usage), &tok, &done, &c), 0);
  cr_assert_eq(c.completion_tokens, 9);
  cr_assert_eq(llm_openai_chunk("[DONE]", 6, &tok, &done, &c), 0);
  cr_assert_eq(done, 1);
  cr_assert_eq(llm_openai_chunk("{oops", 5, &tok, &done, &c), ERR_PARSE);
  llm_completion_clear(&c);
}

Test(llm_openai, answer) {
  const char *a = "```json\n{\"analysis\":\"A receipt\",\"confidence\":1.5,"
                  "\"entities\":{\"date\":\"2024-03-05\",\"items\":3,\"none\":null,"
                  "\"list\":[1,2]}}\n```";
  llm_result r;
  llm_result_init(&r);
  cr_assert_eq(llm_openai_answer(a, strlen(a), &r), 0);
  cr_assert_str_eq(r.analysis, "A receipt");
  cr_assert_float_eq(r.confidence, 1.0f, 1e-6);
  cr_assert_str_eq(llm_result_get(&r, "date"), "2024-03-05");
  cr_assert_str_eq(llm_result_get(&r, "items"), "3");
  cr_assert_str_eq(llm_result_get(&r, "list"), "[1,2]");
  cr_assert_null(llm_result_get(&r, "none"));
  llm_result_clear(&r);
  cr_assert_eq(llm_openai_answer("plain words", 11, &r), ERR_PARSE);
  cr_assert_eq(llm_openai_answer("{\"analysis\":3}", 14, &r), ERR_PARSE);
  llm_result_clear(&r);
}

Test(llm_openai, errors_and_status) {
  const char *e = "{\"error\":{\"message\":\"bad model\",\"type\":\"x\"}}";
  char *m = llm_openai_error_message(e, strlen(e));
  cr_assert_str_eq(m, "bad model");
  free(m);
  cr_assert_null(llm_openai_error_message("<html>", 6));
  cr_assert_eq(llm_status_from_http(500, NULL), LLM_UNAVAILABLE);
  cr_assert_eq(llm_status_from_http(429, NULL), LLM_UNAVAILABLE);
  cr_assert_eq(llm_status_from_http(404, "The model does not exist"), LLM_REJECTED);
  cr_assert_eq(llm_status_from_http(400, "maximum context length is 4096"),
               LLM_CONTEXT_TOO_LONG);
  cr_assert_eq(llm_status_from_http(413, NULL), LLM_CONTEXT_TOO_LONG);
}
