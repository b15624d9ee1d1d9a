/* Feature probes: privileges, kernel features, cgroups, tools, kubectl.
 *
 * Each probe looks at this machine and fills a struct feature: a status
 * (ok / warn / missing), a one-line detail saying what it found, and a remedy
 * saying what to do about it ("" when there is nothing to do). Probes return
 * the status too, so an injector's supported() can write
 *
 *	struct feature f;
 *	if (feature_probe_netem(NULL, &f) != FEATURE_OK)
 *		return feature_explain(&f, why, size);
 *
 * `chaoslab doctor` runs them all. Probes never print and never change the
 * system. The only processes they start are dry runs (`modprobe -n`,
 * `kubectl version --client`, `kubectl config current-context`,
 * `gzip -dc /proc/config.gz`), each under a timeout, and a forked child that
 * tries unshare(CLONE_NEWNET) and exits.
 *
 * Probes that read system files take a struct feature_env. NULL means the
 * live system; tests point env->root at a fake tree (proc/, sys/, lib/modules/,
 * boot/) to exercise states this machine is not in. */
#ifndef CHAOSLAB_FEATURES_H
#define CHAOSLAB_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

enum feature_status {
	FEATURE_OK = 0,	     /* present and usable */
	FEATURE_WARN = 1,    /* usable with a caveat, or could not tell */
	FEATURE_MISSING = 2, /* absent: the drills that need it cannot run */
};

struct feature {
	enum feature_status status;
	char detail[384]; /* what was found, one line */
	char remedy[224]; /* what to do, one line; "" = nothing */
};

/* "ok", "warn" or "missing". */
const char *feature_status_name(enum feature_status s);

/* Write "detail (remedy)" into why, for supported() callbacks. Returns -1 when
 * f is not FEATURE_OK (so it can be returned directly), else 0. */
int feature_explain(const struct feature *f, char *why, size_t size);

/* Where probes look. Initialise with feature_env_init, release with
 * feature_env_release (it caches the kernel config once read). */
struct feature_env {
	char root[256];	      /* prefix of every file read; "" = the live system */
	char release[128];    /* kernel release modules are looked up for */
	char *kconfig;	      /* kernel config text, NULL until read or if none */
	char kconfig_src[64]; /* where it was read from, e.g. "/proc/config.gz" */
	bool kconfig_read;    /* a read was attempted */
};

/* root NULL or "" = the live system. release NULL = uname -r. Only the live
 * system runs commands (modprobe -n); a fake root is read, never executed. */
void feature_env_init(struct feature_env *env, const char *root, const char *release);
void feature_env_release(struct feature_env *env);

/* ---- privileges ---------------------------------------------------------- */

/* The capabilities chaoslab uses, in the order doctor lists them; the array
 * ends with an entry whose name is NULL. `required` marks those without which
 * no built drill can run (doctor exits 3 when one is missing). */
struct feature_cap {
	int cap;	      /* CAP_* value from <linux/capability.h> */
	const char *name;     /* "CAP_NET_ADMIN" */
	const char *used_for; /* "the lab's veth pair and tc qdiscs" */
	bool required;
};
extern const struct feature_cap feature_caps[];

/* True when cap is in this process's effective set (libcap). */
bool feature_cap_effective(int cap);

/* One capability: ok when effective; else missing (required) or warn, with
 * the remedy depending on why (not root, or dropped from the bounding set). */
enum feature_status feature_probe_cap(const struct feature_cap *c, struct feature *out);

/* The user: ok for euid 0, warn otherwise ("run as root"). */
enum feature_status feature_probe_user(struct feature *out);

/* ---- kernel -------------------------------------------------------------- */

/* The value of a kernel config symbol (CONFIG_VETH) in this kernel's config,
 * read once from ROOT/boot/config-RELEASE or ROOT/proc/config.gz. Returns 1
 * with val ("y", "m", a string) when set, 0 with val "n" when "is not set" or
 * absent from a config that was found, -1 with val "" when no config could be
 * read. */
int feature_kconfig(struct feature_env *env, const char *sym, char *val, size_t size);

enum kmod_state {
	KMOD_UNKNOWN,	    /* nothing to go by */
	KMOD_LOADED,	    /* a loaded module (/sys/module/NAME/initstate) */
	KMOD_BUILTIN,	    /* built into the kernel */
	KMOD_LOADABLE,	    /* a module file for this kernel exists, not loaded */
	KMOD_NOT_INSTALLED, /* configured as a module, no module file installed */
	KMOD_ABSENT,	    /* the kernel was built without it */
};

struct kmod_info {
	enum kmod_state state;
	char how[160];		/* the evidence: "/sys/module/veth", "CONFIG_VETH=y" */
	char file[256];		/* the module file from modules.dep, "" if none */
	char kconfig[16];	/* the config symbol's value, "" = config unknown */
	char modules_dir[300];	/* ROOT/lib/modules/RELEASE if it exists, else "" */
	bool no_module_support; /* CONFIG_MODULES is not set */
	int modprobe_rc;	/* `modprobe -n NAME` exit status; -1 = not run */
	char modprobe_msg[160]; /* its first line of output */
};

