/* The DNS wire codec (RFC 1035, 3596, 6891): bounds-checked parsing and
 * building of messages, shared by the lab DNS server, the bad-resolver
 * injector and the dns-resolve verifier.
 *
 * Parsing never reads outside the message it is given and never allocates:
 * the caller owns every buffer. A name is followed through compression
 * pointers only backwards (each pointer must point before itself, and after
 * the header), so a pointer loop cannot exist; at most DNS_MAX_POINTERS
 * pointers are followed and a name longer than 255 octets on the wire is an
 * error. Records of types the codec does not know are kept as raw rdata.
 *
 * Names are held uncompressed in wire form (struct dns_name) and converted to
 * text on demand, in the presentation form dig uses ("api.lab.test", "." for
 * the root; a dot or backslash inside a label is escaped with a backslash and
 * other bytes outside printable ASCII as \DDD). Comparisons ignore ASCII case.
 *
 * Errors are negative DNS_E_* codes; dns_strerror() names them. */
#ifndef CHAOSLAB_DNS_H
#define CHAOSLAB_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_LEN 12
#define DNS_MAX_NAME 255 /* octets on the wire, length bytes included */
#define DNS_MAX_LABEL 63
#define DNS_MAX_POINTERS 64    /* compression pointers followed per name */
#define DNS_NAME_TEXT_MAX 1024 /* presentation form, worst case escaped, + NUL */
#define DNS_UDP_MIN 512	       /* the classic UDP payload limit */
#define DNS_MAX_MSG 65535      /* a TCP message (2-byte length prefix) */
#define DNS_MSG_MAX_RR \
	32 /* records dns_parse() keeps; more are checked
				 * and counted but not stored */

enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_OPT = 41,
	DNS_T_ANY = 255,
};

enum { DNS_CLASS_IN = 1 };

enum dns_rcode {
	DNS_R_NOERROR = 0,
	DNS_R_FORMERR = 1,
	DNS_R_SERVFAIL = 2,
	DNS_R_NXDOMAIN = 3,
	DNS_R_NOTIMP = 4,
	DNS_R_REFUSED = 5,
};

enum dns_opcode { DNS_OP_QUERY = 0 };

enum dns_section { DNS_S_ANSWER = 0, DNS_S_AUTHORITY = 1, DNS_S_ADDITIONAL = 2 };

enum dns_err {
	DNS_OK = 0,
	DNS_E_SHORT = -1,	  /* the message ends inside a field */
	DNS_E_LABEL = -2,	  /* a label longer than 63, or a reserved label type */
	DNS_E_NAME_TOO_LONG = -3, /* a name longer than 255 octets */
	DNS_E_POINTER = -4,	  /* a compression pointer forward, into the header,
				    * onto itself, or too many of them */
	DNS_E_RDATA = -5,	  /* rdata whose length does not fit its type */
	DNS_E_TRAILING = -6,	  /* bytes after the last record */
	DNS_E_NOSPACE = -7,	  /* building: the buffer is full */
	DNS_E_TEXT = -8,	  /* a name in text form that is not a valid name */
	DNS_E_INVALID = -9,	  /* a message no server should send or accept
				    * (more than one OPT, OPT outside additional) */
};

/* The fixed 12-byte header, unpacked. */
struct dns_header {
	uint16_t id;
	bool qr;		     /* a response */
	uint8_t opcode;		     /* 4 bits */
	bool aa, tc, rd, ra, ad, cd; /* authoritative, truncated, recursion
				      * desired/available, authentic, checking
				      * disabled */
	uint8_t rcode;		     /* low 4 bits (EDNS extends it) */
	uint16_t qdcount, ancount, nscount, arcount;
};

/* A domain name in uncompressed wire form: length-prefixed labels ending with
 * the root's zero octet. len counts every octet (1 for the root). */
struct dns_name {
	uint8_t len;
	uint8_t wire[DNS_MAX_NAME];
};

struct dns_question {
	struct dns_name name;
	uint16_t type, qclass;
};

struct dns_soa {
	struct dns_name mname, rname;
	uint32_t serial, refresh, retry, expire, minimum;
};

/* EDNS0 (the OPT pseudo-record): its class is the requester's UDP payload
 * size, its TTL the extended rcode, version and flags. */
struct dns_opt {
	uint16_t udp_size;
	uint8_t ext_rcode, version;
	bool do_bit;
};

struct dns_rr {
	enum dns_section section;
	struct dns_name name;
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlength;
	const uint8_t *rdata; /* into the parsed message (raw, any type) */
	union {
		uint8_t a[4];
		uint8_t aaaa[16];
		struct dns_name target; /* CNAME, NS, PTR */
		struct dns_soa soa;
		struct dns_opt opt;
	} rd;
};

