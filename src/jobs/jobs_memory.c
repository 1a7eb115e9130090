/* SPDX-License-Identifier: MIT */
/* The in-process job store: batches in a keyed table ordered by last
 * update (base/lru.h), so expired entries are dropped from its old end in
 * O(1) each, and, past the bounds on batches and bytes, evicted from it
 * oldest first; and the result cache, a bounded table of the same kind in
 * least-recently-used order. Used when no REDIS_URL is set; answers reads
 * synchronously. Loop thread only. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/lru.h"
#include "jobs.h"

typedef struct entry entry;
struct entry {
  lru_node n; /* first: key = id, in update order */
  char *id;
  jobs_state state;
  int32_t total, processed, failed;
  int64_t created_ms, updated_ms;
  uint64_t expires_ms; /* monotonic */
  jobs_result *results;
  size_t nresults, cap;
  size_t bytes; /* what this entry holds, as counted against max_bytes */
};

/* A cached result. Each has its own expiry (the TTL cache_put was given),
 * so the list is in use order, not expiry order: an expired entry is
 * dropped when a read finds it, or when it reaches the cold end. */
typedef struct centry centry;
struct centry {
  lru_node n;          /* first: key = key, in use order */
  uint64_t expires_ms; /* monotonic */
  size_t len;
  uint8_t *data;
  char key[];
};

typedef struct mem_store {
  jobs_store base;
  uint64_t ttl_ms;
  lru_table batches;
  /* Bounds on batches kept (0: none); past either, the least recently
   * updated batches are evicted first. */
  size_t max_batches, max_bytes, bytes;
  uint64_t evicted;
  /* The result cache; its table is allocated on the first put, so a
   * server with the cache off pays nothing for it. */
  lru_table cache;
  size_t cmax;
} mem_store;

/* The oldest batch and the least recently used cache entry, or NULL. */
#define OLDEST(m) ((entry *)(m)->batches.oldest)
#define COLDEST(m) ((centry *)(m)->cache.oldest)

static void result_clear(jobs_result *r) {
  free((char *)r->text);
  free((char *)r->error_code);
  free((char *)r->error_message);
  free((char *)r->error_details);
}

static void entry_free(entry *e) {
  for (size_t i = 0; i < e->nresults; i++)
    result_clear(&e->results[i]);
  free(e->results);
  free(e->id);
  free(e);
}

static void remove_entry(mem_store *m, entry *e) {
  lru_remove(&m->batches, &e->n);
  m->bytes -= e->bytes;
  entry_free(e);
}

static size_t str_bytes(const char *s) { return s ? strlen(s) + 1 : 0; }

/* Adds n bytes to e's account, then evicts the least recently updated
 * batches other than `keep` while a bound is passed. A batch that alone
 * passes max_bytes stays (its own results are the newest data). */
static void account(mem_store *m, entry *e, size_t n, entry *keep) {
  e->bytes += n;
  m->bytes += n;
  while (OLDEST(m) && ((m->max_batches && m->batches.count > m->max_batches) ||
                       (m->max_bytes && m->bytes > m->max_bytes))) {
    entry *victim = OLDEST(m) == keep ? (entry *)keep->n.newer : OLDEST(m);
    if (!victim)
      break;
    remove_entry(m, victim);
    m->evicted++;
  }
}

static void expire(mem_store *m) {
  uint64_t now = clock_mono_ms();
  while (OLDEST(m) && OLDEST(m)->expires_ms <= now)
    remove_entry(m, OLDEST(m));
}

static void touch(mem_store *m, entry *e) {
  e->updated_ms = clock_wall_ms();
  e->expires_ms = clock_mono_ms() + m->ttl_ms;
  lru_touch(&m->batches, &e->n);
}

static entry *find(mem_store *m, const char *id) {
  expire(m);
  return (entry *)lru_find(&m->batches, id);
}

