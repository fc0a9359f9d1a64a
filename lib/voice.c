/*
 * voice — recording, encoding and playing through libsox.
 *
 * One effects chain does all the work: input (a device, or a file) ->
 * trim (the time limit) -> channels 1 -> rate 16000 -> writer. The writer
 * is our own last effect: it sees exactly the samples given to the
 * encoder, so it tells an all-zero recording, and the duration is the
 * count of samples it wrote.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sox.h>

#include "lines.h"
#include "sig.h"
#include "voice.h"

#define SPOOL_MAX (2LL << 30)	/* stdin is spooled to disk up to 2 GiB */

/* drivers in the order sox(1) tries them for -d, pulseaudio before alsa */
static const char *const in_drivers[] = {
	"coreaudio", "pulseaudio", "alsa", "waveaudio", "sndio", "oss", "sunau", NULL
};
static const char *const out_drivers[] = {
	"coreaudio", "pulseaudio", "alsa", "waveaudio", "sndio", "oss", "sunau", "ao", NULL
};

/* ---- temporary files and signals ---- */

#define NTMP 4
static char tmp_paths[NTMP][PATH_MAX];
static volatile sig_atomic_t tmp_used[NTMP];
static volatile sig_atomic_t recording, stop_recording;

/*
 * SIGINT while recording from a device ends the recording (a flag the flow
 * callback reads); otherwise the signal is fatal: remove our temporary
 * files, then die of it so the shell sees how we ended. unlink(2) and
 * what im_die_by_signal calls are async-signal-safe.
 */
static void
on_signal(int sig)
{
	int i;

	if (sig == SIGINT && recording && !stop_recording) {
		stop_recording = 1;
		return;
	}
	for (i = 0; i < NTMP; i++)
		if (tmp_used[i])
			unlink(tmp_paths[i]);
	im_die_by_signal(sig);
}

static void
catch_signals(void)
{
	static int done;
	struct sigaction sa;

	if (done)
		return;
	done = 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: a blocked device read returns on SIGINT */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int
im_voice_tmp(char *path, size_t size, struct im_err *e)
{
	const char *dir = getenv("TMPDIR");
	int fd, i;

	catch_signals();
	if (!dir || dir[0] != '/')
		dir = "/tmp";
	for (i = 0; i < NTMP && tmp_used[i]; i++)
		;
	if (i == NTMP) {
		im_err_set(e, IM_EINTERNAL, "too many temporary files");
		return -1;
	}
	if ((size_t)snprintf(path, size, "%s/imvoice-XXXXXX", dir) >= size ||
	    strlen(path) >= sizeof tmp_paths[i]) {
		im_err_set(e, IM_EINTERNAL, "temporary directory name too long: %s", dir);
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
		im_err_set(e, IM_EIO, "cannot create a temporary file in %s: %s; set TMPDIR",
		    dir, strerror(errno));
		return -1;
	}
	fchmod(fd, 0600);
	memcpy(tmp_paths[i], path, strlen(path) + 1);
	tmp_used[i] = 1;
	return fd;
}

void
im_voice_tmp_remove(const char *path)
{
	int i;

	if (!path || !*path)
		return;
	for (i = 0; i < NTMP; i++)
		if (tmp_used[i] && !strcmp(tmp_paths[i], path))
			tmp_used[i] = 0;
	unlink(path);
}

/* ---- libsox set-up and its messages ---- */

/*
 * libsox 14.4.2's Vorbis writer never frees the block holding its encoder
 * state (stopwrite clears what is inside, not the block). In a
 * SANITIZE=address build, tell LeakSanitizer that this leak is libsox's:
 * its stack is cut at lsx_realloc (libsox has no frame pointers), and we
 * never call lsx_realloc ourselves.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:lsx_realloc\n";
}

const char *
__lsan_default_options(void)
{
	return "print_suppressions=0";	/* so stderr stays ours */
}

static char sox_msg[512];	/* libsox's last failure message */

/* libsox would print to stderr; the library never prints: keep the last failure */
static void
on_sox_message(unsigned level, const char *file, const char *fmt, va_list ap)
{
	(void)file;
	if (level <= 1)
		vsnprintf(sox_msg, sizeof sox_msg, fmt, ap);
}

/* "can't open input file `x': No such file" -> "No such file" */
static const char *
sox_why(void)
{
	const char *p = strstr(sox_msg, "': ");

	if (!sox_msg[0])
		return "unknown error";
	return p ? p + 3 : sox_msg;
}

