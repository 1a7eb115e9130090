/* SPDX-License-Identifier: MIT */
/* nanopb's allocator (pb_realloc, set for the nanopb library in
 * CMakeLists.txt). nanopb grows a repeated pointer field by one element per
 * entry decoded; with plain realloc that is quadratic wherever realloc
 * copies (always under ASan), so 400,000 empty batch entries froze the
 * loop. Growing the block geometrically makes decoding linear. Out of
 * memory aborts (ocrpc_alloc.h): sizes come from a message already bounded
 * by --max-message-bytes and counted against the batch limit before
 * decoding. Any thread (the calling thread's decode only). */
#include "pb_realloc.h"

#include <malloc.h>

#include "ocrpc_alloc.h"

void *ocrpc_pb_realloc(void *ptr, size_t size) {
  if (!ptr)
    return ocrpc_malloc(size);
  size_t have = malloc_usable_size(ptr);
  if (size <= have)
    return ptr; /* room left from an earlier growth step */
  /* 1.5x: amortised linear, and a block at most half again the data. */
  size_t want = have + have / 2;
  return ocrpc_realloc(ptr, want > size ? want : size);
}
