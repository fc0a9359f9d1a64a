/*
 * out — records on stdout: a JSON object as one line (NDJSON), and the
 * final flush that turns a failed write into an error (exit 74).
 */
#ifndef IM_OUT_H
#define IM_OUT_H

#include <json-c/json.h>

#include "err.h"

/* print o as one line of JSON; -1 on a write error (see im_out_flush) */
int im_out_json(struct json_object *o);

/* flush stdout; 0, or IM_EIO with e set ("output closed" for EPIPE) */
int im_out_flush(struct im_err *e);

#endif
