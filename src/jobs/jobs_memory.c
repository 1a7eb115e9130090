/* SPDX-License-Identifier: MIT */
/* The in-process job store: a hash table of batches plus a list ordered by
 * last update, so expired entries are dropped from its head in O(1) each,
 * and, past the bounds on batches and bytes, evicted from it oldest first;
 * and the result cache, a bounded hash table with a least-recently-used
 * list. Used when no REDIS_URL is set; answers reads synchronously. Loop
 * thread only. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "base/ocrpc_assert.h"
#include "jobs.h"

typedef struct entry entry;
struct entry {
  char *id;
  entry *hnext;         /* hash chain */
  entry *older, *newer; /* update order */
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
  centry *hnext;
  centry *colder, *warmer;
  uint64_t expires_ms; /* monotonic */
  size_t len;
  uint8_t *data;
  char key[];
};

typedef struct mem_store {
  jobs_store base;
  uint64_t ttl_ms;
  entry **table;
  size_t nbuckets, count;
  entry *oldest, *newest;
  /* Bounds on batches kept (0: none); past either, the least recently
   * updated batches are evicted first. */
  size_t max_batches, max_bytes, bytes;
  uint64_t evicted;
  /* The result cache; its table is allocated on the first put, so a
   * server with the cache off pays nothing for it. */
  centry **ctable;
  size_t cbuckets, ccount, cmax;
  centry *coldest, *warmest;
} mem_store;

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (size_t)h;
}

static entry **slot(mem_store *m, const char *id) {
  entry **p = &m->table[hash(id) % m->nbuckets];
  while (*p && strcmp((*p)->id, id) != 0)
    p = &(*p)->hnext;
  return p;
}

static void list_unlink(mem_store *m, entry *e) {
  if (e->older)
    e->older->newer = e->newer;
  else
    m->oldest = e->newer;
  if (e->newer)
    e->newer->older = e->older;
  else
    m->newest = e->older;
  e->older = e->newer = NULL;
}

static void list_push(mem_store *m, entry *e) {
  e->older = m->newest;
  e->newer = NULL;
  if (m->newest)
    m->newest->newer = e;
  else
    m->oldest = e;
  m->newest = e;
}

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
  entry **p = slot(m, e->id);
  /* Every batch is in the table, on the use list and in the counts. */
  OCRPC_ASSERT(*p == e && m->count > 0 && m->bytes >= e->bytes);
  *p = e->hnext;
  list_unlink(m, e);
  m->count--;
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
  while (m->oldest && ((m->max_batches && m->count > m->max_batches) ||
                       (m->max_bytes && m->bytes > m->max_bytes))) {
    entry *victim = m->oldest == keep ? keep->newer : m->oldest;
    if (!victim)
      break;
    remove_entry(m, victim);
    m->evicted++;
  }
}

static void expire(mem_store *m) {
  uint64_t now = mono_ms();
  while (m->oldest && m->oldest->expires_ms <= now)
    remove_entry(m, m->oldest);
}

static void touch(mem_store *m, entry *e) {
  e->updated_ms = wall_ms();
  e->expires_ms = mono_ms() + m->ttl_ms;
  list_unlink(m, e);
  list_push(m, e);
}

static entry *find(mem_store *m, const char *id) {
  expire(m);
  return *slot(m, id);
}

static void grow(mem_store *m) {
  size_t n = m->nbuckets * 2;
  entry **t = ocrpc_calloc(n, sizeof *t);
  for (size_t i = 0; i < m->nbuckets; i++) {
    entry *e = m->table[i];
    while (e) {
      entry *next = e->hnext;
      size_t b = hash(e->id) % n;
      e->hnext = t[b];
      t[b] = e;
      e = next;
    }
  }
  free(m->table);
  m->table = t;
  m->nbuckets = n;
}

static int mem_create(jobs_store *s, const char *id, int32_t total) {
  mem_store *m = (mem_store *)s;
  entry *old = find(m, id);
  if (old)
    remove_entry(m, old); /* a client reusing its batch id starts afresh */
  if (m->count >= m->nbuckets)
    grow(m);
  entry *e = ocrpc_calloc(1, sizeof *e);
  e->id = ocrpc_strdup(id);
  e->state = JOBS_IN_PROGRESS;
  e->total = total;
  e->created_ms = wall_ms();
  entry **p = slot(m, id);
  *p = e;
  m->count++;
  list_push(m, e);
  touch(m, e);
  account(m, e, sizeof *e + strlen(id) + 1, e);
  return 0;
}

static char *dup_or_null(const char *s) { return s ? ocrpc_strdup(s) : NULL; }