static int
sox_ready(struct im_err *e)
{
	static int ready;

	if (ready)
		return 0;
	sox_globals.output_message_handler = on_sox_message;
	sox_globals.verbosity = 1;
	if (sox_init() != SOX_SUCCESS)
		return im_err_set(e, IM_EINTERNAL, "cannot initialise libsox: %s", sox_why());
	ready = 1;
	return 0;
}

/*
 * The sound libraries under libsox (ALSA above all) print their own
 * complaints to stderr when a device is missing; our error says it better.
 * Silence fd 2 around opening a device only.
 */
static int
mute_stderr(void)
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (saved >= 0 && null >= 0)
		dup2(null, STDERR_FILENO);
	if (null >= 0)
		close(null);
	return saved;
}

static void
unmute_stderr(int saved)
{
	if (saved < 0)
		return;
	dup2(saved, STDERR_FILENO);
	close(saved);
}

/*
 * Open the default audio device for reading (out == 0) or writing, as
 * sox -d does: the driver from AUDIODRIVER, else each driver this libsox
 * has in turn; the device from AUDIODEV, else "default". A device records
 * in its own format (sig NULL); the effects chain converts.
 */
static sox_format_t *
open_device(int out, const sox_signalinfo_t *sig, const char **driver, const char **device,
    struct im_err *e)
{
	const char *env = getenv("AUDIODRIVER"), *dev = getenv("AUDIODEV");
	const char *one[2] = { env, NULL };
	const char *const *list = out ? out_drivers : in_drivers;
	char tried[640] = "";
	size_t n = 0;
	sox_format_t *ft;
	int i, saved;

	if (env && *env)
		list = one;
	if (!dev || !*dev)
		dev = "default";
	for (i = 0; list[i]; i++) {
		const sox_format_handler_t *h = sox_find_format(list[i], sox_false);

		if (!h || (out && !(h->flags & SOX_FILE_DEVICE))) {
			if (list == one)
				snprintf(tried, sizeof tried, "AUDIODRIVER=%s is not an audio %s driver "
				    "libsox has", env, out ? "output" : "input");
			continue;
		}
		if (out ? !h->startwrite && !h->write : !h->startread && !h->read)
			continue;
		sox_msg[0] = '\0';
		saved = mute_stderr();
		ft = out ? sox_open_write(dev, sig, NULL, list[i], NULL, NULL) :
		    sox_open_read(dev, sig, NULL, list[i]);
		unmute_stderr(saved);
		if (ft) {
			*driver = list[i];
			*device = dev;
			return ft;
		}
		if (n < sizeof tried)
			n += (size_t)snprintf(tried + n, sizeof tried - n, "%s%s %s: %s",
			    n ? "; " : "", list[i], dev, sox_why());
	}
	if (!tried[0])
		snprintf(tried, sizeof tried, "libsox has no audio device driver");
	im_err_set(e, IM_EUNAVAIL, "no audio %s device (%s); %s", out ? "output" : "input", tried,
	    out ? "use -o FILE to save it instead" : "use -i FILE to send a recording");
	return NULL;
}

/* open an input file, with clear errors for the usual mistakes */
static sox_format_t *
open_file(const char *path, const char *shown, const char *type, struct im_err *e)
{
	struct stat st;
	sox_format_t *ft;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		im_err_set(e, IM_ENOINPUT, "cannot read '%s': %s", shown, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		im_err_set(e, IM_ENOINPUT, "cannot read '%s': it is a directory", shown);
		return NULL;
	}
	close(fd);
	if (type && !sox_find_format(type, sox_false)) {
		im_err_set(e, IM_EUSAGE, "--type %s: libsox knows no such audio format "
		    "(sox --help lists them)", type);
		return NULL;
	}
	sox_msg[0] = '\0';
	if (!(ft = sox_open_read(path, NULL, NULL, type)))
		im_err_set(e, IM_EDATA, "cannot decode '%s' as audio (%s)%s", shown, sox_why(),
		    type ? "" : "; if it is audio, name its format with --type");
	return ft;
}

/* ---- the effects chain ---- */

struct meter {
	sox_uint64_t samples;	/* written */
	sox_sample_t peak;	/* largest absolute sample */
};

struct writer {
	sox_format_t *out;
	struct meter *m;
};

/*
 * The last effect: write to the output, noting how much and how loud. Not
 * libsox's "output" effect: that one also writes when it has no samples,
 * and its Vorbis writer takes a write of 0 samples for the end of the
 * stream, so the file would end early and decode longer than it is.
 */
