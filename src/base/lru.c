/* SPDX-License-Identifier: MIT */
/* The keyed use-order table of base/lru.h: FNV-1a over the key, chained
 * buckets, a doubly-linked list from oldest to newest. */
#include "lru.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static size_t hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return (size_t)h;
}

static lru_node **slot(const lru_table *t, const char *key) {
  lru_node **p = &t->buckets[hash(key) % t->nbuckets];
  while (*p && strcmp((*p)->key, key) != 0)
    p = &(*p)->hnext;
  return p;
}

static void unlink_order(lru_table *t, lru_node *n) {
  if (n->older)
    n->older->newer = n->newer;
  else
    t->oldest = n->newer;
  if (n->newer)
    n->newer->older = n->older;
  else
    t->newest = n->older;
  n->older = n->newer = NULL;
}

static void push_newest(lru_table *t, lru_node *n) {
  n->older = t->newest;
  n->newer = NULL;
  if (t->newest)
    t->newest->newer = n;
  else
    t->oldest = n;
  t->newest = n;
}

int lru_init(lru_table *t, size_t nbuckets) {
  memset(t, 0, sizeof *t);
  t->buckets = calloc(nbuckets, sizeof *t->buckets);
  if (!t->buckets)
    return ERR_NOMEM;
  t->nbuckets = nbuckets;
  return 0;
}

void lru_free(lru_table *t) {
  free(t->buckets);
  memset(t, 0, sizeof *t);
}

lru_node *lru_find(const lru_table *t, const char *key) {
  return t->buckets ? *slot(t, key) : NULL;
}

void lru_insert(lru_table *t, lru_node *n) {
  lru_node **p = slot(t, n->key);
  n->hnext = *p;
  *p = n;
  t->count++;
  push_newest(t, n);
}

void lru_remove(lru_table *t, lru_node *n) {
  lru_node **p = slot(t, n->key);
  *p = n->hnext;
  t->count--;
  unlink_order(t, n);
}

void lru_touch(lru_table *t, lru_node *n) {
  unlink_order(t, n);
  push_newest(t, n);
}

int lru_grow(lru_table *t) {
  size_t n = t->nbuckets * 2;
  lru_node **b = calloc(n, sizeof *b);
  if (!b)
    return ERR_NOMEM;
  for (size_t i = 0; i < t->nbuckets; i++) {
    lru_node *e = t->buckets[i];
    while (e) {
      lru_node *next = e->hnext;
      size_t k = hash(e->key) % n;
      e->hnext = b[k];
      b[k] = e;
      e = next;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
  return 0;
}
