/* Tests of the DNS wire codec (harness/sys/dns.c): names in text and wire
 * form, building and parsing whole messages with compression, EDNS0 and the
 * TC bit, and malicious input: pointer loops (to itself, between two names,
 * forwards, into the header), messages cut at every length, oversized and
 * reserved labels, names past 255 octets built from pointers, rdata that
 * does not match its type, misplaced OPT records, trailing bytes. The
 * reference bytes of the query test are what dig 9.18 sent for the same
 * question to a UDP socket (its random id replaced), so the builder matches a
 * real client byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sys/dns.h"

static struct dns_name name_of(const char *text)
{
	struct dns_name n;

	assert_int_equal(dns_name_from_text(text, &n), 0);
	return n;
}

static const char *text_of(const struct dns_name *n)
{
	static char buf[DNS_NAME_TEXT_MAX];

	return dns_name_to_text(n, buf, sizeof(buf));
}

/* ---- names ---------------------------------------------------------------- */

static void test_name_text(void **state)
{
	struct dns_name n;
	char label63[64], label64[65], big[300];

	n = name_of("api.lab.test");
	assert_int_equal(n.len, 14);
	assert_memory_equal(n.wire, "\003api\003lab\004test\000", 14);
	assert_string_equal(text_of(&n), "api.lab.test");
	assert_int_equal(dns_name_labels(&n), 3);

	n = name_of("api.lab.test.");
	assert_int_equal(n.len, 14);
	n = name_of(".");
	assert_int_equal(n.len, 1);
	assert_string_equal(text_of(&n), ".");
	assert_int_equal(dns_name_labels(&n), 0);
	n = name_of("");
	assert_int_equal(n.len, 1);

	/* Escapes both ways. */
	n = name_of("a\\.b.c\\\\d.\\255x");
	assert_int_equal(n.wire[0], 3);
	assert_memory_equal(n.wire + 1, "a.b", 3);
	assert_string_equal(text_of(&n), "a\\.b.c\\\\d.\\255x");
	n = name_of("sp\\032ace");
	assert_string_equal(text_of(&n), "sp\\032ace");

	assert_int_equal(dns_name_from_text("a..b", &n), DNS_E_TEXT);
	assert_int_equal(dns_name_from_text(".a", &n), DNS_E_TEXT);
	assert_int_equal(dns_name_from_text("a\\", &n), DNS_E_TEXT);
	assert_int_equal(dns_name_from_text("a\\25", &n), DNS_E_TEXT);
	assert_int_equal(dns_name_from_text("a\\256", &n), DNS_E_TEXT);
	assert_int_equal(dns_name_from_text(NULL, &n), DNS_E_TEXT);

	memset(label63, 'x', 63);
	label63[63] = '\0';
	memset(label64, 'x', 64);
	label64[64] = '\0';
	assert_int_equal(dns_name_from_text(label63, &n), 0);
	assert_int_equal(n.len, 65);
	assert_int_equal(dns_name_from_text(label64, &n), DNS_E_LABEL);

	/* 255 octets is the most: 4 labels of 63 = 4*64 + 1 = 257 is too long,
	 * 3 of 63 and one of 61 = 255 fits. */
	snprintf(big, sizeof(big), "%s.%s.%s.%s", label63, label63, label63, label63);
	assert_int_equal(dns_name_from_text(big, &n), DNS_E_NAME_TOO_LONG);
	snprintf(big, sizeof(big), "%s.%s.%s.%.61s", label63, label63, label63, label63);
	assert_int_equal(dns_name_from_text(big, &n), 0);
	assert_int_equal(n.len, 255);
	snprintf(big, sizeof(big), "%s.%s.%s.%.62s", label63, label63, label63, label63);
	assert_int_equal(dns_name_from_text(big, &n), DNS_E_NAME_TOO_LONG);
}

static void test_name_compare(void **state)
{
	struct dns_name a = name_of("API.Lab.TEST"), b = name_of("api.lab.test");
	struct dns_name zone = name_of("lab.test"), other = name_of("xlab.test");
	struct dns_name root = name_of(".");

	assert_true(dns_name_equal(&a, &b));
	assert_false(dns_name_equal(&a, &zone));
	assert_true(dns_name_within(&a, &zone));
	assert_true(dns_name_within(&zone, &zone));
	assert_false(dns_name_within(&other, &zone));
	assert_false(dns_name_within(&zone, &a));
	assert_true(dns_name_within(&a, &root));
}

/* ---- building and parsing ------------------------------------------------- */

