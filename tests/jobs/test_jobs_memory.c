/* SPDX-License-Identifier: MIT */
/* The in-process job store: create, results, finish, reads, NOT_FOUND and
 * expiry. Expiry needs no waiting: a TTL of 0 makes an entry expire at the
 * first touch after its write (expires_ms <= now). Runs on the test's
 * thread, which stands in for the loop thread. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "jobs/jobs.h"

typedef struct seen {
  int calls;
  int err;
  jobs_batch b;
  char text[4][64];
  char details[4][64];
  int32_t index[4];
  int ok[4];
} seen;

static void on_get(void *arg, int err, const jobs_batch *b) {
  seen *s = arg;
  s->calls++;
  s->err = err;
  if (!b)
    return;
  s->b = *b;
  s->b.results = NULL;
  for (size_t i = 0; i < b->nresults && i < 4; i++) {
    const jobs_result *r = &b->results[i];
    s->index[i] = r->index;
    s->ok[i] = r->ok;
    snprintf(s->text[i], sizeof s->text[i], "%s", r->text ? r->text : "");
    snprintf(s->details[i], sizeof s->details[i], "%s",
             r->error_details ? r->error_details : "");
  }
}

static seen get(jobs_store *st, const char *id) {
  seen s = {0};
  void *h = jobs_get(st, id, on_get, &s);
  cr_assert_null(h, "the in-process store answers at once");
  cr_assert_eq(s.calls, 1);
  return s;
}

Test(jobs_memory, create_put_finish_get) {
  jobs_store *st = NULL;
  cr_assert_eq(jobs_memory_new(60000, &st), 0);
  cr_assert_eq(jobs_create(st, "b1", 3), 0);
  seen s = get(st, "b1");
  cr_assert_eq(s.err, 0);
  cr_assert_eq(s.b.state, JOBS_IN_PROGRESS);
  cr_assert_eq(s.b.total, 3);
  cr_assert_eq(s.b.processed, 0);
  cr_assert_eq(s.b.nresults, 0);
  cr_assert_gt(s.b.created_ms, 0);

  jobs_result ok = {.index = 2, .ok = 1, .text = "hello", .confidence = 0.9f};
  jobs_result bad = {.index = 0,
                     .ok = 0,
                     .error_code = "OCR_ERROR",
                     .error_message = "file not found",
                     .error_details = "NOT_FOUND"};
  cr_assert_eq(jobs_put_result(st, "b1", &ok, 1, 0), 0);
  cr_assert_eq(jobs_put_result(st, "b1", &bad, 2, 1), 0);
  cr_assert_eq(jobs_finish(st, "b1", JOBS_SUCCESS, 2, 1), 0);
  s = get(st, "b1");
  cr_assert_eq(s.err, 0);
  cr_assert_eq(s.b.state, JOBS_SUCCESS);
  cr_assert_eq(s.b.processed, 2);
  cr_assert_eq(s.b.failed, 1);
  cr_assert_eq(s.b.nresults, 2);
  cr_assert_eq(s.index[0], 2);
  cr_assert(s.ok[0]);
  cr_assert_str_eq(s.text[0], "hello");
  cr_assert_eq(s.index[1], 0);
  cr_assert_not(s.ok[1]);
  cr_assert_str_eq(s.details[1], "NOT_FOUND");
  cr_assert_geq(s.b.updated_ms, s.b.created_ms);
  jobs_free(st);
}

Test(jobs_memory, unknown_is_not_found) {
  jobs_store *st = NULL;
  cr_assert_eq(jobs_memory_new(60000, &st), 0);
  seen s = get(st, "nope");
  cr_assert_eq(s.err, ERR_NOT_FOUND);
  jobs_result r = {.index = 0, .ok = 1, .text = "x"};
  cr_assert_eq(jobs_put_result(st, "nope", &r, 1, 0), ERR_NOT_FOUND);
  cr_assert_eq(jobs_finish(st, "nope", JOBS_SUCCESS, 1, 0), ERR_NOT_FOUND);
  jobs_get_cancel(st, NULL); /* a NULL handle is a no-op */
  jobs_free(st);
  jobs_free(NULL);
}

Test(jobs_memory, reused_id_starts_afresh) {
  jobs_store *st = NULL;
  cr_assert_eq(jobs_memory_new(60000, &st), 0);
  jobs_result r = {.index = 0, .ok = 1, .text = "old"};
  cr_assert_eq(jobs_create(st, "b", 1), 0);
  cr_assert_eq(jobs_put_result(st, "b", &r, 1, 0), 0);
  cr_assert_eq(jobs_finish(st, "b", JOBS_SUCCESS, 1, 0), 0);
  cr_assert_eq(jobs_create(st, "b", 7), 0);
  seen s = get(st, "b");
  cr_assert_eq(s.b.state, JOBS_IN_PROGRESS);
  cr_assert_eq(s.b.total, 7);
  cr_assert_eq(s.b.nresults, 0);
  jobs_free(st);
}

