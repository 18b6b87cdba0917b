/*
 * Fuzz target for the package databases an image holds: dpkg's status file and apk's
 * installed database.  Parsing never crashes; every package kept has a name.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/cleanup.h"
#include "check/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int apk = 0; apk < 2; apk++) {
		_cleanup_error_ struct plate_error *err = NULL;
		struct check_packages p;
		int r = apk ? check_apk_installed_parse((const char *)data, size, &p, &err)
			    : check_dpkg_status_parse((const char *)data, size, &p, &err);
		if (r < 0) {
			if (err == NULL)
				abort();
			continue;
		}
		for (size_t i = 0; i < p.n; i++)
			if (p.v[i].name == NULL || p.v[i].name[0] == '\0')
				abort();
		check_packages_release(&p);
	}
	return 0;
}
