#include "core/undo_bytes.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void undo_bytes_sha256(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

char *undo_bytes_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc(2 * len + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * len] = '\0';
	return out;
}

char *undo_bytes_decode(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	char *out;

	if (n % 2 || !(out = malloc(n / 2 + 1)))
		return NULL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1) {
			free(out);
			return NULL;
		}
		out[i] = (char)b;
	}
	out[n / 2] = '\0';
	*len = n / 2;
	return out;
}
