/* Text helpers: how far apart two names are, for "did you mean" messages. */
#include "riskd/text.h"

#include <string.h>
#include <strings.h>

size_t rd_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];
    if (la > 64 || lb > 64)
        return 3;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb] < 3 ? row[lb] : 3;
}

int rd_near_miss(const char *name, const char *want)
{
    if (strcmp(name, want) == 0)
        return 0;
    if (strcasecmp(name, want) == 0)
        return 1;
    return rd_edit_distance(name, want) <= (strlen(want) > 4 ? 2u : 1u);
}
