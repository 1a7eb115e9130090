/* SPDX-License-Identifier: MIT */
/* The REST front door (the guide's FastAPI endpoints): routes an HTTP
 * request to the app layer and answers with JSON (cJSON). POST
 * /ocr/extract, GET /v1/batches/{id}, /healthy, /healthz, /readyz. rest
 * performs no I/O: answers go out through the rest_transport it is
 * handed (src/conn's, over an h1 session), recognitions through the app's
 * executor. Loop thread only. */
#ifndef OCRPC_REST_H
#define OCRPC_REST_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/hdr.h"

typedef struct rest_server rest_server;
typedef struct rest_work rest_work;
struct app;

/* How rest answers. conn is the connection (src/conn's); everything passed is
 * copied. Returns 0 or a negative ERR_*. */
typedef struct rest_transport {
  int (*respond)(void *conn, int status, const hdr *hdrs, size_t n, const uint8_t *body,
                 size_t len);
  /* Optional, for the access log: called just before respond with what
   * the answer says in-band: ocr_status "SUCCESS" or "FAILURE" (NULL when
   * not an OCR answer), the error's details code (NULL on success), and
   * queue and OCR milliseconds (< 0 when nothing was recognised). Strings
   * are static. */
  void (*note)(void *conn, const char *ocr_status, const char *details, double queue_ms,
               double ocr_ms);
} rest_transport;

/* One HTTP request as rest reads it; every pointer borrowed for the
 * rest_handle call only (rest copies what it keeps). */
typedef struct rest_request {
  const char *method; /* "GET", "POST", ... */
  const char *path;   /* NUL-terminated, without the query */
  const char *query;  /* NUL-terminated; "" when none */
  const hdr *headers; /* names lower-case */
  size_t nheaders;
  const uint8_t *body;
  size_t body_len;
} rest_request;

/* Creates the server over app (borrowed, like cfg and tr; all must outlive
 * it). Never NULL (out of memory aborts). */
rest_server *rest_server_new(const config *cfg, struct app *app, const rest_transport *tr);

/* Frees the server; every rest_work must have ended or been cancelled.
 * NULL is a no-op. */
void rest_server_free(rest_server *rs);

/* Starts draining: /readyz answers 503, new recognitions are refused
 * with 503 and Retry-After; work in flight goes on. */
void rest_server_drain(rest_server *rs);

/* Tells /readyz how to ask whether the job store's Redis is reachable
 * (NULL: no Redis configured, always ready). */
void rest_server_set_store_probe(rest_server *rs, int (*store_up)(void *ud), void *ud);

struct auth_tokens;
/* Requires `authorization: Bearer TOKEN` (base/auth.h) on every route but
 * the health ones (/healthy, /healthz, /readyz): others answer 401
 * {"detail": "missing or invalid token"} with `WWW-Authenticate: Bearer`,
 * whatever was wrong. tokens is borrowed until replaced (SIGHUP) or the
 * server freed, and read only when a request arrives. NULL: no check. */
void rest_server_set_auth(rest_server *rs, const struct auth_tokens *tokens);

/* Serves one request on conn. The answer may be given before this returns
 * (health, errors, an instant engine): NULL is then returned. Otherwise
 * the work in flight is returned; the caller keeps it until the answer
 * comes through tr->respond, or cancels it with rest_work_cancel if the
 * connection goes away first. */
rest_work *rest_handle(rest_server *rs, void *conn, const rest_request *req);

/* The connection went away: the answer will not be sent; the work stops
 * and frees itself when its worker is done. */
void rest_work_cancel(rest_work *w);

struct metrics;

/* Serves GET /metrics from m (borrowed, must outlive rs): its Prometheus
 * text, format 0.0.4. Without it, /metrics is 404 like any unknown path. */
void rest_server_set_metrics(rest_server *rs, struct metrics *m);

/* The route a request path belongs to, as metrics and logs name it: the
 * route's template ("/ocr/extract", "/v1/batches/{batch_id}", "/metrics",
 * ...), or "unknown" for a path no route serves. Static storage. */
const char *rest_route_name(const char *path);

/* Requests in flight (a drain waits for them). */
size_t rest_server_busy(const rest_server *rs);

#endif
