/* SPDX-License-Identifier: MIT */
/* The access log's line formatting and buffer, and request ids. A line is
 * built by hand (no printf: it runs for every call) straight into the
 * buffer, which is written with one write(2) when full, on the loop's
 * flush timer and at exit. Loop thread. */
#include "access_log.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "log.h"

int access_log_on_ = 1;

static struct {
  char data[ACCESS_LOG_BUFFER];
  size_t len;
  void (*arm)(void *);
  void *arm_ud;
} ab;

void access_log_enable(int on) { access_log_on_ = on; }

int access_log_parse(const char *s) {
  if (strcmp(s, "on") == 0)
    return 1;
  if (strcmp(s, "off") == 0)
    return 0;
  return -1;
}

void access_log_set_arm(void (*arm)(void *ud), void *ud) {
  ab.arm = arm;
  ab.arm_ud = ud;
}

void access_log_flush(void) {
  size_t off = 0;
  while (off < ab.len) {
    ssize_t w = write(STDERR_FILENO, ab.data + off, ab.len - off);
    if (w <= 0)
      break; /* stderr gone or full: the lines are dropped, never waited for */
    off += (size_t)w;
  }
  ab.len = 0;
}

/* ---- formatting into a line buffer ---- */

typedef struct line {
  char *p, *end;
} line;

static void put(line *l, const char *s, size_t n) {
  if ((size_t)(l->end - l->p) < n) {
    n = (size_t)(l->end - l->p); /* cut: the caller sized for the worst case */
  }
  memcpy(l->p, s, n);
  l->p += n;
}

#define PUT_LIT(l, s) put((l), (s), sizeof(s) - 1)

static void put_u64(line *l, uint64_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if ((size_t)(l->end - l->p) < n)
    return;
  while (n)
    *l->p++ = tmp[--n];
}

/* Milliseconds with three decimals ("12.345"), from rounded microseconds. */
static void put_ms(line *l, double ms) {
  uint64_t us = ms > 0 ? (uint64_t)(ms * 1000.0 + 0.5) : 0;
  put_u64(l, us / 1000);
  if (l->end - l->p < 4)
    return;
  unsigned f = (unsigned)(us % 1000);
  l->p[0] = '.';
  l->p[1] = (char)('0' + f / 100);
  l->p[2] = (char)('0' + f / 10 % 10);
  l->p[3] = (char)('0' + f % 10);
  l->p += 4;
}

/* The longest a value may take in the line (longer ones are cut); values
 * come from clients (request ids, messages). */
#define MAX_VALUE 512

/* A JSON string, quoted. */
static void put_json_str(line *l, const char *s) {
  size_t n = strnlen(s, MAX_VALUE);
  if ((size_t)(l->end - l->p) < 6 * n + 2)
    return;
  *l->p++ = '"';
  l->p += log_json_escape(l->p, s, n);
  *l->p++ = '"';
}

/* A text value: bare when it is a plain token, else quoted and escaped
 * like JSON, so that a line always splits back into its pairs. */
static void put_text_value(line *l, const char *s) {
  if (!s) {
    PUT_LIT(l, "-");
    return;
  }
  size_t n = strnlen(s, MAX_VALUE);
  int plain = n > 0;
  for (size_t i = 0; plain && i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
      plain = 0;
  }
  if (plain)
    put(l, s, n);
  else
    put_json_str(l, s);
}

/* One " key=value" (text) or ",\"key\":value" (JSON) pair. */
static void key(line *l, const char *k, size_t klen) {
  if (log_format_ == LOG_FORMAT_JSON) {
    PUT_LIT(l, ",\"");
    put(l, k, klen);
    PUT_LIT(l, "\":");
  } else {
    PUT_LIT(l, " ");
    put(l, k, klen);
    PUT_LIT(l, "=");
  }
}
#define KEY(l, k) key((l), (k), sizeof(k) - 1)

static void pair_str(line *l, const char *k, size_t klen, const char *v) {
  if (log_format_ == LOG_FORMAT_JSON) {
    if (!v)
      return; /* omitted */
    key(l, k, klen);
    put_json_str(l, v);
    return;
  }
  key(l, k, klen);
  put_text_value(l, v);
}
#define PAIR_STR(l, k, v) pair_str((l), (k), sizeof(k) - 1, (v))

