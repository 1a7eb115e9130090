/* SPDX-License-Identifier: MIT */
/* TLS with OpenSSL memory BIOs: the socket's ciphertext goes into the read
 * BIO, the plaintext out of SSL_read goes to the h2 session, and what
 * SSL_write and the handshake produce is taken from the write BIO for the
 * socket, so h2 stays I/O-free and the loop keeps its one write path.
 * ALPN h2 and http/1.1, TLS 1.2 and later; certificate, key and client CA are
 * reloaded on SIGHUP into a new context that new connections use (open
 * ones keep theirs). Loop thread. */
#include "loop_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/ocrpc_alloc.h"

struct loop_tls {
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
  int handshake_done;
};

/* Our ALPN lists in wire form (length-prefixed), in preference order. */
static const unsigned char ALPN_ALL[] = "\x02h2\x08http/1.1";
static const unsigned char ALPN_H1_ONLY[] = "\x08http/1.1";

static void log_ssl_errors(const char *what) {
  unsigned long e;
  char text[256];
  while ((e = ERR_get_error())) {
    ERR_error_string_n(e, text, sizeof text);
    log_error("%s: %s", what, text);
  }
}

/* ALPN: h2 when the client offers it (gRPC needs it), else http/1.1
 * (REST); a session marked HTTP/1.1-only (the REST port) never picks h2.
 * A client that offers neither fails the handshake with
 * no_application_protocol (RFC 7301); one that offers no ALPN at all is
 * told nothing and its first bytes decide (the plaintext port's sniff). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg) {
  (void)arg;
  /* OpenSSL walks the client's list (it checks the length prefixes) and
   * picks the first of ours the client offers: h2 before http/1.1. */
  const unsigned char *ours = SSL_get_app_data(ssl) != NULL ? ALPN_H1_ONLY : ALPN_ALL;
  unsigned int ours_len = ours == ALPN_ALL ? sizeof ALPN_ALL - 1 : sizeof ALPN_H1_ONLY - 1;
  unsigned char *sel;
  if (SSL_select_next_proto(&sel, outlen, ours, ours_len, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol */
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *loop__tls_ctx_new(const config *cfg) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    log_ssl_errors("TLS");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  /* HTTP/2 over TLS 1.2 forbids renegotiation (RFC 9113 9.2.1). */
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
  if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
    log_error("--tls-cert %s: cannot load the certificate chain", cfg->tls_cert);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    log_error("--tls-key %s: cannot load the key, or it does not match the certificate",
              cfg->tls_key);
    goto fail;
  }
  if (cfg->tls_client_ca[0]) {
    if (SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca, NULL) != 1) {
      log_error("--tls-client-ca %s: cannot load", cfg->tls_client_ca);
      goto fail;
    }
    /* Mutual TLS: a client without a certificate the CA signed fails the
     * handshake. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  }
  return ctx;
fail:
  log_ssl_errors("TLS");
  SSL_CTX_free(ctx);
  return NULL;
}

void loop__tls_ctx_free(SSL_CTX *ctx) { SSL_CTX_free(ctx); }

loop_tls *loop__tls_new(SSL_CTX *ctx, int h1_only) {
  loop_tls *t = ocrpc_calloc(1, sizeof *t);
  t->ssl = SSL_new(ctx); /* holds a reference: a reload does not free ctx */
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rbio || !t->wbio) {
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    SSL_free(t->ssl);
    free(t);
    return NULL;
  }
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  if (h1_only)
    SSL_set_app_data(t->ssl, t); /* any non-NULL marks it */
  SSL_set_accept_state(t->ssl);
  return t;
}

void loop__tls_free(loop_tls *t) {
  if (!t)
    return;
  SSL_free(t->ssl);
  free(t);
}

int loop__tls_feed(loop_tls *t, const uint8_t *data, size_t len, loop_tls_plain_cb cb,
                   void *ud) {
  if (len && BIO_write(t->rbio, data, (int)len) != (int)len)
    return ERR_NOMEM;
  if (!t->handshake_done) {
    int r = SSL_do_handshake(t->ssl);
    if (r != 1) {
      int e = SSL_get_error(t->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
      unsigned long ec = ERR_peek_error();
      log_debug("TLS handshake failed: %s", ec ? ERR_reason_error_string(ec) : "closed");
      ERR_clear_error();
      return ERR_PROTOCOL; /* the alert, if any, is in the write BIO */
    }
    t->handshake_done = 1;
  }
  uint8_t plain[16384];
  for (;;) {
    int n = SSL_read(t->ssl, plain, sizeof plain);
    if (n > 0) {
      int rc = cb(ud, plain, (size_t)n);
      if (rc)
        return rc;
      continue;
    }
    int e = SSL_get_error(t->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return 0;
    if (e == SSL_ERROR_ZERO_RETURN)
      return ERR_IO; /* close_notify: the client is done */
    ERR_clear_error();
    return ERR_PROTOCOL;
  }
}

int loop__tls_handshake_done(const loop_tls *t) { return t->handshake_done; }

int loop__tls_seal(loop_tls *t, buf *b) {
  if (b->len) {
    if (!t->handshake_done)
      return ERR_PROTOCOL; /* h2 bytes before the handshake: cannot happen */
    size_t off = 0;
    while (off < b->len) {
      /* A memory BIO takes everything: SSL_write never wants I/O here. */
      int n = SSL_write(t->ssl, b->data + off, (int)(b->len - off));
      if (n <= 0) {
        ERR_clear_error();
        return ERR_PROTOCOL;
      }
      off += (size_t)n;
    }
    buf_reset(b);
  }
  size_t pending = BIO_ctrl_pending(t->wbio);
  if (!pending)
    return 0;
  buf_reserve(b, pending);
  int n = BIO_read(t->wbio, b->data + b->len, (int)pending);
  if (n > 0)
    b->len += (size_t)n;
  return 0;
}
