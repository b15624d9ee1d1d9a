/* Tests of the Kubernetes injectors (injectors/broken-selector.c, k8s-patch.c,
 * k8s-apply.c, k8s-scale.c) and verifiers (verifiers/k8s-endpoints.c,
 * k8s-pod.c, k8s-rollout.c, k8s-event.c, k8s-status.c) through their
 * descriptors, against the fake API server (tests/k8s/fake_apiserver.py)
 * running the demo app, with the real kubectl. The effects are checked with
 * kubectl itself, not only through our own readers.
 *
 * For each injector: the fault lands (and the verifiers see it), revert
 * undoes exactly it and is idempotent, a fix the engineer already made is
 * left alone, a different change made since is left alone and reported, a
 * revert from the bare intent (apply never reached the cluster) does
 * nothing, and a refused permission stops apply before any change with the
 * `kubectl auth can-i` check named. Skips (77) without python3 or kubectl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/registry.h"
#include "support/step.h"
#include "sys/kube.h"
#include "sys/proc.h"

#include "../k8s/fake_k8s.h"

static struct fake_k8s fake;

/* ---- steps and checks ------------------------------------------------------------------ */

struct step {
	const struct injector *in;
	char run_id[80];
	char id[32];
	struct params params;
	cJSON *undo;
	char report[256];
};

/* The journaled undo data by step id, as the engine's check_env gives it. */
static struct step *known[8];

static const cJSON *env_injection(void *opaque, const char *step_id)
{
	(void)opaque;
	for (size_t i = 0; i < 8; i++)
		if (known[i] && !strcmp(known[i]->id, step_id))
			return known[i]->undo;
	return NULL;
}

static const struct check_env env = { .injection = env_injection };

/* Apply injector `type` with parameters `with` (JSON). 0, or -1 with err. */
static int apply(struct step *s, const char *type, const char *id, const char *with,
		 struct cl_error *err)
{
	static int seq;
	struct inject_ctx ctx;

	memset(s, 0, sizeof(*s));
	s->in = injector_find(type);
	assert_non_null(s->in);
	snprintf(s->run_id, sizeof(s->run_id), "20250101T000000Z-test-%d-%d", (int)getpid() % 10000,
		 seq++);
	snprintf(s->id, sizeof(s->id), "%s", id);
	if (test_params_parse(&s->params, s->in->params, with, err))
		fail_msg("parameters %s: %s", with, err->msg);
	if (s->in->validate) {
		char msg[256];

		if (s->in->validate(&s->params, msg, sizeof(msg)))
			fail_msg("validate %s: %s", with, msg);
	}
	s->undo = cJSON_CreateObject();
	cJSON_AddStringToObject(s->undo, "run", s->run_id);
	cJSON_AddStringToObject(s->undo, "step", id);
	ctx = (struct inject_ctx){ .run_id = s->run_id,
				   .step_id = id,
				   .state_dir = "/nonexistent",
				   .params = &s->params,
				   .undo = s->undo };
	for (size_t i = 0; i < 8; i++)
		if (!known[i]) {
			known[i] = s;
			break;
		}
	return s->in->apply(&ctx, err);
}

static void apply_ok(struct step *s, const char *type, const char *id, const char *with)
{
	struct cl_error err;

	cl_error_clear(&err);
	if (apply(s, type, id, with, &err))
		fail_msg("apply %s %s: %s", type, with, err.msg);
}

/* Revert; the report lands in s->report. */
static void revert_ok(struct step *s)
{
	struct revert_ctx rc = {
		.run_id = s->run_id, .step_id = s->id, .state_dir = "/nonexistent", .undo = s->undo
	};
	struct cl_error err;

	cl_error_clear(&err);
	if (s->in->revert(&rc, &err))
		fail_msg("revert %s: %s", s->in->name, err.msg);
	snprintf(s->report, sizeof(s->report), "%s", rc.report);
}

static void release(struct step *s)
{
	for (size_t i = 0; i < 8; i++)
		if (known[i] == s)
			known[i] = NULL;
	params_release(&s->params);
	cJSON_Delete(s->undo);
	s->undo = NULL;
}

