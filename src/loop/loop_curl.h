/* SPDX-License-Identifier: MIT */
/* libcurl's multi interface driven by the libuv loop (the pattern of
 * curl's docs/examples/multi-uv.c): one CURLM per server, one uv_poll_t
 * per socket curl asks about, one uv_timer_t for curl's timeouts. It
 * implements llm_http for src/llm. Connections stay in the multi handle's
 * cache and are reused by later requests. Its handles do not keep the loop
 * alive. Loop thread only. */
#ifndef OCRPC_LOOP_CURL_H
#define OCRPC_LOOP_CURL_H

#include "llm/llm_backend.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct loop_curl loop_curl;

/* Creates the glue on loop. Returns 0 or ERR_IO (curl could not be
 * initialised). */
int loop_curl_new(uv_loop_t *loop, loop_curl **out);

/* The llm_http of this glue (owned by it, valid until loop_curl_close). */
llm_http *loop_curl_http(loop_curl *g);

/* Aborts every transfer (no callbacks), closes the cached connections and
 * the handles; the memory goes once the loop has run the close callbacks.
 * NULL is a no-op. */
void loop_curl_close(loop_curl *g);

#endif
