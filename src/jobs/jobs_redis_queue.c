/* SPDX-License-Identifier: MIT */
/* The Redis job store's writes: each a MULTI/EXEC transaction formatted
 * once as RESP and queued (bounded: the oldest dropped past max_pending)
 * until its EXEC reply, so that a reconnect sends it again; acknowledged
 * writes kept per batch in journals, to write a batch again into a Redis
 * that lost it. Loop thread. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "jobs_redis_store.h"

void jobs__redis_add_cmd(builder *bd, int argc, const char *const *argv,
                         const size_t *argl) {
  char hdr[32];
  size_t start = bd->b.len;
  if (bd->nomem || bd->n == MAX_CMDS) {
    bd->nomem = 1;
    return;
  }
  int n = snprintf(hdr, sizeof hdr, "*%d\r\n", argc);
  if (buf_append(&bd->b, hdr, (size_t)n))
    goto nomem;
  for (int i = 0; i < argc; i++) {
    size_t l = argl ? argl[i] : strlen(argv[i]);
    n = snprintf(hdr, sizeof hdr, "$%zu\r\n", l);
    if (buf_append(&bd->b, hdr, (size_t)n) || buf_append(&bd->b, argv[i], l) ||
        buf_append(&bd->b, "\r\n", 2))
      goto nomem;
  }
  bd->lens[bd->n++] = bd->b.len - start;
  return;
nomem:
  bd->nomem = 1;
}

void jobs__redis_add1(builder *bd, const char *a) { jobs__redis_add_cmd(bd, 1, &a, NULL); }

journal *jobs__redis_journal_find(redis_store *s, const char *id) {
  for (journal *j = s->journals; j; j = j->next)
    if (strcmp(j->id, id) == 0)
      return j;
  return NULL;
}

void jobs__redis_journal_clear(redis_store *s, journal *j) {
  while (j->head) {
    wcmd *w = j->head;
    j->head = w->next;
    free(w);
  }
  j->tail = NULL;
  s->journal_bytes -= j->bytes;
  j->bytes = 0;
}

/* An acknowledged write: kept in its batch's journal, or freed. */
static void journal_take(redis_store *s, wcmd *w) {
  journal *j = w->j;
  if (!j) {
    free(w);
    return;
  }
  j->queued--;
  w->next = NULL;
  w->sent = 0;
  if (j->tail)
    j->tail->next = w;
  else
    j->head = w;
  j->tail = w;
  j->bytes += w->size;
  s->journal_bytes += w->size;
}

/* Forgets finished batches past the window, then the oldest finished ones
 * while over the byte bound. Running batches, and batches with writes
 * still queued, are always kept. */
void jobs__redis_journal_prune(redis_store *s) {
  int64_t now = clock_wall_ms();
  for (;;) {
    journal **victim = NULL;
    for (journal **p = &s->journals; *p; p = &(*p)->next) {
      journal *j = *p;
      if (!j->finished_ms || j->queued)
        continue;
      if (now - j->finished_ms > (int64_t)s->env.journal_window_ms) {
        victim = p;
        break;
      }
      if (s->journal_bytes > s->env.journal_max_bytes)
        victim = p; /* the last such one is the oldest */
    }
    if (!victim)
      return;
    journal *j = *victim;
    *victim = j->next;
    jobs__redis_journal_clear(s, j);
    free(j);
  }
}

/* Queues a copy of every acknowledged write of every batch in the
 * journals ahead of the writes not yet acknowledged (which are newer), so
 * that a Redis that lost them gets each batch's current state back. */
void jobs__redis_rewrite_journals(redis_store *s, const char *why) {
  wcmd *head = NULL, *tail = NULL;
  size_t n = 0, batches = 0;
  for (journal *j = s->journals; j; j = j->next) {
    batches += j->head != NULL;
    for (wcmd *w = j->head; w; w = w->next) {
      wcmd *c = malloc(sizeof *c + w->size);
      if (!c)
        break; /* out of memory: a partial rewrite beats none */
      memcpy(c, w, sizeof *c + w->size);
      c->next = NULL;
      c->j = NULL;
      c->sent = 0;
      if (tail)
        tail->next = c;
      else
        head = c;
      tail = c;
      n++;
    }
  }
  if (!n)
    return;
  tail->next = s->head;
  s->head = head;
  if (!s->tail)
    s->tail = tail;
  s->pending += n;
  s->stats.rewrites++;
  char detail[256];
  snprintf(detail, sizeof detail, "%s: writing %zu batches again (%zu writes)", why,
           batches, n);
  jobs__redis_report(s, JOBS_REDIS_REWRITE, detail);
}

