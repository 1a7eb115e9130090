/* SPDX-License-Identifier: MIT */
/* Large request messages are decoded off the loop: the bytes go to the
 * server's decoder (an executor with a thread of its own), which inflates,
 * checks the repeated-field limits and runs nanopb there, and the call
 * continues on the loop with the decoded request. The call may go away
 * meanwhile; the job then only frees what it made. Loop thread, except
 * decode_work (the decoder's thread, which reads only the job and cfg). */
#include <pb_decode.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "base/log.h"
#include "rpc_internal.h"

typedef struct rpc_decode_job {
  exec_job ej;          /* first: the executor hands back &ej */
  rpc_call *call;       /* NULL once the call went away */
  atomic_int abandoned; /* set by the loop when the call goes: stop decoding */
  const rpc_method *method;
  const config *cfg;
  buf bytes; /* the message as it came (owned) */
  int compressed;
  /* The outcome: req (owned until handed over), or status and msg. */
  void *req;
  rpc_status status;
  char msg[256];
} rpc_decode_job;

static void job_free(rpc_decode_job *j) {
  if (j->req) {
    pb_release(j->method->req_fields, j->req);
    free(j->req);
  }
  buf_free(&j->bytes);
  free(j);
}

/* nanopb's buffer stream, plus a look at the abandoned flag on every read,
 * so a call that goes away (or a server that stops now) frees the decoder
 * within one field instead of after seconds. */
typedef struct abortable {
  const uint8_t *p;
  const atomic_int *abandoned;
} abortable;

static bool abortable_read(pb_istream_t *is, pb_byte_t *out, size_t n) {
  abortable *a = is->state;
  if (atomic_load_explicit(a->abandoned, memory_order_relaxed))
    PB_RETURN_ERROR(is, "abandoned");
  if (out)
    memcpy(out, a->p, n);
  a->p += n;
  return true;
}

/* The decoder's thread: the same steps decode_request takes inline. */
static void decode_work(exec_job *ej) {
  rpc_decode_job *j = (rpc_decode_job *)ej;
  const uint8_t *data = j->bytes.data;
  size_t len = j->bytes.len;
  buf plain = BUF_INIT;
  if (j->compressed) {
    int rc = rpc__gunzip(data, len, j->cfg->max_message_bytes, &plain);
    if (rc) {
      /* The same statuses and words as the inline path (rpc_call.c). */
      j->status = rpc_status_from_err(rc);
      snprintf(j->msg, sizeof j->msg, "%s",
               rc == ERR_MSG_TOO_LARGE ? "request message exceeds the limit once decompressed"
               : rc == ERR_PROTOCOL    ? "compressed message is not valid gzip"
                                       : err_text(rc));
      buf_free(&plain);
      return;
    }
    buf_free(&j->bytes); /* the compressed form is not needed any more */
    data = plain.data;
    len = plain.len;
  }
  if (j->method->check && j->method->check(j->cfg, data, len, j->msg, sizeof j->msg)) {
    j->status = RPC_RESOURCE_EXHAUSTED;
  } else {
    j->req = ocrpc_calloc(1, j->method->req_size);
    abortable a = {data, &j->abandoned};
    pb_istream_t is = {.callback = abortable_read, .state = &a, .bytes_left = len};
    if (!pb_decode(&is, j->method->req_fields, j->req)) {
      snprintf(j->msg, sizeof j->msg, "request does not parse: %s", PB_GET_ERROR(&is));
      free(j->req); /* pb_decode released what it allocated */
      j->req = NULL;
      j->status = RPC_INVALID_ARGUMENT;
    }
  }
  buf_free(&plain);
  buf_free(&j->bytes);
}

static void decode_done(exec_job *ej, int status) {
  rpc_decode_job *j = (rpc_decode_job *)ej;
  rpc_call *c = j->call;
  if (c) {
    log_debug("stream %d: request message decoded off the loop", c->stream_id);
    c->decoding = NULL;
    if (status) {
      rpc__call_decode_failed(c, RPC_UNAVAILABLE, "the server is shutting down");
    } else if (!j->req) {
      rpc__call_decode_failed(c, j->status, j->msg);
    } else {
      void *req = j->req;
      j->req = NULL;
      rpc__call_decoded(c, req);
    }
  }
  job_free(j);
}

int rpc__decode_submit(rpc_call *c, const uint8_t *data, size_t len, int compressed) {
  rpc_decode_job *j = ocrpc_calloc(1, sizeof *j);
  buf *msg = &c->deframer.msg;
  if (data == msg->data && len == msg->len) {
    j->bytes = *msg; /* take the reassembled message over: no copy */
    *msg = (buf)BUF_INIT;
  } else {
    buf_append(&j->bytes, data, len);
  }
  j->ej.work = decode_work;
  j->ej.done = decode_done;
  j->call = c;
  j->method = c->method;
  j->cfg = c->srv->cfg;
  j->compressed = compressed;
  log_debug("stream %d: decoding a request message of %zu bytes off the loop", c->stream_id,
            len);
  /* Set before submit: an executor may run the job and call done (which
   * frees j) before submit returns. */
  c->decoding = j;
  const rpc_transport *tr = c->srv->tr;
  if (tr->pause_read) /* nothing more is read until it is decoded */
    tr->pause_read(c->conn, c->stream_id, 1);
  exec *dec = c->srv->decoder;
  if (dec->submit(dec, &j->ej)) {
    /* No decoder thread: inline, as without one. The bytes go back where
     * they came from when they were taken over. */
    c->decoding = NULL;
    if (tr->pause_read)
      tr->pause_read(c->conn, c->stream_id, 0);
    if (j->bytes.data != data) {
      buf_free(&j->bytes);
    } else {
      *msg = j->bytes;
    }
    free(j);
    return 1;
  }
  return 0;
}

void rpc__decode_orphan(rpc_call *c) {
  rpc_decode_job *j = c->decoding;
  if (!j)
    return;
  c->decoding = NULL;
  j->call = NULL;
  atomic_store_explicit(&j->abandoned, 1, memory_order_relaxed);
  c->srv->decoder->cancel(c->srv->decoder, &j->ej); /* done frees it either way */
}
