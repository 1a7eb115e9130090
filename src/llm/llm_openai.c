/* SPDX-License-Identifier: MIT */
/* The OpenAI chat-completions wire format, built and read with cJSON:
 * the request body (system prompt asking for a JSON answer, the caller's
 * prompt and the document), whole completions, streamed chunks, the
 * model's JSON answer and error bodies. No I/O. Any thread. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "llm.h"

#define SYSTEM_JSON                                                                        \
  "You analyse text that OCR extracted from a document. Answer with one JSON object "      \
  "and nothing else: {\"analysis\": string (a short analysis answering the user's "        \
  "request), \"confidence\": number from 0 to 1, \"entities\": object mapping short "      \
  "snake_case keys (date, amount_total, phone, email, business_number, ...) to string "    \
  "values}. Dates as YYYY-MM-DD."
#define SYSTEM_TEXT                                                                        \
  "You analyse text that OCR extracted from a document. Answer the user's request "        \
  "concisely in plain text."
#define DEFAULT_PROMPT                                                                     \
  "Analyse this document: its kind, its key fields and anything notable."

/* cJSON allocates through the out-of-memory policy (llm_json_hooks), so
 * its constructors never return NULL here. */
void llm_json_hooks(void) {
  static cJSON_Hooks hooks = {ocrpc_malloc_fn, free};
  cJSON_InitHooks(&hooks);
}

void llm_openai_request(const llm_params *p, char **out, size_t *out_len) {
  cJSON *root = cJSON_CreateObject();
  const char *prompt = p->prompt && *p->prompt ? p->prompt : DEFAULT_PROMPT;
  size_t plen = strlen(prompt);
  char *user = ocrpc_malloc(plen + p->text_len + 32);
  int n = snprintf(user, plen + 32, "%s\n\nDocument:\n", prompt);
  memcpy(user + n, p->text, p->text_len);
  user[n + p->text_len] = 0;

  cJSON_AddStringToObject(root, "model", p->model ? p->model : "");
  cJSON *msgs = cJSON_AddArrayToObject(root, "messages");
  cJSON *sys = cJSON_CreateObject(), *usr = cJSON_CreateObject();
  cJSON_AddItemToArray(msgs, sys);
  cJSON_AddItemToArray(msgs, usr);
  cJSON_AddStringToObject(sys, "role", "system");
  cJSON_AddStringToObject(sys, "content", p->json_answer ? SYSTEM_JSON : SYSTEM_TEXT);
  cJSON_AddStringToObject(usr, "role", "user");
  cJSON_AddStringToObject(usr, "content", user);
  if (p->temperature >= 0)
    cJSON_AddNumberToObject(root, "temperature", p->temperature);
  if (p->max_tokens > 0)
    cJSON_AddNumberToObject(root, "max_tokens", (double)p->max_tokens);
  if (p->json_answer)
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "response_format"), "type",
                            "json_object");
  if (p->stream) {
    cJSON_AddTrueToObject(root, "stream");
    cJSON_AddTrueToObject(cJSON_AddObjectToObject(root, "stream_options"), "include_usage");
  }
  *out = cJSON_PrintUnformatted(root);
  *out_len = strlen(*out);
  free(user);
  cJSON_Delete(root);
}

void llm_completion_clear(llm_completion *c) {
  free(c->content);
  free(c->model);
  free(c->finish_reason);
  memset(c, 0, sizeof *c);
  c->prompt_tokens = c->completion_tokens = -1;
}

static int dup_string(const cJSON *item, char **out) {
  if (!cJSON_IsString(item) || !item->valuestring)
    return 0;
  free(*out);
  *out = ocrpc_strdup(item->valuestring);
  return 0;
}

static void read_usage(const cJSON *root, llm_completion *c) {
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage");
  if (!cJSON_IsObject(u))
    return;
  const cJSON *pt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
  if (cJSON_IsNumber(pt) && pt->valuedouble >= 0 && pt->valuedouble < 1e15)
    c->prompt_tokens = (long)pt->valuedouble;
  if (cJSON_IsNumber(ct) && ct->valuedouble >= 0 && ct->valuedouble < 1e15)
    c->completion_tokens = (long)ct->valuedouble;
}

