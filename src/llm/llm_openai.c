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

int llm_openai_request(const llm_params *p, char **out, size_t *out_len) {
  int rc = ERR_NOMEM;
  char *user = NULL;
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return ERR_NOMEM;
  const char *prompt = p->prompt && *p->prompt ? p->prompt : DEFAULT_PROMPT;
  size_t plen = strlen(prompt);
  user = malloc(plen + p->text_len + 32);
  if (!user)
    goto done;
  int n = snprintf(user, plen + 32, "%s\n\nDocument:\n", prompt);
  memcpy(user + n, p->text, p->text_len);
  user[n + p->text_len] = 0;

  if (!cJSON_AddStringToObject(root, "model", p->model ? p->model : ""))
    goto done;
  cJSON *msgs = cJSON_AddArrayToObject(root, "messages");
  cJSON *sys = cJSON_CreateObject(), *usr = cJSON_CreateObject();
  if (!msgs || !sys || !usr) {
    cJSON_Delete(sys);
    cJSON_Delete(usr);
    goto done;
  }
  cJSON_AddItemToArray(msgs, sys);
  cJSON_AddItemToArray(msgs, usr);
  if (!cJSON_AddStringToObject(sys, "role", "system") ||
      !cJSON_AddStringToObject(sys, "content",
                               p->json_answer ? SYSTEM_JSON : SYSTEM_TEXT) ||
      !cJSON_AddStringToObject(usr, "role", "user") ||
      !cJSON_AddStringToObject(usr, "content", user))
    goto done;
  if (p->temperature >= 0 && !cJSON_AddNumberToObject(root, "temperature", p->temperature))
    goto done;
  if (p->max_tokens > 0 &&
      !cJSON_AddNumberToObject(root, "max_tokens", (double)p->max_tokens))
    goto done;
  if (p->json_answer) {
    cJSON *rf = cJSON_AddObjectToObject(root, "response_format");
    if (!rf || !cJSON_AddStringToObject(rf, "type", "json_object"))
      goto done;
  }
  if (p->stream) {
    cJSON *so = NULL;
    if (!cJSON_AddTrueToObject(root, "stream") ||
        !(so = cJSON_AddObjectToObject(root, "stream_options")) ||
        !cJSON_AddTrueToObject(so, "include_usage"))
      goto done;
  }
  char *s = cJSON_PrintUnformatted(root);
  if (!s)
    goto done;
  *out = s;
  *out_len = strlen(s);
  rc = 0;
done:
  free(user);
  cJSON_Delete(root);
  return rc;
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
  *out = strdup(item->valuestring);
  return *out ? 0 : ERR_NOMEM;
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
    *token = strdup(content->valuestring);
    if (!*token)
      rc = ERR_NOMEM;
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
  out->analysis = strdup(an->valuestring);
  if (!out->analysis)
    rc = ERR_NOMEM;
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
      rc = s ? llm_result_entity(out, e->string, s) : ERR_NOMEM;
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
  char *s = cJSON_IsString(m) ? strdup(m->valuestring) : NULL;
  cJSON_Delete(root);
  return s;
}
