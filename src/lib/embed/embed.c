/* The parts of the embedding API every section shares. */
#include <stdlib.h>

#include "riskd/embed.h"

void rd_embed_free(void *p) { free(p); }
