/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the readers of what an OpenAI-compatible backend
 * sends (llm_openai.c over cJSON): a whole chat completion, a streamed
 * chunk, the model's JSON answer and an error body, each on the same
 * bytes. Any input must parse or fail cleanly, never crash or leak, and
 * what a reader returns must be NUL-terminated strings. Single thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm.h"
#include "llm/llm_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  llm_completion c;
  memset(&c, 0, sizeof c);
  llm_completion_clear(&c);
  if (llm_openai_completion(in, size, &c) == 0 && c.content)
    (void)strlen(c.content);
  llm_completion_clear(&c);

  char *tok = NULL;
  int done = 0;
  if (llm_openai_chunk(in, size, &tok, &done, &c) == 0 && tok)
    (void)strlen(tok);
  free(tok);
  llm_completion_clear(&c);

  llm_result r;
  llm_result_init(&r);
  if (llm_openai_answer(in, size, &r) == 0) {
    for (size_t i = 0; i < r.nentities; i++)
      llm_mask_private(r.entities[i].value);
    llm_mask_private(r.analysis);
  }
  llm_result_clear(&r);

  char *m = llm_openai_error_message(in, size);
  if (m)
    (void)llm_status_from_http(400, m);
  free(m);
  return 0;
}
