/* SPDX-License-Identifier: MIT */
/* The libcurl multi interface on the libuv loop, as curl's
 * docs/examples/multi-uv.c drives it: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION);
 * we call curl_multi_socket_action when either fires, then collect the
 * finished transfers. curl forbids adding and removing easy handles from
 * inside its callbacks, so an abort there is deferred to after the
 * current curl_multi_socket_action. Loop thread only. */
#include "loop_curl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "base/err.h"
#include "base/list.h"

struct llm_http_req {
  loop_curl *g;
  CURL *easy;
  struct curl_slist *hdrs;
  llm_http_cbs cbs;
  void *arg;
  int pause_next; /* on_body asked to pause before the next bytes */
  int paused;     /* curl holds bytes we refused */
  int aborted;    /* aborted inside a callback: removed after it */
  llm_http_req *next_aborted;
  llm_http_req *prev, *next; /* every live request */
  char errbuf[CURL_ERROR_SIZE];
};

/* One watched socket. */
typedef struct sock_ctx sock_ctx;
struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  struct loop_curl *g;
  sock_ctx *prev, *next;
};

struct loop_curl {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  uv_idle_t now; /* curl's "timeout 0": run on this loop turn, not in 1 ms */
  llm_http http;
  int in_curl; /* inside curl_multi_socket_action or curl_easy_pause */
  llm_http_req *aborted;
  llm_http_req *reqs;
  sock_ctx *socks;
  int closing;
  int closed; /* handles closed (of 2) */
};

static void check_multi_info(loop_curl *g);

static void free_req(llm_http_req *r) {
  loop_curl *g = r->g;
  DLIST_UNLINK(g->reqs, r);
  curl_multi_remove_handle(r->g->multi, r->easy);
  curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->hdrs);
  free(r);
}

static void reap_aborted(loop_curl *g) {
  while (g->aborted) {
    llm_http_req *r = g->aborted;
    g->aborted = r->next_aborted;
    free_req(r);
  }
}

static void socket_action(loop_curl *g, curl_socket_t fd, int flags) {
  int running;
  g->in_curl++;
  curl_multi_socket_action(g->multi, fd, flags, &running);
  g->in_curl--;
  if (!g->in_curl) {
    reap_aborted(g);
    check_multi_info(g);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_ctx *ctx = h->data;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  socket_action(ctx->g, ctx->fd, flags);
}

static void on_ctx_closed(uv_handle_t *h) { free(h->data); }

static void ctx_close(sock_ctx *ctx) {
  loop_curl *g = ctx->g;
  DLIST_UNLINK(g->socks, ctx);
  uv_poll_stop(&ctx->poll);
  uv_close((uv_handle_t *)&ctx->poll, on_ctx_closed);
}

static int on_socket(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp) {
  (void)easy;
  loop_curl *g = userp;
  sock_ctx *ctx = socketp;
  if (action == CURL_POLL_REMOVE) {
    if (ctx) {
      ctx_close(ctx);
      curl_multi_assign(g->multi, fd, NULL);
    }
    return 0;
  }
  if (!ctx) {
    ctx = calloc(1, sizeof *ctx);
    if (!ctx)
      return -1;
    if (uv_poll_init_socket(g->loop, &ctx->poll, fd)) {
      free(ctx);
      return -1;
    }
    ctx->fd = fd;
    ctx->poll.data = ctx;
    ctx->g = g;
    DLIST_PUSH(g->socks, ctx);
    uv_unref((uv_handle_t *)&ctx->poll);
    curl_multi_assign(g->multi, fd, ctx);
  }
  int ev = 0;
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
    ev |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
    ev |= UV_WRITABLE;
  uv_poll_start(&ctx->poll, ev, on_poll);
  return 0;
}

static void on_timer(uv_timer_t *t) {
  loop_curl *g = t->data;
  socket_action(g, CURL_SOCKET_TIMEOUT, 0);
}

static void on_now(uv_idle_t *h) {
  loop_curl *g = h->data;
  uv_idle_stop(&g->now);
  socket_action(g, CURL_SOCKET_TIMEOUT, 0);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  loop_curl *g = userp;
  uv_timer_stop(&g->timer);
  uv_idle_stop(&g->now);
  if (timeout_ms == 0) {
    /* "Now", but never from inside curl's own call. multi-uv.c starts a
     * 1 ms timer here, and curl asks for 0 after every new transfer and
     * every unpause: that was a millisecond (or two: libuv rounds) before
     * each request and after each paused read. An idle handle runs on
     * this loop turn instead, and keeps the poll phase from blocking
     * until it has. (A 0 ms uv_timer would do the same, but libuv 1.44
     * runs a timer restarted at 0 from its own callback again in the same
     * pass, which loops while curl keeps asking for 0.) */
    uv_idle_start(&g->now, on_now);
  } else if (timeout_ms > 0) {
    uv_timer_start(&g->timer, on_timer, (uint64_t)timeout_ms, 0);
  }
  return 0;
}

static llm_http_err map_result(CURLcode rc) {
  switch (rc) {
  case CURLE_OK:
    return LLM_HTTP_OK;
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return LLM_HTTP_CONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    return LLM_HTTP_TIMEOUT;
  case CURLE_WRITE_ERROR:
    return LLM_HTTP_WRITE_REFUSED;
  default:
    return LLM_HTTP_BROKEN;
  }
}

static void check_multi_info(loop_curl *g) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(g->multi, &left))) {
    if (m->msg != CURLMSG_DONE)
      continue;
    llm_http_req *r = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (!r || r->aborted)
      continue;
    CURLcode rc = m->data.result;
    long st = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
    char msg[CURL_ERROR_SIZE + 64];
    snprintf(msg, sizeof msg, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    llm_http_cbs cbs = r->cbs;
    void *arg = r->arg;
    free_req(r); /* before the callback, which may start new requests */
    cbs.on_done(arg, map_result(rc), (int)st, msg);
  }
}

