/* SPDX-License-Identifier: MIT */
/* llm.LLMService: AnalyzeText answers one LLMResponse, AnalyzeTextStream
 * streams LLMStreamResponse tokens. The rules engine runs on the loop
 * thread for texts up to RULES_INLINE_BYTES and on a worker above that;
 * the openai engine goes through src/llm's backend calls, whose tokens are
 * sent as they arrive, except that tokens arriving less than
 * LLM_STREAM_COALESCE_US after the previous message go out together in the
 * next one (a client pays per message, not per byte). After each read
 * that sent a message the backend transfer pauses until the stream's
 * queue is written, so a slow reader pauses the backend; a cancelled call,
 * a deadline or a lost connection cancels the backend request at once.
 * Loop thread, except rules_work (worker thread). */
#include <errno.h>
#include <math.h>
#include <pb_decode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/ocrpc_alloc.h"
#include "llm.pb.h"
#include "llm/llm_backend.h"
#include "rpc_internal.h"

#define RULES_INLINE_BYTES (1u << 20)

typedef struct llm_job {
  exec_job ej;    /* first: the executor hands back &ej */
  rpc_call *call; /* NULL once the call has gone */
  rpc_server *srv;
  llm_LLMRequest *req;
  llm_call *lc;
  int stream;
  int running_rules; /* on a worker: freed by rules_done */
  uint64_t t0_ns;
  uint64_t first_token_ns;
  long tokens;
  int drain_asked;       /* notify_drain called, rpc_call_drained not yet */
  buf held;              /* streamed text not sent yet: a number that may go on */
  buf out;               /* masked text held for the next message (coalescing) */
  uint64_t last_sent_ns; /* when the last token message went out; 0: none yet */
  timer *flush_timer;    /* sends `out` once the coalescing gap has passed */
  int flush_at_read_end; /* the gap has passed: send `out` after this read */
  llm_result res;        /* rules on a worker */
  int rules_rc;
  char engine[16];
} llm_job;

static void job_free(llm_job *j) {
  if (j->flush_timer)
    j->srv->timers->stop(j->srv->timers, j->flush_timer);
  buf_free(&j->out);
  buf_free(&j->held);
  llm_result_clear(&j->res);
  pb_release(llm_LLMRequest_fields, j->req);
  free(j->req);
  free(j);
}

static const char *opt(const llm_LLMRequest *req, const char *key) {
  if (!req->options)
    return NULL;
  for (pb_size_t i = 0; i < req->options->data_count; i++) {
    const common_Metadata_DataEntry *e = &req->options->data[i];
    if (e->key && strcmp(e->key, key) == 0)
      return e->value ? e->value : "";
  }
  return NULL;
}

/* Reads the per-call options into p; a message in msg on a bad value. */
static int read_options(const llm_job *j, llm_params *p, char *msg, size_t size) {
  const char *t = opt(j->req, "temperature"), *m = opt(j->req, "max_tokens");
  p->temperature = -1;
  if (t && *t) {
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    if (errno || *end || !(v >= 0 && v <= 2)) {
      snprintf(msg, size, "options[\"temperature\"] must be a number from 0 to 2");
      return ERR_INVAL;
    }
    p->temperature = v;
  }
  if (m && *m) {
    char *end;
    errno = 0;
    long v = strtol(m, &end, 10);
    if (errno || *end || v < 1 || v > 1000000) {
      snprintf(msg, size,
               "options[\"max_tokens\"] must be a whole number from 1 to 1000000");
      return ERR_INVAL;
    }
    p->max_tokens = v;
  }
  const char *model = opt(j->req, "model");
  p->model = model && *model ? model : NULL;
  p->text = j->req->text;
  p->text_len = strlen(j->req->text);
  p->prompt = j->req->prompt;
  p->stream = j->stream;
  p->json_answer = !j->stream;
  return 0;
}

static double ms_since(uint64_t t0) { return (double)(clock_mono_ns() - t0) / 1e6; }

