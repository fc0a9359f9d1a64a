/*
 * mime — a media type for a file name, from its extension, for the common
 * kinds people send (documents, images, audio, video, archives, text).
 */
#ifndef IM_MIME_H
#define IM_MIME_H

/*
 * the media type for name's extension (ASCII case-insensitive), or
 * "application/octet-stream" when there is none or it is not known;
 * a static string, never NULL
 */
const char *im_mime_guess(const char *name);

#endif
