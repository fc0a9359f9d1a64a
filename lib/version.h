/* version — the one version string of the suite */
#ifndef IM_VERSION_H
#define IM_VERSION_H

#define IM_VERSION "0.1.0"

#endif
