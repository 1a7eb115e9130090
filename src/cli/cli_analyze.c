/* SPDX-License-Identifier: MIT */
/* `ocrpc analyze`: reads the text (file, stdin, or the OCR of --image),
 * calls AnalyzeTextStream and writes each token to stdout as it arrives
 * (flushed, so a terminal shows the model writing), or with --whole calls
 * AnalyzeText and prints the analysis, confidence and entities. */
#include "cli_analyze.h"

#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "client/client.h"
#include "client/client_pb.h"
#include "llm.pb.h"
#include "ocr.pb.h"

#define TEXT_LIMIT ((size_t)64 << 20)

typedef struct job {
  const cli_analyze_opts *a;
  client_conn *conn;
  int code, local;
  char message[1024];
  int (*on_msg)(struct job *j, const uint8_t *data, size_t len);
  void *msg; /* the decoded unary answer */
  const pb_msgdesc_t *fields;
  int complete;
} job;

static int on_message(void *ud, const uint8_t *data, size_t len) {
  job *j = ud;
  return j->on_msg(j, data, len);
}

static void on_done(void *ud, const client_status *st) {
  job *j = ud;
  j->code = st->code;
  j->local = st->local;
  snprintf(j->message, sizeof j->message, "%s", st->message);
  client_conn_close(j->conn);
}

static int run_call(job *j, const char *path, const pb_msgdesc_t *fields, const void *req,
                    int unary) {
  buf body = BUF_INIT;
  client_loop *loop = NULL;
  j->code = RPC_UNKNOWN;
  if (client_pb_frame(&body, fields, req) || client_loop_new(&loop)) {
    fprintf(stderr, "ocrpc: out of memory\n");
    buf_free(&body);
    return 5;
  }
  if (client_conn_new(loop, j->a->target, NULL, &j->conn)) {
    fprintf(stderr, "ocrpc: bad server address \"%s\"\n", j->a->target);
    client_loop_free(loop);
    buf_free(&body);
    return 2;
  }
  client_call_cbs cbs = {on_message, on_done};
  int rc = client_call_start(j->conn, path, body.data, body.len, j->a->timeout_ms,
                             unary ? CLIENT_CALL_UNARY : 0, &cbs, j, NULL);
  if (rc) {
    buf_free(&body);
    fprintf(stderr, "ocrpc: cannot start the call: %s\n", err_text(rc));
    client_conn_close(j->conn);
    client_loop_free(loop);
    return 5;
  }
  client_loop_run(loop);
  client_loop_free(loop);
  buf_free(&body); /* the call borrowed it until it ended */
  if (j->code == RPC_OK)
    return 0;
  const char *m = j->message[0] ? j->message : "(no message)";
  if (j->code == RPC_UNAVAILABLE) {
    fprintf(stderr, "ocrpc: server %s unavailable: %s\n", j->a->target, m);
    return 3;
  }
  if (j->code == RPC_DEADLINE_EXCEEDED) {
    fprintf(stderr, "ocrpc: deadline exceeded (--timeout): %s\n", m);
    return 4;
  }
  fprintf(stderr, "ocrpc: %s %s: %s\n", j->local ? "call failed:" : "server error",
          rpc_status_name(j->code), m);
  return 5;
}

static int decode_msg(job *j, const uint8_t *data, size_t len) {
  return client_pb_decode(data, len, j->fields, j->msg) ? ERR_PARSE : 0;
}

static int token_msg(job *j, const uint8_t *data, size_t len) {
  llm_LLMStreamResponse m;
  if (client_pb_decode(data, len, llm_LLMStreamResponse_fields, &m))
    return ERR_PARSE;
  if (m.token)
    fputs(m.token, stdout);
  fflush(stdout);
  if (m.is_complete)
    j->complete = 1;
  pb_release(llm_LLMStreamResponse_fields, &m);
  return 0;
}

static char *read_all(FILE *f, size_t *len) {
  buf b = BUF_INIT;
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.len + n > TEXT_LIMIT || buf_append(&b, chunk, n)) {
      buf_free(&b);
      return NULL;
    }
  }
  if (ferror(f) || buf_append(&b, "", 1)) {
    buf_free(&b);
    return NULL;
  }
  *len = b.len - 1;
  return (char *)b.data;
}

