/* fuzz_redact.c — secret redaction: registered secrets and URL passwords
 * masked in any text. Never undefined behaviour; no registered secret
 * survives redact_string(). */
#include "fuzz.h"
#include "shipshape/redact.h"

static const char *const secrets[] = {"S3cretPassw0rd", "xoxb-123-456", "p@ss:w/rd%20"};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
		redact_register(secrets[i]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_string(data, size);
	char *r = redact_string(s);
	FUZZ_CHECK(r != NULL);
	for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
		FUZZ_CHECK(strstr(r, secrets[i]) == NULL);
	free(r);
	char *u = redact_url(s);
	free(u);
	char *h = url_host(s);
	free(h);
	(void)redact_key_looks_secret(s);
	free(s);
	return 0;
}
