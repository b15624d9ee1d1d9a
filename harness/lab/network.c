/* The lab network: namespace, veth pair, addresses (see lab/network.h). */
#include "lab/network.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"
#define SELF_NETNS "/proc/thread-self/ns/net"

/* The candidate pools of /30 subnets, tried in this order. */
static const uint32_t subnet_pools[] = {
	0x0acb0000, /* 10.203.0.0/16 */
	0xac1f0000, /* 172.31.0.0/16 */
};

const char *lab_net_state_name(enum lab_net_state s)
{
	switch (s) {
	case LAB_NET_ABSENT:
		return "absent";
	case LAB_NET_PARTIAL:
		return "partial";
	case LAB_NET_UP:
		return "up";
	}
	return "unknown";
}

const char *lab_net_default_name(void)
{
	const char *e = getenv("CHAOSLAB_NETNS");

	return e && *e ? e : LAB_NET_DEFAULT_NAME;
}

int lab_net_name_check(const char *name, struct cl_error *err)
{
	size_t n = name ? strlen(name) : 0;

	if (!n || n > LAB_NET_NAME_MAX)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "lab network name '%s': must be 1..%d characters",
				    name ? name : "", LAB_NET_NAME_MAX);
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return cl_error_set(err, CL_EXIT_USAGE, "lab network name '%s' is not allowed",
				    name);
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-'))
			return cl_error_set(err, CL_EXIT_USAGE,
					    "lab network name '%s': only letters, digits, '_', '.' "
					    "and '-' are allowed",
					    name);
	return 0;
}

