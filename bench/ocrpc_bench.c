/* SPDX-License-Identifier: MIT */
/* ocrpc-bench: load generator for OCRService. Each load thread runs its own
 * client_loop with its share of the connections, -m call slots per
 * connection, its own histogram and error counts; the main thread starts
 * them, thread 0 also draws the progress line, and the main thread merges
 * and prints after joining. Closed loop: a slot starts its next call when
 * the last one ends. Open loop (--rate): call i is due at start + i/rate
 * and its latency counts from then, however late a free slot sends it
 * (no coordinated omission). */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <math.h>
#include <pb_decode.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "bench_args.h"
#include "bench_hist.h"
#include "client/client.h"
#include "client/client_pb.h"
#include "health.pb.h"
#include "ocr.pb.h"

#define FILE_LIMIT ((uint64_t)1 << 30)
/* Errors that are not gRPC statuses: the call ended OK, but its answer was
 * wrong. */
enum { E_DECODE = RPC_STATUS_COUNT, E_OCR_FAILURE, E_COUNT };

typedef struct shared {
  const bench_opts *o;
  buf *bodies; /* framed requests, used in turn */
  size_t nbodies;
  const char *path;            /* the method's :path */
  atomic_uint_fast64_t issued; /* calls started, for -n */
  /* Set by the first answer saying the image is not there (NOT_FOUND,
   * FORBIDDEN_PATH): every call would fail the same way, so the run stops
   * at once instead of measuring thousands of failures. */
  atomic_int abort_run;
  char abort_msg[300]; /* written once, by whoever set abort_run */
  uint64_t start_ns;
  struct worker *workers;
} shared;

typedef struct worker worker;

typedef struct slot {
  worker *w;
  client_conn *conn;
  uint64_t start_ns; /* closed loop: when sent; open loop: when due */
  int busy;
  int bad;      /* a message did not decode */
  int ocr_fail; /* an answer had status FAILURE */
} slot;

struct worker {
  int idx;
  shared *sh;
  pthread_t thread;
  client_loop *loop;
  client_conn **conns;
  int nconns;
  slot *slots;
  size_t nslots;
  size_t next_slot; /* round robin for the open loop */
  size_t inflight;
  size_t body_next;
  int stopping;
  int closed;
  /* Open loop. */
  double interval_ns; /* between this thread's calls */
  uint64_t next_i;    /* index of the next due call */
  int spinning;       /* the loop calls on_spin every iteration */
  timer *end;
  timer *progress;
  uint64_t progress_last_n;
  uint64_t last_done_ns;
  bench_hist hist;
  uint64_t errors[E_COUNT];
  char first_msg[E_COUNT][200];           /* the first message of each error kind */
  uint64_t cache_hits, cache_misses;      /* metadata "cache" of the answers */
  atomic_uint_fast64_t done_ok, done_err; /* read by the progress line */
};

static int start_call(slot *sl, uint64_t due_ns);

/* The metadata entry {"cache": "hit"} / {"cache": "miss"} as encoded in a
 * common.Metadata map (key 1, value 2): found on the wire without decoding
 * the answer. */
static const uint8_t CACHE_HIT[] = {0x0a, 5,    'c', 'a', 'c', 'h',
                                    'e',  0x12, 3,   'h', 'i', 't'};
static const uint8_t CACHE_MISS[] = {0x0a, 5, 'c', 'a', 'c', 'h', 'e',
                                     0x12, 4, 'm', 'i', 's', 's'};

static void count_cache(worker *w, const uint8_t *data, size_t len) {
  if (memmem(data, len, CACHE_HIT, sizeof CACHE_HIT))
    w->cache_hits++;
  else if (memmem(data, len, CACHE_MISS, sizeof CACHE_MISS))
    w->cache_misses++;
}

/* The first OCR failure's details and message, for the report; a missing
 * image stops the run. Only the first failure is decoded. */
static void note_failure(worker *w, const ocr_OCRResponse *r) {
  const char *details = r->has_error && r->error.details ? r->error.details : "";
  const char *msg = r->has_error && r->error.message ? r->error.message : "";
  if (!w->first_msg[E_OCR_FAILURE][0])
    snprintf(w->first_msg[E_OCR_FAILURE], sizeof w->first_msg[E_OCR_FAILURE], "%s: %s",
             details, msg);
  if (!strcmp(details, "NOT_FOUND") || !strcmp(details, "FORBIDDEN_PATH")) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&w->sh->abort_run, &expected, 1))
      snprintf(w->sh->abort_msg, sizeof w->sh->abort_msg, "%s: %s", details, msg);
  }
}

