/* SPDX-License-Identifier: MIT */
/* The `rules` engine: no model, only patterns that documents OCR produces
 * follow (Korean and English receipts, invoices, contracts). Resident
 * registration numbers and card numbers are found first and masked in a
 * working copy, so no later step (entities, analysis, stream) can see
 * them in clear; every match marks its bytes used so two detectors never
 * claim the same digits. Each detector is one linear scan. Any thread. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "llm.h"

typedef struct scan {
  char *t; /* working copy, NUL terminated; private numbers masked */
  size_t n;
  uint8_t *used;
  size_t *line_start; /* byte offset of each line */
  size_t nlines;
  uint8_t *line_hit; /* something recognised on the line */
  llm_result *r;
  int err;
  /* How many entities of each base key so far (the next gets _N+1). */
  struct {
    const char *base;
    int n;
  } counts[16];
  int ncounts;
} scan;

/* Entities kept per analysis: a text full of numbers must not turn into
 * an answer larger than itself. */
#define MAX_ENTITIES 1000

static int dig(char c) { return c >= '0' && c <= '9'; }
static int digat(const scan *s, size_t i) { return i < s->n && dig(s->t[i]); }
/* No digit just before i (a number starts here). */
static int starts(const scan *s, size_t i) { return i == 0 || !dig(s->t[i - 1]); }
static int alpha_at(const scan *s, size_t i) {
  return i < s->n && isalpha((unsigned char)s->t[i]);
}

static int is_used(const scan *s, size_t a, size_t b) {
  for (size_t i = a; i < b; i++)
    if (s->used[i])
      return 1;
  return 0;
}

static size_t line_of(const scan *s, size_t off) {
  size_t lo = 0, hi = s->nlines;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (s->line_start[mid] <= off)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

static void claim(scan *s, size_t a, size_t b) {
  memset(s->used + a, 1, b - a);
  s->line_hit[line_of(s, a)] = 1;
}

/* Adds base, then base_2, base_3, ... */
static void add_entity(scan *s, const char *base, const char *value) {
  if (s->err || s->r->nentities >= MAX_ENTITIES)
    return;
  int k = 0;
  while (k < s->ncounts && strcmp(s->counts[k].base, base))
    k++;
  if (k == s->ncounts) {
    if (k == (int)(sizeof s->counts / sizeof s->counts[0]))
      return;
    s->counts[k].base = base;
    s->counts[k].n = 0;
    s->ncounts++;
  }
  int n = ++s->counts[k].n;
  char key[64];
  if (n == 1)
    snprintf(key, sizeof key, "%s", base);
  else
    snprintf(key, sizeof key, "%s_%d", base, n);
  s->err = llm_result_entity(s->r, key, value);
}

/* Counts digits from i; returns the end. */
static size_t digits(const scan *s, size_t i, size_t *count) {
  size_t j = i;
  while (digat(s, j))
    j++;
  *count = j - i;
  return j;
}

static int num(const char *p, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++)
    v = v * 10 + (p[i] - '0');
  return v;
}

/* ---- resident registration numbers: YYMMDD-GNNNNNN ---- */
static int rrn_at(const char *t, size_t n, size_t i) {
  if (i + 14 > n || (i > 0 && dig(t[i - 1])) || (i + 14 < n && dig(t[i + 14])))
    return 0;
  for (size_t k = 0; k < 14; k++)
    if (k == 6 ? (t[i + k] != '-' && t[i + k] != ' ') : !dig(t[i + k]))
      return 0;
  int mm = num(t + i + 2, 2), dd = num(t + i + 4, 2);
  return mm >= 1 && mm <= 12 && dd >= 1 && dd <= 31 && t[i + 7] >= '1' && t[i + 7] <= '8';
}

/* ---- card numbers: 4-4-4-4 groups (digits or already masked '*'), or a
 * 15-16 digit run passing the Luhn check ---- */
