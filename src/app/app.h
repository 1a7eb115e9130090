/* SPDX-License-Identifier: MIT */
/* What a recognition request asks for, whatever front door carried it
 * (gRPC or REST): read the image, hash it and ask the result cache, run
 * the engine on a worker through the executor it is handed, store a fresh
 * result, and take the work back when the caller goes away. No transport,
 * no protocol messages, no libuv. Loop thread, except where marked. */
#ifndef OCRPC_APP_H
#define OCRPC_APP_H

#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/exec.h"
#include "base/sha256.h"
#include "jobs/jobs.h"
#include "ocr/ocr.h"

/* The recognition service shared by the front doors. Embedded by its
 * owner (the rpc server); the fields are set by app_init and the setters
 * and read by the front doors. */
typedef struct app {
  const config *cfg;  /* borrowed */
  ocr_engine *engine; /* borrowed */
  exec *ex;           /* borrowed */
  jobs_store *jobs;   /* borrowed; NULL until set (no cache, no batches) */
  int inline_instant; /* run never-blocking engines on the loop thread */
  /* The result cache (config_result_cache_on): used only with a store,
   * which holds the entries. */
  int cache_on;
  uint64_t cache_ttl_ms;
  uint64_t cache_hits, cache_misses;
  /* Metrics (app_metrics.c); NULL until app_metrics_register: nothing
   * is counted. */
  struct metric_family *m_images;
  struct metric *m_recognition, *m_queue_wait, *m_cache_hits, *m_cache_misses;
  /* ocr_phase_seconds by phase: decode, orientation, layout, recognition,
   * encode (results measured with options["timings"]="1"). */
  struct metric *m_phase[5];
  struct metric *m_last_image; /* the last ocr_images_total series used */
  /* ocr_requests_shed_total by app_door and app_shed_reason. */
  struct metric *m_shed[2][2];
  int m_last_err;
  char m_last_lang[64];
} app;

struct metrics;

/* Registers the recognition path's families in m (borrowed, must outlive
 * a): ocr_images_total{language,result}, ocr_recognition_seconds,
 * ocr_queue_wait_seconds, ocr_result_cache_hits_total,
 * ocr_result_cache_misses_total, ocr_phase_seconds{phase} and
 * ocr_requests_shed_total{protocol,reason}. Returns 0,
 * or ERR_INVAL when m already has one of these families. Loop thread. */
int app_metrics_register(app *a, struct metrics *m);

/* Counts one answered image in ocr_images_total (language: the Tesseract
 * code used, "unknown" when none was resolved; result: "success" or the
 * failure's details code) and, when a worker ran the engine for it
 * (queue_ms >= 0), its queue wait and recognition time, and its phase
 * times when they were measured (r->timed, no error). Recognitions
 * count themselves; front doors call this for images refused before
 * reaching the app (no image in the request). Loop thread. */
void app_metrics_image(app *a, const ocr_result *r, double queue_ms);

/* Fills a from cfg (borrowed, like engine and ex; all must outlive a). */
void app_init(app *a, const config *cfg, ocr_engine *engine, exec *ex);

/* What the result cache said about a recognition. */
typedef enum app_cache_state {
  APP_CACHE_NONE = 0,
  APP_CACHE_MISS,
  APP_CACHE_HIT
} app_cache_state;

typedef struct app_recog app_recog;

/* Loop thread, exactly once per started recognition (unless
 * app_recog_cancel said it ended there). status 0: r->out holds the
 * result, r->out.err the in-band failure (NOT_FOUND, DECODE_ERROR, ...);
 * ERR_CANCELLED: taken back before it ran (cancel, shutdown);
 * ERR_UNAVAILABLE: a later step could not be queued. The owner may free
 * the memory holding r inside the callback. */
typedef void (*app_recog_cb)(app_recog *r, int status);

/* One recognition. The owner embeds it (a gRPC call's job, a batch item,
 * a REST request), fills `in` after app_recog_init, and keeps it until
 * the done callback. Fields starting with _ are the app's. */
struct app_recog {
  exec_job _ej; /* first: the executor hands back &_ej */
  /* Borrowed from the owner until done: path or data, language,
   * confidence_threshold, use_angle_cls, psm. `cancel` is set by init. */
  ocr_request in;
  ocr_result out;        /* owned; cleared by app_recog_clear */
  app_cache_state cache; /* set once the cache answered */
  app *_app;
  app_recog_cb _done;
  volatile int _cancel;
  uint64_t _t_queued_ns, _t_started_ns, _waited_ns;
  uint8_t *_bytes; /* the file a path named, read for hashing; owned */
  size_t _len;
  char _key[2 * SHA256_DIGEST_LEN + 1];
  void *_store_req; /* a pending cache read */
};

/* Zeroes r, initialises out, psm -1 (automatic) and the cancel flag. */
void app_recog_init(app_recog *r);

/* Frees what r owns (out, the bytes read for hashing). */
void app_recog_clear(app_recog *r);

/* app_recog_start flags. */
#define APP_RECOG_INLINE 1   /* may run an instant engine (mock) right here */
#define APP_RECOG_NO_CACHE 2 /* bypass the result cache: no lookup, no store */

/* Starts the recognition: with the cache on, read and hash on a worker,
 * ask the store on the loop, recognise only a miss; else one trip to a
 * worker. Returns 0 (done will come, possibly before this returns) or
 * ERR_UNAVAILABLE (the executor refused the job; done will not come). */
int app_recog_start(app *a, app_recog *r, int flags, app_recog_cb done);

/* The caller has gone: raises the cancel flag the engine polls and takes
 * the work back where it can. Returns 1 when the recognition ended here
 * (it was waiting for the store; done will not come), 0 when done will
 * still come (ERR_CANCELLED, or a result to drop). */
int app_recog_cancel(app_recog *r);

/* Milliseconds r waited for workers (every trip), 0 before it started. */
double app_recog_queue_ms(const app_recog *r);

/* Describes an OCR result for the job store; strings borrowed from r. */
void app_jobs_result(const ocr_result *r, int32_t index, jobs_result *jr);

/* The front door asking app_admit: ocr_requests_shed_total's protocol
 * label ("grpc", "http"). */
typedef enum app_door { APP_DOOR_GRPC, APP_DOOR_HTTP } app_door;

/* Why app_admit refused: ocr_requests_shed_total's reason label. */
typedef enum app_shed_reason { APP_SHED_QUEUE_FULL, APP_SHED_DEADLINE } app_shed_reason;

/* Admission control (app_admit.c): 1 when a new recognition should be
 * refused now, with the reason in msg (size bytes, NUL-terminated): the
 * executor already holds --max-queued-jobs recognitions waiting for a
 * worker, or (with --shed-by-deadline on and deadline_ns != 0, a time of
 * clock_mono_ns) the recognitions queued ahead would take longer than the
 * deadline leaves; the refusal is counted in ocr_requests_shed_total
 * under door (once metrics are registered). 0: admit. Loop thread. */
int app_admit(app *a, app_door door, uint64_t deadline_ns, char *msg, size_t size);

/* ---- the result cache's steps, public for tests ---- */

/* Worker thread. Reads the image in (ocr_engine_read) and hashes it with
 * the engine, the language code, the threshold as used, use_angle_cls and
 * psm into r->_key. On failure r->out holds the error ocr_engine_run
 * would have given, and it is returned. */
int app__cache_read(ocr_engine *eng, app_recog *r);

/* Stores a successful result of a cache miss under r->_key (failures and
 * hits are never stored). */
void app__cache_store(app *a, const app_recog *r);

#endif
