/* wire — the one definition of a valid name and a valid idempotency key */
#include <string.h>

#include "wire.h"

static int
name_char(char c, int first)
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
		if (!name_char(s[i], i == 0))
			return 0;
	return 1;
}

/* printable ASCII without blanks: a header value and a JSON string alike */
int
im_key_valid(const char *s)
{
	size_t i;

	if (!s)
		return 0;
	for (i = 0; s[i]; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || i >= IM_KEY_MAX)
			return 0;
	return i > 0;
}
