/* SPDX-License-Identifier: MIT */
/* The intrusive doubly-linked list the code keeps its live objects in
 * (connections, streams, calls, watchers, curl requests and sockets): an
 * object with `prev` and `next` members, a head pointer that is NULL when
 * the list is empty. Push and unlink are O(1); walking is a plain
 * `for (x = head; x; x = x->next)`. Like h2o's linklist.h, written once
 * instead of by hand at every list. Macros (type-generic): `head` must be
 * an lvalue without side effects. No locking: one owner thread. */
#ifndef OCRPC_BASE_LIST_H
#define OCRPC_BASE_LIST_H

/* Puts x first in the list `head`. */
#define DLIST_PUSH(head, x)                                                                \
  do {                                                                                     \
    (x)->prev = NULL;                                                                      \
    (x)->next = (head);                                                                    \
    if (head)                                                                              \
      (head)->prev = (x);                                                                  \
    (head) = (x);                                                                          \
  } while (0)

/* Takes x, which is on the list `head`, off it. x->next is left as it
 * was, so a walk that unlinks the object it stands on can go on. */
#define DLIST_UNLINK(head, x)                                                              \
  do {                                                                                     \
    if ((x)->prev)                                                                         \
      (x)->prev->next = (x)->next;                                                         \
    else                                                                                   \
      (head) = (x)->next;                                                                  \
    if ((x)->next)                                                                         \
      (x)->next->prev = (x)->prev;                                                         \
  } while (0)

#endif