void lab_net_tag(char *buf, size_t size, const char *run_id, const char *step)
{
	snprintf(buf, size, "%s%s:%s", LAB_NET_TAG_PREFIX, run_id ? run_id : "", step ? step : "");
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

void lab_net_plan(const char *name, struct lab_net_info *info)
{
	memset(info, 0, sizeof(*info));
	snprintf(info->netns, sizeof(info->netns), "%s", name);
	if (strlen(LAB_NET_HOST_PREFIX) + strlen(name) < IFNAMSIZ)
		snprintf(info->host_if, sizeof(info->host_if), "%s%s", LAB_NET_HOST_PREFIX, name);
	else
		snprintf(info->host_if, sizeof(info->host_if), "%s%08x", LAB_NET_HOST_PREFIX,
			 name_hash(name));
	snprintf(info->lab_if, sizeof(info->lab_if), "%s", LAB_NET_LAB_IF);
}

static void ns_path(char *buf, size_t size, const char *netns)
{
	snprintf(buf, size, "%s/%s", LAB_NET_RUN_DIR, netns);
}

/* ---- subnets ---------------------------------------------------------------- */

static uint32_t prefix_mask(int len)
{
	return len <= 0 ? 0 : len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
}

bool lab_net_cidr_overlap(struct lab_net_cidr a, struct lab_net_cidr b)
{
	int len = a.len < b.len ? a.len : b.len;

	return ((a.addr ^ b.addr) & prefix_mask(len)) == 0;
}

int lab_net_choose_subnet(const char *name, const struct lab_net_cidr *taken, size_t ntaken,
			  uint32_t *net)
{
	/* Where in a pool to start: labs of different names usually differ. */
	uint32_t start = name_hash(name ? name : "") % 256;

	for (size_t p = 0; p < sizeof(subnet_pools) / sizeof(subnet_pools[0]); p++) {
		for (uint32_t k = 0; k < 256; k++) {
			struct lab_net_cidr cand = {
				.addr = subnet_pools[p] | (((start + k) % 256) << 8),
				.len = LAB_NET_PREFIX_LEN,
			};
			bool clash = false;

			for (size_t i = 0; i < ntaken && !clash; i++)
				clash = taken[i].len > 0 && lab_net_cidr_overlap(cand, taken[i]);
			if (!clash) {
				*net = cand.addr;
				return 0;
			}
		}
	}
	return -1;
}

/* ---- netlink helpers -------------------------------------------------------- */

static int nl_fail(struct cl_error *err, int nlerr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A libnl error as "what: libnl's words"; lack of privilege is exit 3. */
static int nl_fail(struct cl_error *err, int nlerr, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (nlerr < 0)
		nlerr = -nlerr;
	return cl_error_set(err, nlerr == NLE_PERM ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE, "%s: %s",
			    what, nl_geterror(nlerr));
}

int lab_net_nl_open(const char *netns, struct nl_sock **out, struct cl_error *err)
{
	char path[300];
	struct nl_sock *sk = nl_socket_alloc();
	int self = -1, target = -1, r, rc = -1;

	*out = NULL;
	if (!sk)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "netlink socket");
	if (netns) {
		ns_path(path, sizeof(path), netns);
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (target < 0) {
			cl_error_errno(err, errno == EACCES ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE,
				       errno, "unable to open network namespace '%s' (%s)", netns,
				       path);
			goto out;
		}
		self = open(SELF_NETNS, O_RDONLY | O_CLOEXEC);
		if (self < 0) {
			cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open %s", SELF_NETNS);
			goto out;
		}
		if (setns(target, CLONE_NEWNET) < 0) {
			cl_error_errno(err, errno == EPERM ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE,
				       errno, "unable to enter network namespace '%s'", netns);
			goto out;
		}
	}
	r = nl_connect(sk, NETLINK_ROUTE);
	/* Back where we were. This cannot fail (same privileges a moment ago);
	 * if it did, going on would silently act on the lab's network as if it
	 * were the host's, so stop dead. */
	if (netns && setns(self, CLONE_NEWNET) < 0)
		abort();
	if (r < 0) {
		nl_fail(err, r, "unable to open a netlink socket%s%s", netns ? " in " : "",
			netns ? netns : "");
		goto out;
	}
	*out = sk;
	sk = NULL;
	rc = 0;
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	if (sk)
		nl_socket_free(sk);
	return rc;
}

/* The link called name: 0 with *out (caller puts it), 1 when there is none,
 * or a negative libnl error. */
static int link_get(struct nl_sock *sk, const char *name, struct rtnl_link **out)
{
	int r;

	*out = NULL;
	r = rtnl_link_get_kernel(sk, 0, name, out);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 1;
	return r < 0 ? r : 0;
}

static int link_get_index(struct nl_sock *sk, int ifindex, struct rtnl_link **out)
{
	int r;

	*out = NULL;
	r = rtnl_link_get_kernel(sk, ifindex, NULL, out);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 1;
	return r < 0 ? r : 0;
}

/* Set the alias (if non-NULL) and bring the link up (if up). */
static int link_change(struct nl_sock *sk, struct rtnl_link *link, const char *alias, bool up)
{
	struct rtnl_link *chg = rtnl_link_alloc();
	int r;

	if (!chg)
		return -NLE_NOMEM;
	if (alias)
		rtnl_link_set_ifalias(chg, alias);
	if (up)
		rtnl_link_set_flags(chg, IFF_UP);
	r = rtnl_link_change(sk, link, chg, 0);
	rtnl_link_put(chg);
	return r;
}

static bool link_tagged(struct rtnl_link *link, const char *tag)
{
	const char *alias = rtnl_link_get_ifalias(link);

	return tag && tag[0] && alias && !strcmp(alias, tag);
}

/* The first IPv4 address of ifindex into buf (and its prefix length);
 * 0 found, 1 none, negative libnl error. */
static int link_ipv4(struct nl_sock *sk, int ifindex, char *buf, size_t size, int *prefix)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int r = rtnl_addr_alloc_cache(sk, &cache);

	if (r < 0)
		return r;
	r = 1;
	for (o = nl_cache_get_first(cache); o && r == 1; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);

		if (rtnl_addr_get_family(a) != AF_INET || rtnl_addr_get_ifindex(a) != ifindex ||
		    !local || nl_addr_get_len(local) != 4)
			continue;
		if (!inet_ntop(AF_INET, nl_addr_get_binary_addr(local), buf, (socklen_t)size))
			continue;
		*prefix = rtnl_addr_get_prefixlen(a);
		r = 0;
	}
	nl_cache_free(cache);
	return r;
}

static int addr_add(struct nl_sock *sk, int ifindex, uint32_t ip, int prefix)
{
	uint32_t be = htonl(ip), bcast = htonl(ip | ~prefix_mask(prefix));
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(AF_INET, &be, 4);
	struct nl_addr *brd = nl_addr_build(AF_INET, &bcast, 4);
	int r = -NLE_NOMEM;

	if (!a || !local || !brd)
		goto out;
	nl_addr_set_prefixlen(local, prefix);
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, AF_INET);
	if ((r = rtnl_addr_set_local(a, local)) < 0 || (r = rtnl_addr_set_broadcast(a, brd)) < 0)
		goto out;
	rtnl_addr_set_prefixlen(a, prefix);
	r = rtnl_addr_add(sk, a, NLM_F_EXCL);
