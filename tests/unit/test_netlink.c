/* Tests of harness/sys/netlink.c: tc's notation (rates, sizes, handles), the
 * netem distribution loader, and, as root, qdiscs on a veth pair in a
 * throwaway network namespace this test makes with iproute2 (never the lab's,
 * never a host interface): tbf added, read back and deleted through libnl,
 * each step checked with iproute2's real `tc qdisc show`; a foreign root
 * qdisc (added with tc) is neither replaced nor deleted; the revert of the
 * undo data deletes only ours. Live tests skip, saying why, without root,
 * iproute2 or network namespaces. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/features.h"
#include "sys/netlink.h"
#include "support/step.h"

static char ns[32]; /* the throwaway namespace, "" when not made */
static char skip_why[160];

/* ---- helpers ------------------------------------------------------------------ */

/* What `tc qdisc show dev IF` says inside the test namespace. */
static const char *tc_show(char *buf, size_t size, const char *ifname)
{
	return test_capture(buf, size, "ip netns exec %s tc qdisc show dev %s 2>&1", ns, ifname);
}

#define SKIP_UNLESS_LIVE()                                        \
	do {                                                      \
		if (!ns[0]) {                                     \
			print_message("skipped: %s\n", skip_why); \
			skip();                                   \
		}                                                 \
	} while (0)

static int ifindex_of(struct nlconn *c, const char *ifname)
{
	struct cl_error err;
	int ifindex = 0;

	cl_error_clear(&err);
	assert_int_equal(nlconn_link(c, ifname, &ifindex, NULL, NULL, 0, &err), 0);
	return ifindex;
}

/* ---- setup: the throwaway namespace ----------------------------------------------- */

static int group_setup(void **state)
{
	char path[300];

	if (geteuid() != 0) {
		snprintf(skip_why, sizeof(skip_why), "needs root (network namespaces, qdiscs)");
		return 0;
	}
	if (feature_which("ip", path, sizeof(path)) < 0 ||
	    feature_which("tc", path, sizeof(path)) < 0) {
		snprintf(skip_why, sizeof(skip_why), "needs iproute2 (ip and tc)");
		return 0;
	}
	snprintf(ns, sizeof(ns), "cltnl%d", (int)getpid());
	if (test_sh("ip netns add %s", ns) ||
	    test_sh("ip -n %s link add qa type veth peer name qb", ns) ||
	    test_sh("ip -n %s link set qa up && ip -n %s link set qb up", ns, ns)) {
		test_sh("ip netns del %s 2>/dev/null", ns);
		snprintf(skip_why, sizeof(skip_why),
			 "cannot make a network namespace with a veth pair");
		ns[0] = '\0';
	}
	return 0;
}

static int group_teardown(void **state)
{
	if (ns[0])
		test_sh("ip netns del %s", ns);
	return 0;
}

/* ---- tc's notation ---------------------------------------------------------------- */

static void test_rate_parse(void **state)
{
	uint64_t r;

	assert_int_equal(tc_rate_parse("1mbit", &r), 0);
	assert_int_equal(r, 125000);
	assert_int_equal(tc_rate_parse("512kbit", &r), 0);
	assert_int_equal(r, 64000);
	assert_int_equal(tc_rate_parse("1Mibit", &r), 0);
	assert_int_equal(r, 131072);
	assert_int_equal(tc_rate_parse("10mbps", &r), 0); /* bytes, as in tc */
	assert_int_equal(r, 10000000);
	assert_int_equal(tc_rate_parse("8000", &r), 0); /* bare number: bits */
	assert_int_equal(r, 1000);
	assert_int_equal(tc_rate_parse("1.5gbit", &r), 0);
	assert_int_equal(r, 187500000);
	assert_int_equal(tc_rate_parse("", &r), -1);
	assert_int_equal(tc_rate_parse("fast", &r), -1);
	assert_int_equal(tc_rate_parse("1 mbit", &r), -1);
	assert_int_equal(tc_rate_parse("-1mbit", &r), -1);
	assert_int_equal(tc_rate_parse("0", &r), -1);
	assert_int_equal(tc_rate_parse("1furlong", &r), -1);
}

