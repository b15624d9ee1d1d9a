/* Tests of harness/sys/kube.c: running the real kubectl against the fake API
 * server (tests/k8s/fake_apiserver.py) and reading what it says.
 *
 * Without a server: the classification of kubectl's error messages, the
 * "no cluster" and "missing permission" wording (with the `kubectl auth
 * can-i` command a Forbidden answer corresponds to), label values, JSON
 * pointers, times, REST paths, targets to and from JSON, the verifier memo.
 * With the fake server: reachability (and its cache), an unreachable server,
 * a missing kubectl, pinning the current context, get/list/patch/create, a
 * JSON patch whose "test" fails, delete with a uid precondition, can-i with
 * permissions denied by the server, and the timeout killing a kubectl that
 * never ends. Skips (77) when python3 or kubectl is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/registry.h"
#include "sys/kube.h"
#include "sys/proc.h"

#include "../k8s/fake_k8s.h"

static struct fake_k8s fake;

/* ---- without a server -------------------------------------------------------------- */

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(kube_classify("The connection to the server localhost:8080 was refused - "
				       "did you specify the right host or port?"),
			 KUBE_FAIL_NO_CLUSTER);
	assert_int_equal(kube_classify("Unable to connect to the server: dial tcp 10.0.0.1:6443: "
				       "i/o timeout"),
			 KUBE_FAIL_NO_CLUSTER);
	assert_int_equal(kube_classify("error: context \"nope\" does not exist"),
			 KUBE_FAIL_NO_CLUSTER);
	assert_int_equal(kube_classify("Error from server (NotFound): services \"x\" not found"),
			 KUBE_FAIL_NOT_FOUND);
	assert_int_equal(kube_classify(
				 "Error from server (Forbidden): services \"api\" is forbidden: "
				 "User \"u\" cannot patch resource \"services\" in API group "
				 "\"\" in the namespace \"prod-sim\""),
			 KUBE_FAIL_FORBIDDEN);
	assert_int_equal(kube_classify("error: You must be logged in to the server (Unauthorized)"),
			 KUBE_FAIL_UNAUTHORIZED);
	assert_int_equal(
		kube_classify("Error from server (Conflict): Operation cannot be fulfilled"),
		KUBE_FAIL_CONFLICT);
	assert_int_equal(kube_classify(
				 "The request is invalid: the server rejected our request due "
				 "to an error in our request"),
			 KUBE_FAIL_INVALID);
	assert_int_equal(kube_classify("Error from server (AlreadyExists): x already exists"),
			 KUBE_FAIL_EXISTS);
	assert_int_equal(kube_classify("error: unknown flag: --frob"), KUBE_FAIL_OTHER);
	assert_int_equal(kube_classify(NULL), KUBE_FAIL_OTHER);
}

