/* SPDX-License-Identifier: MIT */
/* HTTP/2 server session over nghttp2, with no I/O: the loop feeds the bytes
 * it read (h2_session_feed) and writes what h2_session_pull gives. Request
 * events go up through h2_callbacks; responses go down through h2_respond,
 * h2_send_data, h2_send_trailers and h2_reset. Loop thread only. */
#ifndef OCRPC_H2_H
#define OCRPC_H2_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/hdr.h"

typedef struct h2_session h2_session;

/* HTTP/2 error codes the upper layers name. */
enum {
  H2_NO_ERROR = 0x0,
  H2_PROTOCOL_ERROR = 0x1,
  H2_INTERNAL_ERROR = 0x2,
  H2_REFUSED_STREAM = 0x7,
  H2_CANCEL = 0x8,
  H2_ENHANCE_YOUR_CALM = 0xb,
  /* Not on the wire: the connection went away with the stream open. */
  H2_CONNECTION_GONE = 0x1000
};

typedef struct h2_settings {
  uint32_t max_concurrent_streams;
  /* Per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE) and the
   * connection's window: large, so a multi-megabyte upload is not throttled
   * to 64 KiB per round trip. */
  uint32_t initial_window_size;
  uint32_t connection_window_size;
  /* Largest request header block (sum of name + value + 32 per field). */
  uint32_t max_header_list_size;
  /* Ping policy, as gRPC servers enforce it: a client PING sooner than
   * min_ping_interval_ms after the previous one, with no HEADERS or DATA
   * sent by us in between, is a strike; more than max_ping_strikes strikes
   * end the connection with GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
  uint64_t min_ping_interval_ms;
  uint32_t max_ping_strikes;
} h2_settings;

typedef struct h2_callbacks {
  /* A request's header block is complete. `hdrs` (pseudo-headers first, as
   * received) is borrowed until the callback returns. Set *stream_ud to the
   * upper layer's stream object. Returning non-zero resets the stream with
   * INTERNAL_ERROR. */
  int (*on_request)(void *ud, int32_t stream_id, const hdr *hdrs, size_t n,
                    void **stream_ud);
  /* Request body bytes, borrowed until the callback returns. Returning
   * non-zero resets the stream with INTERNAL_ERROR. */
  int (*on_data)(void *ud, void *stream_ud, const uint8_t *data, size_t len);
  /* The client half-closed the stream (END_STREAM). */
  void (*on_end)(void *ud, void *stream_ud);
  /* The stream is gone (finished, reset by either side, or the session is
   * being freed: H2_CONNECTION_GONE). After this the stream id is invalid
   * and stream_ud is never passed again. */
  void (*on_close)(void *ud, void *stream_ud, uint32_t error_code);
  /* The stream's queued body was handed to nghttp2 completely, after
   * h2_stream_notify_drain asked for it. Called from h2_session_pull,
   * outside nghttp2's callbacks, so the upper layer may queue more. */
  void (*on_drain)(void *ud, void *stream_ud);
} h2_callbacks;

/* Creates a server session and queues our SETTINGS. `cbs` is copied; `ud`
 * is passed to every callback. Returns 0 or ERR_PROTOCOL. */
int h2_session_new(const h2_settings *settings, const h2_callbacks *cbs, void *ud,
                   h2_session **out);

/* Frees the session. Every stream still open gets on_close with
 * H2_CONNECTION_GONE first, so upper layers can detach their work.
 * NULL is a no-op. */
void h2_session_free(h2_session *s);

/* Processes bytes read from the socket. Returns 0, or ERR_PROTOCOL when the
 * peer broke the protocol: the session then has a GOAWAY queued; pull it,
 * write it, and close the connection. Callbacks run inside this call. */
int h2_session_feed(h2_session *s, const uint8_t *data, size_t len);

/* Gives the next bytes to write: sets *data (valid until the next call on
 * the session) and returns their length; 0 when there is nothing to write;
 * ERR_PROTOCOL on a fatal error. */
