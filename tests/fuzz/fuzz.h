/* fuzz.h — what the libFuzzer targets in tests/fuzz share: the entry
 * point's declaration and a NUL-terminated copy of the input.
 *
 * Each fuzz_NAME.c is one target built with clang -fsanitize=fuzzer,address,
 * undefined against libcommon (make fuzz). A target calls only functions
 * that report bad input (never die()), so any crash, sanitizer report, leak
 * or failed check (abort) is a finding. */
#ifndef SHIPSHAPE_FUZZ_H
#define SHIPSHAPE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string (cut at its first NUL, as a C caller sees it);
 * the caller frees it. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The input as a file, for parsers that read a path: an in-memory file
 * named /proc/self/fd/N in path (PATH_SIZE bytes). Returns its descriptor,
 * to close after use. */
#define FUZZ_PATH_SIZE 64
static inline int fuzz_file(const uint8_t *data, size_t size, char *path)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	snprintf(path, FUZZ_PATH_SIZE, "/proc/self/fd/%d", fd);
	return fd;
}

/* A check that must hold: a failed one is a finding, as a crash is. */
#define FUZZ_CHECK(cond)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                             \
		}                                                                                \
	} while (0)

#endif
