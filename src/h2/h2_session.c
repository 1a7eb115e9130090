/* SPDX-License-Identifier: MIT */
/* The nghttp2 server session wrapper: keeps its own stream table (nghttp2
 * does not report open streams when a session is deleted), collects each
 * request's header block, and serves response bodies from a per-stream
 * buffer through a deferred data provider. Loop thread only. */
#include "h2.h"

#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/list.h"

typedef struct h2_stream h2_stream;

#define H2_MAX_TRAILERS 8

struct h2_stream {
  int32_t id;
  void *ud;
  h2_stream *prev, *next;
  /* Request header block: "name\0value\0" pairs while it arrives. */
  buf hdr_bytes;
  size_t hdr_count;
  size_t hdr_list_size;     /* as SETTINGS_MAX_HEADER_LIST_SIZE counts it */
  size_t trailer_list_size; /* the same, for the client's trailers */
  int request_seen;
  int hdr_overflow; /* the request's header block passed the limit */
  /* Flow control by hand: received body bytes are consumed (reopening the
   * client's window) at once, unless the upper layer paused reading. */
  int read_paused;
  size_t unconsumed;
  /* Response body not yet given to nghttp2, from out_off on. */
  buf out;
  size_t out_off;
  /* Trailers, kept until the body is out: names and values copied into
   * one buffer (one allocation per stream, not two per field). */
  nghttp2_nv trailers[H2_MAX_TRAILERS];
  size_t ntrailers;
  buf trailer_bytes;
  int responded;
  int deferred;   /* the data provider is parked: resume on new bytes */
  int want_drain; /* report on_drain when `out` empties */
  int ended;      /* trailers queued */
};

struct h2_session {
  nghttp2_session *ng;
  h2_callbacks cbs;
  void *ud;
  h2_stream *streams; /* every stream we created, for teardown */
  uint32_t max_header_list_size;
  /* Streams whose body emptied while someone waited: reported after
   * nghttp2_session_mem_send returns, by id (a stream may close first). */
  int32_t *drained;
  size_t ndrained, drained_cap;
  int shutdown_ping;       /* waiting for the PING ack that precedes GOAWAY */
  int keepalive_ping;      /* a keepalive PING is unanswered */
  int terminated;          /* GOAWAY sent for good: stop after writing it */
  int peer_settings;       /* the client's first SETTINGS arrived */
  int32_t last_client_sid; /* highest stream id the client has opened */
  size_t nstreams;
  uint64_t min_ping_interval_ms;
  uint32_t max_ping_strikes, ping_strikes;
  uint64_t last_ping_ms; /* when the client's last PING came; 0: none */
  int rid_indexed;       /* an x-request-id entry went into the HPACK table */
};

static void stream_free(h2_stream *st) {
  buf_free(&st->hdr_bytes);
  buf_free(&st->out);
  buf_free(&st->trailer_bytes);
  free(st);
}

static void stream_unlink(h2_session *s, h2_stream *st) { DLIST_UNLINK(s->streams, st); }

static h2_stream *find_stream(h2_session *s, int32_t id) {
  return nghttp2_session_get_stream_user_data(s->ng, id);
}

/* RFC 9113 5.1.1: a new stream's id must be higher than every id the
 * client used before; HEADERS on a lower id that is not an open stream
 * (trailers are) is a connection error PROTOCOL_ERROR. nghttp2 1.52
 * silently drops such frames, so it is checked here, as each frame
 * begins. */
static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd,
                          void *user_data) {
  h2_session *s = user_data;
  if (hd->type != NGHTTP2_HEADERS || hd->stream_id <= 0)
    return 0;
  if (hd->stream_id > s->last_client_sid) {
    if (hd->stream_id & 1)
      s->last_client_sid = hd->stream_id;
    return 0;
  }
  nghttp2_stream *st = nghttp2_session_find_stream(ng, hd->stream_id);
  if (st && nghttp2_stream_get_state(st) != NGHTTP2_STREAM_STATE_CLOSED)
    return 0;
  h2_session_terminate(s, NGHTTP2_PROTOCOL_ERROR,
                       "stream id not higher than one used before");
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
                            void *user_data) {
  h2_session *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  h2_stream *st = calloc(1, sizeof *st);
  if (!st)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  st->id = frame->hd.stream_id;
  s->nstreams++;
  DLIST_PUSH(s->streams, st);
  nghttp2_session_set_stream_user_data(ng, st->id, st);
  return 0;
}