out:
	if (brd)
		nl_addr_put(brd);
	if (local)
		nl_addr_put(local);
	if (a)
		rtnl_addr_put(a);
	return r;
}

static int cidr_add(struct lab_net_cidr **v, size_t *n, size_t *cap, const void *bin, int len)
{
	uint32_t be;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		struct lab_net_cidr *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -1;
		*v = nv;
		*cap = nc;
	}
	memcpy(&be, bin, 4);
	(*v)[*n].addr = ntohl(be);
	(*v)[*n].len = len;
	(*n)++;
	return 0;
}

/* Every IPv4 prefix the host uses: its addresses' subnets and its routes'
 * destinations, in every table. *out is malloc'd. */
static int host_prefixes(struct nl_sock *sk, struct lab_net_cidr **out, size_t *nout,
			 struct cl_error *err)
{
	struct nl_cache *addrs = NULL, *routes = NULL;
	struct lab_net_cidr *v = NULL;
	size_t n = 0, cap = 0;
	struct nl_object *o;
	int r, rc = -1;

	if ((r = rtnl_addr_alloc_cache(sk, &addrs)) < 0) {
		nl_fail(err, r, "unable to read the host's addresses");
		goto out;
	}
	if ((r = rtnl_route_alloc_cache(sk, AF_INET, 0, &routes)) < 0) {
		nl_fail(err, r, "unable to read the host's routes");
		goto out;
	}
	for (o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);

		if (rtnl_addr_get_family(a) != AF_INET || !local || nl_addr_get_len(local) != 4)
			continue;
		if (cidr_add(&v, &n, &cap, nl_addr_get_binary_addr(local),
			     rtnl_addr_get_prefixlen(a) ? (int)rtnl_addr_get_prefixlen(a) : 32))
			goto oom;
	}
	for (o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct nl_addr *dst = rtnl_route_get_dst((struct rtnl_route *)o);

		if (!dst || nl_addr_get_family(dst) != AF_INET || nl_addr_get_len(dst) != 4 ||
		    nl_addr_get_prefixlen(dst) == 0)
			continue;
		if (cidr_add(&v, &n, &cap, nl_addr_get_binary_addr(dst),
			     (int)nl_addr_get_prefixlen(dst)))
			goto oom;
	}
	*out = v;
	*nout = n;
	v = NULL;
	rc = 0;
	goto out;
oom:
	cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "host prefixes");
out:
	free(v);
	if (addrs)
		nl_cache_free(addrs);
	if (routes)
		nl_cache_free(routes);
	return rc;
}

/* ---- the namespace ---------------------------------------------------------- */

int lab_net_ns_exists(const char *netns)
{
	char path[300];
	struct statfs sf;

	ns_path(path, sizeof(path), netns);
	if (statfs(path, &sf) < 0)
		return -1;
	if ((unsigned long)sf.f_type != (unsigned long)NSFS_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The owner tag on lo inside netns into buf ("" if none). 0, or -1 with err. */
static int ns_tag(const char *netns, char *buf, size_t size, struct cl_error *err)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *lo = NULL;
	int r;

	buf[0] = '\0';
	if (lab_net_nl_open(netns, &sk, err))
		return -1;
	r = link_get(sk, "lo", &lo);
	if (r < 0) {
		nl_socket_free(sk);
		return nl_fail(err, r, "unable to read lo in namespace '%s'", netns);
	}
	if (r == 0 && rtnl_link_get_ifalias(lo))
		snprintf(buf, size, "%s", rtnl_link_get_ifalias(lo));
	if (lo)
		rtnl_link_put(lo);
	nl_socket_free(sk);
	return 0;
}

/* /run/netns, a shared mount point: a namespace unmounted here (lab down)
 * is unmounted in every mount namespace that sees it, so it can be freed.
 * As iproute2's netns_add(). */
static int run_dir_prepare(struct cl_error *err)
{
	bool made = false;

	if (mkdir(LAB_NET_RUN_DIR, 0755) < 0 && errno != EEXIST)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "unable to create %s",
				      LAB_NET_RUN_DIR);
	while (mount("", LAB_NET_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) < 0) {
		/* EINVAL: not a mount point yet. Make it one, once. */
		if (errno != EINVAL || made)
			return cl_error_errno(err,
					      errno == EPERM ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE,
					      errno, "unable to make %s a shared mount point",
					      LAB_NET_RUN_DIR);
		if (mount(LAB_NET_RUN_DIR, LAB_NET_RUN_DIR, "none", MS_BIND | MS_REC, NULL) < 0)
			return cl_error_errno(err,
					      errno == EPERM ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE,
					      errno, "unable to bind %s on itself",
					      LAB_NET_RUN_DIR);
		made = true;
	}
	return 0;
}

