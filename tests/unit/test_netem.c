/* Tests of injectors/netem.c through its descriptor: parameter checks;
 * supported() on this kernel (without sch_netem it must say so, with
 * CONFIG_NET_SCH_NETEM and the remedy, never libnl's "Object not found");
 * and, as root, on a lab-like veth pair this test makes with iproute2 in a
 * throwaway namespace ($CHAOSLAB_NETNS points the injector at it): the queue
 * limit sized to the delay (journaled before the qdisc is added), the
 * refusal of a host interface without allow_host_interface, and either the
 * kernel's "no netem" turned into that advice with nothing left behind, or,
 * where the kernel has netem, the qdisc as `tc qdisc show` sees it (delay,
 * loss, rate) and revert removing it. tests/vm/ runs netem end to end in a
 * kernel that has it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/registry.h"
#include "lab/network.h"
#include "sys/features.h"
#include "sys/netlink.h"
#include "support/step.h"

static const struct injector *netem;
static struct lab_net_info lab; /* the throwaway lab's names; netns "" if not made */
static char skip_why[160];
static bool have_netem; /* this kernel has sch_netem (loaded, built in, loadable) */

static const char *tc_host(char *buf, size_t size)
{
	return test_capture(buf, size, "tc qdisc show dev %s 2>&1", lab.host_if);
}

#define SKIP_UNLESS_LIVE()                                        \
	do {                                                      \
		if (!lab.netns[0]) {                              \
			print_message("skipped: %s\n", skip_why); \
			skip();                                   \
		}                                                 \
	} while (0)

/* Parse, validate and apply `with` as the engine would (support/step.h). */
static int step_apply(struct test_step *s, const char *with, struct cl_error *err)
{
	return test_step_apply(s, "netem", "test-netem", "delay", NULL, with, err);
}

static int group_setup(void **state)
{
	char path[300], name[32];
	struct kmod_info k;

	netem = injector_find("netem");
	if (!netem)
		return -1;
	switch (feature_kmod(NULL, "sch_netem", "CONFIG_NET_SCH_NETEM", &k)) {
	case KMOD_LOADED:
	case KMOD_BUILTIN:
	case KMOD_LOADABLE:
		have_netem = true;
		break;
	default:
		have_netem = false;
	}
	if (geteuid() != 0) {
		snprintf(skip_why, sizeof(skip_why), "needs root (network namespaces, qdiscs)");
		return 0;
	}
	if (feature_which("ip", path, sizeof(path)) < 0 ||
	    feature_which("tc", path, sizeof(path)) < 0) {
		snprintf(skip_why, sizeof(skip_why), "needs iproute2 (ip and tc)");
		return 0;
	}
	snprintf(name, sizeof(name), "cltn%d", (int)getpid());
	setenv("CHAOSLAB_NETNS", name, 1);
	lab_net_plan(name, &lab);
	if (test_sh("ip netns add %s", lab.netns) ||
	    test_sh("ip link add %s type veth peer name %s netns %s", lab.host_if, lab.lab_if,
		    lab.netns) ||
	    test_sh("ip link set %s up && ip -n %s link set %s up", lab.host_if, lab.netns,
		    lab.lab_if)) {
		test_sh("ip link del %s 2>/dev/null; ip netns del %s 2>/dev/null", lab.host_if,
			lab.netns);
		snprintf(skip_why, sizeof(skip_why),
			 "cannot make a network namespace with a veth pair");
		lab.netns[0] = '\0';
	}
	return 0;
}

