/* SPDX-License-Identifier: MIT */
/* grpc.health.v1.Health: Check answers the serving state of the whole
 * server ("") or of one service; Watch sends the current state at once and
 * again on every change (draining flips it to NOT_SERVING). Loop thread. */
#include <pb_decode.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "health.pb.h"
#include "llm/llm_backend.h"
#include "rpc_internal.h"

/* One Watch stream; linked into the server's watcher list until its call
 * goes away. */
struct rpc_watcher {
  rpc_call *call;
  char *service;
  int last; /* status last sent */
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

static void send_status(rpc_watcher *w, int st) {
  grpc_health_v1_HealthCheckResponse resp = {
      .status = (grpc_health_v1_HealthCheckResponse_ServingStatus)st};
  w->last = st;
  rpc__call_send(w->call, grpc_health_v1_HealthCheckResponse_fields, &resp);
}

static void watch_detach(void *work) {
  rpc_watcher *w = work;
  rpc_server *srv = w->call->srv;
  DLIST_UNLINK(srv->watchers, w);
  srv->nwatchers--;
  free(w->service);
  free(w);
}

void rpc__health_watch(rpc_call *c, void *reqp) {
  grpc_health_v1_HealthCheckRequest *req = reqp;
  rpc_watcher *w = calloc(1, sizeof *w);
  if (!w || !(w->service = strdup(req->service ? req->service : ""))) {
    free(w);
    rpc__call_fail(c, RPC_RESOURCE_EXHAUSTED, "out of memory");
  } else {
    rpc_server *srv = c->srv;
    w->call = c;
    DLIST_PUSH(srv->watchers, w);
    srv->nwatchers++;
    c->work = w;
    c->detach = watch_detach;
    send_status(w, rpc__service_status(srv, w->service));
  }
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
