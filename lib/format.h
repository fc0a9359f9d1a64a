/*
 * format — imrecv's output lines: the default one and --format.
 *
 *   %i id   %t time   %f from   %T to   %g group   %k kind   %m text
 *   %F file name   %S file size (bytes)   %I file id   %d duration (voice)
 *   %P where --save saved the file   %e event   %u the event's user
 *   %M the message as the default line shows it (text, attachment, event)
 *   %% %   \t tab  \n newline  \\ backslash
 *
 * Every field is escaped (see escape.h), so %m never spans two lines.
 * Absent fields (%T of a group message, %g of a direct one, %F of a text)
 * are empty.
 */
#ifndef IM_FORMAT_H
#define IM_FORMAT_H

#include <json-c/json.h>

#include "buf.h"
#include "err.h"
#include "msgview.h"

/*
 * What the default line of a direct text message is; the default output
 * (im_format_default) adds the group, attachments and events.
 */
#define IM_FORMAT_DEFAULT "%t %f: %m"

/* 0 if fmt is well formed, else IM_EUSAGE with e saying what is wrong */
int im_format_check(const char *fmt, struct im_err *e);

/* append m formatted by fmt (checked before) to out, without newline; -1 ENOMEM */
int im_format(struct im_buf *out, const char *fmt, const struct im_msgv *m);

/*
 * The default line, without newline; -1 ENOMEM:
 *   TIME alice: text                          a direct message
 *   TIME #ops alice: text                     a group message
 *   TIME alice: [file report.pdf 12.1 KiB] caption
 *   TIME alice: [voice 3.2 s]
 *   TIME #ops * alice added carol (admin)     an event
 * With a "saved" field (imrecv --save adds it) the attachment reads
 * [file report.pdf 12.1 KiB, saved as DIR/report.pdf].
 */
int im_format_default(struct im_buf *out, const struct im_msgv *m);

/* %M alone: the text, attachment or event as the default line shows it */
int im_format_body(struct im_buf *out, const struct im_msgv *m);

/* "12.1 KiB": bytes for people (B, KiB, MiB, GiB, TiB; one decimal past B) */
void im_human_size(long long bytes, char *out, size_t len);

/* the string value of field key in msg, or "" (numbers as decimal) */
const char *im_msg_field(struct json_object *msg, const char *key, char *tmp, size_t tmplen);

/* im_msg_field with buffers of its own: a result lasts seven more calls */
const char *im_field(struct json_object *obj, const char *key);

/* field key of msg's "file" object, or "" */
const char *im_file_field(struct json_object *msg, const char *key, char *tmp, size_t tmplen);

#endif
