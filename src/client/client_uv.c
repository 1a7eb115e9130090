/* SPDX-License-Identifier: MIT */
/* The client's I/O, and the only file of src/client that includes uv.h:
 * name resolution, TCP connect (each resolved address in turn), reads fed
 * to the session, writes pulled from it, and timers. Everything runs on the
 * thread that runs the client_loop. User code runs inside the session's
 * callbacks, so every entry into the session is bracketed by enter/leave:
 * a connection closed from inside is torn down when the outermost entry
 * leaves, never under the session's feet. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "base/err.h"
#include "client_internal.h"
#include "loop/loop_timer.h"

#define READ_BUF (256u << 10)
#define WRITE_CHUNK (1u << 20) /* pull at most this much per write */

typedef struct conn_timer conn_timer;

/* Output is written once per loop iteration for every connection that has
 * some, from one prepare and one check handle per loop: with a pair of
 * handles per connection, 1,000 connections cost 2,000 callbacks every
 * iteration whether or not they had anything to send (bench/OPTIMISATIONS.md). */
struct client_loop {
  uv_loop_t uv;
  timer_src timers; /* the heap (loop_timer.h); also behind conn timers */
  uv_prepare_t prepare;
  uv_check_t check;
  client_conn *dirty_head, *dirty_tail; /* in the order they had output */
  conn_timer *free_timers;
  uv_idle_t spin; /* client_loop_set_spin */
  void (*spin_cb)(void *arg);
  void *spin_arg;
};

enum { C_RESOLVING, C_CONNECTING, C_CONNECTED, C_DEAD };

struct client_conn {
  client_loop *l;
  client_session *s;
  timer_src timers; /* the session's: callbacks bracketed by enter/leave */
  char host[256];
  char port[16];
  int state;
  uv_getaddrinfo_t gai;
  struct addrinfo *ai, *ai_next;
  uv_tcp_t tcp;
  int tcp_open; /* tcp initialised and not yet closed */
  uv_connect_t creq;
  uv_write_t wreq;
  buf wbuf;
  int writing;
  client_conn *dirty_prev, *dirty_next;
  int dirty; /* on the loop's dirty list */
  int depth; /* nesting of session entries */
  int flushing;
  int close_requested;
  int closed;       /* do_close ran */
  int pending;      /* handles and requests still to come back */
  int resolving;    /* the getaddrinfo request is out */
  char errmsg[640]; /* why the last connect attempt failed */
  uint8_t *rbuf;
};

/* A connection's timer: a node of the loop's heap whose callback is
 * bracketed by enter/leave. Recycled through the loop's free list. */
struct conn_timer {
  client_conn *c;
  timer_cb cb;
  void *arg;
  timer *inner;
  conn_timer *next_free;
};

static void do_close(client_conn *c);
static void flush(client_conn *c);
static void on_write(uv_write_t *req, int status);

/* ---- timers ---------------------------------------------------------- */

static void mark_dirty(client_conn *c) {
  client_loop *l = c->l;
  if (c->dirty || c->closed)
    return;
  c->dirty = 1;
  c->dirty_next = NULL;
  c->dirty_prev = l->dirty_tail;
  if (l->dirty_tail)
    l->dirty_tail->dirty_next = c;
  else
    l->dirty_head = c;
  l->dirty_tail = c;
}

static void unmark_dirty(client_conn *c) {
  client_loop *l = c->l;
  if (!c->dirty)
    return;
  c->dirty = 0;
  if (c->dirty_prev)
    c->dirty_prev->dirty_next = c->dirty_next;
  else
    l->dirty_head = c->dirty_next;
  if (c->dirty_next)
    c->dirty_next->dirty_prev = c->dirty_prev;
  else
    l->dirty_tail = c->dirty_prev;
  c->dirty_prev = c->dirty_next = NULL;
}

static void enter(client_conn *c) { c->depth++; }

static void leave(client_conn *c) {
  if (--c->depth > 0)
    return;
  if (c->close_requested && !c->closed)
    do_close(c);
  else
    mark_dirty(c); /* the loop's prepare/check handles flush it */
}