/* Evaluate verifier `type` once (a fresh criterion: no memo). */
static int check(const char *type, const char *with, char *obs, size_t size)
{
	const struct verifier *v = verifier_find(type);
	struct params p = { 0 };
	struct check_ctx ctx = { .params = &p, .env = &env };
	struct cl_error err;
	int rc;

	assert_non_null(v);
	cl_error_clear(&err);
	if (test_params_parse(&p, v->params, with, &err))
		fail_msg("parameters %s: %s", with, err.msg);
	if (v->validate) {
		char msg[256];

		if (v->validate(&p, msg, sizeof(msg)))
			fail_msg("validate %s %s: %s", type, with, msg);
	}
	ctx.now = mono_now();
	rc = v->check(&ctx, obs, size, &err);
	if (rc == CHECK_ERROR)
		snprintf(obs, size, "error: %s", err.msg);
	if (v->release)
		v->release(&ctx);
	params_release(&p);
	return rc;
}

/* Check until the verifier answers want, at most secs seconds. */
static void wait_check(const char *type, const char *with, int want, double secs)
{
	char obs[256] = "";
	double end = mono_now() + secs;
	int rc;

	do {
		rc = check(type, with, obs, sizeof(obs));
		if (rc == want)
			return;
		usleep(100000);
	} while (mono_now() < end);
	fail_msg("%s %s: want %s, still %s after %.0f s: %s", type, with,
		 want == CHECK_MET ? "met" : "not met", rc == CHECK_MET ? "met" : "not met", secs,
		 obs);
}

/* kubectl's own view: stdout of a command, first line. */
#define kubectl_out(buf, size, ...) (test_capture(buf, size, __VA_ARGS__), first_line(buf))

static const char *first_line(char *buf)
{
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void set_deny(const char *rules)
{
	assert_int_equal(
		fake_k8s_sh("curl -sf -XPOST -d '%s' http://127.0.0.1:%d/_fake/deny >/dev/null",
			    rules, fake.port),
		0);
}

#define SELECTOR(svc) "kubectl -n prod-sim get svc " svc " -o jsonpath='{.spec.selector}'"

/* ---- broken-selector ------------------------------------------------------------------ */

static void test_selector_typo(void **state)
{
	struct step s;
	char buf[256];

	(void)state;
	apply_ok(&s, "broken-selector", "selector", "{\"service\":\"api\"}");
	assert_string_equal(kubectl_out(buf, sizeof(buf), SELECTOR("api")), "{\"app\":\"aip\"}");
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetObjectItem(s.undo, "broken"), "app")->valuestring,
		"aip");
	wait_check("k8s-endpoints", "{\"name\":\"api\",\"max\":0}", CHECK_MET, 10);
	wait_check("k8s-endpoints", "{\"name\":\"api\",\"max\":0,\"source\":\"endpoints\"}",
		   CHECK_MET, 10);
	assert_string_equal(
		kubectl_out(buf, sizeof(buf),
			    "kubectl -n prod-sim get endpoints api -o jsonpath='{.subsets}'"),
		"");
	revert_ok(&s);
	assert_non_null(strstr(s.report, "restored the selector app=api"));
	assert_string_equal(kubectl_out(buf, sizeof(buf), SELECTOR("api")), "{\"app\":\"api\"}");
	wait_check("k8s-endpoints", "{\"name\":\"api\",\"min\":2}", CHECK_MET, 10);
	/* Idempotent. */
	revert_ok(&s);
	assert_string_equal(s.report, "");
	release(&s);
}

