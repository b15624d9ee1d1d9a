/* Tests of harness/lab/network.c and injectors/lab-network.c: names, owner
 * tags and the subnet choice (everywhere), then, as root, a real lab in a
 * test-specific namespace: up, read back, down, down again; a name that is
 * taken (by `ip netns add`) is refused and left alone; what a crash leaves at
 * each step (an empty /run/netns file, a veth without its tag) is still
 * recognised as ours and removed, and a lab under another tag is not; a
 * worker joins the lab's namespace; the injector's undo data, revert twice
 * and revert of the bare intent. tests/integration/test_lab_network.sh checks
 * the same lab with iproute2 and curl. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "core/registry.h"
#include "lab/network.h"
#include "sys/features.h"
#include "sys/proc.h"
#include "sys/worker.h"

static char why_not_root[256];
static const char *chaoslab_bin;

/* Test namespaces: "cltu<pid><letter>", removed by the group teardown
 * whatever happened. */
static char test_names[8][LAB_NET_NAME_MAX + 1];
static size_t ntest_names;

static const char *test_name(char letter)
{
	char *n = test_names[ntest_names++ % 8];

	snprintf(n, LAB_NET_NAME_MAX + 1, "cltu%d%c", (int)getpid() % 100000, letter);
	return n;
}

static bool have_root(void)
{
	struct feature f;

	if (!feature_cap_effective(CAP_NET_ADMIN) || !feature_cap_effective(CAP_SYS_ADMIN)) {
		snprintf(why_not_root, sizeof(why_not_root),
			 "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) to make a lab network");
		return false;
	}
	if (feature_probe_netns(NULL, &f) == FEATURE_MISSING) {
		snprintf(why_not_root, sizeof(why_not_root), "no network namespaces: %s", f.detail);
		return false;
	}
	return true;
}

#define NEED_ROOT()                                         \
	do {                                                \
		if (why_not_root[0]) {                      \
			printf("SKIP: %s\n", why_not_root); \
			skip();                             \
		}                                           \
	} while (0)

static bool have_ip(void)
{
	return system("ip -V >/dev/null 2>&1") == 0;
}

/* ---- without privileges -------------------------------------------------- */

static void test_name_check(void **state)
{
	struct cl_error e;

	assert_int_equal(lab_net_name_check("chaoslab", &e), 0);
	assert_int_equal(lab_net_name_check("a.b_c-9", &e), 0);
	assert_int_equal(lab_net_name_check("", &e), -1);
	assert_int_equal(lab_net_name_check(NULL, &e), -1);
	assert_int_equal(lab_net_name_check(".", &e), -1);
	assert_int_equal(lab_net_name_check("..", &e), -1);
	assert_int_equal(lab_net_name_check("../etc", &e), -1);
	assert_non_null(strstr(e.msg, "only letters"));
	assert_int_equal(lab_net_name_check("a b", &e), -1);
	assert_int_equal(lab_net_name_check("0123456789012345678901234567890123", &e), -1);
	assert_non_null(strstr(e.msg, "1..32"));
}

static void test_plan_names(void **state)
{
	struct lab_net_info a, b;

	lab_net_plan("chaoslab", &a);
	assert_string_equal(a.netns, "chaoslab");
	assert_string_equal(a.host_if, "clab-chaoslab");
	assert_string_equal(a.lab_if, "eth0");
	assert_string_equal(a.host_addr, "");
	assert_int_equal(a.prefix, 0);
	/* Too long for an interface name: a hash, the same every time. */
	lab_net_plan("a-rather-long-lab-name", &a);
	lab_net_plan("a-rather-long-lab-name", &b);
	assert_true(strlen(a.host_if) <= 15);
	assert_int_equal(strncmp(a.host_if, "clab-", 5), 0);
	assert_string_equal(a.host_if, b.host_if);
	lab_net_plan("a-rather-long-lab-namf", &b);
	assert_string_not_equal(a.host_if, b.host_if);
	/* The longest name that fits stays readable. */
	lab_net_plan("abcdefghij", &a);
	assert_string_equal(a.host_if, "clab-abcdefghij");
}

static void test_tag(void **state)
{
	char tag[LAB_NET_TAG_MAX];

	lab_net_tag(tag, sizeof(tag), "20260101T000000Z-x-1234", "lab-network");
	assert_string_equal(tag, "chaoslab:20260101T000000Z-x-1234:lab-network");
}