/* ---- timers ---------------------------------------------------------- */

static void on_conn_timer(void *arg) {
  conn_timer *ct = arg;
  client_conn *c = ct->c;
  timer_cb cb = ct->cb;
  void *cb_arg = ct->arg;
  ct->next_free = c->l->free_timers; /* fired: the heap freed its node */
  c->l->free_timers = ct;
  enter(c);
  cb(cb_arg);
  leave(c);
}

static timer *conn_timer_start(timer_src *src, uint64_t ms, timer_cb cb, void *arg) {
  client_conn *c = src->ud;
  client_loop *l = c->l;
  conn_timer *ct = l->free_timers;
  if (ct)
    l->free_timers = ct->next_free;
  else if (!(ct = malloc(sizeof *ct)))
    return NULL;
  uv_update_time(&l->uv); /* the cached time may be a whole callback old */
  ct->c = c;
  ct->cb = cb;
  ct->arg = arg;
  ct->inner = l->timers.start(&l->timers, ms, on_conn_timer, ct);
  if (!ct->inner) {
    ct->next_free = l->free_timers;
    l->free_timers = ct;
    return NULL;
  }
  return (timer *)ct;
}

static void conn_timer_stop(timer_src *src, timer *t) {
  if (!t)
    return;
  client_conn *c = src->ud;
  conn_timer *ct = (conn_timer *)t;
  c->l->timers.stop(&c->l->timers, ct->inner);
  ct->next_free = c->l->free_timers;
  c->l->free_timers = ct;
}

static uint64_t conn_now_ms(timer_src *src) {
  client_conn *c = src->ud;
  return uv_now(&c->l->uv);
}

/* ---- loop ------------------------------------------------------------ */

static void flush_dirty(client_loop *l) {
  while (l->dirty_head) {
    client_conn *c = l->dirty_head;
    unmark_dirty(c);
    flush(c);
  }
}

/* Before the poll: output from timers and write completions. After it:
 * output from this iteration's reads. */
static void on_prepare(uv_prepare_t *h) { flush_dirty(h->data); }
static void on_check(uv_check_t *h) { flush_dirty(h->data); }

int client_loop_new(client_loop **out) {
  client_loop *l = calloc(1, sizeof *l);
  if (!l)
    return ERR_NOMEM;
  if (uv_loop_init(&l->uv)) {
    free(l);
    return ERR_NOMEM;
  }
  if (loop_timer_init(&l->timers, &l->uv)) {
    uv_loop_close(&l->uv);
    free(l);
    return ERR_NOMEM;
  }
  uv_prepare_init(&l->uv, &l->prepare);
  l->prepare.data = l;
  uv_prepare_start(&l->prepare, on_prepare);
  uv_unref((uv_handle_t *)&l->prepare);
  uv_check_init(&l->uv, &l->check);
  l->check.data = l;
  uv_check_start(&l->check, on_check);
  uv_unref((uv_handle_t *)&l->check);
  uv_idle_init(&l->uv, &l->spin);
  l->spin.data = l;
  *out = l;
  return 0;
}

int client_loop_run(client_loop *l) {
  uv_run(&l->uv, UV_RUN_DEFAULT);
  return 0;
}

void client_loop_free(client_loop *l) {
  if (!l)
    return;
  /* Handles closed last (a conn closed from the final callback) still
   * need their close callbacks. */
  loop_timer_close(&l->timers);
  uv_close((uv_handle_t *)&l->prepare, NULL);
  uv_close((uv_handle_t *)&l->check, NULL);
  uv_close((uv_handle_t *)&l->spin, NULL);
  uv_run(&l->uv, UV_RUN_DEFAULT);
  uv_loop_close(&l->uv);
  while (l->free_timers) {
    conn_timer *ct = l->free_timers;
    l->free_timers = ct->next_free;
    free(ct);
  }
  free(l);
}

timer_src *client_loop_timers(client_loop *l) { return &l->timers; }

static void on_spin(uv_idle_t *h) {
  client_loop *l = h->data;
  l->spin_cb(l->spin_arg);
}

