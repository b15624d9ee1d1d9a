#include "drill/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int sock_addr(const char *dir, struct sockaddr_un *sa, struct cl_error *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if ((size_t)snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/control.sock", dir) >=
	    sizeof(sa->sun_path))
		return cl_error_set(err, CL_EXIT_USAGE, "state directory path '%s' is too long", dir);
	return 0;
}

int control_listen(const char *state_dir, struct cl_error *err)
{
	struct sockaddr_un sa;
	int fd;
	mode_t old;

	if (sock_addr(state_dir, &sa, err))
		return -1;
	/* The run lock is held, so any socket file here is a dead run's. */
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create control socket");
	old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		int e = errno;
		umask(old);
		close(fd);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to listen on '%s'", sa.sun_path);
	}
	umask(old);
	return fd;
}

void control_close(const char *state_dir, int fd)
{
	struct sockaddr_un sa;

	if (fd < 0)
		return;
	close(fd);
	if (sock_addr(state_dir, &sa, NULL) == 0)
		unlink(sa.sun_path);
}

int control_accept(int listen_fd, char *req, size_t size)
{
	int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	size_t off = 0;

	if (c < 0)
		return -1;
	req[0] = '\0';
	while (off + 1 < size) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		if (poll(&p, 1, 1000) <= 0)
			break;
		ssize_t n = read(c, req + off, size - 1 - off);
		if (n <= 0)
			break;
		off += (size_t)n;
		req[off] = '\0';
		if (memchr(req, '\n', off))
			break;
	}
	req[strcspn(req, "\r\n")] = '\0';
	return c;
}

void control_reply(int client_fd, const char *reply)
{
	size_t len = strlen(reply), off = 0;

	while (off < len) {
		ssize_t n = write(client_fd, reply + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(client_fd);
}

int control_request(const char *state_dir, const char *req, char **reply, struct cl_error *err)
{
	struct sockaddr_un sa;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd;

	*reply = NULL;
	if (sock_addr(state_dir, &sa, err))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return cl_error_set(err, CL_EXIT_USAGE, "no drill is running");
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to reach the drill at '%s'",
				      sa.sun_path);
	}
	if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) < 0) {
		int e = errno;
		close(fd);
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to talk to the drill");
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0) {
			free(buf);
			close(fd);
			return cl_error_set(err, CL_EXIT_USAGE, "the drill did not answer in 5 s");
		}
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap + 8192);
			if (!nb) {
				free(buf);
				close(fd);
				return cl_error_set(err, CL_EXIT_USAGE, "out of memory");
			}
			buf = nb;
			cap += 8192;
		}
		ssize_t n = read(fd, buf + len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf)
		return cl_error_set(err, CL_EXIT_USAGE, "the drill closed the connection");
	buf[len] = '\0';
	*reply = buf;
	return 0;
}
