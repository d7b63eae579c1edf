/* signals.h — SIGTERM, SIGINT and SIGHUP as bytes on a pipe, so that a
 * long-running tool's poll loop sees them with its other fds (the self-pipe
 * trick). SIGPIPE is ignored from the start (tool_start()): a closed reader
 * is a write error instead. */
#ifndef SHIPSHAPE_SIGNALS_H
#define SHIPSHAPE_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Installs the handlers and returns the pipe's read end (non-blocking), to
 * poll for POLLIN. restart: SA_RESTART for interrupted system calls. Returns
 * -1 with errno set, and installs nothing, when the pipe cannot be made. */
int signals_open(bool restart);
/* Reads the signal numbers waiting (each a byte) into sigs, at most max;
 * returns how many, 0 when none. */
size_t signals_take(unsigned char *sigs, size_t max);

#endif