static void test_fail_messages(void **state)
{
	struct kube_target t = { .ns = "kube-system" };
	struct kube_result r = { .status = 1, .out = "" };
	struct cl_error err;

	(void)state;
	r.err = "Error from server (Forbidden): deployments.apps \"coredns\" is forbidden: User "
		"\"dev\" cannot patch resource \"deployments/scale\" in API group \"apps\" in the "
		"namespace \"kube-system\"\n";
	cl_error_clear(&err);
	assert_int_equal(kube_fail(&t, "kubectl scale", &r, &err), KUBE_FAIL_FORBIDDEN);
	assert_int_equal(err.code, CL_EXIT_PRIVILEGE);
	assert_non_null(strstr(err.msg,
			       "missing permission: `kubectl auth can-i patch "
			       "deployments.apps --subresource=scale -n kube-system` says no"));

	r.err = "Error from server (Forbidden): nodes is forbidden: User \"dev\" cannot list "
		"resource \"nodes\" in API group \"\" at the cluster scope\n";
	cl_error_clear(&err);
	kube_fail(&t, "kubectl get nodes", &r, &err);
	assert_non_null(strstr(err.msg, "`kubectl auth can-i list nodes` says no"));

	r.err = "The connection to the server localhost:8080 was refused - did you specify the right "
		"host or port?\n";
	cl_error_clear(&err);
	assert_int_equal(kube_fail(&t, "kubectl get pods", &r, &err), KUBE_FAIL_NO_CLUSTER);
	assert_string_equal(err.msg,
			    "no Kubernetes cluster: kubectl cannot reach the API server "
			    "(The connection to the server localhost:8080 was refused - did "
			    "you specify the right host or port?)");

	/* kubectl logs each failed discovery try (klog lines) before its verdict. */
	r.err = "E1127 12:14:59.933438   29841 memcache.go:265] \"Unhandled Error\" err=\"couldn't "
		"get current server API group list: Get \\\"http://localhost:8080/api?timeout=32s\\\": "
		"dial tcp 127.0.0.1:8080: connect: connection refused\"\n"
		"E1127 12:14:59.934746   29841 memcache.go:265] \"Unhandled Error\" err=\"...\"\n"
		"The connection to the server localhost:8080 was refused - did you specify the right "
		"host or port?\n";
	cl_error_clear(&err);
	assert_int_equal(kube_fail(&t, "kubectl get pods", &r, &err), KUBE_FAIL_NO_CLUSTER);
	assert_string_equal(err.msg,
			    "no Kubernetes cluster: kubectl cannot reach the API server "
			    "(The connection to the server localhost:8080 was refused - did "
			    "you specify the right host or port?)");
	r.err = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice\n"
		"Error from server (NotFound): endpoints \"x\" not found\n";
	cl_error_clear(&err);
	assert_int_equal(kube_fail(&t, "kubectl get endpoints x", &r, &err), KUBE_FAIL_NOT_FOUND);
	assert_string_equal(err.msg, "kubectl get endpoints x: Error from server (NotFound): "
				     "endpoints \"x\" not found");

	r.err = "error: the server doesn't have a resource type \"frobs\"\n";
	cl_error_clear(&err);
	assert_int_equal(kube_fail(&t, "kubectl get frobs", &r, &err), KUBE_FAIL_OTHER);
	assert_string_equal(
		err.msg,
		"kubectl get frobs: error: the server doesn't have a resource type \"frobs\"");
}

static void test_label_value(void **state)
{
	char buf[80];
	const char *v;

	(void)state;
	assert_string_equal(kube_label_value("20250101T000000Z-pvc-pending-1a2b", buf, sizeof(buf)),
			    "20250101T000000Z-pvc-pending-1a2b");
	assert_string_equal(kube_label_value("-a b/c-", buf, sizeof(buf)), "a_b_c");
	assert_string_equal(kube_label_value("", buf, sizeof(buf)), "run");
	v = kube_label_value(
		"20250101T000000Z-a-very-long-scenario-identifier-that-goes-on-and-on-4f2e", buf,
		sizeof(buf));
	assert_true(strlen(v) <= 63);
	assert_true(v[strlen(v) - 1] != '-');
	/* Long values stay distinct: they end in a hash of the whole. */
	{
		char other[80];

		kube_label_value(
			"20250101T000000Z-a-very-long-scenario-identifier-that-goes-on-and-on-4f2f",
			other, sizeof(other));
		assert_string_not_equal(v, other);
	}
}

static void test_pointer_and_time(void **state)
{
	char p[64] = "";

	(void)state;
	kube_pointer_append(p, sizeof(p), "metadata");
	kube_pointer_append(p, sizeof(p), "labels");
	kube_pointer_append(p, sizeof(p), "kubernetes.io/os~x");
	assert_string_equal(p, "/metadata/labels/kubernetes.io~1os~0x");
	assert_true(kube_time("2024-05-01T10:00:00Z") == 1714557600.0);
	assert_true(kube_time("2024-05-01T10:00:00.250000Z") == 1714557600.25);
	assert_true(kube_time("yesterday") < 0);
	assert_true(kube_time(NULL) < 0);
	assert_true(kube_system_namespace("kube-system"));
	assert_false(kube_system_namespace("prod-sim"));
}

