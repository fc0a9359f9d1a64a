/* names — the one definition of a valid user or group name */
#include <string.h>

#include "names.h"

static int
ok(char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return 1;
	return !first && (c == '.' || c == '_' || c == '-');
}

int
im_name_valid(const char *s)
{
	size_t i, n;

	if (!s || (n = strlen(s)) == 0 || n > IM_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!ok(s[i], i == 0))
			return 0;
	return 1;
}
