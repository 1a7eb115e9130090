/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 session over http-parser: header and body limits checked
 * as bytes arrive, one request delivered at a time (the parser is paused
 * at each message end until the answer is queued, so pipelined requests
 * are answered in order), responses framed with Content-Length. Loop
 * thread. */
#include <ctype.h>
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "h1.h"

/* Input kept while a request is answered: beyond it the caller stops
 * reading (h1_session_full). */
#define H1_KEEP_MAX (256u * 1024u)

typedef struct hline {
  size_t name_off, name_len, val_off, val_len;
} hline;

struct h1_session {
  http_parser p;
  http_parser_settings ps;
  h1_settings st;
  h1_callbacks cb;
  void *ud;
  h1_phase phase;
  buf in;  /* input kept while a request is answered */
  buf out; /* bytes to write */
  buf url;
  buf hbytes; /* header names and values */
  hline hl[H1_MAX_HEADERS];
  size_t nh;
  int last_value; /* the last header callback was a value */
  int url_done;   /* the request line was read whole */
  int hdrs_done;  /* the header block was read whole */
  uint64_t header_bytes;
  buf body;
  hdr hdrs[H1_MAX_HEADERS];
  h1_request req;
  int keep_alive, is_head, eof, close, dead, draining;
  int fail_status; /* set by a callback that stops the parser */
  uint64_t nrequests;
};

const char *h1_reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 411:
    return "Length Required";
  case 413:
    return "Content Too Large";
  case 415:
    return "Unsupported Media Type";
  case 417:
    return "Expectation Failed";
  case 422:
    return "Unprocessable Content";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Unknown";
  }
}

static void reset_request(h1_session *s) {
  buf_reset(&s->url);
  buf_reset(&s->hbytes);
  buf_reset(&s->body);
  s->nh = 0;
  s->last_value = 0;
  s->url_done = 0;
  s->hdrs_done = 0;
  s->header_bytes = 0;
  s->is_head = 0;
  memset(&s->req, 0, sizeof s->req);
}

/* Counts request-line and header bytes against the limit. */
static int count_header(h1_session *s, size_t len) {
  s->header_bytes += len;
  if (s->header_bytes > s->st.max_header_bytes) {
    s->fail_status = 431;
    return -1;
  }
  return 0;
}

static int on_message_begin(http_parser *p) {
  h1_session *s = p->data;
  reset_request(s);
  s->phase = H1_HEADERS;
  s->nrequests++;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  h1_session *s = p->data;
  if (count_header(s, len) || buf_append(&s->url, at, len))
    return s->fail_status ? -1 : (s->fail_status = 500, -1);
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  h1_session *s = p->data;
  s->url_done = 1;
  if (count_header(s, len + 4)) /* ": " and CRLF count too */
    return -1;
  if (s->last_value || s->nh == 0) {
    if (s->nh == H1_MAX_HEADERS) {
      s->fail_status = 431;
      return -1;
    }
    hline *h = &s->hl[s->nh++];
    h->name_off = s->hbytes.len;
    h->name_len = 0;
    h->val_off = 0;
    h->val_len = 0;
    s->last_value = 0;
  }
  hline *h = &s->hl[s->nh - 1];
  size_t off = s->hbytes.len;
  if (buf_append(&s->hbytes, at, len)) {
    s->fail_status = 500;
    return -1;
  }
  for (size_t i = 0; i < len; i++)
    s->hbytes.data[off + i] = (uint8_t)tolower(s->hbytes.data[off + i]);
  h->name_len += len;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  h1_session *s = p->data;
  if (count_header(s, len))
    return -1;
  if (s->nh == 0)
    return 0;
  hline *h = &s->hl[s->nh - 1];
  if (!s->last_value) {
    h->val_off = s->hbytes.len;
    s->last_value = 1;
  }
  if (buf_append(&s->hbytes, at, len)) {
    s->fail_status = 500;
    return -1;
  }
  h->val_len += len;
  return 0;
}

static const hline *find_header(const h1_session *s, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < s->nh; i++)
    if (s->hl[i].name_len == n && memcmp(s->hbytes.data + s->hl[i].name_off, name, n) == 0)
      return &s->hl[i];
  return NULL;
}

