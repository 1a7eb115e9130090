/* SPDX-License-Identifier: MIT */
/* The in-process store's result cache: a put is read back, a miss is
 * ERR_NOT_FOUND, answers come at once (no handle), a value is replaced,
 * an entry past its TTL is gone, and a full cache evicts the least
 * recently used entry. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "jobs/jobs.h"

typedef struct got {
  int calls, err;
  char value[64];
} got;

static void on_get(void *arg, int err, const uint8_t *data, size_t len) {
  got *g = arg;
  g->calls++;
  g->err = err;
  g->value[0] = 0;
  if (err == 0) {
    cr_assert_lt(len, sizeof g->value);
    memcpy(g->value, data, len);
    g->value[len] = 0;
  }
}

/* Reads key; returns the error, value in g. */
static int get(jobs_store *s, const char *key, got *g) {
  memset(g, 0, sizeof *g);
  void *h = jobs_cache_get(s, key, on_get, g);
  cr_assert_null(h, "the in-process store answers at once");
  cr_assert_eq(g->calls, 1);
  return g->err;
}

static void put(jobs_store *s, const char *key, const char *v, uint64_t ttl_ms) {
  jobs_cache_put(s, key, (const uint8_t *)v, strlen(v), ttl_ms);
}

Test(jobs_cache, put_then_get_and_miss) {
  jobs_store *s;
  cr_assert_eq(jobs_memory_new(60000, &s), 0);
  got g;
  cr_assert_eq(get(s, "aa", &g), ERR_NOT_FOUND, "empty cache");
  put(s, "aa", "first", 60000);
  cr_assert_eq(get(s, "aa", &g), 0);
  cr_assert_str_eq(g.value, "first");
  cr_assert_eq(get(s, "bb", &g), ERR_NOT_FOUND);
  put(s, "aa", "second", 60000);
  cr_assert_eq(get(s, "aa", &g), 0);
  cr_assert_str_eq(g.value, "second", "a put replaces the value");
  cr_assert_eq(jobs_memory_cache_count(s), 1);
  jobs_cache_cancel(s, NULL); /* a no-op, as for jobs_get_cancel */
  jobs_free(s);
}

Test(jobs_cache, an_entry_past_its_ttl_is_a_miss) {
  jobs_store *s;
  cr_assert_eq(jobs_memory_new(60000, &s), 0);
  got g;
  /* A TTL of 0 ms has passed by the time of any read: expiry without a
   * clock to wait for. */
  put(s, "gone", "x", 0);
  put(s, "kept", "y", 3600 * 1000);
  cr_assert_eq(get(s, "gone", &g), ERR_NOT_FOUND);
  cr_assert_eq(get(s, "kept", &g), 0);
  cr_assert_eq(jobs_memory_cache_count(s), 1, "the expired entry was dropped");
  jobs_free(s);
}

Test(jobs_cache, full_cache_evicts_the_least_recently_used) {
  jobs_store *s;
  cr_assert_eq(jobs_memory_new_bounded(60000, 3, &s), 0);
  got g;
  put(s, "k1", "1", 60000);
  put(s, "k2", "2", 60000);
  put(s, "k3", "3", 60000);
  cr_assert_eq(get(s, "k1", &g), 0); /* k1 is now the most recently used */
  put(s, "k4", "4", 60000);          /* evicts k2 */
  cr_assert_eq(jobs_memory_cache_count(s), 3);
  cr_assert_eq(get(s, "k2", &g), ERR_NOT_FOUND);
  cr_assert_eq(get(s, "k1", &g), 0);
  cr_assert_eq(get(s, "k3", &g), 0);
  cr_assert_eq(get(s, "k4", &g), 0);
  /* Use order now k1, k3, k4: k5 takes k1's place. */
  put(s, "k5", "5", 0);
  cr_assert_eq(get(s, "k3", &g), 0);
  cr_assert_eq(get(s, "k4", &g), 0);
  cr_assert_eq(jobs_memory_cache_count(s), 3);
  /* k5 has expired and is the coldest: it makes room, k3 stays. */
  put(s, "k6", "6", 60000);
  cr_assert_eq(jobs_memory_cache_count(s), 3);
  cr_assert_eq(get(s, "k3", &g), 0);
  cr_assert_eq(get(s, "k4", &g), 0);
  cr_assert_eq(get(s, "k6", &g), 0);
  cr_assert_eq(get(s, "k1", &g), ERR_NOT_FOUND);
  jobs_free(s); /* frees every entry (LeakSanitizer) */
}

Test(jobs_cache, default_bound_is_ten_thousand) {
  jobs_store *s;
  cr_assert_eq(jobs_memory_new(60000, &s), 0);
  char key[80];
  for (int i = 0; i < JOBS_MEMORY_CACHE_MAX + 50; i++) {
    snprintf(key, sizeof key, "%064d", i);
    put(s, key, "v", 60000);
  }
  cr_assert_eq(jobs_memory_cache_count(s), JOBS_MEMORY_CACHE_MAX);
  got g;
  snprintf(key, sizeof key, "%064d", 0);
  cr_assert_eq(get(s, key, &g), ERR_NOT_FOUND, "the oldest went first");
  jobs_free(s);
}
