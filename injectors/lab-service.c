/* lab-service: run a lab service (demo-api) for the drill; scenarios list it
 * under lab:.
 *
 * The service is chaoslab re-executed as a worker named after the service
 * (`ps` and `ss -ltnp` show "demo-api"), carrying the step's owner tag.
 * apply() returns once the port accepts connections, so the drill's first
 * check already sees a healthy service. A port somebody else holds is
 * refused up front, naming the holder: killing a stranger's listener, or
 * timing a drill against it, would both be wrong.
 *
 * Where it listens:
 *   netns: false  127.0.0.1:PORT in the host's namespace.
 *   netns: true   inside the lab network (lab/network.h): the worker joins
 *                 the namespace before exec and listens on all of the
 *                 namespace's addresses (0.0.0.0:PORT); the host reaches it
 *                 at the lab address, lab_addr:PORT, over the veth pair.
 * The lab network is found by its name ($CHAOSLAB_NETNS, else "chaoslab",
 * the same name the lab-network step used) and its lab address read back
 * from the kernel over netlink when the service starts: no copy of it is kept
 * that could go stale. The engine starts lab services after the lab network,
 * so it is up by then.
 *
 * Undo data: {"owner", "service", "port", "address" (where the host reaches
 * it: 127.0.0.1 or the lab address), "netns" (with netns: true), "workers"}.
 * The drill's check_env->service_addr() reads "address" and "port".
 *
 * Revert stops the service (every process carrying the tag, or matching a
 * journaled identity), then removes what only a running service means: its
 * pidfile and temporary files named after its pid (lab_files_tidy()). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/registry.h"
#include "lab/network.h"
#include "lab/service.h"
#include "sys/proc.h"
#include "sys/tmpfile.h"
#include "sys/worker.h"

static const struct param_spec lab_service_params[] = {
	{ "service", PARAM_ENUM, true, NULL, 0, 0, lab_service_names,
	  "which lab service to run" },
	{ "netns", PARAM_BOOL, false, "false", 0, 0, NULL,
	  "run inside the lab network namespace (set by the engine when lab: lists network)" },
	{ "port", PARAM_INT, false, NULL, 1, 65535, NULL, /* default: the service's own */
	  "TCP port it listens on: on 127.0.0.1, which must have it free, or with netns on "
	  "every address inside the lab network" },
	{ NULL },
};

#define LISTEN_TIMEOUT_MS 5000
#define LISTEN_POLL_MS 20
#define STOP_GRACE_MS 2000

static int lab_service_supported(const struct params *p, char *why, size_t size)
{
	return worker_supported(why, size);
}

/* The inode of a socket listening on TCP port, from /proc/net/tcp or tcp6;
 * 0 if none is found. */
static unsigned long listener_inode(const char *table, int port)
{
	char line[512];
	unsigned long inode = 0;
	FILE *f = fopen(table, "re");

	if (!f)
		return 0;
	while (!inode && fgets(line, sizeof(line), f)) {
		char local[64];
		unsigned int st, lport;
		unsigned long ino;
		char *colon;

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &ino) != 3)
			continue;
		colon = strrchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &lport) != 1)
			continue;
		if (st == 0x0A && (int)lport == port)
			inode = ino;
	}
	fclose(f);
	return inode;
}

/* The pid holding socket inode open, 0 if not found. */
static pid_t socket_holder(unsigned long inode)
{
	char want[64], path[300], link[64];
	struct dirent *de, *fe;
	pid_t found = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	while (!found && (de = readdir(d))) {
		DIR *fd_dir;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		fd_dir = opendir(path);
		if (!fd_dir)
			continue;
		while (!found && (fe = readdir(fd_dir))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%s/fd/%s", de->d_name, fe->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (!strcmp(link, want))
				found = (pid_t)atoi(de->d_name);
		}
		closedir(fd_dir);
	}
	closedir(d);
	return found;
}

/* 0 if 127.0.0.1:port can be bound now, else -1 with err naming the holder
 * when it can be found. */
