/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the request metadata parsers. The first byte picks
 * one; the rest is its input:
 *   0  rpc_timeout_parse, checked against a reference parser
 *   1  rpc__base64_decode into a buffer of exactly len*3/4+3 bytes
 *   2  rpc_percent_encode / rpc_percent_decode: decode(encode(x)) == x for
 *      any bytes, and a short output buffer gives a prefix, never a split
 *      escape
 *   3  rpc__gunzip with a small limit, checked against plain zlib
 * Buffers are heap-allocated at their exact size so ASan sees any write
 * past them. Single thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/err.h"
#include "rpc_internal.h"

#define CHECK(cond)                                                                        \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
      abort();                                                                             \
    }                                                                                      \
  } while (0)

/* What rpc_timeout_parse (rpc_headers.c) clamps to: 8 digits of hours. */
#define MAX_TIMEOUT_MS (99999999ull * 3600000ull)

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  CHECK(p != NULL);
  return p;
}

static void fuzz_timeout(const uint8_t *data, size_t size) {
  /* A copy without a terminator: the parser must stay inside len. */
  char *v = xmalloc(size);
  memcpy(v, data, size);
  uint64_t ms = 12345;
  int rc = rpc_timeout_parse(v, size, &ms);

  /* Reference: one or more digits, then one unit; the value saturates. */
  int valid = size >= 2;
  unsigned __int128 n = 0;
  for (size_t i = 0; valid && i + 1 < size; i++) {
    if (v[i] < '0' || v[i] > '9')
      valid = 0;
    else if (n < (unsigned __int128)1 << 100)
      n = n * 10 + (unsigned)(v[i] - '0');
  }
  unsigned __int128 mul = 1, div = 1;
  if (valid) {
    switch (v[size - 1]) {
    case 'H':
      mul = 3600000;
      break;
    case 'M':
      mul = 60000;
      break;
    case 'S':
      mul = 1000;
      break;
    case 'm':
      break;
    case 'u':
      div = 1000;
      break;
    case 'n':
      div = 1000000;
      break;
    default:
      valid = 0;
    }
  }
  if (!valid) {
    CHECK(rc == ERR_INVAL);
    CHECK(ms == 12345); /* untouched on error */
  } else {
    CHECK(rc == 0);
    unsigned __int128 want = (n * mul + div - 1) / div; /* rounded up */
    if (want > MAX_TIMEOUT_MS)
      want = MAX_TIMEOUT_MS;
    /* Exact up to 17 digits; past the parser's saturation point (far
     * beyond the spec's 8 digits) the maximum is accepted too. */
    CHECK(ms == (uint64_t)want || (n >= UINT64_MAX / 100 && ms == MAX_TIMEOUT_MS));
    /* What the client would send for this deadline reads back no
     * shorter (rpc_timeout_format, the other half of the vocabulary). */
    char out[RPC_TIMEOUT_MAX_LEN + 1];
    size_t olen = rpc_timeout_format(ms, out);
    uint64_t back = 0;
    CHECK(olen <= RPC_TIMEOUT_MAX_LEN && rpc_timeout_parse(out, olen, &back) == 0);
    CHECK(back >= ms);
  }
  free(v);
}

static void fuzz_base64(const uint8_t *data, size_t size) {
  char *in = xmalloc(size);
  memcpy(in, data, size);
  size_t cap = size * 3 / 4 + 3; /* what rpc_internal.h promises suffices */
  uint8_t *out = xmalloc(cap);
  ssize_t n = rpc__base64_decode(in, size, out);
  CHECK(n >= -1);
  CHECK(n == -1 || (size_t)n <= size * 3 / 4 + 3);
  if (n >= 0) {
    /* Every character but the '=' padding carries 6 bits. */
    size_t chars = size;
    while (chars > 0 && in[chars - 1] == '=')
      chars--;
    CHECK((size_t)n == chars * 6 / 8);
  }
  free(out);
  free(in);
}

