/*
 * term — ask the person at the terminal: secrets without echo, yes/no.
 * Prompts go to /dev/tty, never to stdout or stderr, and answers come from
 * /dev/tty, so pipes stay clean.
 */
#ifndef IM_TERM_H
#define IM_TERM_H

#include <stdio.h>

#include "err.h"

/* 1 when stdin is a terminal and /dev/tty can be opened */
int im_term_interactive(void);

/* read a secret from /dev/tty without echo; *out malloc'd, wipe and free it */
int im_term_secret(const char *prompt, char **out, struct im_err *e);

/* read one line from f (its '\n' removed); *out malloc'd; IM_EDATA at EOF */
int im_read_line(FILE *f, const char *what, char **out, struct im_err *e);

/* ask prompt on /dev/tty; 1 for an answer starting with y or Y, else 0 */
int im_term_yes(const char *prompt);

/* wipe and free a secret */
void im_secret_free(char *s);

#endif
