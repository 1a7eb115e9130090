/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4, section 6.2), written from the standard: used to key
 * the result cache by the image bytes. Incremental: init, any number of
 * updates, final. A context belongs to one thread at a time; no global
 * state, so any thread may hash. */
#ifndef OCRPC_BASE_SHA256_H
#define OCRPC_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

typedef struct sha256_ctx {
  uint32_t h[8];     /* the intermediate hash value H(i) */
  uint64_t bits;     /* message length so far, in bits (mod 2^64) */
  uint8_t block[64]; /* the partial block not yet processed */
  size_t used;       /* bytes in block */
} sha256_ctx;

/* Starts a hash with the initial value H(0). */
void sha256_init(sha256_ctx *c);
/* Adds len bytes (data may be NULL when len is 0). */
void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Pads, writes the 32-byte digest to out and wipes nothing else: the
 * context must be initialised again before reuse. */
void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

/* Writes the digest as 64 lower-case hex digits plus NUL into hex. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN],
                char hex[2 * SHA256_DIGEST_LEN + 1]);

#endif
