/* Tests of the lab DNS server (harness/lab/dns-server.c), run the way a
 * drill runs it: through the lab-service injector, which spawns the chaoslab
 * binary as the `dns` worker, in a state directory of the test's own. Real
 * queries over UDP and TCP, checked by our codec and, where installed, by
 * dig: answers, CNAME, NXDOMAIN and NODATA with the SOA, REFUSED outside the
 * zone, EDNS0 and BADVERS, FORMERR for a malicious query, silence for a
 * response; the worker's lockdown; zone reload on SIGHUP (and a bad zone
 * refused); the bad-resolver injector's server modes applied and reverted
 * (every mode, a probability measured over 200 queries, a changed rule
 * left alone); the dns-resolve verifier against it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/doc.h"
#include "core/param.h"
#include "core/registry.h"
#include "sys/dns.h"
#include "sys/proc.h"
#include "sys/worker.h"
#include "support/step.h"

static char run_id[64], state[256];
static int port;

/* A port free for both UDP and TCP on 127.0.0.1. */
static int free_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t len = sizeof(sa);
		int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0), p, ok;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(t, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(getsockname(t, (struct sockaddr *)&sa, &len), 0);
		p = ntohs(sa.sin_port);
		ok = bind(u, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(t);
		close(u);
		if (ok)
			return p;
	}
	fail_msg("no free port");
	return -1;
}

/* ---- steps: lab service and injections ------------------------------------- */

/* Parse, validate and apply `with` as the engine would (support/step.h),
 * in this test's run and state directory. */
static int step_apply(struct test_step *s, const char *type, const char *id, const char *with,
		      struct cl_error *err)
{
	return test_step_apply(s, type, run_id, id, state, with, err);
}

static struct test_step lab;

static pid_t dns_pid(void)
{
	struct proc_ident id;

	assert_int_equal(proc_ident_from_json(
				 cJSON_GetArrayItem(cJSON_GetObjectItem(lab.undo, "workers"), 0),
				 &id),
			 0);
	return id.pid;
}

/* ---- a client ---------------------------------------------------------------- */

/* Send raw bytes over UDP; the reply into out (0 = none within timeout_ms). */
static ssize_t udp_raw(const uint8_t *q, size_t len, uint8_t *out, size_t cap, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n = 0;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(fd, q, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
	if (poll(&p, 1, timeout_ms) == 1)
		n = recv(fd, out, cap, 0);
	close(fd);
	return n;
}

static ssize_t tcp_raw(const uint8_t *q, size_t len, uint8_t *out, size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint8_t pre[2] = { (uint8_t)(len >> 8), (uint8_t)len }, hdr[2];
	size_t want;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, pre, 2), 2);
	assert_int_equal(write(fd, q, len), (ssize_t)len);
	assert_int_equal(recv(fd, hdr, 2, MSG_WAITALL), 2);
	want = (size_t)((hdr[0] << 8) | hdr[1]);
	assert_true(want <= cap);
	assert_int_equal(recv(fd, out, want, MSG_WAITALL), (ssize_t)want);
	close(fd);
	return (ssize_t)want;
}

/* Ask name/type; 0 with the parsed reply, -1 when none came. */
static int ask(const char *name, uint16_t type, bool tcp, uint16_t edns, struct dns_msg *m)
{
	uint8_t q[512], r[DNS_MAX_MSG];
	struct dns_name n;
	ssize_t len;
	int ql;

	assert_int_equal(dns_name_from_text(name, &n), 0);
	ql = dns_build_query(q, sizeof(q), 0x4242, &n, type, edns);
	assert_true(ql > 0);
	len = tcp ? tcp_raw(q, (size_t)ql, r, sizeof(r)) :
		    udp_raw(q, (size_t)ql, r, sizeof(r), 1000);
	if (len <= 0)
		return -1;
	assert_int_equal(dns_parse(r, (size_t)len, m), 0);
	assert_int_equal(m->h.id, 0x4242);
	assert_true(m->h.qr);
	return 0;
}

