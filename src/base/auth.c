/* SPDX-License-Identifier: MIT */
/* Bearer tokens: the file is parsed once per (re)load into SHA-256
 * digests, so a check hashes the presented token and compares fixed-size
 * digests with OpenSSL's constant-time CRYPTO_memcmp, looking at every
 * entry whatever matched. Tokens themselves are never kept or logged. */
#include "auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ocrpc_alloc.h"
#include "sha256.h"

#define TOKEN_MAX 4096
#define TOKENS_MAX 100000

struct auth_tokens {
  size_t n;
  uint8_t (*digest)[SHA256_DIGEST_LEN];
};

static void digest_of(const char *s, size_t n, uint8_t out[SHA256_DIGEST_LEN]) {
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, s, n);
  sha256_final(&c, out);
}

static int blank(int ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; }

int auth_tokens_load(const char *path, auth_tokens **out, char *err, size_t errsize) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errsize, "auth token file %s: %s", path, strerror(errno));
    return ERR_IO;
  }
  auth_tokens *t = ocrpc_calloc(1, sizeof *t);
  char *line = ocrpc_malloc(TOKEN_MAX + 3);
  size_t cap = 0;
  int rc = 0;
  unsigned lineno = 0;
  while (fgets(line, TOKEN_MAX + 3, f)) {
    lineno++;
    size_t len = strlen(line);
    if (len == TOKEN_MAX + 2 && line[len - 1] != '\n') {
      snprintf(err, errsize, "auth token file %s, line %u: longer than %d bytes", path,
               lineno, TOKEN_MAX);
      rc = ERR_CONFIG;
      goto fail;
    }
    char *s = line;
    while (len && blank(s[len - 1]))
      len--;
    while (len && blank(*s))
      s++, len--;
    if (len == 0 || *s == '#')
      continue;
    for (size_t i = 0; i < len; i++) {
      if (s[i] < 0x21 || s[i] > 0x7e) {
        snprintf(err, errsize,
                 "auth token file %s, line %u: a token is visible ASCII without blanks",
                 path, lineno);
        rc = ERR_CONFIG;
        goto fail;
      }
    }
    if (t->n == TOKENS_MAX) {
      snprintf(err, errsize, "auth token file %s: more than %d tokens", path, TOKENS_MAX);
      rc = ERR_CONFIG;
      goto fail;
    }
    if (t->n == cap) {
      cap = cap ? 2 * cap : 8;
      t->digest = ocrpc_realloc(t->digest, cap * sizeof *t->digest);
    }
    digest_of(s, len, t->digest[t->n++]);
  }
  if (ferror(f)) {
    snprintf(err, errsize, "auth token file %s: read error", path);
    rc = ERR_IO;
    goto fail;
  }
  if (t->n == 0) {
    snprintf(err, errsize, "auth token file %s: no token in it", path);
    rc = ERR_CONFIG;
    goto fail;
  }
  OPENSSL_cleanse(line, TOKEN_MAX + 3);
  free(line);
  fclose(f);
  *out = t;
  return 0;
fail:
  OPENSSL_cleanse(line, TOKEN_MAX + 3);
  free(line);
  auth_tokens_free(t);
  fclose(f);
  return rc;
}

void auth_tokens_free(auth_tokens *t) {
  if (!t)
    return;
  free(t->digest);
  free(t);
}

size_t auth_tokens_count(const auth_tokens *t) { return t ? t->n : 0; }

int auth_check_bearer(const auth_tokens *t, const char *value, size_t len) {
  static const char scheme[] = "bearer ";
  const size_t sl = sizeof scheme - 1;
  if (!t || !value || len <= sl)
    return 0;
  for (size_t i = 0; i < sl; i++) {
    char ch = value[i];
    if (ch >= 'A' && ch <= 'Z')
      ch = (char)(ch - 'A' + 'a');
    if (ch != scheme[i])
      return 0;
  }
  const char *tok = value + sl;
  size_t n = len - sl;
  while (n && *tok == ' ')
    tok++, n--;
  if (n == 0 || n > TOKEN_MAX)
    return 0;
  uint8_t d[SHA256_DIGEST_LEN];
  digest_of(tok, n, d);
  int ok = 0;
  for (size_t i = 0; i < t->n; i++)
    ok |= CRYPTO_memcmp(d, t->digest[i], SHA256_DIGEST_LEN) == 0;
  OPENSSL_cleanse(d, sizeof d);
  return ok;
}