static void test_api_path(void **state)
{
	cJSON *o = cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
			       "\"metadata\":{\"name\":\"reports\"}}");
	cJSON *pvc = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\","
				 "\"metadata\":{\"name\":\"d\",\"namespace\":\"x\"}}");
	cJSON *sc = cJSON_Parse("{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\","
				"\"metadata\":{\"name\":\"fast\"}}");
	char buf[256];

	(void)state;
	assert_string_equal(kube_api_path(o, "prod-sim", buf, sizeof(buf)),
			    "/apis/apps/v1/namespaces/prod-sim/deployments/reports");
	assert_string_equal(kube_api_path(pvc, "prod-sim", buf, sizeof(buf)),
			    "/api/v1/namespaces/x/persistentvolumeclaims/d");
	assert_null(kube_api_path(sc, "prod-sim", buf, sizeof(buf)));
	assert_string_equal(kube_kind_resource("apps/v1", "Deployment", buf, sizeof(buf)),
			    "deployments.apps");
	assert_string_equal(kube_kind_resource("v1", "Service", buf, sizeof(buf)), "services");
	assert_null(kube_kind_resource("v1", "Node", buf, sizeof(buf)));
	cJSON_Delete(o);
	cJSON_Delete(pvc);
	cJSON_Delete(sc);
}

static void test_target(void **state)
{
	struct kube_target t, back;
	cJSON *j;

	(void)state;
	setenv("KUBECONFIG", "/tmp/some-kubeconfig", 1);
	setenv("CHAOSLAB_KUBE_CONTEXT", "lab", 1);
	kube_target_init(&t, NULL);
	assert_string_equal(t.kubeconfig, "/tmp/some-kubeconfig");
	assert_string_equal(t.context, "lab");
	assert_string_equal(t.ns, KUBE_DEFAULT_NAMESPACE);
	j = kube_target_to_json(&t);
	assert_int_equal(kube_target_from_json(&back, j), 0);
	assert_memory_equal(&t, &back, sizeof(t));
	cJSON_Delete(j);
	assert_int_equal(kube_target_from_json(&back, NULL), -1);
	unsetenv("CHAOSLAB_KUBE_CONTEXT");
	unsetenv("KUBECONFIG");
}

static void test_memo(void **state)
{
	struct check_ctx ctx = { .now = 100.0 };
	struct cl_error err;
	char obs[64];
	int rc;

	(void)state;
	cl_error_clear(&err);
	assert_false(kube_memo_recall(&ctx, &rc, obs, sizeof(obs), &err));
	assert_true(kube_memo_first_check(&ctx) > 0);
	assert_int_equal(kube_memo_store(&ctx, CHECK_MET, "2 ready", NULL), CHECK_MET);
	ctx.now = 100.5;
	assert_true(kube_memo_recall(&ctx, &rc, obs, sizeof(obs), &err));
	assert_int_equal(rc, CHECK_MET);
	assert_string_equal(obs, "2 ready");
	ctx.now = 101.2;
	assert_false(kube_memo_recall(&ctx, &rc, obs, sizeof(obs), &err));
	kube_memo_release(&ctx);
	assert_null(ctx.state);
}

/* ---- with the fake API server ----------------------------------------------------------- */

static int server_up(void **state)
{
	(void)state;
	char why[256];

	if (fake_k8s_available(why, sizeof(why))) {
		print_message("SKIP: %s\n", why);
		exit(77);
	}
	if (fake_k8s_start(&fake, 20, NULL))
		fail_msg("%s", fake.why);
	if (fake_k8s_demo()) {
		fake_k8s_stop(&fake);
		fail_msg("the demo app did not roll out on the fake API server");
	}
	kube_reachable_reset();
	return 0;
}

static int server_down(void **state)
{
	(void)state;
	fake_k8s_stop(&fake);
	return 0;
}

static void target(struct kube_target *t)
{
	kube_target_init(t, NULL);
}

