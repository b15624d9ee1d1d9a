/* Tests of injectors/bandwidth.c through its descriptor: parameter checks,
 * and, as root, apply and revert on a lab-like veth pair this test makes
 * with iproute2 in a throwaway namespace ($CHAOSLAB_NETNS points the
 * injector at it; never the real lab, never a host interface), each effect
 * checked with iproute2's `tc qdisc show`: tbf c1ab: with the asked rate on
 * the host end or the lab end, revert removing it (idempotent, also after the
 * engineer deleted it), the refusals (a host interface without
 * allow_host_interface, a foreign root qdisc, a burst below one packet), and
 * revert when apply never ran. Also the qdisc verifier (verifiers/qdisc.c)
 * reading the same qdisc back: by injection, by the lab's default end, by
 * interface, kind and handle, and what it observes. */
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

static const struct injector *bw;
static struct lab_net_info lab; /* the throwaway lab's names; netns "" if not made */
static char skip_why[160];

/* `tc qdisc show` of the lab's host end (in the host namespace). */
static const char *tc_host(char *buf, size_t size)
{
	return test_capture(buf, size, "tc qdisc show dev %s 2>&1", lab.host_if);
}

/* `tc qdisc show` of the lab end, inside the namespace. */
static const char *tc_lab(char *buf, size_t size)
{
	return test_capture(buf, size, "ip netns exec %s tc qdisc show dev %s 2>&1", lab.netns,
			    lab.lab_if);
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
	return test_step_apply(s, "bandwidth", "test-bandwidth", "slow", NULL, with, err);
}

/* ---- setup ------------------------------------------------------------------------ */

static int group_setup(void **state)
{
	char path[300], name[32];

	bw = injector_find("bandwidth");
	if (!bw)
		return -1;
	if (geteuid() != 0) {
		snprintf(skip_why, sizeof(skip_why), "needs root (network namespaces, qdiscs)");
		return 0;
	}
	if (feature_which("ip", path, sizeof(path)) < 0 ||
	    feature_which("tc", path, sizeof(path)) < 0) {
		snprintf(skip_why, sizeof(skip_why), "needs iproute2 (ip and tc)");
		return 0;
	}
	/* Named so the injector's lab is this one: the names the lab would use. */
	snprintf(name, sizeof(name), "cltb%d", (int)getpid());
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
	assert_string_equal(bw->name, "bandwidth");
	assert_non_null(bw->apply);
	assert_non_null(bw->revert);
	assert_non_null(bw->validate);
	assert_non_null(bw->supported);
	assert_null(bw->worker);
}

static void test_validate(void **state)
{
	static const struct {
		const char *with, *msg;
	} bad[] = {
		{ "{\"rate\": \"fast\"}", "rate must be a rate in tc notation" },
		{ "{\"rate\": \"40gbit\"}", "below 17gbit" },
		{ "{\"rate\": \"1mbit\", \"burst\": \"lots\"}", "burst must be a size" },
		{ "{\"rate\": \"1mbit\", \"limit\": \"64kb\", \"latency_ms\": 50}",
		  "limit and latency_ms exclude each other" },
		{ "{\"rate\": \"1mbit\", \"netns\": \"x\"}", "netns needs interface" },
		{ "{\"rate\": \"1mbit\", \"interface\": \"x\", \"end\": \"lab\"}",
		  "end and interface exclude each other" },
		{ "{\"rate\": \"1mbit\", \"interface\": \"x\", \"netns\": \"a/b\"}",
		  "not a network namespace name" },
	};
	struct params p;
	struct cl_error err;
	char msg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cl_error_clear(&err);
		assert_int_equal(test_params_parse(&p, bw->params, bad[i].with, &err), 0);
		assert_int_equal(bw->validate(&p, msg, sizeof(msg)), -1);
		if (!strstr(msg, bad[i].msg))
			fail_msg("%s: got '%s'", bad[i].with, msg);
		params_release(&p);
	}
	assert_int_equal(test_params_parse(&p, bw->params, "{}", &err), -1); /* rate is required */
	assert_int_equal(test_params_parse(&p, bw->params,
					   "{\"rate\": \"1mbit\", \"burst\": \"32kb\"}", &err),
			 0);
	assert_int_equal(bw->validate(&p, msg, sizeof(msg)), 0);
	params_release(&p);
}