Test(jobs_memory, ttl_zero_expires_at_next_touch) {
  jobs_store *st = NULL;
  cr_assert_eq(jobs_memory_new(0, &st), 0);
  cr_assert_eq(jobs_create(st, "gone", 2), 0);
  seen s = get(st, "gone");
  cr_assert_eq(s.err, ERR_NOT_FOUND);
  jobs_result r = {.index = 0, .ok = 1, .text = "x"};
  cr_assert_eq(jobs_put_result(st, "gone", &r, 1, 0), ERR_NOT_FOUND);
  /* Many expired entries are dropped as the list is walked; the table
   * stays usable (grows, rehashes) meanwhile. */
  char id[32];
  for (int i = 0; i < 200; i++) {
    snprintf(id, sizeof id, "e%d", i);
    cr_assert_eq(jobs_create(st, id, 1), 0);
  }
  s = get(st, "e199");
  cr_assert_eq(s.err, ERR_NOT_FOUND);
  jobs_free(st);
}

Test(jobs_memory, long_ttl_keeps_many_entries) {
  jobs_store *st = NULL;
  cr_assert_eq(jobs_memory_new(3600 * 1000, &st), 0);
  char id[32];
  for (int i = 0; i < 300; i++) {
    snprintf(id, sizeof id, "k%d", i);
    cr_assert_eq(jobs_create(st, id, i), 0);
  }
  for (int i = 0; i < 300; i++) {
    snprintf(id, sizeof id, "k%d", i);
    seen s = get(st, id);
    cr_assert_eq(s.err, 0, "%s", id);
    cr_assert_eq(s.b.total, i);
  }
  jobs_free(st);
}

/* Past max_batches, the least recently updated batch goes first: a batch
 * updated since it was created outlives younger ones left alone. */
Test(jobs_memory, max_batches_evicts_least_recently_updated) {
  jobs_store *st = NULL;
  cr_assert_eq(jobs_memory_new(3600 * 1000, &st), 0);
  jobs_memory_set_limits(st, 3, 0);
  cr_assert_eq(jobs_create(st, "a", 1), 0);
  cr_assert_eq(jobs_create(st, "b", 1), 0);
  cr_assert_eq(jobs_create(st, "c", 1), 0);
  jobs_result r = {.index = 0, .ok = 1, .text = "x"};
  cr_assert_eq(jobs_put_result(st, "a", &r, 1, 0), 0); /* a is now the newest */
  cr_assert_eq(jobs_create(st, "d", 1), 0);
  cr_assert_eq(get(st, "b").err, ERR_NOT_FOUND, "b was the oldest update");
  cr_assert_eq(get(st, "a").err, 0);
  cr_assert_eq(get(st, "c").err, 0);
  cr_assert_eq(get(st, "d").err, 0);
  size_t n, bytes;
  uint64_t evicted;
  jobs_memory_usage(st, &n, &bytes, &evicted);
  cr_assert_eq(n, 3);
  cr_assert_eq(evicted, 1);
  jobs_free(st);
}

/* The byte bound counts results' strings; the batch being written is
 * never the one evicted, even when it alone passes the bound. */
Test(jobs_memory, max_bytes_evicts_oldest_first_and_keeps_the_writer) {
  jobs_store *st = NULL;
  cr_assert_eq(jobs_memory_new(3600 * 1000, &st), 0);
  jobs_memory_set_limits(st, 0, 64 * 1024);
  static char text[10000];
  memset(text, 't', sizeof text - 1);
  jobs_result r = {.index = 0, .ok = 1, .text = text};
  char id[16];
  for (int i = 0; i < 20; i++) {
    snprintf(id, sizeof id, "b%d", i);
    cr_assert_eq(jobs_create(st, id, 1), 0);
    cr_assert_eq(jobs_put_result(st, id, &r, 1, 0), 0);
  }
  size_t n, bytes;
  uint64_t evicted;
  jobs_memory_usage(st, &n, &bytes, &evicted);
  cr_assert_leq(bytes, 64 * 1024);
  cr_assert_eq(n + evicted, 20);
  cr_assert_gt(evicted, 0);
  cr_assert_eq(get(st, "b0").err, ERR_NOT_FOUND);
  cr_assert_eq(get(st, "b19").err, 0);
  /* One batch over the bound by itself: kept whole, the others go. */
  cr_assert_eq(jobs_create(st, "big", 10), 0);
  for (int i = 0; i < 10; i++)
    cr_assert_eq(jobs_put_result(st, "big", &r, i + 1, 0), 0);
  seen s = get(st, "big");
  cr_assert_eq(s.err, 0);
  cr_assert_eq(s.b.nresults, 10);
  jobs_memory_usage(st, &n, &bytes, &evicted);
  cr_assert_eq(n, 1);
  jobs_free(st);
}

Test(jobs_state, names_round_trip) {
  for (int st = JOBS_PENDING; st <= JOBS_CANCELLED; st++)
    cr_assert_eq(jobs_state_parse(jobs_state_name((jobs_state)st)), st);
  cr_assert_str_eq(jobs_state_name(JOBS_CANCELLED), "CANCELLED");
  cr_assert_eq(jobs_state_parse("nope"), -1);
}
