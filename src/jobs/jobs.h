/* SPDX-License-Identifier: MIT */
/* The job status store: what a batch (or a single call with an
 * x-request-id) is doing, so that any worker can poll it. One interface,
 * two backends: in-process (this process only) and Redis (shared by every
 * server using the same Redis). Writes are fire-and-forget: a store that
 * cannot write now keeps them and retries; the gRPC stream never fails
 * because of the store. Loop thread only. */
#ifndef OCRPC_JOBS_H
#define OCRPC_JOBS_H

#include <stddef.h>
#include <stdint.h>

typedef enum jobs_state {
  JOBS_PENDING = 0,
  JOBS_IN_PROGRESS,
  JOBS_SUCCESS,
  JOBS_FAILURE,
  JOBS_CANCELLED
} jobs_state;

/* "PENDING", "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELLED". */
const char *jobs_state_name(jobs_state st);
/* The inverse; -1 if unknown. */
int jobs_state_parse(const char *name);

/* One image's outcome. Strings borrowed for the call that passes them. */
typedef struct jobs_result {
  int32_t index;
  int ok;
  const char *text;       /* when ok */
  float confidence;       /* when ok */
  const char *error_code; /* when !ok: "OCR_ERROR" */
  const char *error_message;
  const char *error_details; /* "NOT_FOUND", "DECODE_ERROR", ... */
} jobs_result;

/* A batch as read back. Borrowed for the duration of the get callback. */
typedef struct jobs_batch {
  const char *id;
  jobs_state state;
  int32_t total, processed, failed;
  int64_t created_ms, updated_ms; /* Unix epoch milliseconds */
  const jobs_result *results;     /* the results stored so far */
  size_t nresults;
} jobs_batch;

/* err: 0 (b set), ERR_NOT_FOUND, or ERR_UNAVAILABLE (store unreachable). */
typedef void (*jobs_get_cb)(void *arg, int err, const jobs_batch *b);

typedef struct jobs_store jobs_store;

typedef struct jobs_ops {
  int (*create)(jobs_store *s, const char *id, int32_t total);
  int (*put_result)(jobs_store *s, const char *id, const jobs_result *r,
                    int32_t processed, int32_t failed);
  int (*finish)(jobs_store *s, const char *id, jobs_state st, int32_t processed,
                int32_t failed);
  /* Returns a request handle for jobs_get_cancel, or NULL when cb already
   * ran (a synchronous answer) or could not be queued (cb ran with the
   * error). */
  void *(*get)(jobs_store *s, const char *id, jobs_get_cb cb, void *arg);
  void (*get_cancel)(jobs_store *s, void *req);
  void (*free)(jobs_store *s);
} jobs_ops;

struct jobs_store {
  const jobs_ops *ops;
};

/* Records a new batch as IN_PROGRESS with `total` images. 0 or ERR_NOMEM. */
static inline int jobs_create(jobs_store *s, const char *id, int32_t total) {
  return s->ops->create(s, id, total);
}
/* Records one image's result and the batch's new counters. */
static inline int jobs_put_result(jobs_store *s, const char *id, const jobs_result *r,
                                  int32_t processed, int32_t failed) {
  return s->ops->put_result(s, id, r, processed, failed);
}
/* Records the batch's final state. */
static inline int jobs_finish(jobs_store *s, const char *id, jobs_state st,
                              int32_t processed, int32_t failed) {
  return s->ops->finish(s, id, st, processed, failed);
}
/* Reads a batch; cb runs exactly once unless jobs_get_cancel is called on
 * the returned handle first. */
static inline void *jobs_get(jobs_store *s, const char *id, jobs_get_cb cb, void *arg) {
  return s->ops->get(s, id, cb, arg);
}
static inline void jobs_get_cancel(jobs_store *s, void *req) {
  if (req)
    s->ops->get_cancel(s, req);
}
/* Frees the store; NULL is a no-op. */
static inline void jobs_free(jobs_store *s) {
  if (s)
    s->ops->free(s);
}

/* The in-process store: entries expire ttl_ms after their last update
 * (checked whenever the store is touched). Returns 0 or ERR_NOMEM. */
int jobs_memory_new(uint64_t ttl_ms, jobs_store **out);

#endif