static void on_write_reply(redisAsyncContext *ac, void *r, void *priv) {
  redis_store *s = priv;
  redisReply *reply = r;
  if (!reply || ac != s->ac)
    return; /* connection lost: the write stays queued and is sent again */
  jobs__redis_got_reply(s);
  if (s->url.sentinel && reply->type == REDIS_REPLY_ERROR &&
      (strncmp(reply->str, "READONLY", 8) == 0 ||
       strncmp(reply->str, "EXECABORT", 9) == 0)) {
    /* A master demoted under us: the write stays queued for the new one. */
    jobs__redis_drop_conn(s, ac, "the master became a replica");
    return;
  }
  if (s->acks_to_skip) {
    s->acks_to_skip--;
  } else if (s->head && s->head->sent) {
    wcmd *w = s->head;
    s->head = w->next;
    if (!s->head)
      s->tail = NULL;
    s->pending--;
    journal_take(s, w);
  }
  int failed = reply->type != REDIS_REPLY_ARRAY;
  for (size_t i = 0; !failed && i < reply->elements; i++)
    failed = reply->element[i]->type == REDIS_REPLY_ERROR;
  if (failed) {
    s->stats.failed++;
    if (!s->failed_reported) {
      s->failed_reported = 1;
      jobs__redis_report(s, JOBS_REDIS_WRITE_FAILED,
                         reply->type == REDIS_REPLY_ERROR ? reply->str
                                                          : "a command in EXEC failed");
    }
  }
}

void jobs__redis_send_write(redis_store *s, wcmd *w) {
  size_t off = 0;
  for (int i = 0; i < w->ncmds; i++) {
    redisAsyncFormattedCommand(s->ac, i == w->ncmds - 1 ? on_write_reply : NULL, s,
                               w->data + off, w->lens[i]);
    off += w->lens[i];
  }
  w->sent = 1;
  jobs__redis_expect_reply(s);
}

/* Queues the transaction in bd (MULTI already first, EXEC added here) and
 * sends it when connected. */
int jobs__redis_enqueue(redis_store *s, builder *bd, journal *j) {
  jobs__redis_add1(bd, "EXEC");
  if (bd->nomem) {
    buf_free(&bd->b);
    return ERR_NOMEM;
  }
  wcmd *w = malloc(sizeof *w + bd->b.len);
  if (!w) {
    buf_free(&bd->b);
    return ERR_NOMEM;
  }
  w->next = NULL;
  w->j = j;
  if (j)
    j->queued++;
  w->sent = 0;
  w->ncmds = bd->n;
  memcpy(w->lens, bd->lens, sizeof w->lens);
  w->size = bd->b.len;
  memcpy(w->data, bd->b.data, bd->b.len);
  buf_free(&bd->b);
  if (s->pending >= s->env.max_pending) {
    wcmd *old = s->head;
    s->head = old->next;
    if (!s->head)
      s->tail = NULL;
    s->pending--;
    if (old->sent)
      s->acks_to_skip++;
    if (old->j)
      old->j->queued--;
    free(old);
    s->stats.dropped++;
    if (!s->overflow_reported) {
      char detail[96];
      s->overflow_reported = 1;
      snprintf(detail, sizeof detail, "%zu writes buffered; dropping the oldest",
               s->env.max_pending);
      jobs__redis_report(s, JOBS_REDIS_OVERFLOW, detail);
    }
  }
  if (s->tail)
    s->tail->next = w;
  else
    s->head = w;
  s->tail = w;
  s->pending++;
  if (jobs__redis_ready(s))
    jobs__redis_send_write(s, w);
  return 0;
}

void jobs__redis_queue_free(redis_store *s) {
  while (s->head) {
    wcmd *w = s->head;
    s->head = w->next;
    free(w);
  }
  while (s->journals) {
    journal *j = s->journals;
    s->journals = j->next;
    jobs__redis_journal_clear(s, j);
    free(j);
  }
}
