/* status, hint, giveup: talk to the running drill over its control socket. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/journal.h"
#include "drill/control.h"

static int ask(const char *req, bool json, char **reply_out, cJSON **doc_out)
{
	char dir[512];
	struct cl_error err;
	char *reply;

	if (state_dir(dir, sizeof(dir), false, &err) ||
	    control_request(dir, req, &reply, &err))
		return cli_fail(&err);
	if (json) {
		printf("%s\n", reply);
		free(reply);
		return -1;
	}
	*doc_out = cJSON_Parse(reply);
	*reply_out = reply;
	if (!*doc_out) {
		fprintf(stderr, "chaoslab: the drill sent a reply that is not JSON\n");
		free(reply);
		return CL_EXIT_USAGE;
	}
	return 0;
}

static bool parse_common(int argc, char **argv, const char *usage, const char *help, bool *json,
			 int *rc)
{
	*json = false;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s\n\n%s\n", usage, help);
			*rc = 0;
			return false;
		} else if (!strcmp(argv[i], "--json")) {
			*json = true;
		} else {
			*rc = cli_usage(usage, "%s: unexpected argument '%s'", argv[0], argv[i]);
			return false;
		}
	}
	return true;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int cmd_status(int argc, char **argv)
{
	bool json;
	int rc;
	char *reply = NULL;
	cJSON *o = NULL;
	const cJSON *it;

	if (!parse_common(argc, argv, "chaoslab status [--json]",
			  "The running drill: elapsed time, each fixed_when criterion met or not\n"
			  "with what was observed, guards, hints left.",
			  &json, &rc))
		return rc;
	rc = ask("status", json, &reply, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	int el = (int)num(o, "elapsed_seconds");
	printf("%s (%s): %s, %02d:%02d elapsed, par %.0f s, limit %.0f s\n", str(o, "scenario"),
	       str(o, "run_id"), str(o, "state"), el / 60, el % 60, num(o, "par_seconds"),
	       num(o, "time_limit_seconds"));
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "fixed_when"))
	{
		printf("  %-7s %-14s %-15s %s\n",
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "met")) ? "met" : "not met",
		       str(it, "path"), str(it, "type"), str(it, "observation"));
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, "guards"))
	{
		bool v = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "violated"));
		printf("  %-7s %-14s %-15s %s\n", v ? "VIOLATED" : "guard ok", str(it, "path"),
		       str(it, "type"), v ? str(it, "message") : str(it, "observation"));
	}
	printf("  hints: %.0f taken, %.0f left, %.0f available now", num(o, "hints_taken"),
	       num(o, "hints_left"), num(o, "hints_available"));
	if (cJSON_GetObjectItemCaseSensitive(o, "next_hint_in_seconds") && !num(o, "hints_available"))
		printf(" (next in %.0f s)", num(o, "next_hint_in_seconds"));
	printf("\n");
	cJSON_Delete(o);
	free(reply);
	return 0;
}

int cmd_hint(int argc, char **argv)
{
	bool json;
	int rc;
	char *reply = NULL;
	cJSON *o = NULL;

	if (!parse_common(argc, argv, "chaoslab hint [--json]",
			  "Take the running drill's next hint; its penalty is recorded.", &json, &rc))
		return rc;
	rc = ask("hint", json, &reply, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (str(o, "error")[0]) {
		printf("%s\n", str(o, "error"));
		rc = 1;
	} else {
		printf("hint %.0f/%.0f (-%.0f): %s\n", num(o, "hint"), num(o, "of"), num(o, "penalty"),
		       str(o, "text"));
	}
	cJSON_Delete(o);
	free(reply);
	return rc;
}

int cmd_giveup(int argc, char **argv)
{
	bool json;
	int rc;
	char *reply = NULL;
	cJSON *o = NULL;

	if (!parse_common(argc, argv, "chaoslab giveup [--json]",
			  "End the running drill as given up: it reverts and scores partial credit.",
			  &json, &rc))
		return rc;
	rc = ask("giveup", json, &reply, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	printf("gave up: the drill is reverting\n");
	cJSON_Delete(o);
	free(reply);
	return 0;
}
