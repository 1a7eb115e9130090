/* SPDX-License-Identifier: MIT */
/* Parsing of the options map shared by ExtractText and ExtractTextBatch
 * (rpc_options.h). A value that is present but not understood is passed on
 * as invalid rather than dropped, so the caller hears about it. */
#include "rpc_options.h"

#include <string.h>

#include "ocr/ocr.h"

static const char *option(const common_Metadata *m, int has, const char *key) {
  if (!has || !m)
    return NULL;
  for (pb_size_t i = 0; i < m->data_count; i++) {
    const common_Metadata_DataEntry *e = &m->data[i];
    if (e->key && e->value && strcmp(e->key, key) == 0)
      return e->value;
  }
  return NULL;
}

int rpc_option_psm(const common_Metadata *options, int has_options) {
  return ocr_psm_parse(option(options, has_options, "psm"));
}

int rpc_option_cache_off(const common_Metadata *options, int has_options) {
  const char *v = option(options, has_options, "cache");
  return v && strcmp(v, "off") == 0;
}

int rpc_option_pdf_text(const common_Metadata *options, int has_options) {
  const char *v = option(options, has_options, "pdf_text");
  return v && strcmp(v, "use") == 0;
}

int rpc_option_timings(const common_Metadata *options, int has_options) {
  const char *v = option(options, has_options, "timings");
  return v && strcmp(v, "1") == 0;
}