static void test_query_matches_dig(void **state)
{
	/* dig +noad +nocookie +edns=0 +bufsize=1232 api.lab.test A, id 0x1234:
	 * header, question, OPT with payload 1232. */
	static const uint8_t want[] = {
		0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 'a',
		'p',  'i',  0x03, 'l',	'a',  'b',  0x04, 't',	'e',  's',  't',  0x00, 0x00, 0x01,
		0x00, 0x01, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t buf[512];
	struct dns_name n = name_of("api.lab.test");
	struct dns_msg m;
	int len = dns_build_query(buf, sizeof(buf), 0x1234, &n, DNS_T_A, 1232);

	assert_int_equal(len, (int)sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(dns_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(m.h.id, 0x1234);
	assert_true(m.h.rd);
	assert_false(m.h.qr);
	assert_true(m.has_question);
	assert_true(dns_name_equal(&m.q.name, &n));
	assert_int_equal(m.q.type, DNS_T_A);
	assert_true(m.has_opt);
	assert_int_equal(m.opt.udp_size, 1232);
	assert_int_equal(m.opt.version, 0);
	/* Too small a buffer. */
	assert_int_equal(dns_build_query(buf, 20, 1, &n, DNS_T_A, 0), DNS_E_NOSPACE);
	assert_int_equal(dns_build_query(buf, 4, 1, &n, DNS_T_A, 0), DNS_E_NOSPACE);
}

/* A response with every kind of record the server sends, compressed. */
static int build_response(uint8_t *buf, size_t cap)
{
	struct dns_header h = { .id = 7, .qr = true, .aa = true, .rd = true, .rcode = 0 };
	struct dns_builder b;
	struct dns_rr rr;

	/* A name of length 0 is no name at all. */
	dns_build_init(&b, buf, cap, &h);
	assert_int_equal(dns_build_question(&b, &(struct dns_name){ .len = 0 }, 1, 1), DNS_E_TEXT);
	dns_build_init(&b, buf, cap, &h);
	rr.name = name_of("www.lab.test");
	dns_build_question(&b, &rr.name, DNS_T_A, DNS_CLASS_IN);
	memset(&rr, 0, sizeof(rr));
	rr.name = name_of("www.lab.test");
	rr.type = DNS_T_CNAME;
	rr.rclass = DNS_CLASS_IN;
	rr.ttl = 60;
	rr.rd.target = name_of("api.lab.test");
	dns_build_rr(&b, DNS_S_ANSWER, &rr);
	rr.name = name_of("api.lab.test");
	rr.type = DNS_T_A;
	memcpy(rr.rd.a, "\x0a\xcb\x07\x02", 4);
	dns_build_rr(&b, DNS_S_ANSWER, &rr);
	rr.type = DNS_T_AAAA;
	memset(rr.rd.aaaa, 0, 16);
	rr.rd.aaaa[15] = 1;
	dns_build_rr(&b, DNS_S_ANSWER, &rr);
	rr.name = name_of("lab.test");
	rr.type = DNS_T_NS;
	rr.rd.target = name_of("ns.lab.test");
	dns_build_rr(&b, DNS_S_AUTHORITY, &rr);
	rr.type = DNS_T_SOA;
	rr.rd.soa.mname = name_of("ns.lab.test");
	rr.rd.soa.rname = name_of("hostmaster.lab.test");
	rr.rd.soa.serial = 2026112701;
	rr.rd.soa.refresh = 3600;
	rr.rd.soa.retry = 600;
	rr.rd.soa.expire = 86400;
	rr.rd.soa.minimum = 30;
	dns_build_rr(&b, DNS_S_AUTHORITY, &rr);
	dns_build_opt(&b, 1232);
	return dns_build_finish(&b);
}

static void test_response_roundtrip(void **state)
{
	uint8_t buf[512];
	struct dns_msg m;
	int len = build_response(buf, sizeof(buf));
	struct dns_name api = name_of("api.lab.test");

	assert_true(len > 0);
	/* Compression: "lab.test" is spelt once, every later copy is a pointer
	 * (eleven names end in it). */
	{
		const uint8_t *first = memmem(buf, (size_t)len, "\003lab\004test", 10);

		assert_non_null(first);
		assert_null(memmem(first + 1, (size_t)(buf + len - first - 1), "\003lab", 4));
	}
	assert_int_equal(dns_parse(buf, (size_t)len, &m), 0);
	assert_true(m.h.qr);
	assert_true(m.h.aa);
	assert_int_equal(m.h.ancount, 3);
	assert_int_equal(m.h.nscount, 2);
	assert_int_equal(m.h.arcount, 1);
	assert_int_equal(m.nrr, 6);
	assert_int_equal(m.rr[0].type, DNS_T_CNAME);
	assert_true(dns_name_equal(&m.rr[0].rd.target, &api));
	assert_int_equal(m.rr[0].ttl, 60);
	assert_int_equal(m.rr[1].type, DNS_T_A);
	assert_true(dns_name_equal(&m.rr[1].name, &api));
	assert_memory_equal(m.rr[1].rd.a, "\x0a\xcb\x07\x02", 4);
	assert_int_equal(m.rr[2].type, DNS_T_AAAA);
	assert_int_equal(m.rr[2].rd.aaaa[15], 1);
	assert_int_equal(m.rr[3].section, DNS_S_AUTHORITY);
	assert_string_equal(text_of(&m.rr[3].rd.target), "ns.lab.test");
	assert_int_equal(m.rr[4].type, DNS_T_SOA);
	assert_string_equal(text_of(&m.rr[4].rd.soa.rname), "hostmaster.lab.test");
	assert_int_equal(m.rr[4].rd.soa.serial, 2026112701);
	assert_int_equal(m.rr[4].rd.soa.minimum, 30);
	assert_int_equal(m.rr[5].section, DNS_S_ADDITIONAL);
	assert_true(m.has_opt);
	assert_int_equal(m.opt.udp_size, 1232);

	/* Every shorter cut of the message is refused, never read past. */
	for (int cut = 0; cut < len; cut++)
		assert_true(dns_parse(buf, (size_t)cut, &m) < 0);
}

static void test_flags_and_tc(void **state)
{
	struct dns_header h = { .id = 0xbeef,
				.qr = true,
				.tc = true,
				.ra = true,
				.ad = true,
				.cd = true,
				.opcode = 2,
				.rcode = DNS_R_NXDOMAIN };
	struct dns_header back;
	uint8_t buf[64];
	struct dns_builder b;
	char tmp[16];

	dns_build_init(&b, buf, sizeof(buf), &h);
	assert_int_equal(dns_build_finish(&b), DNS_HEADER_LEN);
	assert_int_equal(dns_header_parse(buf, DNS_HEADER_LEN, &back), 0);
	assert_int_equal(back.id, 0xbeef);
	assert_true(back.qr && back.tc && back.ra && back.ad && back.cd);
	assert_false(back.aa || back.rd);
	assert_int_equal(back.opcode, 2);
	assert_int_equal(back.rcode, DNS_R_NXDOMAIN);
	assert_int_equal(dns_header_parse(buf, 11, &back), DNS_E_SHORT);
	assert_string_equal(dns_rcode_name(DNS_R_SERVFAIL, tmp, sizeof(tmp)), "SERVFAIL");
	assert_string_equal(dns_rcode_name(17, tmp, sizeof(tmp)), "RCODE17");
	assert_string_equal(dns_type_name(DNS_T_AAAA, tmp, sizeof(tmp)), "AAAA");
	assert_string_equal(dns_type_name(99, tmp, sizeof(tmp)), "TYPE99");
	assert_string_equal(dns_strerror(DNS_E_POINTER),
			    "bad compression pointer (forward, into the header, or a loop)");
	assert_string_equal(dns_strerror(-100), "unknown error");
}

static void test_builder_order_and_space(void **state)
{
	struct dns_header h = { .id = 1 };
	struct dns_name n = name_of("a.lab.test");
	struct dns_rr rr = { .name = n, .type = DNS_T_A, .rclass = DNS_CLASS_IN };
	uint8_t buf[512];
	struct dns_builder b;

	/* A question after a record is a programming error. */
	dns_build_init(&b, buf, sizeof(buf), &h);
	assert_int_equal(dns_build_rr(&b, DNS_S_AUTHORITY, &rr), 0);
	assert_int_equal(dns_build_rr(&b, DNS_S_ANSWER, &rr), DNS_E_INVALID);
	assert_int_equal(dns_build_finish(&b), DNS_E_INVALID);
	dns_build_init(&b, buf, sizeof(buf), &h);
	assert_int_equal(dns_build_rr(&b, DNS_S_ANSWER, &rr), 0);
	assert_int_equal(dns_build_question(&b, &n, DNS_T_A, 1), DNS_E_INVALID);

	/* Filling a small buffer fails cleanly and sticks. */
	dns_build_init(&b, buf, 40, &h);
	assert_int_equal(dns_build_question(&b, &n, DNS_T_A, 1), 0);
	assert_int_equal(dns_build_rr(&b, DNS_S_ANSWER, &rr), DNS_E_NOSPACE);
	assert_int_equal(dns_build_finish(&b), DNS_E_NOSPACE);

	/* Unknown types pass rdata through. */
	dns_build_init(&b, buf, sizeof(buf), &h);
	rr.type = 99;
	rr.rdata = (const uint8_t *)"\x01\x02\x03";
	rr.rdlength = 3;
	assert_int_equal(dns_build_rr(&b, DNS_S_ANSWER, &rr), 0);
	{
		struct dns_msg m;
		int len = dns_build_finish(&b);

		assert_true(len > 0);
		assert_int_equal(dns_parse(buf, (size_t)len, &m), 0);
		assert_int_equal(m.rr[0].type, 99);
		assert_int_equal(m.rr[0].rdlength, 3);
		assert_memory_equal(m.rr[0].rdata, "\x01\x02\x03", 3);
	}
}

static void test_many_records(void **state)
{
	struct dns_header h = { .id = 1, .qr = true };
	struct dns_name n = name_of("a.lab.test");
	struct dns_rr rr = { .name = n, .type = DNS_T_A, .rclass = DNS_CLASS_IN };
	uint8_t buf[4096];
	struct dns_builder b;
	struct dns_msg m;
	int len;

	dns_build_init(&b, buf, sizeof(buf), &h);
	for (int i = 0; i < DNS_MSG_MAX_RR + 8; i++) {
		rr.rd.a[3] = (uint8_t)i;
		assert_int_equal(dns_build_rr(&b, DNS_S_ANSWER, &rr), 0);
	}
	len = dns_build_finish(&b);
	assert_true(len > 0);
	assert_int_equal(dns_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(m.nrr, DNS_MSG_MAX_RR);
	assert_int_equal(m.nrr_total, DNS_MSG_MAX_RR + 8);
	assert_int_equal(m.rr[DNS_MSG_MAX_RR - 1].rd.a[3], DNS_MSG_MAX_RR - 1);
}

/* ---- malicious input ------------------------------------------------------ */

/* A header announcing one question, then the bytes given. */
static size_t with_header(uint8_t *buf, const uint8_t *body, size_t n, uint16_t qd, uint16_t an)
{
	memset(buf, 0, DNS_HEADER_LEN);
	buf[5] = (uint8_t)qd;
	buf[4] = (uint8_t)(qd >> 8);
	buf[7] = (uint8_t)an;
	memcpy(buf + DNS_HEADER_LEN, body, n);
	return DNS_HEADER_LEN + n;
}

static void test_pointer_loops(void **state)
{
	uint8_t buf[600];
	struct dns_msg m;
	struct dns_name n;
	size_t off, len;

	/* A pointer to itself (offset 12). */
	len = with_header(buf, (const uint8_t *)"\xc0\x0c\x00\x01\x00\x01", 6, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_POINTER);

	/* Label "a" then a pointer back to it: the pointer is behind itself,
	 * but would read itself again; refused as a loop. */
	len = with_header(buf, (const uint8_t *)"\x01\x61\xc0\x0c\x00\x01\x00\x01", 8, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_POINTER);

	/* Two names pointing at each other: first at 12 -> 14, 14 -> 12. */
	len = with_header(buf, (const uint8_t *)"\xc0\x0e\xc0\x0c\x00\x01\x00\x01", 8, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_POINTER);
	off = 14;
	assert_int_equal(dns_name_read(buf, len, &off, &n), DNS_E_POINTER);

	/* A forward pointer, and pointers into the header. */
	len = with_header(buf, (const uint8_t *)"\xc0\x10\x00\x01\x00\x01\x00", 7, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_POINTER);
	for (int target = 0; target < DNS_HEADER_LEN; target++) {
		uint8_t body[6] = { 0xc0, (uint8_t)target, 0, 1, 0, 1 };

		len = with_header(buf, body, sizeof(body), 1, 0);
		assert_int_equal(dns_parse(buf, len, &m), DNS_E_POINTER);
	}

	/* A pointer running off the end. */
	len = with_header(buf, (const uint8_t *)"\xc0", 1, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_SHORT);

	/* A legitimate backward chain: "a" at 12, then "b" + pointer to 12 at
	 * 15, then a question name pointing at 15. */
	len = with_header(buf,
			  (const uint8_t *)"\x01\x61\x00"
					   "\x01\x62\xc0\x0c"
					   "\xc0\x0f\x00\x01\x00\x01",
			  13, 0, 0);
	off = 19;
	assert_int_equal(dns_name_read(buf, len, &off, &n), 0);
	assert_int_equal(off, 21);
	assert_string_equal(text_of(&n), "b.a");
}

static void test_pointer_chain_too_long(void **state)
{
	/* Labels of 63 chained by pointers, each pointing at the one before:
	 * each hop is legal, the name they spell is not (over 255 octets). */
	uint8_t buf[1024];
	size_t pos = DNS_HEADER_LEN, prev = 0;

	memset(buf, 0, DNS_HEADER_LEN);
	for (int i = 0; i < 6; i++) {
		size_t here = pos;

		buf[pos++] = 63;
		memset(buf + pos, 'a' + i, 63);
		pos += 63;
		if (i == 0) {
			buf[pos++] = 0;
		} else {
			buf[pos++] = (uint8_t)(0xc0 | (prev >> 8));
			buf[pos++] = (uint8_t)prev;
		}
		prev = here;
	}
	/* The question: a pointer to the last. */
	buf[pos++] = (uint8_t)(0xc0 | (prev >> 8));
	buf[pos++] = (uint8_t)prev;
	memcpy(buf + pos, "\x00\x01\x00\x01", 4);
	pos += 4;
	/* Read the final pointer as a name would be read. */
	{
		struct dns_name n;
		size_t off = pos - 6;

		assert_int_equal(dns_name_read(buf, pos, &off, &n), DNS_E_NAME_TOO_LONG);
		/* Two labels of the chain are a fine name. */
		off = DNS_HEADER_LEN + 65;
		assert_int_equal(dns_name_read(buf, pos, &off, &n), 0);
		assert_int_equal(n.len, 129);
	}
}

static void test_bad_labels(void **state)
{
	uint8_t buf[600], body[300];
	struct dns_msg m;
	size_t len;

	/* Label types 0x40 (extended) and 0x80 (reserved). */
	len = with_header(buf, (const uint8_t *)"\x41\x61\x00\x00\x01\x00\x01", 7, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_LABEL);
	len = with_header(buf, (const uint8_t *)"\x81\x61\x00\x00\x01\x00\x01", 7, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_LABEL);
	/* A label longer than what follows. */
	len = with_header(buf, (const uint8_t *)"\x3f\x61\x62", 3, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_SHORT);
	/* 256 octets of uncompressed name: 4 labels of 63 + final zero = 257. */
	{
		size_t p = 0;

		for (int i = 0; i < 4; i++) {
			body[p++] = 63;
			memset(body + p, 'x', 63);
			p += 63;
		}
		body[p++] = 0;
		memcpy(body + p, "\x00\x01\x00\x01", 4);
		p += 4;
		len = with_header(buf, body, p, 1, 0);
		assert_int_equal(dns_parse(buf, len, &m), DNS_E_NAME_TOO_LONG);
	}
	/* No terminating zero before the end. */
	len = with_header(buf, (const uint8_t *)"\x01\x61", 2, 1, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_SHORT);
	/* Question count larger than the message. */
	len = with_header(buf, (const uint8_t *)"\x00\x00\x01\x00\x01", 5, 0xffff, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_SHORT);
}

/* One answer record for "." with the given type and rdata. */
static size_t answer_with(uint8_t *buf, uint16_t type, const uint8_t *rdata, size_t rdlen,
			  size_t claimed)
{
	size_t p = DNS_HEADER_LEN;

	memset(buf, 0, DNS_HEADER_LEN);
	buf[7] = 1; /* ancount */
	buf[p++] = 0;
	buf[p++] = (uint8_t)(type >> 8);
	buf[p++] = (uint8_t)type;
	buf[p++] = 0;
	buf[p++] = 1;
	memset(buf + p, 0, 4);
	p += 4;
	buf[p++] = (uint8_t)(claimed >> 8);
	buf[p++] = (uint8_t)claimed;
	memcpy(buf + p, rdata, rdlen);
	return p + rdlen;
}

static void test_bad_rdata(void **state)
{
	uint8_t buf[600];
	struct dns_msg m;
	size_t len;

	len = answer_with(buf, DNS_T_A, (const uint8_t *)"\x01\x02\x03\x04\x05", 5, 5);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_RDATA);
	len = answer_with(buf, DNS_T_A, (const uint8_t *)"\x01\x02\x03", 3, 3);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_RDATA);
	len = answer_with(buf, DNS_T_AAAA, (const uint8_t *)"\x01\x02\x03\x04", 4, 4);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_RDATA);
	/* rdlength beyond the message. */
	len = answer_with(buf, DNS_T_A, (const uint8_t *)"\x01\x02\x03\x04", 4, 40);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_SHORT);
	/* A CNAME target with bytes after it, and one running past rdlength. */
	len = answer_with(buf, DNS_T_CNAME, (const uint8_t *)"\x01\x61\x00\xff", 4, 4);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_RDATA);
	len = answer_with(buf, DNS_T_CNAME, (const uint8_t *)"\x01\x61\x00\x00", 4, 2);
	assert_true(dns_parse(buf, len, &m) < 0);
	/* SOA with a short tail. */
	len = answer_with(buf, DNS_T_SOA, (const uint8_t *)"\x00\x00\x00\x00\x00\x01", 6, 6);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_RDATA);
	/* TXT whose string runs past the rdata; empty TXT. */
	len = answer_with(buf, DNS_T_TXT, (const uint8_t *)"\x05\x61", 2, 2);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_RDATA);
	len = answer_with(buf, DNS_T_TXT, (const uint8_t *)"", 0, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_RDATA);
	/* MX too short. */
	len = answer_with(buf, DNS_T_MX, (const uint8_t *)"\x00\x0a", 2, 2);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_RDATA);
	/* An OPT in the answer section. */
	len = answer_with(buf, DNS_T_OPT, (const uint8_t *)"", 0, 0);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_INVALID);
	/* Trailing garbage after a valid message. */
	len = answer_with(buf, DNS_T_A, (const uint8_t *)"\x01\x02\x03\x04\xee", 5, 4);
	assert_int_equal(dns_parse(buf, len, &m), DNS_E_TRAILING);
}

