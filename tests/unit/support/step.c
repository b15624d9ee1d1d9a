#include "support/step.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "core/doc.h"

int test_params_parse(struct params *p, const struct param_spec *spec, const char *with,
		      struct cl_error *err)
{
	struct doc_node *d = doc_parse_json("test.json", with, strlen(with), err);
	int rc;

	if (!d)
		return -1;
	rc = params_from_doc(p, spec, d, "test.json", NULL, "inject[0].with", err);
	doc_free(d);
	return rc;
}

int test_step_apply(struct test_step *s, const char *type, const char *run, const char *id,
		    const char *state_dir, const char *with, struct cl_error *err)
{
	char msg[512] = "";

	memset(s, 0, sizeof(*s));
	s->in = injector_find(type);
	if (!s->in)
		fail_msg("no injector '%s'", type);
	snprintf(s->run, sizeof(s->run), "%s", run);
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->state, sizeof(s->state), "%s", state_dir ? state_dir : "/nonexistent");
	s->undo = cJSON_CreateObject();
	assert_non_null(s->undo);
	cJSON_AddStringToObject(s->undo, "run", s->run);
	cJSON_AddStringToObject(s->undo, "step", s->id);
	cl_error_clear(err);
	if (test_params_parse(&s->params, s->in->params, with, err))
		return -1;
	if (s->in->validate && s->in->validate(&s->params, msg, sizeof(msg)))
		return cl_error_set(err, CL_EXIT_USAGE, "%s", msg);
	s->ctx = (struct inject_ctx){ .run_id = s->run,
				      .step_id = s->id,
				      .state_dir = s->state,
				      .params = &s->params,
				      .undo = s->undo };
	return s->in->apply(&s->ctx, err);
}

int test_step_revert(struct test_step *s, char *report, size_t size, struct cl_error *err)
{
	struct revert_ctx rc = {
		.run_id = s->run, .step_id = s->id, .state_dir = s->state, .undo = s->undo
	};
	int r;

	cl_error_clear(err);
	r = s->in->revert(&rc, err);
	if (report && size)
		snprintf(report, size, "%s", rc.report);
	return r;
}

void test_step_free(struct test_step *s)
{
	params_release(&s->params);
	cJSON_Delete(s->undo);
	s->undo = NULL;
}

int test_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

const char *test_capture(char *buf, size_t size, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	size_t n;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	buf[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return buf;
	n = fread(buf, 1, size - 1, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}
