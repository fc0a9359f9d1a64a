/*
 * hook — imrecv --exec: run the user's command through /bin/sh -c for one
 * message, with the fields in the environment (IM_ID IM_TIME IM_FROM IM_TO
 * IM_GROUP IM_KIND IM_TEXT IM_FILE; absent ones empty) and the raw text on
 * its stdin. The text is never put into the command line.
 */
#ifndef IM_HOOK_H
#define IM_HOOK_H

#include <json-c/json.h>

#include "err.h"

/*
 * Run cmd for msg and wait for it. 0 when it exited 0; otherwise IM_ETEMP
 * with e saying how it ended (exit status or signal).
 */
int im_hook_run(const char *cmd, struct json_object *msg, struct im_err *e);

#endif