static void test_size_parse(void **state)
{
	uint32_t b;

	assert_int_equal(tc_size_parse("1500", &b), 0);
	assert_int_equal(b, 1500);
	assert_int_equal(tc_size_parse("32kb", &b), 0);
	assert_int_equal(b, 32768);
	assert_int_equal(tc_size_parse("32k", &b), 0);
	assert_int_equal(b, 32768);
	assert_int_equal(tc_size_parse("1mb", &b), 0);
	assert_int_equal(b, 1048576);
	assert_int_equal(tc_size_parse("64kbit", &b), 0); /* tc: 1024-based bits */
	assert_int_equal(b, 8192);
	assert_int_equal(tc_size_parse("10b", &b), 0);
	assert_int_equal(b, 10);
	assert_int_equal(tc_size_parse("5gb", &b), -1); /* beyond 32 bits */
	assert_int_equal(tc_size_parse("1.5", &b), -1);
	assert_int_equal(tc_size_parse("kb", &b), -1);
	assert_int_equal(tc_size_parse("3 kb", &b), -1);
}

static void test_formats(void **state)
{
	char buf[64];
	uint32_t h;

	assert_string_equal(tc_rate_format(125000, buf, sizeof(buf)), "1Mbit");
	assert_string_equal(tc_rate_format(64000, buf, sizeof(buf)), "512Kbit");
	assert_string_equal(tc_rate_format(10, buf, sizeof(buf)), "80bit");
	assert_string_equal(tc_rate_format(125000000, buf, sizeof(buf)), "1Gbit");
	assert_string_equal(tc_time_format(100000, buf, sizeof(buf)), "100ms");
	assert_string_equal(tc_time_format(1500000, buf, sizeof(buf)), "1.5s");
	assert_string_equal(tc_time_format(250, buf, sizeof(buf)), "250us");
	assert_string_equal(qdisc_handle_format(QDISC_CHAOSLAB_HANDLE, buf, sizeof(buf)), "c1ab:");
	assert_string_equal(qdisc_handle_format(0x10010, buf, sizeof(buf)), "1:10");
	assert_string_equal(qdisc_handle_format(QDISC_PARENT_ROOT, buf, sizeof(buf)), "root");
	assert_int_equal(qdisc_handle_parse("c1ab:", &h), 0);
	assert_int_equal(h, QDISC_CHAOSLAB_HANDLE);
	assert_int_equal(qdisc_handle_parse("c1ab:0", &h), 0);
	assert_int_equal(h, QDISC_CHAOSLAB_HANDLE);
	assert_int_equal(qdisc_handle_parse("1:10", &h), 0);
	assert_int_equal(h, 0x10010);
	assert_int_equal(qdisc_handle_parse("root", &h), 0);
	assert_int_equal(h, QDISC_PARENT_ROOT);
	assert_int_equal(qdisc_handle_parse("c1ab", &h), -1);
	assert_int_equal(qdisc_handle_parse("10000:", &h), -1);
	assert_int_equal(qdisc_handle_parse("x:", &h), -1);
	assert_true(netns_name_ok("chaoslab"));
	assert_false(netns_name_ok(""));
	assert_false(netns_name_ok(".."));
	assert_false(netns_name_ok("a/b"));
}

static void test_describe(void **state)
{
	struct qdisc_info q = { .handle = QDISC_CHAOSLAB_HANDLE,
				.parent = QDISC_PARENT_ROOT,
				.kind = "netem",
				.has_netem = true };
	char buf[256];

	q.netem.delay_us = 100000;
	q.netem.jitter_us = 10000;
	q.netem.loss = 5;
	q.netem.rate = 125000;
	q.netem.limit = 15000;
	assert_string_equal(qdisc_describe(&q, buf, sizeof(buf)),
			    "netem c1ab: delay 100ms 10ms loss 5% rate 1Mbit limit 15000");
	memset(&q, 0, sizeof(q));
	q.parent = QDISC_PARENT_ROOT;
	snprintf(q.kind, sizeof(q.kind), "noqueue");
	assert_string_equal(qdisc_describe(&q, buf, sizeof(buf)), "noqueue 0:");
	assert_true(qdisc_is_default(&q));
	q.handle = 0x10000;
	assert_false(qdisc_is_default(&q));
}

