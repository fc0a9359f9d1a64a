/* out — JSON lines and write errors on stdout */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "out.h"

int
im_out_json(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return printf("%s\n", s) < 0 ? -1 : 0;
}

int
im_out_flush(struct im_err *e)
{
	if (fflush(stdout) != EOF && !ferror(stdout))
		return 0;
	if (errno == EPIPE)
		return im_err_set(e, IM_EIO, "output closed");
	return im_err_set(e, IM_EIO, "cannot write output: %s", strerror(errno));
}
