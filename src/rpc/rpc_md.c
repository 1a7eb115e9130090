/* SPDX-License-Identifier: MIT */
/* Request metadata: the custom headers of a call, kept for its handler,
 * with -bin values base64-decoded (padded or not, as clients differ). */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/err.h"
#include "base/text.h"
#include "rpc_internal.h"

ssize_t rpc__base64_decode(const char *in, size_t len, uint8_t *out) {
  return text_base64_decode(in, len, out);
}

/* Headers the transport consumes, not the handler's metadata. By length
 * first, with literal names (HDR_IS): this runs twice for every request
 * header, and a strlen per candidate name cost ~400 instructions a call. */
static int reserved(const hdr *h) {
  if (h->name_len == 0 || h->name[0] == ':')
    return 1;
  if (h->name_len >= 5 && memcmp(h->name, "grpc-", 5) == 0)
    return 1;
  switch (h->name_len) {
  case 2:
    return HDR_IS(h, "te");
  case 10:
    return HDR_IS(h, "user-agent");
  case 12:
    return HDR_IS(h, "content-type");
  case 14:
    return HDR_IS(h, "content-length");
  case 15:
    return HDR_IS(h, "accept-encoding");
  default:
    return 0;
  }
}

int rpc__md_collect(rpc_call *c, const hdr *hdrs, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    count += !reserved(&hdrs[i]);
  if (!count)
    return 0;
  c->md = calloc(count, sizeof *c->md);
  if (!c->md)
    return ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const hdr *h = &hdrs[i];
    if (reserved(h))
      continue;
    rpc_md *m = &c->md[c->nmd];
    int bin = h->name_len > 4 && memcmp(h->name + h->name_len - 4, "-bin", 4) == 0;
    m->name = strndup(h->name, h->name_len);
    m->value = malloc(h->value_len + 4);
    if (!m->name || !m->value) {
      free(m->name);
      free(m->value);
      return ERR_NOMEM;
    }
    c->nmd++;
    if (bin) {
      ssize_t d = rpc__base64_decode(h->value, h->value_len, m->value);
      if (d < 0)
        return ERR_PROTOCOL;
      m->value_len = (size_t)d;
    } else {
      memcpy(m->value, h->value, h->value_len);
      m->value_len = h->value_len;
    }
    m->value[m->value_len] = 0;
  }
  return 0;
}

void rpc__md_free(rpc_call *c) {
  for (size_t i = 0; i < c->nmd; i++) {
    free(c->md[i].name);
    free(c->md[i].value);
  }
  free(c->md);
  c->md = NULL;
  c->nmd = 0;
}

const rpc_md *rpc__call_metadata(const rpc_call *c, const char *name) {
  for (size_t i = 0; i < c->nmd; i++)
    if (strcmp(c->md[i].name, name) == 0)
      return &c->md[i];
  return NULL;
}
