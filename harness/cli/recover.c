#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/journal.h"

static const char recover_usage[] = "chaoslab recover";

int cmd_recover(int argc, char **argv)
{
	char dir[512];
	struct cl_error err;
	struct run_lock lk;
	struct recover_report rep;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			printf("usage: %s\n\nReplay a dead run's journal: undo every change it made that\n"
			       "is still ours (pid + start time + boot id, reserved handles, file\n"
			       "contents), report what was undone, remove the journal. Safe to run\n"
			       "any number of times. State directory: $CHAOSLAB_STATE, else\n"
			       "/var/lib/chaoslab (root) or $XDG_STATE_HOME/chaoslab.\n",
			       recover_usage);
			return 0;
		}
		return cli_usage(recover_usage, "recover: unexpected argument '%s'", argv[i]);
	}
	if (state_dir(dir, sizeof(dir), true, &err))
		return cli_fail(&err);
	if (run_lock_acquire(dir, &lk, NULL, &err))
		return cli_fail(&err);
	rc = journal_recover(dir, &rep, &err);
	run_lock_release(&lk);
	if (!rep.found && rc == 0) {
		printf("nothing to recover\n");
		return 0;
	}
	if (rep.found) {
		printf("recovering run %s (%s)%s:\n", rep.run_id[0] ? rep.run_id : "?",
		       rep.scenario[0] ? rep.scenario : "?",
		       rep.torn ? ", a torn last record was ignored" : "");
		fputs(rep.text[0] ? rep.text : "  no step had been started\n", stdout);
	}
	if (rc)
		return cli_fail(&err);
	printf("recovered: %zu step(s) reverted, journal removed\n", rep.reverted);
	return 0;
}
