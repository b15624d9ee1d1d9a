#include "cli/support.h"

#include <stdio.h>
#include <string.h>

static int step_supported(const struct step *st, char *why, size_t size)
{
	char reason[512] = "";
	int (*fn)(const struct params *, char *, size_t) =
		st->injector ? st->injector->supported : st->verifier->supported;

	if (!fn || fn(&st->params, reason, sizeof(reason)) == 0)
		return 0;
	snprintf(why, size, "%s (%s): %s", st->path, st->type,
		 reason[0] ? reason : "not supported here");
	return -1;
}

/* The lab a scenario asks for: the network (lab-network injector) and each
 * service (lab-service injector) must be able to run here too. */
static int lab_supported(const struct scenario *s, char *why, size_t size)
{
	char reason[512] = "";

	for (size_t i = 0; i < s->lab.n; i++) {
		bool net = !strcmp(s->lab.v[i], "network");
		const struct injector *in = injector_find(net ? "lab-network" : "lab-service");

		if (!in) {
			snprintf(why, size, "lab %s: not in this build", s->lab.v[i]);
			return -1;
		}
		if (in->supported && in->supported(NULL, reason, sizeof(reason))) {
			snprintf(why, size, "lab %s: %s", s->lab.v[i],
				 reason[0] ? reason : "not supported here");
			return -1;
		}
	}
	return 0;
}

int scenario_supported(const struct scenario *s, char *why, size_t size)
{
	if (lab_supported(s, why, size))
		return -1;
	const struct step *secs[] = { s->inject, s->symptoms, s->fixed_when, s->guards };
	size_t counts[] = { s->ninject, s->nsymptoms, s->nfixed_when, s->nguards };

	for (size_t k = 0; k < 4; k++)
		for (size_t i = 0; i < counts[k]; i++)
			if (step_supported(&secs[k][i], why, size))
				return -1;
	return 0;
}