static void test_selector_nothing_changed_since(void **state)
{
	struct step s;
	char buf[256];

	(void)state;
	apply_ok(&s, "broken-selector", "selector", "{\"service\":\"web\",\"mode\":\"nothing\"}");
	assert_string_equal(kubectl_out(buf, sizeof(buf), SELECTOR("web")),
			    "{\"app\":\"web\",\"version\":\"v2\"}");
	wait_check("k8s-endpoints", "{\"name\":\"web\",\"max\":0}", CHECK_MET, 10);
	/* The engineer sets something else again: not ours to overwrite. */
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim patch svc web --type=json -p "
				     "'[{\"op\":\"replace\",\"path\":\"/spec/selector\",\"value\":"
				     "{\"app\":\"web\",\"tier\":\"front\"}}]' >/dev/null"),
			 0);
	revert_ok(&s);
	assert_non_null(strstr(s.report, "changed since the drill"));
	assert_string_equal(kubectl_out(buf, sizeof(buf), SELECTOR("web")),
			    "{\"app\":\"web\",\"tier\":\"front\"}");
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim patch svc web --type=json -p "
				     "'[{\"op\":\"replace\",\"path\":\"/spec/selector\",\"value\":"
				     "{\"app\":\"web\"}}]' >/dev/null"),
			 0);
	release(&s);
}

static void test_selector_engineer_fixed(void **state)
{
	struct step s;
	char buf[256];

	(void)state;
	apply_ok(&s, "broken-selector", "selector", "{\"service\":\"api\",\"value\":\"api-v2\"}");
	assert_string_equal(kubectl_out(buf, sizeof(buf), SELECTOR("api")), "{\"app\":\"api-v2\"}");
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim patch svc api -p "
				     "'{\"spec\":{\"selector\":{\"app\":\"api\"}}}' >/dev/null"),
			 0);
	revert_ok(&s);
	assert_string_equal(s.report, "");
	assert_string_equal(kubectl_out(buf, sizeof(buf), SELECTOR("api")), "{\"app\":\"api\"}");
	release(&s);
}

static void test_selector_refusals(void **state)
{
	struct step s;
	struct cl_error err;
	char buf[256];

	(void)state;
	/* A typo that still matches pods (web's) would not break anything. */
	cl_error_clear(&err);
	assert_int_equal(apply(&s, "broken-selector", "selector",
			       "{\"service\":\"api\",\"value\":\"web\"}", &err),
			 -1);
	assert_non_null(strstr(err.msg, "match the broken selector app=web"));
	revert_ok(&s);
	assert_string_equal(kubectl_out(buf, sizeof(buf), SELECTOR("api")), "{\"app\":\"api\"}");
	release(&s);
	/* No such service. */
	assert_int_equal(apply(&s, "broken-selector", "selector", "{\"service\":\"nope\"}", &err),
			 -1);
	assert_non_null(strstr(err.msg, "service prod-sim/nope not found"));
	release(&s);
	/* Patching services is not allowed: stopped before any change, with the
	 * check named. */
	set_deny("[\"patch:services:prod-sim\"]");
	cl_error_clear(&err);
	assert_int_equal(apply(&s, "broken-selector", "selector", "{\"service\":\"api\"}", &err),
			 -1);
	set_deny("[]");
	assert_int_equal(err.code, CL_EXIT_PRIVILEGE);
	assert_non_null(strstr(err.msg, "`kubectl auth can-i patch services -n prod-sim` says no"));
	assert_null(cJSON_GetObjectItem(s.undo, "broken"));
	revert_ok(&s);
	assert_string_equal(s.report, "");
	assert_string_equal(kubectl_out(buf, sizeof(buf), SELECTOR("api")), "{\"app\":\"api\"}");
	release(&s);
}

static void test_bare_intent(void **state)
{
	static const char *const types[] = { "broken-selector", "k8s-patch", "k8s-apply",
					     "k8s-scale", NULL };

	(void)state;
	/* The harness died after the intent, before apply touched anything. */
	for (size_t i = 0; types[i]; i++) {
		const struct injector *in = injector_find(types[i]);
		cJSON *undo = cJSON_Parse("{\"run\":\"r\",\"step\":\"s\",\"owner\":\"r:s\"}");
		struct revert_ctx rc = { .run_id = "r", .step_id = "s", .undo = undo };
		struct cl_error err;

		cl_error_clear(&err);
		assert_int_equal(in->revert(&rc, &err), 0);
		assert_string_equal(rc.report, "");
		cJSON_Delete(undo);
	}
}

