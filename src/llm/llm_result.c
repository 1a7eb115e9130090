/* SPDX-License-Identifier: MIT */
/* The analysis result: owned strings in growable key/value arrays, so an
 * engine can add entities and metadata one at a time. Any thread (one
 * result belongs to one thread at a time). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/ocrpc_alloc.h"
#include "llm.h"

void llm_result_init(llm_result *r) { memset(r, 0, sizeof *r); }

static void kv_free(llm_kv *kv, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(kv[i].key);
    free(kv[i].value);
  }
  free(kv);
}

void llm_result_clear(llm_result *r) {
  free(r->analysis);
  kv_free(r->entities, r->nentities);
  kv_free(r->meta, r->nmeta);
  llm_result_init(r);
}

static int kv_add(llm_kv **arr, size_t *n, size_t *cap, const char *key,
                  const char *value) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    *arr = ocrpc_realloc(*arr, nc * sizeof **arr);
    *cap = nc;
  }
  (*arr)[*n].key = ocrpc_strdup(key);
  (*arr)[*n].value = ocrpc_strdup(value);
  (*n)++;
  return 0;
}

int llm_result_entity(llm_result *r, const char *key, const char *value) {
  return kv_add(&r->entities, &r->nentities, &r->_cap, key, value);
}

int llm_result_meta(llm_result *r, const char *key, const char *value) {
  return kv_add(&r->meta, &r->nmeta, &r->_metacap, key, value);
}

const char *llm_result_get(const llm_result *r, const char *key) {
  for (size_t i = 0; i < r->nentities; i++)
    if (strcmp(r->entities[i].key, key) == 0)
      return r->entities[i].value;
  return NULL;
}