/* In the child that makes the namespace: a new network namespace, lo up and
 * tagged, then bound on path. Writes why it failed into msg ("" = done). */
static void ns_child(const char *path, const char *tag, char *msg, size_t size)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *lo = NULL;
	int r;

	msg[0] = '\0';
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(msg, size, "unshare(CLONE_NEWNET): %s", strerror(errno));
		return;
	}
	sk = nl_socket_alloc();
	if (!sk || (r = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		snprintf(msg, size, "netlink socket in the new namespace: %s",
			 sk ? nl_geterror(r) : "out of memory");
		goto out;
	}
	if ((r = link_get(sk, "lo", &lo)) != 0) {
		snprintf(msg, size, "no lo in the new namespace: %s",
			 r < 0 ? nl_geterror(r) : "not found");
		goto out;
	}
	/* The tag goes on before the namespace has a name: a named one without
	 * it was never ours. */
	if ((r = link_change(sk, lo, tag, true)) < 0) {
		snprintf(msg, size, "setting up lo: %s", nl_geterror(r));
		goto out;
	}
	if (mount(SELF_NETNS, path, "none", MS_BIND, NULL) < 0)
		snprintf(msg, size, "binding the namespace on %s: %s", path, strerror(errno));
out:
	if (lo)
		rtnl_link_put(lo);
	if (sk)
		nl_socket_free(sk);
}

/* Create /run/netns/NAME as `ip netns add` does, in a child so this process
 * never changes namespace. 0; 1 when the name is taken (err says by whom);
 * -1 with err. */
static int ns_create(const char *netns, const char *tag, struct cl_error *err)
{
	char path[300], msg[512] = "", owner[LAB_NET_TAG_MAX];
	int p[2] = { -1, -1 }, fd, status = 0, rc = -1;
	pid_t parent = getpid(), pid;
	ssize_t n;
	size_t off = 0;

	ns_path(path, sizeof(path), netns);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0 && errno == EEXIST) {
		struct cl_error e2;

		size_t pl = strlen(LAB_NET_TAG_PREFIX);
		bool lab = lab_net_ns_exists(netns) == 0 &&
			   ns_tag(netns, owner, sizeof(owner), &e2) == 0 &&
			   !strncmp(owner, LAB_NET_TAG_PREFIX, pl);

		if (lab && !strncmp(owner + pl, LAB_NET_MANUAL_RUN, strlen(LAB_NET_MANUAL_RUN)))
			cl_error_set(err, CL_EXIT_USAGE,
				     "network namespace '%s' exists already: the manual lab holds "
				     "it (%s); 'chaoslab lab down' takes it down, or set "
				     "CHAOSLAB_NETNS to use another name",
				     netns, owner);
		else if (lab)
			cl_error_set(err, CL_EXIT_USAGE,
				     "network namespace '%s' exists already: the lab of "
				     "another drill holds it (%s); wait for that drill, or "
				     "run 'chaoslab recover' if it died, or set "
				     "CHAOSLAB_NETNS to use another name",
				     netns, owner);
		else
			cl_error_set(err, CL_EXIT_USAGE,
				     "network namespace '%s' exists already and is not chaoslab's "
				     "(see: ip netns list); set CHAOSLAB_NETNS to use another name",
				     netns);
		return 1;
	}
	if (fd < 0)
		return cl_error_errno(err, errno == EACCES ? CL_EXIT_PRIVILEGE : CL_EXIT_USAGE,
				      errno, "unable to create %s", path);
	close(fd);
	if (pipe2(p, O_CLOEXEC) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "pipe");
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "fork");
		goto fail;
	}
	if (pid == 0) {
		close(p[0]);
		/* The terminal's ^C is the harness's to handle (it reverts once
		 * this returns); never run the harness's handlers here. */
		signal(SIGINT, SIG_IGN);
		signal(SIGQUIT, SIG_IGN);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		/* Never finish making a namespace for a harness that died: its
		 * journal may already have been recovered. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		ns_child(path, tag, msg, sizeof(msg));
		if (msg[0] && write(p[1], msg, strlen(msg)) < 0)
			_exit(2);
		_exit(msg[0] ? 1 : 0);
	}
	close(p[1]);
	p[1] = -1;
	while (off < sizeof(msg) - 1) {
		n = read(p[0], msg + off, sizeof(msg) - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	msg[off] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		cl_error_set(err, CL_EXIT_PRIVILEGE, "unable to create network namespace '%s': %s",
			     netns, msg[0] ? msg : "the helper process failed");
		goto fail;
	}
	rc = 0;
	goto out;
fail:
	/* Nothing was mounted on it (the child's bind is its last step). */
	if (lab_net_ns_exists(netns) < 0)
		unlink(path);
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return rc;
}

