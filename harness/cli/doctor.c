/* chaoslab doctor: can this machine run the drills?
 *
 * Runs every probe of sys/features.h, grouped (privileges, kernel, cgroups,
 * tools, kubernetes), and prints one line per check:
 *
 *	ok|warn|missing  CHECK  DETAIL  [-> REMEDY]
 *
 * then a summary line. Exit 0 when everything the built drills need is there;
 * 3 (CL_EXIT_PRIVILEGE) when a required check is missing: a capability of the
 * required set (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_KILL: chaoslab runs as root)
 * or seccomp filters (every worker locks itself down with one). Anything else
 * missing (netem, a tool, kubectl) only rules out the drills that use it,
 * which `chaoslab list` names. A check becomes required by flipping its flag
 * in run_checks(): network namespaces and veth will be, with the lab's
 * namespace. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sys/features.h"

static const char doctor_usage[] = "chaoslab doctor [--json]";

#define DOCTOR_MAX_CHECKS 48

struct check {
	const char *group;
	char name[32];
	bool required; /* missing => exit 3 */
	struct feature f;
};

struct report {
	struct check checks[DOCTOR_MAX_CHECKS];
	size_t n;
};

static struct feature *add(struct report *r, const char *group, const char *name, bool required)
{
	struct check *c;

	if (r->n >= DOCTOR_MAX_CHECKS) /* the table below is fixed: a programming error */
		abort();
	c = &r->checks[r->n++];
	memset(c, 0, sizeof(*c));
	c->group = group;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->required = required;
	return &c->f;
}

static void run_checks(struct report *r)
{
	struct feature_env env;
	struct cgroup_info ci;

	feature_env_init(&env, NULL, NULL);

	feature_probe_user(add(r, "privileges", "user", false));
	for (const struct feature_cap *c = feature_caps; c->name; c++)
		feature_probe_cap(c, add(r, "privileges", c->name, c->required));

	feature_probe_netns(&env, add(r, "kernel", "netns", false));
	feature_probe_veth(&env, add(r, "kernel", "veth", false));
	feature_probe_seccomp(add(r, "kernel", "seccomp", true));
	feature_probe_netem(&env, add(r, "kernel", "sch_netem", false));
	feature_probe_tbf(&env, add(r, "kernel", "sch_tbf", false));
	feature_probe_psi(&env, add(r, "kernel", "psi", false));

	if (feature_cgroups(&env, &ci)) {
		struct feature *f = add(r, "cgroups", "mountinfo", false);
		f->status = FEATURE_WARN;
		snprintf(f->detail, sizeof(f->detail), "/proc/self/mountinfo unreadable");
		snprintf(f->remedy, sizeof(f->remedy), "mount /proc");
	} else {
		feature_probe_cgroup_v1(&ci, add(r, "cgroups", "v1", false));
		feature_probe_cgroup_v2(&ci, add(r, "cgroups", "v2", false));
		feature_probe_cgroup_controllers(&ci, add(r, "cgroups", "controllers", false));
	}

	for (const struct feature_tool *t = feature_tools; t->name; t++)
		feature_probe_tool(t, add(r, "tools", t->name, false));

	feature_probe_kubectl(add(r, "kubernetes", "kubectl", false));
	feature_probe_kube_context(add(r, "kubernetes", "context", false));

	feature_env_release(&env);
}

static int print_json(const struct report *r)
{
	cJSON *arr = cJSON_CreateArray();
	char *text;

	for (size_t i = 0; arr && i < r->n; i++) {
		const struct check *c = &r->checks[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "group", c->group);
		cJSON_AddStringToObject(o, "check", c->name);
		cJSON_AddStringToObject(o, "status", feature_status_name(c->f.status));
		cJSON_AddStringToObject(o, "detail", c->f.detail);
		cJSON_AddStringToObject(o, "remedy", c->f.remedy);
		cJSON_AddBoolToObject(o, "required", c->required);
		cJSON_AddItemToArray(arr, o);
	}
	text = arr ? cJSON_Print(arr) : NULL;
	cJSON_Delete(arr);
	if (!text) {
		fprintf(stderr, "chaoslab: doctor: out of memory\n");
		return -1;
	}
	printf("%s\n", text);
	free(text);
	return 0;
}

static void print_text(const struct report *r, size_t counts[3], const char *required_missing)
{
	static const char *const colors[] = { "\033[32m", "\033[33m", "\033[31m" };
	bool color = cli_color();
	const char *group = NULL;

	for (size_t i = 0; i < r->n; i++) {
		const struct check *c = &r->checks[i];
		const char *st = feature_status_name(c->f.status);

		if (!group || strcmp(group, c->group)) {
			group = c->group;
			printf("%s%s:\n", i ? "\n" : "", group);
		}
		printf("  %s%-7s%s  %-16s  %s", color ? colors[c->f.status] : "", st,
		       color ? "\033[0m" : "", c->name, c->f.detail);
		if (c->f.remedy[0])
			printf("  -> %s", c->f.remedy);
		printf("\n");
	}
	printf("\n%zu ok, %zu warn, %zu missing: ", counts[FEATURE_OK], counts[FEATURE_WARN],
	       counts[FEATURE_MISSING]);
	if (required_missing[0])
		printf("drills cannot run here, missing %s (exit 3)\n", required_missing);
	else if (counts[FEATURE_MISSING])
		printf("the built drills can run; what is missing only rules out the drills "
		       "that use it (chaoslab list)\n");
	else
		printf("every built drill can run here\n");
}

int cmd_doctor(int argc, char **argv)
{
	static struct report r; /* a few KiB per check: keep it off the stack */
	bool json = false;
	size_t counts[3] = { 0, 0, 0 };
	char required_missing[256] = "";

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s\n\n"
			       "Check what the drills need: privileges (root and capabilities),\n"
			       "kernel features (network namespaces, veth, seccomp, sch_netem,\n"
			       "sch_tbf, PSI), cgroups v1 and v2, the tools drills use, and\n"
			       "kubectl with its current context. One line per check:\n"
			       "  ok|warn|missing  CHECK  DETAIL  [-> REMEDY]\n"
			       "--json prints an array of {group, check, status, detail, remedy,\n"
			       "required} instead. Nothing is changed on the machine.\n\n"
			       "exit 0 when the built drills can run; 3 when a required check is\n"
			       "missing (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_KILL, seccomp); 2 on a\n"
			       "usage error. Anything else missing only rules out the drills\n"
			       "that use it (chaoslab list says which).\n",
			       doctor_usage);
			return CL_EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			return cli_usage(doctor_usage, "doctor: unknown option '%s'", argv[i]);
		}
	}

	r.n = 0;
	run_checks(&r);
	for (size_t i = 0; i < r.n; i++) {
		const struct check *c = &r.checks[i];

		counts[c->f.status]++;
		if (c->required && c->f.status == FEATURE_MISSING) {
			size_t off = strlen(required_missing);
			snprintf(required_missing + off, sizeof(required_missing) - off, "%s%s",
				 off ? ", " : "", c->name);
		}
	}
	if (json) {
		if (print_json(&r))
			return CL_EXIT_USAGE;
	} else {
		print_text(&r, counts, required_missing);
	}
	return required_missing[0] ? CL_EXIT_PRIVILEGE : CL_EXIT_OK;
}
