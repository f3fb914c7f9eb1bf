/* Hashing: MurmurHash3 x86_32, the hash flagd's `fractional` bucketing is defined on, and
 * SHA-256 for bundle checksums; and the kernel's random bytes (tokens, keys, record ids). */
#ifndef RISKD_HASH_H
#define RISKD_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "riskd/err.h"

/* MurmurHash3_x86_32 of len bytes at data with seed, exactly as smhasher defines it
 * (little-endian block reads regardless of host order). */
RD_API uint32_t rd_murmur3_32(const void *data, size_t len, uint32_t seed);

/* SHA-256 (nettle) as 64 lowercase hex digits and a NUL. */
#define RD_SHA256_HEX 65
RD_API void rd_sha256_hex(const void *data, size_t len, char hex[RD_SHA256_HEX]);
/* SHA-256 of a file's content, read in blocks; RD_EIO naming the file when it cannot be read. */
RD_API int rd_sha256_file(const char *path, char hex[RD_SHA256_HEX], rd_err *err);

/* n random bytes from the kernel (getrandom(2), interrupted calls asked again); RD_EIO when it
 * has none to give. Thread-safe. */
RD_API int rd_random_bytes(void *buf, size_t n, rd_err *err);

#endif
