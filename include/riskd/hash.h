/* Hashing: MurmurHash3 x86_32, the hash flagd's `fractional` bucketing is defined on. */
#ifndef RISKD_HASH_H
#define RISKD_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "riskd/err.h"

/* MurmurHash3_x86_32 of len bytes at data with seed, exactly as smhasher defines it
 * (little-endian block reads regardless of host order). */
RD_API uint32_t rd_murmur3_32(const void *data, size_t len, uint32_t seed);

#endif
