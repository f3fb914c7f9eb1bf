/* Small text helpers shared by the modules that tell a user what they probably meant. */
#ifndef RISKD_TEXT_H
#define RISKD_TEXT_H

#include <stddef.h>

#include "riskd/err.h"

/* Levenshtein distance of two short names (case-sensitive), capped: 3 means "3 or more";
 * names over 64 bytes count as 3. */
RD_API size_t rd_edit_distance(const char *a, const char *b);
/* Whether name looks like a misspelling of want: equal but for case, or within one edit (two
 * for names over 4 bytes), and not equal. */
RD_API int rd_near_miss(const char *name, const char *want);

#endif
