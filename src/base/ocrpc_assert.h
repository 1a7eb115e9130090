/* SPDX-License-Identifier: MIT */
/* OCRPC_ASSERT(cond): an invariant of the code, checked where state changes
 * and at teardown (as h2o and libuv do). A broken invariant is a bug, never
 * an input error: the process logs the invariant's text, function, file and
 * line, then aborts (a core dump, and the ASan report in that tree). Active
 * when the build defines OCRPC_ASSERTIONS (CMake option of that name: on in
 * the Debug/ASan and fuzz trees, off by default in the release tree), and
 * otherwise compiled out: the condition is type-checked, never evaluated. */
#ifndef OCRPC_BASE_OCRPC_ASSERT_H
#define OCRPC_BASE_OCRPC_ASSERT_H

/* Logs "assertion failed: <expr> in <func> (<file>:<line>)" and aborts.
 * Any thread. */
__attribute__((noreturn, cold)) void ocrpc__assert_fail(const char *expr, const char *file,
                                                        int line, const char *func);

#ifdef OCRPC_ASSERTIONS
#define OCRPC_ASSERT(cond)                                                                 \
  (__builtin_expect(!!(cond), 1)                                                           \
       ? (void)0                                                                           \
       : ocrpc__assert_fail(#cond, __FILE__, __LINE__, __func__))
#else
#define OCRPC_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif
