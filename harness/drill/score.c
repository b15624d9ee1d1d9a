#include "drill/score.h"

#include <math.h>

struct score score_compute(const struct scoring *tuning, int par_seconds,
			   const struct score_input *in)
{
	struct score s = { 0 };
	double total;

	s.hint_penalty = in->hint_penalty;
	s.guard_penalty = in->guard_penalty;
	if (in->fixed) {
		double over = in->seconds - par_seconds;
		double span = (tuning->time_penalty_at - 1.0) * par_seconds;

		s.base = 100;
		if (over > 0 && span > 0)
			s.time_penalty = fmin(tuning->max_time_penalty,
					      tuning->max_time_penalty * over / span);
		total = s.base - s.time_penalty - s.hint_penalty - s.guard_penalty;
	} else {
		double frac = in->total_weight > 0 ? in->met_weight / in->total_weight : 0;
		s.base = tuning->partial_max * frac;
		total = s.base - s.guard_penalty;
	}
	total = round(total);
	s.total = total < 0 ? 0 : total > 100 ? 100 : (int)total;
	return s;
}
