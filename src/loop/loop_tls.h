/* SPDX-License-Identifier: MIT */
/* TLS for src/loop over OpenSSL memory BIOs (loop_tls.c): contexts built
 * from the --tls-* settings, and one session per connection that turns
 * ciphertext into plaintext and back without touching the socket. Loop
 * thread only. */
#ifndef OCRPC_LOOP_TLS_H
#define OCRPC_LOOP_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"

typedef struct loop_tls loop_tls;

/* A server context from cfg->tls_cert, tls_key and (mutual TLS)
 * tls_client_ca: TLS 1.2 and later, ALPN h2 or http/1.1. Returns NULL after logging
 * why (unreadable file, key not matching the certificate). */
SSL_CTX *loop__tls_ctx_new(const config *cfg);

/* Drops our reference; sessions made from it keep theirs. NULL: no-op. */
void loop__tls_ctx_free(SSL_CTX *ctx);

/* A server session on ctx; NULL when out of memory. h1_only: ALPN never
 * selects h2 (the REST port, which speaks HTTP/1.1 alone). */
loop_tls *loop__tls_new(SSL_CTX *ctx, int h1_only);
void loop__tls_free(loop_tls *t);

/* Receives plaintext, borrowed until it returns; non-zero stops feeding. */
typedef int (*loop_tls_plain_cb)(void *ud, const uint8_t *data, size_t len);

/* Takes ciphertext read from the socket: advances the handshake, then
 * hands every plaintext byte to cb. Returns 0 (more wanted), what cb
 * returned, ERR_PROTOCOL (handshake or record failure: an alert may wait
 * in the output, seal it and close), ERR_IO (the client sent close_notify)
 * or ERR_NOMEM. */
int loop__tls_feed(loop_tls *t, const uint8_t *data, size_t len, loop_tls_plain_cb cb,
                   void *ud);

/* 1 once the handshake completed. */
int loop__tls_handshake_done(const loop_tls *t);

/* Encrypts the plaintext in *b and replaces it with the ciphertext to
 * write, including what the handshake produced meanwhile. 0, ERR_PROTOCOL
 * or ERR_NOMEM. */
int loop__tls_seal(loop_tls *t, buf *b);

#endif