static void test_reachable(void **state)
{
	struct kube_target t, dead;
	char why[512], kc[400];
	double t0;
	FILE *f;

	(void)state;
	target(&t);
	assert_int_equal(kube_reachable(&t, why, sizeof(why)), 0);
	/* A kubeconfig whose server is a closed port: no cluster. */
	snprintf(kc, sizeof(kc), "%s/dead-kubeconfig", fake.dir);
	f = fopen(kc, "w");
	assert_non_null(f);
	fprintf(f, "apiVersion: v1\nkind: Config\nclusters:\n- name: dead\n  cluster:\n"
		   "    server: http://127.0.0.1:1\nusers:\n- name: u\n  user: {token: x}\n"
		   "contexts:\n- name: dead\n  context: {cluster: dead, user: u}\n"
		   "current-context: dead\n");
	fclose(f);
	dead = t;
	snprintf(dead.kubeconfig, sizeof(dead.kubeconfig), "%s", kc);
	assert_int_equal(kube_reachable(&dead, why, sizeof(why)), -1);
	assert_non_null(
		strstr(why, "no Kubernetes cluster: kubectl cannot reach the API server ("));
	assert_non_null(strstr(why, "127.0.0.1:1"));
	/* Cached: the second answer does not run kubectl again. */
	t0 = mono_now();
	assert_int_equal(kube_reachable(&dead, why, sizeof(why)), -1);
	assert_true(mono_now() - t0 < 0.05);
	assert_non_null(strstr(why, "no Kubernetes cluster"));
}

static void test_no_kubectl(void **state)
{
	struct kube_target t;
	struct kube_result r;
	struct cl_error err;
	const char *args[] = { "version", NULL };
	char why[512];

	(void)state;
	target(&t);
	setenv("CHAOSLAB_KUBECTL", "/nonexistent/kubectl", 1);
	cl_error_clear(&err);
	assert_int_equal(kube_run(&t, args, NULL, 0, &r, &err), -1);
	assert_non_null(strstr(err.msg, "unable to run kubectl (/nonexistent/kubectl)"));
	snprintf(t.context, sizeof(t.context), "no-kubectl");
	assert_int_equal(kube_reachable(&t, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "unable to run kubectl"));
	unsetenv("CHAOSLAB_KUBECTL");
}

static void test_pin(void **state)
{
	struct kube_target t;
	struct cl_error err;

	(void)state;
	target(&t);
	assert_string_equal(t.context, "");
	cl_error_clear(&err);
	assert_int_equal(kube_target_pin(&t, &err), 0);
	assert_string_equal(t.context, "chaoslab-fake");
}

static void test_get_list(void **state)
{
	struct kube_target t;
	struct cl_error err;
	cJSON *obj = NULL, *list = NULL;
	const cJSON *sel;

	(void)state;
	target(&t);
	cl_error_clear(&err);
	assert_int_equal(kube_get(&t, "service", "api", &obj, &err), 0);
	sel = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "spec"), "selector");
	assert_string_equal(cJSON_GetObjectItem(sel, "app")->valuestring, "api");
	cJSON_Delete(obj);
	assert_int_equal(kube_get(&t, "service", "no-such-service", &obj, &err), 1);
	assert_null(obj);
	assert_int_equal(kube_list(&t, "pods", "app=api", NULL, &list, &err), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")), 2);
	cJSON_Delete(list);
	assert_int_equal(kube_list(&t, "events", NULL, "reason=NoSuchReason", &list, &err), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")), 0);
	cJSON_Delete(list);
	assert_int_equal(kube_list(&t, "frobnicators", NULL, NULL, &list, &err), -1);
	assert_non_null(strstr(err.msg, "frobnicators"));
}

static void test_patch(void **state)
{
	struct kube_target t;
	struct cl_error err;
	enum kube_failure why;
	cJSON *out = NULL;

	(void)state;
	target(&t);
	cl_error_clear(&err);
	/* A failed "test" operation: refused, nothing changed. */
	assert_int_equal(
		kube_patch(&t, "service", "api", "json",
			   "[{\"op\":\"test\",\"path\":\"/spec/selector/app\",\"value\":\"web\"},"
			   "{\"op\":\"replace\",\"path\":\"/spec/selector/app\",\"value\":\"x\"}]",
			   NULL, &why, &err),
		-1);
	assert_int_equal(why, KUBE_FAIL_INVALID);
	assert_int_equal(fake_k8s_sh("test \"$(kubectl -n prod-sim get svc api -o "
				     "jsonpath='{.spec.selector.app}')\" = api"),
			 0);
	/* A merge patch that works returns the object. */
	assert_int_equal(kube_patch(&t, "service", "api", "merge",
				    "{\"metadata\":{\"labels\":{\"test-kube\":\"yes\"}}}", &out,
				    &why, &err),
			 0);
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "metadata"),
							"labels"),
				    "test-kube")
			->valuestring,
		"yes");
	cJSON_Delete(out);
	assert_int_equal(kube_patch(&t, "service", "api", "json",
				    "[{\"op\":\"remove\",\"path\":\"/metadata/labels/test-kube\"}]",
				    NULL, &why, &err),
			 0);
	assert_int_equal(kube_patch(&t, "service", "gone", "merge", "{}", NULL, &why, &err), 1);
}