static int luhn(const char *t, size_t a, size_t b) {
  int sum = 0, dbl = 0, nd = 0;
  for (size_t i = b; i > a; i--) {
    char c = t[i - 1];
    if (!dig(c))
      continue;
    int d = c - '0';
    if (dbl && (d *= 2) > 9)
      d -= 9;
    sum += d;
    dbl = !dbl;
    nd++;
  }
  return nd >= 13 && sum % 10 == 0;
}

static int cardch(char c) { return dig(c) || c == '*' || c == 'X' || c == 'x'; }

static size_t card_at(const char *t, size_t n, size_t i) {
  if (i > 0 && (cardch(t[i - 1]) || t[i - 1] == '-'))
    return 0;
  size_t j = i;
  int groups = 0;
  while (groups < 4) {
    for (int k = 0; k < 4; k++, j++)
      if (j >= n || !cardch(t[j]))
        return 0;
    groups++;
    if (groups < 4) {
      if (j >= n || (t[j] != '-' && t[j] != ' '))
        break;
      j++;
    }
  }
  if (groups == 4) {
    if (j < n && cardch(t[j]))
      return 0;
    int nd = 0;
    for (size_t k = i; k < j; k++)
      nd += dig(t[k]);
    return nd >= 4 && dig(t[i]) ? j : 0;
  }
  /* A run of digits without separators. */
  j = i;
  while (j < n && dig(t[j]))
    j++;
  size_t len = j - i;
  if ((len == 15 || len == 16) && !(j < n && cardch(t[j])) && luhn(t, i, j))
    return j;
  return 0;
}

/* Masks in place; calls found(arg, kind, a, b) for each. */
static void mask_all(char *t, size_t n, void (*found)(void *, int, size_t, size_t),
                     void *arg) {
  for (size_t i = 0; i < n; i++) {
    if (rrn_at(t, n, i)) {
      memset(t + i + 8, '*', 6);
      if (found)
        found(arg, 0, i, i + 14);
      i += 13;
      continue;
    }
    size_t e = dig(t[i]) ? card_at(t, n, i) : 0;
    if (e) {
      /* Keep the last four digits, as card slips do. */
      int keep = 4;
      for (size_t k = e; k > i; k--) {
        char *c = &t[k - 1];
        if (!cardch(*c))
          continue;
        if (keep > 0 && dig(*c))
          keep--;
        else if (keep <= 0 || !dig(*c))
          *c = '*';
      }
      if (found)
        found(arg, 1, i, e);
      i = e - 1;
    }
  }
}

void llm_mask_private(char *s) { mask_all(s, strlen(s), NULL, NULL); }

static void on_private(void *arg, int kind, size_t a, size_t b) {
  scan *s = arg;
  char v[64];
  snprintf(v, sizeof v, "%.*s", (int)(b - a), s->t + a);
  claim(s, a, b);
  add_entity(s, kind == 0 ? "resident_registration_number" : "card_number", v);
}

/* ---- business registration numbers: NNN-NN-NNNNN ---- */
static int bizno_valid(const char *d) { /* 10 digits */
  static const int w[9] = {1, 3, 7, 1, 3, 7, 1, 3, 5};
  int sum = 0;
  for (int i = 0; i < 9; i++)
    sum += (d[i] - '0') * w[i];
  sum += (d[8] - '0') * 5 / 10;
  return (10 - sum % 10) % 10 == d[9] - '0';
}

static void find_bizno(scan *s) {
  for (size_t i = 0; i + 12 <= s->n; i++) {
    if (!starts(s, i) || digat(s, i + 12))
      continue;
    const char *t = s->t + i;
    int ok = 1;
    for (int k = 0; k < 12 && ok; k++)
      ok = (k == 3 || k == 6) ? t[k] == '-' : dig(t[k]);
    if (!ok || is_used(s, i, i + 12))
      continue;
    char d[10], v[16];
    memcpy(d, t, 3);
    memcpy(d + 3, t + 4, 2);
    memcpy(d + 5, t + 7, 5);
    snprintf(v, sizeof v, "%.12s", t);
    claim(s, i, i + 12);
    add_entity(s, bizno_valid(d) ? "business_number" : "business_number_invalid", v);
    i += 11;
  }
}