static int mem_put_result(jobs_store *s, const char *id, const jobs_result *r,
                          int32_t processed, int32_t failed) {
  mem_store *m = (mem_store *)s;
  entry *e = find(m, id);
  if (!e)
    return ERR_NOT_FOUND;
  size_t added = 0;
  if (e->nresults == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 8;
    e->results = ocrpc_realloc(e->results, cap * sizeof *e->results);
    added += (cap - e->cap) * sizeof *e->results;
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
  while (m->oldest)
    remove_entry(m, m->oldest);
  while (m->coldest)
    cremove(m, m->coldest);
  /* Teardown: the counts agree with the lists they count. */
  OCRPC_ASSERT(m->count == 0 && m->bytes == 0 && m->newest == NULL);
  OCRPC_ASSERT(m->ccount == 0 && m->warmest == NULL);
  free(m->table);
  free(m->ctable);
  free(m);
}

/* ---- the result cache ---------------------------------------------------- */

static centry **cslot(mem_store *m, const char *key) {
  centry **p = &m->ctable[hash(key) % m->cbuckets];
  while (*p && strcmp((*p)->key, key) != 0)
    p = &(*p)->hnext;
  return p;
}

static void clist_unlink(mem_store *m, centry *e) {
  if (e->colder)
    e->colder->warmer = e->warmer;
  else
    m->coldest = e->warmer;
  if (e->warmer)
    e->warmer->colder = e->colder;
  else
    m->warmest = e->colder;
  e->colder = e->warmer = NULL;
}

static void clist_push(mem_store *m, centry *e) {
  e->colder = m->warmest;
  e->warmer = NULL;
  if (m->warmest)
    m->warmest->warmer = e;
  else
    m->coldest = e;
  m->warmest = e;
}

static void cremove(mem_store *m, centry *e) {
  centry **p = cslot(m, e->key);
  OCRPC_ASSERT(*p == e && m->ccount > 0);
  *p = e->hnext;
  clist_unlink(m, e);
  m->ccount--;
  free(e->data);
  free(e);
}

static void *mem_cache_get(jobs_store *s, const char *key, jobs_cache_cb cb, void *arg) {
  mem_store *m = (mem_store *)s;
  centry *e = m->ctable ? *cslot(m, key) : NULL;
  if (e && e->expires_ms <= mono_ms()) {
    cremove(m, e);
    e = NULL;
  }
  if (!e) {
    cb(arg, ERR_NOT_FOUND, NULL, 0);
    return NULL;
  }
  clist_unlink(m, e);
  clist_push(m, e);
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
  if (!m->ctable) {
    /* Sized once for the bound (about 1.3 buckets per entry): the table
     * never grows. */
    m->cbuckets = m->cmax + m->cmax / 3 + 1;
    m->ctable = ocrpc_calloc(m->cbuckets, sizeof *m->ctable);
  }
  uint8_t *copy = ocrpc_memdup(data, len);
  centry *e = *cslot(m, key);
  if (e) {
    free(e->data);
    clist_unlink(m, e);
  } else {
    size_t klen = strlen(key);
    e = ocrpc_malloc(sizeof *e + klen + 1);
    memcpy(e->key, key, klen + 1);
    /* Full: expired entries at the cold end go first, then the least
     * recently used one. */
    uint64_t now = mono_ms();
    while (m->coldest && m->coldest->expires_ms <= now)
      cremove(m, m->coldest);
    if (m->ccount >= m->cmax)
      cremove(m, m->coldest);
    centry **p = cslot(m, key);
    e->hnext = *p;
    *p = e;
    m->ccount++;
  }
  e->data = copy;
  e->len = len;
  e->expires_ms = mono_ms() + ttl_ms;
  clist_push(m, e);
}

void jobs_memory_set_limits(jobs_store *s, size_t max_batches, size_t max_bytes) {
  mem_store *m = (mem_store *)s;
  m->max_batches = max_batches;
  m->max_bytes = max_bytes;
}

void jobs_memory_usage(const jobs_store *s, size_t *batches, size_t *bytes,
                       uint64_t *evicted) {
  const mem_store *m = (const mem_store *)s;
  *batches = m->count;
  *bytes = m->bytes;
  *evicted = m->evicted;
}

size_t jobs_memory_cache_count(const jobs_store *s) {
  return ((const mem_store *)s)->ccount;
}

static const jobs_ops mem_ops = {mem_create,    mem_put_result,   mem_finish,
                                 mem_get,       mem_get_cancel,   mem_free,
                                 mem_cache_get, mem_cache_cancel, mem_cache_put};

int jobs_memory_new(uint64_t ttl_ms, jobs_store **out) {
  return jobs_memory_new_bounded(ttl_ms, JOBS_MEMORY_CACHE_MAX, out);
}

int jobs_memory_new_bounded(uint64_t ttl_ms, size_t cache_max, jobs_store **out) {
  mem_store *m = ocrpc_calloc(1, sizeof *m);
  m->cmax = cache_max;
  m->nbuckets = 64;
  m->table = ocrpc_calloc(m->nbuckets, sizeof *m->table);
  m->base.ops = &mem_ops;
  m->ttl_ms = ttl_ms;
  *out = &m->base;
  return 0;
}
