#include "cli/support.h"

#include <stdio.h>

static int step_supported(const struct step *st, char *why, size_t size)
{
	char reason[256] = "";
	int (*fn)(const struct params *, char *, size_t) =
		st->injector ? st->injector->supported : st->verifier->supported;

	if (!fn || fn(&st->params, reason, sizeof(reason)) == 0)
		return 0;
	snprintf(why, size, "%s (%s): %s", st->path, st->type,
		 reason[0] ? reason : "not supported here");
	return -1;
}

int scenario_supported(const struct scenario *s, char *why, size_t size)
{
	const struct step *secs[] = { s->inject, s->symptoms, s->fixed_when, s->guards };
	size_t counts[] = { s->ninject, s->nsymptoms, s->nfixed_when, s->nguards };

	for (size_t k = 0; k < 4; k++)
		for (size_t i = 0; i < counts[k]; i++)
			if (step_supported(&secs[k][i], why, size))
				return -1;
	return 0;
}
