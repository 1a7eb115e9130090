/* SPDX-License-Identifier: MIT */
/* Text analysis for llm.LLMService, free of I/O: the built-in `rules`
 * engine (entity extraction with privacy masking), the server-sent events
 * parser and the OpenAI chat-completions request builder and response
 * readers. The backend's HTTP goes through llm_http (llm_backend.h), which
 * the loop hands in. Any thread for the pure functions here. */
#ifndef OCRPC_LLM_H
#define OCRPC_LLM_H

#include <stddef.h>
#include <stdint.h>

/* One key/value pair (an entity or a metadata entry); both owned. */
typedef struct llm_kv {
  char *key;
  char *value;
} llm_kv;

/* An analysis. Every string is owned; llm_result_clear frees them. */
typedef struct llm_result {
  char *analysis;
  float confidence; /* 0..1 */
  llm_kv *entities;
  size_t nentities, _cap;
  llm_kv *meta; /* response metadata (engine, model, token counts, ...) */
  size_t nmeta, _metacap;
} llm_result;

void llm_result_init(llm_result *r);
void llm_result_clear(llm_result *r);

/* Adds a key/value pair (copied) to the entities or the metadata.
 * Returns 0 (out of memory aborts). */
int llm_result_entity(llm_result *r, const char *key, const char *value);
int llm_result_meta(llm_result *r, const char *key, const char *value);
/* The entity named key, or NULL. */
const char *llm_result_get(const llm_result *r, const char *key);

/* ---- rules engine (llm_rules.c) ----
 * Finds dates (as ISO 8601), money amounts, phone numbers, e-mail
 * addresses, URLs, Korean business registration numbers (check digit
 * verified) and Korean resident registration numbers and card numbers
 * (masked, never in clear) in UTF-8 text of len bytes, and writes a short
 * extractive analysis and a confidence (the share of non-empty lines in
 * which something was recognised). Entity keys: see README "Entity keys".
 * out must be initialised. Returns 0 (out of memory aborts). Linear in
 * len. */
int llm_rules_analyze(const char *text, size_t len, llm_result *out);

/* Replaces every resident registration number and card number in s (NUL
 * terminated, modified in place, same length) with its masked form:
 * "900101-1******" and "****-****-****-1234" (the separators kept). */
void llm_mask_private(char *s);

/* ---- server-sent events (llm_sse.c), WHATWG HTML "event stream" ----
 * Incremental: feed bytes as they arrive, split anywhere. An event is
 * dispatched at a blank line with the `data:` lines joined by "\n"; lines
 * starting with ':' are comments; other fields are ignored. LF, CR and
 * CRLF all end lines. Memory is bounded by max_event bytes per event. */
typedef int (*llm_sse_event_cb)(void *arg, const char *data, size_t len);

typedef struct llm_sse {
  char *_line;
  size_t _line_len, _line_cap;
  char *_data;
  size_t _data_len, _data_cap;
  int _has_data;
  int _last_cr; /* the last byte was CR: a following LF is part of it */
  size_t _max_event;
} llm_sse;

void llm_sse_init(llm_sse *p, size_t max_event);
void llm_sse_free(llm_sse *p);

/* Parses len bytes (borrowed). cb gets each complete event's data (owned
 * by the parser, valid during the call, NUL terminated); a non-zero
 * return from cb stops parsing and is returned. Returns 0, cb's value, or
 * ERR_MSG_TOO_LARGE when one event's line or data exceeds max_event. */
int llm_sse_feed(llm_sse *p, const char *data, size_t len, llm_sse_event_cb cb, void *arg);

/* ---- OpenAI chat completions (llm_openai.c), cJSON inside ---- */
typedef struct llm_params {
  const char *model;
  const char *text; /* the document */
  size_t text_len;
  const char *prompt; /* the caller's instruction; may be NULL or "" */
  double temperature; /* < 0: not sent */
  long max_tokens;    /* <= 0: not sent */
  int stream;         /* stream: true, usage included */
  int json_answer;    /* ask for {analysis, confidence, entities} */
} llm_params;

/* Builds the request body. *out is malloc'd, NUL terminated (caller
 * frees). */
void llm_openai_request(const llm_params *p, char **out, size_t *out_len);

/* Has cJSON allocate through the out-of-memory policy (base/ocrpc_alloc.h)
 * for the whole process (the REST front door's JSON too). Call once at
 * start, before any thread uses cJSON. */
void llm_json_hooks(void);

/* The pieces of a whole (non-streamed) completion. Owned strings. */
typedef struct llm_completion {
  char *content;
  char *model;
  char *finish_reason;
  long prompt_tokens, completion_tokens; /* -1: not reported */
} llm_completion;

void llm_completion_clear(llm_completion *c);

/* Reads a chat.completion body. 0, ERR_PARSE (not JSON, or no
 * choices[0].message.content). */
int llm_openai_completion(const char *body, size_t len, llm_completion *out);

/* Reads one streamed chunk (an SSE event's data). *token gets a malloc'd
 * copy of choices[0].delta.content or NULL when the chunk has none; usage
 * counts are stored in c when present. *done = 1 for the "[DONE]" marker.
 * 0 or ERR_PARSE. */
int llm_openai_chunk(const char *data, size_t len, char **token, int *done,
                     llm_completion *c);

/* Reads the model's JSON answer {analysis, confidence, entities} into out
 * (entity values that are not strings are written as JSON). 0 or
 * ERR_PARSE when content is not a JSON object with a string analysis. */
int llm_openai_answer(const char *content, size_t len, llm_result *out);

/* Reads an error body ({"error":{"message":...}}) into a malloc'd
 * message, or NULL when there is none. */
char *llm_openai_error_message(const char *body, size_t len);

#endif
