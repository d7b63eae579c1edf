/* fuzz_prom.c — metric-check's reader of Prometheus API answers
 * (tools/metric-check/prom.c, built in here): never undefined behaviour or
 * a leak; a parsed answer holds what its type promises, within the bounds. */
#include "fuzz.h"
#include "../../tools/metric-check/prom.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prom_answer a;
	char err[256];
	if (prom_parse((const char *)data, size, &a, err, sizeof err) == 0) {
		FUZZ_CHECK(a.success || (a.error_type && a.error));
		FUZZ_CHECK(!a.success || a.type != PROM_NONE);
		FUZZ_CHECK(a.n_series <= PROM_MAX_SERIES);
		FUZZ_CHECK(a.type != PROM_STRING || a.string_value);
		size_t samples = 0;
		for (size_t i = 0; i < a.n_series; i++) {
			FUZZ_CHECK(a.series[i].labels && a.series[i].label_text);
			FUZZ_CHECK(a.type == PROM_MATRIX || a.series[i].n == 1);
			samples += a.series[i].n;
		}
		FUZZ_CHECK(a.type != PROM_MATRIX || samples <= PROM_MAX_SAMPLES);
		(void)prom_type_name(a.type);
		prom_answer_free(&a);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	return 0;
}
