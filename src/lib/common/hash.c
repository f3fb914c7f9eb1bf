/* MurmurHash3_x86_32 (Austin Appleby's public-domain algorithm, written from its
 * description). Blocks are read byte by byte so the result does not depend on the host's
 * endianness or on alignment. */
#include "riskd/hash.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

uint32_t rd_murmur3_32(const void *data, size_t len, uint32_t seed)
{
    const uint8_t *p = data;
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = seed;
    size_t nblocks = len / 4;

    for (size_t i = 0; i < nblocks; i++, p += 4) {
        uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    uint32_t k = 0;
    switch (len & 3) {
    case 3:
        k ^= (uint32_t)p[2] << 16;
        /* fall through */
    case 2:
        k ^= (uint32_t)p[1] << 8;
        /* fall through */
    case 1:
        k ^= p[0];
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
    }
    h ^= (uint32_t)len;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static void to_hex(const uint8_t *d, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[(size_t)2 * SHA256_DIGEST_SIZE] = '\0';
}

void rd_sha256_hex(const void *data, size_t len, char hex[RD_SHA256_HEX])
{
    struct sha256_ctx c;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&c);
    sha256_update(&c, len, data);
    sha256_digest(&c, sizeof(d), d);
    to_hex(d, hex);
}

int rd_sha256_file(const char *path, char hex[RD_SHA256_HEX], rd_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return rd_err_set(err, RD_EIO, "%s: %s", path, strerror(errno));
    struct sha256_ctx c;
    uint8_t buf[1 << 16], d[SHA256_DIGEST_SIZE];
    size_t n;
    sha256_init(&c);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        sha256_update(&c, n, buf);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return rd_err_set(err, RD_EIO, "%s: read error", path);
    sha256_digest(&c, sizeof(d), d);
    to_hex(d, hex);
    return RD_OK;
}

int rd_random_bytes(void *buf, size_t n, rd_err *err)
{
    unsigned char *p = buf;
    while (n) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0 && errno == EINTR)
            continue; /* a signal before any byte came: ask again */
        if (got <= 0)
            return rd_err_set(err, RD_EIO, "no random bytes from the kernel (getrandom: %s)",
                              got < 0 ? strerror(errno) : "nothing returned");
        p += got;
        n -= (size_t)got;
    }
    return RD_OK;
}
