/* unit tests: lib/hashsink.c */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "hashsink.h"
#include "tap.h"

#define KB 1024
#define BLOCK (256 * KB)	/* the sink's block, as in hashsink.c */
#define DATA (40 * BLOCK + 12345)	/* more than the sink's sixteen blocks in flight */

static unsigned char *data;	/* the bytes every case sends, a prefix of them */

static void
hex_of(const unsigned char *p, size_t len, char hex[IM_SHA256_HEX])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int i;

	SHA256(p, len, md);
	for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/*
 * len bytes through a sink into a file, in pieces of piece bytes: the file
 * holds them all, in order, and the digest is theirs; 0 if so.
 */
static int
through(size_t len, size_t piece)
{
	char path[] = "/tmp/test_hashsink.XXXXXX", got[IM_SHA256_HEX], want[IM_SHA256_HEX];
	struct im_hashsink *s;
	unsigned char *back;
	size_t off, n;
	int fd, bad = 0;

	if ((fd = mkstemp(path)) < 0 || !(s = im_hashsink_new(fd)))
		return 1;
	for (off = 0; off < len && !bad; off += n) {
		n = len - off < piece ? len - off : piece;
		bad = im_hashsink_add(s, data + off, n) != 0;
	}
	bad = bad || im_hashsink_finish(s, got) != 0;
	im_hashsink_free(s);
	hex_of(data, len, want);
	if (!bad && strcmp(got, want)) {
		printf("#   %zu bytes in %zu: digest %s, want %s\n", len, piece, got, want);
		bad = 1;
	}
	back = malloc(len + 1);
	if (!back || pread(fd, back, len + 1, 0) != (ssize_t)len || memcmp(back, data, len)) {
		printf("#   %zu bytes in %zu: the file differs\n", len, piece);
		bad = 1;
	}
	free(back);
	close(fd);
	unlink(path);
	return bad;
}

/* len bytes in pieces of piece into fd: the errno add or finish told, 0 for none */
static int
failure(int fd, size_t len, size_t piece, int abandon)
{
	char hex[IM_SHA256_HEX];
	struct im_hashsink *s = im_hashsink_new(fd);
	size_t off, n;
	int err = 0;

	if (!s)
		return -1;
	for (off = 0; off < len && !err; off += n) {
		n = len - off < piece ? len - off : piece;
		err = im_hashsink_add(s, data + off, n);
	}
	if (!err && !abandon)
		err = im_hashsink_finish(s, hex);
	im_hashsink_free(s);
	return err;
}

int
main(void)
{
	size_t i, sizes[] = { 0, 1, 16 * KB, BLOCK - 1, BLOCK, BLOCK + 1, 4 * BLOCK,
	    16 * BLOCK + 3, DATA };
	size_t pieces[] = { 1000, 16 * KB, BLOCK, 3 * BLOCK + 5 };
	char hex[IM_SHA256_HEX];
	struct im_hashsink *s;
	int fd, bad = 0, p;

	if (!(data = malloc(DATA)))
		return 1;
	for (i = 0; i < DATA; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);

	for (i = 0; i < sizeof sizes / sizeof *sizes; i++)
		for (p = 0; p < 4; p++)
			bad += through(sizes[i], pieces[p]);
	ok(!bad, "every size from 0 to 40 blocks, in four piece sizes: the file and the digest");

	s = im_hashsink_new(-1);
	ok(s && im_hashsink_finish(s, hex) == 0 &&
	    !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
	    "nothing sent: nothing written, the empty digest");
	im_hashsink_free(s);

	fd = open("/dev/full", O_WRONLY);
	ok(fd >= 0 && failure(fd, 100, 100, 0) == ENOSPC,
	    "a small file on a full disk: finish tells ENOSPC");
	ok(fd >= 0 && failure(fd, DATA, 16 * KB, 0) == ENOSPC,
	    "a big file on a full disk: told by add or finish");
	ok(fd >= 0 && failure(fd, 3 * BLOCK + 1, 16 * KB, 0) == ENOSPC,
	    "three blocks and a byte on a full disk: finish tells it");
	if (fd >= 0)
		close(fd);
	ok(failure(-1, 6 * BLOCK, 16 * KB, 0) == EBADF, "a closed descriptor: EBADF");

	fd = open("/dev/null", O_WRONLY);
	ok(fd >= 0 && failure(fd, 9 * BLOCK + 7, 16 * KB, 1) == 0,
	    "a download given up half way: the thread stops, nothing leaks");
	s = im_hashsink_new(fd);
	ok(s && im_hashsink_add(s, data, 100) == 0, "given up before the first block is full");
	im_hashsink_free(s);
	if (fd >= 0)
		close(fd);

	free(data);
	return tap_done();
}