/* ---- up ----------------------------------------------------------------------- */

static int down(const char *netns, const char *host_if, const char *tag, bool have_lock,
		char *report, size_t size, struct cl_error *err);

static int read_ip_forward(char *buf, size_t size)
{
	FILE *f = fopen(IP_FORWARD, "re");
	int rc = -1;

	buf[0] = '\0';
	if (!f)
		return -1;
	if (fgets(buf, (int)size, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* The veth pair, its lab end created inside the namespace (nsfd). */
static int veth_create(struct nl_sock *sk, const struct lab_net_info *info, int nsfd,
		       struct cl_error *err)
{
	struct rtnl_link *link = rtnl_link_veth_alloc(), *peer;
	int r;

	if (!link)
		return cl_error_errno(err, CL_EXIT_USAGE, ENOMEM, "veth");
	peer = rtnl_link_veth_get_peer(link);
	rtnl_link_set_name(link, info->host_if);
	rtnl_link_set_name(peer, info->lab_if);
	rtnl_link_set_ns_fd(peer, nsfd);
	r = rtnl_link_add(sk, link, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(peer);
	rtnl_link_put(link);
	if (r == -NLE_EXIST)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "interface '%s' exists already in the host namespace (see: ip "
				    "link show %s); set CHAOSLAB_NETNS to use another lab name",
				    info->host_if, info->host_if);
	if (r < 0)
		return nl_fail(err, r, "unable to create the veth pair %s/%s", info->host_if,
			       info->lab_if);
	return 0;
}

/* Tag and bring up one end; fill its index. */
static int veth_end_setup(struct nl_sock *sk, const char *ifname, const char *where,
			  const char *tag, int *ifindex, struct cl_error *err)
{
	struct rtnl_link *link = NULL;
	int r = link_get(sk, ifname, &link);

	if (r)
		return nl_fail(err, r > 0 ? NLE_OBJ_NOTFOUND : r, "unable to find %s in %s", ifname,
			       where);
	*ifindex = rtnl_link_get_ifindex(link);
	r = link_change(sk, link, tag, true);
	rtnl_link_put(link);
	if (r < 0)
		return nl_fail(err, r, "unable to set up %s in %s", ifname, where);
	return 0;
}

int lab_net_up(const char *name, const char *tag, struct lab_net_info *info, struct cl_error *err)
{
	char path[300], fwd_before[16] = "", fwd_after[16] = "";
	struct nl_sock *host = NULL, *lab = NULL;
	struct lab_net_cidr *taken = NULL;
	size_t ntaken = 0;
	int lockfd = -1, nsfd = -1, host_index = 0, lab_index = 0, r, rc = -1;
	bool made = false;
	uint32_t net, be;

	if (lab_net_name_check(name, err))
		return -1;
	if (!tag || !tag[0] || strlen(tag) >= LAB_NET_TAG_MAX)
		return cl_error_set(err, CL_EXIT_USAGE, "lab network: an owner tag is required");
	lab_net_plan(name, info);
	snprintf(info->tag, sizeof(info->tag), "%s", tag);
	ns_path(path, sizeof(path), name);
	read_ip_forward(fwd_before, sizeof(fwd_before));

	if (run_dir_prepare(err))
		goto out;
	/* One lab at a time comes up: the subnet is chosen and taken under this
	 * lock, so concurrent labs never pick the same one. */
	lockfd = open(LAB_NET_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to lock %s", LAB_NET_RUN_DIR);
		goto out;
	}
	r = ns_create(name, tag, err);
	if (r)
		goto out; /* taken (nothing of ours to undo) or failed and cleaned */
	made = true;
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to open %s", path);
		goto out;
	}
	if (lab_net_nl_open(NULL, &host, err) || lab_net_nl_open(name, &lab, err))
		goto out;
	if (veth_create(host, info, nsfd, err))
		goto out;
	if (veth_end_setup(host, info->host_if, "the host namespace", tag, &host_index, err) ||
	    veth_end_setup(lab, info->lab_if, name, tag, &lab_index, err))
		goto out;

	if (host_prefixes(host, &taken, &ntaken, err))
		goto out;
	if (lab_net_choose_subnet(name, taken, ntaken, &net)) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "no free /30 left in 10.203.0.0/16 or 172.31.0.0/16 for the lab: the "
			     "host uses them all");
		goto out;
	}
	info->prefix = LAB_NET_PREFIX_LEN;
	be = htonl(net + 1);
	inet_ntop(AF_INET, &be, info->host_addr, sizeof(info->host_addr));
	be = htonl(net + 2);
	inet_ntop(AF_INET, &be, info->lab_addr, sizeof(info->lab_addr));
	if ((r = addr_add(host, host_index, net + 1, info->prefix)) < 0) {
		nl_fail(err, r, "unable to add %s/%d to %s", info->host_addr, info->prefix,
			info->host_if);
		goto out;
	}
	if ((r = addr_add(lab, lab_index, net + 2, info->prefix)) < 0) {
		nl_fail(err, r, "unable to add %s/%d to %s in %s", info->lab_addr, info->prefix,
			info->lab_if, name);
		goto out;
	}
	/* Confinement is by construction (no default route, no forwarding, no
	 * NAT are ever set up); check the one host-wide switch anyway. */
	read_ip_forward(fwd_after, sizeof(fwd_after));
	if (strcmp(fwd_before, fwd_after)) {
		cl_error_set(err, CL_EXIT_USAGE,
			     "%s changed from %s to %s while the lab came up: refusing a lab that "
			     "could forward",
			     IP_FORWARD, fwd_before, fwd_after);
		goto out;
	}
	rc = 0;
out:
	if (rc && made) {
		struct cl_error e2;

		cl_error_clear(&e2);
		down(name, info->host_if, tag, true, NULL, 0, &e2);
		info->host_addr[0] = info->lab_addr[0] = '\0';
		info->prefix = 0;
	}
	free(taken);
	if (host)
		nl_socket_free(host);
	if (lab)
		nl_socket_free(lab);
	if (nsfd >= 0)
		close(nsfd);
	if (lockfd >= 0)
		close(lockfd); /* releases the flock */
	return rc;
}