static int group_teardown(void **state)
{
	if (lab.netns[0])
		test_sh("ip link del %s 2>/dev/null; ip netns del %s", lab.host_if, lab.netns);
	return 0;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_descriptor(void **state)
{
	assert_string_equal(netem->name, "netem");
	assert_non_null(netem->apply);
	assert_non_null(netem->revert);
	assert_non_null(netem->validate);
	assert_non_null(netem->supported);
}

static void test_validate(void **state)
{
	static const struct {
		const char *with, *msg;
	} bad[] = {
		{ "{}", "netem would change nothing" },
		{ "{\"jitter_ms\": 10}", "jitter_ms needs delay_ms" },
		{ "{\"delay_ms\": 100, \"delay_correlation\": 25}",
		  "delay_correlation needs jitter_ms" },
		{ "{\"delay_ms\": 100, \"distribution\": \"normal\"}",
		  "distribution normal needs jitter_ms" },
		{ "{\"loss_percent\": 0, \"loss_correlation\": 25, \"delay_ms\": 1}",
		  "loss_correlation needs loss_percent" },
		{ "{\"loss_percent\": 5, \"duplicate_correlation\": 5}",
		  "duplicate_correlation needs duplicate_percent" },
		{ "{\"loss_percent\": 5, \"corrupt_correlation\": 5}",
		  "corrupt_correlation needs corrupt_percent" },
		{ "{\"reorder_percent\": 25, \"loss_percent\": 1}",
		  "reorder_percent needs delay_ms" },
		{ "{\"delay_ms\": 10, \"gap\": 5}", "gap needs reorder_percent" },
		{ "{\"delay_ms\": 10, \"reorder_correlation\": 5}",
		  "reorder_correlation needs reorder_percent" },
		{ "{\"rate\": \"quick\"}", "rate must be a rate in tc notation" },
		{ "{\"rate\": \"100gbit\"}", "below 34gbit" },
		{ "{\"delay_ms\": 10, \"netns\": \"x\"}", "netns needs interface" },
		{ "{\"delay_ms\": 10, \"interface\": \"x\", \"end\": \"host\"}",
		  "end and interface exclude each other" },
	};
	static const char *const good[] = {
		"{\"delay_ms\": 100}",
		"{\"delay_ms\": 100, \"jitter_ms\": 20, \"delay_correlation\": 25, "
		"\"distribution\": \"normal\"}",
		"{\"loss_percent\": 10, \"loss_correlation\": 25}",
		"{\"delay_ms\": 10, \"reorder_percent\": 25, \"reorder_correlation\": 50, \"gap\": 5}",
		"{\"rate\": \"1mbit\"}",
		"{\"duplicate_percent\": 1, \"corrupt_percent\": 0.1}",
		"{\"delay_ms\": 5, \"interface\": \"veth0\", \"netns\": \"other\", "
		"\"allow_host_interface\": true}",
	};
	struct params p;
	struct cl_error err;
	char msg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cl_error_clear(&err);
		if (test_params_parse(&p, netem->params, bad[i].with, &err))
			fail_msg("%s: %s", bad[i].with, err.msg);
		assert_int_equal(netem->validate(&p, msg, sizeof(msg)), -1);
		if (!strstr(msg, bad[i].msg))
			fail_msg("%s: got '%s'", bad[i].with, msg);
		params_release(&p);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (test_params_parse(&p, netem->params, good[i], &err))
			fail_msg("%s: %s", good[i], err.msg);
		if (netem->validate(&p, msg, sizeof(msg)))
			fail_msg("%s: %s", good[i], msg);
		params_release(&p);
	}
	/* Out of bounds is the loader's job. */
	assert_int_equal(test_params_parse(&p, netem->params, "{\"loss_percent\": 150}", &err), -1);
	assert_int_equal(
		test_params_parse(&p, netem->params, "{\"distribution\": \"gauss\"}", &err), -1);
}

static void test_supported_says_why(void **state)
{
	char why[768] = "";
	struct params p;
	struct cl_error err;
	int rc;

	rc = netem->supported(NULL, why, sizeof(why));
	print_message("supported: %d %s\n", rc, why);
	if (have_netem && geteuid() == 0) {
		assert_int_equal(rc, 0);
		return;
	}
	if (geteuid() != 0) {
		assert_int_equal(rc, -1);
		assert_non_null(strstr(why, "CAP_NET_ADMIN"));
		return;
	}
	/* This machine: no sch_netem. The message says so and what to do,
	 * remedy first, within the line callers keep (256 bytes). */
	assert_int_equal(rc, -1);
	assert_non_null(strstr(why, "has no sch_netem"));
	assert_non_null(strstr(why, "(CONFIG_NET_SCH_NETEM"));
	assert_non_null(strstr(why, "linux-image"));
	assert_non_null(strstr(why, "modprobe sch_netem"));
	assert_null(strstr(why, "Object not found"));
	assert_true(strlen(why) < 256);
	/* For a drill about to run: the same (after trying modprobe where it could). */
	cl_error_clear(&err);
	assert_int_equal(test_params_parse(&p, netem->params, "{\"delay_ms\": 100}", &err), 0);
	assert_int_equal(netem->supported(&p, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "has no sch_netem"));
	assert_non_null(strstr(why, "modprobe sch_netem"));
	params_release(&p);
}

/* The queue limit journaled for `with`; the qdisc itself may or may not be
 * added (this kernel may lack netem): the limit is in the undo data first. */
static double limit_for(const char *with)
{
	struct test_step s;
	struct cl_error err;
	char report[256];
	const cJSON *l;
	double v;

	cl_error_clear(&err);
	if (step_apply(&s, with, &err) && !strstr(err.msg, "sch_netem"))
		fail_msg("apply %s: %s", with, err.msg);
	l = cJSON_GetObjectItem(s.undo, "limit");
	assert_true(cJSON_IsNumber(l));
	v = l->valuedouble;
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	test_step_free(&s);
	return v;
}