/* ---- k8s-patch ----------------------------------------------------------------------------- */

#define NODESELECTOR                                                             \
	"{\"kind\":\"deployment\",\"name\":\"web\",\"patch\":"                   \
	"\"{\\\"spec\\\":{\\\"template\\\":{\\\"spec\\\":{\\\"nodeSelector\\\":" \
	"{\\\"disktype\\\":\\\"ssd\\\"}}}}}\"}"

static void test_patch_nodeselector(void **state)
{
	struct step s;
	char buf[256];
	const cJSON *c;

	(void)state;
	apply_ok(&s, "k8s-patch", "nodeselector", NODESELECTOR);
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(s.undo, "changes"), 0);
	assert_string_equal(cJSON_GetObjectItem(c, "path")->valuestring,
			    "/spec/template/spec/nodeSelector");
	assert_null(cJSON_GetObjectItem(c, "before"));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s.undo, "changes")), 1);
	wait_check("k8s-pod", "{\"selector\":\"app=web\",\"phase\":\"Pending\",\"min\":1}",
		   CHECK_MET, 15);
	wait_check("k8s-pod", "{\"selector\":\"app=web\",\"reason\":\"Unschedulable\"}", CHECK_MET,
		   15);
	wait_check("k8s-event",
		   "{\"reason\":\"FailedScheduling\",\"kind\":\"Pod\",\"name\":\"web-\","
		   "\"injection\":\"nodeselector\"}",
		   CHECK_MET, 15);
	assert_int_equal(check("k8s-rollout", "{\"deployment\":\"web\"}", buf, sizeof(buf)),
			 CHECK_NOT_MET);
	assert_non_null(strstr(buf, "new replicas have been updated"));
	assert_int_equal(check("k8s-rollout", "{\"deployment\":\"web\",\"complete\":false}", buf,
			       sizeof(buf)),
			 CHECK_MET);
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim get pods -l app=web | grep -q Pending"),
			 0);
	revert_ok(&s);
	assert_non_null(strstr(s.report, "restored 1 field of deployment prod-sim/web "
					 "(spec.template.spec.nodeSelector)"));
	assert_string_equal(kubectl_out(buf, sizeof(buf),
					"kubectl -n prod-sim get deploy web -o "
					"jsonpath='{.spec.template.spec.nodeSelector}'"),
			    "");
	wait_check("k8s-rollout", "{\"deployment\":\"web\",\"min_available\":2}", CHECK_MET, 20);
	wait_check("k8s-pod", "{\"selector\":\"app=web\",\"phase\":\"Pending\",\"max\":0}",
		   CHECK_MET, 10);
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim rollout status deployment/web "
				     "--timeout=20s >/dev/null"),
			 0);
	revert_ok(&s);
	assert_string_equal(s.report, "");
	release(&s);
}

#define PROBE_PATCH(path)                                                                     \
	"{\"kind\":\"deployment\",\"name\":\"web\",\"patch\":"                                \
	"\"{\\\"spec\\\":{\\\"template\\\":{\\\"spec\\\":{\\\"containers\\\":[{\\\"name\\\":" \
	"\\\"web\\\",\\\"readinessProbe\\\":{\\\"httpGet\\\":{\\\"path\\\":\\\"" path         \
	"\\\"}}}]}}}}\"}"