/* ---- e-mail addresses and URLs ---- */
static int local_ch(char c) {
  return isalnum((unsigned char)c) || strchr("._%+-", c) != NULL;
}
static int host_ch(char c) { return isalnum((unsigned char)c) || c == '.' || c == '-'; }

static void find_email(scan *s) {
  for (size_t i = 1; i + 1 < s->n; i++) {
    if (s->t[i] != '@')
      continue;
    size_t a = i, b = i + 1;
    while (a > 0 && i - a < 64 && local_ch(s->t[a - 1]))
      a--;
    while (b < s->n && b - i < 255 && host_ch(s->t[b]))
      b++;
    while (b > i + 1 && (s->t[b - 1] == '.' || s->t[b - 1] == '-'))
      b--;
    const char *dot = NULL;
    for (size_t k = i + 1; k < b; k++)
      if (s->t[k] == '.')
        dot = s->t + k;
    if (a == i || !dot || (size_t)(s->t + b - dot) < 3 || is_used(s, a, b))
      continue;
    char v[256];
    snprintf(v, sizeof v, "%.*s", (int)(b - a), s->t + a);
    claim(s, a, b);
    add_entity(s, "email", v);
    i = b;
  }
}

static int prefix_ci(const scan *s, size_t i, const char *p) {
  size_t n = strlen(p);
  return i + n <= s->n && strncasecmp(s->t + i, p, n) == 0;
}

static void find_url(scan *s) {
  for (size_t i = 0; i < s->n; i++) {
    size_t skip = prefix_ci(s, i, "https://")  ? 8
                  : prefix_ci(s, i, "http://") ? 7
                  : prefix_ci(s, i, "www.")    ? 4
                                               : 0;
    if (!skip || (i > 0 && isalnum((unsigned char)s->t[i - 1])))
      continue;
    size_t b = i + skip;
    while (b < s->n && (unsigned char)s->t[b] > ' ' && (unsigned char)s->t[b] < 0x7f &&
           !strchr("<>\"'", s->t[b]))
      b++;
    while (b > i + skip && strchr(".,;:!?)", s->t[b - 1]))
      b--;
    if (b <= i + skip + 2 || is_used(s, i, b))
      continue;
    char v[1024];
    snprintf(v, sizeof v, "%.*s", (int)(b - i), s->t + i);
    claim(s, i, b);
    add_entity(s, "url", v);
    i = b;
  }
}

/* ---- phone numbers ---- */
static int sep(char c) { return c == '-' || c == ' ' || c == '.'; }

/* Groups of digits separated by one separator; returns the end and the
 * group lengths (at most 5). */
static size_t groups(const scan *s, size_t i, size_t *g, int *ng, int allow_paren) {
  size_t j = i;
  *ng = 0;
  while (*ng < 5) {
    int paren = allow_paren && *ng == 0 && j < s->n && s->t[j] == '(';
    size_t c, e = digits(s, j + paren, &c);
    if (!c || (paren && (e >= s->n || s->t[e] != ')')))
      break;
    g[(*ng)++] = c;
    j = e + paren;
    if (j + 1 < s->n && (sep(s->t[j]) || (paren && s->t[j] == ' ')) && dig(s->t[j + 1]))
      j++;
    else if (paren && j < s->n && dig(s->t[j]))
      continue;
    else
      break;
  }
  return j;
}