static void decode_failure(worker *w, const uint8_t *data, size_t len) {
  ocr_OCRResponse r;
  if (client_pb_decode(data, len, ocr_OCRResponse_fields, &r) == 0)
    note_failure(w, &r);
  pb_release(ocr_OCRResponse_fields, &r);
}

static int method_check(worker *w, slot *sl, const uint8_t *data, size_t len) {
  const bench_opts *o = w->sh->o;
  int rc = 0;
  switch (o->method) {
  case BENCH_EXTRACT: {
    /* Checked on the wire, not decoded into memory: the load generator
     * must not cost more per call than the server it measures. */
    uint64_t status = common_Status_STATUS_UNKNOWN;
    if (client_wire_check(data, len, client_wire_schema(ocr_OCRResponse_fields), 1,
                          &status))
      rc = E_DECODE;
    else if (status != common_Status_STATUS_SUCCESS && !o->allow_failure)
      rc = E_OCR_FAILURE;
    if (rc == 0)
      count_cache(w, data, len);
    else if (rc == E_OCR_FAILURE && (!w->errors[rc] || !w->first_msg[rc][0]))
      decode_failure(w, data, len);
    break;
  }
  case BENCH_HEALTH:
    if (client_wire_check(data, len, client_wire_schema(ocr_HealthCheckResponse_fields), 0,
                          NULL))
      rc = E_DECODE;
    break;
  default: {
    ocr_OCRBatchProgress r;
    if (client_pb_decode(data, len, ocr_OCRBatchProgress_fields, &r))
      rc = E_DECODE;
    else if (r.has_current_result &&
             r.current_result.status != common_Status_STATUS_SUCCESS && !o->allow_failure) {
      rc = E_OCR_FAILURE;
      note_failure(w, &r.current_result);
    } else if (r.has_current_result) {
      for (pb_size_t i = 0;
           r.current_result.has_metadata && i < r.current_result.metadata.data_count; i++) {
        const common_Metadata_DataEntry *e = &r.current_result.metadata.data[i];
        if (e->key && e->value && !strcmp(e->key, "cache")) {
          if (!strcmp(e->value, "hit"))
            w->cache_hits++;
          else
            w->cache_misses++;
        }
      }
    }
    pb_release(ocr_OCRBatchProgress_fields, &r);
    break;
  }
  }
  if (rc == E_DECODE)
    sl->bad = 1;
  else if (rc == E_OCR_FAILURE)
    sl->ocr_fail = 1;
  return 0;
}

static int on_message(void *ud, const uint8_t *data, size_t len) {
  slot *sl = ud;
  return method_check(sl->w, sl, data, len);
}

static int due(worker *w, uint64_t now);
static void maybe_finish(worker *w);

static void on_done(void *ud, const client_status *st) {
  slot *sl = ud;
  worker *w = sl->w;
  uint64_t now = clock_mono_ns();
  sl->busy = 0;
  w->inflight--;
  w->last_done_ns = now;
  int e = -1;
  if (st->code != RPC_OK)
    e = st->code;
  else if (sl->bad)
    e = E_DECODE;
  else if (sl->ocr_fail)
    e = E_OCR_FAILURE;
  if (e < 0) {
    bench_hist_record(&w->hist, now - sl->start_ns);
    atomic_fetch_add_explicit(&w->done_ok, 1, memory_order_relaxed);
  } else {
    if (!w->errors[e] && !w->first_msg[e][0])
      snprintf(w->first_msg[e], sizeof w->first_msg[e], "%s", st->message);
    w->errors[e]++;
    atomic_fetch_add_explicit(&w->done_err, 1, memory_order_relaxed);
  }
  if (!w->stopping) {
    if (w->sh->o->rate > 0)
      due(w, now);
    else
      start_call(sl, 0);
  }
  maybe_finish(w);
}

/* Takes one request from the budget of -n; 0 when it is spent. */
static int take_request(worker *w) {
  const bench_opts *o = w->sh->o;
  if (!o->requests)
    return 1;
  uint64_t n = atomic_fetch_add(&w->sh->issued, 1);
  if (n < o->requests)
    return 1;
  w->stopping = 1;
  return 0;
}