/* How far past max_header_list_size a block may go before the stream is
 * reset instead of answered: every field costs nghttp2 a validation pass
 * over its bytes even when we drop it, so a bound on the bytes we let it
 * check bounds the loop time a header block can take. */
#define H2_HEADER_BOMB_FACTOR 4

/* Resets the stream with ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED for gRPC
 * clients, PROTOCOL-HTTP2.md) and has nghttp2 skip the rest of the block
 * without emitting its fields; our RST comes first, so nghttp2 adds no
 * INTERNAL_ERROR one of its own. */
static int refuse_block(h2_session *s, h2_stream *st) {
  nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_ENHANCE_YOUR_CALM);
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data) {
  (void)ng;
  (void)flags;
  h2_session *s = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  h2_stream *st = find_stream(s, frame->hd.stream_id);
  if (!st)
    return 0;
  size_t field = namelen + valuelen + 32; /* counted as HPACK does */
  if (st->request_seen) {
    /* Trailers from a client: gRPC requests carry none we need, but they
     * are held to the same limit as they arrive, or one block of
     * references to a big HPACK table entry costs the loop ~0.2 s (HPACK
     * bomb). */
    st->trailer_list_size += field;
    return st->trailer_list_size > s->max_header_list_size ? refuse_block(s, st) : 0;
  }
  if (st->hdr_overflow || st->hdr_list_size + field > s->max_header_list_size) {
    /* Over the limit: the fields that fit are kept, the rest only
     * counted, and the request is delivered marked when the block ends
     * (h2_stream_header_overflow), for the upper layer to answer. A
     * block far over the limit is an attack: reset at once. */
    st->hdr_overflow = 1;
    st->hdr_list_size += field;
    return st->hdr_list_size > H2_HEADER_BOMB_FACTOR * (size_t)s->max_header_list_size
               ? refuse_block(s, st)
               : 0;
  }
  st->hdr_list_size += field;
  if (buf_reserve(&st->hdr_bytes, namelen + valuelen + 2))
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  uint8_t *p = st->hdr_bytes.data + st->hdr_bytes.len;
  memcpy(p, name, namelen);
  p[namelen] = 0;
  memcpy(p + namelen + 1, value, valuelen);
  p[namelen + 1 + valuelen] = 0;
  st->hdr_bytes.len += namelen + valuelen + 2;
  st->hdr_count++;
  return 0;
}

static int deliver_request(h2_session *s, h2_stream *st) {
  st->request_seen = 1;
  hdr stack[32];
  stack[0] = (hdr){0}; /* a request may have no field at all */
  hdr *hs = st->hdr_count <= 32 ? stack : calloc(st->hdr_count, sizeof *hs);
  if (!hs)
    return ERR_NOMEM;
  const char *p = (const char *)st->hdr_bytes.data;
  for (size_t i = 0; i < st->hdr_count; i++) {
    hs[i].name = p;
    hs[i].name_len = strlen(p);
    p += hs[i].name_len + 1;
    hs[i].value = p;
    hs[i].value_len = strlen(p);
    p += hs[i].value_len + 1;
  }
  int rc = s->cbs.on_request(s->ud, st->id, hs, st->hdr_count, &st->ud);
  if (hs != stack)
    free(hs);
  buf_free(&st->hdr_bytes);
  return rc;
}

/* A client may ping, but not faster than the policy allows while we send
 * nothing: each early PING is a strike, and too many end the connection,
 * as gRPC servers do (doc/keepalive.md). */