/* A whole message. Only the first question is stored (qdcount may be 0). */
struct dns_msg {
	struct dns_header h;
	bool has_question;
	struct dns_question q;
	struct dns_rr rr[DNS_MSG_MAX_RR]; /* all sections, in message order */
	size_t nrr;			  /* stored */
	size_t nrr_total;		  /* in the message */
	bool has_opt;
	struct dns_opt opt; /* when has_opt */
};

/* The message's name for code ("name ends inside the message"). */
const char *dns_strerror(int code);

/* "NOERROR", "SERVFAIL", ... ; "RCODE17" for others (static or buf). */
const char *dns_rcode_name(int rcode, char *buf, size_t size);

/* "A", "AAAA", ...; "TYPE99" for others. */
const char *dns_type_name(int type, char *buf, size_t size);

/* ---- names ---------------------------------------------------------------- */

/* Read the (possibly compressed) name at *off in msg[0..len) into out and
 * advance *off past it (past the first pointer when compressed). 0 or a
 * DNS_E_* code; out is undefined on error. */
int dns_name_read(const uint8_t *msg, size_t len, size_t *off, struct dns_name *out);

/* Parse text ("api.lab.test", "api.lab.test.", "." or "" for the root;
 * \. \\ and \DDD escapes) into out. 0 or DNS_E_TEXT / DNS_E_NAME_TOO_LONG /
 * DNS_E_LABEL. */
int dns_name_from_text(const char *text, struct dns_name *out);

/* Presentation form into buf without the final dot ("." for the root).
 * buf should hold DNS_NAME_TEXT_MAX bytes; shorter is cut (NUL-terminated).
 * Returns buf. */
char *dns_name_to_text(const struct dns_name *name, char *buf, size_t size);

/* True if a and b are the same name, ignoring ASCII case. */
bool dns_name_equal(const struct dns_name *a, const struct dns_name *b);

/* True if name is zone or below it (api.lab.test is within lab.test). */
bool dns_name_within(const struct dns_name *name, const struct dns_name *zone);

/* Number of labels (0 for the root). */
int dns_name_labels(const struct dns_name *name);

/* ---- parsing -------------------------------------------------------------- */

/* Unpack the header of msg. 0 or DNS_E_SHORT. */
int dns_header_parse(const uint8_t *msg, size_t len, struct dns_header *h);

/* Parse a whole message: header, every question, every record of the three
 * sections (each checked; the first DNS_MSG_MAX_RR stored), nothing after.
 * Known rdata is decoded and checked (A is 4 octets, a CNAME target a valid
 * name that ends exactly at the rdata's end...). At most one OPT record, only
 * in the additional section, whose owner is the root. 0 or a DNS_E_* code. */
int dns_parse(const uint8_t *msg, size_t len, struct dns_msg *out);

/* ---- building ------------------------------------------------------------- */

/* A message under construction in a caller-owned buffer. The first error
 * sticks: later calls do nothing and dns_build_finish() returns it. Names are
 * compressed against those already written. */
struct dns_builder {
	uint8_t *buf;
	size_t cap, len;
	int err;
	uint16_t counts[4]; /* qd, an, ns, ar */
	int section;	    /* highest section written, for ordering */
	uint16_t names[64]; /* offsets of names written, for compression */
	size_t nnames;
};

/* Start a message with header h (its counts are ignored: the builder counts).
 * cap below DNS_HEADER_LEN makes the builder fail with DNS_E_NOSPACE. */
void dns_build_init(struct dns_builder *b, uint8_t *buf, size_t cap, const struct dns_header *h);

/* Append a question. Questions come before any record. */
int dns_build_question(struct dns_builder *b, const struct dns_name *name, uint16_t type,
		       uint16_t qclass);

/* Append a record to section. Sections must come in order (answer,
 * authority, additional). rdata is taken from rr->rd for A, AAAA, CNAME, NS,
 * PTR, SOA and OPT (names compressed where RFC 3597 allows: CNAME, NS, PTR,
 * SOA), else from rr->rdata/rr->rdlength verbatim. */
int dns_build_rr(struct dns_builder *b, enum dns_section section, const struct dns_rr *rr);

/* Append an EDNS0 OPT record to the additional section announcing udp_size. */
int dns_build_opt(struct dns_builder *b, uint16_t udp_size);

/* Change the header's rcode (its low 4 bits) of the message being built:
 * whether a name exists is often known only once its records are written. */
void dns_build_set_rcode(struct dns_builder *b, uint8_t rcode);

/* Write the counts into the header. Returns the message length, or the first
 * error (negative). */
int dns_build_finish(struct dns_builder *b);

/* Convenience: a query for name/type with id and RD set, optionally with an
 * EDNS0 OPT (edns_size > 0). Returns the length or a DNS_E_* code. */
int dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const struct dns_name *name,
		    uint16_t type, uint16_t edns_size);

#endif