/* ---- the whole answer ---- */
static void reply_failure(rpc_call *c, const char *details, const char *message) {
  c->llm_outcome = details; /* a literal: the metrics' status label */
  rpc__call_note_inband_failure(c, details);
  llm_LLMResponse resp = llm_LLMResponse_init_zero;
  resp.status = common_Status_STATUS_FAILURE;
  resp.has_error = true;
  resp.error.code = (char *)"LLM_ERROR";
  resp.error.message = (char *)message;
  resp.error.details = (char *)details;
  rpc__call_reply(c, llm_LLMResponse_fields, &resp);
}

/* Sends r (masked first: no resident registration or card number leaves
 * in clear, whatever the engine wrote). */
static void reply_result(llm_job *j, llm_result *r) {
  if (r->analysis)
    llm_mask_private(r->analysis);
  char lat[32], n[32];
  snprintf(lat, sizeof lat, "%.3f", ms_since(j->t0_ns));
  snprintf(n, sizeof n, "%zu", r->nentities);
  if (llm_result_meta(r, "engine", j->engine) || llm_result_meta(r, "latency_ms", lat) ||
      llm_result_meta(r, "entities", n)) {
    rpc__call_fail(j->call, RPC_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  llm_LLMResponse resp = llm_LLMResponse_init_zero;
  resp.status = common_Status_STATUS_SUCCESS;
  resp.analysis = r->analysis ? r->analysis : (char *)"";
  resp.confidence = r->confidence;
  llm_LLMResponse_EntitiesEntry *ents = ocrpc_calloc(r->nentities + 1, sizeof *ents);
  common_Metadata_DataEntry *md = ocrpc_calloc(r->nmeta + 1, sizeof *md);
  for (size_t i = 0; i < r->nentities; i++) {
    llm_mask_private(r->entities[i].value);
    ents[i].key = r->entities[i].key;
    ents[i].value = r->entities[i].value;
  }
  for (size_t i = 0; i < r->nmeta; i++) {
    md[i].key = r->meta[i].key;
    md[i].value = r->meta[i].value;
  }
  resp.entities = ents;
  resp.entities_count = (pb_size_t)r->nentities;
  resp.has_metadata = true;
  resp.metadata.data = md;
  resp.metadata.data_count = (pb_size_t)r->nmeta;
  rpc__call_reply(j->call, llm_LLMResponse_fields, &resp);
  free(ents);
  free(md);
}

/* ---- tokens ---- */
static int send_token(rpc_call *c, const char *tok, int complete) {
  llm_LLMStreamResponse m = {(char *)tok, complete};
  if (*tok && c->bytes_out == 0)
    rpc__llm_note_first_token(c);
  return rpc__call_send(c, llm_LLMStreamResponse_fields, &m);
}

/* The words of a text, each with the spaces after it, so that the tokens
 * joined give the text back. */
static void stream_words(rpc_call *c, const char *s) {
  while (*s) {
    size_t n = strcspn(s, " ");
    n += strspn(s + n, " ");
    char w[512];
    if (n >= sizeof w)
      n = sizeof w - 1;
    memcpy(w, s, n);
    w[n] = 0;
    if (send_token(c, w, 0))
      return;
    s += n;
  }
  if (send_token(c, "", 1) == 0)
    rpc__call_finish(c);
}

/* ---- rules ---- */
static void rules_answer(llm_job *j) {
  rpc_call *c = j->call;
  if (j->rules_rc) {
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
  } else if (j->stream) {
    llm_mask_private(j->res.analysis);
    stream_words(c, j->res.analysis);
  } else {
    reply_result(j, &j->res);
  }
}

static void rules_work(exec_job *ej) {
  llm_job *j = (llm_job *)ej;
  j->rules_rc = llm_rules_analyze(j->req->text, strlen(j->req->text), &j->res);
}

static void rules_done(exec_job *ej, int status) {
  llm_job *j = (llm_job *)ej;
  if (j->call) {
    j->call->work = NULL;
    if (status)
      rpc__call_fail(j->call, RPC_CANCELLED, "cancelled");
    else
      rules_answer(j);
  }
  job_free(j);
}

/* ---- openai ---- */

/* Most text coalescing holds: beyond it the message goes at once (and
 * the backend pauses until it is written), whatever the gap, so memory
 * stays bounded however fast the backend writes. */
#define OUT_MAX (16u * 1024u)
/* An LLMStreamResponse's bytes besides its text: the token field's tag
 * and length, and is_complete. */
#define MSG_OVERHEAD 16u

/* Most text one coalesced message may carry: OUT_MAX, or less when
 * --max-message-bytes (which bounds responses too) is smaller, so that
 * merging tokens never makes a message the limit refuses where the tokens
 * one by one would pass. */
static size_t out_room(const llm_job *j) {
  uint64_t max = j->srv->cfg->max_message_bytes;
  uint64_t room = max > MSG_OVERHEAD ? max - MSG_OVERHEAD : 0;

  return room < OUT_MAX ? (size_t)room : OUT_MAX;
}

/* Longest run of digits and separators held back from the stream. */
#define HOLD_MAX 64

static int number_ch(uint8_t ch) {
  return (ch >= '0' && ch <= '9') || ch == '-' || ch == ' ' || ch == '*';
}

/* Sends the text waiting in j->out as one message, and asks to be told
 * when the stream's queue is written (the backend pauses meanwhile: see
 * on_token). 0, or the send's error. */
static int flush_out(llm_job *j) {
  if (j->flush_timer) {
    j->srv->timers->stop(j->srv->timers, j->flush_timer);
    j->flush_timer = NULL;
  }
  if (!j->out.len)
    return 0;
  rpc_call *c = j->call;
  buf_reserve(&j->out, 1);
  j->out.data[j->out.len] = 0;
  int rc = send_token(c, (const char *)j->out.data, 0);
  j->out.len = 0;
  j->flush_at_read_end = 0;
  j->last_sent_ns = clock_mono_ns();
  if (!rc && !j->drain_asked) {
    j->drain_asked = 1;
    c->srv->tr->notify_drain(c->conn, c->stream_id);
  }
  return rc;
}

static void on_flush_timer(void *arg) {
  llm_job *j = arg;
  j->flush_timer = NULL;
  flush_out(j); /* a failed send closes the call, which detaches the job */
}

/* Queues masked, safe text for the client (Nagle-like coalescing): when
 * LLM_STREAM_COALESCE_US has passed since the previous message (always
 * for the first) it goes out at the end of this read of the backend, with
 * the tokens that came in the same read (they are all there now); else
 * it waits with whatever follows until that gap has passed. A backend
 * faster than the gap costs the client one message per gap instead of one
 * per token, while tokens further apart than the gap (any real model's
 * pace) each get their own message at once. The timer has the loop's
 * millisecond resolution, so the tokens a fast burst ends with may wait
 * up to a millisecond longer than the gap; tokens that keep coming are
 * sent on arrival, to the microsecond. Gap 0: every token at once, one
 * message each. 0, or the send's error. */
static int emit(llm_job *j, const char *text, size_t len) {
  size_t room = out_room(j);

  if (j->out.len && j->out.len + len > room) {
    int rc = flush_out(j); /* what is held goes first, within the limit */

    if (rc)
      return rc;
  }
  buf_append(&j->out, text, len);
  uint64_t gap_ns = j->srv->cfg->llm_stream_coalesce_us * 1000u;
  timer_src *ts = j->srv->timers;
  uint64_t now = clock_mono_ns();
  if (!gap_ns || !ts || j->out.len >= room)
    return flush_out(j);
  if (j->flush_at_read_end)
    return 0;
  if (!j->last_sent_ns || now - j->last_sent_ns >= gap_ns) {
    j->flush_at_read_end = 1;
    return 0;
  }
  if (!j->flush_timer) {
    uint64_t left_ns = j->last_sent_ns + gap_ns - now;
    j->flush_timer = ts->start(ts, (left_ns + 999999u) / 1000000u, on_flush_timer, j);
  }
  return 0;
}

/* Appends a model's token to what is held and sends what is safe: the
 * text before a trailing run of digits and separators, masked. A resident
 * registration or card number is such a run, so it is always whole when
 * masked, however the model split it into tokens; the run is sent once a
 * character ends it (or at the end, final). 0, or the send's error. */
static int send_masked(llm_job *j, const char *tok, size_t len, int final) {
  buf *h = &j->held;
  buf_reserve(h, len + 1);
  memcpy(h->data + h->len, tok, len);
  h->len += len;
  h->data[h->len] = 0;
  llm_mask_private((char *)h->data);
  size_t k = h->len;
  if (!final) {
    while (k > 0 && h->len - k < HOLD_MAX && number_ch(h->data[k - 1]))
      k--;
  }
  if (k == 0)
    return 0;
  int rc = emit(j, (const char *)h->data, k);
  buf_consume(h, k);
  return rc;
}

static int on_token(void *arg, const char *tok, size_t len) {
  llm_job *j = arg;
  if (!j->tokens++)
    j->first_token_ns = clock_mono_ns();
  if (send_masked(j, tok, len, 0))
    return 0; /* the call failed: it is closed (and this call cancelled) next */
  /* While a message sent is not written yet, pause the backend after
   * this read: a burst's first tokens go out at once instead of after all
   * that curl can read in one go, and a slow reader holds the backend
   * (its queue stays full, the drain never comes). Text only held for
   * coalescing keeps the backend going. */
  return j->drain_asked;
}

/* The tokens of one backend read have all been through on_token. */
static int on_read_end(void *arg) {
  llm_job *j = arg;
  if (j->flush_at_read_end)
    flush_out(j); /* a failed send closes the call, which detaches the job */
  return j->drain_asked;
}

static void llm_drained(void *work) {
  llm_job *j = work;
  j->drain_asked = 0;
  if (j->lc)
    llm_call_resume(j->lc);
}

static void fail_status(rpc_call *c, const llm_outcome *o) {
  if (o->status == LLM_TIMEOUT)
    rpc__call_fail(c, RPC_DEADLINE_EXCEEDED, o->message);
  else if (o->status == LLM_REJECTED || o->status == LLM_CONTEXT_TOO_LONG) {
    c->llm_outcome = o->status == LLM_REJECTED ? "BACKEND_REJECTED" : "CONTEXT_TOO_LONG";
    char m[600];
    snprintf(m, sizeof m, "%s: %s",
             o->status == LLM_REJECTED ? "BACKEND_REJECTED" : "CONTEXT_TOO_LONG",
             o->message);
    rpc__call_fail(c, RPC_INVALID_ARGUMENT, m);
  } else
    rpc__call_fail(c, RPC_UNAVAILABLE, o->message);
}

static void on_done(void *arg, const llm_outcome *o) {
  llm_job *j = arg;
  rpc_call *c = j->call;
  j->lc = NULL;
  c->work = NULL;
  rpc__llm_note_tokens(j->srv, o->prompt_tokens, o->completion_tokens);
  if (j->stream) {
    /* The end flushes what coalescing holds at once, as its own message
     * before the one with is_complete (which stays empty, as before). */
    if (o->status != LLM_OK) {
      if (flush_out(j) == 0)
        fail_status(c, o);
    } else if (send_masked(j, "", 0, 1) == 0 && flush_out(j) == 0 &&
               send_token(c, "", 1) == 0)
      rpc__call_finish(c);
    log_debug("stream %d: %ld tokens, first after %.3f ms", c->stream_id, j->tokens,
              j->first_token_ns ? (double)(j->first_token_ns - j->t0_ns) / 1e6 : 0.0);
  } else if (o->status == LLM_OK) {
    llm_result *r = o->result;
    int rc = 0;
    const char *fmt = NULL;
    for (size_t i = 0; i < r->nmeta; i++)
      if (!strcmp(r->meta[i].key, "answer_format"))
        fmt = r->meta[i].value;
    int from_rules = fmt && !strcmp(fmt, "text");
    if (from_rules) {
      /* Not the JSON asked for: entities from the rules engine. */
      llm_result rr;
      llm_result_init(&rr);
      rc = llm_rules_analyze(j->req->text, strlen(j->req->text), &rr);
      for (size_t i = 0; !rc && i < rr.nentities; i++)
        rc = llm_result_entity(r, rr.entities[i].key, rr.entities[i].value);
      r->confidence = rr.confidence;
      llm_result_clear(&rr);
    }
    char pt[24], ct[24];
    snprintf(pt, sizeof pt, "%ld", o->prompt_tokens);
    snprintf(ct, sizeof ct, "%ld", o->completion_tokens);
    if (!rc)
      rc = llm_result_meta(r, "entities_source", from_rules ? "rules" : "model");
    if (!rc && o->prompt_tokens >= 0)
      rc = llm_result_meta(r, "prompt_tokens", pt);
    if (!rc && o->completion_tokens >= 0)
      rc = llm_result_meta(r, "completion_tokens", ct);
    if (rc)
      rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
    else
      reply_result(j, r);
  } else if (o->status == LLM_REJECTED) {
    reply_failure(c, "BACKEND_REJECTED", o->message);
  } else if (o->status == LLM_CONTEXT_TOO_LONG) {
    reply_failure(c, "CONTEXT_TOO_LONG", o->message);
  } else {
    fail_status(c, o);
  }
  job_free(j);
}

static const llm_call_cbs openai_cbs = {on_token, on_done, on_read_end};

/* The call went away (cancel, deadline, lost connection). */
static void llm_detach(void *work) {
  llm_job *j = work;
  if (j->running_rules) {
    /* On a worker or queued: take it back if it has not started, else
     * let rules_done free it. */
    j->call = NULL;
    if (j->srv->app.ex->cancel(j->srv->app.ex, &j->ej) == 0)
      return; /* rules_done comes with ERR_CANCELLED and frees */
    return;
  }
  if (j->lc)
    llm_call_cancel(j->lc);
  job_free(j); /* stops the coalescing timer */
}

static void start(rpc_call *c, llm_LLMRequest *req, int stream) {
  llm_service *svc = c->srv->llm;
  llm_job *j = ocrpc_calloc(1, sizeof *j);
  j->call = c;
  j->srv = c->srv;
  j->req = req;
  j->stream = stream;
  j->t0_ns = clock_mono_ns();
  llm_result_init(&j->res);
  char msg[256];
  if (!svc) {
    rpc__call_fail(c, RPC_UNIMPLEMENTED, "llm.LLMService is not configured");
    job_free(j);
    return;
  }
  const char *engine = opt(req, "engine");
  if (!engine || !*engine)
    engine = llm_service_default_engine(svc);
  if (llm_service_has_engine(svc, engine))
    c->llm_engine = !strcmp(engine, "rules") ? "rules" : "openai";
  if (!req->text || !*req->text) {
    if (stream)
      rpc__call_fail(c, RPC_INVALID_ARGUMENT, "text is empty");
    else
      reply_failure(c, "INVALID_ARGUMENT", "text is empty");
    job_free(j);
    return;
  }
  llm_params p = {0};
  int bad = 0;
  if (!llm_service_has_engine(svc, engine)) {
    snprintf(msg, sizeof msg,
             "options[\"engine\"]: '%.64s' is not a configured engine (%s)", engine,
             llm_service_has_engine(svc, "openai") ? "rules, openai" : "rules");
    bad = 1;
  } else if (read_options(j, &p, msg, sizeof msg)) {
    bad = 1;
  }
  if (bad) {
    if (stream)
      rpc__call_fail(c, RPC_INVALID_ARGUMENT, msg);
    else
      reply_failure(c, "INVALID_ARGUMENT", msg);
    job_free(j);
    return;
  }
  snprintf(j->engine, sizeof j->engine, "%s", engine);
  c->work = j;
  c->detach = llm_detach;
  c->drained = llm_drained;
  if (!strcmp(engine, "rules")) {
    size_t len = strlen(req->text);
    if (len <= RULES_INLINE_BYTES) {
      j->rules_rc = llm_rules_analyze(req->text, len, &j->res);
      c->work = NULL;
      rules_answer(j);
      job_free(j);
      return;
    }
    j->running_rules = 1;
    j->ej.work = rules_work;
    j->ej.done = rules_done;
    if (c->srv->app.ex->submit(c->srv->app.ex, &j->ej)) {
      c->work = NULL;
      rpc__call_fail(c, RPC_UNAVAILABLE, "the server cannot take work now");
      job_free(j);
    }
    return;
  }
  int rc = llm_call_start(svc, &p, &openai_cbs, j, &j->lc);
  if (rc) {
    c->work = NULL;
    rpc__call_fail_err(
        c, rc, rc == ERR_UNAVAILABLE ? "too many LLM calls in flight and waiting" : NULL);
    job_free(j);
  }
}

void rpc__llm_analyze(rpc_call *c, void *req) { start(c, req, 0); }

void rpc__llm_analyze_stream(rpc_call *c, void *req) { start(c, req, 1); }