static const char *a_of(const struct dns_msg *m, size_t i, char *buf)
{
	assert_true(i < m->nrr);
	assert_int_equal(m->rr[i].type, DNS_T_A);
	return inet_ntop(AF_INET, m->rr[i].rd.a, buf, INET_ADDRSTRLEN);
}

static bool have_dig(void)
{
	return system("command -v dig >/dev/null 2>&1") == 0;
}

/* `dig +short ...` output, first line. */
static void dig(const char *args, char *out, size_t size)
{
	char cmd[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "dig +tries=1 +timeout=2 @127.0.0.1 -p %d %s 2>&1", port, args);
	f = popen(cmd, "r");
	assert_non_null(f);
	out[0] = '\0';
	size_t n = fread(out, 1, size - 1, f);
	out[n] = '\0';
	pclose(f);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_answers(void **state_)
{
	struct dns_msg m;
	char a[INET_ADDRSTRLEN], text[DNS_NAME_TEXT_MAX];

	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_NOERROR);
	assert_true(m.h.aa);
	assert_false(m.h.ra); /* authoritative only */
	assert_int_equal(m.h.ancount, 1);
	assert_string_equal(a_of(&m, 0, a), "127.0.0.1");
	assert_int_equal(m.rr[0].ttl, 30);
	assert_false(m.has_opt);

	/* Case does not matter; the question comes back as asked. */
	assert_int_equal(ask("API.Lab.Test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.ancount, 1);
	assert_string_equal(dns_name_to_text(&m.q.name, text, sizeof(text)), "API.Lab.Test");

	/* A CNAME is followed inside the zone. */
	assert_int_equal(ask("www.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.ancount, 2);
	assert_int_equal(m.rr[0].type, DNS_T_CNAME);
	assert_string_equal(dns_name_to_text(&m.rr[0].rd.target, text, sizeof(text)),
			    "api.lab.test");
	assert_string_equal(a_of(&m, 1, a), "127.0.0.1");

	/* NXDOMAIN and NODATA carry the SOA. */
	assert_int_equal(ask("nope.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_NXDOMAIN);
	assert_true(m.h.aa);
	assert_int_equal(m.h.nscount, 1);
	assert_int_equal(m.rr[0].type, DNS_T_SOA);
	assert_int_equal(ask("api.lab.test", DNS_T_AAAA, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_NOERROR);
	assert_int_equal(m.h.ancount, 0);
	assert_int_equal(m.rr[0].type, DNS_T_SOA);
	assert_int_equal(ask("lab.test", DNS_T_NS, false, 0, &m), 0);
	assert_string_equal(dns_name_to_text(&m.rr[0].rd.target, text, sizeof(text)),
			    "ns.lab.test");

	/* Not our zone: no recursion. */
	assert_int_equal(ask("example.com", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_REFUSED);
	assert_false(m.h.aa);

	/* TCP answers the same. */
	assert_int_equal(ask("www.lab.test", DNS_T_A, true, 0, &m), 0);
	assert_int_equal(m.h.ancount, 2);

	/* EDNS0: an OPT back, with our payload size. */
	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 4096, &m), 0);
	assert_true(m.has_opt);
	assert_int_equal(m.opt.udp_size, 1232);
	assert_int_equal(m.h.ancount, 1);

	if (have_dig()) {
		char out[2048];

		dig("+short api.lab.test", out, sizeof(out));
		assert_string_equal(out, "127.0.0.1\n");
		dig("+short www.lab.test", out, sizeof(out));
		assert_string_equal(out, "api.lab.test.\n127.0.0.1\n");
		dig("+tcp lab.test SOA", out, sizeof(out));
		assert_non_null(strstr(out, "status: NOERROR"));
		assert_non_null(strstr(out, "flags: qr aa rd;"));
		assert_non_null(
			strstr(out, "ns.lab.test. hostmaster.lab.test. 1 3600 600 86400 30"));
		dig("nope.lab.test", out, sizeof(out));
		assert_non_null(strstr(out, "status: NXDOMAIN"));
		dig("example.com", out, sizeof(out));
		assert_non_null(strstr(out, "status: REFUSED"));
		dig("+edns=1 api.lab.test", out, sizeof(out));
		assert_non_null(strstr(out, "BADVERS"));
	}
}

static void test_malformed(void **state_)
{
	uint8_t q[64], r[512];
	struct dns_header h;
	ssize_t n;

	/* A question name that points at itself: FORMERR, not a hang. */
	memcpy(q, "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01", 18);
	n = udp_raw(q, 18, r, sizeof(r), 1000);
	assert_int_equal(n, DNS_HEADER_LEN);
	assert_int_equal(dns_header_parse(r, (size_t)n, &h), 0);
	assert_int_equal(h.id, 0x1234);
	assert_true(h.qr);
	assert_int_equal(h.rcode, DNS_R_FORMERR);

	/* A response is never answered (no reflection loops), nor a runt. */
	q[2] |= 0x80;
	assert_int_equal(udp_raw(q, 18, r, sizeof(r), 300), 0);
	assert_int_equal(udp_raw(q, 5, r, sizeof(r), 300), 0);

	/* Two questions: FORMERR; an unknown opcode: NOTIMP. */
	memcpy(q,
	       "\x00\x07\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01"
	       "\x00\x00\x01\x00\x01",
	       22);
	n = udp_raw(q, 22, r, sizeof(r), 1000);
	assert_true(n >= DNS_HEADER_LEN);
	dns_header_parse(r, (size_t)n, &h);
	assert_int_equal(h.rcode, DNS_R_FORMERR);
	memcpy(q, "\x00\x08\x28\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00\x01", 17);
	n = udp_raw(q, 17, r, sizeof(r), 1000);
	assert_true(n >= DNS_HEADER_LEN);
	dns_header_parse(r, (size_t)n, &h);
	assert_int_equal(h.opcode, 5);
	assert_int_equal(h.rcode, DNS_R_NOTIMP);

	/* Still serving. */
	{
		struct dns_msg m;

		assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), 0);
	}
}

static void status_field(pid_t pid, const char *key, char *buf, size_t size)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			char *v = line + strlen(key) + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(buf, size, "%s", v);
		}
	fclose(f);
}

static void test_lockdown_and_log(void **state_)
{
	char field[64], path[400], buf[8192];
	pid_t pid = dns_pid();
	struct proc_stat st;
	FILE *f;
	size_t n;

	assert_int_equal(proc_stat_read(pid, &st), 0);
	assert_string_equal(st.comm, "dns");
	status_field(pid, "Seccomp", field, sizeof(field));
	assert_string_equal(field, "2");
	status_field(pid, "CapEff", field, sizeof(field));
	assert_string_equal(field, "0000000000000000");

	snprintf(path, sizeof(path), "%s/lab/dns/query.log", state);
	f = fopen(path, "re");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "serving 5 records on 127.0.0.1"));
	assert_non_null(strstr(buf, " api.lab.test A udp: NOERROR, 1 answer"));
	assert_non_null(strstr(buf, " nope.lab.test A udp: NXDOMAIN, 0 answers"));
	assert_non_null(strstr(buf, " www.lab.test A tcp: NOERROR, 2 answers"));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_zone_reload(void **state_)
{
	char path[400], orig[4096];
	struct dns_msg m;
	char a[INET_ADDRSTRLEN];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/lab/dns/zone", state);
	f = fopen(path, "re");
	assert_non_null(f);
	n = fread(orig, 1, sizeof(orig) - 1, f);
	orig[n] = '\0';
	fclose(f);
	assert_non_null(strstr(orig, "api  IN A     $ADDR"));

	write_file(path, "$ORIGIN lab.test.\n$TTL 60\n"
			 "@ SOA ns hostmaster 7 3600 600 86400 30\n"
			 "ns A 10.0.0.53\n"
			 "api A $ADDR\n"
			 "    AAAA 2001:db8::1\n"
			 "db 120 IN A 10.0.0.9\n");
	assert_int_equal(kill(dns_pid(), SIGHUP), 0);
	usleep(200000);
	assert_int_equal(ask("db.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_string_equal(a_of(&m, 0, a), "10.0.0.9");
	assert_int_equal(m.rr[0].ttl, 120);
	assert_int_equal(ask("api.lab.test", DNS_T_AAAA, false, 0, &m), 0);
	assert_int_equal(m.h.ancount, 1);
	assert_int_equal(m.rr[0].rd.aaaa[15], 1);
	assert_int_equal(ask("www.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_NXDOMAIN);

	/* A zone that does not load is refused; the last good one stays. */
	write_file(path, "$ORIGIN lab.test.\napi A not-an-address\n");
	assert_int_equal(kill(dns_pid(), SIGHUP), 0);
	usleep(200000);
	assert_int_equal(ask("db.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_string_equal(a_of(&m, 0, a), "10.0.0.9");

	write_file(path, orig);
	assert_int_equal(kill(dns_pid(), SIGHUP), 0);
	usleep(200000);
	assert_int_equal(ask("www.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.ancount, 2);
}

/* Count rcodes (or -1 for no answer) over n queries. */
static void tally(int n, int *counts /* [17] */, bool tcp)
{
	for (int i = 0; i < n; i++) {
		struct dns_msg m;

		if (ask("api.lab.test", DNS_T_A, tcp, 0, &m))
			counts[16]++;
		else
			counts[m.h.rcode & 15]++;
	}
}

static void test_bad_resolver_modes(void **state_)
{
	struct cl_error err;
	char report[256], path[400], a[INET_ADDRSTRLEN];
	struct test_step s;
	struct dns_msg m;
	struct stat st;
	double t0;

	/* servfail always; its rule file; reverted. */
	if (step_apply(&s, "bad-resolver", "flaky", "{\"mode\": \"servfail\"}", &err))
		fail_msg("apply: %s", err.msg);
	snprintf(path, sizeof(path), "%s/lab/dns/rules.d/flaky.rule", state);
	assert_string_equal(cJSON_GetObjectItem(s.undo, "rule_file")->valuestring, path);
	assert_string_equal(cJSON_GetObjectItem(s.undo, "rule")->valuestring, "servfail 1.0000\n");
	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_SERVFAIL);
	assert_int_equal(ask("api.lab.test", DNS_T_A, true, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_SERVFAIL);
	/* Outside the zone it still refuses: the rules spoil our own names. */
	assert_int_equal(ask("example.com", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_REFUSED);
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_non_null(strstr(report, "removed the DNS server rule"));
	assert_int_equal(stat(path, &st), -1);
	usleep(250000);
	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_NOERROR);
	/* Twice is fine. */
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	test_step_free(&s);

	/* nxdomain, refused. */
	assert_int_equal(step_apply(&s, "bad-resolver", "nx", "{\"mode\": \"nxdomain\"}", &err), 0);
	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_NXDOMAIN);
	assert_int_equal(m.h.nscount, 1);
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);
	assert_int_equal(step_apply(&s, "bad-resolver", "ref", "{\"mode\": \"refused\"}", &err), 0);
	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_int_equal(m.h.rcode, DNS_R_REFUSED);
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);

	/* timeout: no answer at all, on either transport's UDP side. */
	assert_int_equal(step_apply(&s, "bad-resolver", "drop", "{\"mode\": \"timeout\"}", &err),
			 0);
	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), -1);
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);

	/* truncate: TC over UDP with no records, a full answer over TCP. */
	assert_int_equal(step_apply(&s, "bad-resolver", "tc", "{\"mode\": \"truncate\"}", &err), 0);
	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_true(m.h.tc);
	assert_int_equal(m.h.ancount, 0);
	assert_int_equal(ask("api.lab.test", DNS_T_A, true, 0, &m), 0);
	assert_false(m.h.tc);
	assert_int_equal(m.h.ancount, 1);
	if (have_dig()) {
		char out[2048];

		dig("api.lab.test", out, sizeof(out));
		assert_non_null(strstr(out, "Truncated, retrying in TCP mode"));
		assert_non_null(strstr(out, "(TCP)"));
	}
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);

	/* wrong_answer, through the CNAME too. */
	assert_int_equal(step_apply(&s, "bad-resolver", "wrong",
				    "{\"mode\": \"wrong_answer\", \"address\": \"192.0.2.66\"}",
				    &err),
			 0);
	assert_int_equal(ask("www.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_string_equal(a_of(&m, 1, a), "192.0.2.66");
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);

	/* slow: each answer waits, UDP and TCP. */
	assert_int_equal(step_apply(&s, "bad-resolver", "slow",
				    "{\"mode\": \"slow\", \"delay_ms\": 400}", &err),
			 0);
	t0 = mono_now();
	assert_int_equal(ask("api.lab.test", DNS_T_A, false, 0, &m), 0);
	assert_true(mono_now() - t0 >= 0.39);
	assert_int_equal(m.h.rcode, DNS_R_NOERROR);
	t0 = mono_now();
	assert_int_equal(ask("api.lab.test", DNS_T_A, true, 0, &m), 0);
	assert_true(mono_now() - t0 >= 0.39);
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);
}

static void test_probability(void **state_)
{
	struct cl_error err;
	struct test_step s1, s2;
	int counts[17] = { 0 };

	/* 30% SERVFAIL and 20% NXDOMAIN stacked, 200 queries: each rate within
	 * 5 standard deviations (binomial: 6.5 and 5.7 queries). */
	assert_int_equal(step_apply(&s1, "bad-resolver", "a",
				    "{\"mode\": \"servfail\", \"probability\": 0.3}", &err),
			 0);
	assert_int_equal(step_apply(&s2, "bad-resolver", "b",
				    "{\"mode\": \"nxdomain\", \"probability\": 0.2}", &err),
			 0);
	tally(200, counts, false);
	print_message("servfail %d nxdomain %d noerror %d none %d\n", counts[DNS_R_SERVFAIL],
		      counts[DNS_R_NXDOMAIN], counts[0], counts[16]);
	assert_in_range(counts[DNS_R_SERVFAIL], 60 - 33, 60 + 33);
	assert_in_range(counts[DNS_R_NXDOMAIN], 40 - 29, 40 + 29);
	assert_int_equal(counts[16], 0);
	assert_int_equal(counts[DNS_R_SERVFAIL] + counts[DNS_R_NXDOMAIN] + counts[0], 200);
	assert_int_equal(test_step_revert(&s1, NULL, 0, &err), 0);
	assert_int_equal(test_step_revert(&s2, NULL, 0, &err), 0);
	test_step_free(&s1);
	test_step_free(&s2);
}

static void test_rule_changed_is_left_alone(void **state_)
{
	struct cl_error err;
	char report[256], path[400];
	struct test_step s;
	struct stat st;

	assert_int_equal(step_apply(&s, "bad-resolver", "edited", "{\"mode\": \"refused\"}", &err),
			 0);
	snprintf(path, sizeof(path), "%s/lab/dns/rules.d/edited.rule", state);
	write_file(path, "refused 0.5\n");
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_non_null(strstr(report, "left"));
	assert_non_null(strstr(report, "changed since chaoslab wrote it"));
	assert_int_equal(stat(path, &st), 0);
	unlink(path);
	usleep(250000); /* the server's next look at rules.d */
	test_step_free(&s);

	/* A bare intent (the harness died before apply saved anything). */
	memset(&s, 0, sizeof(s));
	s.in = injector_find("bad-resolver");
	snprintf(s.id, sizeof(s.id), "never");
	s.undo = cJSON_CreateObject();
	assert_int_equal(test_step_revert(&s, report, sizeof(report), &err), 0);
	assert_string_equal(report, "");
	test_step_free(&s);

	/* Parameters that do not go together are refused at load. */
	assert_int_equal(step_apply(&s, "bad-resolver", "x",
				    "{\"mode\": \"servfail\", \"delay_ms\": 5}", &err),
			 -1);
	assert_non_null(strstr(err.msg, "delay_ms applies to mode slow"));
	test_step_free(&s);
	assert_int_equal(step_apply(&s, "bad-resolver", "x",
				    "{\"mode\": \"dead_resolver\", \"probability\": 0.5}", &err),
			 -1);
	test_step_free(&s);
}

/* ---- the dns-resolve verifier --------------------------------------------------- */

static int env_addr(void *opaque, const char *name, char *host, size_t size, int *p)
{
	if (strcmp(name, "dns"))
		return -1;
	snprintf(host, size, "127.0.0.1");
	*p = port;
	return 0;
}

static int check(const char *with, char *obs, size_t size)
{
	const struct verifier *v = verifier_find("dns-resolve");
	struct check_env env = { .service_addr = env_addr };
	struct params p;
	struct check_ctx ctx = { .params = &p, .env = &env };
	struct cl_error err;
	struct doc_node *d;
	char msg[256];
	int r;

	assert_non_null(v);
	d = doc_parse_json("test", with, strlen(with), &err);
	assert_non_null(d);
	assert_int_equal(params_from_doc(&p, v->params, d, "test", NULL, "with", &err), 0);
	doc_free(d);
	assert_int_equal(v->validate(&p, msg, sizeof(msg)), 0);
	r = v->check(&ctx, obs, size, &err);
	print_message("dns-resolve %s: %s\n", with, obs);
	if (r == CHECK_ERROR)
		snprintf(obs, size, "error: %s", err.msg);
	params_release(&p);
	return r;
}

static void test_dns_resolve_verifier(void **state_)
{
	struct cl_error err;
	struct test_step s;
	char obs[256];

	assert_int_equal(check("{\"service\": \"dns\", \"count\": 20, \"expect\": \"127.0.0.1\"}",
			       obs, sizeof(obs)),
			 CHECK_MET);
	assert_non_null(strstr(obs, "20/20 ok = 127.0.0.1; p95 "));
	assert_non_null(strstr(obs, "via 127.0.0.1:"));
	assert_int_equal(check("{\"service\": \"dns\", \"expect\": \"10.1.1.1\"}", obs,
			       sizeof(obs)),
			 CHECK_NOT_MET);
	assert_non_null(strstr(obs, "wrong answer 20/20 (127.0.0.1)"));
	assert_int_equal(check("{\"service\": \"dns\", \"name\": \"nope.lab.test\"}", obs,
			       sizeof(obs)),
			 CHECK_NOT_MET);
	assert_non_null(strstr(obs, "NXDOMAIN 20/20"));

	/* Intermittent SERVFAIL: measured, and the rate conditions. */
	assert_int_equal(step_apply(&s, "bad-resolver", "half",
				    "{\"mode\": \"servfail\", \"probability\": 0.5}", &err),
			 0);
	assert_int_equal(
		check("{\"service\": \"dns\", \"count\": 100, \"min_success_percent\": 20, "
		      "\"max_success_percent\": 80}",
		      obs, sizeof(obs)),
		CHECK_MET);
	assert_non_null(strstr(obs, "SERVFAIL "));
	assert_non_null(strstr(obs, "/100, "));
	assert_int_equal(check("{\"service\": \"dns\", \"count\": 100}", obs, sizeof(obs)),
			 CHECK_NOT_MET);
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);

	/* Truncated over UDP: the verifier asks again over TCP, as glibc does. */
	assert_int_equal(step_apply(&s, "bad-resolver", "tc", "{\"mode\": \"truncate\"}", &err), 0);
	assert_int_equal(check("{\"service\": \"dns\", \"count\": 10}", obs, sizeof(obs)),
			 CHECK_MET);
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);

	/* Dropped: timeouts, the p95 at the timeout. */
	assert_int_equal(step_apply(&s, "bad-resolver", "drop", "{\"mode\": \"timeout\"}", &err),
			 0);
	assert_int_equal(check("{\"service\": \"dns\", \"count\": 10, \"timeout_ms\": 300, "
			       "\"max_success_percent\": 0, \"min_p95_ms\": 290}",
			       obs, sizeof(obs)),
			 CHECK_MET);
	assert_non_null(strstr(obs, "timeout 10/10"));
	assert_int_equal(test_step_revert(&s, NULL, 0, &err), 0);
	test_step_free(&s);

	/* A server that is not there: refused at once, not a timeout. */
	{
		char with[160];
		double t0 = mono_now();

		snprintf(with, sizeof(with), "{\"server\": \"127.0.0.1:%d\", \"count\": 5}",
			 free_port());
		assert_int_equal(check(with, obs, sizeof(obs)), CHECK_NOT_MET);
		assert_non_null(strstr(obs, "unreachable 5/5"));
		assert_true(mono_now() - t0 < 1.0);
	}
	assert_int_equal(check("{\"service\": \"other\"}", obs, sizeof(obs)), CHECK_NOT_MET);
	assert_string_equal(obs, "the other service is not running");
}