static void find_phone(scan *s) {
  for (size_t i = 0; i < s->n; i++) {
    char c = s->t[i];
    if (!(c == '+' || c == '(' || dig(c)) || !starts(s, i) ||
        (i > 0 && (isalnum((unsigned char)s->t[i - 1]) || s->t[i - 1] == '-')))
      continue;
    size_t g[5], total = 0, e;
    int ng, ok = 0;
    if (c == '+') {
      e = groups(s, i + 1, g, &ng, 0);
      for (int k = 0; k < ng; k++)
        total += g[k];
      ok = total >= 8 && total <= 15 && (ng >= 2 || total >= 10);
    } else {
      e = groups(s, i, g, &ng, 1);
      size_t off = c == '(' ? 1 : 0;
      char d0 = s->t[i + off], d1 = i + off + 1 < s->n ? s->t[i + off + 1] : 0;
      for (int k = 0; k < ng; k++)
        total += g[k];
      if (ng == 3 && d0 == '0' && g[0] >= 2 && g[0] <= 3 && g[1] >= 3 && g[1] <= 4 &&
          g[2] == 4)
        ok = 1; /* 02-123-4567, 010-1234-5678, 031-123-4567 */
      else if (ng == 2 && d0 == '1' && d1 >= '5' && g[0] == 4 && g[1] == 4)
        ok = 1; /* 1588-1234 */
      else if (ng == 1 && d0 == '0' && d1 == '1' && (g[0] == 10 || g[0] == 11))
        ok = 1; /* 01012345678 */
      else if (ng == 3 && d0 != '0' && g[0] == 3 && g[1] == 3 && g[2] == 4)
        ok = 1; /* 415-555-2671, (415) 555-2671 */
    }
    if (!ok || digat(s, e) || alpha_at(s, e) || is_used(s, i, e))
      continue;
    char v[64];
    snprintf(v, sizeof v, "%.*s", (int)(e - i), s->t + i);
    claim(s, i, e);
    add_entity(s, "phone", v);
    i = e - 1;
  }
}

/* ---- dates ---- */
static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

static int valid_date(int y, int m, int d) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return y >= 1900 && y <= 2199 && m >= 1 && m <= 12 && d >= 1 && d <= mdays[m - 1];
}

static void add_date(scan *s, size_t a, size_t b, int y, int m, int d) {
  char v[40];
  snprintf(v, sizeof v, "%04d-%02d-%02d", y, m, d);
  claim(s, a, b);
  add_entity(s, "date", v);
}

/* A month name at i (three letters at least, the rest letters): 1-12 and
 * its end, or 0. */
static int month_at(const scan *s, size_t i, size_t *end) {
  if (i + 3 > s->n || (i > 0 && isalpha((unsigned char)s->t[i - 1])))
    return 0;
  for (int k = 0; k < 12; k++)
    if (strncasecmp(s->t + i, months[k], 3) == 0) {
      size_t j = i + 3;
      while (alpha_at(s, j))
        j++;
      if (j < s->n && s->t[j] == '.')
        j++;
      *end = j;
      return k + 1;
    }
  return 0;
}

static size_t spaces(const scan *s, size_t i) {
  while (i < s->n && s->t[i] == ' ')
    i++;
  return i;
}

static int lit(const scan *s, size_t i, const char *p) {
  size_t n = strlen(p);
  return i + n <= s->n && memcmp(s->t + i, p, n) == 0;
}

