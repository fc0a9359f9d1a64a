/*
 * files — attachments: upload a file (streamed from disk, with progress),
 * send a message that carries one, and download one (checking its hash).
 */
#ifndef IM_FILES_H
#define IM_FILES_H

#include <json-c/json.h>

#include "client.h"

/*
 * POST /v1/files the file at path, as name (NULL: the path's base name) of
 * media type type (NULL: guessed from the name, else
 * application/octet-stream). *file is the answer {"id","name","size",
 * "sha256","type"}; the caller puts it.
 */
int im_api_upload(struct im_client *c, const char *path, const char *name, const char *type,
    im_progress_fn progress, void *arg, struct json_object **file, struct im_err *e);

/*
 * A message carrying an uploaded file: kind "file" or "voice" (duration in
 * seconds, > 0 for voice), to a user or, with group set, a group; caption
 * may be NULL; key is the Idempotency-Key. *msg is the stored message.
 */
int im_api_send_file(struct im_client *c, const char *to, int group, const char *kind,
    const char *file_id, const char *caption, double duration, const char *key,
    struct json_object **msg, struct im_err *e);

/*
 * GET /v1/files/ID into fd; when sha256 (hex) is given the bytes must hash
 * to it, else an error (EX_DATAERR) and the caller discards what was written.
 */
int im_api_download(struct im_client *c, const char *id, int fd, const char *sha256,
    im_progress_fn progress, void *arg, struct im_err *e);

#endif