static void test_create_delete(void **state)
{
	struct kube_target t;
	struct cl_error err;
	cJSON *cm = cJSON_Parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
				"\"metadata\":{\"name\":\"kube-test\"},\"data\":{\"a\":\"b\"}}");
	cJSON *created = NULL;
	char path[256], uid[64];

	(void)state;
	target(&t);
	cl_error_clear(&err);
	assert_int_equal(kube_create(&t, cm, &created, &err), 0);
	snprintf(uid, sizeof(uid), "%s",
		 cJSON_GetObjectItem(cJSON_GetObjectItem(created, "metadata"), "uid")->valuestring);
	assert_non_null(kube_api_path(created, t.ns, path, sizeof(path)));
	assert_string_equal(path, "/api/v1/namespaces/prod-sim/configmaps/kube-test");
	cJSON_Delete(created);
	/* Creating it again: AlreadyExists. */
	assert_int_equal(kube_create(&t, cm, &created, &err), -1);
	assert_non_null(strstr(err.msg, "already exists"));
	cJSON_Delete(cm);
	/* Wrong uid: the server refuses, the object stays. */
	assert_int_equal(kube_delete_uid(&t, path, "00000000-0000-0000-0000-000000000000", &err),
			 1);
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim get configmap kube-test >/dev/null 2>&1"),
			 0);
	assert_int_equal(kube_delete_uid(&t, path, uid, &err), 0);
	assert_int_not_equal(
		fake_k8s_sh("kubectl -n prod-sim get configmap kube-test >/dev/null 2>&1"), 0);
	assert_int_equal(kube_delete_uid(&t, path, uid, &err), 1);
}

static void set_deny(const char *rules)
{
	assert_int_equal(
		fake_k8s_sh("curl -sf -XPOST -d '%s' http://127.0.0.1:%d/_fake/deny >/dev/null",
			    rules, fake.port),
		0);
}

