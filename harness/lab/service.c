/* The lab service table: one entry per service file in harness/lab/. To add a
 * service, write harness/lab/<name>.c exporting one `const struct lab_service`
 * and list it here (and in the lab-service injector's service choices). */
#include "lab/service.h"

#include <string.h>

extern const struct lab_service demo_api_service;
extern const struct lab_service dns_service, tls_service;

static const struct lab_service *const lab_services[] = {
	&demo_api_service,
	&dns_service, &tls_service,
	NULL,
};

const struct lab_service *lab_service_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; lab_services[i]; i++)
		if (!strcmp(lab_services[i]->name, name))
			return lab_services[i];
	return NULL;
}
