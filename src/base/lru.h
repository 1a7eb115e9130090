/* SPDX-License-Identifier: MIT */
/* A string-keyed hash table threaded on a list in use order, intrusive
 * like base/list.h: an object embeds an lru_node as its first member and
 * points node.key at its own key. The in-process job store keeps its
 * batches (oldest update first, for expiry and eviction) and its result
 * cache (least recently used first) in one each. The table never frees
 * the objects; chaining, so any load works, but lookups slow down past
 * about one object per bucket (lru_grow). One owner thread. */
#ifndef OCRPC_BASE_LRU_H
#define OCRPC_BASE_LRU_H

#include <stddef.h>

typedef struct lru_node lru_node;
struct lru_node {
  lru_node *hnext;         /* hash chain */
  lru_node *older, *newer; /* use order */
  const char *key;         /* borrowed from the object, NUL-terminated */
};

typedef struct lru_table {
  lru_node **buckets;
  size_t nbuckets, count;
  lru_node *oldest, *newest;
} lru_table;

/* An empty table of nbuckets (> 0) buckets. 0 or ERR_NOMEM. */
int lru_init(lru_table *t, size_t nbuckets);

/* Frees the buckets (not the objects: remove them first). */
void lru_free(lru_table *t);

/* The object with this key, or NULL. Does not change the order. */
lru_node *lru_find(const lru_table *t, const char *key);

/* Adds n (n->key set, no object with that key in t) as the newest. */
void lru_insert(lru_table *t, lru_node *n);

/* Takes n, which is in t, out of the table and the order. */
void lru_remove(lru_table *t, lru_node *n);

/* Makes n, which is in t, the newest. */
void lru_touch(lru_table *t, lru_node *n);

/* Doubles the buckets. 0 or ERR_NOMEM (t unchanged). */
int lru_grow(lru_table *t);

#endif
