/*
 * hook — imrecv --exec: run the user's command through /bin/sh -c for one
 * message (or event), with the fields in the environment and the raw text
 * on its stdin. The text is never put into the command line.
 *
 * Environment (absent fields are set to the empty string):
 *   IM_ID IM_TIME IM_FROM IM_TO IM_GROUP IM_KIND IM_TEXT
 *   IM_FILE (the attachment's id) IM_FILE_NAME (as the sender named it;
 *   never use it as a path) IM_FILE_SIZE IM_FILE_TYPE IM_FILE_PATH (where
 *   --save put it) IM_DURATION (voice, seconds)
 *   IM_EVENT IM_EVENT_USER IM_EVENT_ROLE (events: "joined", whom, role)
 * IM_USER is left alone: it names the user imsend acts as.
 */
#ifndef IM_HOOK_H
#define IM_HOOK_H

#include <json-c/json.h>

#include "err.h"

/*
 * Run cmd for msg and wait for it (at most timeout seconds when > 0, then
 * it is killed). 0 when it exited 0; otherwise IM_ETEMP with e saying how
 * it ended (exit status, signal, time limit).
 */
int im_hook_run(const char *cmd, struct json_object *msg, double timeout, struct im_err *e);

#endif
