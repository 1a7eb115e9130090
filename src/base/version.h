/* SPDX-License-Identifier: MIT */
/* The server's version, reported by CheckHealth and --version. */
#ifndef OCRPC_BASE_VERSION_H
#define OCRPC_BASE_VERSION_H
#define OCRPC_VERSION "0.1.0"
#endif
