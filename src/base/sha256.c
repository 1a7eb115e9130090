/* SPDX-License-Identifier: MIT */
/* SHA-256 from OpenSSL's EVP interface: the project's own FIPS 180-4 code
 * gave way to the library that TLS links anyway (and that uses the CPU's
 * SHA extensions where present). Any thread (no shared state). */
#include "sha256.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

/* EVP only fails on allocation failure or an unusable provider: neither
 * leaves a hash to return, so the process stops with the reason. */
static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "sha256: %s failed\n", what);
    abort();
  }
}

void sha256_init(sha256_ctx *c) {
  c->_md = EVP_MD_CTX_new();
  check(c->_md != NULL, "EVP_MD_CTX_new");
  check(EVP_DigestInit_ex(c->_md, EVP_sha256(), NULL) == 1, "EVP_DigestInit_ex");
}

void sha256_update(sha256_ctx *c, const void *data, size_t len) {
  if (len > 0)
    check(EVP_DigestUpdate(c->_md, data, len) == 1, "EVP_DigestUpdate");
}

void sha256_final(sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]) {
  unsigned int n = 0;
  check(EVP_DigestFinal_ex(c->_md, out, &n) == 1 && n == SHA256_DIGEST_LEN,
        "EVP_DigestFinal_ex");
  EVP_MD_CTX_free(c->_md);
  c->_md = NULL;
}

void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN],
                char hex[2 * SHA256_DIGEST_LEN + 1]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 15];
  }
  hex[2 * SHA256_DIGEST_LEN] = 0;
}
