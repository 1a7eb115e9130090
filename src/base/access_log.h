/* SPDX-License-Identifier: MIT */
/* The access log: one line per call, gRPC and REST alike, in the log's
 * format (text key=value pairs or JSON) at info, or warn for a failure.
 * Lines are gathered in a buffer and written to stderr when it fills, when
 * the loop's flush timer fires, or at exit: never one write(2) per call.
 * Loop thread only (the buffer has no lock). */
#ifndef OCRPC_BASE_ACCESS_LOG_H
#define OCRPC_BASE_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>

/* One finished call. Strings are borrowed for the call of
 * access_log_write; NULL means "not applicable" (written as "-", or
 * omitted in JSON). */
typedef struct access_entry {
  const char *protocol;    /* "grpc" or "http" */
  const char *peer;        /* "address:port" of the client */
  const char *method;      /* gRPC: "/pkg.Service/Method"; HTTP: "GET", "POST", ... */
  const char *route;       /* HTTP: the route ("/ocr/extract"); NULL for gRPC */
  int status;              /* gRPC status code, or HTTP status */
  const char *status_name; /* gRPC code name ("OK", "UNAVAILABLE"); NULL for HTTP */
  const char *message;     /* grpc-message or error text of a failure */
  const char *ocr_status;  /* in-band OCRResponse status: "SUCCESS", "FAILURE" */
  const char *details;     /* in-band failure details code ("NOT_FOUND") */
  double queue_ms;         /* waiting for a worker; < 0: no recognition */
  double ocr_ms;           /* decode + recognition; < 0: no recognition */
  uint64_t bytes_in;       /* request message (gRPC) or body (HTTP) bytes */
  uint64_t bytes_out;      /* response message or body bytes */
  double duration_ms;      /* headers received to status sent */
  const char *request_id;  /* x-request-id, received or generated */
  int request_id_trusted;  /* generated here: written without scanning */
  int failed;              /* a failure: written at warn */
} access_entry;

/* Buffer size: a line that would not fit triggers a write first. */
#define ACCESS_LOG_BUFFER (64 * 1024)

/* 1 when calls are logged (--access-log on, the default). Read on the hot
 * path to skip building the entry at all. */
extern int access_log_on_;

/* Turns the access log on or off; at start, before any call. */
void access_log_enable(int on);

/* Parses "on" or "off": 1, 0, or -1. */
int access_log_parse(const char *s);

/* arm(ud) is called when a line lands in an empty buffer, so that the
 * loop starts its flush timer once per batch of lines, not per line. */
void access_log_set_arm(void (*arm)(void *ud), void *ud);

/* Formats e into the buffer (a no-op when the access log is off or the
 * line's level is below the log level). */
void access_log_write(const access_entry *e);

/* Writes what is buffered to stderr (one write(2)). Call from the flush
 * timer and before exit. */
void access_log_flush(void);

/* Length of a generated request id. */
#define ACCESS_LOG_ID_LEN 22

/* Fills out (ACCESS_LOG_ID_LEN + 1 bytes) with a new request id for a
 * request without x-request-id: a random UUID (version 4, RFC 4122
 * variant) written in base64url without padding, e.g.
 * "3q2-7wEjRWeJq83vASNFZw". libuuid seeds a generator once per process,
 * so the hot path makes no system call. Loop thread. */
void access_log_new_id(char out[ACCESS_LOG_ID_LEN + 1]);

#endif