void client_loop_set_spin(client_loop *l, void (*cb)(void *arg), void *arg) {
  l->spin_cb = cb;
  l->spin_arg = arg;
  if (cb)
    uv_idle_start(&l->spin, on_spin);
  else
    uv_idle_stop(&l->spin);
}

/* ---- targets ---------------------------------------------------------- */

int client_target_parse(const char *target, char *host, size_t hostlen, char *port,
                        size_t portlen) {
  const char *h = target, *p = NULL;
  size_t hl;
  if (!target || !*target)
    return ERR_INVAL;
  if (target[0] == '[') {
    const char *end = strchr(target, ']');
    if (!end)
      return ERR_INVAL;
    h = target + 1;
    hl = (size_t)(end - h);
    if (end[1] == ':')
      p = end + 2;
    else if (end[1] != '\0')
      return ERR_INVAL;
  } else {
    const char *colon = strrchr(target, ':');
    if (colon && strchr(target, ':') != colon)
      colon = NULL; /* a bare IPv6 address: no port */
    hl = colon ? (size_t)(colon - target) : strlen(target);
    if (colon)
      p = colon + 1;
  }
  if (hl == 0 || hl >= hostlen)
    return ERR_INVAL;
  if (!p)
    p = "50051";
  size_t pl = strlen(p);
  if (pl == 0 || pl >= portlen || pl > 5)
    return ERR_INVAL;
  long v = 0;
  for (size_t i = 0; i < pl; i++) {
    if (p[i] < '0' || p[i] > '9')
      return ERR_INVAL;
    v = v * 10 + (p[i] - '0');
  }
  if (v < 1 || v > 65535)
    return ERR_INVAL;
  memcpy(host, h, hl);
  host[hl] = '\0';
  memcpy(port, p, pl + 1);
  return 0;
}

/* ---- connection ------------------------------------------------------ */

static void maybe_free(client_conn *c) {
  if (c->closed && c->pending == 0) {
    if (c->ai)
      uv_freeaddrinfo(c->ai);
    buf_free(&c->wbuf);
    free(c->rbuf);
    free(c);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  client_conn *c = h->data;
  c->pending--;
  maybe_free(c);
}

static void close_tcp(client_conn *c) {
  if (c->tcp_open) {
    c->tcp_open = 0;
    c->pending++;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  }
}

/* The transport is gone: every call ends with `code` and `msg`. */
static void conn_fail(client_conn *c, int code, const char *msg) {
  if (c->state == C_DEAD)
    return;
  c->state = C_DEAD;
  close_tcp(c);
  enter(c);
  client__session_fail(c->s, code, msg);
  leave(c);
}

static long pull_session(void *s, const uint8_t **data) {
  return client__session_pull(s, data);
}

static void flush(client_conn *c) {
  if (c->state != C_CONNECTED || c->writing || c->flushing || c->closed)
    return;
  c->flushing = 1;
  enter(c);
  int n = buf_gather(&c->wbuf, WRITE_CHUNK, pull_session, c->s);
  c->flushing = 0;
  if (n < 0) {
    char msg[512];
    snprintf(msg, sizeof msg, "HTTP/2 session error: %s", err_text(n));
    conn_fail(c, RPC_INTERNAL, msg);
  } else if (c->wbuf.len > 0 && c->state == C_CONNECTED) {
    /* Most writes fit the socket buffer: uv_try_write then needs no write
     * request, and no epoll_ctl to stop watching for POLLOUT afterwards
     * (one extra syscall per call with uv_write alone). */
    uv_buf_t b = uv_buf_init((char *)c->wbuf.data, (unsigned)c->wbuf.len);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w == (int)c->wbuf.len) {
      buf_reset(&c->wbuf);
      c->depth--;
      if (c->depth == 0 && c->close_requested && !c->closed)
        do_close(c);
      else if (n > 0)
        mark_dirty(c); /* WRITE_CHUNK reached: the rest in this same pass */
      return;
    }
    if (w > 0)
      b = uv_buf_init((char *)c->wbuf.data + w, (unsigned)(c->wbuf.len - (size_t)w));
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc) {
      char msg[512];
      snprintf(msg, sizeof msg, "write to %s:%s failed: %s", c->host, c->port,
               uv_strerror(rc));
      conn_fail(c, RPC_UNAVAILABLE, msg);
    } else {
      c->writing = 1;
      c->pending++;
    }
  }
  c->depth--; /* leave() without re-marking dirty */
  if (c->depth == 0 && c->close_requested && !c->closed)
    do_close(c);
}

