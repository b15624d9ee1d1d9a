/* dns: the lab's authoritative DNS server, over UDP and TCP.
 *
 * It serves one zone from STATE/lab/dns/zone, a small master file (RFC 1035
 * section 5: $ORIGIN, $TTL, `owner [ttl] [IN] type rdata`, ';' comments) with
 * A, AAAA, CNAME, NS and SOA records, where the word $ADDR stands for the
 * address the server listens on (the lab's address). When the file is
 * missing it writes the default zone first:
 *
 *	lab.test   SOA, NS ns.lab.test
 *	ns, api    A $ADDR
 *	www        CNAME api
 *
 * Answers are authoritative (AA); names outside the zone are REFUSED (it is
 * no recursive resolver); a CNAME is followed inside the zone; a name with
 * no record of the asked type gets NODATA, an unknown name NXDOMAIN, both
 * with the SOA. EDNS0 is understood (an OPT in the query gets one back, and
 * a UDP answer may then be up to 1232 octets; version other than 0 gets
 * BADVERS); an answer too big for UDP is sent with TC set and no records,
 * for the client to ask again over TCP. Malformed queries get FORMERR when
 * their header can be read, responses and short datagrams are ignored.
 *
 * Misbehaviour on purpose (the bad-resolver injector) comes from rule files
 * in STATE/lab/dns/rules.d/: every line `MODE PROBABILITY [ARG]`, MODE one
 * of servfail, nxdomain, refused, timeout (no answer at all), slow (ARG =
 * delay in ms), wrong_answer (ARG = the IPv4 address A queries get instead),
 * truncate (TC set over UDP). For each query one uniform draw picks the rule
 * (the probabilities of all lines stack; what is left is a correct answer).
 * The directory and its files are looked at every 100 ms and read again when
 * any changed (a file written in place, renamed in or removed); SIGHUP
 * reloads the zone and the rules at once
 * (a zone that does not load keeps the previous one, as named does).
 *
 * Every query is logged, one line, in STATE/lab/dns/query.log (restarted
 * when it passes 1 MiB): time, client, name, type, transport, rcode or
 * "no answer", and the rule that applied.
 *
 * Arguments: {"port": N, "address": "IPv4" (default 127.0.0.1), "state_dir":
 * DIR (default: the state directory)}. Given 0.0.0.0 it runs inside the lab
 * network: it then listens on port 53 too, where the lab's resolv.conf
 * finds it, and $ADDR is the namespace's first address that is not
 * loopback. It binds before anything else and locks itself down (no
 * capabilities, seccomp) before listening. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/journal.h"
#include "lab/service.h"
#include "sys/dns.h"
#include "sys/worker.h"

#define DNS_DEFAULT_PORT 18053
#define DNS_LAB_PORT 53	 /* inside the lab network, as well */
#define DNS_ZONE_MAX 256 /* records */
#define DNS_RULES_MAX 16
#define DNS_TCP_CONNS 16
#define DNS_TCP_QUERY_MAX 4096
#define DNS_TCP_IDLE_MS 10000
#define DNS_EDNS_SIZE 1232  /* what we announce and the most we send */
#define DNS_DELAYED_MAX 128 /* slow answers waiting to be sent */
#define DNS_RULES_POLL_MS 100
#define DNS_LOG_MAX (1L << 20)
#define DNS_CNAME_HOPS 8
#define DNS_FILE_MAX 65536

static const char default_zone[] =
	"; The lab zone, served by the lab DNS server (chaoslab lab service \"dns\").\n"
	"; Edit it, then reload: kill -HUP $(pgrep -x dns)\n"
	"; $ADDR stands for the address the server listens on: the lab's address.\n"
	"$ORIGIN lab.test.\n"
	"$TTL 30\n"
	"@    IN SOA   ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 30\n"
	"@    IN NS    ns.lab.test.\n"
	"ns   IN A     $ADDR\n"
	"api  IN A     $ADDR\n"
	"www  IN CNAME api\n";

static const char *const dns_server_syscalls[] = {
	"recvfrom",
	"sendto",
	"recvmsg",
	"sendmsg",
	"accept4",
	"listen",
	"shutdown",
#ifdef __NR_poll
	"poll",
#endif
	"ppoll",
	"openat",
	"getdents64",
	"lseek",
	"ftruncate",
	"fcntl",
	"newfstatat",
	"fstat",
#ifdef __NR_statx
	"statx",
#endif
	"close",
	"read",
	"write",
	"clock_gettime",
	"rt_sigreturn",
	"rt_sigprocmask",
	"restart_syscall",
	"exit",
	"exit_group",
	NULL,
};

/* ---- the zone --------------------------------------------------------------- */

struct zone {
	struct dns_name origin;
	struct dns_rr soa;
	bool has_soa;
	struct dns_rr rr[DNS_ZONE_MAX];
	size_t n;
};

enum rule_mode {
	R_SERVFAIL,
	R_NXDOMAIN,
	R_REFUSED,
	R_TIMEOUT,
	R_SLOW,
	R_WRONG,
	R_TRUNCATE,
};

static const char *const rule_names[] = {
	"servfail", "nxdomain", "refused", "timeout", "slow", "wrong_answer", "truncate", NULL,
};