static void test_default_name(void **state)
{
	unsetenv("CHAOSLAB_NETNS");
	assert_string_equal(lab_net_default_name(), "chaoslab");
	setenv("CHAOSLAB_NETNS", "", 1);
	assert_string_equal(lab_net_default_name(), "chaoslab");
	setenv("CHAOSLAB_NETNS", "mylab", 1);
	assert_string_equal(lab_net_default_name(), "mylab");
	unsetenv("CHAOSLAB_NETNS");
}

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static void test_cidr_overlap(void **state)
{
	struct lab_net_cidr n30 = { IP4(10, 203, 7, 0), 30 };

	assert_true(lab_net_cidr_overlap(n30, (struct lab_net_cidr){ IP4(10, 203, 7, 2), 32 }));
	assert_true(lab_net_cidr_overlap(n30, (struct lab_net_cidr){ IP4(10, 0, 0, 0), 8 }));
	assert_true(lab_net_cidr_overlap(n30, (struct lab_net_cidr){ IP4(10, 203, 7, 0), 24 }));
	assert_false(lab_net_cidr_overlap(n30, (struct lab_net_cidr){ IP4(10, 203, 7, 4), 30 }));
	assert_false(lab_net_cidr_overlap(n30, (struct lab_net_cidr){ IP4(10, 203, 8, 1), 32 }));
	assert_false(lab_net_cidr_overlap(n30, (struct lab_net_cidr){ IP4(192, 168, 0, 0), 16 }));
	/* A default route overlaps everything; the chooser ignores it. */
	assert_true(lab_net_cidr_overlap(n30, (struct lab_net_cidr){ 0, 0 }));
}

static void test_choose_subnet(void **state)
{
	struct lab_net_cidr taken[4];
	uint32_t first, net;

	/* Nothing taken: a /30 in 10.203.0.0/16, the same for the same name. */
	assert_int_equal(lab_net_choose_subnet("chaoslab", NULL, 0, &first), 0);
	assert_int_equal(first >> 16, IP4(10, 203, 0, 0) >> 16);
	assert_int_equal(first & 0xff, 0);
	assert_int_equal(lab_net_choose_subnet("chaoslab", NULL, 0, &net), 0);
	assert_int_equal(net, first);

	/* The default route is ignored; an address in the first candidate is
	 * not: the next one is taken. */
	taken[0] = (struct lab_net_cidr){ 0, 0 };
	taken[1] = (struct lab_net_cidr){ first + 2, 32 };
	assert_int_equal(lab_net_choose_subnet("chaoslab", taken, 2, &net), 0);
	assert_int_not_equal(net, first);
	assert_int_equal(net >> 16, IP4(10, 203, 0, 0) >> 16);
	assert_int_equal(net, IP4(10, 203, 0, 0) | ((((first >> 8) & 0xff) + 1) % 256) << 8);

	/* All of 10.0.0.0/8 in use (a VPN): 172.31.N.0/30. */
	taken[0] = (struct lab_net_cidr){ IP4(10, 0, 0, 0), 8 };
	assert_int_equal(lab_net_choose_subnet("chaoslab", taken, 1, &net), 0);
	assert_int_equal(net >> 16, IP4(172, 31, 0, 0) >> 16);

	/* Both pools in use: no subnet. */
	taken[1] = (struct lab_net_cidr){ IP4(172, 16, 0, 0), 12 };
	assert_int_equal(lab_net_choose_subnet("chaoslab", taken, 2, &net), -1);
}

/* ---- as root: a real lab --------------------------------------------------- */

/* Routes inside netns: how many, and whether one is a default route. */
static int lab_routes(const char *netns, bool *dflt)
{
	struct nl_sock *sk = NULL;
	struct nl_cache *c = NULL;
	struct cl_error e;
	struct nl_object *o;
	int n = 0;

	*dflt = false;
	assert_int_equal(lab_net_nl_open(netns, &sk, &e), 0);
	assert_int_equal(rtnl_route_alloc_cache(sk, AF_INET, 0, &c), 0);
	for (o = nl_cache_get_first(c); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(r);

		if (rtnl_route_get_table(r) == RT_TABLE_LOCAL)
			continue;
		n++;
		if (!dst || nl_addr_get_prefixlen(dst) == 0)
			*dflt = true;
	}
	nl_cache_free(c);
	nl_socket_free(sk);
	return n;
}

static bool host_link_exists(const char *ifname)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s", ifname);
	return access(path, F_OK) == 0;
}