static int on_headers_complete(http_parser *p) {
  h1_session *s = p->data;
  s->url_done = 1;
  s->hdrs_done = 1;
  s->is_head = p->method == HTTP_HEAD;
  int chunked = (p->flags & F_CHUNKED) != 0;
  uint64_t declared = p->content_length; /* ULLONG_MAX when not given */
  int has_length = declared != ULLONG_MAX;
  if (has_length && declared > s->st.max_body_bytes) {
    /* Refused from the declared length, before a body byte is read. */
    s->fail_status = 413;
    return -1;
  }
  if (has_length && declared > 0 && buf_reserve(&s->body, (size_t)declared)) {
    s->fail_status = 500;
    return -1;
  }
  const hline *e = find_header(s, "expect");
  if (e && p->http_minor >= 1 && (chunked || (has_length && declared > 0))) {
    const char *v = (const char *)s->hbytes.data + e->val_off;
    if (e->val_len == 12 && strncasecmp(v, "100-continue", 12) == 0) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (buf_append(&s->out, cont, sizeof cont - 1)) {
        s->fail_status = 500;
        return -1;
      }
    } else {
      s->fail_status = 417;
      return -1;
    }
  }
  s->phase = H1_BODY;
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  h1_session *s = p->data;
  if (s->body.len + len > s->st.max_body_bytes) {
    s->fail_status = 413; /* a chunked body passing the limit */
    return -1;
  }
  if (buf_append(&s->body, at, len)) {
    s->fail_status = 500;
    return -1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  h1_session *s = p->data;
  /* An Upgrade (or CONNECT) is answered as a plain request, and the
   * connection then closes: the parser would read no further request. */
  s->keep_alive = http_should_keep_alive(p) && !p->upgrade;
  s->phase = H1_WAITING;
  http_parser_pause(p, 1);
  return 0;
}

int h1_session_new(const h1_settings *st, const h1_callbacks *cb, void *ud,
                   h1_session **out) {
  h1_session *s = calloc(1, sizeof *s);
  if (!s)
    return ERR_NOMEM;
  s->st = *st;
  s->cb = *cb;
  s->ud = ud;
  http_parser_init(&s->p, HTTP_REQUEST);
  s->p.data = s;
  http_parser_settings_init(&s->ps);
  s->ps.on_message_begin = on_message_begin;
  s->ps.on_url = on_url;
  s->ps.on_header_field = on_header_field;
  s->ps.on_header_value = on_header_value;
  s->ps.on_headers_complete = on_headers_complete;
  s->ps.on_body = on_body;
  s->ps.on_message_complete = on_message_complete;
  *out = s;
  return 0;
}

void h1_session_free(h1_session *s) {
  if (!s)
    return;
  buf_free(&s->in);
  buf_free(&s->out);
  buf_free(&s->url);
  buf_free(&s->hbytes);
  buf_free(&s->body);
  free(s);
}

/* Fills s->req from what was read: the request line once whole, the
 * headers once the block is whole, the body so far. */
static int build_view(h1_session *s) {
  memset(&s->req, 0, sizeof s->req);
  s->req.query = "";
  if (s->url_done) {
    if (buf_append(&s->url, "", 1))
      return ERR_NOMEM;
    char *url = (char *)s->url.data;
    char *q = strchr(url, '?');
    s->req.path = url;
    if (q) {
      *q = 0;
      s->req.query = q + 1;
    }
    s->req.path_len = strlen(s->req.path);
    s->req.query_len = strlen(s->req.query);
    s->req.method = http_method_str((enum http_method)s->p.method);
  }
  size_t nh = s->hdrs_done ? s->nh : 0;
  for (size_t i = 0; i < nh; i++) {
    s->hdrs[i].name = (const char *)s->hbytes.data + s->hl[i].name_off;
    s->hdrs[i].name_len = s->hl[i].name_len;
    s->hdrs[i].value = (const char *)s->hbytes.data + s->hl[i].val_off;
    s->hdrs[i].value_len = s->hl[i].val_len;
  }
  s->req.headers = s->hdrs;
  s->req.nheaders = nh;
  s->req.body = s->body.len ? s->body.data : NULL;
  s->req.body_len = s->body.len;
  s->req.http_minor = s->p.http_minor;
  return 0;
}

/* Queues an answer the session gives itself (errors), then closes. */
static void fail(h1_session *s, int status) {
  char body[160];
  int n = snprintf(body, sizeof body, "{\"detail\":\"%s\"}", h1_reason(status));
  static const hdr ct = HDR_LIT("content-type", "application/json");
  if (s->cb.on_refused) {
    /* Told before the answer is queued: respond resets the request. */
    if (build_view(s)) {
      memset(&s->req, 0, sizeof s->req);
      s->req.query = "";
    }
    s->req.body = NULL;
    s->req.body_len = 0;
    s->cb.on_refused(s->ud, status, &s->req, (size_t)n);
  }
  s->phase = H1_WAITING; /* lets respond write it */
  s->keep_alive = 0;
  s->is_head = 0;
  h1_session_respond(s, status, &ct, 1, (const uint8_t *)body, (size_t)n);
  s->dead = 1;
  s->close = 1;
}

