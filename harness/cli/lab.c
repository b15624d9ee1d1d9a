/* chaoslab lab up|down|status|shell: the lab network by hand, for practice.
 *
 * `lab up` makes the same lab a drill makes (the lab-network injector), as a
 * drill does: under the run lock, journaled step by step, so a `lab up` killed
 * half-way is undone by `chaoslab recover` like a dead drill. Once the lab is
 * up it is recorded in STATE/lab.json (its undo data) and the journal is
 * finished: the lab outlives the command, and recovery leaves it alone.
 * `lab down` reverts it from that record, journaled again. One manual lab at a
 * time; while it is up, drills that need a lab network of the same name say
 * so and do not start. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/route.h>
#include <netlink/route/tc.h>

#include "cli/cli.h"
#include "core/journal.h"
#include "core/registry.h"
#include "core/results.h"
#include "lab/network.h"
#include "sys/worker.h"

#define LAB_RECORD "lab" /* STATE/lab.json */
#define LAB_STEP "lab-network"
#define LAB_PROMPT "(chaoslab-lab)"

static const char lab_usage[] = "chaoslab lab up|down|status|shell [--name NAME] [...]";

static void lab_help(void)
{
	printf("usage: %s\n\n"
	       "The lab network by hand: a network namespace joined to this machine by a\n"
	       "veth pair, with a /30 that clashes with nothing here. No default route, no\n"
	       "forwarding, no NAT: the lab reaches this machine's end of the veth and\n"
	       "nothing else. Drills whose lab: lists `network` make the same lab for\n"
	       "their duration.\n\n"
	       "  up      bring the lab up (journaled; holds the run lock while it changes)\n"
	       "  down    take it down again\n"
	       "  status  names, addresses, routes and qdiscs of both ends\n"
	       "  shell   a shell (or a command) inside the lab's network namespace\n\n"
	       "  --name NAME  the namespace name (default $CHAOSLAB_NETNS, else chaoslab)\n\n"
	       "'chaoslab lab COMMAND --help' says more. Needs root.\n",
	       lab_usage);
}

/* ---- the record of a manual lab ------------------------------------------------ */

static void record_path(const char *dir, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s.json", dir, LAB_RECORD);
}

/* STATE/lab.json, or NULL when there is none (or it is unreadable: a torn
 * record cannot exist, it is written by rename). */
static cJSON *record_read(const char *dir)
{
	char path[600];
	FILE *f;
	long len;
	char *text;
	cJSON *doc = NULL;

	record_path(dir, path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && len < 1 << 20 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		text = calloc(1, (size_t)len + 1);
		if (text && fread(text, 1, (size_t)len, f) == (size_t)len)
			doc = cJSON_Parse(text);
		free(text);
	}
	fclose(f);
	if (doc && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "undo"))) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	return doc;
}