static void test_patch_conflict_and_undo(void **state)
{
	struct step s;
	char buf[256];

	(void)state;
	apply_ok(&s, "k8s-patch", "probe", PROBE_PATCH("/healthz"));
	wait_check("k8s-pod", "{\"selector\":\"app=web\",\"phase\":\"Running\",\"ready\":false}",
		   CHECK_MET, 15);
	wait_check("k8s-event",
		   "{\"reason\":\"Unhealthy\",\"name\":\"web-\",\"message\":"
		   "\"statuscode: 404\",\"injection\":\"probe\"}",
		   CHECK_MET, 15);
	/* The engineer points the probe somewhere else that works. */
	assert_int_equal(
		fake_k8s_sh("kubectl -n prod-sim patch deployment web --type=json -p "
			    "'[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/"
			    "readinessProbe/httpGet/path\",\"value\":\"/index.html\"}]' "
			    ">/dev/null"),
		0);
	revert_ok(&s);
	assert_non_null(strstr(s.report,
			       "left 1 field changed since the drill as it is "
			       "(spec.template.spec.containers[0].readinessProbe.httpGet.path)"));
	assert_string_equal(
		kubectl_out(buf, sizeof(buf),
			    "kubectl -n prod-sim get deploy web -o jsonpath='{.spec."
			    "template.spec.containers[0].readinessProbe.httpGet.path}'"),
		"/index.html");
	/* kubectl rollout undo, then our revert: nothing left to do. */
	assert_int_equal(
		fake_k8s_sh("kubectl -n prod-sim patch deployment web --type=json -p "
			    "'[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/"
			    "readinessProbe/httpGet/path\",\"value\":\"/\"}]' >/dev/null"),
		0);
	wait_check("k8s-rollout", "{\"deployment\":\"web\",\"min_available\":2}", CHECK_MET, 20);
	release(&s);
	apply_ok(&s, "k8s-patch", "probe", PROBE_PATCH("/healthz"));
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim rollout undo deployment/web >/dev/null"),
			 0);
	revert_ok(&s);
	assert_string_equal(s.report, "");
	assert_string_equal(
		kubectl_out(buf, sizeof(buf),
			    "kubectl -n prod-sim get deploy web -o jsonpath='{.spec."
			    "template.spec.containers[0].readinessProbe.httpGet.path}'"),
		"/");
	wait_check("k8s-rollout", "{\"deployment\":\"web\",\"min_available\":2}", CHECK_MET, 20);
	release(&s);
}

static void test_patch_crash_and_noop(void **state)
{
	struct step s;
	struct cl_error err;
	char buf[256];

	(void)state;
	/* The harness died after the patch, before "changes" reached the journal. */
	apply_ok(&s, "k8s-patch", "requests",
		 "{\"kind\":\"deployment\",\"name\":\"api\",\"type\":\"json\",\"patch\":"
		 "\"[{\\\"op\\\":\\\"remove\\\",\\\"path\\\":\\\"/spec/template/spec/containers/0/"
		 "resources/requests/cpu\\\"}]\"}");
	wait_check("k8s-status",
		   "{\"kind\":\"hpa\",\"name\":\"api\",\"condition\":\"ScalingActive\","
		   "\"status\":\"False\",\"reason\":\"FailedGetResourceMetric\"}",
		   CHECK_MET, 20);
	wait_check("k8s-event",
		   "{\"reason\":\"FailedGetResourceMetric\",\"kind\":"
		   "\"HorizontalPodAutoscaler\",\"message\":\"missing request for cpu\","
		   "\"injection\":\"requests\"}",
		   CHECK_MET, 20);
	cJSON_DeleteItemFromObject(s.undo, "changes");
	revert_ok(&s);
	assert_non_null(strstr(s.report, "restored 1 field"));
	assert_string_equal(kubectl_out(buf, sizeof(buf),
					"kubectl -n prod-sim get deploy api -o jsonpath='{.spec."
					"template.spec.containers[0].resources.requests.cpu}'"),
			    "50m");
	wait_check("k8s-status",
		   "{\"kind\":\"hpa\",\"name\":\"api\",\"condition\":\"ScalingActive\"}", CHECK_MET,
		   20);
	wait_check("k8s-rollout", "{\"deployment\":\"api\",\"min_available\":2}", CHECK_MET, 20);
	release(&s);
	/* A patch that changes nothing is a fault that did not land. */
	cl_error_clear(&err);
	assert_int_equal(
		apply(&s, "k8s-patch", "same",
		      "{\"kind\":\"service\",\"name\":\"api\",\"type\":\"merge\",\"patch\":"
		      "\"{\\\"spec\\\":{\\\"selector\\\":{\\\"app\\\":\\\"api\\\"}}}\"}",
		      &err),
		-1);
	assert_int_equal(err.code, CL_EXIT_NO_SYMPTOM);
	assert_non_null(strstr(err.msg, "changed nothing"));
	revert_ok(&s);
	assert_string_equal(s.report, "");
	release(&s);
	/* kube-* namespaces need the explicit parameter. */
	cl_error_clear(&err);
	assert_int_equal(
		apply(&s, "k8s-patch", "dns",
		      "{\"kind\":\"configmap\",\"name\":\"coredns\",\"namespace\":"
		      "\"kube-system\",\"type\":\"merge\",\"patch\":\"{\\\"data\\\":{}}\"}",
		      &err),
		-1);
	assert_non_null(strstr(err.msg, "allow_system_namespace: true"));
	release(&s);
}

