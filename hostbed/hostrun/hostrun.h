/*
 * hostrun.h - internals of the host bed's driver runner (hostbed/hostrun).
 */
#ifndef HOSTRUN_H
#define HOSTRUN_H

/* Exit statuses, as tools/wskrun's (docs/wskrun.md); a kernel rule
 * violation ends the process with KSHIM_EXIT_VIOLATION (86) from the shim,
 * a stop signal N with 128 + N. */
#define HOSTRUN_EXIT_OK 0
#define HOSTRUN_EXIT_FAIL 1
#define HOSTRUN_EXIT_USAGE 2

/* One line on stderr, prefixed "hostrun: ". */
void hostrun_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the run's seed and the provider's completion mode (how to
 * reproduce the run); details with verbose. */
void hostrun_print_config(int verbose);

/* Nonzero while a WSK client is registered with the provider (a driver
 * that returned from DriverUnload without WskDeregister). */
int hostrun_provider_registered(void);

#endif /* HOSTRUN_H */