static int
writer_flow(sox_effect_t *effp, const sox_sample_t *ibuf, sox_sample_t *obuf, size_t *isamp,
    size_t *osamp)
{
	struct writer *w = effp->priv;
	size_t i, n = *isamp;

	(void)obuf;
	*osamp = 0;
	if (n == 0)
		return SOX_SUCCESS;
	for (i = 0; i < n; i++) {
		sox_sample_t s = ibuf[i];
		sox_sample_t a = s >= 0 ? s : s == INT32_MIN ? INT32_MAX : -s;	/* not SOX_SAMPLE_MIN: its macro shifts into the sign bit */

		if (a > w->m->peak)
			w->m->peak = a;
	}
	if (sox_write(w->out, ibuf, n) != n)
		return SOX_EOF;	/* out->sox_errno says why */
	w->m->samples += n;
	return SOX_SUCCESS;
}

static const sox_effect_handler_t writer_handler = {
	"im-output", NULL, SOX_EFF_MCHAN | SOX_EFF_MODIFY, NULL, NULL, writer_flow, NULL, NULL,
	NULL, sizeof(struct writer)
};

/*
 * The first effect: read the input. Not libsox's "input" effect, so that
 * a SIGINT ends a recording as the end of the input would: the samples
 * read so far, and those still inside the rate effect, reach the encoder
 * (stopping the flow from its callback would drop them).
 */
static int
reader_drain(sox_effect_t *effp, sox_sample_t *obuf, size_t *osamp)
{
	sox_format_t *in = *(sox_format_t **)effp->priv;
	size_t ch = effp->out_signal.channels, n = *osamp - *osamp % ch;

	*osamp = 0;
	if (stop_recording)
		return SOX_EOF;
	n = sox_read(in, obuf, n);
	*osamp = n - n % ch;	/* a read cut by a signal may end inside a frame */
	return *osamp ? SOX_SUCCESS : SOX_EOF;
}

static const sox_effect_handler_t reader_handler = {
	"im-input", NULL, SOX_EFF_MCHAN | SOX_EFF_MODIFY, NULL, NULL, NULL, reader_drain, NULL,
	NULL, sizeof(sox_format_t *)
};

/* add one effect with its arguments; 0 or -1 */
static int
add(sox_effects_chain_t *chain, sox_signalinfo_t *sig, const sox_signalinfo_t *out,
    const sox_effect_handler_t *h, int argc, char **argv, void *priv)
{
	sox_effect_t *eff;
	int rc;

	if (!h || !(eff = sox_create_effect(h)))
		return -1;
	if (priv)
		memcpy(eff->priv, priv, h->priv_size);
	rc = sox_effect_options(eff, argc, argv) == SOX_SUCCESS &&
	    sox_add_effect(chain, eff, sig, out) == SOX_SUCCESS ? 0 : -1;
	free(eff);
	return rc;
}

/*
 * in -> [trim 0 seconds] -> [channels] -> [rate] -> writer -> out; the
 * channel and rate conversions only where in and out differ.
 */
static int
run_chain(sox_format_t *in, sox_format_t *out, double seconds, struct meter *m,
    struct im_err *e)
{
	sox_effects_chain_t *chain;
	sox_signalinfo_t sig = in->signal;
	char len[32], *args[2];
	struct meter unused = { 0, 0 };
	struct writer w = { out, m ? m : &unused };
	int rc = 0;

	if (!(chain = sox_create_effects_chain(&in->encoding, &out->encoding)))
		return im_err_set(e, IM_EINTERNAL, "cannot make a libsox effects chain");
	rc = add(chain, &sig, &in->signal, &reader_handler, 0, NULL, &in);
	if (rc == 0 && seconds > 0) {
		snprintf(len, sizeof len, "%.6f", seconds);
		args[0] = "0";
		args[1] = len;
		rc = add(chain, &sig, &sig, sox_find_effect("trim"), 2, args, NULL);
	}
	if (rc == 0 && sig.channels != out->signal.channels)
		rc = add(chain, &sig, &out->signal, sox_find_effect("channels"), 0, NULL, NULL);
	if (rc == 0 && sig.rate != out->signal.rate)
		rc = add(chain, &sig, &out->signal, sox_find_effect("rate"), 0, NULL, NULL);
	if (rc == 0)
		rc = add(chain, &sig, &sig, &writer_handler, 0, NULL, &w);
	if (rc < 0) {
		sox_delete_effects_chain(chain);
		return im_err_set(e, IM_EINTERNAL, "cannot set up the libsox effects chain: %s",
		    sox_why());
	}
	sox_msg[0] = '\0';
	sox_flow_effects(chain, NULL, NULL);
	sox_delete_effects_chain(chain);
	if (out->sox_errno)
		return im_err_set(e, IM_EIO, "cannot write %s: %s", out->filename,
		    out->sox_errstr[0] ? out->sox_errstr : strerror(out->sox_errno));
	return 0;
}

