/* The DNS wire codec: see dns.h for the contract. */
#include "sys/dns.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *const dns_errors[] = {
	[0] = "no error",
	[-DNS_E_SHORT] = "message ends inside a field",
	[-DNS_E_LABEL] = "bad label (longer than 63 octets, or a reserved label type)",
	[-DNS_E_NAME_TOO_LONG] = "name longer than 255 octets",
	[-DNS_E_POINTER] = "bad compression pointer (forward, into the header, or a loop)",
	[-DNS_E_RDATA] = "record data does not match its type or length",
	[-DNS_E_TRAILING] = "bytes after the last record",
	[-DNS_E_NOSPACE] = "message does not fit the buffer",
	[-DNS_E_TEXT] = "not a valid domain name",
	[-DNS_E_INVALID] = "invalid message structure",
};

const char *dns_strerror(int code)
{
	if (code > 0 || -code >= (int)(sizeof(dns_errors) / sizeof(dns_errors[0])))
		return "unknown error";
	return dns_errors[-code];
}

const char *dns_rcode_name(int rcode, char *buf, size_t size)
{
	static const char *const names[] = { "NOERROR",	 "FORMERR", "SERVFAIL",
					     "NXDOMAIN", "NOTIMP",  "REFUSED" };

	if (rcode >= 0 && rcode < (int)(sizeof(names) / sizeof(names[0])))
		return names[rcode];
	snprintf(buf, size, "RCODE%d", rcode);
	return buf;
}

const char *dns_type_name(int type, char *buf, size_t size)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_NS:
		return "NS";
	case DNS_T_CNAME:
		return "CNAME";
	case DNS_T_SOA:
		return "SOA";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_MX:
		return "MX";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_OPT:
		return "OPT";
	case DNS_T_ANY:
		return "ANY";
	}
	snprintf(buf, size, "TYPE%d", type);
	return buf;
}

/* ---- names ---------------------------------------------------------------- */

int dns_name_read(const uint8_t *msg, size_t len, size_t *off, struct dns_name *out)
{
	size_t pos = *off, end = 0, limit = *off, outlen = 0;
	bool jumped = false;
	int hops = 0;

	for (;;) {
		uint8_t c;

		if (pos >= len)
			return DNS_E_SHORT;
		c = msg[pos];
		if ((c & 0xC0) == 0xC0) {
			size_t target;

			if (pos + 1 >= len)
				return DNS_E_SHORT;
			target = ((size_t)(c & 0x3F) << 8) | msg[pos + 1];
			/* Only ever backwards, before where this run of labels
			 * started: every jump lowers the limit, so no loop. */
			if (target < DNS_HEADER_LEN || target >= limit || ++hops > DNS_MAX_POINTERS)
				return DNS_E_POINTER;
			if (!jumped) {
				end = pos + 2;
				jumped = true;
			}
			pos = limit = target;
			continue;
		}
		if (c & 0xC0)
			return DNS_E_LABEL; /* 0x40 extended, 0x80 reserved */
		if (c == 0) {
			if (outlen + 1 > DNS_MAX_NAME)
				return DNS_E_NAME_TOO_LONG;
			out->wire[outlen++] = 0;
			pos++;
			break;
		}
		if (pos + 1 + c > len)
			return DNS_E_SHORT;
		/* Room for this label and at least the final zero. */
		if (outlen + 1 + c + 1 > DNS_MAX_NAME)
			return DNS_E_NAME_TOO_LONG;
		memcpy(out->wire + outlen, msg + pos, (size_t)c + 1);
		outlen += (size_t)c + 1;
		pos += (size_t)c + 1;
	}
	out->len = (uint8_t)outlen;
	*off = jumped ? end : pos;
	return 0;
}

/* One character of a label in text form at *p (an escape or a plain byte);
 * advances *p. -1 on a bad escape. */
