/*
 * notify — desktop notifications through notify-send(1) (libnotify-bin),
 * run with execvp, never through a shell. The body is plain text made
 * safe for the notification server's markup (& < > as entities).
 */
#ifndef IM_NOTIFY_H
#define IM_NOTIFY_H

#include <json-c/json.h>

#include "err.h"

#define IM_NOTIFY_PROG "notify-send"

/* 1 when prog is an executable file in a directory of $PATH */
int im_notify_available(const char *prog);

/* title ("alice", "alice in #ops") and body ("hi", "sent report.pdf") for msg */
int im_notify_text(struct json_object *msg, char **title, char **body);

/*
 * Raise one notification for msg (waits at most 10 s for notify-send).
 * 0, or an error code with e saying how notify-send failed.
 */
int im_notify(struct json_object *msg, int quiet, struct im_err *e);

#endif
