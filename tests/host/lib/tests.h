/* tests.h - the test lists of lib_test (one per file). */
#ifndef TESTS_H
#define TESTS_H

#include "ht.h"

extern const struct ht_test tcp_tests[];
extern const int tcp_test_count;
extern const struct ht_test udp_tests[];
extern const int udp_test_count;
extern const struct ht_test edge_tests[];
extern const int edge_test_count;
extern const struct ht_test more_tests[];
extern const int more_test_count;
extern const struct ht_test resolve_tests[];
extern const int resolve_test_count;
extern const struct ht_test option_tests[];
extern const int option_test_count;
extern const struct ht_test nonblock_tests[];
extern const int nonblock_test_count;

extern const struct ht_test aio_tests[];
extern const int aio_test_count;
extern const struct ht_test event_tests[];
extern const int event_test_count;
extern const struct ht_test reliability_tests[];
extern const int reliability_test_count;
extern const struct ht_test pool_tests[];
extern const int pool_test_count;
extern const struct ht_test thread_tests[];
extern const int thread_test_count;
extern const struct ht_test connect_tests[];
extern const int connect_test_count;
/* Unit tests of src/ks_op.c, ks_lock.h, ks_fdtable.c (white box). */
extern const struct ht_test op_tests[];
extern const int op_test_count;
extern const struct ht_test lock_tests[];
extern const int lock_test_count;
extern const struct ht_test fdtable_tests[];
extern const int fdtable_test_count;
/* Unit tests of src/ks_rundown.h. */
extern const struct ht_test rundown_tests[];
extern const int rundown_test_count;

#endif /* TESTS_H */