/* ---- down --------------------------------------------------------------------- */

static void report_add(char *report, size_t size, const char *fmt, const char *arg)
{
	size_t off;

	if (!report || !size)
		return;
	off = strlen(report);
	snprintf(report + off, size - off, "%s", off ? ", " : "");
	off = strlen(report);
	snprintf(report + off, size - off, fmt, arg);
}

/* True if host link's veth peer lives in netns (and points back at it): the
 * pair was made by us before its tag went on. */
static bool peer_in_ns(struct rtnl_link *link, const char *netns)
{
	struct cl_error e;
	struct nl_sock *sk = NULL;
	struct rtnl_link *peer = NULL;
	int32_t nsid;
	bool ours = false;

	if (!netns || !rtnl_link_is_veth(link) || rtnl_link_get_link(link) <= 0 ||
	    rtnl_link_get_link_netnsid(link, &nsid) < 0)
		return false;
	if (lab_net_ns_exists(netns) < 0 || lab_net_nl_open(netns, &sk, &e))
		return false;
	if (link_get_index(sk, rtnl_link_get_link(link), &peer) == 0)
		ours = rtnl_link_is_veth(peer) &&
		       rtnl_link_get_link(peer) == rtnl_link_get_ifindex(link);
	if (peer)
		rtnl_link_put(peer);
	nl_socket_free(sk);
	return ours;
}

