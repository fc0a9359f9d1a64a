/*
 * format — imrecv's --format: placeholders replaced by message fields.
 *
 *   %i id   %t time   %f from   %T to   %g group   %k kind   %m text   %% %
 *   \t tab  \n newline  \\ backslash
 *
 * Every field is escaped (see escape.h), so %m never spans two lines.
 * Absent fields (%T of a group message, %g of a direct one) are empty.
 */
#ifndef IM_FORMAT_H
#define IM_FORMAT_H

#include <json-c/json.h>

#include "buf.h"
#include "err.h"

#define IM_FORMAT_DEFAULT "%t %f: %m"

/* 0 if fmt is well formed, else IM_EUSAGE with e saying what is wrong */
int im_format_check(const char *fmt, struct im_err *e);

/* append msg formatted by fmt (checked before) to out, without newline; -1 ENOMEM */
int im_format(struct im_buf *out, const char *fmt, struct json_object *msg);

/* the string value of field key in msg, or "" (numbers as decimal) */
const char *im_msg_field(struct json_object *msg, const char *key, char *tmp, size_t tmplen);

#endif