static void test_edns(void **state)
{
	uint8_t buf[600];
	struct dns_msg m;
	size_t p;

	/* OPT with an option (NSID, empty) and the DO bit. */
	memset(buf, 0, DNS_HEADER_LEN);
	buf[11] = 1; /* arcount */
	p = DNS_HEADER_LEN;
	memcpy(buf + p, "\x00\x00\x29\x10\x00\x00\x00\x80\x00\x00\x04\x00\x03\x00\x00", 15);
	p += 15;
	assert_int_equal(dns_parse(buf, p, &m), 0);
	assert_true(m.has_opt);
	assert_int_equal(m.opt.udp_size, 4096);
	assert_true(m.opt.do_bit);

	/* An option whose length runs past the rdata. */
	buf[p - 1] = 0x05;
	assert_int_equal(dns_parse(buf, p, &m), DNS_E_RDATA);
	buf[p - 1] = 0x00;

	/* Two OPTs. */
	buf[11] = 2;
	memcpy(buf + p, "\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00", 11);
	assert_int_equal(dns_parse(buf, p + 11, &m), DNS_E_INVALID);
	/* An OPT whose owner is not the root. */
	buf[11] = 1;
	memcpy(buf + DNS_HEADER_LEN, "\x01\x61\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00", 13);
	assert_int_equal(dns_parse(buf, DNS_HEADER_LEN + 13, &m), DNS_E_INVALID);
}

