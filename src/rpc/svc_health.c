/* SPDX-License-Identifier: MIT */
/* grpc.health.v1.Health: Check answers the serving state of the whole
 * server ("") or of one service; Watch sends the current state at once and
 * again on every change (draining flips it to NOT_SERVING). A Watch whose
 * client does not read holds at most one unsent status: changes made
 * meanwhile are coalesced to the latest, sent once the stream drains.
 * Loop thread. */
#include <pb_decode.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "health.pb.h"
#include "llm/llm_backend.h"
#include "rpc_internal.h"

/* One Watch stream; linked into the server's watcher list until its call
 * goes away. */
struct rpc_watcher {
  rpc_call *call;
  char *service;
  int last;    /* status last sent */
  int waiting; /* an earlier status is unsent: the next waits for the drain */
  rpc_watcher *prev, *next;
};

int rpc__service_status(const rpc_server *srv, const char *name) {
  int serving = srv->draining ? grpc_health_v1_HealthCheckResponse_ServingStatus_NOT_SERVING
                              : grpc_health_v1_HealthCheckResponse_ServingStatus_SERVING;
  if (!name || !*name || strcmp(name, "ocr.OCRService") == 0 ||
      strcmp(name, "grpc.health.v1.Health") == 0)
    return serving;
  /* SERVING with the rules engine, and with openai while the backend
   * answers. */
  if (strcmp(name, "llm.LLMService") == 0)
    return srv->llm && llm_service_serving(srv->llm)
               ? serving
               : grpc_health_v1_HealthCheckResponse_ServingStatus_NOT_SERVING;
  return grpc_health_v1_HealthCheckResponse_ServingStatus_SERVICE_UNKNOWN;
}

void rpc__health_check(rpc_call *c, void *reqp) {
  grpc_health_v1_HealthCheckRequest *req = reqp;
  int st = rpc__service_status(c->srv, req->service);
  pb_release(grpc_health_v1_HealthCheckRequest_fields, req);
  free(req);
  if (st == grpc_health_v1_HealthCheckResponse_ServingStatus_SERVICE_UNKNOWN) {
    rpc__call_fail(c, RPC_NOT_FOUND, "unknown service");
    return;
  }
  grpc_health_v1_HealthCheckResponse resp = {
      .status = (grpc_health_v1_HealthCheckResponse_ServingStatus)st};
  rpc__call_reply(c, grpc_health_v1_HealthCheckResponse_fields, &resp);
}

/* Sends st unless the client has not read the last status yet: then only
 * asks to be told when it has (watch_drained sends what is current then),
 * so a client that never reads costs one message however often the status
 * flips, as grpc-go's health server keeps only the latest per watcher. */
static void send_status(rpc_watcher *w, int st) {
  rpc_call *c = w->call;
  const rpc_transport *tr = c->srv->tr;
  if (w->waiting)
    return;
  if (tr->pending(c->conn, c->stream_id) > 0) {
    w->waiting = 1;
    tr->notify_drain(c->conn, c->stream_id);
    return;
  }
  grpc_health_v1_HealthCheckResponse resp = {
      .status = (grpc_health_v1_HealthCheckResponse_ServingStatus)st};
  w->last = st;
  rpc__call_send(c, grpc_health_v1_HealthCheckResponse_fields, &resp);
}

static void watch_drained(void *work) {
  rpc_watcher *w = work;
  w->waiting = 0;
  int st = rpc__service_status(w->call->srv, w->service);
  if (st != w->last)
    send_status(w, st);
}

static void watch_detach(void *work) {
  rpc_watcher *w = work;
  rpc_server *srv = w->call->srv;
  DLIST_UNLINK(srv->watchers, w);
  OCRPC_ASSERT(srv->nwatchers > 0);
  srv->nwatchers--;
  free(w->service);
  free(w);
}

void rpc__health_watch(rpc_call *c, void *reqp) {
  grpc_health_v1_HealthCheckRequest *req = reqp;
  rpc_watcher *w = ocrpc_calloc(1, sizeof *w);
  w->service = ocrpc_strdup(req->service ? req->service : "");
  rpc_server *srv = c->srv;
  w->call = c;
  DLIST_PUSH(srv->watchers, w);
  srv->nwatchers++;
  c->work = w;
  c->detach = watch_detach;
  c->drained = watch_drained;
  send_status(w, rpc__service_status(srv, w->service));
  pb_release(grpc_health_v1_HealthCheckRequest_fields, req);
  free(req);
}

void rpc__health_changed(rpc_server *srv) {
  for (rpc_watcher *w = srv->watchers; w; w = w->next) {
    int st = rpc__service_status(srv, w->service);
    if (st != w->last)
      send_status(w, st);
  }
}