/* ---- k8s-apply ------------------------------------------------------------------------------- */

static void test_apply_oom(void **state)
{
	struct step s;
	char buf[256];

	(void)state;
	apply_ok(&s, "k8s-apply", "worker",
		 "{\"manifest\":\"manifests/broken/oom-report-worker.yaml\"}");
	assert_string_equal(kubectl_out(buf, sizeof(buf),
					"kubectl -n prod-sim get deploy report-worker -o "
					"jsonpath='{.metadata.labels.chaoslab\\.io/run}'"),
			    cJSON_GetObjectItem(s.undo, "label")->valuestring);
	assert_non_null(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(s.undo, "objects"), 0),
				    "uid")
			->valuestring);
	wait_check("k8s-pod", "{\"selector\":\"app=report-worker\",\"reason\":\"OOMKilled\"}",
		   CHECK_MET, 20);
	wait_check("k8s-pod", "{\"selector\":\"app=report-worker\",\"min_restarts\":2}", CHECK_MET,
		   20);
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim describe pod -l app=report-worker | "
				     "grep -q OOMKilled"),
			 0);
	revert_ok(&s);
	assert_non_null(strstr(s.report, "deleted Deployment report-worker in prod-sim"));
	assert_int_not_equal(
		fake_k8s_sh("kubectl -n prod-sim get deploy report-worker >/dev/null 2>&1"), 0);
	wait_check("k8s-pod", "{\"selector\":\"app=report-worker\",\"max\":0}", CHECK_MET, 15);
	revert_ok(&s);
	assert_string_equal(s.report, "");
	release(&s);
}

