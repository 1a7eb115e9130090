/* SPDX-License-Identifier: MIT */
/* The keyed use-order table (base/lru.h): lookups, order on insert and
 * touch, removal from either end and the middle, and growth keeping every
 * object findable. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/lru.h"

typedef struct obj {
  lru_node n;
  char key[16];
} obj;

static void order_is(const lru_table *t, const char *want) {
  char got[64] = "";
  for (const lru_node *n = t->oldest; n; n = n->newer) {
    strcat(got, n->key);
    cr_assert(n->newer ? n->newer->older == n : t->newest == n, "links broken at %s",
              n->key);
  }
  cr_assert_str_eq(got, want);
}

Test(lru, insert_find_touch_remove) {
  lru_table t;
  cr_assert_eq(lru_init(&t, 2), 0);
  obj o[5];
  for (int i = 0; i < 5; i++) {
    snprintf(o[i].key, sizeof o[i].key, "%c", 'a' + i);
    o[i].n.key = o[i].key;
    lru_insert(&t, &o[i].n);
  }
  cr_assert_eq(t.count, 5);
  order_is(&t, "abcde");
  for (int i = 0; i < 5; i++)
    cr_assert_eq(lru_find(&t, o[i].key), &o[i].n);
  cr_assert_null(lru_find(&t, "z"));
  lru_touch(&t, &o[0].n);
  order_is(&t, "bcdea");
  lru_touch(&t, &o[0].n); /* already the newest */
  order_is(&t, "bcdea");
  lru_remove(&t, &o[2].n); /* middle */
  lru_remove(&t, &o[1].n); /* oldest */
  lru_remove(&t, &o[0].n); /* newest */
  order_is(&t, "de");
  cr_assert_eq(t.count, 2);
  cr_assert_null(lru_find(&t, "c"));
  cr_assert_eq(lru_find(&t, "e"), &o[4].n);
  lru_remove(&t, &o[3].n);
  lru_remove(&t, &o[4].n);
  cr_assert_null(t.oldest);
  cr_assert_null(t.newest);
  lru_free(&t);
}

Test(lru, grow_keeps_every_object_and_the_order) {
  lru_table t;
  cr_assert_eq(lru_init(&t, 1), 0);
  static obj o[300];
  for (int i = 0; i < 300; i++) {
    snprintf(o[i].key, sizeof o[i].key, "k%d", i);
    o[i].n.key = o[i].key;
    lru_insert(&t, &o[i].n);
    if (t.count >= t.nbuckets)
      cr_assert_eq(lru_grow(&t), 0);
  }
  cr_assert_geq(t.nbuckets, 300);
  for (int i = 0; i < 300; i++)
    cr_assert_eq(lru_find(&t, o[i].key), &o[i].n, "%s lost", o[i].key);
  cr_assert_eq(t.oldest, &o[0].n);
  cr_assert_eq(t.newest, &o[299].n);
  lru_free(&t);
}

Test(lru, an_empty_table_finds_nothing) {
  lru_table t = {0};
  cr_assert_null(lru_find(&t, "x"), "a table never initialised");
  lru_free(&t);
}