static void check_ping_rate(h2_session *s) {
  uint64_t now = clock_mono_ms();
  if (s->last_ping_ms && now - s->last_ping_ms < s->min_ping_interval_ms &&
      ++s->ping_strikes > s->max_ping_strikes)
    h2_session_terminate(s, NGHTTP2_ENHANCE_YOUR_CALM, "too_many_pings");
  s->last_ping_ms = now;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data) {
  h2_session *s = user_data;
  /* Sending HEADERS or DATA shows the connection is in use: pings from the
   * client are fine again. */
  if (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) {
    s->ping_strikes = 0;
    s->last_ping_ms = 0;
    /* We finished before the client did: tell it to stop sending, as
     * gRPC servers do (after the trailers, so they are not overtaken). */
    int32_t id = frame->hd.stream_id;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(ng, id) == 0)
      nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user_data) {
  h2_session *s = user_data;
  int32_t id = frame->hd.stream_id;
  if (frame->hd.type == NGHTTP2_PING) {
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      check_ping_rate(s);
    } else if (s->shutdown_ping) {
      s->shutdown_ping = 0;
      h2_session_goaway(s, NGHTTP2_NO_ERROR, NULL);
    } else {
      s->keepalive_ping = 0;
    }
    return 0;
  }
  if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
    s->peer_settings = 1;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  h2_stream *st = find_stream(s, id);
  if (!st)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && !st->request_seen &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (deliver_request(s, st)) {
      nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
      return 0;
    }
  }
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && st->request_seen && st->ud)
    s->cbs.on_end(s->ud, st->ud);
  return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id,
                         const uint8_t *data, size_t len, void *user_data) {
  (void)flags;
  h2_session *s = user_data;
  h2_stream *st = find_stream(s, id);
  if (st && st->read_paused)
    st->unconsumed += len; /* the window stays shut: the client waits */
  else
    nghttp2_session_consume(ng, id, len);
  if (!st || !st->ud)
    return 0;
  if (s->cbs.on_data(s->ud, st->ud, data, len))
    nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
  return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code,
                           void *user_data) {
  (void)ng;
  h2_session *s = user_data;
  h2_stream *st = find_stream(s, id);
  if (!st)
    return 0;
  nghttp2_session_set_stream_user_data(ng, id, NULL);
  stream_unlink(s, st);
  s->nstreams--;
  if (st->unconsumed) /* the connection's window is shared: give it back */
    nghttp2_session_consume_connection(ng, st->unconsumed);
  if (st->ud)
    s->cbs.on_close(s->ud, st->ud, error_code);
  stream_free(st);
  return 0;
}

static void queue_drained(h2_session *s, int32_t id) {
  if (s->ndrained == s->drained_cap) {
    size_t cap = s->drained_cap ? s->drained_cap * 2 : 16;
    int32_t *p = realloc(s->drained, cap * sizeof *p);
    if (!p)
      return; /* the waiter is woken by its next completion instead */
    s->drained = p;
    s->drained_cap = cap;
  }
  s->drained[s->ndrained++] = id;
}

