/* riskd: put credit-risk and fraud models into production safely.
 * Umbrella header of libriskd. Each module's header documents its own contract. */
#ifndef RISKD_RISKD_H
#define RISKD_RISKD_H

#include "riskd/err.h"
#include "riskd/arena.h"
#include "riskd/hash.h"
#include "riskd/parallel.h"
#include "riskd/value.h"
#include "riskd/json.h"
#include "riskd/logic.h"
#include "riskd/flags.h"

#define RD_VERSION_MAJOR  0
#define RD_VERSION_MINOR  1
#define RD_VERSION_PATCH  0
#define RD_VERSION_STRING "0.1.0"

/* The library's version string, e.g. "0.1.0". */
RD_API const char *rd_version(void);

#endif