/* ---- recording ---- */

/* copy stdin into a private temporary file, so sox can seek in it and tell its type */
static int
spool_stdin(char *path, size_t size, struct im_err *e)
{
	char buf[65536];
	long long total = 0;
	ssize_t n;
	int fd;

	if ((fd = im_voice_tmp(path, size, e)) < 0)
		return e->code;
	while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			im_err_set(e, IM_ENOINPUT, "cannot read stdin: %s", strerror(errno));
			break;
		}
		if ((total += n) > SPOOL_MAX) {
			im_err_set(e, IM_EDATA, "stdin is over %lld bytes; that is no voice message",
			    SPOOL_MAX);
			break;
		}
		if (write(fd, buf, (size_t)n) != n) {
			im_err_set(e, IM_EIO, "cannot write temporary file %s: %s", path,
			    strerror(errno));
			break;
		}
	}
	if (n == 0 && total == 0)
		im_err_set(e, IM_EDATA, "empty recording: stdin is empty; nothing sent");
	if (close(fd) < 0 && n == 0 && total > 0)
		im_err_set(e, IM_EIO, "cannot write temporary file %s: %s", path, strerror(errno));
	if (e->code) {
		im_voice_tmp_remove(path);
		path[0] = '\0';
	}
	return e->code;
}

void
im_voice_clip_free(struct im_voice_clip *clip)
{
	im_voice_tmp_remove(clip->path);
	clip->path[0] = '\0';
}

int
im_voice_record(const struct im_voice_in *vin, struct im_voice_clip *clip, struct im_err *e)
{
	sox_signalinfo_t want = { IM_VOICE_RATE, 1, 16, 0, NULL };
	sox_encodinginfo_t enc;
	sox_format_t *in = NULL, *out = NULL;
	struct meter m = { 0, 0 };
	char spool[PATH_MAX] = "";
	const char *driver, *device;
	double limit = vin->seconds;
	int fd, rc;

	memset(clip, 0, sizeof *clip);
	im_err_clear(e);
	if ((rc = sox_ready(e)))
		return rc;
	catch_signals();
	if (!vin->input) {
		if (!(in = open_device(0, NULL, &driver, &device, e)))
			return e->code;
		if (limit <= 0)
			limit = IM_VOICE_MAX;	/* stop there: the server takes no more */
	} else {
		if (!strcmp(vin->input, "-") && (rc = spool_stdin(spool, sizeof spool, e)))
			return rc;
		in = open_file(spool[0] ? spool : vin->input, spool[0] ? "stdin" : vin->input,
		    vin->type, e);
		if (!in) {
			im_voice_tmp_remove(spool);
			return e->code;
		}
		if (limit <= 0)	/* a little more, to tell a too long input */
			limit = IM_VOICE_MAX + 1;
	}

	if ((fd = im_voice_tmp(clip->path, sizeof clip->path, e)) < 0) {
		rc = e->code;
		goto done;
	}
	close(fd);	/* libsox reopens it by name: fopen keeps the mode 0600 */
	sox_init_encodinginfo(&enc);
	enc.encoding = SOX_ENCODING_VORBIS;
	enc.compression = IM_VOICE_QUALITY;
	sox_msg[0] = '\0';
	if (!(out = sox_open_write(clip->path, &want, &enc, "ogg", NULL, NULL))) {
		rc = im_err_set(e, IM_EINTERNAL, "cannot start the Ogg Vorbis encoder: %s", sox_why());
		goto done;
	}
	if (!vin->input && vin->started)
		vin->started(vin->arg, driver, device);
	stop_recording = 0;
	recording = !vin->input;
	rc = run_chain(in, out, limit, &m, e);
	recording = 0;
	clip->stopped = stop_recording;
	clip->duration = (double)out->olength / out->signal.channels / out->signal.rate;
	if (sox_close(out) != SOX_SUCCESS && rc == 0)
		rc = im_err_set(e, IM_EIO, "cannot finish %s: %s", clip->path, sox_why());
	out = NULL;
	if (rc)
		goto done;
	if (in->sox_errno && !clip->stopped && m.samples == 0) {
		rc = im_err_set(e, IM_EDATA, "cannot decode '%s': %s",
		    vin->input ? (spool[0] ? "stdin" : vin->input) : device,
		    in->sox_errstr[0] ? in->sox_errstr : sox_why());
		goto done;
	}
	if (clip->duration < IM_VOICE_MIN) {
		rc = im_err_set(e, IM_EDATA, "empty recording (%.2f s, the least is %.1f s); nothing sent",
		    clip->duration, IM_VOICE_MIN);
		goto done;
	}
	if (m.peak == 0) {
		rc = im_err_set(e, IM_EDATA, "the recording is silent (every sample is zero)%s; "
		    "nothing sent", vin->input ? "" : "; is the microphone muted?");
		goto done;
	}
	if (clip->duration > IM_VOICE_MAX) {
		rc = im_err_set(e, IM_EDATA, "'%s' is over %.0f s long, the most a voice message "
		    "may be; cut it with -t SECONDS", spool[0] ? "stdin" : vin->input, IM_VOICE_MAX);
		goto done;
	}
	{
		struct stat st;

		if (stat(clip->path, &st) < 0) {
			rc = im_err_set(e, IM_EIO, "cannot stat %s: %s", clip->path, strerror(errno));
			goto done;
		}
		clip->size = (long long)st.st_size;
	}
done:
	if (out)
		sox_close(out);
	if (in)
		sox_close(in);
	im_voice_tmp_remove(spool);
	if (rc)
		im_voice_clip_free(clip);
	return rc;
}

