/* SPDX-License-Identifier: MIT */
/* The route table, the health endpoints and the JSON answers every route
 * shares. Loop thread. */
#include <stdlib.h>
#include <string.h>

#include "base/auth.h"
#include "base/err.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/version.h"
#include "base/ocrpc_alloc.h"
#include "rest_internal.h"

rest_server *rest_server_new(const config *cfg, app *a, const rest_transport *tr) {
  rest_server *rs = ocrpc_calloc(1, sizeof *rs);
  rs->cfg = cfg;
  rs->app = a;
  rs->tr = tr;
  return rs;
}

void rest_server_free(rest_server *rs) { free(rs); }

void rest_server_drain(rest_server *rs) { rs->draining = 1; }

void rest_server_set_store_probe(rest_server *rs, int (*store_up)(void *ud), void *ud) {
  rs->store_up = store_up;
  rs->store_ud = ud;
}

size_t rest_server_busy(const rest_server *rs) { return rs->busy; }

void rest_work_cancel(rest_work *w) { w->cancel(w); }

const char *rest__header(const rest_request *req, const char *name, size_t *len) {
  size_t n = strlen(name);
  for (size_t i = 0; i < req->nheaders; i++) {
    const hdr *h = &req->headers[i];
    if (h->name_len == n && memcmp(h->name, name, n) == 0) {
      *len = h->value_len;
      return h->value;
    }
  }
  return NULL;
}

void rest__json(rest_server *rs, void *conn, int status, cJSON *j, const hdr *extra,
                size_t nextra) {
  char *text = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  hdr h[4] = {HDR_LIT("content-type", "application/json")};
  size_t n = 1;
  for (size_t i = 0; i < nextra && n < 4; i++)
    h[n++] = extra[i];
  if (!text) {
    static const char oom[] = "{\"detail\":\"out of memory\"}";
    rs->tr->respond(conn, 500, h, 1, (const uint8_t *)oom, sizeof oom - 1);
    return;
  }
  rs->tr->respond(conn, status, h, n, (const uint8_t *)text, strlen(text));
  free(text);
}

void rest__error(rest_server *rs, void *conn, int status, const char *code,
                 const char *message, const char *details) {
  if (rs->tr->note)
    rs->tr->note(conn, strcmp(code, "OCR_ERROR") == 0 ? "FAILURE" : NULL, details, -1, -1);
  cJSON *j = cJSON_CreateObject();
  cJSON *d = cJSON_AddObjectToObject(j, "detail");
  cJSON_AddStringToObject(d, "code", code);
  cJSON_AddStringToObject(d, "message", message);
  cJSON_AddStringToObject(d, "details", details);
  hdr retry = HDR_LIT("retry-after", "1");
  rest__json(rs, conn, status, j, &retry, status == 503 ? 1 : 0);
}

void rest__detail(rest_server *rs, void *conn, int status, const char *text,
                  const hdr *extra, size_t nextra) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "detail", text);
  rest__json(rs, conn, status, j, extra, nextra);
}

/* GET /healthy (the guide's), /healthz (alive: the loop answers). */
static void health(rest_server *rs, void *conn, const char *status) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "status", status);
  cJSON_AddStringToObject(j, "engine", ocr_engine_name(rs->app->engine));
  cJSON_AddStringToObject(j, "version", OCRPC_VERSION);
  rest__json(rs, conn, 200, j, NULL, 0);
}

/* GET /readyz: 503 naming each reason while the server should get no new
 * work. The engine loaded at start (the server does not start
 * otherwise), so only draining and the job store can make it unready. */
static void ready(rest_server *rs, void *conn) {
  cJSON *j = cJSON_CreateObject();
  cJSON *why = cJSON_CreateArray();
  if (rs->draining)
    cJSON_AddItemToArray(why, cJSON_CreateString("draining: the server is shutting down"));
  if (rs->store_up && !rs->store_up(rs->store_ud))
    cJSON_AddItemToArray(why, cJSON_CreateString("job store: Redis is unreachable"));
  int ok = cJSON_GetArraySize(why) == 0;
  cJSON_AddStringToObject(j, "status", ok ? "ready" : "not ready");
  cJSON_AddItemToObject(j, "reasons", why);
  rest__json(rs, conn, ok ? 200 : 503, j, NULL, 0);
}

