/*
 * fuzz_http — bytes from a client to imd's answer: http.c (http-parser,
 * limits), api*.c (routing, auth, JSON validation, groups, uploads,
 * streams), store.c on a real SQLite file. See fz_imd.c for the fake
 * connection. An input is what one connection sends, keep-alive and
 * pipelining included; it arrives in one to three pieces, cut where a
 * hash of the input says, so split headers and bodies are tried too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_imd.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int show;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	show = getenv("FZ_SHOW") != NULL;
	return fz_imd_init();
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t h = fnv1a(data, size);
	size_t cuts[2], ncuts = h % 3;

	cuts[0] = (h >> 4) % (size + 1);
	cuts[1] = (h >> 18) % (size + 1);
	if (cuts[0] > cuts[1]) {
		size_t t = cuts[0];

		cuts[0] = cuts[1];
		cuts[1] = t;
	}
	if (ncuts == 1)
		cuts[0] = cuts[1];
	fz_imd_restore(memmem(data, size, "password", 8) != NULL);
	fz_imd_session(data, size, cuts, ncuts);
	if (show) {
		size_t n;
		const char *out = fz_imd_output(&n);

		fprintf(stderr, "---- %zu piece(s); answer:\n%.*s\n----\n", ncuts + 1, (int)n, out);
	}
	return 0;
}