static int start_call(slot *sl, uint64_t due_ns) {
  worker *w = sl->w;
  shared *sh = w->sh;
  if (!w->stopping && atomic_load_explicit(&sh->abort_run, memory_order_relaxed))
    w->stopping = 1;
  if (w->stopping || !take_request(w))
    return -1;
  if (!client_conn_usable(sl->conn))
    return -1; /* the connection is gone (its calls counted): the slot retires */
  const buf *b = &sh->bodies[w->body_next];
  w->body_next = (w->body_next + 1) % sh->nbodies;
  client_call_cbs cbs = {on_message, on_done};
  sl->bad = sl->ocr_fail = 0;
  sl->start_ns = due_ns ? due_ns : clock_mono_ns();
  int rc = client_call_start(sl->conn, sh->path, b->data, b->len, sh->o->timeout_ms,
                             sh->o->method == BENCH_BATCH ? 0 : CLIENT_CALL_UNARY, &cbs, sl,
                             NULL);
  if (rc) {
    w->errors[rc == ERR_UNAVAILABLE ? RPC_UNAVAILABLE : RPC_INTERNAL]++;
    atomic_fetch_add_explicit(&w->done_err, 1, memory_order_relaxed);
    return -1;
  }
  sl->busy = 1;
  w->inflight++;
  return 0;
}

/* Open loop: starts every call that is due, while slots are free. A due
 * call that finds no free slot waits for one; its latency still counts
 * from when it was due. Returns how many started. */
static int due(worker *w, uint64_t now) {
  int started = 0;
  while (!w->stopping) {
    uint64_t at = w->sh->start_ns + (uint64_t)((double)w->next_i * w->interval_ns);
    if (at > now)
      break;
    slot *sl = NULL;
    for (size_t k = 0; k < w->nslots; k++) {
      slot *cand = &w->slots[(w->next_slot + k) % w->nslots];
      if (!cand->busy && client_conn_usable(cand->conn)) {
        sl = cand;
        w->next_slot = (w->next_slot + k + 1) % w->nslots;
        break;
      }
    }
    if (!sl)
      break;
    w->next_i++;
    if (start_call(sl, at) == 0)
      started++;
  }
  return started;
}

static void stop_spin(worker *w) {
  if (w->spinning)
    client_loop_set_spin(w->loop, NULL, NULL);
  w->spinning = 0;
}

/* Open loop, run every loop iteration. (A 1 ms timer tick sent calls up to
 * a millisecond after they were due, and that delay counted in every
 * server's latency: bench/OPTIMISATIONS.md.) */
static void on_spin(void *arg) {
  worker *w = arg;
  if (!w->stopping)
    due(w, clock_mono_ns());
  if (w->stopping) {
    stop_spin(w);
    maybe_finish(w); /* the -n budget may have run out just now */
  }
}

static void close_all(worker *w) {
  timer_src *ts = client_loop_timers(w->loop);
  w->closed = 1;
  stop_spin(w);
  ts->stop(ts, w->end);
  ts->stop(ts, w->progress);
  w->end = w->progress = NULL;
  for (int i = 0; i < w->nconns; i++)
    client_conn_close(w->conns[i]);
}

static void maybe_finish(worker *w) {
  if (w->closed)
    return;
  if (!w->stopping) {
    /* A closed loop whose connections all died has nothing left to do. */
    int any = 0;
    for (int i = 0; i < w->nconns && !any; i++)
      any = client_conn_usable(w->conns[i]);
    if (any || w->inflight)
      return;
    w->stopping = 1;
  }
  if (w->inflight == 0)
    close_all(w);
}

static void on_end(void *arg) {
  worker *w = arg;
  w->end = NULL;
  w->stopping = 1;
  maybe_finish(w);
}

static void on_progress(void *arg) {
  worker *w = arg;
  shared *sh = w->sh;
  w->progress = NULL;
  uint64_t ok = 0, err = 0;
  for (int i = 0; i < sh->o->threads; i++) {
    ok += atomic_load_explicit(&sh->workers[i].done_ok, memory_order_relaxed);
    err += atomic_load_explicit(&sh->workers[i].done_err, memory_order_relaxed);
  }
  double secs = (double)(clock_mono_ns() - sh->start_ns) / 1e9;
  uint64_t n = ok + err;
  printf("\r\033[K[%5.1fs] %llu requests, %.0f req/s now, %llu errors", secs,
         (unsigned long long)n, (double)(n - w->progress_last_n), (unsigned long long)err);
  fflush(stdout);
  w->progress_last_n = n;
  timer_src *ts = client_loop_timers(w->loop);
  w->progress = ts->start(ts, 1000, on_progress, w);
}