ssize_t h2_session_pull(h2_session *s, const uint8_t **data);

/* 1 while the session wants to read or write; 0 when it is finished
 * (GOAWAY exchanged or the session terminated, and nothing left to
 * write), and the connection can close. */
int h2_session_alive(h2_session *s);

/* Sends response headers. With end_stream the headers end the stream
 * (gRPC Trailers-Only); otherwise a body follows via h2_send_data and
 * h2_send_trailers. Headers are copied. Returns 0, ERR_INVAL (unknown or
 * closed stream, headers already sent). */
int h2_respond(h2_session *s, int32_t stream_id, const hdr *hdrs, size_t n, int end_stream);

/* Queues body bytes (copied) after h2_respond. Returns 0 or ERR_INVAL. */
int h2_send_data(h2_session *s, int32_t stream_id, const uint8_t *data, size_t len);

/* Queues body bytes held in *b, taking them over without a copy when the
 * stream has nothing queued; *b then holds an empty buffer (possibly with
 * capacity) that the caller still owns and frees. Returns 0 or ERR_INVAL. */
int h2_send_buf(h2_session *s, int32_t stream_id, buf *b);

/* Ends the stream with trailers (at most 8) after the queued body. Copied. Returns 0
 * or ERR_INVAL. */
int h2_send_trailers(h2_session *s, int32_t stream_id, const hdr *hdrs, size_t n);

/* Resets the stream with an HTTP/2 error code. 0 or ERR_INVAL. */
int h2_reset(h2_session *s, int32_t stream_id, uint32_t error_code);

/* With paused != 0, body bytes received on the stream stop reopening the
 * client's flow-control windows (stream and connection), so the client
 * stops sending once they are used up; with 0, what was held back is
 * released. Bytes already in flight still reach on_data. Unknown stream:
 * no-op. */
void h2_stream_pause_read(h2_session *s, int32_t stream_id, int paused);

/* 1 when the stream's request header block passed max_header_list_size:
 * on_request then got the fields that fit, for the upper layer to refuse
 * the request. A block over 4 times the limit, or client trailers over
 * it, reset the stream with ENHANCE_YOUR_CALM instead, as they arrive. A
 * single field over 64 KiB is a connection error (COMPRESSION_ERROR) in
 * nghttp2's HPACK decoder before any of this. */
int h2_stream_header_overflow(h2_session *s, int32_t stream_id);

/* Bytes queued on a stream's body and not yet handed to nghttp2. */
size_t h2_stream_pending(h2_session *s, int32_t stream_id);

/* Sends a keepalive PING. Returns 0 or ERR_PROTOCOL. */
int h2_session_ping(h2_session *s);

/* 1 while a PING sent by h2_session_ping has not been acknowledged. */
int h2_session_ping_outstanding(const h2_session *s);

/* 1 once the client's connection preface and first SETTINGS frame have
 * been received (RFC 9113 3.4). */
int h2_session_handshake_done(const h2_session *s);

/* Streams open now (requests received and not closed). */
size_t h2_session_streams(const h2_session *s);

/* Ends the session: GOAWAY with the code and debug text, then nothing
 * more is read; h2_session_alive turns 0 once it is written. */
int h2_session_terminate(h2_session *s, uint32_t error_code, const char *debug);

/* Asks for one on_drain call when the stream's queued body is empty. */
void h2_stream_notify_drain(h2_session *s, int32_t stream_id);

/* Sends a GOAWAY with the last stream id processed; streams already open
 * finish. */
int h2_session_goaway(h2_session *s, uint32_t error_code, const char *debug);

/* Graceful shutdown: a shutdown notice (GOAWAY with the largest stream id)
 * and a PING; when the PING is acknowledged, the real GOAWAY with the last
 * stream id processed, so requests already on the wire are not lost. */
int h2_session_shutdown(h2_session *s);

/* 1 from h2_session_shutdown until the peer acknowledges its PING (then
 * the real GOAWAY is queued), else 0. */
int h2_session_shutdown_pending(const h2_session *s);

#endif
