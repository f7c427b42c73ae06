/* lib_test.c - the host bed's in-process library tests (see ht.h). */
#include "tests.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* The ctest tests (see struct ht_run): one line per run, "<test
 * name><suffix> <test name> [<environment>]", separated by tabs. */
static int print_runs(const struct ht_test *all, int n)
{
    for (int i = 0; i < n; i++) {
        if (all[i].runs == NULL || all[i].runs[0].suffix == NULL) {
            fprintf(stderr, "lib_test: %s has no runs\n", all[i].name);
            return 2;
        }
        for (const struct ht_run *r = all[i].runs; r->suffix != NULL; r++)
            printf("%s%s\t%s%s%s\n", all[i].name, r->suffix, all[i].name,
                   r->env != NULL ? "\t" : "", r->env != NULL ? r->env : "");
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum { MAX_TESTS = 256 };
    struct ht_test all[MAX_TESTS];
    int n = 0;
    const struct {
        const struct ht_test *list;
        const int *count;
    } groups[] = {
        {tcp_tests, &tcp_test_count},           {udp_tests, &udp_test_count},
        {edge_tests, &edge_test_count},         {more_tests, &more_test_count},
        {resolve_tests, &resolve_test_count},   {option_tests, &option_test_count},
        {nonblock_tests, &nonblock_test_count}, {aio_tests, &aio_test_count},
        {event_tests, &event_test_count},       {reliability_tests, &reliability_test_count},
        {pool_tests, &pool_test_count},         {op_tests, &op_test_count},
        {lock_tests, &lock_test_count},         {fdtable_tests, &fdtable_test_count},
        {rundown_tests, &rundown_test_count},   {thread_tests, &thread_test_count},
        {connect_tests, &connect_test_count},
    };
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
        for (int i = 0; i < *groups[g].count; i++) {
            if (n == MAX_TESTS) {
                fprintf(stderr, "lib_test: more than %d tests: raise MAX_TESTS\n", MAX_TESTS);
                return 2;
            }
            all[n++] = groups[g].list[i];
        }
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < n; i++)
            printf("%s\n", all[i].name);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--runs") == 0)
        return print_runs(all, n);
    return ht_main(argc, argv, all, n);
}
