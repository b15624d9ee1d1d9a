/* The latest scores in the Prometheus text exposition format, for the
 * node_exporter textfile collector (day-24 alerting practice):
 *
 *   chaoslab_drill_score{scenario,skill}            latest counted score
 *   chaoslab_drill_hints_used{scenario}             hints in that attempt
 *   chaoslab_drill_time_to_fix_seconds{scenario}    when it was fixed
 *   chaoslab_drill_par_seconds{scenario}
 *   chaoslab_drill_last_attempt_timestamp_seconds{scenario}
 *   chaoslab_drill_attempts_total{scenario}         counted attempts
 *   chaoslab_skill_weakness{skill}                  gaps.h's W, every skill
 *   chaoslab_skill_gap_rank{skill}                  1..5 for the gaps list
 *   chaoslab_results_unreadable_files               files skipped
 *   chaoslab_textfile_generated_timestamp_seconds
 *
 * Only counted attempts (history.h) feed the drill metrics. Each family has
 * its HELP and TYPE lines before its samples, label values are escaped
 * (backslash, double quote, newline), series are sorted and unique. */
#ifndef CHAOSLAB_PROM_H
#define CHAOSLAB_PROM_H

#include <stdio.h>
#include <time.h>

#include "drill/gaps.h"

/* Write the exposition to out. Returns 0, or -1 when out fails. */
int prom_write(FILE *out, const struct history *h, const struct gaps *g, time_t now);

/* Write s as a label value (without the quotes), escaped. */
void prom_label_value(FILE *out, const char *s);

#endif
