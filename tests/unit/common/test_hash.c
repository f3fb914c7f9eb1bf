/* MurmurHash3_x86_32 equals smhasher's: the widely published vectors (empty input with
 * several seeds, every tail length 0-3, seeded strings), flagd's bucketing vectors from
 * flagd-ofrep.md §2.2.2 (which decide which variant a user gets, so any drift reassigns
 * users), and the same answers for input at every alignment. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "riskd/hash.h"

struct vec {
    const char *data;
    size_t len;
    uint32_t seed;
    uint32_t want;
};

#define S(lit) lit, sizeof(lit) - 1

/* Public vectors for MurmurHash3_x86_32 (smhasher's algorithm), as published alongside
 * ports of it, e.g. the reference table in "MurmurHash3 test vectors" on Stack Overflow. */
static const struct vec public_vectors[] = {
    {S(""), 0, 0},
    {S(""), 1, 0x514E28B7u},
    {S(""), 0xffffffffu, 0x81F16F39u},
    {S("\xff\xff\xff\xff"), 0, 0x76293B50u},
    {S("\x21\x43\x65\x87"), 0, 0xF55B516Bu},
    {S("\x21\x43\x65\x87"), 0x5082EDEEu, 0x2362F9DEu},
    {S("\x21\x43\x65"), 0, 0x7E4A8634u}, /* tail of 3 */
    {S("\x21\x43"), 0, 0xA0F7B07Au},     /* tail of 2 */
    {S("\x21"), 0, 0x72661CF4u},         /* tail of 1 */
    {S("\x00\x00\x00\x00"), 0, 0x2362F9DEu},
    {S("\x00\x00\x00"), 0, 0x85F0B427u},
    {S("\x00\x00"), 0, 0x30F4C306u},
    {S("\x00"), 0, 0x514E28B7u},
    {S("hello"), 0, 0x248BFA47u},
    {S("The quick brown fox jumps over the lazy dog"), 0, 0x2E4FF723u},
    {S("Hello, world!"), 1234, 0xFAF6CDB3u},
    {S("Hello, world!"), 0x9747B28Cu, 0x24884CBAu},
    {S("The quick brown fox jumps over the lazy dog"), 0x9747B28Cu, 0x2FA826CDu},
    {S("aaaa"), 0x9747B28Cu, 0x5A97808Au},
    {S("aaa"), 0x9747B28Cu, 0x283E0130u},
    {S("aa"), 0x9747B28Cu, 0x5D211726u},
    {S("a"), 0x9747B28Cu, 0x7FA09EA6u},
    {S("abcd"), 0x9747B28Cu, 0xF0478627u},
    {S("abc"), 0x9747B28Cu, 0xC84A62DDu},
    {S("ab"), 0x9747B28Cu, 0x74875592u},
};

/* flagd-ofrep.md §2.2.2, verified there against the npm oracle: seed 0, the UTF-8 bytes of
 * flagKey ‖ targetingKey. The first five sit on the edges of the uint32 range. */
static const struct vec flagd_vectors[] = {
    {S("ejOoVL"), 0, 0u},
    {S("bY9fO-"), 0, 1u},
    {S("SI7p-"), 0, 2147483647u},
    {S("6LvT0"), 0, 2147483648u},
    {S("ceQdGm"), 0, 4294967295u},
    {S("model-routeuser-1"), 0, 3531745033u},
    {S("model-routeuser-2"), 0, 3420203835u},
    {S("model-routeuser-4"), 0, 1183019090u},
    {S("model-routeapplicant-42"), 0, 851412259u},
};

static void check(const struct vec *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t got = rd_murmur3_32(v[i].data, v[i].len, v[i].seed);
        if (got != v[i].want)
            fail_msg("vector %zu (len %zu, seed 0x%08x): got 0x%08x, want 0x%08x", i, v[i].len,
                     (unsigned)v[i].seed, (unsigned)got, (unsigned)v[i].want);
    }
}

static void test_public_vectors(void **state)
{
    (void)state;
    check(public_vectors, sizeof(public_vectors) / sizeof(public_vectors[0]));
}

static void test_flagd_vectors(void **state)
{
    (void)state;
    check(flagd_vectors, sizeof(flagd_vectors) / sizeof(flagd_vectors[0]));
}

static void test_flagd_buckets(void **state)
{
    (void)state;
    /* The bucket rule of §2.2.2: (uint64(h) * total) >> 32. */
    static const struct {
        const char *key;
        uint64_t total;
        uint64_t bucket;
    } rows[] = {
        {"ejOoVL", 100, 0},
        {"bY9fO-", 100, 0},
        {"SI7p-", 100, 49},
        {"6LvT0", 100, 50},
        {"ceQdGm", 100, 99},
        {"model-routeuser-1", 100, 82},
        {"model-routeuser-2", 100, 79},
        {"model-routeuser-4", 100, 27},
        {"model-routeapplicant-42", 100, 19},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t h = rd_murmur3_32(rows[i].key, strlen(rows[i].key), 0);
        assert_int_equal((h * rows[i].total) >> 32, rows[i].bucket);
    }
}

static void test_unaligned_input(void **state)
{
    (void)state;
    /* Every vector, copied at offsets 1..7 of a buffer so block reads are misaligned;
     * under UBSan a direct uint32_t load here would trap. */
    _Alignas(16) unsigned char buf[80];
    const struct vec *all[] = {public_vectors, flagd_vectors};
    size_t counts[] = {sizeof(public_vectors) / sizeof(public_vectors[0]),
                       sizeof(flagd_vectors) / sizeof(flagd_vectors[0])};
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < counts[t]; i++) {
            const struct vec *v = &all[t][i];
            for (size_t off = 0; off < 8; off++) {
                memset(buf, 0xee, sizeof(buf));
                memcpy(buf + off, v->data, v->len);
                assert_int_equal(rd_murmur3_32(buf + off, v->len, v->seed), v->want);
            }
        }
    }
}

static void test_length_not_content_terminates(void **state)
{
    (void)state;
    /* Bytes after len never matter, and a NUL inside the range does. */
    const char a[] = "hello, world";
    const char b[] = "hello! WORLD";
    assert_int_equal(rd_murmur3_32(a, 5, 0), 0x248BFA47u);
    assert_int_equal(rd_murmur3_32(b, 5, 0), 0x248BFA47u);
    assert_int_not_equal(rd_murmur3_32("ab\0c", 4, 0), rd_murmur3_32("ab\0d", 4, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_vectors),
        cmocka_unit_test(test_flagd_vectors),
        cmocka_unit_test(test_flagd_buckets),
        cmocka_unit_test(test_unaligned_input),
        cmocka_unit_test(test_length_not_content_terminates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