static void find_dates(scan *s) {
  for (size_t i = 0; i < s->n; i++) {
    size_t c1, c2, c3, e1, e2, e3, j;
    if (dig(s->t[i]) && starts(s, i)) {
      e1 = digits(s, i, &c1);
      /* 2024-03-05, 2024.03.05, 2024/3/5 */
      if (c1 == 4 && e1 + 1 < s->n && strchr("-./", s->t[e1]) && s->t[e1]) {
        char sp = s->t[e1];
        e2 = digits(s, e1 + 1, &c2);
        if (c2 >= 1 && c2 <= 2 && e2 + 1 < s->n && s->t[e2] == sp) {
          e3 = digits(s, e2 + 1, &c3);
          int y = num(s->t + i, 4), m = num(s->t + e1 + 1, (size_t)c2),
              d = c3 >= 1 && c3 <= 2 ? num(s->t + e2 + 1, c3) : 0;
          if (d && valid_date(y, m, d) && !is_used(s, i, e3)) {
            add_date(s, i, e3, y, m, d);
            i = e3 - 1;
            continue;
          }
        }
      }
      /* 2024년 3월 5일 */
      if (c1 == 4 && lit(s, e1, "년")) {
        j = spaces(s, e1 + 3);
        e2 = digits(s, j, &c2);
        if (c2 >= 1 && c2 <= 2 && lit(s, e2, "월")) {
          size_t k = spaces(s, e2 + 3);
          e3 = digits(s, k, &c3);
          if (c3 >= 1 && c3 <= 2 && lit(s, e3, "일")) {
            int y = num(s->t + i, 4), m = num(s->t + j, c2), d = num(s->t + k, c3);
            if (valid_date(y, m, d) && !is_used(s, i, e3 + 3)) {
              add_date(s, i, e3 + 3, y, m, d);
              i = e3 + 2;
              continue;
            }
          }
        }
      }
      /* 03/05/2024 (month first, as in the US) */
      if (c1 >= 1 && c1 <= 2 && e1 < s->n && s->t[e1] == '/') {
        e2 = digits(s, e1 + 1, &c2);
        if (c2 >= 1 && c2 <= 2 && e2 < s->n && s->t[e2] == '/') {
          e3 = digits(s, e2 + 1, &c3);
          int m = num(s->t + i, c1), d = num(s->t + e1 + 1, c2),
              y = c3 == 4 ? num(s->t + e2 + 1, 4) : 0;
          if (valid_date(y, m, d) && !is_used(s, i, e3)) {
            add_date(s, i, e3, y, m, d);
            i = e3 - 1;
            continue;
          }
        }
      }
      /* 5 March 2024 */
      if (c1 >= 1 && c1 <= 2) {
        size_t me;
        j = spaces(s, e1);
        int m = j > e1 ? month_at(s, j, &me) : 0;
        if (m) {
          size_t k = spaces(s, me);
          e3 = digits(s, k, &c3);
          int d = num(s->t + i, c1), y = c3 == 4 ? num(s->t + k, 4) : 0;
          if (k > me && valid_date(y, m, d) && !is_used(s, i, e3)) {
            add_date(s, i, e3, y, m, d);
            i = e3 - 1;
            continue;
          }
        }
      }
    } else if (isalpha((unsigned char)s->t[i])) {
      /* March 5, 2024 */
      size_t me;
      int m = month_at(s, i, &me);
      if (!m)
        continue;
      j = spaces(s, me);
      e2 = digits(s, j, &c2);
      if (j == me || c2 < 1 || c2 > 2)
        continue;
      size_t k = e2;
      if (k < s->n && s->t[k] == ',')
        k++;
      k = spaces(s, k);
      e3 = digits(s, k, &c3);
      int d = num(s->t + j, c2), y = c3 == 4 ? num(s->t + k, 4) : 0;
      if (k > e2 && valid_date(y, m, d) && !is_used(s, i, e3)) {
        add_date(s, i, e3, y, m, d);
        i = e3 - 1;
      }
    }
  }
}

/* ---- money amounts ---- */
typedef struct currency {
  const char *text;
  const char *code;
} currency;
static const currency prefixes[] = {
    {"₩", "KRW"}, {"$", "USD"}, {"KRW", "KRW"}, {"USD", "USD"}, {"US$", "USD"}};
static const currency suffixes[] = {
    {"원", "KRW"}, {"KRW", "KRW"}, {"USD", "USD"}, {"달러", "USD"}};

/* A number with optional thousands separators and decimals at i; its end
 * and the digits without separators in out. 0 when none. */
static size_t amount_num(const scan *s, size_t i, char *out, size_t outsz) {
  size_t c, j = digits(s, i, &c), o = 0;
  if (!c || c > 15 || !starts(s, i))
    return 0;
  for (size_t k = i; k < j && o + 1 < outsz; k++)
    out[o++] = s->t[k];
  while (j + 3 < s->n + 0 && s->t[j] == ',' && digat(s, j + 1) && digat(s, j + 2) &&
         digat(s, j + 3) && !digat(s, j + 4) && c <= 3) {
    for (size_t k = j + 1; k < j + 4 && o + 1 < outsz; k++)
      out[o++] = s->t[k];
    j += 4;
  }
  if (j + 1 < s->n && s->t[j] == '.' && digat(s, j + 1)) {
    size_t cd, e = digits(s, j + 1, &cd);
    if (cd <= 2) {
      for (size_t k = j; k < e && o + 1 < outsz; k++)
        out[o++] = s->t[k];
      j = e;
    }
  }
  out[o] = 0;
  return j;
}

