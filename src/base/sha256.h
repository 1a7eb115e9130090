/* SPDX-License-Identifier: MIT */
/* SHA-256 through OpenSSL's EVP interface (libcrypto, already in the
 * process for TLS): used to key the result cache by the image bytes.
 * Incremental: init, any number of updates, final. A context belongs to one
 * thread at a time; no global state, so any thread may hash. */
#ifndef OCRPC_BASE_SHA256_H
#define OCRPC_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

/* OpenSSL's EVP_MD_CTX, named by its struct tag so that this header pulls
 * in no OpenSSL header. */
struct evp_md_ctx_st;

typedef struct sha256_ctx {
  struct evp_md_ctx_st *_md; /* owned from init until final */
} sha256_ctx;

/* Starts a hash. Allocates OpenSSL's digest context: aborts the process
 * when that fails (out of memory), as a hash cannot be skipped silently. */
void sha256_init(sha256_ctx *c);
/* Adds len bytes (data may be NULL when len is 0). */
void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Writes the 32-byte digest to out and frees the digest context: the
 * context must be initialised again before reuse. */
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Writes the digest as 64 lower-case hex digits plus NUL into hex. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN],
                char hex[2 * SHA256_DIGEST_LEN + 1]);

#endif