static bool ns_file_exists(const char *netns)
{
	char path[128];

	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	return access(path, F_OK) == 0;
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)size, f))
			buf[0] = '\0';
		fclose(f);
	}
}

static void test_up_status_down(void **state)
{
	const char *name = test_name('a');
	struct lab_net_info up, st;
	char tag[LAB_NET_TAG_MAX], report[256], fwd0[16], fwd1[16];
	struct cl_error e;
	bool dflt;

	NEED_ROOT();
	read_file("/proc/sys/net/ipv4/ip_forward", fwd0, sizeof(fwd0));
	lab_net_tag(tag, sizeof(tag), "test-run", "lab-network");
	cl_error_clear(&e);
	if (lab_net_up(name, tag, &up, &e))
		fail_msg("lab_net_up: %s", e.msg);
	assert_string_equal(up.netns, name);
	assert_int_equal(up.prefix, 30);
	assert_true(up.host_addr[0] && up.lab_addr[0]);
	assert_true(ns_file_exists(name));
	assert_int_equal(lab_net_ns_exists(name), 0);
	assert_true(host_link_exists(up.host_if));

	assert_int_equal(lab_net_status(name, &st, &e), LAB_NET_UP);
	assert_string_equal(st.host_addr, up.host_addr);
	assert_string_equal(st.lab_addr, up.lab_addr);
	assert_string_equal(st.tag, tag);
	assert_int_equal(st.prefix, 30);
	/* The kernel's prefix route only: nothing leads out of the lab. */
	assert_int_equal(lab_routes(name, &dflt), 1);
	assert_false(dflt);
	read_file("/proc/sys/net/ipv4/ip_forward", fwd1, sizeof(fwd1));
	assert_string_equal(fwd0, fwd1);

	/* The same name again is refused, naming the lab that holds it. */
	{
		struct lab_net_info again;

		assert_int_equal(lab_net_up(name, "chaoslab:other:lab-network", &again, &e), -1);
		assert_non_null(strstr(e.msg, "exists already"));
		assert_non_null(strstr(e.msg, tag));
		assert_int_equal(lab_net_status(name, &st, &e), LAB_NET_UP);
	}

	assert_int_equal(lab_net_down(name, up.host_if, tag, report, sizeof(report), &e), 0);
	assert_non_null(strstr(report, "deleted veth"));
	assert_non_null(strstr(report, "removed namespace"));
	assert_false(ns_file_exists(name));
	assert_false(host_link_exists(up.host_if));
	assert_int_equal(lab_net_status(name, &st, &e), LAB_NET_ABSENT);

	/* Down again: nothing to do, no error. */
	assert_int_equal(lab_net_down(name, up.host_if, tag, report, sizeof(report), &e), 0);
	assert_string_equal(report, "");
}

static void test_not_ours_left_alone(void **state)
{
	const char *name = test_name('b');
	struct lab_net_info up, st;
	char cmd[256], report[256];
	struct cl_error e;

	NEED_ROOT();
	if (!have_ip()) {
		printf("SKIP: iproute2's ip is not installed\n");
		skip();
	}
	/* Somebody else's namespace of that name. */
	snprintf(cmd, sizeof(cmd), "ip netns add %s", name);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(lab_net_up(name, "chaoslab:r:s", &up, &e), -1);
	assert_non_null(strstr(e.msg, "not chaoslab's"));
	assert_int_equal(lab_net_down(name, up.host_if, "chaoslab:r:s", report, sizeof(report), &e),
			 0);
	assert_non_null(strstr(report, "left namespace"));
	assert_int_equal(lab_net_ns_exists(name), 0);
	snprintf(cmd, sizeof(cmd), "ip netns del %s", name);
	assert_int_equal(system(cmd), 0);

	/* Our lab, but another run's tag: left alone too. */
	assert_int_equal(lab_net_up(name, "chaoslab:run-a:lab-network", &up, &e), 0);
	assert_int_equal(lab_net_down(name, up.host_if, "chaoslab:run-b:lab-network", report,
				      sizeof(report), &e),
			 0);
	assert_non_null(strstr(report, "not ours"));
	assert_int_equal(lab_net_status(name, &st, &e), LAB_NET_UP);
	assert_int_equal(lab_net_down(name, up.host_if, "chaoslab:run-a:lab-network", report,
				      sizeof(report), &e),
			 0);
	assert_int_equal(lab_net_status(name, &st, &e), LAB_NET_ABSENT);
}

