/* lab-network: the drill's lab network: a network namespace joined to the
 * host by a veth pair (see lab/network.h). Scenarios ask for it by listing
 * `network` under lab:; the engine then applies this step (id "lab-network")
 * before the lab services, which it starts inside the namespace.
 *
 * The namespace is called $CHAOSLAB_NETNS, else "chaoslab": one name for the
 * drill, its lab services, `chaoslab lab` and the runbooks' commands
 * (`ip netns exec chaoslab ...`).
 *
 * Undo data (keys documented in lab/network.h): "netns", "host_if", "lab_if"
 * and "tag" are journaled before anything is made; "host_addr", "lab_addr"
 * and "prefix" once the lab is up. Revert removes the veth and the namespace
 * when they carry the step's tag, and nothing else. */
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "core/registry.h"
#include "lab/network.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sys/features.h"

static const struct param_spec lab_network_params[] = {
	{ NULL },
};

static int lab_network_supported(const struct params *p, char *why, size_t size)
{
	static const int caps[] = { CAP_NET_ADMIN, CAP_SYS_ADMIN };
	static const char *const cap_names[] = { "CAP_NET_ADMIN", "CAP_SYS_ADMIN" };
	struct feature f;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (!feature_cap_effective(caps[i])) {
			snprintf(why, size,
				 "needs %s for the lab's network namespace and veth pair "
				 "(run as root)",
				 cap_names[i]);
			return -1;
		}
	/* A loadable veth module is fine: creating the first veth loads it. */
	if (feature_probe_netns(NULL, &f) == FEATURE_MISSING ||
	    feature_probe_veth(NULL, &f) == FEATURE_MISSING)
		return feature_explain(&f, why, size);
	return 0;
}

static int undo_set_str(cJSON *undo, const char *key, const char *val)
{
	cJSON_DeleteItemFromObjectCaseSensitive(undo, key);
	return cJSON_AddStringToObject(undo, key, val) ? 0 : -1;
}

/* The lab's own resolver configuration, /etc/netns/NETNS/resolv.conf (the
 * `ip netns exec` convention; `chaoslab lab shell` and lab processes see it
 * as /etc/resolv.conf): the lab address, where the lab DNS service listens
 * when the scenario runs one. Created only when the directory is not there
 * yet, so it is ours; its path reaches the journal first. */
static int lab_resolv_write(struct inject_ctx *ctx, const struct lab_net_info *info,
			    struct cl_error *err)
{
	char dir[128], path[160], tmp[176], text[256];
	struct stat st;
	int fd, n;

	snprintf(dir, sizeof(dir), "/etc/netns/%s", info->netns);
	if (stat(dir, &st) == 0)
		return 0; /* someone else's: leave it alone */
	if (!cJSON_AddStringToObject(ctx->undo, "etc_dir", dir) ||
	    !cJSON_AddBoolToObject(ctx->undo, "etc_netns_created", stat("/etc/netns", &st) != 0))
		return cl_error_set(err, CL_EXIT_USAGE, "lab-network: out of memory");
	if (inject_ctx_save(ctx, err))
		return -1;
	if ((mkdir("/etc/netns", 0755) < 0 && errno != EEXIST) || mkdir(dir, 0755) < 0)
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, errno, "lab-network: unable to create '%s'",
				      dir);
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	snprintf(tmp, sizeof(tmp), "%s/.resolv.conf.tmp", dir);
	n = snprintf(text, sizeof(text),
		     "# the chaoslab lab's resolver: the lab DNS service on the lab address\n"
		     "nameserver %s\noptions timeout:1 attempts:2\n",
		     info->lab_addr);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, text, (size_t)n) != n || fsync(fd) < 0 || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return cl_error_errno(err, CL_EXIT_PRIVILEGE, e, "lab-network: unable to write '%s'",
				      path);
	}
	return 0;
}

/* Remove the lab's /etc/netns/NETNS directory if the journal says we made
 * it: the files in it belong to the lab, which is going away. */