/* ---- distributions ---------------------------------------------------------------- */

static void test_dist_load(void **state)
{
	char dir[] = "/tmp/test_netlink_distXXXXXX", file[300], path[300];
	struct cl_error err;
	int16_t *d = NULL;
	size_t n = 0;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/tiny.dist", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("# a comment\n-3 -2 -1\n0 1 0x10\n\n32767 -32768\n", f);
	fclose(f);
	setenv("TC_LIB_DIR", dir, 1);

	cl_error_clear(&err);
	assert_int_equal(netem_dist_load("tiny", &d, &n, path, sizeof(path), &err), 0);
	assert_int_equal(n, 8);
	assert_int_equal(d[0], -3);
	assert_int_equal(d[5], 16);
	assert_int_equal(d[7], -32768);
	assert_string_equal(path, file);
	free(d);

	/* Out of range and junk are refused. */
	f = fopen(file, "w");
	fputs("1 2 40000\n", f);
	fclose(f);
	assert_int_equal(netem_dist_load("tiny", &d, &n, NULL, 0, &err), -1);
	assert_null(d);
	f = fopen(file, "w");
	fputs("1 2 x\n", f);
	fclose(f);
	assert_int_equal(netem_dist_load("tiny", &d, &n, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "not a number"));

	/* A missing table names where it looked. */
	assert_int_equal(netem_dist_load("no-such-shape", &d, &n, NULL, 0, &err), -1);
	assert_non_null(strstr(err.msg, "no netem distribution table 'no-such-shape'"));
	assert_non_null(strstr(err.msg, dir));
	assert_non_null(strstr(err.msg, "/usr/lib/tc/no-such-shape.dist"));
	assert_int_equal(netem_dist_load("../etc/passwd", &d, &n, NULL, 0, &err), -1);

	unlink(file);
	rmdir(dir);
	unsetenv("TC_LIB_DIR");

	/* iproute2's own tables, where installed: 4096 values each. */
	if (netem_dist_load("normal", &d, &n, path, sizeof(path), &err) == 0) {
		assert_int_equal(n, 4096);
		free(d);
	} else {
		print_message("note: no iproute2 normal.dist here: %s\n", err.msg);
	}
}

/* ---- live: a throwaway namespace ---------------------------------------------------- */

static void test_open_errors(void **state)
{
	struct nlconn *c = NULL;
	struct cl_error err;
	int ifindex;

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	assert_int_equal(nlconn_open(&c, "no-such-netns-x", &err), -1);
	assert_null(c);
	assert_non_null(strstr(err.msg, "no network namespace 'no-such-netns-x'"));
	assert_int_equal(nlconn_open(&c, "../x", &err), -1);
	assert_int_equal(nlconn_open(&c, ns, &err), 0);
	assert_string_equal(nlconn_netns(c), ns);
	assert_int_equal(nlconn_link(c, "nosuchif0", &ifindex, NULL, NULL, 0, &err), 1);
	assert_int_equal(nlconn_link(c, "qa", &ifindex, NULL, NULL, 0, &err), 0);
	/* Inside, only the namespace's own interfaces are seen. */
	if (access("/sys/class/net/eth0", F_OK) == 0)
		assert_int_equal(nlconn_link(c, "eth0", &ifindex, NULL, NULL, 0, &err), 1);
	nlconn_close(c);
}