static const cJSON *first_choice(const cJSON *root) {
  const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "choices");
  const cJSON *c0 = cJSON_IsArray(ch) ? cJSON_GetArrayItem(ch, 0) : NULL;
  return cJSON_IsObject(c0) ? c0 : NULL;
}

int llm_openai_completion(const char *body, size_t len, llm_completion *out) {
  cJSON *root = cJSON_ParseWithLength(body, len);
  if (!root)
    return ERR_PARSE;
  int rc = ERR_PARSE;
  const cJSON *c0 = first_choice(root);
  const cJSON *msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
  const cJSON *content = msg ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
  if (cJSON_IsString(content)) {
    rc = dup_string(content, &out->content);
    if (!rc)
      rc = dup_string(cJSON_GetObjectItemCaseSensitive(root, "model"), &out->model);
    if (!rc)
      rc = dup_string(cJSON_GetObjectItemCaseSensitive(c0, "finish_reason"),
                      &out->finish_reason);
    read_usage(root, out);
  }
  cJSON_Delete(root);
  return rc;
}

int llm_openai_chunk(const char *data, size_t len, char **token, int *done,
                     llm_completion *c) {
  *token = NULL;
  *done = 0;
  if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
    *done = 1;
    return 0;
  }
  cJSON *root = cJSON_ParseWithLength(data, len);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return ERR_PARSE;
  }
  int rc = 0;
  const cJSON *c0 = first_choice(root);
  const cJSON *delta = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "delta") : NULL;
  const cJSON *content = delta ? cJSON_GetObjectItemCaseSensitive(delta, "content") : NULL;
  if (cJSON_IsString(content) && content->valuestring[0]) {
    *token = ocrpc_strdup(content->valuestring);
  }
  if (!rc && c) {
    rc = dup_string(cJSON_GetObjectItemCaseSensitive(root, "model"), &c->model);
    if (!rc && c0)
      rc = dup_string(cJSON_GetObjectItemCaseSensitive(c0, "finish_reason"),
                      &c->finish_reason);
    read_usage(root, c);
  }
  cJSON_Delete(root);
  return rc;
}

int llm_openai_answer(const char *content, size_t len, llm_result *out) {
  /* Models sometimes wrap the object in a ```json fence: look at the
   * outermost braces only. */
  const char *a = memchr(content, '{', len);
  const char *b = NULL;
  for (const char *q = content + len; q > content; q--)
    if (q[-1] == '}') {
      b = q;
      break;
    }
  if (!a || !b || b <= a)
    return ERR_PARSE;
  cJSON *root = cJSON_ParseWithLength(a, (size_t)(b - a));
  const cJSON *an = root ? cJSON_GetObjectItemCaseSensitive(root, "analysis") : NULL;
  if (!cJSON_IsObject(root) || !cJSON_IsString(an)) {
    cJSON_Delete(root);
    return ERR_PARSE;
  }
  int rc = 0;
  free(out->analysis);
  out->analysis = ocrpc_strdup(an->valuestring);
  const cJSON *cf = cJSON_GetObjectItemCaseSensitive(root, "confidence");
  if (cJSON_IsNumber(cf)) {
    double v = cf->valuedouble;
    out->confidence = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
  }
  const cJSON *ents = cJSON_GetObjectItemCaseSensitive(root, "entities");
  const cJSON *e = cJSON_IsObject(ents) ? ents->child : NULL;
  for (; e; e = e->next) {
    if (rc || !e->string)
      break;
    if (cJSON_IsNull(e))
      continue;
    if (cJSON_IsString(e)) {
      rc = llm_result_entity(out, e->string, e->valuestring);
    } else {
      char *s = cJSON_PrintUnformatted(e);
      rc = llm_result_entity(out, e->string, s);
      free(s);
    }
  }
  cJSON_Delete(root);
  return rc;
}

char *llm_openai_error_message(const char *body, size_t len) {
  cJSON *root = cJSON_ParseWithLength(body, len);
  const cJSON *err = root ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
  const cJSON *m = cJSON_IsObject(err) ? cJSON_GetObjectItemCaseSensitive(err, "message")
                   : err               ? err
                                       : NULL;
  char *s = cJSON_IsString(m) ? ocrpc_strdup(m->valuestring) : NULL;
  cJSON_Delete(root);
  return s;
}