static void test_limit_sized_to_delay(void **state)
{
	SKIP_UNLESS_LIVE();
	/* 100000 pps assumed × 0.1 s × 1.5 */
	assert_int_equal((int)limit_for("{\"delay_ms\": 100}"), 15000);
	/* 100000 × (0.2 + 0.05) × 1.5 */
	assert_int_equal((int)limit_for("{\"delay_ms\": 200, \"jitter_ms\": 50}"), 37500);
	/* Short delays keep the kernel's 1000. */
	assert_int_equal((int)limit_for("{\"delay_ms\": 2}"), 1000);
	/* With a rate, pps = rate / 64 bytes: 1 Gbit → 1953125 × 0.1 × 1.5 */
	assert_int_equal((int)limit_for("{\"delay_ms\": 100, \"rate\": \"1gbit\"}"), 292969);
	assert_int_equal((int)limit_for("{\"delay_ms\": 100, \"rate\": \"1mbit\"}"), 1000);
	/* Given: as given. */
	assert_int_equal((int)limit_for("{\"delay_ms\": 100, \"limit\": 500}"), 500);
}

static void test_host_interface_refused(void **state)
{
	struct test_step s;
	struct cl_error err;
	char before[2048], after[2048], report[256];

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	test_capture(before, sizeof(before), "tc qdisc show");
	assert_int_equal(step_apply(&s, "{\"delay_ms\": 100, \"interface\": \"lo\"}", &err), -1);
	assert_non_null(strstr(
		err.msg, "refusing to touch host interface lo: set allow_host_interface: true"));
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	test_step_free(&s);
	if (access("/sys/class/net/eth0", F_OK) == 0) {
		assert_int_equal(
			step_apply(&s, "{\"loss_percent\": 5, \"interface\": \"eth0\"}", &err), -1);
		assert_string_equal(err.msg, "netem: refusing to touch host interface eth0: set "
					     "allow_host_interface: true");
		test_step_free(&s);
	}
	/* Not the lab's namespace: refused too. */
	assert_int_equal(step_apply(&s,
				    "{\"delay_ms\": 100, \"interface\": \"eth0\", \"netns\": "
				    "\"elsewhere\"}",
				    &err),
			 -1);
	assert_non_null(strstr(err.msg, "is not the lab's"));
	test_step_free(&s);
	assert_string_equal(test_capture(after, sizeof(after), "tc qdisc show"), before);
}

static void test_apply_here(void **state)
{
	struct test_step s;
	struct cl_error err;
	char out[2048], report[256];
	int rc;

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	rc = step_apply(&s,
			"{\"delay_ms\": 100, \"jitter_ms\": 10, \"loss_percent\": 5, "
			"\"rate\": \"1mbit\"}",
			&err);
	tc_host(out, sizeof(out));
	if (!have_netem) {
		/* The kernel's ENOENT, as advice; nothing changed; revert is fine. */
		print_message("apply: %s\n", err.msg);
		assert_int_equal(rc, -1);
		assert_int_equal(err.code, CL_EXIT_PRIVILEGE);
		assert_non_null(strstr(err.msg, "has no sch_netem (CONFIG_NET_SCH_NETEM"));
		assert_non_null(strstr(err.msg, "modprobe sch_netem"));
		assert_null(strstr(err.msg, "Object not found"));
		assert_int_equal(err.errnum, ENOENT);
		assert_null(strstr(out, "netem"));
		assert_string_equal(cJSON_GetObjectItem(s.undo, "interface")->valuestring,
				    lab.host_if);
		assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
		assert_string_equal(report, "");
		test_step_free(&s);
		return;
	}
	if (rc)
		fail_msg("apply: %s", err.msg);
	print_message("tc says: %s", out);
	assert_non_null(strstr(out, "qdisc netem c1ab: root"));
	assert_non_null(strstr(out, "delay 100ms  10ms") ? out : strstr(out, "delay 100ms 10ms"));
	assert_non_null(strstr(out, "loss 5%"));
	assert_non_null(strstr(out, "rate 1Mbit"));
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_non_null(strstr(report, "deleted netem c1ab:"));
	assert_null(strstr(tc_host(out, sizeof(out)), "netem"));
	test_step_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_supported_says_why),
		cmocka_unit_test(test_limit_sized_to_delay),
		cmocka_unit_test(test_host_interface_refused),
		cmocka_unit_test(test_apply_here),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