static void test_apply_pvc(void **state)
{
	struct step a, b;
	struct cl_error err;

	(void)state;
	apply_ok(&a, "k8s-apply", "reports",
		 "{\"manifest\":\"manifests/broken/pvc-missing-storageclass.yaml\"}");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a.undo, "objects")), 2);
	wait_check("k8s-status",
		   "{\"kind\":\"pvc\",\"name\":\"reports-data\",\"phase\":\"Pending\"}", CHECK_MET,
		   10);
	wait_check("k8s-event",
		   "{\"reason\":\"ProvisioningFailed\",\"kind\":\"PersistentVolumeClaim\","
		   "\"injection\":\"reports\"}",
		   CHECK_MET, 15);
	wait_check("k8s-pod", "{\"selector\":\"app=reports\",\"phase\":\"Pending\"}", CHECK_MET,
		   10);
	/* A second run of the same manifest: the objects are not its own. */
	cl_error_clear(&err);
	assert_int_equal(apply(&b, "k8s-apply", "again",
			       "{\"manifest\":\"manifests/broken/pvc-missing-storageclass.yaml\"}",
			       &err),
			 -1);
	assert_non_null(strstr(err.msg, "already exists"));
	revert_ok(&b);
	assert_string_equal(b.report, "");
	release(&b);
	/* The engineer's fix: the claim recreated from its own YAML (our labels). */
	assert_int_equal(fake_k8s_sh(
				 "kubectl -n prod-sim get pvc reports-data -o yaml | sed "
				 "'/storageClassName: fast-ssd/d' | kubectl replace --force -f - "
				 ">/dev/null"),
			 0);
	wait_check("k8s-status", "{\"kind\":\"pvc\",\"name\":\"reports-data\",\"phase\":\"Bound\"}",
		   CHECK_MET, 15);
	wait_check("k8s-rollout", "{\"deployment\":\"reports\",\"min_available\":1}", CHECK_MET,
		   20);
	revert_ok(&a);
	assert_non_null(
		strstr(a.report, "PersistentVolumeClaim reports-data (recreated from ours)"));
	assert_non_null(strstr(a.report, "Deployment reports"));
	wait_check("k8s-status", "{\"kind\":\"pvc\",\"name\":\"reports-data\",\"phase\":\"Bound\"}",
		   CHECK_NOT_MET, 15);
	assert_int_equal(fake_k8s_sh("for i in $(seq 50); do kubectl get pv -o name | grep -q . || "
				     "exit 0; sleep 0.2; done; exit 1"),
			 0);
	release(&a);
	/* Replaced by an object that is not ours: left alone. */
	apply_ok(&a, "k8s-apply", "reports",
		 "{\"manifest\":\"manifests/broken/pvc-missing-storageclass.yaml\"}");
	assert_int_equal(
		fake_k8s_sh("kubectl -n prod-sim delete deploy reports --wait=false >/dev/null "
			    "&& kubectl -n prod-sim delete pvc reports-data >/dev/null && "
			    "printf 'apiVersion: v1\\nkind: PersistentVolumeClaim\\nmetadata: "
			    "{name: reports-data, namespace: prod-sim}\\nspec: {accessModes: "
			    "[ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\\n' | "
			    "kubectl create -f - >/dev/null"),
		0);
	revert_ok(&a);
	assert_non_null(strstr(a.report, "left PersistentVolumeClaim reports-data (not created by "
					 "this run)"));
	assert_int_equal(fake_k8s_sh("kubectl -n prod-sim get pvc reports-data >/dev/null && "
				     "kubectl -n prod-sim delete pvc reports-data >/dev/null"),
			 0);
	release(&a);
}

/* ---- k8s-scale ------------------------------------------------------------------------------- */

static void test_scale(void **state)
{
	struct step s;
	struct cl_error err;
	char buf[256];

	(void)state;
	cl_error_clear(&err);
	assert_int_equal(
		apply(&s, "k8s-scale", "coredns",
		      "{\"name\":\"coredns\",\"replicas\":0,\"namespace\":\"kube-system\"}", &err),
		-1);
	assert_non_null(strstr(err.msg, "kube-system belongs to the cluster itself"));
	release(&s);
	apply_ok(&s, "k8s-scale", "coredns",
		 "{\"name\":\"coredns\",\"replicas\":0,\"namespace\":\"kube-system\","
		 "\"allow_system_namespace\":true}");
	assert_string_equal(kubectl_out(buf, sizeof(buf),
					"kubectl -n kube-system get deploy coredns "
					"-o jsonpath='{.spec.replicas}'"),
			    "0");
	wait_check("k8s-endpoints",
		   "{\"name\":\"kube-dns\",\"namespace\":\"kube-system\",\"max\":0}", CHECK_MET,
		   15);
	assert_int_equal(check("k8s-rollout",
			       "{\"deployment\":\"coredns\",\"namespace\":\"kube-system\","
			       "\"min_available\":1}",
			       buf, sizeof(buf)),
			 CHECK_NOT_MET);
	revert_ok(&s);
	assert_string_equal(s.report, "scaled deployment kube-system/coredns back to 2");
	wait_check("k8s-endpoints",
		   "{\"name\":\"kube-dns\",\"namespace\":\"kube-system\",\"min\":2}", CHECK_MET,
		   15);
	release(&s);
	/* Scaled since to something else: left. */
	apply_ok(&s, "k8s-scale", "web", "{\"name\":\"web\",\"replicas\":1}");
	assert_int_equal(
		fake_k8s_sh("kubectl -n prod-sim scale deploy web --replicas=3 >/dev/null"), 0);
	revert_ok(&s);
	assert_non_null(strstr(s.report, "was scaled to 3 since the drill"));
	assert_int_equal(
		fake_k8s_sh("kubectl -n prod-sim scale deploy web --replicas=2 >/dev/null"), 0);
	wait_check("k8s-rollout", "{\"deployment\":\"web\",\"min_available\":2}", CHECK_MET, 20);
	release(&s);
}

