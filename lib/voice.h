/*
 * voice — the audio of voice messages, through libsox (every libsox call of
 * im is in voice.c): record from the default input device, or read a file
 * or stdin, and encode it as Ogg Vorbis, mono, 16 kHz; play a received one
 * on the default output device, or save it to a file.
 *
 * Temporary files (the encoded clip, stdin spooled to disk, a download) are
 * private (0600) and are removed by the caller, or on SIGINT, SIGTERM or
 * SIGHUP before the program dies of the signal. While im_voice_record
 * records from a device, the first SIGINT only ends the recording.
 */
#ifndef IM_VOICE_H
#define IM_VOICE_H

#include <limits.h>

#include "err.h"

#ifndef IM_ENOINPUT
#define IM_ENOINPUT	66	/* EX_NOINPUT: an input file is missing or unreadable */
#endif

#define IM_VOICE_RATE	16000	/* Hz: enough for speech */
#define IM_VOICE_QUALITY 1	/* Vorbis quality (-1..10): about 32 kbit/s at 16 kHz mono */
#define IM_VOICE_MAX	3600.0	/* seconds: the server's limit */
#define IM_VOICE_MIN	0.1	/* seconds: anything shorter is an empty recording */
#define IM_VOICE_TYPE	"audio/ogg"

/* told when the input device is open and recording starts */
typedef void (*im_voice_start_fn)(void *arg, const char *driver, const char *device);

struct im_voice_in {
	const char *input;	/* NULL: the default input device; "-": stdin; else a file */
	const char *type;	/* the input's sox file type, NULL: tell from its content */
	double seconds;		/* keep at most this much (0: until Ctrl-C or the end, <= IM_VOICE_MAX) */
	im_voice_start_fn started;	/* may be NULL */
	void *arg;
};

struct im_voice_clip {
	char path[PATH_MAX];	/* the Ogg Vorbis file (temporary), "" when none */
	double duration;	/* seconds, from the samples encoded */
	long long size;		/* bytes */
	int stopped;		/* a recording ended by SIGINT (not by -t or the input's end) */
};

/*
 * Record (or read) and encode in->input into clip->path. Fails, leaving no
 * file, on: no input device (IM_EUNAVAIL), an input file that cannot be
 * opened (IM_ENOINPUT), input that is not audio sox can decode, an empty
 * (< IM_VOICE_MIN) or all-zero recording, or one over IM_VOICE_MAX (IM_EDATA).
 */
int im_voice_record(const struct im_voice_in *in, struct im_voice_clip *clip, struct im_err *e);

/* remove the clip's file */
void im_voice_clip_free(struct im_voice_clip *clip);

/*
 * A new private temporary file ($TMPDIR, else /tmp), removed on a fatal
 * signal until im_voice_tmp_remove; its path in path, the open fd returned
 * (-1 with e set on failure).
 */
int im_voice_tmp(char *path, size_t size, struct im_err *e);
void im_voice_tmp_remove(const char *path);

/* play the audio file at path on the default output device (IM_EUNAVAIL: none) */
int im_voice_play(const char *path, im_voice_start_fn started, void *arg, struct im_err *e);

/*
 * Save the audio file at path (as received) to out: "-" writes it to
 * stdout as it is; a name ending in .ogg or .oga, or without an extension,
 * gets a copy of it; any other extension is an audio format sox writes
 * (.wav, .flac, .mp3, ...) and the audio is converted to it.
 */
int im_voice_save(const char *path, const char *out, struct im_err *e);

#endif
