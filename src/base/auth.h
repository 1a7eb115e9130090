/* SPDX-License-Identifier: MIT */
/* Bearer-token authentication (RFC 6750): a set of tokens read from a file,
 * one per line, and the check of an `authorization: Bearer TOKEN` header
 * against it in constant time. Shared by every front door (gRPC calls
 * now, REST later). No third-party header; any thread may check a set
 * that is not being freed. */
#ifndef OCRPC_BASE_AUTH_H
#define OCRPC_BASE_AUTH_H

#include <stddef.h>

typedef struct auth_tokens auth_tokens;

/* Reads the token file at `path`: one token per line; leading and trailing
 * blanks and a final "\r" are dropped; empty lines and lines starting with
 * '#' are skipped. A token is 1..4096 bytes of visible ASCII (0x21-0x7e).
 * On success *out owns the set (free with auth_tokens_free) and 0 is
 * returned. Errors, with a one-line message in err (size errsize) that
 * names the file and the line but never shows a token: ERR_IO (cannot
 * read the file), ERR_CONFIG (no token in it, a line that is too long or
 * has other bytes, over 100000 tokens). */
int auth_tokens_load(const char *path, auth_tokens **out, char *err, size_t errsize);

/* Frees a set. NULL is a no-op. */
void auth_tokens_free(auth_tokens *t);

/* How many tokens the set holds. */
size_t auth_tokens_count(const auth_tokens *t);

/* 1 when `value` (len bytes, not NUL-terminated; an `authorization`
 * header's value) is "Bearer " (scheme case-insensitive, RFC 7235) followed
 * by one of the tokens, else 0. The token is compared with every entry of
 * the set through SHA-256 digests and CRYPTO_memcmp, so the time taken
 * tells nothing about how much of a guess was right, nor which entry
 * matched. t NULL: 0. */
int auth_check_bearer(const auth_tokens *t, const char *value, size_t len);

#endif