static int veth_remove(const char *host_if, const char *netns, const char *tag, bool ns_ours,
		       char *report, size_t size, struct cl_error *err)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL;
	int r, rc = -1;

	if (lab_net_nl_open(NULL, &sk, err))
		return -1;
	r = link_get(sk, host_if, &link);
	if (r < 0) {
		nl_fail(err, r, "unable to look up %s", host_if);
		goto out;
	}
	if (r == 0) {
		if (!link_tagged(link, tag) && !(ns_ours && peer_in_ns(link, netns))) {
			report_add(report, size, "left %s alone (not ours)", host_if);
		} else if ((r = rtnl_link_delete(sk, link)) < 0 && r != -NLE_OBJ_NOTFOUND &&
			   r != -NLE_NODEV) {
			nl_fail(err, r, "unable to delete %s", host_if);
			goto out;
		} else {
			report_add(report, size, "deleted veth %s", host_if);
		}
	}
	rc = 0;
out:
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return rc;
}

/* Whether /run/netns/NAME is ours: 1 ours and mounted, 2 ours and never
 * mounted (an empty file), 0 not ours or absent, -1 unreadable. */
static int ns_ours(const char *netns, const char *tag, struct cl_error *err)
{
	char path[300], owner[LAB_NET_TAG_MAX];
	struct stat st;

	ns_path(path, sizeof(path), netns);
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to examine %s", path);
	}
	if (lab_net_ns_exists(netns) < 0)
		/* A regular empty file no namespace is mounted on: what a crash
		 * between creating it and binding the namespace leaves. No
		 * namespace can be reached through it. */
		return S_ISREG(st.st_mode) && st.st_size == 0 ? 2 : 0;
	if (ns_tag(netns, owner, sizeof(owner), err))
		return -1;
	return tag && tag[0] && !strcmp(owner, tag) ? 1 : 0;
}

/* An empty file in /run/netns may be another lab's namespace in the making
 * (lab_net_up() holds the flock from creating the file to binding it): wait
 * for that lab, for up to a few seconds. Returns the lock fd or -1. */