/* What a harness killed at each step of lab_net_up() leaves is still ours. */
static void test_crash_leftovers(void **state)
{
	const char *name = test_name('c');
	const char *tag = "chaoslab:crash:lab-network";
	struct lab_net_info up, st;
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL, *chg;
	char path[128], report[256];
	struct cl_error e;
	FILE *f;

	NEED_ROOT();
	/* Killed between creating the file and binding the namespace on it. */
	mkdir("/run/netns", 0755);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	f = fopen(path, "wx");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(lab_net_down(name, NULL, tag, report, sizeof(report), &e), 0);
	assert_non_null(strstr(report, "removed namespace"));
	assert_false(ns_file_exists(name));

	/* Killed between creating the veth and tagging it: the pair is known
	 * by its peer, which lives in our namespace. */
	assert_int_equal(lab_net_up(name, tag, &up, &e), 0);
	assert_int_equal(lab_net_nl_open(NULL, &sk, &e), 0);
	assert_int_equal(rtnl_link_get_kernel(sk, 0, up.host_if, &link), 0);
	chg = rtnl_link_alloc();
	rtnl_link_set_ifalias(chg, "");
	assert_int_equal(rtnl_link_change(sk, link, chg, 0), 0);
	rtnl_link_put(chg);
	rtnl_link_put(link);
	assert_int_equal(rtnl_link_get_kernel(sk, 0, up.host_if, &link), 0);
	assert_true(!rtnl_link_get_ifalias(link) || !rtnl_link_get_ifalias(link)[0]);
	rtnl_link_put(link);
	nl_socket_free(sk);
	assert_int_equal(lab_net_status(name, &st, &e), LAB_NET_UP);
	assert_int_equal(lab_net_down(name, up.host_if, tag, report, sizeof(report), &e), 0);
	assert_non_null(strstr(report, "deleted veth"));
	assert_false(host_link_exists(up.host_if));
	assert_false(ns_file_exists(name));
}

static void test_worker_joins_netns(void **state)
{
	const char *name = test_name('d');
	const char *tag = "chaoslab:worker:lab-network";
	struct lab_net_info up;
	struct proc_ident id;
	struct stat want, got;
	char path[128], owner[128];
	cJSON *args = cJSON_Parse("{\"load_percent\": 1}");
	struct worker_spec spec = { .kind = "cpu-burner",
				    .name = "clnsworker",
				    .args = args,
				    .owner = owner,
				    .netns = name };
	struct cl_error e;
	int killed = 0, pidfd = -1;

	NEED_ROOT();
	if (!chaoslab_bin) {
		printf("SKIP: CHAOSLAB_BIN does not name the chaoslab binary (run through ctest)\n");
		cJSON_Delete(args);
		skip();
	}
	snprintf(owner, sizeof(owner), "test-lab-network-%d:worker", (int)getpid());
	/* No such namespace: refused before anything starts. */
	if (worker_spawn(&spec, &id, &pidfd, &e) == 0)
		fail_msg("a worker started in a namespace that does not exist");
	assert_non_null(strstr(e.msg, "network namespace"));

	assert_int_equal(lab_net_up(name, tag, &up, &e), 0);
	if (worker_spawn(&spec, &id, &pidfd, &e))
		fail_msg("worker_spawn: %s", e.msg);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)id.pid);
	assert_int_equal(stat(path, &got), 0);
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	assert_int_equal(stat(path, &want), 0);
	assert_int_equal(got.st_ino, want.st_ino);
	assert_int_equal(worker_kill_owned(owner, &id, 1, 1000, &killed, &e), 0);
	assert_int_equal(killed, 1);
	waitpid(id.pid, NULL, 0);
	close(pidfd);
	assert_int_equal(lab_net_down(name, up.host_if, tag, NULL, 0, &e), 0);
	cJSON_Delete(args);
}

static cJSON *intent(const char *run, const char *step)
{
	char owner[160];
	cJSON *u = cJSON_CreateObject();

	worker_owner_tag(owner, sizeof(owner), run, step);
	cJSON_AddStringToObject(u, "run", run);
	cJSON_AddStringToObject(u, "step", step);
	cJSON_AddStringToObject(u, "owner", owner);
	return u;
}