static void fuzz_percent(const uint8_t *data, size_t size) {
  if (size < 1)
    return;
  size_t small = data[0]; /* a short output buffer, 0..255 bytes */
  const char *x = (const char *)data + 1;
  size_t len = size - 1;

  size_t full_cap = len * 3 + 1;
  char *enc = xmalloc(full_cap);
  size_t elen = rpc_percent_encode(x, len, enc, full_cap);
  CHECK(elen < full_cap);
  CHECK(enc[elen] == 0);
  for (size_t i = 0; i < elen; i++)
    CHECK(enc[i] >= 0x20 && enc[i] <= 0x7e); /* a valid header value */

  char *dec = xmalloc(elen + 1);
  size_t dlen = rpc_percent_decode(enc, elen, dec, elen + 1);
  CHECK(dlen == len);
  CHECK(memcmp(dec, x, len) == 0);
  free(dec);

  /* A buffer too small: a prefix of the full encoding, whole escapes
   * only, so it decodes to a prefix of x. */
  char *part = xmalloc(small);
  size_t plen = rpc_percent_encode(x, len, part, small);
  if (small == 0) {
    CHECK(plen == 0);
  } else {
    CHECK(plen < small);
    CHECK(part[plen] == 0);
    CHECK(plen <= elen);
    CHECK(memcmp(part, enc, plen) == 0);
    /* It stopped only when the next character or escape did not fit. */
    CHECK(plen == elen || plen + (enc[plen] == '%' ? 3 : 1) >= small);
    char *pdec = xmalloc(plen + 1);
    size_t pdlen = rpc_percent_decode(part, plen, pdec, plen + 1);
    CHECK(pdlen <= len);
    CHECK(memcmp(pdec, x, pdlen) == 0);
    free(pdec);
  }
  free(part);
  free(enc);

  /* Decoding arbitrary bytes (a client's grpc-message) stays in bounds. */
  char *any = xmalloc(len + 1);
  size_t alen = rpc_percent_decode(x, len, any, len + 1);
  CHECK(alen <= len);
  CHECK(any[alen] == 0);
  free(any);
}

/* Plain zlib into a buffer of limit+1 bytes: 0 with the bytes, or
 * ERR_MSG_TOO_LARGE, or ERR_PROTOCOL. */
static int ref_inflate(const uint8_t *in, size_t len, uint64_t limit, uint8_t *out,
                       size_t *outlen) {
  z_stream z = {0};
  CHECK(inflateInit2(&z, 15 + 32) == Z_OK);
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)(limit + 1);
  int rc;
  for (;;) {
    int zr = inflate(&z, Z_NO_FLUSH);
    if (z.total_out > limit) {
      rc = ERR_MSG_TOO_LARGE;
      break;
    }
    if (zr == Z_STREAM_END) {
      rc = 0;
      break;
    }
    if (zr != Z_OK || z.avail_in == 0) {
      rc = ERR_PROTOCOL; /* corrupt or truncated */
      break;
    }
  }
  *outlen = z.total_out;
  inflateEnd(&z);
  return rc;
}

static void fuzz_gunzip(const uint8_t *data, size_t size) {
  if (size < 2)
    return;
  uint64_t limit = (uint64_t)data[0] << 2 | (data[1] & 3); /* 0..1023 */
  const uint8_t *in = data + 2;
  size_t len = size - 2;
  buf out = BUF_INIT;
  int rc = rpc__gunzip(in, len, limit, &out);
  CHECK(rc == 0 || rc == ERR_MSG_TOO_LARGE || rc == ERR_PROTOCOL);
  CHECK(out.len <= limit + 1); /* one byte past the limit detects overflow */
  if (rc == 0)
    CHECK(out.len <= limit);

  uint8_t *ref = xmalloc(limit + 1);
  size_t rlen = 0;
  int want = ref_inflate(in, len, limit, ref, &rlen);
  CHECK(rc == want);
  if (rc == 0) {
    CHECK(out.len == rlen);
    CHECK(rlen == 0 || memcmp(out.data, ref, rlen) == 0);
  }
  free(ref);
  buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  switch (data[0] & 3) {
  case 0:
    fuzz_timeout(data + 1, size - 1);
    break;
  case 1:
    fuzz_base64(data + 1, size - 1);
    break;
  case 2:
    fuzz_percent(data + 1, size - 1);
    break;
  default:
    fuzz_gunzip(data + 1, size - 1);
    break;
  }
  return 0;
}