static int record_remove(const char *dir, struct cl_error *err)
{
	char path[600];
	int dfd;

	record_path(dir, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		return cl_error_errno(err, CL_EXIT_REVERT, errno, "unable to remove '%s'", path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- shared steps ------------------------------------------------------------------ */

/* Parse [--name NAME] (and --json when json is non-NULL); the name becomes
 * $CHAOSLAB_NETNS so that every part of chaoslab agrees on it. Returns -1 to
 * go on, else the exit code. *rest (may be NULL) gets the index after "--". */
static int parse_opts(int argc, char **argv, const char *usage, void (*help)(void), bool *json,
		      int *rest)
{
	struct cl_error err;

	if (json)
		*json = false;
	if (rest)
		*rest = argc;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (cli_is_help(a)) {
			help();
			return 0;
		} else if (!strcmp(a, "--name") || !strncmp(a, "--name=", 7)) {
			const char *v = a[6] == '=' ? a + 7 : i + 1 < argc ? argv[++i] : NULL;

			if (!v)
				return cli_usage(usage, "lab %s: --name needs a value", argv[0]);
			if (lab_net_name_check(v, &err))
				return cli_fail(&err);
			setenv("CHAOSLAB_NETNS", v, 1);
		} else if (json && !strcmp(a, "--json")) {
			*json = true;
		} else if (rest && !strcmp(a, "--")) {
			*rest = i + 1;
			break;
		} else {
			return cli_usage(usage, "lab %s: unexpected argument '%s'", argv[0], a);
		}
	}
	if (lab_net_name_check(lab_net_default_name(), &err)) {
		cl_error_prefix(&err, "CHAOSLAB_NETNS");
		return cli_fail(&err);
	}
	return -1;
}

/* The state directory, locked, with any dead run recovered first. */
static int lab_lock(char *dir, size_t size, struct run_lock *lk, struct cl_error *err)
{
	struct recover_report rep;

	if (state_dir(dir, size, true, err) || run_lock_acquire(dir, lk, NULL, err))
		return -1;
	if (journal_recover(dir, &rep, err)) {
		cl_error_prefix(err, "a previous run could not be recovered");
		run_lock_release(lk);
		return -1;
	}
	if (rep.found)
		printf("recovered a previous run (%s) first:\n%s", rep.run_id, rep.text);
	return 0;
}

/* Revert the lab step of run_id from undo, journaled in dir's journal. */
static int lab_revert(const char *dir, const char *run_id, const cJSON *undo, char *report,
		      size_t size, struct cl_error *err)
{
	const struct injector *in = injector_find(LAB_STEP);
	struct revert_ctx rc = {
		.run_id = run_id, .step_id = LAB_STEP, .state_dir = dir, .undo = undo
	};
	struct journal *j;

	j = journal_begin(dir, run_id, "lab", err);
	if (!j)
		return -1;
	if (journal_append(j, "intent", LAB_STEP, in->name, undo, err) ||
	    journal_append(j, "revert-begin", LAB_STEP, in->name, NULL, err)) {
		journal_close(j);
		return -1;
	}
	if (in->revert(&rc, err)) {
		journal_append(j, "revert-failed", LAB_STEP, in->name, NULL, NULL);
		journal_close(j);
		return -1;
	}
	snprintf(report, size, "%s", rc.report);
	if (journal_append(j, "reverted", LAB_STEP, in->name, NULL, err) ||
	    record_remove(dir, err)) {
		journal_close(j);
		return -1;
	}
	return journal_finish(j, err);
}

/* Block the terminal's signals while the lab changes: a ^C then takes effect
 * once the change and its record are complete. */
static void signals_hold(sigset_t *old)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	sigaddset(&s, SIGQUIT);
	sigprocmask(SIG_BLOCK, &s, old);
}

/* ---- status ------------------------------------------------------------------------- */

static void help_status(void)
{
	printf("usage: chaoslab lab status [--name NAME] [--json]\n\n"
	       "The lab network as the kernel has it: the namespace and who owns it (the\n"
	       "manual lab, a drill's run, or not chaoslab's), both veth ends with their\n"
	       "addresses, the routes inside the lab (there is no default route) and the\n"
	       "qdiscs on both ends (a drill's netem or tbf shows here).\n"
	       "Exit: 0 when the lab is up, 1 when absent or partial.\n");
}

/* Append the qdiscs of ifname as seen through sk to arr (JSON) or print them. */
static void show_qdiscs(struct nl_sock *sk, const char *ifname, const char *where, cJSON *arr)
{
	struct nl_cache *links = NULL, *qdiscs = NULL;
	struct nl_object *o;
	int ifindex, n = 0;

	if (!sk || rtnl_link_alloc_cache(sk, AF_UNSPEC, &links) < 0)
		return;
	ifindex = rtnl_link_name2i(links, ifname);
	if (ifindex > 0 && rtnl_qdisc_alloc_cache(sk, &qdiscs) == 0) {
		for (o = nl_cache_get_first(qdiscs); o; o = nl_cache_get_next(o)) {
			struct rtnl_tc *tc = TC_CAST(o);
			uint32_t h = rtnl_tc_get_handle(tc), p = rtnl_tc_get_parent(tc);
			const char *kind = rtnl_tc_get_kind(tc) ? rtnl_tc_get_kind(tc) : "?";
			char handle[16], parent[32];

			if (rtnl_tc_get_ifindex(tc) != ifindex)
				continue;
			snprintf(handle, sizeof(handle), "%x:", h >> 16);
			if (p == TC_H_ROOT)
				snprintf(parent, sizeof(parent), "root");
			else
				snprintf(parent, sizeof(parent), "parent %x:%x", p >> 16,
					 p & 0xffff);
			if (arr) {
				cJSON *q = cJSON_CreateObject();

				cJSON_AddStringToObject(q, "dev", ifname);
				cJSON_AddStringToObject(q, "where", where);
				cJSON_AddStringToObject(q, "kind", kind);
				cJSON_AddStringToObject(q, "handle", handle);
				cJSON_AddStringToObject(q, "parent", parent);
				cJSON_AddItemToArray(arr, q);
			} else {
				printf("%s qdisc %s %s %s", n++ ? ";" : "", kind, handle, parent);
			}
		}
		nl_cache_free(qdiscs);
	}
	nl_cache_free(links);
}

/* Routes inside the lab (main table) into arr or printed; returns whether
 * any table but local has a default route. */
static bool show_routes(struct nl_sock *sk, cJSON *arr)
{
	struct nl_cache *routes = NULL;
	struct nl_object *o;
	bool dflt = false;
	int n = 0;

	if (!sk || rtnl_route_alloc_cache(sk, AF_INET, 0, &routes) < 0)
		return false;
	for (o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(r);
		char buf[64];

		if (rtnl_route_get_table(r) == RT_TABLE_LOCAL)
			continue;
		if (!dst || nl_addr_get_prefixlen(dst) == 0) {
			dflt = true;
			snprintf(buf, sizeof(buf), "default");
		} else {
			nl_addr2str(dst, buf, sizeof(buf));
		}
		if (rtnl_route_get_table(r) != RT_TABLE_MAIN && !dflt)
			continue;
		if (arr)
			cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
		else
			printf("%s%s", n++ ? ", " : "", buf);
	}
	nl_cache_free(routes);
	return dflt;
}

/* Who owns the lab: "manual lab (run R)", "drill run R", "not chaoslab's". */
static void describe_owner(const struct lab_net_info *info, const cJSON *rec, char *buf,
			   size_t size)
{
	const char *tag = info->tag;
	size_t pl = strlen(LAB_NET_TAG_PREFIX);

	if (!tag[0]) {
		snprintf(buf, size, "not chaoslab's (no owner tag)");
	} else if (strncmp(tag, LAB_NET_TAG_PREFIX, pl)) {
		snprintf(buf, size, "not chaoslab's");
	} else if (rec &&
		   !strcmp(jstr(cJSON_GetObjectItemCaseSensitive(rec, "undo"), "tag"), tag)) {
		snprintf(buf, size, "manual lab (chaoslab lab up, run %s)", jstr(rec, "run_id"));
	} else {
		const char *run = tag + pl, *colon = strrchr(run, ':');

		snprintf(buf, size, "drill run %.*s", colon ? (int)(colon - run) : (int)strlen(run),
			 run);
	}
}

static int lab_status(int argc, char **argv)
{
	const char *usage = "chaoslab lab status [--name NAME] [--json]";
	char dir[512], owner[300];
	struct lab_net_info info;
	struct nl_sock *host = NULL, *lab = NULL;
	struct cl_error err;
	cJSON *rec = NULL;
	bool json, dflt = false;
	int st, rc;

	rc = parse_opts(argc, argv, usage, help_status, &json, NULL);
	if (rc >= 0)
		return rc;
	cl_error_clear(&err);
	if (state_dir(dir, sizeof(dir), false, &err) == 0)
		rec = record_read(dir);
	st = lab_net_status(lab_net_default_name(), &info, &err);
	if (st < 0) {
		cJSON_Delete(rec);
		return cli_fail(&err);
	}
	describe_owner(&info, rec, owner, sizeof(owner));
	lab_net_nl_open(NULL, &host, &err);
	if (lab_net_ns_exists(info.netns) == 0)
		lab_net_nl_open(info.netns, &lab, &err);
	if (json) {
		cJSON *o = cJSON_CreateObject();
		cJSON *routes = cJSON_CreateArray(), *qd = cJSON_CreateArray();
		char *text;

		cJSON_AddStringToObject(o, "name", info.netns);
		cJSON_AddStringToObject(o, "state", lab_net_state_name((enum lab_net_state)st));
		cJSON_AddStringToObject(o, "owner", st == LAB_NET_ABSENT ? "" : owner);
		cJSON_AddStringToObject(o, "tag", info.tag);
		cJSON_AddStringToObject(o, "host_if", info.host_if);
		cJSON_AddStringToObject(o, "lab_if", info.lab_if);
		cJSON_AddStringToObject(o, "host_addr", info.host_addr);
		cJSON_AddStringToObject(o, "lab_addr", info.lab_addr);
		cJSON_AddNumberToObject(o, "prefix", info.prefix);
		dflt = show_routes(lab, routes);
		cJSON_AddItemToObject(o, "routes", routes);
		cJSON_AddBoolToObject(o, "default_route", dflt);
		show_qdiscs(host, info.host_if, "host", qd);
		show_qdiscs(lab, info.lab_if, "lab", qd);
		cJSON_AddItemToObject(o, "qdiscs", qd);
		text = cJSON_Print(o);
		printf("%s\n", text ? text : "{}");
		free(text);
		cJSON_Delete(o);
	} else if (st == LAB_NET_ABSENT) {
		printf("lab network '%s': absent (chaoslab lab up brings it up)\n", info.netns);
	} else {
		printf("lab network '%s': %s, %s\n", info.netns,
		       lab_net_state_name((enum lab_net_state)st), owner);
		printf("  host end  %-14s %s%s%s\n", info.host_if,
		       info.host_addr[0] ? info.host_addr : "(no address)",
		       info.host_addr[0] ? "/" : "", info.host_addr[0] ? "30" : "");
		printf("  lab end   %-14s %s%s  (inside the namespace)\n", info.lab_if,
		       info.lab_addr[0] ? info.lab_addr : "(no address)",
		       info.lab_addr[0] ? "/30" : "");
		printf("  lab routes: ");
		dflt = show_routes(lab, NULL);
		printf("%s\n", dflt ? "  (a default route! not chaoslab's doing)" :
				      "  (no default route: the lab reaches only this machine)");
		printf("  qdiscs    %s:", info.host_if);
		show_qdiscs(host, info.host_if, "host", NULL);
		printf("\n            %s (lab):", info.lab_if);
		show_qdiscs(lab, info.lab_if, "lab", NULL);
		printf("\n");
		if (st == LAB_NET_UP)
			printf("  try: ping -c1 %s; chaoslab lab shell (or: ip netns exec %s bash)\n",
			       info.lab_addr, info.netns);
	}
	if (host)
		nl_socket_free(host);
	if (lab)
		nl_socket_free(lab);
	cJSON_Delete(rec);
	return st == LAB_NET_UP ? 0 : 1;
}

/* ---- up ------------------------------------------------------------------------------ */

static void help_up(void)
{
	printf("usage: chaoslab lab up [--name NAME]\n\n"
	       "Bring the lab network up: namespace NAME (default $CHAOSLAB_NETNS, else\n"
	       "chaoslab), veth clab-NAME <-> eth0, a free /30 (10.203.N.0/30 or\n"
	       "172.31.N.0/30), both ends up. Journaled like a drill and done under the run\n"
	       "lock; a lab up that was killed half-way is undone by chaoslab recover.\n"
	       "When it is up already, says so and changes nothing.\n");
}

static int lab_up(int argc, char **argv)
{
	const struct injector *in = injector_find(LAB_STEP);
	char dir[512], run_id[160], owner[256], why[512], stamp[32], report[256];
	struct run_lock lk;
	struct journal *j = NULL;
	struct params params = { 0 };
	struct lab_net_info info;
	struct cl_error err;
	cJSON *undo = NULL, *rec = NULL;
	sigset_t old;
	time_t now = time(NULL);
	struct tm tm;
	unsigned rnd;
	int rc;

	rc = parse_opts(argc, argv, "chaoslab lab up [--name NAME]", help_up, NULL, NULL);
	if (rc >= 0)
		return rc;
	cl_error_clear(&err);
	if (!in) {
		cl_error_set(&err, CL_EXIT_USAGE, "this build has no %s injector", LAB_STEP);
		return cli_fail(&err);
	}
	if (in->supported(NULL, why, sizeof(why))) {
		cl_error_set(&err, CL_EXIT_PRIVILEGE, "lab up: %s", why);
		return cli_fail(&err);
	}
	signals_hold(&old);
	if (lab_lock(dir, sizeof(dir), &lk, &err)) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return cli_fail(&err);
	}
	rc = CL_EXIT_USAGE;
	rec = record_read(dir);
	if (rec) {
		const cJSON *ru = cJSON_GetObjectItemCaseSensitive(rec, "undo");
		int st = lab_net_status(jstr(ru, "netns"), &info, &err);

		if (st == LAB_NET_UP && !strcmp(info.tag, jstr(ru, "tag"))) {
			if (strcmp(info.netns, lab_net_default_name())) {
				cl_error_set(&err, CL_EXIT_USAGE,
					     "the manual lab '%s' is up; one at a time: "
					     "'chaoslab lab down --name %s' first",
					     info.netns, info.netns);
				goto fail;
			}
			printf("lab network '%s' is up already\n", info.netns);
			rc = CL_EXIT_OK;
			goto out;
		}
		/* A record of a lab that is gone or broken: finish taking it down. */
		if (lab_revert(dir, jstr(rec, "run_id"), ru, report, sizeof(report), &err))
			goto fail;
		if (report[0])
			printf("took down what was left of the previous lab: %s\n", report);
	}

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	rnd = (unsigned)getpid() ^ (unsigned)now;
	snprintf(run_id, sizeof(run_id), "%s%s-%s-%04x", LAB_NET_MANUAL_RUN, stamp,
		 lab_net_default_name(), rnd & 0xffff);
	run_lock_describe(&lk, run_id, "lab");
	if (params_from_doc(&params, in->params, NULL, "(lab)", NULL, "lab", &err))
		goto fail;
	j = journal_begin(dir, run_id, "lab", &err);
	if (!j)
		goto fail;
	worker_owner_tag(owner, sizeof(owner), run_id, LAB_STEP);
	undo = cJSON_CreateObject();
	if (!undo || !cJSON_AddStringToObject(undo, "run", run_id) ||
	    !cJSON_AddStringToObject(undo, "step", LAB_STEP) ||
	    !cJSON_AddStringToObject(undo, "owner", owner)) {
		cl_error_set(&err, CL_EXIT_USAGE, "out of memory");
		goto fail;
	}
	if (journal_append(j, "intent", LAB_STEP, in->name, undo, &err))
		goto fail;
	{
		struct inject_ctx ctx = { .run_id = run_id,
					  .step_id = LAB_STEP,
					  .state_dir = dir,
					  .params = &params,
					  .undo = undo,
					  .journal = j };
		struct revert_ctx rctx = {
			.run_id = run_id, .step_id = LAB_STEP, .state_dir = dir, .undo = undo
		};

		if (in->apply(&ctx, &err)) {
			struct cl_error e2;

			cl_error_clear(&e2);
			journal_append(j, "revert-begin", LAB_STEP, in->name, NULL, NULL);
			if (in->revert(&rctx, &e2)) {
				journal_append(j, "revert-failed", LAB_STEP, in->name, NULL, NULL);
				journal_close(j);
				j = NULL;
				cl_error_prefix(&err, "and undoing it failed too (run chaoslab "
						      "recover)");
				err.code = CL_EXIT_REVERT;
				goto fail;
			}
			journal_append(j, "reverted", LAB_STEP, in->name, NULL, NULL);
			journal_finish(j, NULL);
			j = NULL;
			goto fail;
		}
	}
	if (journal_append(j, "applied", LAB_STEP, in->name, undo, &err))
		goto fail;
	/* The record first, then the journal goes: a crash in between leaves
	 * both, and recovery takes the lab down (the record is then stale, and
	 * the next lab up or down clears it). */
	cJSON_Delete(rec);
	rec = cJSON_CreateObject();
	if (!rec || !cJSON_AddStringToObject(rec, "run_id", run_id) ||
	    !cJSON_AddStringToObject(rec, "step", LAB_STEP) ||
	    !cJSON_AddStringToObject(rec, "created_at", stamp) ||
	    !cJSON_AddItemToObject(rec, "undo", cJSON_Duplicate(undo, 1))) {
		cl_error_set(&err, CL_EXIT_USAGE, "out of memory");
		goto fail;
	}
	if (results_write(dir, LAB_RECORD, rec, NULL, 0, &err))
		goto fail;
	if (journal_finish(j, &err)) {
		j = NULL;
		goto fail;
	}
	j = NULL;
	printf("lab network '%s' is up: %s %s/%d <-> %s %s/%d (inside)\n", jstr(undo, "netns"),
	       jstr(undo, "host_if"), jstr(undo, "host_addr"), LAB_NET_PREFIX_LEN,
	       jstr(undo, "lab_if"), jstr(undo, "lab_addr"), LAB_NET_PREFIX_LEN);
	printf("try: ping -c1 %s; chaoslab lab shell; chaoslab lab status; chaoslab lab down\n",
	       jstr(undo, "lab_addr"));
	rc = CL_EXIT_OK;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	if (j)
		journal_close(j); /* left for recover */
	params_release(&params);
	cJSON_Delete(undo);
	cJSON_Delete(rec);
	run_lock_release(&lk);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- down ---------------------------------------------------------------------------- */

static void help_down(void)
{
	printf("usage: chaoslab lab down [--name NAME]\n\n"
	       "Take the manual lab down: delete its veth pair and its namespace, each only\n"
	       "if it still carries the lab's owner tag. Journaled; safe to repeat. A\n"
	       "drill's lab goes when the drill ends (or with chaoslab recover), not here.\n");
}

static int lab_down(int argc, char **argv)
{
	char dir[512], report[256] = "";
	struct run_lock lk;
	struct lab_net_info info;
	struct cl_error err;
	cJSON *rec;
	sigset_t old;
	int rc;

	rc = parse_opts(argc, argv, "chaoslab lab down [--name NAME]", help_down, NULL, NULL);
	if (rc >= 0)
		return rc;
	cl_error_clear(&err);
	signals_hold(&old);
	if (lab_lock(dir, sizeof(dir), &lk, &err)) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return cli_fail(&err);
	}
	rec = record_read(dir);
	if (!rec || strcmp(jstr(cJSON_GetObjectItemCaseSensitive(rec, "undo"), "netns"),
			   lab_net_default_name())) {
		int st = lab_net_status(lab_net_default_name(), &info, &err);
		char owner[300];

		describe_owner(&info, NULL, owner, sizeof(owner));
		if (st > LAB_NET_ABSENT)
			printf("no manual lab '%s' is up; the namespace there is %s: left alone\n",
			       lab_net_default_name(), owner);
		else
			printf("no manual lab '%s' is up: nothing to do\n", lab_net_default_name());
		rc = CL_EXIT_OK;
		goto out;
	}
	if (lab_revert(dir, jstr(rec, "run_id"), cJSON_GetObjectItemCaseSensitive(rec, "undo"),
		       report, sizeof(report), &err)) {
		rc = cli_fail(&err);
		goto out;
	}
	printf("lab network '%s' is down%s%s\n", lab_net_default_name(), report[0] ? ": " : "",
	       report);
	rc = CL_EXIT_OK;
out:
	cJSON_Delete(rec);
	run_lock_release(&lk);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- shell --------------------------------------------------------------------------- */

static void help_shell(void)
{
	printf("usage: chaoslab lab shell [--name NAME] [-- COMMAND [ARG]...]\n\n"
	       "Run $SHELL (or COMMAND) inside the lab's network namespace, the way\n"
	       "`ip netns exec` does: a private mount namespace, /sys of the lab, and every\n"
	       "/etc/netns/NAME/FILE bind-mounted over /etc/FILE. The prompt starts with\n"
	       "%s; $CHAOSLAB_LAB holds the name. Leave with exit.\n",
	       LAB_PROMPT);
}

/* bash reads its startup file from a memfd: the user's ~/.bashrc, then the
 * prompt marked as the lab's. Returns the fd or -1. */
static int bash_rcfile(void)
{
	static const char rc[] = "if [ -f ~/.bashrc ]; then . ~/.bashrc; fi\n"
				 "case \"$PS1\" in \"" LAB_PROMPT "\"*) ;; *) PS1=\"" LAB_PROMPT
				 " ${PS1:-\\u@\\h:\\w\\$ }\" ;; esac\n";
	int fd = memfd_create("chaoslab-lab-bashrc", 0);

	if (fd < 0)
		return -1;
	if (write(fd, rc, sizeof(rc) - 1) != (ssize_t)(sizeof(rc) - 1) ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int lab_shell(int argc, char **argv)
{
	const char *usage = "chaoslab lab shell [--name NAME] [-- COMMAND [ARG]...]";
	const char *name, *shell = getenv("SHELL"), *base;
	struct lab_net_info info;
	struct cl_error err;
	char rcpath[64];
	int rest, rc, fd;

	rc = parse_opts(argc, argv, usage, help_shell, NULL, &rest);
	if (rc >= 0)
		return rc;
	cl_error_clear(&err);
	name = lab_net_default_name();
	if (lab_net_status(name, &info, &err) < 0)
		return cli_fail(&err);
	if (lab_net_ns_exists(name) < 0) {
		cl_error_set(&err, CL_EXIT_USAGE,
			     "no lab network '%s' is up (chaoslab lab up, or run a drill)", name);
		return cli_fail(&err);
	}
	if (lab_net_enter(name, &err))
		return cli_fail(&err);
	setenv("CHAOSLAB_LAB", name, 1);
	if (rest < argc) {
		execvp(argv[rest], argv + rest);
		fprintf(stderr, "chaoslab: lab shell: unable to run '%s': %s\n", argv[rest],
			strerror(errno));
		return 127;
	}
	if (!shell || !*shell)
		shell = "/bin/sh";
	base = strrchr(shell, '/') ? strrchr(shell, '/') + 1 : shell;
	setenv("PS1", LAB_PROMPT " \\u@\\h:\\w\\$ ", 1);
	fprintf(stderr, "entering lab network '%s': %s %s/%d, this machine at %s (exit to leave)\n",
		name, info.lab_if, info.lab_addr[0] ? info.lab_addr : "(no address)", info.prefix,
		info.host_addr[0] ? info.host_addr : "(no address)");
	if (!strcmp(base, "bash") && (fd = bash_rcfile()) >= 0) {
		snprintf(rcpath, sizeof(rcpath), "/dev/fd/%d", fd);
		execl(shell, "bash", "--rcfile", rcpath, "-i", (char *)NULL);
	} else {
		if (strcmp(base, "sh") && strcmp(base, "dash"))
			setenv("PS1", LAB_PROMPT " # ", 1);
		execl(shell, base, "-i", (char *)NULL);
	}
	fprintf(stderr, "chaoslab: lab shell: unable to run '%s': %s\n", shell, strerror(errno));
	return 127;
}

/* ---- dispatch ------------------------------------------------------------------------ */

int cmd_lab(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} subs[] = {
		{ "up", lab_up },
		{ "down", lab_down },
		{ "status", lab_status },
		{ "shell", lab_shell },
	};
	const char *names[] = { "up", "down", "status", "shell", NULL };
	const char *dym;

	if (argc < 2)
		return cli_usage(lab_usage, "lab: which one: up, down, status or shell?");
	if (cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
		lab_help();
		return 0;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	dym = cl_did_you_mean(argv[1], names, (size_t)-1);
	if (dym)
		return cli_usage(lab_usage, "lab: '%s' is not a lab command (did you mean '%s'?)",
				 argv[1], dym);
	return cli_usage(lab_usage, "lab: '%s' is not a lab command", argv[1]);
}
