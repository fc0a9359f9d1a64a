/* names — user and group names: [a-z0-9][a-z0-9._-]{0,31} */
#ifndef IM_NAMES_H
#define IM_NAMES_H

#define IM_NAME_MAX 32

int im_name_valid(const char *s);	/* 1 if valid */

#endif