/* Find out whether kernel module `module` (sch_netem) is loaded, built in,
 * loadable or absent, from /sys/module, modules.builtin and modules.dep under
 * /lib/modules/RELEASE, the kernel config (config_sym, may be NULL) and, on
 * the live system, `modprobe -n`. Returns the state (also in out->state). */
enum kmod_state feature_kmod(struct feature_env *env, const char *module, const char *config_sym,
			     struct kmod_info *out);

/* "loaded", "built in", "loadable", "not installed", "absent", "unknown". */
const char *kmod_state_name(enum kmod_state s);

/* A kernel module as a feature: loaded or built in is ok; loadable is warn
 * ("modprobe NAME"); not installed or absent is missing; unknown is warn.
 * `what` names it for people ("netem qdisc"). */
enum feature_status feature_probe_kmod(struct feature_env *env, const char *module,
				       const char *config_sym, const char *what,
				       struct feature *out);

/* The modules the drills use. */
enum feature_status feature_probe_netem(struct feature_env *env, struct feature *out);
enum feature_status feature_probe_tbf(struct feature_env *env, struct feature *out);
enum feature_status feature_probe_veth(struct feature_env *env, struct feature *out);

/* Network namespaces: ROOT/proc/self/ns/net exists and, on the live system, a
 * forked child can unshare(CLONE_NEWNET). */
enum feature_status feature_probe_netns(struct feature_env *env, struct feature *out);

/* seccomp: the kernel's filter support (actions_avail, libseccomp's API
 * level), whether this process is already confined (prctl PR_GET_SECCOMP, the
 * Seccomp fields of /proc/self/status) and the libseccomp version. */
enum feature_status feature_probe_seccomp(struct feature *out);

/* Pressure stall information: ROOT/proc/pressure/cpu readable. warn when off. */
enum feature_status feature_probe_psi(struct feature_env *env, struct feature *out);

/* ---- cgroups ------------------------------------------------------------- */

#define CGROUP_MAX_HIER 24
#define CGROUP_MAX_SUBSYS 32

struct cgroup_hier {
	char controllers[128]; /* "cpu,cpuacct" or "name=systemd" */
	char path[256];	       /* mount point */
};

struct cgroup_subsys {
	char name[32];
	int hierarchy; /* 0 = not bound to a v1 hierarchy */
	bool enabled;
};

struct cgroup_info {
	struct cgroup_hier v1[CGROUP_MAX_HIER]; /* v1 hierarchies, one per mount */
	size_t nv1;
	struct cgroup_subsys subsys[CGROUP_MAX_SUBSYS]; /* from /proc/cgroups */
	size_t nsubsys;
	bool v2;		  /* a cgroup2 file system is mounted */
	char v2_path[256];	  /* its mount point (the first, /sys/fs/cgroup preferred) */
	bool v2_readable;	  /* its cgroup.controllers could be read */
	char v2_controllers[256]; /* that file's contents, "" = no controllers */
};

/* Read ROOT/proc/self/mountinfo, ROOT/proc/cgroups and the v2 mount's
 * cgroup.controllers into out. Returns 0, or -1 when mountinfo is unreadable
 * (out is then empty). */
int feature_cgroups(struct feature_env *env, struct cgroup_info *out);

enum cgroup_where { CGROUP_NOWHERE = 0, CGROUP_V1 = 1, CGROUP_V2 = 2 };

/* Where a controller can be used: v2 when listed in cgroup.controllers, v1
 * when a v1 hierarchy carries it (path, if non-NULL, gets its mount point).
 * Pass the v2 name; "io" also finds v1's "blkio". */
enum cgroup_where cgroup_controller_where(const struct cgroup_info *ci, const char *name,
					  const char **path);

/* v1 hierarchies mounted (ok; also ok when absent but v2 has controllers). */
enum feature_status feature_probe_cgroup_v1(const struct cgroup_info *ci, struct feature *out);
/* The v2 mount and its controllers; "no controllers" when the file is empty. */
enum feature_status feature_probe_cgroup_v2(const struct cgroup_info *ci, struct feature *out);
/* Where cpu, memory, io and pids live; warn when cpu or memory is nowhere. */
enum feature_status feature_probe_cgroup_controllers(const struct cgroup_info *ci,
						     struct feature *out);

/* ---- tools --------------------------------------------------------------- */

/* The tools drills and tests use, with the Debian package that has each. */
struct feature_tool {
	const char *name;
	const char *package;
	const char *used_for;
};
extern const struct feature_tool feature_tools[]; /* ends with name NULL */

/* Look name up on $PATH, then in the sbin directories (which a non-root PATH
 * may lack). Returns 0 with the path in buf, 1 when found only outside $PATH,
 * -1 when not found. */
int feature_which(const char *name, char *buf, size_t size);

/* A tool: ok when on $PATH; warn when only in an sbin directory; missing
 * with "apt-get install PACKAGE" otherwise. */
enum feature_status feature_probe_tool(const struct feature_tool *t, struct feature *out);

/* ---- kubernetes ---------------------------------------------------------- */

/* kubectl on $PATH and its `version --client` (5 s timeout). missing when not
 * found. */
enum feature_status feature_probe_kubectl(struct feature *out);

/* `kubectl config current-context` (3 s timeout): ok with its name; warn when
 * there is none, or when kubectl is not there to ask. */
enum feature_status feature_probe_kube_context(struct feature *out);

#endif