static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *dst, size_t len,
                         uint32_t *flags, nghttp2_data_source *src, void *user_data) {
  h2_stream *st = src->ptr;
  size_t avail = st->out.len - st->out_off;
  size_t n = avail < len ? avail : len;
  if (n) {
    memcpy(dst, st->out.data + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out.len) {
      buf_reset(&st->out);
      st->out_off = 0;
    }
  }
  if (st->out.len - st->out_off == 0) {
    if (st->want_drain) {
      st->want_drain = 0;
      queue_drained(user_data, st->id);
    }
    if (st->ended) {
      /* END_STREAM must ride on the trailers, not on an empty DATA frame:
       * grpc-go otherwise reports a stream closed without trailers. */
      *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
      if (nghttp2_submit_trailer(ng, id, st->trailers, st->ntrailers))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    } else if (n == 0) {
      st->deferred = 1;
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  return (ssize_t)n;
}

int h2_session_new(const h2_settings *settings, const h2_callbacks *cbs, void *ud,
                   h2_session **out) {
  h2_session *s = calloc(1, sizeof *s);
  if (!s)
    return ERR_NOMEM;
  s->cbs = *cbs;
  s->ud = ud;
  s->max_header_list_size = settings->max_header_list_size;
  s->min_ping_interval_ms = settings->min_ping_interval_ms;
  s->max_ping_strikes = settings->max_ping_strikes;

  nghttp2_session_callbacks *ncb;
  if (nghttp2_session_callbacks_new(&ncb))
    goto fail_session;
  nghttp2_session_callbacks_set_on_begin_headers_callback(ncb, on_begin_headers);
  nghttp2_session_callbacks_set_on_begin_frame_callback(ncb, on_begin_frame);
  nghttp2_session_callbacks_set_on_header_callback(ncb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(ncb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(ncb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(ncb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(ncb, on_frame_send);

  nghttp2_option *opt;
  if (nghttp2_option_new(&opt))
    goto fail_callbacks;
  /* The upper layer bounds what it buffers by the message-size limit,
   * checked from the length prefix. */
  nghttp2_option_set_max_send_header_block_length(opt, 256 * 1024);
  /* Window updates by hand (on_data_chunk), so a stream whose responses
   * are not read can stop the client sending (h2_stream_pause_read). */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  int rc = nghttp2_session_server_new2(&s->ng, ncb, s, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(ncb);
  if (rc)
    goto fail_session;

  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings->max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, settings->initial_window_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, settings->max_header_list_size},
  };
  if (nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) ||
      nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0,
                                            (int32_t)settings->connection_window_size))
    goto fail_ng;
  *out = s;
  return 0;

fail_ng:
  nghttp2_session_del(s->ng);
  free(s);
  return ERR_PROTOCOL;
fail_callbacks:
  nghttp2_session_callbacks_del(ncb);
fail_session:
  free(s);
  return ERR_NOMEM;
}

void h2_session_free(h2_session *s) {
  if (!s)
    return;
  while (s->streams) {
    h2_stream *st = s->streams;
    stream_unlink(s, st);
    nghttp2_session_set_stream_user_data(s->ng, st->id, NULL);
    if (st->ud)
      s->cbs.on_close(s->ud, st->ud, H2_CONNECTION_GONE);
    stream_free(st);
  }
  nghttp2_session_del(s->ng);
  free(s->drained);
  free(s);
}

int h2_session_feed(h2_session *s, const uint8_t *data, size_t len) {
  if (s->terminated)
    return 0; /* nothing more is read once we said goodbye */
  ssize_t n = nghttp2_session_mem_recv(s->ng, data, len);
  if (n < 0 || (size_t)n != len) {
    /* nghttp2 queues GOAWAY for the protocol errors it handles as such;
     * for the fatal ones it only returns (limits: SETTINGS entries,
     * CONTINUATION frames, floods). RFC 9113 5.4.1: say why before
     * closing. A GOAWAY already queued makes this a no-op. */
    uint32_t code = NGHTTP2_PROTOCOL_ERROR;
    const char *why = "protocol error";
    switch (n) {
    case NGHTTP2_ERR_TOO_MANY_SETTINGS:
      code = NGHTTP2_ENHANCE_YOUR_CALM;
      why = "too many SETTINGS entries";
      break;
    case NGHTTP2_ERR_TOO_MANY_CONTINUATIONS:
      code = NGHTTP2_ENHANCE_YOUR_CALM;
      why = "too many CONTINUATION frames";
      break;
    case NGHTTP2_ERR_FLOODED:
      why = "flooded";
      break;
    case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
      why = "bad connection preface";
      break;
    case NGHTTP2_ERR_CALLBACK_FAILURE:
    case NGHTTP2_ERR_NOMEM:
      code = NGHTTP2_INTERNAL_ERROR;
      why = "internal error";
      break;
    }
    h2_session_terminate(s, code, why);
    return ERR_PROTOCOL;
  }
  return 0;
}

ssize_t h2_session_pull(h2_session *s, const uint8_t **data) {
  ssize_t n = nghttp2_session_mem_send(s->ng, data);
  if (n < 0)
    return n == NGHTTP2_ERR_NOMEM ? ERR_NOMEM : ERR_PROTOCOL;
  if (n == 0 && s->ndrained) {
    /* Waiters may queue more body; then nghttp2 has new frames to give. */
    size_t n0 = s->ndrained;
    for (size_t i = 0; i < n0; i++) {
      h2_stream *st = find_stream(s, s->drained[i]);
      if (st && st->ud && s->cbs.on_drain)
        s->cbs.on_drain(s->ud, st->ud);
    }
    /* Keep what the waiters asked for while being woken. */
    memmove(s->drained, s->drained + n0, (s->ndrained - n0) * sizeof *s->drained);
    s->ndrained -= n0;
    n = nghttp2_session_mem_send(s->ng, data);
    if (n < 0)
      return n == NGHTTP2_ERR_NOMEM ? ERR_NOMEM : ERR_PROTOCOL;
  }
  return n;
}

int h2_session_alive(h2_session *s) {
  if (s->terminated)
    return nghttp2_session_want_write(s->ng);
  return nghttp2_session_want_read(s->ng) || nghttp2_session_want_write(s->ng);
}

int h2_session_terminate(h2_session *s, uint32_t error_code, const char *debug) {
  if (s->terminated)
    return 0;
  s->terminated = 1;
  return h2_session_goaway(s, error_code, debug);
}

int h2_session_ping(h2_session *s) {
  if (nghttp2_submit_ping(s->ng, NGHTTP2_FLAG_NONE, NULL))
    return ERR_PROTOCOL;
  s->keepalive_ping = 1;
  return 0;
}

int h2_session_ping_outstanding(const h2_session *s) { return s->keepalive_ping; }

size_t h2_session_streams(const h2_session *s) { return s->nstreams; }

int h2_session_handshake_done(const h2_session *s) { return s->peer_settings; }

int h2_session_shutdown_pending(const h2_session *s) { return s->shutdown_ping; }

/* nghttp2 copies header arrays on submit, so borrowed names suffice there.
 * x-request-id differs on every response: indexed each time, it would push
 * the headers every response repeats out of the HPACK table. The first one
 * of a session goes into the table, so that later ones (never indexed)
 * refer to its name there and only their value is encoded. */
static void borrow_nv(h2_session *s, nghttp2_nv *nv, const hdr *hdrs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    nv[i].name = (uint8_t *)hdrs[i].name;
    nv[i].namelen = hdrs[i].name_len;
    nv[i].value = (uint8_t *)hdrs[i].value;
    nv[i].valuelen = hdrs[i].value_len;
    nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    if (HDR_IS(&hdrs[i], "x-request-id")) {
      if (s->rid_indexed)
        nv[i].flags = NGHTTP2_NV_FLAG_NO_INDEX;
      s->rid_indexed = 1;
    }
  }
}

int h2_respond(h2_session *s, int32_t stream_id, const hdr *hdrs, size_t n,
               int end_stream) {
  h2_stream *st = find_stream(s, stream_id);
  if (!st || st->responded || n > 64)
    return ERR_INVAL;
  nghttp2_nv nv[64];
  borrow_nv(s, nv, hdrs, n);
  nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
  int rc = nghttp2_submit_response(s->ng, stream_id, nv, n, end_stream ? NULL : &prd);
  if (rc)
    return rc == NGHTTP2_ERR_NOMEM ? ERR_NOMEM : ERR_INVAL;
  st->responded = 1;
  if (end_stream)
    st->ended = 1;
  return 0;
}

static void resume(h2_session *s, h2_stream *st) {
  if (st->deferred) {
    st->deferred = 0;
    nghttp2_session_resume_data(s->ng, st->id);
  }
}

int h2_send_data(h2_session *s, int32_t stream_id, const uint8_t *data, size_t len) {
  h2_stream *st = find_stream(s, stream_id);
  if (!st || !st->responded || st->ended)
    return ERR_INVAL;
  if (buf_append(&st->out, data, len))
    return ERR_NOMEM;
  resume(s, st);
  return 0;
}

int h2_send_buf(h2_session *s, int32_t stream_id, buf *b) {
  h2_stream *st = find_stream(s, stream_id);
  if (!st || !st->responded || st->ended)
    return ERR_INVAL;
  if (st->out.len == st->out_off) {
    /* Nothing queued: take the caller's bytes instead of copying them,
     * and hand back our (empty) buffer for reuse. */
    buf mine = st->out;
    st->out = *b;
    st->out_off = 0;
    mine.len = 0;
    *b = mine;
  } else if (buf_append(&st->out, b->data, b->len)) {
    return ERR_NOMEM;
  } else {
    b->len = 0;
  }
  resume(s, st);
  return 0;
}

int h2_send_trailers(h2_session *s, int32_t stream_id, const hdr *hdrs, size_t n) {
  h2_stream *st = find_stream(s, stream_id);
  if (!st || !st->responded || st->ended || n > H2_MAX_TRAILERS)
    return ERR_INVAL;
  size_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += hdrs[i].name_len + hdrs[i].value_len;
  if (buf_reserve(&st->trailer_bytes, total))
    return ERR_NOMEM;
  /* Reserved once, so the pointers below stay valid. */
  for (size_t i = 0; i < n; i++) {
    uint8_t *name = st->trailer_bytes.data + st->trailer_bytes.len;
    buf_append(&st->trailer_bytes, hdrs[i].name, hdrs[i].name_len);
    uint8_t *value = st->trailer_bytes.data + st->trailer_bytes.len;
    buf_append(&st->trailer_bytes, hdrs[i].value, hdrs[i].value_len);
    st->trailers[i] = (nghttp2_nv){name, value, hdrs[i].name_len, hdrs[i].value_len,
                                   NGHTTP2_NV_FLAG_NONE};
  }
  st->ntrailers = n;
  st->ended = 1;
  resume(s, st);
  return 0;
}

int h2_reset(h2_session *s, int32_t stream_id, uint32_t error_code) {
  if (!find_stream(s, stream_id))
    return ERR_INVAL;
  return nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, stream_id, error_code)
             ? ERR_INVAL
             : 0;
}

void h2_stream_pause_read(h2_session *s, int32_t stream_id, int paused) {
  h2_stream *st = find_stream(s, stream_id);
  if (!st || st->read_paused == !!paused)
    return;
  st->read_paused = !!paused;
  if (!paused && st->unconsumed) {
    nghttp2_session_consume(s->ng, stream_id, st->unconsumed);
    st->unconsumed = 0;
  }
}

int h2_stream_header_overflow(h2_session *s, int32_t stream_id) {
  h2_stream *st = find_stream(s, stream_id);
  return st && st->hdr_overflow;
}

size_t h2_stream_pending(h2_session *s, int32_t stream_id) {
  h2_stream *st = find_stream(s, stream_id);
  return st ? st->out.len - st->out_off : 0;
}

int h2_session_shutdown(h2_session *s) {
  if (nghttp2_submit_shutdown_notice(s->ng) ||
      nghttp2_submit_ping(s->ng, NGHTTP2_FLAG_NONE, NULL))
    return ERR_PROTOCOL;
  s->shutdown_ping = 1;
  return 0;
}

void h2_stream_notify_drain(h2_session *s, int32_t stream_id) {
  h2_stream *st = find_stream(s, stream_id);
  if (!st)
    return;
  if (st->out.len - st->out_off == 0)
    queue_drained(s, st->id);
  else
    st->want_drain = 1;
}

int h2_session_goaway(h2_session *s, uint32_t error_code, const char *debug) {
  int32_t last = nghttp2_session_get_last_proc_stream_id(s->ng);
  size_t dlen = debug ? strlen(debug) : 0;
  return nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, last, error_code,
                               (const uint8_t *)debug, dlen)
             ? ERR_PROTOCOL
             : 0;
}