static void test_needs_the_service(void **state_)
{
	struct cl_error err;
	struct test_step s;
	char saved[64];

	/* Another run id: no dns worker carries its tag. */
	snprintf(saved, sizeof(saved), "%s", run_id);
	snprintf(run_id, sizeof(run_id), "%s-other", saved);
	assert_int_equal(step_apply(&s, "bad-resolver", "x", "{\"mode\": \"servfail\"}", &err), -1);
	assert_non_null(strstr(err.msg, "list dns under the scenario's lab:"));
	snprintf(run_id, sizeof(run_id), "%s", saved);
	test_step_free(&s);
}

/* ---- setup ------------------------------------------------------------------------- */

static int group_setup(void **state_)
{
	struct cl_error err;
	char with[64];

	snprintf(state, sizeof(state), "/tmp/test_dns_server.XXXXXX");
	if (!mkdtemp(state))
		return -1;
	setenv("CHAOSLAB_STATE", state, 1);
	port = free_port();
	snprintf(with, sizeof(with), "{\"service\": \"dns\", \"port\": %d}", port);
	if (step_apply(&lab, "lab-service", "lab-dns", with, &err)) {
		fprintf(stderr, "lab-service dns: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state_)
{
	struct cl_error err;
	char cmd[300];
	int rc = test_step_revert(&lab, NULL, 0, &err);

	test_step_free(&lab);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	if (system(cmd))
		rc = -1;
	return rc;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_lockdown_and_log),
		cmocka_unit_test(test_zone_reload),
		cmocka_unit_test(test_bad_resolver_modes),
		cmocka_unit_test(test_probability),
		cmocka_unit_test(test_rule_changed_is_left_alone),
		cmocka_unit_test(test_dns_resolve_verifier),
		cmocka_unit_test(test_needs_the_service),
	};
	const char *bin = getenv("CHAOSLAB_BIN");

	if (getenv("CHAOSLAB_WORKER"))
		return worker_main(argc, argv);
	if (!bin || access(bin, X_OK)) {
		printf("skipped: CHAOSLAB_BIN does not name the chaoslab binary (%s); the server "
		       "runs as its worker\n",
		       bin ? bin : "unset");
		return 77;
	}
	worker_set_exe(bin);
	snprintf(run_id, sizeof(run_id), "test-dns-server-%d", (int)getpid());
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
