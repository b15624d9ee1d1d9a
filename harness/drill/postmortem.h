/* A postmortem draft for one drill run, in Markdown: summary, impact,
 * timeline (from the result's events), root cause (the engineer's note,
 * next to the runbook's), fix, prevention (the runbook's Prevention
 * section) and what to practise. A draft to edit, not a verdict. */
#ifndef CHAOSLAB_POSTMORTEM_H
#define CHAOSLAB_POSTMORTEM_H

#include <stdio.h>

#include "drill/history.h"

/* Write the draft for attempt a to out. d (may be NULL) is a's drill in the
 * catalog: the briefing, the hint texts, the reference solution and the
 * runbook come from it; without it the runbook recorded in the result is
 * looked for in the catalog's root. Returns 0, or -1 when out fails. */
int postmortem_write(FILE *out, const struct attempt *a, const struct catalog_drill *d);

/* "mm:ss" (or "h:mm:ss") of secs, "-mm:ss" when negative, into buf. */
const char *postmortem_clock(double secs, char *buf, size_t size);

#endif