/* ---- playing and saving ---- */

int
im_voice_play(const char *path, im_voice_start_fn started, void *arg, struct im_err *e)
{
	sox_format_t *in, *out;
	const char *driver, *device;
	int rc;

	if ((rc = sox_ready(e)))
		return rc;
	if (!(in = open_file(path, "the voice message", NULL, e)))
		return e->code;
	if (!(out = open_device(1, &in->signal, &driver, &device, e))) {
		sox_close(in);
		return e->code;
	}
	if (started)
		started(arg, driver, device);
	stop_recording = 0;
	rc = run_chain(in, out, 0, NULL, e);
	sox_close(out);
	sox_close(in);
	return rc;
}

/* copy the file at path to fd, as it is */
static int
copy_to(const char *path, int fd, const char *shown, struct im_err *e)
{
	char buf[65536];
	ssize_t n;
	int in;

	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return im_err_set(e, IM_EIO, "cannot read %s: %s", path, strerror(errno));
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			im_err_set(e, IM_EIO, "cannot read %s: %s", path, strerror(errno));
			break;
		}
		if (im_write_all(fd, buf, (size_t)n) < 0) {
			im_err_set(e, IM_EIO, "cannot write %s: %s", shown, strerror(errno));
			break;
		}
	}
	close(in);
	return n == 0 ? 0 : e->code;
}

int
im_voice_save(const char *path, const char *out, struct im_err *e)
{
	const char *base = strrchr(out, '/'), *ext;
	const sox_format_handler_t *h;
	sox_format_t *in, *o;
	int fd, rc;

	im_err_clear(e);
	if (!strcmp(out, "-"))
		return copy_to(path, STDOUT_FILENO, "stdout", e);
	base = base ? base + 1 : out;
	ext = strrchr(base, '.');
	if (!ext || ext == base || !strcasecmp(ext, ".ogg") || !strcasecmp(ext, ".oga")) {
		if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0)
			return im_err_set(e, IM_EIO, "cannot write '%s': %s", out, strerror(errno));
		rc = copy_to(path, fd, out, e);
		if (close(fd) < 0 && rc == 0)
			rc = im_err_set(e, IM_EIO, "cannot write '%s': %s", out, strerror(errno));
		if (rc)
			unlink(out);
		return rc;
	}
	if ((rc = sox_ready(e)))
		return rc;
	h = sox_find_format(ext + 1, sox_true);
	if (!h || (!h->startwrite && !h->write))
		return im_err_set(e, IM_EUSAGE, "cannot write '%s': libsox writes no '%s' format; "
		    "use .ogg (as sent), .wav, .flac or another type sox --help lists", out, ext + 1);
	if (!(in = open_file(path, "the voice message", NULL, e)))
		return e->code;
	sox_msg[0] = '\0';
	if (!(o = sox_open_write(out, &in->signal, NULL, NULL, NULL, NULL))) {
		sox_close(in);
		return im_err_set(e, IM_EIO, "cannot write '%s': %s", out, sox_why());
	}
	rc = run_chain(in, o, 0, NULL, e);
	if (sox_close(o) != SOX_SUCCESS && rc == 0)
		rc = im_err_set(e, IM_EIO, "cannot finish '%s': %s", out, sox_why());
	sox_close(in);
	if (rc)
		unlink(out);
	return rc;
}
