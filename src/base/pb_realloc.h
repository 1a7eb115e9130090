/* SPDX-License-Identifier: MIT */
/* nanopb's allocator: force-included into the nanopb library only
 * (CMakeLists.txt), so pb_decode.c grows repeated fields geometrically. */
#ifndef OCRPC_BASE_PB_REALLOC_H
#define OCRPC_BASE_PB_REALLOC_H

#include <stddef.h>

/* realloc that keeps a block whose usable size already fits `size`, and
 * otherwise grows it to at least 1.5 times its usable size. Aborts when out
 * of memory (ocrpc_alloc.h); NULL only for a NULL ptr and size 0. Any
 * thread. */
void *ocrpc_pb_realloc(void *ptr, size_t size);

#define pb_realloc(ptr, size) ocrpc_pb_realloc(ptr, size)

#endif