static void test_permissions(void **state)
{
	struct kube_target t;
	struct kube_result r;
	struct cl_error err;
	enum kube_failure why;
	const char *scale[] = { "scale", "deployment/api", "--replicas=3", NULL };

	(void)state;
	target(&t);
	cl_error_clear(&err);
	assert_int_equal(kube_can_i(&t, "patch", "services", &err), 0);
	set_deny("[\"patch:services:prod-sim\", \"patch:deployments/scale:prod-sim\"]");
	assert_int_equal(kube_can_i(&t, "patch", "services", &err), -1);
	assert_int_equal(err.code, CL_EXIT_PRIVILEGE);
	assert_non_null(strstr(err.msg, "missing permission: `kubectl auth can-i patch services -n "
					"prod-sim` says no"));
	assert_int_equal(kube_can_i(&t, "get", "services", &err), 0);
	assert_int_equal(kube_can_i(&t, "patch", "deployments.apps/scale", &err), -1);
	assert_non_null(strstr(err.msg, "`kubectl auth can-i patch deployments.apps "
					"--subresource=scale -n prod-sim` says no"));
	/* The same check named from the server's Forbidden answer. */
	assert_int_equal(kube_patch(&t, "service", "api", "merge", "{}", NULL, &why, &err), -1);
	assert_int_equal(why, KUBE_FAIL_FORBIDDEN);
	assert_non_null(strstr(err.msg, "`kubectl auth can-i patch services -n prod-sim` says no"));
	assert_int_equal(kube_run(&t, scale, NULL, 0, &r, &err), 0);
	assert_int_not_equal(r.status, 0);
	kube_fail(&t, "kubectl scale", &r, &err);
	kube_result_release(&r);
	assert_non_null(strstr(err.msg, "`kubectl auth can-i patch deployments.apps "
					"--subresource=scale -n prod-sim` says no"));
	set_deny("[]");
	assert_int_equal(kube_can_i(&t, "patch", "services", &err), 0);
}

static void test_timeout(void **state)
{
	struct kube_target t;
	struct kube_result r;
	struct cl_error err;
	const char *watch[] = { "get", "pods", "--watch", NULL };
	double t0 = mono_now();

	(void)state;
	target(&t);
	cl_error_clear(&err);
	assert_int_equal(kube_run(&t, watch, NULL, 1500, &r, &err), -1);
	assert_true(mono_now() - t0 < 5);
	assert_non_null(strstr(err.msg, "did not finish within 1 s"));
	/* The kubectl is gone with its process group. */
	assert_int_not_equal(
		fake_k8s_sh("pgrep -f 'kubectl.*--request-timeout=15[s] get pods --watc[h]' "
			    ">/dev/null"),
		0);
}

static void test_stdin(void **state)
{
	struct kube_target t;
	struct kube_result r;
	struct cl_error err;
	const char *apply[] = { "apply", "-f", "-", NULL };
	/* Bigger than a pipe buffer, so the writes must interleave with reads. */
	size_t n = 200000;
	char *big = malloc(n + 256);
	size_t off;

	(void)state;
	target(&t);
	cl_error_clear(&err);
	assert_non_null(big);
	off = (size_t)snprintf(big, n + 256,
			       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
			       "\"metadata\":{\"name\":\"big\"},\"data\":{\"x\":\"");
	memset(big + off, 'a', n);
	snprintf(big + off + n, 256 - 1, "\"}}");
	assert_int_equal(kube_run(&t, apply, big, 0, &r, &err), 0);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "configmap/big created"));
	kube_result_release(&r);
	free(big);
	assert_int_equal(fake_k8s_sh(
				 "test \"$(kubectl -n prod-sim get cm big -o jsonpath='{.data.x}' "
				 "| wc -c)\" -eq 200000 && kubectl -n prod-sim delete cm big "
				 ">/dev/null"),
			 0);
}

int main(void)
{
	const struct CMUnitTest offline[] = {
		cmocka_unit_test(test_classify),    cmocka_unit_test(test_fail_messages),
		cmocka_unit_test(test_label_value), cmocka_unit_test(test_pointer_and_time),
		cmocka_unit_test(test_api_path),    cmocka_unit_test(test_target),
		cmocka_unit_test(test_memo),
	};
	const struct CMUnitTest online[] = {
		cmocka_unit_test(test_reachable),   cmocka_unit_test(test_no_kubectl),
		cmocka_unit_test(test_pin),	    cmocka_unit_test(test_get_list),
		cmocka_unit_test(test_patch),	    cmocka_unit_test(test_create_delete),
		cmocka_unit_test(test_permissions), cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_stdin),
	};
	int failed = cmocka_run_group_tests_name("kube offline", offline, NULL, NULL);

	return failed + cmocka_run_group_tests_name("kube with the fake API server", online,
						    server_up, server_down);
}