static size_t on_write(char *data, size_t size, size_t n, void *userp) {
  llm_http_req *r = userp;
  size_t len = size * n;
  if (r->aborted)
    return 0;
  if (r->pause_next) {
    r->paused = 1;
    return CURL_WRITEFUNC_PAUSE;
  }
  long st = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
  int rc = r->cbs.on_body(r->arg, (int)st, data, len);
  if (r->aborted || rc < 0)
    return 0;
  if (rc == 1)
    r->pause_next = 1;
  return len;
}

/* A bounded receive buffer per backend connection (no autotuning up to
 * tcp_rmem's 32 MiB): token streams are slow, and a paused stream then
 * leaves at most this much unread in the kernel. */
#define BACKEND_RCVBUF (256 * 1024)

static int on_sockopt(void *userp, curl_socket_t fd, curlsocktype purpose) {
  (void)userp;
  if (purpose == CURLSOCKTYPE_IPCXN) {
    int v = BACKEND_RCVBUF;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  }
  return CURL_SOCKOPT_OK;
}

static int http_start(llm_http *h, const char *url, const char *const *headers,
                      size_t nheaders, const char *body, size_t body_len,
                      uint64_t timeout_ms, const llm_http_cbs *cbs, void *arg,
                      llm_http_req **out) {
  loop_curl *g = h->ud;
  if (g->closing)
    return ERR_UNAVAILABLE;
  llm_http_req *r = calloc(1, sizeof *r);
  if (!r)
    return ERR_NOMEM;
  r->g = g;
  r->cbs = *cbs;
  r->arg = arg;
  r->easy = curl_easy_init();
  if (!r->easy)
    goto fail;
  for (size_t i = 0; i < nheaders; i++) {
    struct curl_slist *l = curl_slist_append(r->hdrs, headers[i]);
    if (!l)
      goto fail;
    r->hdrs = l;
  }
  /* No "Expect: 100-continue" round trip before large bodies. */
  struct curl_slist *l = curl_slist_append(r->hdrs, "Expect:");
  if (!l)
    goto fail;
  r->hdrs = l;
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
  if (body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  }
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  if (timeout_ms)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  if (curl_multi_add_handle(g->multi, e) != CURLM_OK)
    goto fail;
  DLIST_PUSH(g->reqs, r);
  *out = r;
  return 0;
fail:
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->hdrs);
  free(r);
  return ERR_NOMEM;
}

static void http_resume(llm_http *h, llm_http_req *r) {
  loop_curl *g = h->ud;
  r->pause_next = 0;
  if (!r->paused)
    return;
  r->paused = 0;
  /* curl hands over the bytes it held from inside this call. */
  g->in_curl++;
  curl_easy_pause(r->easy, CURLPAUSE_CONT);
  g->in_curl--;
  if (!g->in_curl) {
    reap_aborted(g);
    check_multi_info(g);
  }
}

static void http_abort(llm_http *h, llm_http_req *r) {
  loop_curl *g = h->ud;
  if (g->in_curl) {
    r->aborted = 1;
    r->next_aborted = g->aborted;
    g->aborted = r;
    return;
  }
  /* Removing an unfinished transfer closes its connection: the backend
   * sees the client go away at once. */
  free_req(r);
}

int loop_curl_new(uv_loop_t *loop, loop_curl **out) {
  static int global_done;
  if (!global_done) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT))
      return ERR_IO;
    global_done = 1;
  }
  loop_curl *g = calloc(1, sizeof *g);
  if (!g)
    return ERR_NOMEM;
  g->loop = loop;
  g->multi = curl_multi_init();
  if (!g->multi) {
    free(g);
    return ERR_IO;
  }
  uv_timer_init(loop, &g->timer);
  uv_unref((uv_handle_t *)&g->timer);
  g->timer.data = g;
  uv_idle_init(loop, &g->now);
  uv_unref((uv_handle_t *)&g->now);
  g->now.data = g;
  curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
  curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
  g->http.start = http_start;
  g->http.resume = http_resume;
  g->http.abort = http_abort;
  g->http.ud = g;
  *out = g;
  return 0;
}

llm_http *loop_curl_http(loop_curl *g) { return &g->http; }

/* g goes with the second of its two handles. */
static void on_handle_closed(uv_handle_t *h) {
  loop_curl *g = h->data;
  if (++g->closed == 2)
    free(g);
}

void loop_curl_close(loop_curl *g) {
  if (!g)
    return;
  g->closing = 1;
  reap_aborted(g);
  /* Transfers still registered belong to calls already gone. */
  while (g->reqs)
    free_req(g->reqs);
  curl_multi_cleanup(g->multi); /* closes the cached connections */
  while (g->socks)
    ctx_close(g->socks);
  uv_close((uv_handle_t *)&g->now, on_handle_closed);
  uv_close((uv_handle_t *)&g->timer, on_handle_closed);
}