static void on_write(uv_write_t *req, int status) {
  client_conn *c = req->data;
  c->writing = 0;
  c->pending--;
  buf_reset(&c->wbuf);
  if (c->closed) {
    maybe_free(c);
    return;
  }
  if (status < 0) {
    char msg[512];
    snprintf(msg, sizeof msg, "connection to %s:%s lost: %s", c->host, c->port,
             uv_strerror(status));
    conn_fail(c, RPC_UNAVAILABLE, msg);
    return;
  }
  flush(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  client_conn *c = h->data;
  (void)suggested;
  *b = uv_buf_init((char *)c->rbuf, READ_BUF);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b) {
  client_conn *c = st->data;
  (void)b;
  if (nread == 0 || c->state != C_CONNECTED)
    return;
  if (nread < 0) {
    char msg[512];
    if (nread == UV_EOF)
      snprintf(msg, sizeof msg, "connection closed by the server %s:%s", c->host, c->port);
    else if (nread == UV_ECONNRESET)
      snprintf(msg, sizeof msg, "connection reset by the server %s:%s", c->host, c->port);
    else
      snprintf(msg, sizeof msg, "read from %s:%s failed: %s", c->host, c->port,
               uv_strerror((int)nread));
    conn_fail(c, RPC_UNAVAILABLE, msg);
    return;
  }
  enter(c);
  int rc = client__session_feed(c->s, c->rbuf, (size_t)nread);
  if (rc) {
    char msg[512];
    snprintf(msg, sizeof msg, "HTTP/2 protocol error from %s:%s (is it a gRPC server?)",
             c->host, c->port);
    conn_fail(c, RPC_INTERNAL, msg);
  }
  leave(c);
}

static void try_connect(client_conn *c);

static void on_connect_tcp_closed(uv_handle_t *h) {
  client_conn *c = h->data;
  c->pending--;
  if (c->closed) {
    maybe_free(c);
    return;
  }
  try_connect(c);
}

static void on_connect(uv_connect_t *req, int status) {
  client_conn *c = req->data;
  c->pending--;
  if (c->closed) {
    maybe_free(c);
    return;
  }
  if (status < 0) {
    char ip[64] = "?";
    const struct addrinfo *ai = c->ai_next;
    if (ai->ai_family == AF_INET6)
      uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, ip, sizeof ip);
    else
      uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, ip, sizeof ip);
    snprintf(c->errmsg, sizeof c->errmsg, "cannot connect to %s:%s (%s): %s", c->host,
             c->port, ip, uv_strerror(status));
    c->ai_next = ai->ai_next;
    /* A socket whose connect failed cannot be reused: close it and try the
     * next address with a new one. */
    c->tcp_open = 0;
    c->pending++;
    uv_close((uv_handle_t *)&c->tcp, on_connect_tcp_closed);
    return;
  }
  c->state = C_CONNECTED;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  flush(c);
}

static void try_connect(client_conn *c) {
  if (!c->ai_next) {
    conn_fail(c, RPC_UNAVAILABLE, c->errmsg);
    return;
  }
  c->state = C_CONNECTING;
  uv_tcp_init(&c->l->uv, &c->tcp);
  c->tcp.data = c;
  c->tcp_open = 1;
  c->creq.data = c;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, c->ai_next->ai_addr, on_connect);
  if (rc) {
    snprintf(c->errmsg, sizeof c->errmsg, "cannot connect to %s:%s: %s", c->host, c->port,
             uv_strerror(rc));
    c->ai_next = c->ai_next->ai_next;
    c->tcp_open = 0;
    c->pending++;
    uv_close((uv_handle_t *)&c->tcp, on_connect_tcp_closed);
    return;
  }
  c->pending++;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  client_conn *c = req->data;
  c->pending--;
  c->resolving = 0;
  c->ai = res;
  if (c->closed) {
    maybe_free(c);
    return;
  }
  if (status < 0) {
    snprintf(c->errmsg, sizeof c->errmsg, "cannot resolve %s: %s", c->host,
             uv_strerror(status));
    conn_fail(c, RPC_UNAVAILABLE, c->errmsg);
    return;
  }
  c->ai_next = res;
  snprintf(c->errmsg, sizeof c->errmsg, "no address for %s", c->host);
  try_connect(c);
}