static int port_free(const char *service, int port, struct cl_error *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, fd, saved;
	unsigned long inode;
	struct proc_stat st;
	pid_t holder = 0;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "lab-service: unable to create a socket");
	/* The service binds with SO_REUSEADDR too: TIME_WAIT leftovers are fine. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return 0;
	}
	saved = errno;
	close(fd);
	if (saved != EADDRINUSE)
		return cl_error_errno(err, CL_EXIT_USAGE, saved,
				      "lab-service: unable to bind 127.0.0.1:%d for %s", port, service);
	inode = listener_inode("/proc/net/tcp", port);
	if (!inode)
		inode = listener_inode("/proc/net/tcp6", port);
	if (inode)
		holder = socket_holder(inode);
	if (holder > 0 && !proc_stat_read(holder, &st))
		return cl_error_set(err, CL_EXIT_USAGE,
				    "lab-service: port %d on 127.0.0.1 is already in use by pid %d (%s); "
				    "stop it or give %s another port",
				    port, (int)holder, st.comm, service);
	return cl_error_set(err, CL_EXIT_USAGE,
			    "lab-service: port %d on 127.0.0.1 is already in use (see: ss -ltnp "
			    "'sport = :%d'); stop that program or give %s another port",
			    port, port, service);
}

/* True once addr:port accepts a TCP connection from here (the host). */
static bool port_accepts(const char *addr, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	bool ok;
	int fd;

	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return false;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Wait until the worker listens; an early exit is reported with its status
 * (and the worker reaped: it is our child and nobody else waits for it). */
static int wait_listening(const char *service, const char *addr, int port, pid_t pid, int pidfd,
			  struct cl_error *err)
{
	double deadline = mono_now() + LISTEN_TIMEOUT_MS / 1000.0;
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int status;

	for (;;) {
		if (port_accepts(addr, port))
			return 0;
		if (poll(&pfd, 1, LISTEN_POLL_MS) > 0 && (pfd.revents & POLLIN)) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				if (WIFEXITED(status))
					return cl_error_set(err, CL_EXIT_USAGE,
							    "%s exited with status %d before listening "
							    "on %s:%d",
							    service, WEXITSTATUS(status), addr, port);
				return cl_error_set(err, CL_EXIT_USAGE,
						    "%s was killed by signal %d before listening on "
						    "%s:%d",
						    service, WTERMSIG(status), addr, port);
			}
			return cl_error_set(err, CL_EXIT_USAGE, "%s exited before listening on %s:%d",
					    service, addr, port);
		}
		if (mono_now() >= deadline)
			return cl_error_set(err, CL_EXIT_USAGE,
					    "%s did not start listening on %s:%d within %d s", service,
					    addr, port, LISTEN_TIMEOUT_MS / 1000);
	}
}

/* The lab network the service runs in: its name and lab address. */
static int lab_network_find(struct lab_net_info *info, struct cl_error *err)
{
	const char *name = lab_net_default_name();
	int st;

	if (lab_net_name_check(name, err))
		return -1;
	st = lab_net_status(name, info, err);
	if (st < 0)
		return -1;
	if (st != LAB_NET_UP)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "netns: the lab network '%s' is %s; list `network` before the "
				    "services under lab: (or run 'chaoslab lab up')",
				    name, lab_net_state_name((enum lab_net_state)st));
	return 0;
}

static int lab_service_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *service = params_str(ctx->params, "service", "demo-api");
	const struct lab_service *svc = lab_service_find(service);
	int port = (int)params_int(ctx->params, "port", svc ? svc->default_port : 18080);
	bool in_lab = params_bool(ctx->params, "netns", false);
	const char *bind_addr = in_lab ? "0.0.0.0" : "127.0.0.1";
	const char *reach_addr = "127.0.0.1"; /* where the host connects to it */
	char owner[160], listen_word[32];
	const char *extra[] = { "--listen", listen_word, NULL };
	struct lab_net_info lab;
	struct proc_ident id;
	struct worker_spec spec;
	cJSON *args = NULL, *workers, *ident;
	int pidfd = -1, rc = -1;

	if (!lab_service_find(service))
		return cl_error_set(err, CL_EXIT_USAGE, "lab-service: no lab service '%s'", service);
	if (in_lab) {
		/* A fresh namespace of ours: the port is free there. */
		if (lab_network_find(&lab, err)) {
			cl_error_prefix(err, "lab-service %s", service);
			return -1;
		}
		reach_addr = lab.lab_addr;
	} else if (port_free(service, port, err)) {
		return -1;
	}

	worker_owner_tag(owner, sizeof(owner), ctx->run_id, ctx->step_id);
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "owner");
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "service");
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "port");
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "address");
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "netns");
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "workers");
	workers = cJSON_CreateArray();
	if (!workers || !cJSON_AddItemToObject(ctx->undo, "workers", workers) ||
	    !cJSON_AddStringToObject(ctx->undo, "owner", owner) ||
	    !cJSON_AddStringToObject(ctx->undo, "service", service) ||
	    !cJSON_AddNumberToObject(ctx->undo, "port", port) ||
	    !cJSON_AddStringToObject(ctx->undo, "address", reach_addr) ||
	    (in_lab && !cJSON_AddStringToObject(ctx->undo, "netns", lab.netns))) {
		if (workers && !cJSON_GetObjectItemCaseSensitive(ctx->undo, "workers"))
			cJSON_Delete(workers);
		return cl_error_set(err, CL_EXIT_USAGE, "lab-service: out of memory");
	}
	/* The tag reaches the journal before the process that carries it exists. */
	if (inject_ctx_save(ctx, err))
		return -1;

	args = cJSON_CreateObject();
	if (!args || !cJSON_AddNumberToObject(args, "port", port) ||
	    !cJSON_AddStringToObject(args, "address", bind_addr)) {
		cl_error_set(err, CL_EXIT_USAGE, "lab-service: out of memory");
		goto out;
	}
	snprintf(listen_word, sizeof(listen_word), "%s:%d", bind_addr, port);
	spec = (struct worker_spec){
		.kind = service,
		.name = service,
		.extra = extra,
		.args = args,
		.owner = owner,
		.netns = in_lab ? lab.netns : NULL,
	};
	if (worker_spawn(&spec, &id, &pidfd, err)) {
		cl_error_prefix(err, "lab-service");
		goto out;
	}
	ident = proc_ident_to_json(&id);
	if (!ident || !cJSON_AddItemToArray(workers, ident)) {
		cJSON_Delete(ident);
		cl_error_set(err, CL_EXIT_USAGE, "lab-service: out of memory");
		goto out;
	}
	if (inject_ctx_save(ctx, err))
		goto out;
	if (wait_listening(service, reach_addr, port, id.pid, pidfd, err))
		goto out;
	rc = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	cJSON_Delete(args);
	return rc;
}

