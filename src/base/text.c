/* SPDX-License-Identifier: MIT */
/* Small text helpers: hexadecimal and base64 digits, "--name=value" flags,
 * and decimal numbers written without printf for the hot path's log line
 * and response metadata. */
#include "text.h"

#include <stdint.h>

#include <string.h>

int text_hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

const char *text_split_flag(const char *arg, char *name, size_t namelen,
                            const char **value) {
  *value = NULL;
  const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
  if (!eq || (size_t)(eq - arg) >= namelen)
    return arg;
  memcpy(name, arg, (size_t)(eq - arg));
  name[eq - arg] = '\0';
  *value = eq + 1;
  return name;
}

static int b64val(unsigned char ch) {
  if (ch >= 'A' && ch <= 'Z')
    return ch - 'A';
  if (ch >= 'a' && ch <= 'z')
    return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9')
    return ch - '0' + 52;
  if (ch == '+' || ch == '-')
    return 62;
  if (ch == '/' || ch == '_')
    return 63;
  return -1;
}

ssize_t text_base64_decode(const char *in, size_t len, uint8_t *out) {
  while (len > 0 && in[len - 1] == '=')
    len--;
  if (len % 4 == 1)
    return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64val((unsigned char)in[i]);
    if (v < 0)
      return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
    }
  }
  return (ssize_t)o;
}

char *text_put_u64(char *p, uint64_t v) {
  char tmp[TEXT_U64_MAX];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    *p++ = tmp[--n];
  return p;
}

/* ".000" to ".999", four bytes each: the fraction of a millisecond value is
 * copied whole instead of three divisions per number. Built by the
 * preprocessor, so it needs no initialisation and is shared by threads. */
/* clang-format off */
#define FRAC10(a, b) "." a b "0" "." a b "1" "." a b "2" "." a b "3" "." a b "4" \
                     "." a b "5" "." a b "6" "." a b "7" "." a b "8" "." a b "9"
#define FRAC100(a) FRAC10(a, "0") FRAC10(a, "1") FRAC10(a, "2") FRAC10(a, "3") \
                   FRAC10(a, "4") FRAC10(a, "5") FRAC10(a, "6") FRAC10(a, "7") \
                   FRAC10(a, "8") FRAC10(a, "9")
static const char fractions[] = FRAC100("0") FRAC100("1") FRAC100("2") FRAC100("3")
                                FRAC100("4") FRAC100("5") FRAC100("6") FRAC100("7")
                                FRAC100("8") FRAC100("9");
/* clang-format on */
_Static_assert(sizeof(fractions) == 4000 + 1, "1000 fractions of four bytes");

char *text_put_ms(char *p, double ms) {
  /* Signed conversion: one instruction, where unsigned needs a branch. */
  uint64_t us = ms > 0 ? (uint64_t)(int64_t)(ms * 1000.0 + 0.5) : 0;
  if (us < 1000)
    *p++ = '0'; /* the usual case on a fast path: no division loop */
  else
    p = text_put_u64(p, us / 1000);
  memcpy(p, fractions + 4 * (us % 1000), 4);
  return p + 4;
}
