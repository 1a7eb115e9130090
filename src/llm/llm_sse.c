/* SPDX-License-Identifier: MIT */
/* Server-sent events as the WHATWG HTML standard parses them ("event
 * stream interpretation"), reduced to what chat-completion streams use:
 * `data:` fields joined by LF and dispatched at a blank line. Bytes may be
 * split anywhere between feeds (a CR at the end of one feed and the LF at
 * the start of the next are one line end). Memory is bounded per event. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "llm.h"

void llm_sse_init(llm_sse *p, size_t max_event) {
  memset(p, 0, sizeof *p);
  p->_max_event = max_event;
}

void llm_sse_free(llm_sse *p) {
  free(p->_line);
  free(p->_data);
  llm_sse_init(p, p->_max_event);
}

static int grow(char **b, size_t *cap, size_t need, size_t max) {
  if (need > max)
    return ERR_MSG_TOO_LARGE;
  if (need <= *cap)
    return 0;
  size_t nc = *cap ? *cap : 256;
  while (nc < need)
    nc *= 2;
  *b = ocrpc_realloc(*b, nc);
  *cap = nc;
  return 0;
}

/* One complete line (without its end). */
static int on_line(llm_sse *p, llm_sse_event_cb cb, void *arg) {
  const char *l = p->_line;
  size_t n = p->_line_len;
  if (n == 0) { /* blank line: dispatch */
    if (!p->_has_data)
      return 0;
    p->_has_data = 0;
    size_t len = p->_data_len;
    p->_data_len = 0;
    p->_data[len] = 0;
    return cb(arg, p->_data, len);
  }
  if (l[0] == ':')
    return 0; /* comment (keep-alive) */
  const char *colon = memchr(l, ':', n);
  size_t name_len = colon ? (size_t)(colon - l) : n;
  if (name_len != 4 || memcmp(l, "data", 4) != 0)
    return 0; /* event, id, retry and unknown fields: not used here */
  const char *v = colon ? colon + 1 : l + n;
  if (v < l + n && *v == ' ')
    v++;
  size_t vlen = (size_t)(l + n - v);
  size_t need = p->_data_len + (p->_has_data ? 1 : 0) + vlen + 1;
  int rc = grow(&p->_data, &p->_data_cap, need, p->_max_event + 1);
  if (rc)
    return rc;
  if (p->_has_data)
    p->_data[p->_data_len++] = '\n';
  memcpy(p->_data + p->_data_len, v, vlen);
  p->_data_len += vlen;
  p->_has_data = 1;
  return 0;
}

int llm_sse_feed(llm_sse *p, const char *data, size_t len, llm_sse_event_cb cb, void *arg) {
  size_t i = 0;
  while (i < len) {
    char ch = data[i];
    if (p->_last_cr && ch == '\n') { /* the LF of a CRLF split or not */
      p->_last_cr = 0;
      i++;
      continue;
    }
    p->_last_cr = 0;
    if (ch == '\r' || ch == '\n') {
      p->_last_cr = ch == '\r';
      i++;
      int rc = on_line(p, cb, arg);
      p->_line_len = 0;
      if (rc)
        return rc;
      continue;
    }
    /* Copy up to the next line end at once. */
    size_t j = i;
    while (j < len && data[j] != '\r' && data[j] != '\n')
      j++;
    int rc = grow(&p->_line, &p->_line_cap, p->_line_len + (j - i), p->_max_event);
    if (rc)
      return rc;
    memcpy(p->_line + p->_line_len, data + i, j - i);
    p->_line_len += j - i;
    i = j;
  }
  return 0;
}
