/* SPDX-License-Identifier: MIT */
/* Shared inside src/rest: the server struct, JSON answers and the
 * routes' handlers. */
#ifndef OCRPC_REST_INTERNAL_H
#define OCRPC_REST_INTERNAL_H

#include <cjson/cJSON.h>

#include "app/app.h"
#include "rest.h"

struct rest_server {
  const config *cfg;
  app *app;
  const rest_transport *tr;
  int draining;
  int (*store_up)(void *ud);
  void *store_ud;
  size_t busy;
  struct metrics *metrics;        /* GET /metrics; NULL: no such route */
  const struct auth_tokens *auth; /* NULL: no token needed */
};

/* Work in flight: one of the two kinds below. */
struct rest_work {
  rest_server *rs;
  void *conn; /* NULL once cancelled */
  void (*cancel)(rest_work *w);
};

/* Answers with j serialised (j is freed). extra: more headers. */
void rest__json(rest_server *rs, void *conn, int status, cJSON *j, const hdr *extra,
                size_t nextra);

/* Answers {"detail": {"code": code, "message": message, "details":
 * details}} with status (and Retry-After: 1 for 503). */
void rest__error(rest_server *rs, void *conn, int status, const char *code,
                 const char *message, const char *details);

/* Answers {"detail": text} (FastAPI's shape for routing errors). */
void rest__detail(rest_server *rs, void *conn, int status, const char *text,
                  const hdr *extra, size_t nextra);

/* The value of a header (names lower-case), or NULL; *len its length. */
const char *rest__header(const rest_request *req, const char *name, size_t *len);

/* POST /ocr/extract. */
rest_work *rest__extract(rest_server *rs, void *conn, const rest_request *req);

/* GET /v1/batches/{id}. */
rest_work *rest__batch_status(rest_server *rs, void *conn, const char *id);

#endif