/* Delivers the request once the message is complete. */
static int deliver(h1_session *s) {
  if (build_view(s))
    return ERR_NOMEM;
  s->cb.on_request(s->ud, &s->req);
  return 0;
}

/* Parses data until it is used up or a request waits for its answer;
 * returns the bytes used, or -1 when the session failed. */
static ssize_t parse(h1_session *s, const uint8_t *data, size_t len) {
  size_t used = 0;
  while (used < len && s->phase != H1_WAITING && !s->dead) {
    size_t k = http_parser_execute(&s->p, &s->ps, (const char *)data + used, len - used);
    enum http_errno e = HTTP_PARSER_ERRNO(&s->p);
    used += k;
    if (e == HPE_PAUSED) {
      if (deliver(s)) {
        fail(s, 500);
        return -1;
      }
      continue; /* answered at once: go on with the next request */
    }
    if (e != HPE_OK || k == 0) {
      int status = s->fail_status;
      if (!status)
        status = e == HPE_HEADER_OVERFLOW ? 431 : e == HPE_INVALID_VERSION ? 505 : 400;
      fail(s, status);
      return -1;
    }
  }
  return (ssize_t)used;
}

int h1_session_feed(h1_session *s, const uint8_t *data, size_t len) {
  if (s->dead)
    return ERR_PROTOCOL;
  if (len && (s->in.len || s->phase == H1_WAITING)) {
    if (buf_append(&s->in, data, len))
      return ERR_NOMEM;
    len = 0;
  }
  if (s->in.len && s->phase != H1_WAITING) {
    ssize_t n = parse(s, s->in.data, s->in.len);
    if (n < 0)
      return ERR_PROTOCOL;
    buf_consume(&s->in, (size_t)n);
  }
  if (len) {
    ssize_t n = parse(s, data, len);
    if (n < 0)
      return ERR_PROTOCOL;
    if ((size_t)n < len && buf_append(&s->in, data + n, len - (size_t)n))
      return ERR_NOMEM;
  }
  return 0;
}

void h1_session_eof(h1_session *s) { s->eof = 1; }

void h1_session_drain(h1_session *s) { s->draining = 1; }

static int append_str(buf *b, const char *str) { return buf_append(b, str, strlen(str)); }

int h1_session_respond(h1_session *s, int status, const hdr *hdrs, size_t n,
                       const uint8_t *body, size_t len) {
  if (s->phase != H1_WAITING || s->dead)
    return ERR_INVAL;
  char line[128];
  snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\n", status, h1_reason(status));
  int rc = append_str(&s->out, line);
  for (size_t i = 0; i < n && !rc; i++) {
    rc = buf_append(&s->out, hdrs[i].name, hdrs[i].name_len);
    rc = rc ? rc : buf_append(&s->out, ": ", 2);
    rc = rc ? rc : buf_append(&s->out, hdrs[i].value, hdrs[i].value_len);
    rc = rc ? rc : buf_append(&s->out, "\r\n", 2);
  }
  if (!s->keep_alive || s->draining)
    s->close = 1;
  snprintf(line, sizeof line, "content-length: %zu\r\n%s\r\n", len,
           s->close ? "connection: close\r\n"
                    : (s->p.http_minor == 0 ? "connection: keep-alive\r\n" : ""));
  rc = rc ? rc : append_str(&s->out, line);
  if (len && !s->is_head)
    rc = rc ? rc : buf_append(&s->out, body, len);
  if (rc)
    return rc;
  reset_request(s);
  s->phase = H1_IDLE;
  if (s->close)
    s->dead = 1; /* nothing more is read */
  else
    http_parser_pause(&s->p, 0);
  return 0;
}

int h1_session_pull(h1_session *s, buf *out) {
  if (!s->out.len)
    return 0;
  int rc = buf_append(out, s->out.data, s->out.len);
  if (rc == 0)
    buf_reset(&s->out);
  return rc;
}

h1_phase h1_session_phase(const h1_session *s) { return s->phase; }

uint64_t h1_session_requests(const h1_session *s) { return s->nrequests; }

int h1_session_has_input(const h1_session *s) { return s->in.len > 0 && !s->dead; }

int h1_session_full(const h1_session *s) { return s->in.len >= H1_KEEP_MAX; }

int h1_session_want_close(const h1_session *s) {
  if (s->close)
    return s->phase != H1_WAITING || s->dead;
  if (s->eof) /* a request cut short will never complete */
    return s->phase != H1_WAITING && s->in.len == 0;
  return s->draining && s->phase == H1_IDLE && s->in.len == 0;
}