static void test_tbf_add_read_delete(void **state)
{
	struct tbf_opts o = { .rate = 125000, .burst = 16384, .latency_us = 50000 };
	struct nlconn *c = NULL;
	struct qdisc_info q;
	struct cl_error err;
	char out[2048], kind[32];
	unsigned int mtu;
	int ifindex;

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	assert_int_equal(nlconn_open(&c, ns, &err), 0);
	assert_int_equal(nlconn_link(c, "qa", &ifindex, &mtu, kind, sizeof(kind), &err), 0);
	assert_string_equal(kind, "veth");
	assert_int_equal(mtu, 1500);

	/* Before: the veth's default, which is what we may replace. */
	assert_int_equal(qdisc_root(c, ifindex, &q, &err), 1);
	assert_true(qdisc_is_default(&q));
	assert_non_null(strstr(tc_show(out, sizeof(out), "qa"), "noqueue 0: root"));

	if (qdisc_tbf_add(c, ifindex, QDISC_CHAOSLAB_HANDLE, &o, &err))
		fail_msg("tbf add: %s", err.msg);
	tc_show(out, sizeof(out), "qa");
	print_message("tc says: %s", out);
	assert_non_null(strstr(out, "qdisc tbf c1ab: root"));
	assert_non_null(strstr(out, "rate 1Mbit"));
	assert_non_null(strstr(out, "burst 16Kb"));
	assert_non_null(strstr(out, "lat 50"));

	/* Read back through netlink: the same numbers. */
	assert_int_equal(qdisc_root(c, ifindex, &q, &err), 1);
	assert_string_equal(q.kind, "tbf");
	assert_int_equal(q.handle, QDISC_CHAOSLAB_HANDLE);
	assert_int_equal(q.parent, QDISC_PARENT_ROOT);
	assert_true(q.has_tbf);
	assert_int_equal(q.tbf.rate, 125000);
	assert_in_range(q.tbf.burst, 16384 - 16, 16384 + 16);
	/* limit = rate × latency + burst, as tc computes it. */
	assert_in_range(q.tbf.limit, 6250 + 16384 - 64, 6250 + 16384 + 64);

	/* A second add never replaces, ours or not. */
	assert_int_equal(qdisc_tbf_add(c, ifindex, QDISC_CHAOSLAB_HANDLE, &o, &err), -1);
	assert_int_equal(err.errnum, EEXIST);

	/* Delete: the kernel checks kind and handle. */
	assert_int_equal(qdisc_delete_root(c, ifindex, QDISC_CHAOSLAB_HANDLE, "netem", &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(qdisc_delete_root(c, ifindex, 0x10000, "tbf", &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_non_null(strstr(tc_show(out, sizeof(out), "qa"), "tbf c1ab: root"));
	if (qdisc_delete_root(c, ifindex, QDISC_CHAOSLAB_HANDLE, "tbf", &err))
		fail_msg("delete: %s", err.msg);
	tc_show(out, sizeof(out), "qa");
	assert_null(strstr(out, "tbf"));
	assert_non_null(strstr(out, "noqueue 0: root"));
	/* Deleting again: the kernel says it is not there. */
	assert_int_equal(qdisc_delete_root(c, ifindex, QDISC_CHAOSLAB_HANDLE, "tbf", &err), -1);
	assert_int_equal(qdisc_root(c, ifindex, &q, &err), 1);
	assert_true(qdisc_is_default(&q));
	nlconn_close(c);
}

static void test_foreign_root_is_left_alone(void **state)
{
	struct tbf_opts o = { .rate = 125000, .burst = 16384, .limit = 30000 };
	struct qdisc_target t = { .ifname = "qb" };
	struct nlconn *c = NULL;
	struct cl_error err;
	char out[2048];

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	snprintf(t.netns, sizeof(t.netns), "%s", ns);
	assert_int_equal(
		test_sh("ip netns exec %s tc qdisc add dev qb root handle 1: tbf rate 2mbit "
			"burst 10kb latency 20ms",
			ns),
		0);
	assert_int_equal(nlconn_open(&c, ns, &err), 0);
	t.ifindex = ifindex_of(c, "qb");

	assert_int_equal(qdisc_claim_root(c, &t, "tbf", &err), -1);
	print_message("refusal: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "refusing to replace the root qdisc of qb in netns"));
	assert_non_null(strstr(err.msg, "tbf 1: rate 2Mbit"));
	assert_non_null(strstr(err.msg, "not chaoslab's"));
	/* The kernel refuses too: no NLM_F_REPLACE. */
	assert_int_equal(qdisc_tbf_add(c, t.ifindex, QDISC_CHAOSLAB_HANDLE, &o, &err), -1);
	assert_int_equal(err.errnum, EEXIST);
	assert_int_equal(qdisc_delete_root(c, t.ifindex, QDISC_CHAOSLAB_HANDLE, "tbf", &err), -1);
	tc_show(out, sizeof(out), "qb");
	assert_non_null(strstr(out, "qdisc tbf 1: root"));
	assert_non_null(strstr(out, "rate 2Mbit"));

	assert_int_equal(test_sh("ip netns exec %s tc qdisc del dev qb root", ns), 0);
	assert_int_equal(qdisc_claim_root(c, &t, "tbf", &err), 0);
	nlconn_close(c);
}

static void test_undo_revert(void **state)
{
	struct tbf_opts o = { .rate = 250000, .burst = 8192, .latency_us = 100000 };
	struct qdisc_target t = { .ifname = "qa" };
	struct nlconn *c = NULL;
	struct cl_error err;
	cJSON *undo = cJSON_CreateObject(), *bare = cJSON_CreateObject();
	char report[256], out[2048], netns[64], ifname[16], kind[32];
	uint32_t handle;

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	snprintf(t.netns, sizeof(t.netns), "%s", ns);
	assert_int_equal(nlconn_open(&c, ns, &err), 0);
	t.ifindex = ifindex_of(c, "qa");
	assert_int_equal(qdisc_undo_set(undo, &t, "tbf", &err), 0);
	assert_int_equal(qdisc_undo_get(undo, netns, sizeof(netns), ifname, sizeof(ifname), &handle,
					kind, sizeof(kind)),
			 0);
	assert_string_equal(netns, ns);
	assert_string_equal(ifname, "qa");
	assert_string_equal(kind, "tbf");
	assert_int_equal(handle, QDISC_CHAOSLAB_HANDLE);
	assert_string_equal(cJSON_GetObjectItem(undo, "handle")->valuestring, "c1ab:");

	/* Apply never ran: nothing to do. */
	assert_int_equal(qdisc_undo_revert(bare, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	assert_int_equal(qdisc_undo_revert(undo, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");

	/* Ours: deleted, then idempotent. */
	assert_int_equal(qdisc_tbf_add(c, t.ifindex, QDISC_CHAOSLAB_HANDLE, &o, &err), 0);
	assert_int_equal(qdisc_undo_revert(undo, report, sizeof(report), &err), 0);
	assert_non_null(strstr(report, "deleted tbf c1ab: from qa in netns"));
	assert_null(strstr(tc_show(out, sizeof(out), "qa"), "tbf"));
	assert_int_equal(qdisc_undo_revert(undo, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");

	/* Somebody replaced ours with theirs: left alone. */
	assert_int_equal(
		test_sh("ip netns exec %s tc qdisc add dev qa root handle 2: tbf rate 1mbit "
			"burst 10kb latency 20ms",
			ns),
		0);
	assert_int_equal(qdisc_undo_revert(undo, report, sizeof(report), &err), 0);
	assert_non_null(strstr(report, "left tbf 2:"));
	assert_non_null(strstr(tc_show(out, sizeof(out), "qa"), "qdisc tbf 2: root"));
	assert_int_equal(test_sh("ip netns exec %s tc qdisc del dev qa root", ns), 0);

	/* A namespace that is gone took its qdiscs with it. */
	cJSON_ReplaceItemInObject(undo, "netns", cJSON_CreateString("cltnl-gone"));
	assert_int_equal(qdisc_undo_revert(undo, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	cJSON_Delete(undo);
	cJSON_Delete(bare);
	nlconn_close(c);
}

static void test_target_rules(void **state)
{
	struct qdisc_where w = { .lab_netns = ns, .lab_host_if = "qa-host-none", .lab_if = "qa" };
	struct qdisc_target t;
	struct nlconn *c = NULL;
	struct cl_error err;

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	/* The lab end: inside the lab's namespace. */
	w.lab_end = true;
	assert_int_equal(qdisc_target_open(&w, &t, &c, &err), 0);
	assert_string_equal(t.netns, ns);
	assert_string_equal(t.ifname, "qa");
	assert_true(t.lab);
	assert_true(t.ifindex > 0);
	nlconn_close(c);

	/* The host end missing: the lab is not up. */
	w.lab_end = false;
	assert_int_equal(qdisc_target_open(&w, &t, &c, &err), -1);
	assert_null(c);
	assert_non_null(strstr(err.msg, "is not up: no interface qa-host-none"));

	/* An interface in the lab's namespace is the lab's. */
	w.interface = "qb";
	w.netns = ns;
	assert_int_equal(qdisc_target_open(&w, &t, &c, &err), 0);
	nlconn_close(c);

	/* A host interface, or another namespace, needs allow_host. */
	w.netns = NULL;
	w.interface = "eth0";
	assert_int_equal(qdisc_target_open(&w, &t, &c, &err), -1);
	assert_string_equal(
		err.msg, "refusing to touch host interface eth0: set allow_host_interface: true");
	w.interface = "lo";
	assert_int_equal(qdisc_target_open(&w, &t, &c, &err), -1);
	assert_non_null(strstr(err.msg, "refusing to touch host interface lo"));
	w.lab_netns = "some-other-lab";
	w.interface = "qb";
	w.netns = ns;
	assert_int_equal(qdisc_target_open(&w, &t, &c, &err), -1);
	assert_non_null(strstr(err.msg, "refusing to touch interface qb in network namespace"));
	/* A host-end name that is no veth is refused too: lo posing as it. */
	w.lab_netns = ns;
	w.lab_host_if = "lo";
	w.interface = NULL;
	w.netns = NULL;
	assert_int_equal(qdisc_target_open(&w, &t, &c, &err), -1);
	assert_non_null(strstr(err.msg, "not a veth"));
	/* With allow_host it opens (nothing is changed by opening). */
	w.allow_host = true;
	assert_int_equal(qdisc_target_open(&w, &t, &c, &err), 0);
	assert_string_equal(t.ifname, "lo");
	nlconn_close(c);
}

static void test_netem_add_without_netem(void **state)
{
	struct netem_opts o = { .delay_us = 100000, .rate = 125000, .limit = 1000 };
	struct nlconn *c = NULL;
	struct cl_error err;
	struct feature f;
	int ifindex;

	SKIP_UNLESS_LIVE();
	if (feature_probe_netem(NULL, &f) != FEATURE_MISSING) {
		print_message("skipped: this kernel may have sch_netem (%s); the VM test covers "
			      "netem\n",
			      f.detail);
		skip();
	}
	cl_error_clear(&err);
	assert_int_equal(nlconn_open(&c, ns, &err), 0);
	ifindex = ifindex_of(c, "qa");
	assert_int_equal(qdisc_netem_add(c, ifindex, QDISC_CHAOSLAB_HANDLE, &o, &err), -1);
	print_message("kernel says: %s\n", err.msg);
	assert_int_equal(err.errnum, ENOENT);
	assert_non_null(strstr(err.msg, "unknown"));
	nlconn_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_parse),
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_dist_load),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_tbf_add_read_delete),
		cmocka_unit_test(test_foreign_root_is_left_alone),
		cmocka_unit_test(test_undo_revert),
		cmocka_unit_test(test_target_rules),
		cmocka_unit_test(test_netem_add_without_netem),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