static void test_supported(void **state)
{
	char why[512] = "";
	struct feature f;

	/* tbf is in this kernel; as root that is all it needs. */
	if (geteuid() == 0 && feature_probe_tbf(NULL, &f) != FEATURE_MISSING)
		assert_int_equal(bw->supported(NULL, why, sizeof(why)), 0);
	else
		assert_int_equal(bw->supported(NULL, why, sizeof(why)), -1);
}

static void test_apply_revert_host_end(void **state)
{
	struct test_step s;
	struct cl_error err;
	char out[2048], report[256];

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	if (step_apply(&s, "{\"rate\": \"1mbit\", \"burst\": \"32kb\", \"latency_ms\": 100}", &err))
		fail_msg("apply: %s", err.msg);
	tc_host(out, sizeof(out));
	print_message("tc says: %s", out);
	assert_non_null(strstr(out, "qdisc tbf c1ab: root"));
	assert_non_null(strstr(out, "rate 1Mbit burst 32Kb lat 100ms"));
	assert_string_equal(cJSON_GetObjectItem(s.undo, "interface")->valuestring, lab.host_if);
	assert_string_equal(cJSON_GetObjectItem(s.undo, "netns")->valuestring, "");
	assert_string_equal(cJSON_GetObjectItem(s.undo, "kind")->valuestring, "tbf");
	assert_string_equal(cJSON_GetObjectItem(s.undo, "handle")->valuestring, "c1ab:");
	/* The other end is untouched. */
	assert_null(strstr(tc_lab(out, sizeof(out)), "tbf"));

	/* A second step on the same link is refused: it is ours already. */
	{
		struct test_step s2;

		assert_int_equal(step_apply(&s2, "{\"rate\": \"2mbit\"}", &err), -1);
		assert_non_null(strstr(err.msg, "already has chaoslab's root qdisc"));
		test_step_free(&s2);
	}

	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_non_null(strstr(report, "deleted tbf c1ab: from"));
	tc_host(out, sizeof(out));
	assert_null(strstr(out, "tbf"));
	assert_non_null(strstr(out, "noqueue"));
	/* Idempotent. */
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	test_step_free(&s);
}

static void test_apply_lab_end_default_burst(void **state)
{
	struct test_step s;
	struct cl_error err;
	char out[2048], report[256];

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	if (step_apply(&s, "{\"rate\": \"512kbit\", \"end\": \"lab\", \"limit\": \"20kb\"}", &err))
		fail_msg("apply: %s", err.msg);
	tc_lab(out, sizeof(out));
	print_message("tc in the lab says: %s", out);
	assert_non_null(strstr(out, "qdisc tbf c1ab: root"));
	assert_non_null(strstr(out, "rate 512Kbit"));
	/* 10 ms of 64000 B/s is below 3 packets: 3 × 1514 = 4542 bytes, which
	 * tc prints back from the bucket's time as 4541 or 4542. */
	assert_true(strstr(out, "burst 4541b") || strstr(out, "burst 4542b"));
	/* tc shows the limit as latency: (20480 - 4542) / 64000 s. */
	assert_true(strstr(out, "lat 249ms") || strstr(out, "lat 248ms"));
	assert_string_equal(cJSON_GetObjectItem(s.undo, "netns")->valuestring, lab.netns);
	assert_null(strstr(tc_host(out, sizeof(out)), "tbf"));
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_null(strstr(tc_lab(out, sizeof(out)), "tbf"));
	test_step_free(&s);
}