static void test_verifier_edges(void **state)
{
	char obs[256];
	struct step s;

	(void)state;
	/* Absent objects. */
	assert_int_equal(check("k8s-endpoints", "{\"name\":\"nope\",\"max\":0}", obs, sizeof(obs)),
			 CHECK_MET);
	assert_non_null(strstr(obs, "no service prod-sim/nope"));
	assert_int_equal(check("k8s-rollout", "{\"deployment\":\"nope\"}", obs, sizeof(obs)),
			 CHECK_NOT_MET);
	assert_int_equal(check("k8s-status",
			       "{\"kind\":\"pvc\",\"name\":\"nope\",\"phase\":\"Bound\"}", obs,
			       sizeof(obs)),
			 CHECK_NOT_MET);
	assert_non_null(strstr(obs, "not found"));
	/* Pods: counts and quantifiers. */
	assert_int_equal(check("k8s-pod",
			       "{\"selector\":\"app=api\",\"ready\":true,\"min\":2,\"max\":2}", obs,
			       sizeof(obs)),
			 CHECK_MET);
	assert_non_null(strstr(obs, "2 of 2 pods with app=api: ready"));
	assert_int_equal(check("k8s-pod",
			       "{\"selector\":\"app=api\",\"reason\":\"CrashLoopBackOff\"}", obs,
			       sizeof(obs)),
			 CHECK_NOT_MET);
	/* Events older than the injection do not count. */
	apply_ok(&s, "k8s-scale", "later", "{\"name\":\"web\",\"replicas\":3}");
	wait_check("k8s-event", "{\"reason\":\"ScalingReplicaSet\",\"injection\":\"later\"}",
		   CHECK_MET, 10);
	cJSON_ReplaceItemInObject(s.undo, "started_at",
				  cJSON_CreateNumber((double)time(NULL) + 3600));
	assert_int_equal(check("k8s-event",
			       "{\"reason\":\"ScalingReplicaSet\",\"injection\":\"later\"}", obs,
			       sizeof(obs)),
			 CHECK_NOT_MET);
	assert_non_null(strstr(obs, "0 ScalingReplicaSet events since"));
	revert_ok(&s);
	wait_check("k8s-rollout", "{\"deployment\":\"web\",\"min_available\":2}", CHECK_MET, 20);
	release(&s);
	/* An unknown injection is an error, not a silent pass. */
	assert_int_equal(check("k8s-event", "{\"reason\":\"X\",\"injection\":\"nope\"}", obs,
			       sizeof(obs)),
			 CHECK_ERROR);
}

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
	{
		char cat[512];

		snprintf(cat, sizeof(cat), "%s/scenarios", getenv("CHAOSLAB_SRC"));
		setenv("CHAOSLAB_SCENARIOS", cat, 1);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bare_intent),
		cmocka_unit_test(test_selector_typo),
		cmocka_unit_test(test_selector_nothing_changed_since),
		cmocka_unit_test(test_selector_engineer_fixed),
		cmocka_unit_test(test_selector_refusals),
		cmocka_unit_test(test_patch_nodeselector),
		cmocka_unit_test(test_patch_conflict_and_undo),
		cmocka_unit_test(test_patch_crash_and_noop),
		cmocka_unit_test(test_apply_oom),
		cmocka_unit_test(test_apply_pvc),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_verifier_edges),
	};

	return cmocka_run_group_tests_name("kubernetes injectors and verifiers", tests, server_up,
					   server_down);
}