static void *run_worker(void *arg) {
  worker *w = arg;
  shared *sh = w->sh;
  const bench_opts *o = sh->o;
  timer_src *ts = client_loop_timers(w->loop);
  if (o->duration_ms)
    w->end = ts->start(ts, o->duration_ms, on_end, w);
  if (w->idx == 0 && o->progress)
    w->progress = ts->start(ts, 1000, on_progress, w);
  if (o->rate > 0) {
    w->interval_ns = 1e9 / (o->rate / o->threads);
    due(w, clock_mono_ns());
    w->spinning = 1;
    client_loop_set_spin(w->loop, on_spin, w);
  } else {
    for (size_t i = 0; i < w->nslots; i++)
      start_call(&w->slots[i], 0);
  }
  maybe_finish(w);
  client_loop_run(w->loop);
  return NULL;
}

/* ---- requests ---------------------------------------------------------- */

typedef struct item {
  char *path;
  pb_bytes_array_t *data;
} item;

static int read_list(const char *file, item **items, size_t *n) {
  FILE *f = fopen(file, "r");
  if (!f) {
    fprintf(stderr, "ocrpc-bench: --list %s: %s\n", file, strerror(errno));
    return -1;
  }
  char line[4096];
  size_t cap = 0;
  while (fgets(line, sizeof line, f)) {
    size_t l = strcspn(line, "\r\n");
    line[l] = '\0';
    if (l == 0 || line[0] == '#')
      continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      item *p = realloc(*items, cap * sizeof *p);
      if (!p)
        break;
      *items = p;
    }
    (*items)[*n].path = strdup(line);
    (*items)[*n].data = NULL;
    (*n)++;
  }
  fclose(f);
  if (*n == 0) {
    fprintf(stderr, "ocrpc-bench: --list %s: no paths in it\n", file);
    return -1;
  }
  return 0;
}

static int build_requests(const bench_opts *o, shared *sh) {
  /* Unless --use-cache: the server's result cache (on with Redis) would
   * answer every repeat of the same image without recognising it. */
  static common_Metadata_DataEntry off = {.key = (char *)"cache", .value = (char *)"off"};
  common_Metadata cache_off = {.data = &off, .data_count = 1};
  item *items = NULL;
  size_t nitems = 0;
  int rc = -1;
  if (o->list) {
    if (read_list(o->list, &items, &nitems))
      goto done;
  } else {
    items = calloc(1, sizeof *items);
    nitems = 1;
    if (o->file) {
      int e = client_pb_read_file(o->file, FILE_LIMIT, &items[0].data);
      if (e) {
        fprintf(stderr, "ocrpc-bench: --file %s: %s\n", o->file, err_text(e));
        goto done;
      }
    } else {
      items[0].path = strdup(o->path ? o->path : "bench.png");
    }
  }
  if (o->method == BENCH_EXTRACT) {
    sh->path = CLIENT_M_EXTRACT_TEXT;
    sh->nbodies = nitems;
    sh->bodies = calloc(nitems, sizeof *sh->bodies);
    for (size_t i = 0; i < nitems; i++) {
      ocr_OCRRequest r = ocr_OCRRequest_init_zero;
      r.public_image_path = items[i].path;
      r.image_data = items[i].data;
      r.language = (char *)o->language;
      r.use_angle_cls = o->angle;
      if (!o->use_cache) {
        r.has_options = true;
        r.options = cache_off;
      }
      if (client_pb_frame(&sh->bodies[i], ocr_OCRRequest_fields, &r))
        goto done;
    }
  } else if (o->method == BENCH_HEALTH) {
    sh->path = CLIENT_M_CHECK_HEALTH;
    sh->nbodies = 1;
    sh->bodies = calloc(1, sizeof *sh->bodies);
    ocr_HealthCheckRequest r = ocr_HealthCheckRequest_init_zero;
    if (client_pb_frame(&sh->bodies[0], ocr_HealthCheckRequest_fields, &r))
      goto done;
  } else {
    sh->path = CLIENT_M_EXTRACT_BATCH;
    sh->nbodies = 1;
    sh->bodies = calloc(1, sizeof *sh->bodies);
    size_t k = o->batch_size ? (size_t)o->batch_size : (o->list ? nitems : 4);
    ocr_OCRBatchRequest r = ocr_OCRBatchRequest_init_zero;
    r.image_paths = calloc(k, sizeof *r.image_paths);
    r.image_paths_count = (pb_size_t)k;
    for (size_t i = 0; i < k; i++) {
      r.image_paths[i].public_path = items[i % nitems].path;
      r.image_paths[i].data = items[i % nitems].data;
    }
    r.language = (char *)o->language;
    r.use_angle_cls = o->angle;
    r.completion_order = true; /* nothing is held back: the server's own pace */
    if (!o->use_cache) {
      r.has_options = true;
      r.options = cache_off;
    }
    int e = client_pb_frame(&sh->bodies[0], ocr_OCRBatchRequest_fields, &r);
    free(r.image_paths);
    if (e)
      goto done;
  }
  rc = 0;
done:
  for (size_t i = 0; i < nitems; i++) {
    free(items[i].path);
    free(items[i].data);
  }
  free(items);
  if (rc && sh->bodies)
    fprintf(stderr, "ocrpc-bench: cannot encode the request\n");
  return rc;
}