static void test_engineer_fix_then_revert(void **state)
{
	struct test_step s;
	struct cl_error err;
	char out[2048], report[256];

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	if (step_apply(&s, "{\"rate\": \"1mbit\"}", &err))
		fail_msg("apply: %s", err.msg);
	/* The engineer finds and deletes it, as the runbook says. */
	assert_int_equal(test_sh("tc qdisc del dev %s root", lab.host_if), 0);
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	assert_null(strstr(tc_host(out, sizeof(out)), "tbf"));
	test_step_free(&s);
}

static void test_refusals(void **state)
{
	struct test_step s;
	struct cl_error err;
	char before[2048], after[2048], report[256];

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	/* A host interface without allow_host_interface: nothing touched. */
	test_capture(before, sizeof(before), "tc qdisc show dev lo");
	assert_int_equal(step_apply(&s, "{\"rate\": \"1mbit\", \"interface\": \"lo\"}", &err), -1);
	assert_non_null(strstr(
		err.msg, "refusing to touch host interface lo: set allow_host_interface: true"));
	assert_string_equal(test_capture(after, sizeof(after), "tc qdisc show dev lo"), before);
	assert_null(cJSON_GetObjectItem(s.undo, "interface"));
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	test_step_free(&s);

	/* A foreign root qdisc: named, and left as it was, revert included. */
	assert_int_equal(test_sh("tc qdisc add dev %s root handle 1: tbf rate 3mbit burst 10kb "
				 "latency 20ms",
				 lab.host_if),
			 0);
	assert_int_equal(step_apply(&s, "{\"rate\": \"1mbit\"}", &err), -1);
	print_message("refusal: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "refusing to replace the root qdisc of"));
	assert_non_null(strstr(err.msg, "tbf 1: rate 3Mbit"));
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_non_null(strstr(tc_host(after, sizeof(after)), "qdisc tbf 1: root"));
	assert_non_null(strstr(after, "rate 3Mbit"));
	assert_int_equal(test_sh("tc qdisc del dev %s root", lab.host_if), 0);
	test_step_free(&s);

	/* A burst below one full packet would drop every full-size packet. */
	assert_int_equal(step_apply(&s, "{\"rate\": \"1mbit\", \"burst\": \"1000\"}", &err), -1);
	assert_non_null(strstr(err.msg, "below one full packet"));
	assert_null(strstr(tc_host(after, sizeof(after)), "tbf"));
	test_step_free(&s);
}

static void test_lab_not_up(void **state)
{
	struct test_step s;
	struct cl_error err;
	char report[256];

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	setenv("CHAOSLAB_NETNS", "cltb-nolab", 1);
	assert_int_equal(step_apply(&s, "{\"rate\": \"1mbit\"}", &err), -1);
	setenv("CHAOSLAB_NETNS", lab.netns, 1);
	print_message("error: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "the lab network 'cltb-nolab' is not up"));
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	test_step_free(&s);
}

static void test_revert_when_apply_never_ran(void **state)
{
	struct test_step s = { .in = bw, .run = "test-bandwidth", .id = "slow" };
	struct cl_error err;
	char report[256];

	cl_error_clear(&err);
	s.undo = cJSON_CreateObject();
	cJSON_AddStringToObject(s.undo, "run", "test-bandwidth");
	cJSON_AddStringToObject(s.undo, "step", "slow");
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	cJSON_Delete(s.undo);
}

/* ---- the qdisc verifier on the same link ------------------------------------------- */

/* A drill's lookups: the step "slow" is `undo`, "lab-network" is lab_undo. */
struct fake_drill {
	const cJSON *undo;
	cJSON *lab_undo;
};

static const cJSON *fake_injection(void *opaque, const char *step)
{
	struct fake_drill *d = opaque;

	if (!strcmp(step, "slow"))
		return d->undo;
	if (!strcmp(step, "lab-network"))
		return d->lab_undo;
	return NULL;
}

/* Run the qdisc verifier with `with`; returns its result, obs filled. */
static int verify(struct fake_drill *d, const char *with, char *obs, size_t size)
{
	const struct verifier *v = verifier_find("qdisc");
	struct check_env env = { .injection = fake_injection, .opaque = d };
	struct check_ctx ctx = { .env = d ? &env : NULL };
	struct doc_node *doc;
	struct params p;
	struct cl_error err;
	char msg[256];
	int r;

	assert_non_null(v);
	cl_error_clear(&err);
	doc = doc_parse_json("test.json", with, strlen(with), &err);
	assert_non_null(doc);
	if (params_from_doc(&p, v->params, doc, "test.json", NULL, "fixed_when[0].with", &err))
		fail_msg("%s: %s", with, err.msg);
	doc_free(doc);
	if (v->validate(&p, msg, sizeof(msg)))
		fail_msg("%s: %s", with, msg);
	ctx.params = &p;
	obs[0] = '\0';
	r = v->check(&ctx, obs, size, &err);
	if (r == CHECK_ERROR)
		snprintf(obs, size, "error: %s", err.msg);
	params_release(&p);
	return r;
}

static void test_qdisc_verifier(void **state)
{
	struct fake_drill d = { 0 };
	struct test_step s;
	struct cl_error err;
	char obs[512], want[256], report[256];

	SKIP_UNLESS_LIVE();
	cl_error_clear(&err);
	/* As the lab-network step would journal the lab (but the verifier must
	 * use it, not guess: point it at the same names). */
	d.lab_undo = cJSON_CreateObject();
	cJSON_AddStringToObject(d.lab_undo, "netns", lab.netns);
	cJSON_AddStringToObject(d.lab_undo, "host_if", lab.host_if);
	cJSON_AddStringToObject(d.lab_undo, "lab_if", lab.lab_if);

	/* Before: nothing of ours anywhere. */
	assert_int_equal(verify(&d, "{\"state\": \"absent\"}", obs, sizeof(obs)), CHECK_MET);
	snprintf(want, sizeof(want), "no qdisc of ours on %s (noqueue 0:)", lab.host_if);
	assert_string_equal(obs, want);
	assert_int_equal(verify(&d, "{\"state\": \"present\", \"end\": \"lab\"}", obs, sizeof(obs)),
			 CHECK_NOT_MET);
	snprintf(want, sizeof(want), "no qdisc of ours on %s in netns %s (noqueue 0:)", lab.lab_if,
		 lab.netns);
	assert_string_equal(obs, want);
	/* An injection not applied yet is an error, not a guess. */
	assert_int_equal(verify(&d, "{\"injection\": \"nope\"}", obs, sizeof(obs)), CHECK_ERROR);
	assert_non_null(strstr(obs, "inject step 'nope' has not added a qdisc"));

	if (step_apply(&s, "{\"rate\": \"1mbit\", \"burst\": \"32kb\", \"latency_ms\": 100}", &err))
		fail_msg("apply: %s", err.msg);
	d.undo = s.undo;
	assert_int_equal(verify(&d, "{\"injection\": \"slow\", \"state\": \"present\"}", obs,
				sizeof(obs)),
			 CHECK_MET);
	print_message("observation: %s\n", obs);
	snprintf(want, sizeof(want), "tbf c1ab: rate 1Mbit burst 32Kb limit ");
	assert_memory_equal(obs, want, strlen(want));
	assert_non_null(strstr(obs, lab.host_if));
	assert_int_equal(verify(&d, "{\"injection\": \"slow\", \"state\": \"absent\"}", obs,
				sizeof(obs)),
			 CHECK_NOT_MET);
	/* The lab's default end, without a drill (no env: the lab's names). */
	assert_int_equal(verify(NULL, "{\"kind\": \"tbf\"}", obs, sizeof(obs)), CHECK_MET);
	/* Kind and handle filters. */
	assert_int_equal(verify(&d, "{\"kind\": \"netem\"}", obs, sizeof(obs)), CHECK_NOT_MET);
	snprintf(want, sizeof(want), "no netem qdisc of ours on %s (tbf c1ab:", lab.host_if);
	assert_memory_equal(obs, want, strlen(want));
	assert_int_equal(verify(&d, "{\"handle\": \"1:\"}", obs, sizeof(obs)), CHECK_NOT_MET);
	assert_non_null(strstr(obs, "no qdisc 1: on"));
	assert_int_equal(verify(&d, "{\"handle\": \"any\", \"kind\": \"tbf\"}", obs, sizeof(obs)),
			 CHECK_MET);
	/* The other end has nothing. */
	assert_int_equal(verify(&d, "{\"end\": \"lab\", \"state\": \"absent\"}", obs, sizeof(obs)),
			 CHECK_MET);
	/* By interface and namespace. */
	snprintf(want, sizeof(want),
		 "{\"interface\": \"%s\", \"netns\": \"%s\", \"handle\": \"any\"}", lab.lab_if,
		 lab.netns);
	assert_int_equal(verify(&d, want, obs, sizeof(obs)), CHECK_MET);
	assert_non_null(strstr(obs, "noqueue 0: on"));

	/* The fix (the engineer's tc qdisc del): absent, what the drill waits for. */
	assert_int_equal(test_sh("tc qdisc del dev %s root", lab.host_if), 0);
	assert_int_equal(verify(&d, "{\"injection\": \"slow\", \"state\": \"absent\"}", obs,
				sizeof(obs)),
			 CHECK_MET);
	snprintf(want, sizeof(want), "no tbf qdisc of ours on %s (noqueue 0:)", lab.host_if);
	assert_string_equal(obs, want);
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	test_step_free(&s);

	/* A missing interface or namespace has no qdiscs. */
	assert_int_equal(verify(&d, "{\"interface\": \"nosuchif9\", \"state\": \"absent\"}", obs,
				sizeof(obs)),
			 CHECK_MET);
	assert_string_equal(obs, "no qdisc of ours: no interface nosuchif9");
	assert_int_equal(verify(&d, "{\"interface\": \"eth0\", \"netns\": \"cltb-gone\"}", obs,
				sizeof(obs)),
			 CHECK_NOT_MET);
	assert_string_equal(obs, "no qdisc of ours: network namespace cltb-gone is gone");
	cJSON_Delete(d.lab_undo);
}

static void test_qdisc_verifier_validate(void **state)
{
	const struct verifier *v = verifier_find("qdisc");
	static const struct {
		const char *with, *msg;
	} bad[] = {
		{ "{\"handle\": \"mine\"}", "handle must be ours, any or a handle" },
		{ "{\"handle\": \"root\"}", "handle must be ours, any or a handle" },
		{ "{\"injection\": \"x\", \"interface\": \"eth0\"}",
		  "injection names the interface" },
		{ "{\"injection\": \"x\", \"end\": \"lab\"}", "injection names the interface" },
		{ "{\"netns\": \"x\"}", "netns needs interface" },
		{ "{\"interface\": \"x\", \"end\": \"host\"}",
		  "end and interface exclude each other" },
	};
	struct doc_node *doc;
	struct params p;
	struct cl_error err;
	char msg[256];

	assert_non_null(v);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cl_error_clear(&err);
		doc = doc_parse_json("t.json", bad[i].with, strlen(bad[i].with), &err);
		assert_int_equal(params_from_doc(&p, v->params, doc, "t.json", NULL, "w", &err), 0);
		doc_free(doc);
		assert_int_equal(v->validate(&p, msg, sizeof(msg)), -1);
		if (!strstr(msg, bad[i].msg))
			fail_msg("%s: got '%s'", bad[i].with, msg);
		params_release(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptor),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_supported),
		cmocka_unit_test(test_apply_revert_host_end),
		cmocka_unit_test(test_apply_lab_end_default_burst),
		cmocka_unit_test(test_engineer_fix_then_revert),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_lab_not_up),
		cmocka_unit_test(test_revert_when_apply_never_ran),
		cmocka_unit_test(test_qdisc_verifier),
		cmocka_unit_test(test_qdisc_verifier_validate),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