/* Every single-byte change of a valid response parses or fails cleanly, and
 * what parses prints. Cheap determinism next to the fuzzer. */
static void test_mutations(void **state)
{
	uint8_t orig[512], buf[512];
	char text[DNS_NAME_TEXT_MAX];
	struct dns_msg m;
	int len = build_response(orig, sizeof(orig));

	assert_true(len > 0);
	for (int i = 0; i < len; i++) {
		for (int v = 0; v < 256; v += 7) {
			memcpy(buf, orig, (size_t)len);
			buf[i] = (uint8_t)v;
			if (dns_parse(buf, (size_t)len, &m) == 0) {
				for (size_t k = 0; k < m.nrr; k++)
					dns_name_to_text(&m.rr[k].name, text, sizeof(text));
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_text),
		cmocka_unit_test(test_name_compare),
		cmocka_unit_test(test_query_matches_dig),
		cmocka_unit_test(test_response_roundtrip),
		cmocka_unit_test(test_flags_and_tc),
		cmocka_unit_test(test_builder_order_and_space),
		cmocka_unit_test(test_many_records),
		cmocka_unit_test(test_pointer_loops),
		cmocka_unit_test(test_pointer_chain_too_long),
		cmocka_unit_test(test_bad_labels),
		cmocka_unit_test(test_bad_rdata),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
