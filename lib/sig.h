/*
 * sig — signals as flags. SIGINT, SIGTERM and SIGHUP set im_signal (the
 * loops check it); SIGPIPE is ignored so a closed stdout is an EPIPE error
 * we can finish cleanly on (saving the cursor) before dying of it.
 */
#ifndef IM_SIG_H
#define IM_SIG_H

#include <signal.h>

extern volatile sig_atomic_t im_signal;	/* the last signal caught, 0 if none */

void im_catch_signals(void);
/* reset sig to its default action and raise it: the parent sees how we ended */
void im_die_by_signal(int sig);

#endif