static const char *ustr(const cJSON *u, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_injector_undo_and_revert(void **state)
{
	const struct injector *in = injector_find("lab-network");
	const char *name = test_name('e');
	const char *run = "test-run-injector";
	struct params p = { 0 };
	struct cl_error e;
	cJSON *undo;
	char why[256], tag[LAB_NET_TAG_MAX];
	struct lab_net_info st;

	assert_non_null(in);
	assert_non_null(in->revert);
	NEED_ROOT();
	assert_int_equal(in->supported(NULL, why, sizeof(why)), 0);
	setenv("CHAOSLAB_NETNS", name, 1);
	assert_int_equal(params_from_doc(&p, in->params, NULL, "(test)", NULL, "lab", &e), 0);
	undo = intent(run, "lab-network");
	{
		struct inject_ctx ctx = { .run_id = run,
					  .step_id = "lab-network",
					  .state_dir = "/tmp",
					  .params = &p,
					  .undo = undo };

		if (in->apply(&ctx, &e))
			fail_msg("apply: %s", e.msg);
	}
	lab_net_tag(tag, sizeof(tag), run, "lab-network");
	assert_string_equal(ustr(undo, "netns"), name);
	assert_string_equal(ustr(undo, "lab_if"), "eth0");
	assert_string_equal(ustr(undo, "tag"), tag);
	assert_non_null(ustr(undo, "host_if"));
	assert_int_equal(lab_net_status(name, &st, &e), LAB_NET_UP);
	assert_string_equal(ustr(undo, "host_if"), st.host_if);
	assert_string_equal(ustr(undo, "host_addr"), st.host_addr);
	assert_string_equal(ustr(undo, "lab_addr"), st.lab_addr);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(undo, "prefix")->valueint, 30);

	{
		struct revert_ctx rc = { .run_id = run, .step_id = "lab-network", .undo = undo };

		assert_int_equal(in->revert(&rc, &e), 0);
		assert_non_null(strstr(rc.report, "deleted veth"));
		assert_int_equal(lab_net_status(name, &st, &e), LAB_NET_ABSENT);
		/* Twice: a no-op. */
		assert_int_equal(in->revert(&rc, &e), 0);
		assert_string_equal(rc.report, "");
	}
	cJSON_Delete(undo);

	/* The bare intent (killed before apply journaled anything): nothing. */
	undo = intent(run, "lab-network");
	{
		struct revert_ctx rc = { .run_id = run, .step_id = "lab-network", .undo = undo };

		assert_int_equal(in->revert(&rc, &e), 0);
		assert_string_equal(rc.report, "");
	}
	/* A journal naming an interface chaoslab never names is not obeyed. */
	cJSON_AddStringToObject(undo, "host_if", "eth0");
	{
		struct revert_ctx rc = { .run_id = run, .step_id = "lab-network", .undo = undo };

		assert_int_equal(in->revert(&rc, &e), -1);
		assert_non_null(strstr(e.msg, "not a lab interface"));
	}
	cJSON_Delete(undo);
	params_release(&p);
	unsetenv("CHAOSLAB_NETNS");
}

/* Whatever a failed test left: namespaces by name, veths by planned name. */
static int teardown_group(void **state)
{
	for (size_t i = 0; i < ntest_names && i < 8; i++) {
		struct lab_net_info info;
		char cmd[200];

		if (!test_names[i][0] || why_not_root[0])
			continue;
		lab_net_plan(test_names[i], &info);
		snprintf(cmd, sizeof(cmd),
			 "ip link del %s 2>/dev/null; ip netns del %s 2>/dev/null", info.host_if,
			 test_names[i]);
		if (system(cmd)) {
			/* nothing was left */
		}
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_check),
		cmocka_unit_test(test_plan_names),
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_default_name),
		cmocka_unit_test(test_cidr_overlap),
		cmocka_unit_test(test_choose_subnet),
		cmocka_unit_test(test_up_status_down),
		cmocka_unit_test(test_not_ours_left_alone),
		cmocka_unit_test(test_crash_leftovers),
		cmocka_unit_test(test_worker_joins_netns),
		cmocka_unit_test(test_injector_undo_and_revert),
	};
	const char *bin = getenv("CHAOSLAB_BIN");

	if (!have_root())
		printf("note: the lab tests will skip: %s\n", why_not_root);
	if (bin && access(bin, X_OK) == 0) {
		chaoslab_bin = bin;
		worker_set_exe(bin);
	}
	return cmocka_run_group_tests(tests, NULL, teardown_group);
}