static int run_dir_lock_wait(void)
{
	int fd = open(LAB_NET_RUN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (int i = 0; fd >= 0 && i < 100; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		usleep(50000);
	}
	if (fd >= 0)
		close(fd);
	return -1;
}

int lab_net_down(const char *netns, const char *host_if, const char *tag, char *report, size_t size,
		 struct cl_error *err)
{
	return down(netns, host_if, tag, false, report, size, err);
}

static int down(const char *netns, const char *host_if, const char *tag, bool have_lock,
		char *report, size_t size, struct cl_error *err)
{
	char path[300];
	int ours = 0, lockfd = -1;

	if (report && size)
		report[0] = '\0';
	if (netns && lab_net_name_check(netns, err))
		return -1;
	if (netns) {
		ours = ns_ours(netns, tag, err);
		if (ours < 0)
			return -1;
	}
	/* The veth first: deleting one end deletes the pair at once, whereas a
	 * namespace (and a veth end inside it) goes only when its last user
	 * does. */
	if (host_if && host_if[0] && veth_remove(host_if, netns, tag, ours == 1, report, size, err))
		return -1;
	if (!netns)
		return 0;
	ns_path(path, sizeof(path), netns);
	if (ours == 0) {
		if (lab_net_ns_exists(netns) == 0)
			report_add(report, size, "left namespace %s alone (not ours)", netns);
		return 0;
	}
	if (ours == 2 && !have_lock) {
		lockfd = run_dir_lock_wait();
		if (lockfd < 0)
			return cl_error_set(err, CL_EXIT_REVERT,
					    "%s is locked by a lab coming up; try again",
					    LAB_NET_RUN_DIR);
		/* Still an empty file once nobody is making a namespace? */
		ours = ns_ours(netns, tag, err);
		if (ours != 2) {
			close(lockfd);
			return ours < 0 ? -1 : down(netns, NULL, tag, false, report, size, err);
		}
	}
	if (ours == 1 && umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
		cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to unmount %s", path);
		goto fail;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to remove %s", path);
		goto fail;
	}
	if (lockfd >= 0)
		close(lockfd);
	report_add(report, size, "removed namespace %s", netns);
	return 0;
fail:
	if (lockfd >= 0)
		close(lockfd);
	return -1;
}

/* ---- status ------------------------------------------------------------------- */

int lab_net_status(const char *name, struct lab_net_info *info, struct cl_error *err)
{
	struct nl_sock *host = NULL, *lab = NULL;
	struct rtnl_link *link = NULL;
	bool ns = false, host_end = false, lab_end = false;
	int prefix = 0, r, rc = -1;

	if (lab_net_name_check(name, err))
		return -1;
	lab_net_plan(name, info);
	if (lab_net_nl_open(NULL, &host, err))
		goto out;
	r = link_get(host, info->host_if, &link);
	if (r < 0) {
		nl_fail(err, r, "unable to look up %s", info->host_if);
		goto out;
	}
	if (r == 0) {
		host_end = true;
		if (link_ipv4(host, rtnl_link_get_ifindex(link), info->host_addr,
			      sizeof(info->host_addr), &prefix) == 0)
			info->prefix = prefix;
		rtnl_link_put(link);
		link = NULL;
	}
	if (lab_net_ns_exists(name) == 0) {
		ns = true;
		if (ns_tag(name, info->tag, sizeof(info->tag), err) ||
		    lab_net_nl_open(name, &lab, err))
			goto out;
		r = link_get(lab, info->lab_if, &link);
		if (r < 0) {
			nl_fail(err, r, "unable to look up %s in %s", info->lab_if, name);
			goto out;
		}
		if (r == 0) {
			lab_end = true;
			if (link_ipv4(lab, rtnl_link_get_ifindex(link), info->lab_addr,
				      sizeof(info->lab_addr), &prefix) == 0 &&
			    !info->prefix)
				info->prefix = prefix;
		}
	}
	if (ns && host_end && lab_end && info->host_addr[0] && info->lab_addr[0])
		rc = LAB_NET_UP;
	else if (ns || host_end)
		rc = LAB_NET_PARTIAL;
	else
		rc = LAB_NET_ABSENT;
out:
	if (link)
		rtnl_link_put(link);
	if (host)
		nl_socket_free(host);
	if (lab)
		nl_socket_free(lab);
	return rc;
}

/* ---- entering --------------------------------------------------------------- */

/* /etc/netns/NAME/FILE over /etc/FILE, for every FILE there; as iproute2's
 * bind_etc(). A FILE with no /etc counterpart is skipped. */
static int bind_etc(const char *netns, struct cl_error *err)
{
	char dir[300], src[600], dst[600];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/%s", LAB_NET_ETC_DIR, netns);
	d = opendir(dir);
	if (!d)
		return 0;
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(src, sizeof(src), "%s/%s", dir, de->d_name);
		snprintf(dst, sizeof(dst), "/etc/%s", de->d_name);
		if (access(dst, F_OK) < 0)
			continue;
		if (mount(src, dst, "none", MS_BIND, NULL) < 0)
			rc = cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
					    "unable to bind %s on %s", src, dst);
	}
	closedir(d);
	return rc;
}

int lab_net_enter(const char *netns, struct cl_error *err)
{
	char path[300];
	unsigned long ro = 0;
	struct statfs sf;
	int fd;

	if (lab_net_name_check(netns, err))
		return -1;
	if (lab_net_ns_exists(netns) < 0)
		return cl_error_set(err, CL_EXIT_USAGE,
				    "no lab network namespace '%s' (see: ip netns list; "
				    "chaoslab lab up)",
				    netns);
	ns_path(path, sizeof(path), netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "unable to open %s", path);
	if (setns(fd, CLONE_NEWNET) < 0) {
		close(fd);
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				      "unable to enter network namespace '%s'", netns);
	}
	close(fd);
	if (unshare(CLONE_NEWNS) < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				      "unable to make a private mount namespace");
	/* Mounts below stay in this process's mount namespace. */
	if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				      "unable to make / a slave mount");
	/* /sys shows the network devices of the namespace that mounted it. */
	if (statfs("/sys", &sf) == 0 && (sf.f_flags & ST_RDONLY))
		ro = MS_RDONLY;
	if (umount2("/sys", MNT_DETACH) == 0 && mount(netns, "/sys", "sysfs", ro, NULL) < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno,
				      "unable to mount a sysfs for namespace '%s'", netns);
	return bind_etc(netns, err);
}