struct rule {
	enum rule_mode mode;
	double p;
	int delay_ms;
	uint8_t addr[4];
	char where[96]; /* "rules.d/FILE:LINE" */
};

/* Everything the server serves from; static: nothing is allocated once the
 * seccomp filter is in place but what readdir needs. */
static struct {
	struct zone zone, loading;
	struct rule rules[DNS_RULES_MAX];
	size_t nrules;
	struct in_addr addr; /* bound */
	struct in_addr self; /* what $ADDR stands for */
	int labfd;	     /* STATE/lab/dns, O_PATH */
	int logfd;
	uint64_t rules_sig; /* of rules.d as last read */
	long long rules_checked;
	uint64_t rng;
	char err[256];
} S;

static volatile sig_atomic_t got_hup;

static void on_hup(int sig)
{
	got_hup = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64*: the draws need to be uniform, not secret. */
static double draw(void)
{
	S.rng ^= S.rng >> 12;
	S.rng ^= S.rng << 25;
	S.rng ^= S.rng >> 27;
	return (double)((S.rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	lab_service_vlog(S.logfd, DNS_LOG_MAX, fmt, ap);
	va_end(ap);
}

/* Read dir/name into buf (NUL-terminated). Returns the length, -1 with errno. */
static ssize_t read_at(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	if (len == cap - 1) {
		errno = EFBIG;
		return -1;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* The next line of *text (NUL-terminated in place), or NULL at the end.
 * Unlike strtok, empty lines count, so line numbers stay right. */
static char *next_line(char **text)
{
	char *line = *text, *nl;

	if (!line || !*line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*text = nl + 1;
	} else {
		*text = NULL;
	}
	return line;
}

/* Split line into whitespace-separated words (at most max); comments cut. */
static int words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p || *p == ';' || *p == '#')
			break;
		if (n == max)
			return -1;
		w[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

/* A name in a zone file: '@' is the origin, a name without a final dot is
 * relative to it. */
static int zone_name(const char *text, const struct dns_name *origin, struct dns_name *out)
{
	char full[DNS_NAME_TEXT_MAX * 2], o[DNS_NAME_TEXT_MAX];
	size_t l = strlen(text);

	if (!strcmp(text, "@")) {
		*out = *origin;
		return 0;
	}
	if (l && text[l - 1] == '.' && (l < 2 || text[l - 2] != '\\'))
		return dns_name_from_text(text, out);
	dns_name_to_text(origin, o, sizeof(o));
	if (!strcmp(o, "."))
		snprintf(full, sizeof(full), "%s.", text);
	else
		snprintf(full, sizeof(full), "%s.%s.", text, o);
	return dns_name_from_text(full, out);
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > 0xFFFFFFFFULL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int zone_fail(int line, const char *fmt, const char *word)
{
	char m[160];

	snprintf(m, sizeof(m), fmt, word);
	snprintf(S.err, sizeof(S.err), "zone line %d: %s", line, m);
	return -1;
}

/* Parse zone text into z; $ADDR is addr. -1 with S.err. */
static int zone_parse(char *text, const struct in_addr *addr, struct zone *z)
{
	struct dns_name last;
	uint32_t def_ttl = 30;
	int lineno = 0;
	bool have_last = false, have_origin = false;
	char *rest = text, *line;

	memset(z, 0, offsetof(struct zone, rr));
	z->n = 0;
	dns_name_from_text(".", &z->origin);
	while ((line = next_line(&rest))) {
		char *w[16];
		bool indented = line[0] == ' ' || line[0] == '\t';
		int n, i = 0;
		struct dns_rr rr;

		lineno++;
		n = words(line, w, 16);
		if (n < 0)
			return zone_fail(lineno, "%s", "too many words");
		if (n == 0)
			continue;
		if (!strcmp(w[0], "$ORIGIN")) {
			if (n != 2 || dns_name_from_text(w[1], &z->origin))
				return zone_fail(lineno, "bad $ORIGIN '%s'", n > 1 ? w[1] : "");
			have_origin = true;
			continue;
		}
		if (!strcmp(w[0], "$TTL")) {
			if (n != 2 || parse_u32(w[1], &def_ttl))
				return zone_fail(lineno, "bad $TTL '%s'", n > 1 ? w[1] : "");
			continue;
		}
		if (w[0][0] == '$')
			return zone_fail(lineno, "unknown directive '%s'", w[0]);
		memset(&rr, 0, sizeof(rr));
		if (indented) {
			if (!have_last)
				return zone_fail(lineno, "%s", "a record without an owner");
			rr.name = last;
		} else {
			if (zone_name(w[i++], &z->origin, &rr.name))
				return zone_fail(lineno, "bad owner name '%s'", w[0]);
		}
		rr.ttl = def_ttl;
		rr.rclass = DNS_CLASS_IN;
		if (i < n && w[i][0] >= '0' && w[i][0] <= '9' && parse_u32(w[i], &rr.ttl) == 0)
			i++;
		if (i < n && !strcasecmp(w[i], "IN"))
			i++;
		if (i >= n)
			return zone_fail(lineno, "%s", "a record without a type");
		if (!strcasecmp(w[i], "A") || !strcasecmp(w[i], "AAAA")) {
			bool v6 = strlen(w[i]) == 4;
			const char *a = i + 1 < n ? w[i + 1] : "";

			rr.type = v6 ? DNS_T_AAAA : DNS_T_A;
			if (n != i + 2)
				return zone_fail(lineno, "%s wants one address", v6 ? "AAAA" : "A");
			if (!v6 && !strcmp(a, "$ADDR"))
				memcpy(rr.rd.a, &addr->s_addr, 4);
			else if (inet_pton(v6 ? AF_INET6 : AF_INET, a,
					   v6 ? (void *)rr.rd.aaaa : (void *)rr.rd.a) != 1)
				return zone_fail(lineno, "bad address '%s'", a);
		} else if (!strcasecmp(w[i], "CNAME") || !strcasecmp(w[i], "NS")) {
			rr.type = toupper((unsigned char)w[i][0]) == 'C' ? DNS_T_CNAME : DNS_T_NS;
			if (n != i + 2 || zone_name(w[i + 1], &z->origin, &rr.rd.target))
				return zone_fail(lineno, "bad target name '%s'",
						 i + 1 < n ? w[i + 1] : "");
		} else if (!strcasecmp(w[i], "SOA")) {
			struct dns_soa *s = &rr.rd.soa;

			rr.type = DNS_T_SOA;
			if (n != i + 8 || zone_name(w[i + 1], &z->origin, &s->mname) ||
			    zone_name(w[i + 2], &z->origin, &s->rname) ||
			    parse_u32(w[i + 3], &s->serial) || parse_u32(w[i + 4], &s->refresh) ||
			    parse_u32(w[i + 5], &s->retry) || parse_u32(w[i + 6], &s->expire) ||
			    parse_u32(w[i + 7], &s->minimum))
				return zone_fail(lineno, "%s",
						 "SOA wants: mname rname serial refresh retry "
						 "expire minimum");
			if (z->has_soa)
				return zone_fail(lineno, "%s", "a second SOA");
			z->soa = rr;
			z->has_soa = true;
		} else {
			return zone_fail(lineno, "unsupported type '%s' (A, AAAA, CNAME, NS, SOA)",
					 w[i]);
		}
		if (z->n == DNS_ZONE_MAX)
			return zone_fail(lineno, "%s", "more than 256 records");
		z->rr[z->n++] = rr;
		last = rr.name;
		have_last = true;
	}
	if (!have_origin && !z->has_soa)
		return zone_fail(lineno, "%s", "no $ORIGIN and no SOA: which zone is this?");
	if (!z->has_soa)
		return zone_fail(lineno, "%s", "no SOA record");
	if (!dns_name_equal(&z->soa.name, &z->origin) && have_origin)
		return zone_fail(lineno, "%s", "the SOA's owner is not the $ORIGIN");
	z->origin = z->soa.name;
	for (size_t k = 0; k < z->n; k++)
		if (!dns_name_within(&z->rr[k].name, &z->origin))
			return zone_fail(lineno, "%s", "a record outside the zone");
	return 0;
}

/* Load the zone file into S.zone; on failure S.zone stays as it was. */
static int zone_load(void)
{
	static char text[DNS_FILE_MAX];

	if (read_at(S.labfd, "zone", text, sizeof(text)) < 0) {
		snprintf(S.err, sizeof(S.err), "unable to read the zone file: %s", strerror(errno));
		return -1;
	}
	if (zone_parse(text, &S.self, &S.loading))
		return -1;
	S.zone = S.loading;
	return 0;
}

/* ---- rules -------------------------------------------------------------------- */

/* One rule line into r: 1, 0 for a blank or comment line, -1 if malformed. */
static int rule_parse_line(char *line, const char *where, struct rule *r)
{
	char *w[4], *end;
	int n = words(line, w, 4), m;

	if (n <= 0)
		return n; /* 0: blank or comment; -1: too many words */
	memset(r, 0, sizeof(*r));
	snprintf(r->where, sizeof(r->where), "%s", where);
	for (m = 0; rule_names[m] && strcmp(w[0], rule_names[m]); m++)
		;
	if (!rule_names[m] || n < 2)
		return -1;
	r->mode = (enum rule_mode)m;
	r->p = strtod(w[1], &end);
	if (*end || !(r->p >= 0 && r->p <= 1))
		return -1;
	if (r->mode == R_SLOW) {
		r->delay_ms = n > 2 ? atoi(w[2]) : 2000;
		if (r->delay_ms < 1 || r->delay_ms > 60000 || n > 3)
			return -1;
	} else if (r->mode == R_WRONG) {
		if (n != 3 || inet_pton(AF_INET, w[2], r->addr) != 1)
			return -1;
	} else if (n > 2) {
		return -1;
	}
	return 1;
}

/* The file names of rules.d, sorted (the stacking order must not depend on
 * the directory), dot files skipped; with a signature of the directory and
 * every file (inode, size, mtime) into *sig. Returns the count, -1 when
 * there is no rules.d. */
static int rules_list(char names[][64], int cap, uint64_t *sig)
{
	struct dirent *de;
	struct stat st;
	int n = 0, dfd;
	DIR *d;

	*sig = 0;
	dfd = openat(S.labfd, "rules.d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((de = readdir(d)) && n < cap) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= 64)
			continue;
		snprintf(names[n++], 64, "%s", de->d_name);
	}
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
			char t[64];

			memcpy(t, names[k], sizeof(t));
			memcpy(names[k], names[k - 1], sizeof(t));
			memcpy(names[k - 1], t, sizeof(t));
		}
	for (int i = -1; i < n; i++) {
		if (fstatat(dirfd(d), i < 0 ? "." : names[i], &st, 0) < 0)
			continue;
		/* FNV-1a over what tells a changed file. */
		uint64_t v[4] = { (uint64_t)st.st_ino, (uint64_t)st.st_size,
				  (uint64_t)st.st_mtim.tv_sec, (uint64_t)st.st_mtim.tv_nsec };
		for (int k = 0; k < 4; k++)
			for (int b = 0; b < 8; b++)
				*sig = (*sig ^ ((v[k] >> (8 * b)) & 0xff)) * 0x100000001b3ULL;
	}
	*sig ^= (uint64_t)n + 1;
	closedir(d);
	return n;
}

/* Read every file of rules.d. */
static void rules_load(void)
{
	static char text[DNS_FILE_MAX];
	char names[DNS_RULES_MAX * 2][64];
	struct rule rules[DNS_RULES_MAX];
	size_t nrules = 0;
	int nnames, dfd;

	nnames = rules_list(names, DNS_RULES_MAX * 2, &S.rules_sig);
	dfd = nnames >= 0 ? openat(S.labfd, "rules.d", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	for (int i = 0; i < nnames && dfd >= 0; i++) {
		char *rest = text, *line;
		int lineno = 0;

		if (read_at(dfd, names[i], text, sizeof(text)) < 0)
			continue;
		while ((line = next_line(&rest))) {
			char where[96];
			int rc;

			lineno++;
			if (nrules == DNS_RULES_MAX)
				break;
			snprintf(where, sizeof(where), "rules.d/%s:%d", names[i], lineno);
			rc = rule_parse_line(line, where, &rules[nrules]);
			if (rc < 0)
				logf_line("rules: %s: ignored, not 'MODE PROBABILITY [ARG]'",
					  where);
			else if (rc > 0)
				nrules++;
		}
	}
	if (dfd >= 0)
		close(dfd);
	if (nrules != S.nrules || memcmp(rules, S.rules, nrules * sizeof(rules[0]))) {
		logf_line("rules: %zu active", nrules);
		for (size_t i = 0; i < nrules; i++)
			logf_line("rules: %s: %s %.2f", rules[i].where, rule_names[rules[i].mode],
				  rules[i].p);
	}
	memcpy(S.rules, rules, nrules * sizeof(rules[0]));
	S.nrules = nrules;
}

/* Re-read the rules when rules.d or a file in it changed. */
static void rules_refresh(long long now)
{
	char names[DNS_RULES_MAX * 2][64];
	uint64_t sig;

	if (now - S.rules_checked < DNS_RULES_POLL_MS)
		return;
	S.rules_checked = now;
	rules_list(names, DNS_RULES_MAX * 2, &sig);
	if (sig != S.rules_sig)
		rules_load();
}

static const struct rule *rule_pick(void)
{
	double r, acc = 0;

	if (!S.nrules)
		return NULL;
	r = draw();
	for (size_t i = 0; i < S.nrules; i++) {
		acc += S.rules[i].p;
		if (r < acc)
			return &S.rules[i];
	}
	return NULL;
}

/* ---- answering ------------------------------------------------------------------ */

struct verdict {
	int rcode; /* -1: no answer at all */
	int delay_ms;
	int answers;
	bool tc;
	const struct rule *rule;
};

static void add_soa(struct dns_builder *b)
{
	if (S.zone.has_soa)
		dns_build_rr(b, DNS_S_AUTHORITY, &S.zone.soa);
}

static bool name_exists(const struct dns_name *name)
{
	for (size_t i = 0; i < S.zone.n; i++)
		if (dns_name_within(&S.zone.rr[i].name, name))
			return true; /* the name, or an empty non-terminal above one */
	return false;
}

/* The records answering q: the CNAME chain inside the zone, then what the
 * last name has of the type. Sets v->rcode. */
static void lookup(struct dns_builder *b, const struct dns_question *q, const struct rule *rule,
		   struct verdict *v)
{
	struct dns_name name = q->name;

	v->rcode = DNS_R_NOERROR;
	for (int hop = 0; hop <= DNS_CNAME_HOPS; hop++) {
		const struct dns_rr *cname = NULL;
		int found = 0;

		if (!dns_name_within(&name, &S.zone.origin))
			return; /* a chain leaving the zone: the client follows it */
		for (size_t i = 0; i < S.zone.n; i++) {
			const struct dns_rr *rr = &S.zone.rr[i];

			if (!dns_name_equal(&rr->name, &name))
				continue;
			if (rr->type == DNS_T_CNAME)
				cname = rr;
			if (rr->type == q->type || q->type == DNS_T_ANY) {
				struct dns_rr out = *rr;

				if (rule && rule->mode == R_WRONG && rr->type == DNS_T_A)
					memcpy(out.rd.a, rule->addr, 4);
				if (dns_build_rr(b, DNS_S_ANSWER, &out) == 0)
					v->answers++;
				found++;
			}
		}
		if (found)
			return;
		if (cname && q->type != DNS_T_CNAME) {
			if (dns_build_rr(b, DNS_S_ANSWER, cname) == 0)
				v->answers++;
			name = cname->rd.target;
			continue;
		}
		if (!name_exists(&name))
			v->rcode = DNS_R_NXDOMAIN;
		add_soa(b);
		return;
	}
}

/* Answer the query in msg[0..len) into out; returns the length, or 0 when
 * nothing is to be sent. */
static int answer(const uint8_t *msg, size_t len, bool tcp, uint8_t *out, size_t cap,
		  struct dns_msg *m, struct verdict *v)
{
	struct dns_header h = { 0 };
	struct dns_builder b;
	size_t limit = tcp ? cap : DNS_UDP_MIN;
	int rc;

	memset(v, 0, sizeof(*v));
	v->rcode = -1;
	rc = dns_parse(msg, len, m);
	if (rc) {
		/* FORMERR to anything with a readable query header. */
		if (dns_header_parse(msg, len, &m->h) || m->h.qr)
			return 0;
		m->has_question = false;
		h = (struct dns_header){ .id = m->h.id,
					 .qr = true,
					 .opcode = m->h.opcode,
					 .rd = m->h.rd,
					 .rcode = DNS_R_FORMERR };
		v->rcode = DNS_R_FORMERR;
		dns_build_init(&b, out, cap, &h);
		return dns_build_finish(&b) > 0 ? (int)b.len : 0;
	}
	if (m->h.qr)
		return 0;
	h = (struct dns_header){
		.id = m->h.id, .qr = true, .opcode = m->h.opcode, .rd = m->h.rd, .cd = m->h.cd
	};
	if (!tcp && m->has_opt)
		limit = m->opt.udp_size < DNS_UDP_MIN	? DNS_UDP_MIN :
			m->opt.udp_size > DNS_EDNS_SIZE ? DNS_EDNS_SIZE :
							  m->opt.udp_size;
	if (limit > cap)
		limit = cap;

	if (m->h.opcode != DNS_OP_QUERY)
		h.rcode = DNS_R_NOTIMP;
	else if (m->h.qdcount != 1)
		h.rcode = DNS_R_FORMERR;
	else if (m->has_opt && m->opt.version != 0)
		h.rcode = 0; /* BADVERS below */
	else if (m->q.qclass != DNS_CLASS_IN && m->q.qclass != 255)
		h.rcode = DNS_R_REFUSED;
	else if (!dns_name_within(&m->q.name, &S.zone.origin))
		h.rcode = DNS_R_REFUSED;
	else
		v->rule = rule_pick();

	if (v->rule) {
		switch (v->rule->mode) {
		case R_TIMEOUT:
			return 0;
		case R_SERVFAIL:
			h.rcode = DNS_R_SERVFAIL;
			break;
		case R_REFUSED:
			h.rcode = DNS_R_REFUSED;
			break;
		case R_TRUNCATE:
			if (!tcp)
				v->tc = true;
			break;
		case R_SLOW:
			v->delay_ms = v->rule->delay_ms;
			break;
		default:
			break;
		}
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		bool full = h.rcode == DNS_R_NOERROR && !v->tc && !(m->has_opt && m->opt.version);

		h.aa = h.rcode == DNS_R_NOERROR || h.rcode == DNS_R_NXDOMAIN;
		h.tc = v->tc;
		dns_build_init(&b, out, limit, &h);
		if (m->has_question)
			dns_build_question(&b, &m->q.name, m->q.type, m->q.qclass);
		v->answers = 0;
		v->rcode = h.rcode;
		if (full && v->rule && v->rule->mode == R_NXDOMAIN) {
			v->rcode = DNS_R_NXDOMAIN;
			add_soa(&b);
		} else if (full) {
			lookup(&b, &m->q, v->rule, v);
		}
		dns_build_set_rcode(&b, (uint8_t)v->rcode);
		if (m->has_opt) {
			struct dns_rr opt = { .type = DNS_T_OPT, .rclass = DNS_EDNS_SIZE };

			opt.name.len = 1;
			if (m->opt.version)
				opt.ttl = 1u << 24; /* extended rcode 16: BADVERS */
			dns_build_rr(&b, DNS_S_ADDITIONAL, &opt);
		}
		rc = dns_build_finish(&b);
		if (rc > 0)
			return rc;
		/* Too big for this transport: say so with TC and no records. */
		v->tc = true;
	}
	return 0;
}

/* "NOERROR 2 answers" and the like, for the log. */
static const char *verdict_text(const struct verdict *v, char *buf, size_t size)
{
	char tmp[16];

	if (v->rcode < 0)
		return "no answer (dropped)";
	snprintf(buf, size, "%s%s, %d answer%s", dns_rcode_name(v->rcode, tmp, sizeof(tmp)),
		 v->tc ? " TC" : "", v->answers, v->answers == 1 ? "" : "s");
	return buf;
}

static void log_query(const struct sockaddr_in *from, const struct dns_msg *m, bool tcp,
		      const struct verdict *v)
{
	char who[INET_ADDRSTRLEN], name[DNS_NAME_TEXT_MAX], what[64], t[16], rule[160] = "";

	inet_ntop(AF_INET, &from->sin_addr, who, sizeof(who));
	if (m->has_question)
		dns_name_to_text(&m->q.name, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "-");
	if (v->rule)
		snprintf(rule, sizeof(rule), " [rule %s: %s %.2f]", v->rule->where,
			 rule_names[v->rule->mode], v->rule->p);
	logf_line("%s#%d %s %s %s: %s%s%s", who, ntohs(from->sin_port), name,
		  m->has_question ? dns_type_name(m->q.type, t, sizeof(t)) : "-",
		  tcp ? "tcp" : "udp", verdict_text(v, what, sizeof(what)),
		  v->delay_ms ? " (delayed)" : "", rule);
}

/* ---- the serving loop ------------------------------------------------------------- */

struct delayed {
	bool used;
	int sock; /* which UDP socket it came in on */
	long long due;
	struct sockaddr_in to;
	size_t len;
	uint8_t buf[DNS_EDNS_SIZE];
};

enum tcp_state { T_FREE, T_READ, T_WAIT, T_WRITE };

struct tcp_conn {
	int fd;
	enum tcp_state state;
	long long deadline, due;
	struct sockaddr_in peer;
	size_t rlen, wlen, woff;
	uint8_t rbuf[2 + DNS_TCP_QUERY_MAX];
	uint8_t wbuf[2 + 16384];
};

static struct delayed delayed[DNS_DELAYED_MAX];
static struct tcp_conn conns[DNS_TCP_CONNS];
static struct dns_msg qmsg;

static void tcp_close(struct tcp_conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = T_FREE;
}

static void udp_serve(int ufd, int sock)
{
	uint8_t in[DNS_MAX_MSG], out[DNS_EDNS_SIZE];
	struct sockaddr_in from;

	for (int budget = 0; budget < 256; budget++) {
		socklen_t flen = sizeof(from);
		struct verdict v;
		ssize_t n = recvfrom(ufd, in, sizeof(in), 0, (struct sockaddr *)&from, &flen);
		int len;

		if (n < 0)
			return; /* EAGAIN, or an error to retry at the next poll */
		len = answer(in, (size_t)n, false, out, sizeof(out), &qmsg, &v);
		if (len <= 0 && v.rcode < 0 && (n < DNS_HEADER_LEN || qmsg.h.qr))
			continue; /* not a query: not even logged */
		log_query(&from, &qmsg, false, &v);
		if (len <= 0)
			continue;
		if (v.delay_ms) {
			for (size_t i = 0; i < DNS_DELAYED_MAX; i++) {
				if (delayed[i].used)
					continue;
				delayed[i] =
					(struct delayed){ true, sock,	     now_ms() + v.delay_ms,
							  from, (size_t)len, { 0 } };
				memcpy(delayed[i].buf, out, (size_t)len);
				break;
			}
			continue; /* a full queue drops it: a timeout to the client */
		}
		sendto(ufd, out, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&from, sizeof(from));
	}
}

static void tcp_accept(int lfd)
{
	for (;;) {
		struct sockaddr_in peer;
		socklen_t plen = sizeof(peer);
		struct tcp_conn *c = NULL;
		int fd;

		for (size_t i = 0; i < DNS_TCP_CONNS && !c; i++)
			if (conns[i].state == T_FREE)
				c = &conns[i];
		if (!c) {
			/* Full: the oldest idle reader gives way. */
			for (size_t i = 0; i < DNS_TCP_CONNS; i++)
				if (conns[i].state == T_READ &&
				    (!c || conns[i].deadline < c->deadline))
					c = &conns[i];
			if (!c)
				return;
			tcp_close(c);
		}
		fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		*c = (struct tcp_conn){ .fd = fd,
					.state = T_READ,
					.peer = peer,
					.deadline = now_ms() + DNS_TCP_IDLE_MS };
	}
}

static void tcp_read(struct tcp_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
		size_t qlen;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			tcp_close(c);
			return;
		}
		c->rlen += (size_t)n;
		if (c->rlen < 2)
			continue;
		qlen = (size_t)((c->rbuf[0] << 8) | c->rbuf[1]);
		if (qlen > DNS_TCP_QUERY_MAX) {
			tcp_close(c);
			return;
		}
		if (c->rlen < 2 + qlen)
			continue;
		{
			struct verdict v;
			int len = answer(c->rbuf + 2, qlen, true, c->wbuf + 2, sizeof(c->wbuf) - 2,
					 &qmsg, &v);

			log_query(&c->peer, &qmsg, true, &v);
			/* Pipelined queries after this one are not served. */
			c->rlen = 0;
			if (len <= 0) {
				/* Dropped on purpose, or unanswerable: keep the
				 * connection open and silent, as a hung server would. */
				c->deadline = now_ms() + DNS_TCP_IDLE_MS;
				return;
			}
			c->wbuf[0] = (uint8_t)(len >> 8);
			c->wbuf[1] = (uint8_t)len;
			c->wlen = (size_t)len + 2;
			c->woff = 0;
			c->state = v.delay_ms ? T_WAIT : T_WRITE;
			c->due = now_ms() + v.delay_ms;
			c->deadline = c->due + DNS_TCP_IDLE_MS;
			return;
		}
	}
}

static void tcp_write(struct tcp_conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			tcp_close(c);
			return;
		}
		c->woff += (size_t)n;
	}
	c->state = T_READ;
	c->rlen = 0;
	c->deadline = now_ms() + DNS_TCP_IDLE_MS;
}

static void reload(void)
{
	if (zone_load())
		logf_line("reload: %s; still serving the previous zone", S.err);
	else
		logf_line("reload: zone loaded, %zu records", S.zone.n);
	rules_load();
}

/* Serve until killed on the UDP sockets ufd[] and TCP listeners lfd[] (n
 * of each, the first UDP one sending the delayed answers); returns only on
 * an unexpected poll failure. */
static int serve(const int *ufd, const int *lfd, int nsock)
{
	struct pollfd pfd[4 + DNS_TCP_CONNS];
	struct tcp_conn *slot[4 + DNS_TCP_CONNS];
	int kind[4 + DNS_TCP_CONNS]; /* 0 udp, 1 listener, 2 connection */
	sigset_t during;

	for (size_t i = 0; i < DNS_TCP_CONNS; i++) {
		conns[i].fd = -1;
		conns[i].state = T_FREE;
	}
	/* SIGHUP is blocked but while waiting in ppoll(): no reload is lost
	 * between a check and the wait. */
	sigprocmask(SIG_BLOCK, NULL, &during);
	sigdelset(&during, SIGHUP);
	for (;;) {
		long long now = now_ms(), next = now + DNS_RULES_POLL_MS;
		struct timespec ts;
		nfds_t n = 0;
		int rc;

		if (got_hup) {
			got_hup = 0;
			reload();
		}
		rules_refresh(now);
		for (size_t i = 0; i < DNS_DELAYED_MAX; i++) {
			if (!delayed[i].used)
				continue;
			if (delayed[i].due <= now) {
				sendto(ufd[delayed[i].sock], delayed[i].buf, delayed[i].len,
				       MSG_DONTWAIT, (struct sockaddr *)&delayed[i].to,
				       sizeof(delayed[i].to));
				delayed[i].used = false;
			} else if (delayed[i].due < next) {
				next = delayed[i].due;
			}
		}
		for (int k = 0; k < nsock; k++) {
			pfd[n] = (struct pollfd){ ufd[k], POLLIN, 0 };
			kind[n] = 0;
			slot[n++] = NULL;
			pfd[n] = (struct pollfd){ lfd[k], POLLIN, 0 };
			kind[n] = 1;
			slot[n++] = NULL;
		}
		for (size_t i = 0; i < DNS_TCP_CONNS; i++) {
			struct tcp_conn *c = &conns[i];

			if (c->state == T_FREE)
				continue;
			if (c->deadline <= now) {
				tcp_close(c);
				continue;
			}
			if (c->state == T_WAIT && c->due <= now)
				c->state = T_WRITE;
			if (c->state == T_WAIT) {
				if (c->due < next)
					next = c->due;
				continue;
			}
			if (c->deadline < next)
				next = c->deadline;
			pfd[n] =
				(struct pollfd){ c->fd, c->state == T_WRITE ? POLLOUT : POLLIN, 0 };
			kind[n] = 2;
			slot[n++] = c;
		}
		if (next < now + 1)
			next = now + 1;
		ts.tv_sec = (next - now) / 1000;
		ts.tv_nsec = ((next - now) % 1000) * 1000000;
		rc = ppoll(pfd, n, &ts, &during);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (nfds_t i = 0; i < n && rc > 0; i++) {
			if (!pfd[i].revents)
				continue;
			rc--;
			if (kind[i] == 0)
				udp_serve(pfd[i].fd, i / 2);
			else if (kind[i] == 1)
				tcp_accept(pfd[i].fd);
			else if (slot[i]->state == T_READ)
				tcp_read(slot[i]);
			else if (slot[i]->state == T_WRITE)
				tcp_write(slot[i]);
		}
	}
}

/* ---- start ------------------------------------------------------------------------- */

static int args_parse(const cJSON *args, int *port, char *dir, size_t size, struct cl_error *err)
{
	const cJSON *jp = cJSON_GetObjectItemCaseSensitive(args, "port");
	const cJSON *ja = cJSON_GetObjectItemCaseSensitive(args, "address");
	const cJSON *js = cJSON_GetObjectItemCaseSensitive(args, "state_dir");

	*port = DNS_DEFAULT_PORT;
	if (jp) {
		if (!cJSON_IsNumber(jp) || jp->valuedouble < 1 || jp->valuedouble > 65535 ||
		    jp->valuedouble != (int)jp->valuedouble)
			return cl_error_set(err, CL_EXIT_USAGE, "port must be an integer 1..65535");
		*port = (int)jp->valuedouble;
	}
	S.addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ja && (!cJSON_IsString(ja) || inet_pton(AF_INET, ja->valuestring, &S.addr) != 1))
		return cl_error_set(err, CL_EXIT_USAGE, "address must be an IPv4 address");
	if (cJSON_IsString(js) && js->valuestring[0])
		snprintf(dir, size, "%s", js->valuestring);
	else if (state_dir(dir, size, true, err))
		return -1;
	return 0;
}

/* The namespace's first IPv4 address that is not loopback, into *out (left
 * as it is when there is none). */
static void self_address(struct in_addr *out)
{
	struct ifaddrs *ifa = NULL;

	out->s_addr = htonl(INADDR_LOOPBACK);
	if (getifaddrs(&ifa) < 0)
		return;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		struct in_addr a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		if ((ntohl(a.s_addr) >> 24) == 127)
			continue;
		*out = a;
		break;
	}
	freeifaddrs(ifa);
}

