/* SPDX-License-Identifier: MIT */
/* An HTTP/1.1 server session without I/O: bytes the socket read go in
 * (h1_session_feed), bytes to write come out (h1_session_pull), complete
 * requests go up through a callback. Requests are parsed by http-parser
 * (Debian libhttp-parser-dev); keep-alive, pipelining (answered in order:
 * the next request is read only once the current one is answered),
 * Content-Length and chunked bodies, Expect: 100-continue, HTTP/1.0 and
 * Connection: close. Limits are enforced here; timeouts are the caller's
 * timers, driven by h1_session_phase. Loop thread only. */
#ifndef OCRPC_H1_H
#define OCRPC_H1_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/hdr.h"

typedef struct h1_session h1_session;

typedef struct h1_settings {
  /* Request line plus header block, in bytes: over it the request is
   * refused with 431 and the connection closed. http-parser also stops
   * at its own build-time maximum (80 KiB in Debian's build). */
  uint64_t max_header_bytes;
  /* Request body: a declared Content-Length over it is refused with 413
   * before any body byte is read; a chunked body as soon as it passes. */
  uint64_t max_body_bytes;
} h1_settings;

/* Header lines a request may carry. */
#define H1_MAX_HEADERS 100

/* One complete request. Everything is borrowed from the session until
 * h1_session_respond answers it (or the session is freed). */
typedef struct h1_request {
  const char *method; /* "GET", "POST", ... (static storage) */
  const char *path;   /* the target up to '?', NUL-terminated */
  size_t path_len;
  const char *query; /* after '?', NUL-terminated; "" when none */
  size_t query_len;
  const hdr *headers; /* names lower-cased */
  size_t nheaders;
  const uint8_t *body; /* de-chunked; NULL when empty */
  size_t body_len;
  int http_minor; /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
} h1_request;

typedef struct h1_callbacks {
  /* A complete request arrived; answer it with h1_session_respond, now or
   * later. No further request is delivered before that. */
  void (*on_request)(void *ud, const h1_request *req);
  /* Optional (NULL: not told). The session is refusing a request itself,
   * before it is complete (400 malformed, 413, 417, 431, 505, 500 out of
   * memory): status is the code about to be queued with a JSON body of
   * body_len bytes, then the connection closes. req says what was read:
   * method and path NULL unless the request line was read whole (path
   * and query then as in a delivered request), headers only once the
   * header block was read whole (nheaders 0 before), body NULL. Borrowed
   * for the call only; do not answer from it. For metrics and logs. */
  void (*on_refused)(void *ud, int status, const h1_request *req, size_t body_len);
} h1_callbacks;

/* Where the session is, for the caller's timers. */
typedef enum h1_phase {
  H1_IDLE = 0, /* between requests (keep-alive idle timeout) */
  H1_HEADERS,  /* part of a request line or header block read */
  H1_BODY,     /* headers read, body still coming */
  H1_WAITING   /* a request is being answered */
} h1_phase;

/* Creates a session. st and cb are copied; ud is passed to callbacks.
 * Returns 0 or ERR_NOMEM. */
int h1_session_new(const h1_settings *st, const h1_callbacks *cb, void *ud,
                   h1_session **out);

/* Frees the session; NULL is a no-op. Requests not answered are dropped. */
void h1_session_free(h1_session *s);

/* Bytes read from the socket (borrowed). Parses as far as it may and
 * delivers each complete request; bytes after a request still to be
 * answered are kept (at most one request's worth, see h1_session_full).
 * Call with len 0 to go on parsing what was kept once a request was
 * answered. Returns 0, or ERR_PROTOCOL when the connection must close
 * once the output is written (malformed request: 400; header block too
 * large: 431; body too large: 413 — the answer is already queued). */
int h1_session_feed(h1_session *s, const uint8_t *data, size_t len);

/* The peer will send nothing more (EOF): the session answers what it has
 * and then wants to close. */
void h1_session_eof(h1_session *s);

/* The server drains: an idle connection wants to close now, one with a
 * request under way after its answer (Connection: close). */
void h1_session_drain(h1_session *s);

/* Answers the request being served: status line, hdrs (borrowed; the
 * session adds Content-Length and Connection), body (borrowed, len
 * bytes; omitted for HEAD). Returns 0, ERR_INVAL when no request waits
 * for an answer, or ERR_NOMEM. Do not call from inside on_request's
 * parsing of a later request: answers go out in request order anyway,
 * since only one request is delivered at a time. */
int h1_session_respond(h1_session *s, int status, const hdr *hdrs, size_t n,
                       const uint8_t *body, size_t len);

/* Moves the bytes to write onto the end of out. 0 or ERR_NOMEM. */
int h1_session_pull(h1_session *s, buf *out);

h1_phase h1_session_phase(const h1_session *s);

/* Requests begun on this connection so far (a new one restarts the
 * caller's header timer even when the phase looks unchanged). */
uint64_t h1_session_requests(const h1_session *s);

/* 1 when input is kept that has not been parsed yet (call feed with
 * len 0 once nothing waits for an answer). */
int h1_session_has_input(const h1_session *s);

/* 1 when the kept input is at its bound: stop reading from the socket
 * until a request is answered. */
int h1_session_full(const h1_session *s);

/* 1 when the connection should close once the output is written
 * (Connection: close, HTTP/1.0 without keep-alive, EOF, an error). */
int h1_session_want_close(const h1_session *s);

/* The reason phrase of an HTTP status ("Not Found"); "Unknown" for codes
 * the table lacks. Static storage. */
const char *h1_reason(int status);

#endif