/* ---- output ------------------------------------------------------------ */

static const char *error_name(int e) {
  if (e == E_DECODE)
    return "BAD_RESPONSE";
  if (e == E_OCR_FAILURE)
    return "OCR_FAILURE";
  return rpc_status_name(e);
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20)
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void report(const bench_opts *o, const bench_hist *h, const uint64_t *errors,
                   char (*first_msg)[200], double secs, uint64_t hits, uint64_t misses) {
  double hit_pct = hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0;
  uint64_t nerr = 0;
  for (int e = 0; e < E_COUNT; e++)
    nerr += errors[e];
  double rps = secs > 0 ? (double)h->n / secs : 0;
  static const double pcts[] = {50, 90, 95, 99, 99.9};
  static const char *pnames[] = {"p50", "p90", "p95", "p99", "p99_9"};
#define MS(v) ((double)(v) / 1e6)
  if (o->json) {
    printf("{\"target\":");
    json_string(stdout, o->target);
    printf(",\"method\":\"%s\",\"connections\":%d,\"streams\":%d,\"threads\":%d,"
           "\"mode\":\"%s\",\"rate\":%g,\"duration_s\":%.3f,\"requests\":%llu,"
           "\"ok\":%llu,\"errors\":%llu,\"errors_by_status\":{",
           bench_method_name(o->method), o->conns, o->streams, o->threads,
           o->rate > 0 ? "open" : "closed", o->rate, secs,
           (unsigned long long)(h->n + nerr), (unsigned long long)h->n,
           (unsigned long long)nerr);
    int first = 1;
    for (int e = 0; e < E_COUNT; e++) {
      if (!errors[e])
        continue;
      printf("%s\"%s\":%llu", first ? "" : ",", error_name(e),
             (unsigned long long)errors[e]);
      first = 0;
    }
    printf("},\"rps\":%.1f,\"latency_ms\":{\"min\":%.3f,\"mean\":%.3f", rps,
           MS(h->n ? h->min : 0), bench_hist_mean(h) / 1e6);
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
      printf(",\"%s\":%.3f", pnames[i], MS(bench_hist_percentile(h, pcts[i])));
    printf(",\"max\":%.3f},\"cache_hits\":%llu,\"cache_misses\":%llu}\n", MS(h->max),
           (unsigned long long)hits, (unsigned long long)misses);
    return;
  }
  printf("ocrpc-bench: %s on %s, %d connection%s x %d stream%s, %s, %.2f s\n",
         bench_method_name(o->method), o->target, o->conns, o->conns == 1 ? "" : "s",
         o->streams, o->streams == 1 ? "" : "s", o->rate > 0 ? "open loop" : "closed loop",
         secs);
  if (o->rate > 0)
    printf("  target rate  %.1f req/s\n", o->rate);
  printf("  requests     %llu ok, %llu errors\n", (unsigned long long)h->n,
         (unsigned long long)nerr);
  printf("  throughput   %.1f req/s\n", rps);
  if (h->n) {
    printf("  latency ms   min %.3f  mean %.3f", MS(h->min), bench_hist_mean(h) / 1e6);
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++)
      printf("  %s %.3f", i == 4 ? "p99.9" : pnames[i],
             MS(bench_hist_percentile(h, pcts[i])));
    printf("  max %.3f\n", MS(h->max));
  }
  if (hits + misses)
    printf(
        "  cache        %llu hits, %llu misses (%.1f %% answered from the result cache)\n",
        (unsigned long long)hits, (unsigned long long)misses, hit_pct);
  for (int e = 0; e < E_COUNT; e++)
    if (errors[e])
      printf("  errors       %-20s %llu%s%s%s\n", error_name(e),
             (unsigned long long)errors[e], first_msg[e][0] ? " (first: " : "",
             first_msg[e], first_msg[e][0] ? ")" : "");