static int mem_create(jobs_store *s, const char *id, int32_t total) {
  mem_store *m = (mem_store *)s;
  entry *old = find(m, id);
  if (old)
    remove_entry(m, old); /* a client reusing its batch id starts afresh */
  if (m->batches.count >= m->batches.nbuckets && lru_grow(&m->batches))
    return ERR_NOMEM;
  entry *e = calloc(1, sizeof *e);
  if (!e || !(e->id = strdup(id))) {
    free(e);
    return ERR_NOMEM;
  }
  e->state = JOBS_IN_PROGRESS;
  e->total = total;
  e->created_ms = clock_wall_ms();
  e->n.key = e->id;
  lru_insert(&m->batches, &e->n);
  touch(m, e);
  account(m, e, sizeof *e + strlen(id) + 1, e);
  return 0;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static int mem_put_result(jobs_store *s, const char *id, const jobs_result *r,
                          int32_t processed, int32_t failed) {
  mem_store *m = (mem_store *)s;
  entry *e = find(m, id);
  if (!e)
    return ERR_NOT_FOUND;
  size_t added = 0;
  if (e->nresults == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 8;
    jobs_result *p = realloc(e->results, cap * sizeof *p);
    if (!p)
      return ERR_NOMEM;
    e->results = p;
    added += (cap - e->cap) * sizeof *p;
    e->cap = cap;
  }
  jobs_result *d = &e->results[e->nresults++];
  *d = *r;
  d->text = dup_or_null(r->text);
  d->error_code = dup_or_null(r->error_code);
  d->error_message = dup_or_null(r->error_message);
  d->error_details = dup_or_null(r->error_details);
  added += str_bytes(d->text) + str_bytes(d->error_code) + str_bytes(d->error_message) +
           str_bytes(d->error_details);
  e->processed = processed;
  e->failed = failed;
  touch(m, e);
  account(m, e, added, e);
  return 0;
}

static int mem_finish(jobs_store *s, const char *id, jobs_state st, int32_t processed,
                      int32_t failed) {
  mem_store *m = (mem_store *)s;
  entry *e = find(m, id);
  if (!e)
    return ERR_NOT_FOUND;
  e->state = st;
  e->processed = processed;
  e->failed = failed;
  touch(m, e);
  return 0;
}

static void *mem_get(jobs_store *s, const char *id, jobs_get_cb cb, void *arg) {
  mem_store *m = (mem_store *)s;
  entry *e = find(m, id);
  if (!e) {
    cb(arg, ERR_NOT_FOUND, NULL);
    return NULL;
  }
  jobs_batch b = {e->id,         e->state,      e->total,   e->processed, e->failed,
                  e->created_ms, e->updated_ms, e->results, e->nresults};
  cb(arg, 0, &b);
  return NULL;
}

static void mem_get_cancel(jobs_store *s, void *req) {
  (void)s;
  (void)req; /* reads are answered at once: nothing is ever pending */
}

static void cremove(mem_store *m, centry *e);

static void mem_free(jobs_store *s) {
  mem_store *m = (mem_store *)s;
  while (OLDEST(m))
    remove_entry(m, OLDEST(m));
  while (COLDEST(m))
    cremove(m, COLDEST(m));
  lru_free(&m->batches);
  lru_free(&m->cache);
  free(m);
}

/* ---- the result cache ---------------------------------------------------- */

static void cremove(mem_store *m, centry *e) {
  lru_remove(&m->cache, &e->n);
  free(e->data);
  free(e);
}

static void *mem_cache_get(jobs_store *s, const char *key, jobs_cache_cb cb, void *arg) {
  mem_store *m = (mem_store *)s;
  centry *e = (centry *)lru_find(&m->cache, key);
  if (e && e->expires_ms <= clock_mono_ms()) {
    cremove(m, e);
    e = NULL;
  }
  if (!e) {
    cb(arg, ERR_NOT_FOUND, NULL, 0);
    return NULL;
  }
  lru_touch(&m->cache, &e->n);
  cb(arg, 0, e->data, e->len);
  return NULL;
}

static void mem_cache_cancel(jobs_store *s, void *req) {
  (void)s;
  (void)req; /* reads are answered at once: nothing is ever pending */
}

static void mem_cache_put(jobs_store *s, const char *key, const uint8_t *data, size_t len,
                          uint64_t ttl_ms) {
  mem_store *m = (mem_store *)s;
  if (m->cmax == 0)
    return;
  /* Sized once for the bound (about 1.3 buckets per entry): the table
   * never grows. */
  if (!m->cache.buckets && lru_init(&m->cache, m->cmax + m->cmax / 3 + 1))
    return;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy)
    return;
  memcpy(copy, data, len);
  centry *e = (centry *)lru_find(&m->cache, key);
  if (e) {
    free(e->data);
    lru_touch(&m->cache, &e->n);
  } else {
    size_t klen = strlen(key);
    e = malloc(sizeof *e + klen + 1);
    if (!e) {
      free(copy);
      return;
    }
    memcpy(e->key, key, klen + 1);
    /* Full: expired entries at the cold end go first, then the least
     * recently used one. */
    uint64_t now = clock_mono_ms();
    while (COLDEST(m) && COLDEST(m)->expires_ms <= now)
      cremove(m, COLDEST(m));
    if (m->cache.count >= m->cmax)
      cremove(m, COLDEST(m));
    e->n.key = e->key;
    lru_insert(&m->cache, &e->n);
  }
  e->data = copy;
  e->len = len;
  e->expires_ms = clock_mono_ms() + ttl_ms;
}

void jobs_memory_set_limits(jobs_store *s, size_t max_batches, size_t max_bytes) {
  mem_store *m = (mem_store *)s;
  m->max_batches = max_batches;
  m->max_bytes = max_bytes;
}

void jobs_memory_usage(const jobs_store *s, size_t *batches, size_t *bytes,
                       uint64_t *evicted) {
  const mem_store *m = (const mem_store *)s;
  *batches = m->batches.count;
  *bytes = m->bytes;
  *evicted = m->evicted;
}

size_t jobs_memory_cache_count(const jobs_store *s) {
  return ((const mem_store *)s)->cache.count;
}

static const jobs_ops mem_ops = {mem_create,    mem_put_result,   mem_finish,
                                 mem_get,       mem_get_cancel,   mem_free,
                                 mem_cache_get, mem_cache_cancel, mem_cache_put};

int jobs_memory_new(uint64_t ttl_ms, jobs_store **out) {
  return jobs_memory_new_bounded(ttl_ms, JOBS_MEMORY_CACHE_MAX, out);
}

int jobs_memory_new_bounded(uint64_t ttl_ms, size_t cache_max, jobs_store **out) {
  mem_store *m = calloc(1, sizeof *m);
  if (!m)
    return ERR_NOMEM;
  m->cmax = cache_max;
  if (lru_init(&m->batches, 64)) {
    free(m);
    return ERR_NOMEM;
  }
  m->base.ops = &mem_ops;
  m->ttl_ms = ttl_ms;
  *out = &m->base;
  return 0;
}
