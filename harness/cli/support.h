/* Whether a loaded scenario can run on this machine: every step's supported()
 * and the privileges its injectors need. Shared by list, show and drill. */
#ifndef CHAOSLAB_CLI_SUPPORT_H
#define CHAOSLAB_CLI_SUPPORT_H

#include <stddef.h>

#include "core/scenario.h"

/* 0 if supported; else -1 with why ("inject[0] (cpu-burner): needs root"). */
int scenario_supported(const struct scenario *s, char *why, size_t size);

#endif