/* mkdir -p STATE/lab/dns (0755: the engineer reads the zone and the log). */
static int lab_dir_make(const char *state, char *dir, size_t size, struct cl_error *err)
{
	char lab[600];

	snprintf(lab, sizeof(lab), "%s/lab", state);
	snprintf(dir, size, "%s/lab/dns", state);
	if ((mkdir(lab, 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0755) < 0 && errno != EEXIST))
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", dir);
	return 0;
}

/* Write the default zone when there is none (never over an existing one).
 * It is written whole under zone.tmp.PID, then linked to its name, which
 * fails when a zone appeared meanwhile: a kill at any moment leaves either
 * no zone or all of it (and a temp file lab-service's revert removes). */
static int zone_default(const char *dir, struct cl_error *err)
{
	char path[700], tmp[720];
	size_t off = 0, len = sizeof(default_zone) - 1;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/zone", dir);
	if (!access(path, F_OK))
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", tmp);
	while (off < len) {
		ssize_t n = write(fd, default_zone + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < len || fsync(fd) < 0)
		rc = cl_error_errno(err, CL_EXIT_USAGE, errno ? errno : EIO,
				    "unable to write '%s'", tmp);
	close(fd);
	if (!rc && link(tmp, path) < 0 && errno != EEXIST)
		rc = cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create '%s'", path);
	unlink(tmp);
	return rc;
}

static int bind_socket(int type, int port, struct cl_error *err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = S.addr };
	char a[INET_ADDRSTRLEN];
	int one = 1, fd;

	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cl_error_errno(err, CL_EXIT_USAGE, errno, "unable to create a socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		inet_ntop(AF_INET, &S.addr, a, sizeof(a));
		return cl_error_errno(err, CL_EXIT_USAGE, e, "unable to bind %s %s:%d",
				      type == SOCK_DGRAM ? "udp" : "tcp", a, port);
	}
	return fd;
}

