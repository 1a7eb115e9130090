/* SPDX-License-Identifier: MIT */
/* Shared inside src/client (and its tests): the HTTP/2 + gRPC session that
 * does no I/O (client_session.c), which client_uv.c drives with socket
 * bytes. Loop thread only. */
#ifndef OCRPC_CLIENT_INTERNAL_H
#define OCRPC_CLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/timer.h"
#include "client.h"
#include "rpc/rpc_wire.h"

/* The session: one nghttp2 client session and its calls. */
typedef struct client_session client_session;

typedef struct client_session_cfg {
  const char *authority; /* copied */
  uint32_t window;
  uint64_t max_recv_message;
  timer_src *timers;         /* deadlines; borrowed for the session's life */
  const char *authorization; /* sent on every call when not NULL; copied */
} client_session_cfg;

/* Creates the session and queues the connection preface and SETTINGS.
 * 0, ERR_NOMEM or ERR_PROTOCOL. */
int client__session_new(const client_session_cfg *cfg, client_session **out);

/* Ends every call still open with `code` and `msg` (local status), then
 * frees the session. NULL is a no-op. Must not be called from a callback
 * of this session's calls. */
void client__session_free(client_session *s, int code, const char *msg);

/* Processes bytes read from the socket; call callbacks run inside. 0, or
 * ERR_PROTOCOL: the peer broke HTTP/2 (a GOAWAY may be queued: pull and
 * write it, then fail the session). */
int client__session_feed(client_session *s, const uint8_t *data, size_t len);

/* The next bytes to write, valid until the next call on the session; 0
 * when there is nothing; ERR_PROTOCOL or ERR_NOMEM on a fatal error. */
ssize_t client__session_pull(client_session *s, const uint8_t **data);

/* Ends every open and queued call with a local status (connection lost,
 * connect failed) and refuses new ones; the session stays allocated. */
void client__session_fail(client_session *s, int code, const char *msg);

/* 1 while calls can be started. */
int client__session_usable(const client_session *s);

/* The peer's MAX_CONCURRENT_STREAMS, 0 before its SETTINGS. */
uint32_t client__session_max_streams(const client_session *s);

/* Calls open or queued. */
size_t client__session_ncalls(const client_session *s);

/* 1 when the peer sent GOAWAY and no call is left: the connection can
 * close. */
int client__session_finished(const client_session *s);

/* client_call_start and client_call_cancel on a session. */
int client__session_call(client_session *s, const char *path, const uint8_t *body,
                         size_t len, uint64_t timeout_ms, int flags,
                         const client_call_cbs *cbs, void *ud, client_call **out);
void client__call_cancel(client_call *call);
/* The wake ud of the call's session (the connection). */
void *client__call_wake_ud(const client_call *call);

/* Tells the session who to poke when a call changed outside socket
 * reads (deadline timers, cancel): the I/O side must then pull. */
void client__session_set_wake(client_session *s, void (*wake)(void *ud), void *ud);

#endif
