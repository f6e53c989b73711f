/* The bytes of benchmark file number i (0 = /p/dev/hello, i >= 1 = K%05d):
 * exactly BENCH_VALUE_SIZE printable bytes, no newline, no trailing space,
 * so infisicalfs stores and returns them unchanged. Shared by bench.c (which
 * writes them into tmpfs and infisicalfs) and cfs.c (which serves them). */
#ifndef BENCH_VALUE_H
#define BENCH_VALUE_H
#include <stdio.h>
#include <string.h>

#define BENCH_VALUE_SIZE 32

static inline void bench_value(unsigned i, char out[BENCH_VALUE_SIZE]) {
    char head[BENCH_VALUE_SIZE + 1];
    int n = snprintf(head, sizeof head, "secret-value-%05u-", i);
    memset(out, 'x', BENCH_VALUE_SIZE);
    memcpy(out, head, (size_t)n < BENCH_VALUE_SIZE ? (size_t)n : BENCH_VALUE_SIZE);
}
#endif
