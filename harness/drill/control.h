/* The control socket: a second terminal talks to the running drill through a
 * unix stream socket STATE/control.sock (mode 0600). One request line per
 * connection ("status", "hint", "giveup"), one JSON reply, then close. */
#ifndef CHAOSLAB_CONTROL_H
#define CHAOSLAB_CONTROL_H

#include <stddef.h>

#include "core/error.h"

/* Bind and listen (non-blocking). A stale socket file from a dead run is
 * replaced. Returns the listening fd or -1. */
int control_listen(const char *state_dir, struct cl_error *err);

/* Remove the socket file and close fd. */
void control_close(const char *state_dir, int fd);

/* Accept one pending client (non-blocking), read its request line into req
 * (at most 1 s wait). Returns the client fd, or -1 when none is pending. */
int control_accept(int listen_fd, char *req, size_t size);

/* Write the reply and close the client. */
void control_reply(int client_fd, const char *reply);

/* Client side: send req, read the reply (malloc'd) into *reply. -1 with
 * "no drill is running" when nothing listens. */
int control_request(const char *state_dir, const char *req, char **reply, struct cl_error *err);

#endif
