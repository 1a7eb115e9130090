/* SPDX-License-Identifier: MIT */
/* Language names: maps the guide's names ("korean", "english", ...) and
 * Tesseract codes ("kor+eng") to the code Tesseract loads, finds the
 * tessdata directory and checks that each language's traineddata is
 * installed. Mapping is pure (any thread); the tessdata lookup reads the
 * environment and runs once on the loop thread. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "ocr_internal.h"

/* Debian's tesseract-ocr-* packages install here. */
#define DEFAULT_TESSDATA "/usr/share/tesseract-ocr/5/tessdata"

/* The guide's clients send PaddleOCR-style names; ISO 639-1 codes are
 * accepted too because they cannot collide with Tesseract's 3-letter
 * codes. Anything else is taken as a Tesseract code. */
static const struct {
  const char *name, *code;
} names[] = {
    {"korean", "kor"},
    {"ko", "kor"},
    {"english", "eng"},
    {"en", "eng"},
    {"japanese", "jpn"},
    {"japan", "jpn"},
    {"ja", "jpn"},
    {"chinese", "chi_sim"},
    {"ch", "chi_sim"},
    {"zh", "chi_sim"},
    {"chinese_simplified", "chi_sim"},
    {"chinese_traditional", "chi_tra"},
    {"chinese_cht", "chi_tra"},
    {"german", "deu"},
    {"de", "deu"},
    {"french", "fra"},
    {"fr", "fra"},
    {"spanish", "spa"},
    {"es", "spa"},
    {"italian", "ita"},
    {"portuguese", "por"},
    {"russian", "rus"},
    {"arabic", "ara"},
    {"hindi", "hin"},
    {"thai", "tha"},
    {"vietnamese", "vie"},
};

/* Maps one '+'-separated part (already lower-cased, no spaces) and
 * appends it to buf at *off. */
static int append_part(const char *part, size_t len, char *buf, size_t bufsize,
                       size_t *off) {
  const char *code = NULL;
  size_t i, n;

  if (len == 0)
    return ERR_LANGUAGE;
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strlen(names[i].name) == len && memcmp(names[i].name, part, len) == 0) {
      code = names[i].code;
      break;
    }
  }
  if (!code) {
    for (i = 0; i < len; i++)
      if (!((part[i] >= 'a' && part[i] <= 'z') || part[i] == '_'))
        return ERR_LANGUAGE;
    /* osd.traineddata is installed but only detects orientation; loading
     * it for recognition yields nothing useful. */
    if (len == 3 && memcmp(part, "osd", 3) == 0)
      return ERR_LANGUAGE;
  }
  n = code ? strlen(code) : len;
  if (*off + (*off > 0) + n + 1 > bufsize)
    return ERR_LANGUAGE;
  if (*off > 0)
    buf[(*off)++] = '+';
  memcpy(buf + *off, code ? code : part, n);
  *off += n;
  buf[*off] = '\0';
  return 0;
}

int ocr_language_code(const char *name, char *buf, size_t bufsize) {
  char part[64];
  size_t plen = 0, off = 0;
  const char *p;

  if (!name || bufsize == 0)
    return ERR_LANGUAGE;
  buf[0] = '\0';
  for (p = name;; p++) {
    if (*p == '+' || *p == '\0') {
      if (append_part(part, plen, buf, bufsize, &off) != 0) {
        buf[0] = '\0';
        return ERR_LANGUAGE;
      }
      plen = 0;
      if (*p == '\0')
        break;
      continue;
    }
    if (*p == ' ')
      continue;
    if (plen + 1 >= sizeof(part)) {
      buf[0] = '\0';
      return ERR_LANGUAGE;
    }
    part[plen++] = (char)tolower((unsigned char)*p);
  }
  return 0;
}

int ocr__tessdata_dir(const char *configured, char *buf, size_t bufsize) {
  const char *dir = configured;
  struct stat st;
  size_t n;

  /* The config layer reads TESSDATA_PREFIX (--tessdata-dir). */
  if (!dir || !dir[0])
    dir = DEFAULT_TESSDATA;
  n = strlen(dir);
  /* Tesseract concatenates the directory and file name itself, so a
   * trailing '/' is kept off to give it one way to spell each path. */
  while (n > 1 && dir[n - 1] == '/')
    n--;
  if (n >= bufsize)
    return ERR_CONFIG;
  memcpy(buf, dir, n);
  buf[n] = '\0';
  if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
    return ERR_CONFIG;
  return 0;
}

int ocr__language_installed(const char *tessdata, const char *code, ocr_result *out) {
  const char *p = code, *end;

  for (;;) {
    char file[PATH_MAX];
    struct stat st;
    int n;

    end = strchr(p, '+');
    if (!end)
      end = p + strlen(p);
    n = snprintf(file, sizeof(file), "%s/%.*s.traineddata", tessdata, (int)(end - p), p);
    if (n < 0 || (size_t)n >= sizeof(file) || stat(file, &st) != 0 || !S_ISREG(st.st_mode))
      return ocr__fail(out, ERR_LANGUAGE,
                       "language \"%.*s\" is not installed (no %.*s.traineddata"
                       " in %s)",
                       (int)(end - p), p, (int)(end - p), p, tessdata);
    if (!*end)
      return 0;
    p = end + 1;
  }
}

int ocr__language_is_korean(const char *code) {
  const char *p = code;

  for (;;) {
    if (strncmp(p, "kor", 3) == 0 && (!p[3] || p[3] == '+' || p[3] == '_'))
      return 1;
    p = strchr(p, '+');
    if (!p)
      return 0;
    p++;
  }
}