/* The kind of amount the label before it on the line gives. */
static const char *amount_kind(const scan *s, size_t at) {
  size_t ls = s->line_start[line_of(s, at)];
  /* The label is near the amount: a bounded look-back keeps a long line
   * with many amounts linear. */
  if (at > 80 && ls < at - 80)
    ls = at - 80;
  static const char *const total[] = {"합계",       "총액",        "총 금액",  "총금액",
                                      "결제금액",   "결제 금액",   "청구금액", "받을금액",
                                      "amount due", "balance due", "total"};
  static const char *const sub[] = {"소계", "subtotal", "sub total", "sub-total"};
  static const char *const tax[] = {"부가세", "부가가치세", "세액", "vat", "tax"};
  const char *kind = NULL;
  for (size_t i = ls; i < at && !kind; i++) {
    for (size_t k = 0; k < sizeof sub / sizeof *sub && !kind; k++)
      if (prefix_ci(s, i, sub[k]))
        kind = "amount_subtotal";
    for (size_t k = 0; k < sizeof total / sizeof *total && !kind; k++)
      if (prefix_ci(s, i, total[k]) && !(i > 0 && isalpha((unsigned char)s->t[i - 1])))
        kind = "amount_total";
    for (size_t k = 0; k < sizeof tax / sizeof *tax && !kind; k++)
      if (prefix_ci(s, i, tax[k]) && !(i > 0 && isalpha((unsigned char)s->t[i - 1])))
        kind = "amount_tax";
  }
  return kind ? kind : "amount";
}

static void add_amount(scan *s, size_t a, size_t b, const char *digits_, const char *code) {
  char v[64];
  snprintf(v, sizeof v, "%s %s", digits_, code);
  const char *kind = amount_kind(s, a);
  claim(s, a, b);
  add_entity(s, kind, v);
}

static void find_amounts(scan *s) {
  char d[40];
  for (size_t i = 0; i < s->n; i++) {
    int done = 0;
    for (size_t k = 0; k < sizeof prefixes / sizeof *prefixes && !done; k++) {
      if (!lit(s, i, prefixes[k].text) ||
          (isalpha((unsigned char)s->t[i]) && i > 0 && isalpha((unsigned char)s->t[i - 1])))
        continue;
      size_t j = spaces(s, i + strlen(prefixes[k].text));
      size_t e = amount_num(s, j, d, sizeof d);
      if (e && !alpha_at(s, e) && !is_used(s, i, e)) {
        add_amount(s, i, e, d, prefixes[k].code);
        i = e - 1;
        done = 1;
      }
    }
    if (done || !dig(s->t[i]))
      continue;
    size_t e = amount_num(s, i, d, sizeof d);
    if (!e)
      continue;
    size_t j = spaces(s, e);
    for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes; k++) {
      size_t sl = strlen(suffixes[k].text);
      if (lit(s, j, suffixes[k].text) && !alpha_at(s, j + sl) && !is_used(s, i, j + sl)) {
        add_amount(s, i, j + sl, d, suffixes[k].code);
        e = j + sl;
        break;
      }
    }
    i = e - 1;
  }
}

/* ---- what kind of document ---- */
typedef struct kind_rule {
  const char *word;
  const char *kind;
} kind_rule;
static const kind_rule kinds[] = {
    {"세금계산서", "tax invoice"}, {"tax invoice", "tax invoice"},
    {"영수증", "receipt"},         {"receipt", "receipt"},
    {"카드승인", "receipt"},       {"invoice", "invoice"},
    {"청구서", "invoice"},         {"거래명세서", "invoice"},
    {"계약서", "contract"},        {"contract", "contract"},
    {"agreement", "contract"},     {"statement", "statement"},
};

