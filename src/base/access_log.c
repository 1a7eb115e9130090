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
#include "text.h"

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

/* ---- formatting into a line buffer ----
 * access_log_write makes room for the worst case first, so the helpers
 * below write without bounds checks. Strings the server made (names from
 * tables, the peer, a generated id) are copied as they are; strings a
 * client chose (its request id, a message quoting its input) are scanned
 * and quoted or escaped when needed. */

/* The longest a client-chosen value may take (longer ones are cut). */
#define MAX_VALUE 512
/* Room for one line: prefix, keys and numbers, and every string value at
 * its worst (escaped, six bytes per input byte). */
#define LINE_MAX (LOG_PREFIX_MAX + 512 + 9 * 6 * MAX_VALUE)
_Static_assert(LINE_MAX < ACCESS_LOG_BUFFER, "a line always fits in an empty buffer");

#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

static char *put_str(char *p, const char *s) {
  size_t n = strnlen(s, MAX_VALUE);
  memcpy(p, s, n);
  return p + n;
}

/* A JSON string, quoted. */
static char *put_json_str(char *p, const char *s) {
  *p++ = '"';
  p += log_json_escape(p, s, strnlen(s, MAX_VALUE));
  *p++ = '"';
  return p;
}

/* A client-chosen text value: bare when it is a plain token, else quoted
 * and escaped like JSON, so that a line always splits back into its
 * key=value pairs. */
static char *put_text_value(char *p, const char *s) {
  size_t n = strnlen(s, MAX_VALUE);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
      return put_json_str(p, s);
  }
  if (n == 0)
    return LIT(p, "\"\"");
  memcpy(p, s, n);
  return p + n;
}

/* The fields of a line, in order, with how each is written: one table
 * for both formats. Each format expands it into straight-line code (the
 * keys are literals, copied by constant-size stores), so the table costs
 * nothing per call over writing each format out by hand.
 *   STR         a string the server made; text "-", JSON null when NULL
 *   OPT_CLIENT  a client-chosen string, left out when NULL
 *   STATUS      the status name (when there is one) and its number
 *   OPT_MS      milliseconds, not applicable when < 0: text "-", JSON left out
 *   MS, U64     numbers
 *   REQUEST_ID  bare when the server made it, else scanned like OPT_CLIENT
 *   MESSAGE     a JSON string; text leaves it out, JSON null when NULL */
#define ACCESS_FIELDS(X)                                                                   \
  X(protocol, STR)                                                                         \
  X(peer, STR)                                                                             \
  X(method, STR)                                                                           \
  X(route, OPT_CLIENT)                                                                     \
  X(status, STATUS)                                                                        \
  X(ocr_status, STR)                                                                       \
  X(details, STR)                                                                          \
  X(queue_ms, OPT_MS)                                                                      \
  X(ocr_ms, OPT_MS)                                                                        \
  X(bytes_in, U64)                                                                         \
  X(bytes_out, U64)                                                                        \
  X(duration_ms, MS)                                                                       \
  X(request_id, REQUEST_ID)                                                                \
  X(message, MESSAGE)

/* Text: "access" then " key=value" pairs. */
#define TEXT_STR(k, v) (p = LIT(p, k), p = put_str(p, (v) ? (v) : "-"));
#define TEXT_OPT_CLIENT(k, v)                                                              \
  if (v)                                                                                   \
    p = LIT(p, k), p = put_text_value(p, v);
#define TEXT_STATUS(k, v)                                                                  \
  p = LIT(p, k);                                                                           \
  if (e->status_name)                                                                      \
    p = put_str(p, e->status_name), p = LIT(p, " grpc_code=");                             \
  p = text_put_u64(p, (uint64_t)((v) < 0 ? 0 : (v)));
#define TEXT_OPT_MS(k, v) (p = LIT(p, k), p = (v) < 0 ? LIT(p, "-") : text_put_ms(p, v));
#define TEXT_MS(k, v) (p = LIT(p, k), p = text_put_ms(p, v));
#define TEXT_U64(k, v) (p = LIT(p, k), p = text_put_u64(p, v));
#define TEXT_REQUEST_ID(k, v)                                                              \
  p = LIT(p, k);                                                                           \
  if (!(v))                                                                                \
    p = LIT(p, "-");                                                                       \
  else if (e->request_id_trusted)                                                          \
    p = put_str(p, v);                                                                     \
  else                                                                                     \
    p = put_text_value(p, v);
