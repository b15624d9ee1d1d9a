/* File contents in journaled undo data: injectors that rewrite a file keep
 * its original bytes (to restore them) and a digest of what they wrote (to
 * prove the file is still theirs before restoring). */
#ifndef CHAOSLAB_UNDO_BYTES_H
#define CHAOSLAB_UNDO_BYTES_H

#include <stddef.h>

/* Lower-case hex of len bytes, malloc'd (NULL when out of memory). */
char *undo_bytes_encode(const void *data, size_t len);

/* Decode undo_bytes_encode() text into a malloc'd, NUL-terminated buffer;
 * *len gets the byte count. NULL on malformed input or out of memory. */
char *undo_bytes_decode(const char *hex, size_t *len);

/* SHA-256 of len bytes as 64 hex digits and a NUL. */
void undo_bytes_sha256(const void *data, size_t len, char out[65]);

#endif
