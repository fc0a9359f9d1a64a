/* names — user and group names: see wire.h, where the rule lives */
#ifndef IM_NAMES_H
#define IM_NAMES_H

#include "wire.h"

#endif
