/* SPDX-License-Identifier: MIT */
/* One thread per posted split helper, joined by the test (see the
 * header). The post waits for the helper's claim so that tests of the
 * split see every posted helper read a part. */
#include "ocr_test_parts.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/err.h"
#include "ocr_internal.h"

#define MAX_HELPERS 16

static pthread_t helpers[MAX_HELPERS];
static int nhelpers;
static int helper_done[MAX_HELPERS]; /* set when its fn returned */
static pthread_mutex_t helpers_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct helper_arg {
  ocr_part_fn fn;
  void *arg;
  int index;
} helper_arg;

static void *helper_main(void *p) {
  helper_arg h = *(helper_arg *)p;

  free(p);
  h.fn(h.arg, 1);
  __atomic_store_n(&helper_done[h.index], 1, __ATOMIC_SEQ_CST);
  /* Each helper thread's Tesseract instances end with it. */
  return NULL;
}

int otp_post(void *ud, ocr_part_fn fn, void *arg) {
  helper_arg *h = malloc(sizeof(*h));
  int rc = ERR_UNAVAILABLE, want, index;
  struct timespec ts = {0, 1000000};

  (void)ud;
  if (h == NULL)
    return ERR_NOMEM;
  h->fn = fn;
  h->arg = arg;
  want = ocr__split_parts_claimed() + 1;
  pthread_mutex_lock(&helpers_mu);
  index = h->index = nhelpers;
  if (nhelpers < MAX_HELPERS) {
    helper_done[index] = 0;
    if (pthread_create(&helpers[nhelpers], NULL, helper_main, h) == 0) {
      nhelpers++;
      rc = 0;
    }
  }
  pthread_mutex_unlock(&helpers_mu);
  if (rc != 0) {
    free(h);
    return rc;
  }
  /* A helper that found every part taken ends without a claim. */
  for (int i = 0; i < 300000 && ocr__split_parts_claimed() < want &&
                  !__atomic_load_n(&helper_done[index], __ATOMIC_SEQ_CST);
       i++)
    nanosleep(&ts, NULL);
  return 0;
}

void otp_join(void) {
  pthread_mutex_lock(&helpers_mu);
  for (int i = 0; i < nhelpers; i++)
    pthread_join(helpers[i], NULL);
  nhelpers = 0;
  pthread_mutex_unlock(&helpers_mu);
}

int otp_posted(void) {
  pthread_mutex_lock(&helpers_mu);
  int n = nhelpers;
  pthread_mutex_unlock(&helpers_mu);
  return n;
}