/* The OCR text of --image. */
static int ocr_text(const cli_analyze_opts *a, char **text) {
  ocr_OCRRequest req = ocr_OCRRequest_init_zero;
  int rc = client_pb_read_file(a->image, (uint64_t)1 << 30, &req.image_data);
  if (rc) {
    fprintf(stderr, "ocrpc: %s: %s\n", a->image,
            rc == ERR_NOT_FOUND ? "no such file" : err_text(rc));
    return 1;
  }
  req.language = (char *)a->language;
  ocr_OCRResponse resp;
  memset(&resp, 0, sizeof resp);
  job j = {.a = a, .on_msg = decode_msg, .msg = &resp, .fields = ocr_OCRResponse_fields};
  rc = run_call(&j, CLIENT_M_EXTRACT_TEXT, ocr_OCRRequest_fields, &req, 1);
  free(req.image_data);
  if (rc)
    return rc;
  if (resp.status != common_Status_STATUS_SUCCESS) {
    fprintf(stderr, "ocrpc: %s: OCR failed: %s (%s)\n", a->image,
            resp.has_error && resp.error.message ? resp.error.message : "",
            resp.has_error && resp.error.details ? resp.error.details : "");
    pb_release(ocr_OCRResponse_fields, &resp);
    return 1;
  }
  *text = strdup(resp.text ? resp.text : "");
  pb_release(ocr_OCRResponse_fields, &resp);
  return *text ? 0 : 5;
}

int cli_analyze(const cli_analyze_opts *a) {
  char *text = NULL;
  size_t len = 0;
  if (a->image) {
    int rc = ocr_text(a, &text);
    if (rc)
      return rc;
  } else {
    FILE *f = !a->file || !strcmp(a->file, "-") ? stdin : fopen(a->file, "rb");
    if (!f) {
      fprintf(stderr, "ocrpc: %s: cannot open\n", a->file);
      return 1;
    }
    text = read_all(f, &len);
    if (f != stdin)
      fclose(f);
    if (!text) {
      fprintf(stderr, "ocrpc: %s: cannot read (or over 64 MiB)\n",
              a->file ? a->file : "stdin");
      return 1;
    }
  }
  common_Metadata_DataEntry e[4];
  common_Metadata md = {0, e};
  const char *keys[] = {"engine", "model", "temperature", "max_tokens"};
  const char *vals[] = {a->engine, a->model, a->temperature, a->max_tokens};
  for (int i = 0; i < 4; i++)
    if (vals[i])
      e[md.data_count++] = (common_Metadata_DataEntry){(char *)keys[i], (char *)vals[i]};
  llm_LLMRequest req = {text, (char *)(a->prompt ? a->prompt : ""), &md};
  int rc;
  if (a->whole) {
    llm_LLMResponse resp;
    memset(&resp, 0, sizeof resp);
    job j = {.a = a, .on_msg = decode_msg, .msg = &resp, .fields = llm_LLMResponse_fields};
    rc = run_call(&j, "/llm.LLMService/AnalyzeText", llm_LLMRequest_fields, &req, 1);
    if (!rc && resp.status != common_Status_STATUS_SUCCESS) {
      fprintf(stderr, "ocrpc: analysis failed: %s (%s)\n",
              resp.has_error && resp.error.message ? resp.error.message : "",
              resp.has_error && resp.error.details ? resp.error.details : "");
      rc = 1;
    } else if (!rc) {
      printf("%s\n", resp.analysis ? resp.analysis : "");
      printf("confidence: %.2f\n", (double)resp.confidence);
      for (pb_size_t i = 0; i < resp.entities_count; i++)
        printf("%s: %s\n", resp.entities[i].key, resp.entities[i].value);
    }
    pb_release(llm_LLMResponse_fields, &resp);
  } else {
    job j = {.a = a, .on_msg = token_msg};
    rc = run_call(&j, "/llm.LLMService/AnalyzeTextStream", llm_LLMRequest_fields, &req, 0);
    fputc('\n', stdout); /* also after a failure: the tokens so far end their line */
    if (!rc && !j.complete) {
      fprintf(stderr, "ocrpc: the stream ended before its last message\n");
      rc = 5;
    }
  }
  free(text);
  return rc;
}