static const char *doc_kind(scan *s) {
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
    for (size_t i = 0; i < s->n; i++)
      if (prefix_ci(s, i, kinds[k].word)) {
        s->line_hit[line_of(s, i)] = 1;
        return kinds[k].kind;
      }
  return NULL;
}

static void append(char *out, size_t size, const char *fmt, const char *a, const char *b) {
  size_t n = strlen(out);
  if (n < size)
    snprintf(out + n, size - n, fmt, a, b);
}

static int write_analysis(scan *s, const char *kind, int hangul) {
  llm_result *r = s->r;
  char buf[2048] = "";
  char head[64];
  snprintf(head, sizeof head, "%s", kind ? kind : "document");
  head[0] = (char)toupper((unsigned char)head[0]);
  append(buf, sizeof buf, "%s (%s).", head, hangul ? "Korean" : "English");
  static const struct {
    const char *key, *label;
  } show[] = {
      {"date", "Date"},      {"amount_total", "Total"},
      {"amount_tax", "Tax"}, {"business_number", "Business number"},
      {"phone", "Phone"},    {"email", "E-mail"},
      {"url", "URL"},
  };
  for (size_t k = 0; k < sizeof show / sizeof *show; k++) {
    const char *v = llm_result_get(r, show[k].key);
    if (v)
      append(buf, sizeof buf, " %s: %s.", show[k].label, v);
  }
  if (llm_result_get(r, "business_number_invalid"))
    append(buf, sizeof buf, " %s%s", "A business number fails its check digit.", "");
  if (llm_result_get(r, "resident_registration_number") || llm_result_get(r, "card_number"))
    append(buf, sizeof buf, " %s%s", "Personal numbers were found and masked.", "");
  char tail[64];
  snprintf(tail, sizeof tail, " %zu entities found.", r->nentities);
  append(buf, sizeof buf, "%s%s", tail, "");
  r->analysis = ocrpc_strdup(buf);
  return 0;
}

int llm_rules_analyze(const char *text, size_t len, llm_result *out) {
  scan s = {0};
  s.r = out;
  s.n = len;
  s.t = ocrpc_malloc(len + 1);
  s.used = ocrpc_calloc(len + 1, 1);
  size_t nl = 1;
  for (size_t i = 0; i < len; i++)
    nl += text[i] == '\n';
  s.line_start = ocrpc_malloc(nl * sizeof *s.line_start);
  s.line_hit = ocrpc_calloc(nl, 1);
  int rc;
  memcpy(s.t, text, len);
  s.t[len] = 0;
  /* NUL bytes in the text would cut strings short: make them spaces. */
  for (size_t i = 0; i < len; i++)
    if (!s.t[i] || s.t[i] == '\t')
      s.t[i] = ' ';
  s.line_start[0] = 0;
  s.nlines = 1;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n')
      s.line_start[s.nlines++] = i + 1;

  mask_all(s.t, s.n, on_private, &s);
  find_bizno(&s);
  find_email(&s);
  find_url(&s);
  find_phone(&s);
  find_dates(&s);
  find_amounts(&s);
  const char *kind = doc_kind(&s);
  rc = s.err;
  if (rc)
    goto done;

  int hangul = 0;
  for (size_t i = 0; i + 2 < len && !hangul; i++)
    hangul = (unsigned char)text[i] >= 0xea && (unsigned char)text[i] <= 0xed;
  size_t lines = 0, hit = 0;
  for (size_t l = 0; l < s.nlines; l++) {
    size_t a = s.line_start[l], b = l + 1 < s.nlines ? s.line_start[l + 1] : len;
    int blank = 1;
    for (size_t i = a; i < b && blank; i++)
      blank = isspace((unsigned char)s.t[i]);
    if (!blank) {
      lines++;
      hit += s.line_hit[l];
    }
  }
  out->confidence = lines ? (float)hit / (float)lines : 0.0f;
  rc = write_analysis(&s, kind, hangul);
done:
  free(s.t);
  free(s.used);
  free(s.line_start);
  free(s.line_hit);
  return rc;
}