static int text_char(const char **p)
{
	const char *s = *p;
	int ch;

	if (*s != '\\') {
		*p = s + 1;
		return (unsigned char)*s;
	}
	s++;
	if (s[0] >= '0' && s[0] <= '9') {
		if (!(s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9'))
			return -1;
		ch = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
		if (ch > 255)
			return -1;
		*p = s + 3;
		return ch;
	}
	if (!*s)
		return -1;
	*p = s + 1;
	return (unsigned char)*s;
}

int dns_name_from_text(const char *text, struct dns_name *out)
{
	const char *p = text;
	size_t outlen = 0;

	if (!text)
		return DNS_E_TEXT;
	if (!strcmp(text, "."))
		p = "";
	while (*p) {
		size_t lab = outlen, l = 0;

		outlen++; /* the length octet, filled in below */
		while (*p && *p != '.') {
			int ch = text_char(&p);

			if (ch < 0)
				return DNS_E_TEXT;
			if (l == DNS_MAX_LABEL)
				return DNS_E_LABEL;
			/* Keep the last octet for the root's zero. */
			if (outlen >= DNS_MAX_NAME - 1)
				return DNS_E_NAME_TOO_LONG;
			out->wire[outlen++] = (uint8_t)ch;
			l++;
		}
		if (!l)
			return DNS_E_TEXT; /* an empty label: "a..b", ".a" */
		out->wire[lab] = (uint8_t)l;
		if (*p == '.')
			p++; /* a separator, or the final dot of an absolute name */
	}
	out->wire[outlen++] = 0;
	out->len = (uint8_t)outlen;
	return 0;
}

char *dns_name_to_text(const struct dns_name *name, char *buf, size_t size)
{
	size_t o = 0, i = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	if (name->len == 0 || name->wire[0] == 0) {
		snprintf(buf, size, ".");
		return buf;
	}
	while (i < name->len && name->wire[i]) {
		size_t l = name->wire[i];

		if (l > DNS_MAX_LABEL || i + 1 + l > name->len)
			break;
		if (i && o + 1 < size)
			buf[o++] = '.';
		for (size_t k = 0; k < l; k++) {
			unsigned char c = name->wire[i + 1 + k];
			char esc[5];
			size_t n;

			if (c == '.' || c == '\\' || c == '"' || c == ';' || c == '(' || c == ')' ||
			    c == '@' || c == '$')
				n = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
			else if (c <= 0x20 || c >= 0x7f)
				n = (size_t)snprintf(esc, sizeof(esc), "\\%03u", c);
			else
				n = (size_t)snprintf(esc, sizeof(esc), "%c", c);
			if (o + n >= size)
				goto out;
			memcpy(buf + o, esc, n);
			o += n;
		}
		i += 1 + l;
	}
out:
	buf[o < size ? o : size - 1] = '\0';
	return buf;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool bytes_equal_ci(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

bool dns_name_equal(const struct dns_name *a, const struct dns_name *b)
{
	/* Length octets are below 64, never letters: case folding leaves them. */
	return a->len == b->len && bytes_equal_ci(a->wire, b->wire, a->len);
}

bool dns_name_within(const struct dns_name *name, const struct dns_name *zone)
{
	size_t i = 0;

	while (i < name->len) {
		if (name->len - i == zone->len &&
		    bytes_equal_ci(name->wire + i, zone->wire, zone->len))
			return true;
		if (!name->wire[i])
			break;
		i += 1 + (size_t)name->wire[i];
	}
	return false;
}

int dns_name_labels(const struct dns_name *name)
{
	int n = 0;

	for (size_t i = 0; i < name->len && name->wire[i]; i += 1 + (size_t)name->wire[i])
		n++;
	return n;
}

/* ---- parsing -------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int dns_header_parse(const uint8_t *msg, size_t len, struct dns_header *h)
{
	uint16_t f;

	if (len < DNS_HEADER_LEN)
		return DNS_E_SHORT;
	f = get16(msg + 2);
	h->id = get16(msg);
	h->qr = f & 0x8000;
	h->opcode = (f >> 11) & 0xF;
	h->aa = f & 0x0400;
	h->tc = f & 0x0200;
	h->rd = f & 0x0100;
	h->ra = f & 0x0080;
	h->ad = f & 0x0020;
	h->cd = f & 0x0010;
	h->rcode = f & 0xF;
	h->qdcount = get16(msg + 4);
	h->ancount = get16(msg + 6);
	h->nscount = get16(msg + 8);
	h->arcount = get16(msg + 10);
	return 0;
}

/* A name inside rdata [*off, end): read it and check it ends within. */
static int rdata_name(const uint8_t *msg, size_t end, size_t *off, struct dns_name *out)
{
	int rc = dns_name_read(msg, end, off, out);

	/* Pointers may reach before the rdata; the name's own bytes may not
	 * run past its end: reading with len = end enforces that. */
	return rc == DNS_E_SHORT ? DNS_E_RDATA : rc;
}

/* Decode and check the rdata of rr, which spans msg[off, off + rr->rdlength). */
static int rdata_parse(const uint8_t *msg, size_t off, struct dns_rr *rr)
{
	size_t end = off + rr->rdlength, p = off;
	int rc;

	switch (rr->type) {
	case DNS_T_A:
		if (rr->rdlength != 4)
			return DNS_E_RDATA;
		memcpy(rr->rd.a, msg + off, 4);
		return 0;
	case DNS_T_AAAA:
		if (rr->rdlength != 16)
			return DNS_E_RDATA;
		memcpy(rr->rd.aaaa, msg + off, 16);
		return 0;
	case DNS_T_CNAME:
	case DNS_T_NS:
	case DNS_T_PTR:
		rc = rdata_name(msg, end, &p, &rr->rd.target);
		if (rc)
			return rc;
		return p == end ? 0 : DNS_E_RDATA;
	case DNS_T_MX: {
		struct dns_name scratch;

		if (rr->rdlength < 3)
			return DNS_E_RDATA;
		p += 2;
		rc = rdata_name(msg, end, &p, &scratch);
		if (rc)
			return rc;
		return p == end ? 0 : DNS_E_RDATA;
	}
	case DNS_T_SOA:
		rc = rdata_name(msg, end, &p, &rr->rd.soa.mname);
		if (!rc)
			rc = rdata_name(msg, end, &p, &rr->rd.soa.rname);
		if (rc)
			return rc;
		if (end - p != 20)
			return DNS_E_RDATA;
		rr->rd.soa.serial = get32(msg + p);
		rr->rd.soa.refresh = get32(msg + p + 4);
		rr->rd.soa.retry = get32(msg + p + 8);
		rr->rd.soa.expire = get32(msg + p + 12);
		rr->rd.soa.minimum = get32(msg + p + 16);
		return 0;
	case DNS_T_TXT:
		/* One or more character-strings filling the rdata exactly. */
		if (!rr->rdlength)
			return DNS_E_RDATA;
		while (p < end) {
			p += 1 + (size_t)msg[p];
			if (p > end)
				return DNS_E_RDATA;
		}
		return 0;
	case DNS_T_OPT:
		/* Options: {code, length, data} filling the rdata exactly. */
		while (p < end) {
			if (end - p < 4)
				return DNS_E_RDATA;
			p += 4 + (size_t)get16(msg + p + 2);
			if (p > end)
				return DNS_E_RDATA;
		}
		rr->rd.opt.udp_size = rr->rclass;
		rr->rd.opt.ext_rcode = (uint8_t)(rr->ttl >> 24);
		rr->rd.opt.version = (uint8_t)(rr->ttl >> 16);
		rr->rd.opt.do_bit = rr->ttl & 0x8000;
		return 0;
	}
	return 0; /* unknown types stay raw */
}

int dns_parse(const uint8_t *msg, size_t len, struct dns_msg *out)
{
	size_t off = DNS_HEADER_LEN, total;
	int rc;

	memset(out, 0, offsetof(struct dns_msg, rr));
	out->nrr = out->nrr_total = 0;
	out->has_opt = false;
	memset(&out->opt, 0, sizeof(out->opt));
	rc = dns_header_parse(msg, len, &out->h);
	if (rc)
		return rc;
	for (unsigned i = 0; i < out->h.qdcount; i++) {
		struct dns_question q;

		rc = dns_name_read(msg, len, &off, &q.name);
		if (rc)
			return rc;
		if (len - off < 4)
			return DNS_E_SHORT;
		q.type = get16(msg + off);
		q.qclass = get16(msg + off + 2);
		off += 4;
		if (i == 0) {
			out->q = q;
			out->has_question = true;
		}
	}
	total = (size_t)out->h.ancount + out->h.nscount + out->h.arcount;
	for (size_t i = 0; i < total; i++) {
		struct dns_rr scratch, *rr = &scratch;

		if (out->nrr < DNS_MSG_MAX_RR)
			rr = &out->rr[out->nrr];
		if (i < out->h.ancount)
			rr->section = DNS_S_ANSWER;
		else if (i < (size_t)out->h.ancount + out->h.nscount)
			rr->section = DNS_S_AUTHORITY;
		else
			rr->section = DNS_S_ADDITIONAL;
		rc = dns_name_read(msg, len, &off, &rr->name);
		if (rc)
			return rc;
		if (len - off < 10)
			return DNS_E_SHORT;
		rr->type = get16(msg + off);
		rr->rclass = get16(msg + off + 2);
		rr->ttl = get32(msg + off + 4);
		rr->rdlength = get16(msg + off + 8);
		off += 10;
		if (len - off < rr->rdlength)
			return DNS_E_SHORT;
		rr->rdata = msg + off;
		rc = rdata_parse(msg, off, rr);
		if (rc)
			return rc;
		off += rr->rdlength;
		if (rr->type == DNS_T_OPT) {
			if (out->has_opt || rr->section != DNS_S_ADDITIONAL || rr->name.len != 1)
				return DNS_E_INVALID;
			out->has_opt = true;
			out->opt = rr->rd.opt;
		}
		out->nrr_total++;
		if (rr != &scratch)
			out->nrr++;
	}
	if (off != len)
		return DNS_E_TRAILING;
	return 0;
}

/* ---- building ------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool room(struct dns_builder *b, size_t n)
{
	if (b->err)
		return false;
	if (b->cap - b->len < n) {
		b->err = DNS_E_NOSPACE;
		return false;
	}
	return true;
}

static void emit(struct dns_builder *b, const void *p, size_t n)
{
	if (room(b, n)) {
		memcpy(b->buf + b->len, p, n);
		b->len += n;
	}
}

static void emit16(struct dns_builder *b, uint16_t v)
{
	uint8_t t[2];

	put16(t, v);
	emit(b, t, 2);
}

static void emit32(struct dns_builder *b, uint32_t v)
{
	uint8_t t[4];

	put32(t, v);
	emit(b, t, 4);
}

void dns_build_init(struct dns_builder *b, uint8_t *buf, size_t cap, const struct dns_header *h)
{
	uint16_t f;

	memset(b, 0, sizeof(*b));
	b->buf = buf;
	b->cap = cap;
	b->section = -1;
	if (cap < DNS_HEADER_LEN) {
		b->err = DNS_E_NOSPACE;
		return;
	}
	f = (uint16_t)((h->qr ? 0x8000 : 0) | ((h->opcode & 0xF) << 11) | (h->aa ? 0x0400 : 0) |
		       (h->tc ? 0x0200 : 0) | (h->rd ? 0x0100 : 0) | (h->ra ? 0x0080 : 0) |
		       (h->ad ? 0x0020 : 0) | (h->cd ? 0x0010 : 0) | (h->rcode & 0xF));
	put16(buf, h->id);
	put16(buf + 2, f);
	memset(buf + 4, 0, 8);
	b->len = DNS_HEADER_LEN;
}

/* Offset of an earlier copy of suffix (uncompressed wire form), or 0. */
static size_t find_suffix(const struct dns_builder *b, const uint8_t *suffix, size_t slen)
{
	for (size_t i = 0; i < b->nnames; i++) {
		struct dns_name cand;
		size_t off = b->names[i];

		if (dns_name_read(b->buf, b->len, &off, &cand))
			continue;
		if (cand.len == slen && bytes_equal_ci(cand.wire, suffix, slen))
			return b->names[i];
	}
	return 0;
}

/* Write name, compressed against earlier names when compress is set. */
static void emit_name(struct dns_builder *b, const struct dns_name *name, bool compress)
{
	size_t i = 0;

	if (!name->len) {
		if (!b->err)
			b->err = DNS_E_TEXT;
		return;
	}
	while (i < name->len && name->wire[i]) {
		size_t l = name->wire[i];
		size_t target = compress ? find_suffix(b, name->wire + i, name->len - i) : 0;

		if (target) {
			emit16(b, (uint16_t)(0xC000 | target));
			return;
		}
		if (l > DNS_MAX_LABEL || i + 1 + l >= name->len) {
			if (!b->err)
				b->err = DNS_E_LABEL;
			return;
		}
		/* Later names may point here (pointers reach 14 bits). */
		if (b->len < 0x4000 && b->nnames < sizeof(b->names) / sizeof(b->names[0]) &&
		    room(b, 1 + l))
			b->names[b->nnames++] = (uint16_t)b->len;
		emit(b, name->wire + i, 1 + l);
		i += 1 + l;
	}
	emit(b, "", 1);
}

int dns_build_question(struct dns_builder *b, const struct dns_name *name, uint16_t type,
		       uint16_t qclass)
{
	if (b->err)
		return b->err;
	if (b->section >= 0 || b->counts[0] == 0xFFFF)
		return b->err = DNS_E_INVALID;
	emit_name(b, name, true);
	emit16(b, type);
	emit16(b, qclass);
	if (!b->err)
		b->counts[0]++;
	return b->err;
}

int dns_build_rr(struct dns_builder *b, enum dns_section section, const struct dns_rr *rr)
{
	size_t start = b->len, rdstart;

	if (b->err)
		return b->err;
	if ((int)section < b->section || section > DNS_S_ADDITIONAL ||
	    b->counts[1 + section] == 0xFFFF)
		return b->err = DNS_E_INVALID;
	b->section = (int)section;
	emit_name(b, &rr->name, true);
	emit16(b, rr->type);
	emit16(b, rr->rclass);
	emit32(b, rr->ttl);
	emit16(b, 0); /* rdlength, patched below */
	rdstart = b->len;
	switch (rr->type) {
	case DNS_T_A:
		emit(b, rr->rd.a, 4);
		break;
	case DNS_T_AAAA:
		emit(b, rr->rd.aaaa, 16);
		break;
	case DNS_T_CNAME:
	case DNS_T_NS:
	case DNS_T_PTR:
		emit_name(b, &rr->rd.target, true);
		break;
	case DNS_T_SOA:
		emit_name(b, &rr->rd.soa.mname, true);
		emit_name(b, &rr->rd.soa.rname, true);
		emit32(b, rr->rd.soa.serial);
		emit32(b, rr->rd.soa.refresh);
		emit32(b, rr->rd.soa.retry);
		emit32(b, rr->rd.soa.expire);
		emit32(b, rr->rd.soa.minimum);
		break;
	case DNS_T_OPT:
		break; /* no options */
	default:
		if (rr->rdlength && rr->rdata)
			emit(b, rr->rdata, rr->rdlength);
		break;
	}
	if (b->err) {
		/* Leave the message as it was before this record. */
		while (b->nnames && b->names[b->nnames - 1] >= start)
			b->nnames--;
		b->len = start;
		return b->err;
	}
	put16(b->buf + rdstart - 2, (uint16_t)(b->len - rdstart));
	b->counts[1 + section]++;
	return 0;
}

int dns_build_opt(struct dns_builder *b, uint16_t udp_size)
{
	struct dns_rr rr;

	memset(&rr, 0, sizeof(rr));
	rr.name.len = 1;
	rr.type = DNS_T_OPT;
	rr.rclass = udp_size;
	return dns_build_rr(b, DNS_S_ADDITIONAL, &rr);
}

void dns_build_set_rcode(struct dns_builder *b, uint8_t rcode)
{
	if (b->cap >= DNS_HEADER_LEN)
		b->buf[3] = (uint8_t)((b->buf[3] & 0xF0) | (rcode & 0xF));
}

int dns_build_finish(struct dns_builder *b)
{
	if (b->err)
		return b->err;
	for (int i = 0; i < 4; i++)
		put16(b->buf + 4 + 2 * i, b->counts[i]);
	return (int)b->len;
}

int dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const struct dns_name *name,
		    uint16_t type, uint16_t edns_size)
{
	struct dns_header h = { .id = id, .rd = true };
	struct dns_builder b;

	dns_build_init(&b, buf, cap, &h);
	dns_build_question(&b, name, type, DNS_CLASS_IN);
	if (edns_size)
		dns_build_opt(&b, edns_size);
	return dns_build_finish(&b);
}