static void wake(void *ud) { mark_dirty(ud); }

int client_conn_new(client_loop *l, const char *target, const client_conn_opts *opts,
                    client_conn **out) {
  client_conn *c = calloc(1, sizeof *c);
  if (!c)
    return ERR_NOMEM;
  if (client_target_parse(target, c->host, sizeof c->host, c->port, sizeof c->port)) {
    free(c);
    return ERR_INVAL;
  }
  c->rbuf = malloc(READ_BUF);
  if (!c->rbuf) {
    free(c);
    return ERR_NOMEM;
  }
  c->l = l;
  c->timers.start = conn_timer_start;
  c->timers.stop = conn_timer_stop;
  c->timers.now_ms = conn_now_ms;
  c->timers.ud = c;
  char authority[300];
  if (strchr(c->host, ':'))
    snprintf(authority, sizeof authority, "[%s]:%s", c->host, c->port);
  else
    snprintf(authority, sizeof authority, "%s:%s", c->host, c->port);
  client_session_cfg cfg = {authority, opts ? opts->window : 0,
                            opts ? opts->max_recv_message : 0, &c->timers,
                            opts ? opts->authorization : NULL};
  int rc = client__session_new(&cfg, &c->s);
  if (rc) {
    free(c->rbuf);
    free(c);
    return rc;
  }
  client__session_set_wake(c->s, wake, c);

  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  c->gai.data = c;
  c->state = C_RESOLVING;
  rc = uv_getaddrinfo(&l->uv, &c->gai, on_resolved, c->host, c->port, &hints);
  if (rc) {
    snprintf(c->errmsg, sizeof c->errmsg, "cannot resolve %s: %s", c->host,
             uv_strerror(rc));
    conn_fail(c, RPC_UNAVAILABLE, c->errmsg);
  } else {
    c->pending++;
    c->resolving = 1;
  }
  *out = c;
  return 0;
}

static void do_close(client_conn *c) {
  c->closed = 1;
  c->state = C_DEAD;
  close_tcp(c);
  c->depth++; /* calls' on_done may call client_conn_close again */
  client__session_free(c->s, RPC_CANCELLED, "connection closed by the client");
  c->s = NULL;
  c->depth--;
  if (c->resolving)
    uv_cancel((uv_req_t *)&c->gai); /* on_resolved then frees */
  unmark_dirty(c);
  maybe_free(c);
}

void client_conn_close(client_conn *c) {
  if (!c || c->close_requested)
    return;
  c->close_requested = 1;
  if (c->depth == 0)
    do_close(c);
}

int client_conn_usable(const client_conn *c) {
  return !c->close_requested && c->state != C_DEAD && client__session_usable(c->s);
}

uint32_t client_conn_max_streams(const client_conn *c) {
  return c->s ? client__session_max_streams(c->s) : 0;
}

int client_call_start(client_conn *c, const char *path, const uint8_t *body, size_t len,
                      uint64_t timeout_ms, int flags, const client_call_cbs *cbs, void *ud,
                      client_call **out) {
  if (c->close_requested || c->state == C_DEAD)
    return ERR_UNAVAILABLE;
  enter(c);
  int rc = client__session_call(c->s, path, body, len, timeout_ms, flags, cbs, ud, out);
  leave(c);
  return rc;
}

void client_call_cancel(client_call *call) {
  client_conn *c = client__call_wake_ud(call);
  enter(c);
  client__call_cancel(call);
  leave(c);
}