static void pair_ms(line *l, const char *k, size_t klen, double ms) {
  if (ms < 0) {
    if (log_format_ != LOG_FORMAT_JSON) {
      key(l, k, klen);
      PUT_LIT(l, "-");
    }
    return;
  }
  key(l, k, klen);
  put_ms(l, ms);
}
#define PAIR_MS(l, k, v) pair_ms((l), (k), sizeof(k) - 1, (v))

void access_log_write(const access_entry *e) {
  int level = e->failed ? LOG_WARN : LOG_INFO;
  if (!access_log_on_ || log_level_ > level)
    return;
  /* Worst case: the fixed part plus every string value escaped. */
  const size_t need = LOG_PREFIX_MAX + 512 + 7 * 6 * MAX_VALUE;
  _Static_assert(LOG_PREFIX_MAX + 512 + 7 * 6 * MAX_VALUE < ACCESS_LOG_BUFFER,
                 "a line always fits in an empty buffer");
  if (ACCESS_LOG_BUFFER - ab.len < need)
    access_log_flush();
  int was_empty = ab.len == 0;
  line l = {ab.data + ab.len, ab.data + ACCESS_LOG_BUFFER};
  l.p += log_prefix(level, l.p);
  int json = log_format_ == LOG_FORMAT_JSON;
  if (json)
    PUT_LIT(&l, "\"msg\":\"access\"");
  else
    PUT_LIT(&l, "access");
  PAIR_STR(&l, "protocol", e->protocol);
  PAIR_STR(&l, "peer", e->peer);
  PAIR_STR(&l, "method", e->method);
  if (e->route)
    PAIR_STR(&l, "route", e->route);
  if (e->status_name) {
    PAIR_STR(&l, "status", e->status_name);
    KEY(&l, "grpc_code");
  } else {
    KEY(&l, "status");
  }
  put_u64(&l, (uint64_t)(e->status < 0 ? 0 : e->status));
  PAIR_STR(&l, "ocr_status", e->ocr_status);
  PAIR_STR(&l, "details", e->details);
  PAIR_MS(&l, "queue_ms", e->queue_ms);
  PAIR_MS(&l, "ocr_ms", e->ocr_ms);
  KEY(&l, "bytes_in");
  put_u64(&l, e->bytes_in);
  KEY(&l, "bytes_out");
  put_u64(&l, e->bytes_out);
  PAIR_MS(&l, "duration_ms", e->duration_ms);
  PAIR_STR(&l, "request_id", e->request_id);
  if (e->message || json)
    PAIR_STR(&l, "message", e->message);
  if (json)
    PUT_LIT(&l, "}");
  PUT_LIT(&l, "\n");
  ab.len = (size_t)(l.p - ab.data);
  if (was_empty && ab.arm)
    ab.arm(ab.arm_ud);
}

/* ---- request ids ---- */

/* xoshiro256** (Blackman and Vigna): 128 random bits per id cost a few
 * dozen instructions; libuuid's uuid_generate would read the kernel's
 * random source (a system call) for every call. */
static uint64_t rng[4];
static int rng_seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(void) {
  uint64_t r = rotl(rng[1] * 5, 7) * 9, t = rng[1] << 17;
  rng[2] ^= rng[0];
  rng[3] ^= rng[1];
  rng[1] ^= rng[2];
  rng[0] ^= rng[3];
  rng[2] ^= t;
  rng[3] = rotl(rng[3], 45);
  return r;
}

static void rng_seed(void) {
  uuid_t a, b;
  uuid_generate_random(a);
  uuid_generate_random(b);
  memcpy(&rng[0], a, 16);
  memcpy(&rng[2], b, 16);
  if (!(rng[0] | rng[1] | rng[2] | rng[3]))
    rng[0] = 1; /* the one state xoshiro cannot leave */
  rng_seeded = 1;
}

void access_log_new_id(char out[37]) {
  if (!rng_seeded)
    rng_seed();
  uint64_t r[2] = {rng_next(), rng_next()};
  uuid_t u;
  memcpy(u, r, 16);
  u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
  u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  uuid_unparse_lower(u, out);
}