static int dns_server_main(const cJSON *args)
{
	char state[512], dir[600], path[700];
	int port, ufd[2] = { -1, -1 }, lfd[2] = { -1, -1 }, nsock = 0;
	struct sigaction sa;
	struct cl_error err;
	sigset_t hup;

	cl_error_clear(&err);
	S.labfd = S.logfd = -1;
	if (args_parse(args, &port, state, sizeof(state), &err) ||
	    lab_dir_make(state, dir, sizeof(dir), &err) || zone_default(dir, &err))
		goto fail;
	S.self = S.addr;
	if (S.addr.s_addr == htonl(INADDR_ANY))
		self_address(&S.self);
	S.labfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (S.labfd < 0) {
		cl_error_errno(&err, CL_EXIT_USAGE, errno, "unable to open '%s'", dir);
		goto fail;
	}
	if (zone_load()) {
		cl_error_set(&err, CL_EXIT_USAGE, "%s/zone: %s", dir, S.err);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/query.log", dir);
	S.logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (getrandom(&S.rng, sizeof(S.rng), 0) != sizeof(S.rng) || !S.rng)
		S.rng = (uint64_t)now_ms() * 2654435761u + (uint64_t)getpid();

	for (int k = 0; k < 2; k++) {
		int p = k ? DNS_LAB_PORT : port;

		if (k && (S.addr.s_addr != htonl(INADDR_ANY) || port == DNS_LAB_PORT))
			break;
		ufd[k] = bind_socket(SOCK_DGRAM, p, &err);
		if (ufd[k] < 0)
			goto fail;
		lfd[k] = bind_socket(SOCK_STREAM, p, &err);
		if (lfd[k] < 0)
			goto fail;
		nsock++;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_BLOCK, &hup, NULL);
	rules_load();

	/* Locked down before listening: whoever sees the port accept
	 * connections sees a locked-down server. */
	if (worker_lockdown(dns_server_syscalls, &err))
		goto fail;
	for (int k = 0; k < nsock; k++) {
		if (listen(lfd[k], 64) < 0) {
			cl_error_errno(&err, CL_EXIT_USAGE, errno, "unable to listen");
			goto fail;
		}
	}
	{
		char a[INET_ADDRSTRLEN], self[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &S.addr, a, sizeof(a));
		inet_ntop(AF_INET, &S.self, self, sizeof(self));
		logf_line("serving %zu records on %s port %d%s (udp, tcp); $ADDR is %s", S.zone.n,
			  a, port, nsock > 1 ? " and 53" : "", self);
	}
	return serve(ufd, lfd, nsock);
fail:
	for (int k = 0; k < 2; k++) {
		if (ufd[k] >= 0)
			close(ufd[k]);
		if (lfd[k] >= 0)
			close(lfd[k]);
	}
	cl_error_prefix(&err, "dns");
	return worker_exit_error(&err);
}

const struct lab_service dns_service = {
	.name = "dns",
	.summary = "authoritative DNS for lab.test over UDP and TCP, zone in STATE/lab/dns/zone",
	.default_port = DNS_DEFAULT_PORT,
	.main = dns_server_main,
};