static void lab_resolv_remove(const cJSON *undo, char *report, size_t size)
{
	const cJSON *dir = cJSON_GetObjectItemCaseSensitive(undo, "etc_dir");
	const cJSON *top = cJSON_GetObjectItemCaseSensitive(undo, "etc_netns_created");
	char path[192];
	DIR *d;
	struct dirent *de;

	if (!cJSON_IsString(dir) || strncmp(dir->valuestring, "/etc/netns/", 11) ||
	    strstr(dir->valuestring, ".."))
		return;
	d = opendir(dir->valuestring);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir->valuestring, de->d_name);
		unlink(path);
	}
	closedir(d);
	if (rmdir(dir->valuestring) == 0) {
		size_t off = strlen(report);
		snprintf(report + off, size - off, "%sremoved %s", off ? "; " : "", dir->valuestring);
	}
	if (cJSON_IsTrue(top))
		rmdir("/etc/netns"); /* only if empty */
}

static int lab_network_apply(struct inject_ctx *ctx, struct cl_error *err)
{
	const char *name = lab_net_default_name();
	char tag[LAB_NET_TAG_MAX];
	struct lab_net_info info;

	if (lab_net_name_check(name, err)) {
		cl_error_prefix(err, "lab-network (CHAOSLAB_NETNS)");
		return -1;
	}
	lab_net_tag(tag, sizeof(tag), ctx->run_id, ctx->step_id);
	lab_net_plan(name, &info);
	/* Every name reaches the journal before the object it names exists. */
	if (undo_set_str(ctx->undo, "netns", info.netns) ||
	    undo_set_str(ctx->undo, "host_if", info.host_if) ||
	    undo_set_str(ctx->undo, "lab_if", info.lab_if) || undo_set_str(ctx->undo, "tag", tag))
		return cl_error_set(err, CL_EXIT_USAGE, "lab-network: out of memory");
	if (inject_ctx_save(ctx, err))
		return -1;
	if (lab_net_up(name, tag, &info, err)) {
		cl_error_prefix(err, "lab-network");
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(ctx->undo, "prefix");
	if (undo_set_str(ctx->undo, "host_addr", info.host_addr) ||
	    undo_set_str(ctx->undo, "lab_addr", info.lab_addr) ||
	    !cJSON_AddNumberToObject(ctx->undo, "prefix", info.prefix))
		return cl_error_set(err, CL_EXIT_USAGE, "lab-network: out of memory");
	if (inject_ctx_save(ctx, err))
		return -1;
	return lab_resolv_write(ctx, &info, err);
}

static const char *undo_str(const cJSON *undo, const char *key)
{
	const cJSON *v = undo ? cJSON_GetObjectItemCaseSensitive(undo, key) : NULL;

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static int lab_network_revert(struct revert_ctx *ctx, struct cl_error *err)
{
	const char *netns = undo_str(ctx->undo, "netns");
	const char *host_if = undo_str(ctx->undo, "host_if");
	const char *tag = undo_str(ctx->undo, "tag");
	char own_tag[LAB_NET_TAG_MAX];

	ctx->report[0] = '\0';
	/* A bare intent: nothing was made (the names are journaled first). */
	if (!netns && !host_if)
		return 0;
	if (!tag) {
		lab_net_tag(own_tag, sizeof(own_tag), ctx->run_id, ctx->step_id);
		tag = own_tag;
	}
	/* Only ever an interface of chaoslab's naming, whatever the journal says. */
	if (host_if && strncmp(host_if, LAB_NET_HOST_PREFIX, strlen(LAB_NET_HOST_PREFIX)))
		return cl_error_set(err, CL_EXIT_REVERT,
				    "lab-network: journaled interface '%s' is not a lab interface "
				    "(%s*): not touching it",
				    host_if, LAB_NET_HOST_PREFIX);
	if (lab_net_down(netns, host_if, tag, ctx->report, sizeof(ctx->report), err)) {
		cl_error_prefix(err, "lab-network");
		return -1;
	}
	lab_resolv_remove(ctx->undo, ctx->report, sizeof(ctx->report));
	return 0;
}

const struct injector lab_network_injector = {
	.name = "lab-network",
	.summary = "the lab network: a namespace joined to the host by a veth pair; scenarios "
		   "list it as `network` under lab:",
	.params = lab_network_params,
	.supported = lab_network_supported,
	.apply = lab_network_apply,
	.revert = lab_network_revert,
};