#undef MS
}

int main(int argc, char **argv) {
  bench_opts o;
  char err[256];
  int rc =
      bench_args_parse(argc, argv, getenv("OCRPC_TARGET"), &o, stdout, err, sizeof err);
  if (rc == 1)
    return 0;
  if (rc) {
    fprintf(stderr, "ocrpc-bench: %s (see --help)\n", err);
    return 2;
  }
  if (o.progress < 0)
    o.progress = isatty(STDOUT_FILENO);
  /* The checking tables are built once, before the load threads start. */
  if (!client_wire_schema(ocr_OCRResponse_fields) ||
      !client_wire_schema(ocr_HealthCheckResponse_fields)) {
    fprintf(stderr, "ocrpc-bench: cannot build the response checks\n");
    return 2;
  }

  shared sh;
  memset(&sh, 0, sizeof sh);
  sh.o = &o;
  if (build_requests(&o, &sh))
    return 2;
  worker *ws = calloc((size_t)o.threads, sizeof *ws);
  sh.workers = ws;
  client_conn_opts copts = {0, 0, NULL};
  for (int t = 0; t < o.threads; t++) {
    worker *w = &ws[t];
    w->idx = t;
    w->sh = &sh;
    bench_hist_init(&w->hist);
    if (client_loop_new(&w->loop)) {
      fprintf(stderr, "ocrpc-bench: out of memory\n");
      return 2;
    }
    /* Connections split as evenly as possible among the threads. */
    w->nconns = o.conns / o.threads + (t < o.conns % o.threads);
    w->conns = calloc((size_t)w->nconns, sizeof *w->conns);
    w->nslots = (size_t)w->nconns * (size_t)o.streams;
    w->slots = calloc(w->nslots, sizeof *w->slots);
    for (int i = 0; i < w->nconns; i++) {
      if (client_conn_new(w->loop, o.target, &copts, &w->conns[i])) {
        fprintf(stderr, "ocrpc-bench: cannot create a connection to %s\n", o.target);
        return 2;
      }
      for (int k = 0; k < o.streams; k++) {
        slot *sl = &w->slots[(size_t)i * (size_t)o.streams + (size_t)k];
        sl->w = w;
        sl->conn = w->conns[i];
      }
    }
  }
  sh.start_ns = clock_mono_ns();
  for (int t = 0; t < o.threads; t++)
    pthread_create(&ws[t].thread, NULL, run_worker, &ws[t]);
  bench_hist total;
  bench_hist_init(&total);
  uint64_t errors[E_COUNT] = {0};
  static char first_msg[E_COUNT][200];
  uint64_t end_ns = sh.start_ns;
  uint64_t hits = 0, misses = 0;
  for (int t = 0; t < o.threads; t++) {
    worker *w = &ws[t];
    pthread_join(w->thread, NULL);
    bench_hist_merge(&total, &w->hist);
    for (int e = 0; e < E_COUNT; e++) {
      if (!errors[e] && w->errors[e])
        memcpy(first_msg[e], w->first_msg[e], sizeof first_msg[e]);
      errors[e] += w->errors[e];
    }
    hits += w->cache_hits;
    misses += w->cache_misses;
    if (w->last_done_ns > end_ns)
      end_ns = w->last_done_ns;
    client_loop_free(w->loop);
    free(w->conns);
    free(w->slots);
  }
  if (o.progress)
    printf("\r\033[K");
  if (atomic_load(&sh.abort_run)) {
    fprintf(stderr,
            "ocrpc-bench: stopped: the server cannot find the image (%s); check --path / "
            "--list against the server's --image-root\n",
            sh.abort_msg);
    for (size_t i = 0; i < sh.nbodies; i++)
      buf_free(&sh.bodies[i]);
    free(sh.bodies);
    free(ws);
    return 2;
  }
  report(&o, &total, errors, first_msg, (double)(end_ns - sh.start_ns) / 1e9, hits, misses);
  uint64_t nerr = 0;
  for (int e = 0; e < E_COUNT; e++)
    nerr += errors[e];
  for (size_t i = 0; i < sh.nbodies; i++)
    buf_free(&sh.bodies[i]);
  free(sh.bodies);
  free(ws);
  if (nerr && total.n == 0)
    return 3;
  return nerr ? 1 : 0;
}
