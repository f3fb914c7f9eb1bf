/* rd_parallel_for: every item is visited exactly once, in contiguous shares, whatever the
 * thread count, the minimum share and the size (including 0). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>

#include "riskd/parallel.h"

#define N 5000

static atomic_int visits[N];
static atomic_int calls;

static void visit(void *ud, size_t from, size_t to)
{
    assert_ptr_equal(ud, visits);
    assert_true(from <= to && to <= N);
    atomic_fetch_add(&calls, 1);
    for (size_t i = from; i < to; i++)
        atomic_fetch_add(&visits[i], 1);
}

static void test_every_item_once(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 63, 64, 257, N};
    static const int threads[] = {0, 1, 2, 3, 64, 1000};
    static const size_t mins[] = {0, 1, 64, 256};
    for (size_t a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++)
        for (size_t b = 0; b < sizeof(threads) / sizeof(threads[0]); b++)
            for (size_t c = 0; c < sizeof(mins) / sizeof(mins[0]); c++) {
                for (size_t i = 0; i < N; i++)
                    atomic_store(&visits[i], 0);
                atomic_store(&calls, 0);
                rd_parallel_for(sizes[a], threads[b], mins[c], visit, visits);
                for (size_t i = 0; i < N; i++)
                    assert_int_equal(atomic_load(&visits[i]), i < sizes[a] ? 1 : 0);
                int most = threads[b] > 0 ? threads[b] : rd_num_cores();
                assert_true(atomic_load(&calls) >= 1 && atomic_load(&calls) <= (most > 64 ? 64 : most));
                if (mins[c] > 1) /* no share below the minimum, unless there is only one */
                    assert_true(atomic_load(&calls) == 1 ||
                                sizes[a] / (size_t)atomic_load(&calls) >= mins[c] / 2);
            }
    assert_true(rd_num_cores() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_item_once)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
