#include "riskd/riskd.h"

const char *rd_version(void) { return RD_VERSION_STRING; }