/* True if name is NAME.tmp.PID with PID one of set's workers, or no live
 * process: a temporary file the service was writing when it was stopped
 * (it writes its config, pidfile and certificates that way: temp, then
 * rename), or one a write killed with its dead run left (a worker not yet
 * journaled, the harness). A live PID's file may be a write in progress. */
static bool worker_temp_file(const char *name, const struct proc_set *set)
{
	pid_t pid = tmpfile_writer(name);

	if (!pid)
		return false;
	for (size_t i = 0; i < set->nidents; i++)
		if (set->idents[i].pid == pid)
			return true;
	return tmpfile_writer_dead(pid);
}

/* Leave the lab directory as the service found it, less what only a
 * running service means: its pidfile, STATE/lab/SERVICE.pid, when it names
 * one of the step's workers (stopped by now, or from before a reboot) or
 * no live process of that name (one drill at a time per state directory:
 * any other pid there is a dead run's, or recycled), and the
 * temporary files of a write the stop (or a crash) cut short, in STATE/lab,
 * STATE/lab/dns and STATE/lab/tls (worker_temp_file()).
 * Configuration, certificates, zone and logs stay: the service makes them
 * when they are missing and reads them at every start (docs/SAFETY.md).
 * Called once the workers are stopped. Returns the files removed. */
static int lab_files_tidy(const char *state_dir, const char *service, const struct proc_set *set)
{
	static const char *const dirs[] = { "lab", "lab/dns", "lab/tls" };
	char path[1024], buf[32];
	struct proc_stat st;
	int removed = 0, fd;
	ssize_t n;

	if (!state_dir || !state_dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/lab/%s.pid", state_dir, service);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		pid_t pid = (pid_t)atoi(buf);
		bool ours = false, live;
		for (size_t i = 0; i < set->nidents; i++)
			ours = ours || set->idents[i].pid == pid;
		live = pid > 0 && !proc_stat_read(pid, &st) && st.state != 'Z' &&
		       !strcmp(st.comm, service);
		if ((ours || !live) && !unlink(path))
			removed++;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "%s/%s", state_dir, dirs[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if ((de->d_type != DT_REG && de->d_type != DT_UNKNOWN) ||
			    !worker_temp_file(de->d_name, set))
				continue;
			if (!unlinkat(dirfd(d), de->d_name, 0))
				removed++;
		}
		closedir(d);
	}
	return removed;
}

static int lab_service_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const cJSON *svc = ctx->undo ? cJSON_GetObjectItemCaseSensitive(ctx->undo, "service") : NULL;
	const char *service = cJSON_IsString(svc) ? svc->valuestring : "lab service";
	struct proc_set set;
	int killed = 0, rc;

	ctx->report[0] = '\0';
	if (proc_set_from_undo(&set, ctx->undo))
		return cl_error_set(err, CL_EXIT_REVERT, "lab-service: out of memory");
	/* A bare intent (the harness died before apply saved anything) still
	 * names the run and step, and so the tag. */
	if (!set.owner[0] && ctx->run_id && ctx->step_id)
		worker_owner_tag(set.owner, sizeof(set.owner), ctx->run_id, ctx->step_id);
	rc = worker_kill_owned(set.owner, set.idents, set.nidents, STOP_GRACE_MS, &killed, err);
	if (rc) {
		cl_error_prefix(err, "lab-service: unable to stop %s", service);
	} else {
		/* A service name from the journal names a path: only known ones. */
		int tidied = cJSON_IsString(svc) && lab_service_find(service) ?
				     lab_files_tidy(ctx->state_dir, service, &set) :
				     0;
		if (killed)
			snprintf(ctx->report, sizeof(ctx->report), "stopped %s (%d process%s)%s",
				 service, killed, killed == 1 ? "" : "es",
				 tidied ? "; removed its pidfile or temporary files" : "");
		else if (tidied)
			snprintf(ctx->report, sizeof(ctx->report),
				 "removed %s's pidfile or temporary files, left by a dead run",
				 service);
	}
	proc_set_release(&set);
	return rc;
}

const struct injector lab_service_injector = {
	.name = "lab-service",
	.summary = "run a lab service (demo-api) for the drill; scenarios list it under lab:",
	.params = lab_service_params,
	.supported = lab_service_supported,
	.apply = lab_service_apply,
	.revert = lab_service_revert,
};