#define TEXT_MESSAGE(k, v)                                                                 \
  if (v)                                                                                   \
    p = LIT(p, k), p = put_json_str(p, v);
#define TEXT_FIELD(name, kind) TEXT_##kind(" " #name "=", e->name)

static char *format_text(char *p, const access_entry *e) {
  p = LIT(p, "access");
  ACCESS_FIELDS(TEXT_FIELD)
  return p;
}

/* JSON: "msg":"access" then ,"key":value members, closing the object. */
#define JSON_STR(k, v) (p = LIT(p, k), p = (v) ? put_json_str(p, v) : LIT(p, "null"));
#define JSON_OPT_CLIENT(k, v)                                                              \
  if (v)                                                                                   \
    p = LIT(p, k), p = put_json_str(p, v);
#define JSON_STATUS(k, v)                                                                  \
  p = LIT(p, k);                                                                           \
  if (e->status_name)                                                                      \
    p = put_json_str(p, e->status_name), p = LIT(p, ",\"grpc_code\":");                    \
  p = text_put_u64(p, (uint64_t)((v) < 0 ? 0 : (v)));
#define JSON_OPT_MS(k, v)                                                                  \
  if ((v) >= 0)                                                                            \
    p = LIT(p, k), p = text_put_ms(p, v);
#define JSON_MS(k, v) (p = LIT(p, k), p = text_put_ms(p, v));
#define JSON_U64(k, v) (p = LIT(p, k), p = text_put_u64(p, v));
#define JSON_REQUEST_ID JSON_STR
#define JSON_MESSAGE JSON_STR
#define JSON_FIELD(name, kind) JSON_##kind(",\"" #name "\":", e->name)

static char *format_json(char *p, const access_entry *e) {
  p = LIT(p, "\"msg\":\"access\"");
  ACCESS_FIELDS(JSON_FIELD)
  return LIT(p, "}");
}

void access_log_write(const access_entry *e) {
  int level = e->failed ? LOG_WARN : LOG_INFO;
  if (!access_log_on_ || log_level_ > level)
    return;
  if (ACCESS_LOG_BUFFER - ab.len < LINE_MAX)
    access_log_flush();
  int was_empty = ab.len == 0;
  char *p = ab.data + ab.len;
  p += log_prefix(level, p);
  p = log_format_ == LOG_FORMAT_JSON ? format_json(p, e) : format_text(p, e);
  *p++ = '\n';
  ab.len = (size_t)(p - ab.data);
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

void access_log_new_id(char out[ACCESS_LOG_ID_LEN + 1]) {
  /* RFC 4648 base64url, no padding: 128 bits in 22 characters instead of
   * the 36 of the hex form; the id is sent back in every response
   * without one, where each character costs HPACK work (bench/RESULTS.md,
   * "metrics and access log"). The UUID's bytes 0-7 are hi's, most
   * significant first, 8-15 lo's. */
  static const char b64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  if (!rng_seeded)
    rng_seed();
  uint64_t hi = rng_next(), lo = rng_next();
  hi = (hi & ~(0xfull << 12)) | (0x4ull << 12); /* byte 6's high nibble: version 4 */
  lo = (lo & ~(0x3ull << 62)) | (0x2ull << 62); /* byte 8's top bits: RFC 4122 */
  /* 21 characters of 6 bits from the 128, then the last 2 bits. */
  for (int i = 0; i < 10; i++)
    out[i] = b64[(hi >> (58 - 6 * i)) & 63];
  out[10] = b64[((hi & 0xf) << 2) | (lo >> 62)]; /* bits 60..65 */
  for (int i = 11; i < 21; i++)
    out[i] = b64[(lo >> (56 - 6 * (i - 11))) & 63];
  out[21] = b64[(lo & 3) << 4];
  out[22] = 0;
}
