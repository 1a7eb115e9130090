/* SPDX-License-Identifier: MIT */
/* The descriptors reflection serves, generated at build time from protos/
 * by scripts/gen_reflection.py. Read-only data, any thread. */
#ifndef OCRPC_RPC_REFLECTION_DATA_H
#define OCRPC_RPC_REFLECTION_DATA_H

#include <pb.h>
#include <stddef.h>

typedef struct rpc_refl_file {
  const char *name;              /* as imported: "common.proto" */
  const pb_bytes_array_t *proto; /* serialized FileDescriptorProto */
  const char *const *deps;       /* imports, NULL-terminated */
  const char *const *symbols;    /* fully-qualified names, NULL-terminated */
} rpc_refl_file;

extern const rpc_refl_file rpc__refl_files[];
extern const size_t rpc__refl_nfiles;

#endif
