/*
 * fz_imd — imd without sockets, for libFuzzer: every object of cmd/imd but
 * main.c and conn.c, with conn.h implemented here by one fake connection
 * whose output is counted and dropped. A session hands bytes to http's
 * on_data as a client would send them, runs the loop's before-sleep steps
 * (group commit, flush) between pieces, waits for the password and upload
 * workers, then disconnects.
 *
 * The state (SQLite store, blobs) lives in a temporary directory made by
 * fz_imd_init, under $TMPDIR (fuzz/run.sh points it at /dev/shm).
 */
#ifndef FZ_IMD_H
#define FZ_IMD_H

#include <stddef.h>
#include <stdint.h>

/* fixed credentials the seed corpus uses (43-char tokens, as imd makes) */
#define FZ_TOKEN_ALICE	"fuzzTokenForAlice0123456789abcdefghijklmnoA"
#define FZ_TOKEN_BOB	"fuzzTokenForBob00123456789abcdefghijklmnopB"
#define FZ_PASSWORD	"fuzz-password-1"	/* alice's and bob's */
#define FZ_FILE_ID	"0123456789abcdef0123456789abcdef"	/* alice's, sent to bob */

int fz_imd_init(void);
/*
 * One connection: data arrives in pieces (cuts[0..ncuts) are offsets,
 * ascending), then the client hangs up. Returns the bytes imd wrote.
 */
size_t fz_imd_session(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts);
/* before each input: the fixed tokens work, and the passwords (if touched) */
void fz_imd_restore(int password_touched);
/* the output of the last session, when capture is on (init uses it) */
const char *fz_imd_output(size_t *len);
void fz_imd_capture(int on);

#endif
