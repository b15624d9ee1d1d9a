/* libFuzzer target for the DNS wire codec (harness/sys/dns.c).
 *
 * Every input is parsed as a DNS message and, NUL-terminated, as a name in
 * text form; every offset of it is read as a (compressed) name. Beyond
 * crashes, sanitizer reports and hangs (pointer loops) it checks what the
 * codec promises:
 *   - a name read is at most 255 octets and ends with the root;
 *   - a name printed and parsed back is the same name;
 *   - a message that parses, built again from what was parsed, parses again
 *     to the same header, question and records (names, types, addresses).
 * The lab DNS server runs this very code on whatever arrives on its port. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_dns: %s\n", what);
		abort();
	}
}

/* A valid name prints and parses back to itself. */
static void check_name(const struct dns_name *n)
{
	char text[DNS_NAME_TEXT_MAX];
	struct dns_name back;

	check(n->len >= 1 && n->len <= DNS_MAX_NAME, "name length out of range");
	check(n->wire[n->len - 1] == 0, "name does not end with the root");
	dns_name_to_text(n, text, sizeof(text));
	check(dns_name_from_text(text, &back) == 0, "printed name does not parse");
	check(dns_name_equal(n, &back), "printed name parses to another name");
}

/* Types whose rdata the builder rewrites from the decoded form, or that
 * hold no names: their raw rdata stays valid in a new message. */
static int rebuildable(uint16_t type)
{
	return type != DNS_T_MX;
}

static void roundtrip(const struct dns_msg *m)
{
	static uint8_t buf[DNS_MAX_MSG];
	static struct dns_msg back;
	struct dns_builder b;
	int len;

	if (m->nrr != m->nrr_total || m->h.qdcount > 1 || (m->h.qdcount && !m->has_question))
		return;
	for (size_t i = 0; i < m->nrr; i++)
		if (!rebuildable(m->rr[i].type))
			return;
	dns_build_init(&b, buf, sizeof(buf), &m->h);
	if (m->has_question)
		dns_build_question(&b, &m->q.name, m->q.type, m->q.qclass);
	for (size_t i = 0; i < m->nrr; i++)
		dns_build_rr(&b, m->rr[i].section, &m->rr[i]);
	len = dns_build_finish(&b);
	if (len == DNS_E_NOSPACE)
		return;
	check(len > 0, "a parsed message could not be built again");
	check(dns_parse(buf, (size_t)len, &back) == 0, "a rebuilt message does not parse");
	check(back.h.id == m->h.id && back.h.qr == m->h.qr && back.h.tc == m->h.tc &&
		      back.h.rcode == m->h.rcode && back.h.opcode == m->h.opcode,
	      "header changed in the round trip");
	check(back.nrr == m->nrr, "record count changed in the round trip");
	if (m->has_question)
		check(back.has_question && dns_name_equal(&back.q.name, &m->q.name) &&
			      back.q.type == m->q.type,
		      "question changed in the round trip");
	for (size_t i = 0; i < m->nrr; i++) {
		const struct dns_rr *a = &m->rr[i], *z = &back.rr[i];

		check(dns_name_equal(&a->name, &z->name) && a->type == z->type &&
			      a->section == z->section,
		      "record changed in the round trip");
		if (a->type == DNS_T_A)
			check(!memcmp(a->rd.a, z->rd.a, 4), "A changed in the round trip");
		if (a->type == DNS_T_AAAA)
			check(!memcmp(a->rd.aaaa, z->rd.aaaa, 16),
			      "AAAA changed in the round trip");
		if (a->type == DNS_T_CNAME || a->type == DNS_T_NS || a->type == DNS_T_PTR)
			check(dns_name_equal(&a->rd.target, &z->rd.target),
			      "target changed in the round trip");
		if (a->type == DNS_T_SOA)
			check(dns_name_equal(&a->rd.soa.rname, &z->rd.soa.rname) &&
				      a->rd.soa.serial == z->rd.soa.serial,
			      "SOA changed in the round trip");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_msg m;
	struct dns_name n;
	char *text;

	if (dns_parse(data, size, &m) == 0) {
		if (m.has_question)
			check_name(&m.q.name);
		for (size_t i = 0; i < m.nrr; i++) {
			check_name(&m.rr[i].name);
			if (m.rr[i].type == DNS_T_CNAME || m.rr[i].type == DNS_T_NS)
				check_name(&m.rr[i].rd.target);
		}
		roundtrip(&m);
	}
	for (size_t off = DNS_HEADER_LEN; off < size && off < 1024; off++) {
		size_t p = off;

		if (dns_name_read(data, size, &p, &n) == 0) {
			check(p > off && p <= size, "name read moved the offset wrongly");
			check_name(&n);
		}
	}
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (dns_name_from_text(text, &n) == 0)
		check_name(&n);
	free(text);
	return 0;
}