typedef enum route_id {
  R_EXTRACT,
  R_BATCH,
  R_HEALTHY,
  R_HEALTHZ,
  R_READYZ,
  R_METRICS,
} route_id;

typedef struct route {
  const char *path; /* exact, or a prefix when it ends in '/' */
  const char *method;
  route_id id;
  const char *name; /* for metrics and logs */
} route;

static const route routes[] = {
    {"/ocr/extract", "POST", R_EXTRACT, "/ocr/extract"},
    {"/v1/batches/", "GET", R_BATCH, "/v1/batches/{batch_id}"},
    {"/healthy", "GET", R_HEALTHY, "/healthy"},
    {"/healthz", "GET", R_HEALTHZ, "/healthz"},
    {"/readyz", "GET", R_READYZ, "/readyz"},
    {"/metrics", "GET", R_METRICS, "/metrics"},
};

void rest_server_set_metrics(rest_server *rs, struct metrics *m) { rs->metrics = m; }

/* GET /metrics: the registry's text (its collectors run first). */
static void serve_metrics(rest_server *rs, void *conn) {
  buf b = BUF_INIT;
  metrics_render(rs->metrics, &b);
  hdr h = HDR_LIT("content-type", "text/plain; version=0.0.4; charset=utf-8");
  rs->tr->respond(conn, 200, &h, 1, b.data, b.len);
  buf_free(&b);
}

static int path_matches(const route *r, const char *path) {
  size_t n = strlen(r->path);
  if (r->path[n - 1] == '/')
    return strncmp(path, r->path, n) == 0 && path[n] && !strchr(path + n, '/');
  return strcmp(path, r->path) == 0;
}

const char *rest_route_name(const char *path) {
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (path_matches(&routes[i], path))
      return routes[i].name;
  return "unknown";
}

void rest_server_set_auth(rest_server *rs, const struct auth_tokens *tokens) {
  rs->auth = tokens;
}

rest_work *rest_handle(rest_server *rs, void *conn, const rest_request *req) {
  const route *hit = NULL;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (!path_matches(&routes[i], req->path))
      continue;
    if (routes[i].id == R_METRICS && !rs->metrics)
      continue;
    /* HEAD is GET without the body (h1 leaves the body out). */
    if (strcmp(req->method, routes[i].method) == 0 ||
        (strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
      hit = &routes[i];
      break;
    }
    hdr allow = hdr_make("allow", routes[i].method, strlen(routes[i].method));
    rest__detail(rs, conn, 405, "Method Not Allowed", &allow, 1);
    return NULL;
  }
  if (!hit) {
    rest__detail(rs, conn, 404, "Not Found", NULL, 0);
    return NULL;
  }
  if (rs->auth && hit->id != R_HEALTHY && hit->id != R_HEALTHZ && hit->id != R_READYZ) {
    size_t len = 0;
    const char *v = rest__header(req, "authorization", &len);
    if (!v || !auth_check_bearer(rs->auth, v, len)) {
      hdr challenge = HDR_LIT("www-authenticate", "Bearer");
      rest__detail(rs, conn, 401, "missing or invalid token", &challenge, 1);
      return NULL;
    }
  }
  switch (hit->id) {
  case R_EXTRACT:
    return rest__extract(rs, conn, req);
  case R_BATCH:
    return rest__batch_status(rs, conn, req->path + strlen(hit->path));
  case R_HEALTHY:
    health(rs, conn, "healthy");
    return NULL;
  case R_HEALTHZ:
    health(rs, conn, "ok");
    return NULL;
  case R_READYZ:
    ready(rs, conn);
    return NULL;
  case R_METRICS:
    serve_metrics(rs, conn);
    return NULL;
  }
  return NULL;
}
