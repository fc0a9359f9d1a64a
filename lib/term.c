/*
 * term — terminal prompts through /dev/tty. The echo is restored even when
 * the read is interrupted by a signal, since the handler only sets a flag
 * and we restore before returning.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "term.h"

int
im_term_interactive(void)
{
	int fd;

	if (!isatty(STDIN_FILENO))
		return 0;
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
		return 0;
	close(fd);
	return 1;
}

void
im_secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* read a line from fd into a malloc'd string; -1 on error/EOF before any byte */
static char *
fd_line(int fd, int *eof)
{
	size_t cap = 128, len = 0;
	char *s = malloc(cap), *t, c;
	ssize_t n;

	*eof = 0;
	if (!s)
		return NULL;
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			break;	/* a signal: give up on this prompt */
		if (n <= 0) {
			*eof = 1;
			break;
		}
		if (c == '\n')
			break;
		if (len + 2 > cap) {
			if (cap > 8192 || !(t = malloc(cap * 2))) {
				explicit_bzero(s, cap);
				free(s);
				return NULL;
			}
			memcpy(t, s, len);
			explicit_bzero(s, cap);
			free(s);
			s = t;
			cap *= 2;
		}
		s[len++] = c;
	}
	s[len] = '\0';
	if (n <= 0 && len == 0) {
		free(s);
		return NULL;
	}
	return s;
}

int
im_term_secret(const char *prompt, char **out, struct im_err *e)
{
	struct termios old, quiet;
	int fd, echo_off = 0, eof;
	ssize_t w;

	*out = NULL;
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
		return im_err_set(e, IM_EUSAGE, "cannot open the terminal: %s", strerror(errno));
	w = write(fd, prompt, strlen(prompt));
	(void)w;
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		quiet.c_lflag |= ICANON;
		echo_off = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	*out = fd_line(fd, &eof);
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &old);
	w = write(fd, "\n", 1);
	(void)w;
	close(fd);
	if (!*out)
		return im_err_set(e, IM_EUSAGE, "no password given");
	return 0;
}

int
im_read_line(FILE *f, const char *what, char **out, struct im_err *e)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	*out = NULL;
	if ((n = getline(&line, &cap, f)) <= 0) {
		free(line);
		return im_err_set(e, IM_EDATA, "no %s on standard input", what);
	}
	if (line[n - 1] == '\n')
		line[--n] = '\0';
	if (memchr(line, '\0', (size_t)n)) {
		im_secret_free(line);
		return im_err_set(e, IM_EDATA, "%s on standard input contains a NUL byte", what);
	}
	*out = line;
	return 0;
}

int
im_term_yes(const char *prompt)
{
	char *ans;
	int fd, eof, yes;
	ssize_t w;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0)
		return 0;
	w = write(fd, prompt, strlen(prompt));
	(void)w;
	ans = fd_line(fd, &eof);
	close(fd);
	yes = ans && (ans[0] == 'y' || ans[0] == 'Y');
	free(ans);
	return yes;
}
