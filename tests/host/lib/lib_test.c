/* lib_test.c - the host bed's in-process library tests (see ht.h). */
#include "tests.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct ht_test all[128];
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
        {pool_tests, &pool_test_count},
    };
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
        for (int i = 0; i < *groups[g].count && n < 128; i++)
            all[n++] = groups[g].list[i];
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < n; i++)
            printf("%s\n", all[i].name);
        return 0;
    }
    return ht_main(argc, argv, all, n);
}
