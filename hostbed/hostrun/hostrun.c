/*
 * hostrun.c - main() of every <name>-host executable of the host test bed:
 * loads the one driver linked into the executable (its DriverEntry), prints
 * its kernel log, unloads it (DriverUnload) when a log line matches --until,
 * at --timeout, on SIGUSR1 or on SIGINT/SIGTERM/SIGHUP, and then checks that
 * it left nothing behind (pool, IRPs, MDLs, locked pages, system threads,
 * handles, provider sockets).
 *
 * The command line follows tools/wskrun's (docs/hostbed.md): one driver per
 * process, because each Windows driver has its own copy of the library; a
 * test that needs two drivers starts two processes.
 *
 * Threads: the main thread supervises; DriverEntry and DriverUnload run on a
 * helper thread each (as the I/O manager calls them from a system worker),
 * so that a call that never returns can be reported after a bound instead
 * of hanging the run; signals are taken by a dedicated thread (sigwait), and
 * every other thread of the process, the driver's and the provider's
 * included, has them blocked because it descends from the main thread after
 * the mask was set.
 */
#define _GNU_SOURCE /* pthread_setname_np */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ntddk.h>
#include <kshim.h>

#include "hostrun.h"

/* The driver's entry point, defined by its sources linked into this
 * executable. */
NTSTATUS DriverEntry(PDRIVER_OBJECT driver_object, PUNICODE_STRING registry_path);

#define SERVICES_KEY "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"
#define MAX_SERVICE_NAME 200
/* After DriverUnload has returned, system threads of the driver may still be
 * on their way out (between their last instruction and the thread's end). */
#define THREAD_EXIT_WAIT_MS 5000

struct param {
    const char *name;
    const char *value;
};

static struct options {
    char service[MAX_SERVICE_NAME + 1];
    struct param *params;
    int nparams;
    const char *until_text;
    regex_t until;
    int have_until;
    double timeout;
    double unload_timeout;
    int leak_check;
    int verbose;
} opt = {.timeout = 30.0, .unload_timeout = 30.0, .leak_check = 1};

/* State shared by the supervisor, the log hook, the signal thread and the
 * driver-call threads; guarded by lock, changes announced on changed. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int until_matched;
static int unload_requested; /* SIGUSR1 */
static int stop_signal;      /* first SIGINT/SIGTERM/SIGHUP, 0 if none */
static int call_done;        /* the current driver call returned */
static double t_load;        /* monotonic seconds at the start of loading */

static DRIVER_OBJECT driver_object;
static UNICODE_STRING registry_path;

/* ------------------------------------------------------------------ output */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void hostrun_say(const char *fmt, ...)
{
    va_list ap;

    /* stdout carries the kernel log; keep the order of the two streams
     * sensible when both go to the same terminal or file. */
    fflush(stdout);
    flockfile(stderr);
    fputs("hostrun: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    fflush(stderr);
}

static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    failures++;
    hostrun_say("FAIL: %s", msg);
}

/* Ends the process while driver code may still run (a call that does not
 * return, threads that outlive the unload): exit() would run atexit
 * handlers and the sanitizers' exit checks under their feet. */
static __attribute__((noreturn)) void exit_now(int status)
{
    kshim_fault_write_report();
    fflush(stdout);
    fflush(stderr);
    _exit(status);
}

/* ------------------------------------------------------------- arguments */

static __attribute__((noreturn)) void usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static __attribute__((noreturn)) void usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("hostrun: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(--help for the usage)\n", stderr);
    exit(HOSTRUN_EXIT_USAGE);
}

static void usage(FILE *f, const char *prog)
{
    fprintf(
        f,
        "Usage: %s [--name SERVICE] [--param NAME=VALUE]... [--until REGEX]\n"
        "       [--timeout SEC] [--unload-timeout SEC] [--no-leak-check] [--verbose]\n"
        "\n"
        "Loads the driver linked into this executable on the host test bed (DriverEntry),\n"
        "prints its kernel log on stdout, unloads it (DriverUnload) when a log line\n"
        "matches REGEX (POSIX extended), at the timeout (default 30 s), on SIGUSR1 or on\n"
        "SIGINT/SIGTERM/SIGHUP, and checks that it left nothing behind.\n"
        "\n"
        "  --name SERVICE        service name (default: this program's name without -host)\n"
        "  --param NAME=VALUE    REG_SZ value under Services\\SERVICE\\Parameters (repeatable)\n"
        "  --until REGEX         unload when a kernel log line matches; failing at the\n"
        "                        timeout if none did\n"
        "  --timeout SEC         counted from the start of loading (default 30)\n"
        "  --unload-timeout SEC  bound of DriverUnload (default 30)\n"
        "  --no-leak-check       objects left after the unload are listed, not a failure\n"
        "  --verbose             timings and details on stderr\n"
        "\n"
        "Exit status: 0 success, 1 failure (see 'hostrun: FAIL:' lines), 2 usage error,\n"
        "86 kernel rule violation (kshim: VIOLATION), 128+N stopped by signal N.\n"
        "See docs/hostbed.md.\n",
        prog);
}

static double parse_seconds(const char *opt_name, const char *text)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0) || !isfinite(v) || v > 1e6)
        usage_error("%s: must be a positive number of seconds: '%s'", opt_name, text);
    return v;
}

static int service_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* wskrun's service name of DRIVER.sys is the file name without extension,
 * each character outside [A-Za-z0-9_.-] replaced by '_'; ours is the
 * executable's name without "-host", treated the same way. */
static void default_service(const char *argv0)
{
    const char *base = strrchr(argv0, '/');
    size_t n, i;

    base = base ? base + 1 : argv0;
    n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, "-host") == 0)
        n -= 5;
    if (n == 0)
        base = "driver", n = 6;
    if (n > MAX_SERVICE_NAME)
        n = MAX_SERVICE_NAME;
    for (i = 0; i < n; i++) {
        opt.service[i] = base[i];
        if (!service_char_ok(base[i]))
            opt.service[i] = '_';
    }
    opt.service[n] = 0;
}

static void parse_args(int argc, char **argv)
{
    enum { O_NAME = 256, O_PARAM, O_UNTIL, O_TIMEOUT, O_UNLOAD_TIMEOUT, O_NO_LEAK, O_VERBOSE };
    static const struct option longopts[] = {
        {"name", required_argument, NULL, O_NAME},
        {"param", required_argument, NULL, O_PARAM},
        {"until", required_argument, NULL, O_UNTIL},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"unload-timeout", required_argument, NULL, O_UNLOAD_TIMEOUT},
        {"no-leak-check", no_argument, NULL, O_NO_LEAK},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, e;

    default_service(argv[0]);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case O_NAME: {
            size_t i, n = strlen(optarg);
            if (n == 0 || n > MAX_SERVICE_NAME)
                usage_error("--name: 1 to %d characters", MAX_SERVICE_NAME);
            for (i = 0; i < n; i++)
                if (!service_char_ok(optarg[i]))
                    usage_error("--name: only A-Z a-z 0-9 _ . - are allowed: '%s'", optarg);
            memcpy(opt.service, optarg, n + 1);
            break;
        }
        case O_PARAM: {
            char *eq = strchr(optarg, '=');
            struct param *p;
            if (!eq || eq == optarg)
                usage_error("--param: expected NAME=VALUE, got '%s'", optarg);
            *eq = 0;
            if (strchr(optarg, '\\'))
                usage_error("--param: a value name cannot contain '\\': '%s'", optarg);
            p = realloc(opt.params, sizeof(*p) * (size_t)(opt.nparams + 1));
            if (!p)
                usage_error("out of memory");
            opt.params = p;
            p[opt.nparams].name = optarg;
            p[opt.nparams].value = eq + 1;
            opt.nparams++;
            break;
        }
        case O_UNTIL:
            if (opt.have_until) {
                regfree(&opt.until);
                opt.have_until = 0;
            }
            e = regcomp(&opt.until, optarg, REG_EXTENDED | REG_NOSUB);
            if (e) {
                char msg[256];
                regerror(e, &opt.until, msg, sizeof(msg));
                usage_error("--until: invalid regular expression '%s': %s", optarg, msg);
            }
            opt.have_until = 1;
            opt.until_text = optarg;
            break;
        case O_TIMEOUT:
            opt.timeout = parse_seconds("--timeout", optarg);
            break;
        case O_UNLOAD_TIMEOUT:
            opt.unload_timeout = parse_seconds("--unload-timeout", optarg);
            break;
        case O_NO_LEAK:
            opt.leak_check = 0;
            break;
        case O_VERBOSE:
            opt.verbose = 1;
            break;
        case 'h':
            usage(stdout, argv[0]);
            exit(HOSTRUN_EXIT_OK);
        default:
            if (optopt && optopt < 256)
                usage_error("unknown option '-%c'", optopt);
            usage_error("unknown option or missing value: '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        usage_error("unexpected argument '%s' (the driver is linked into this program)",
                    argv[optind]);
}

/* --------------------------------------------------------------- signals */

static sigset_t handled_signals;

static void *signal_thread(void *arg)
{
    int sig;

    (void)arg;
    for (;;) {
        if (sigwait(&handled_signals, &sig) != 0)
            continue;
        pthread_mutex_lock(&lock);
        if (sig == SIGUSR1) {
            unload_requested = 1;
        } else if (!stop_signal) {
            stop_signal = sig;
        } else {
            /* A second stop signal while the first is being handled (an
             * unload that takes long, Ctrl-C twice): stop waiting. */
            pthread_mutex_unlock(&lock);
            hostrun_say("second signal %d: exiting without waiting for the driver", sig);
            exit_now(128 + sig);
        }
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void setup_signals(void)
{
    pthread_t t;
    int e;

    /* Windows has no SIGPIPE: a write to a closed stdout or peer fails. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&handled_signals);
    sigaddset(&handled_signals, SIGINT);
    sigaddset(&handled_signals, SIGTERM);
    sigaddset(&handled_signals, SIGHUP);
    sigaddset(&handled_signals, SIGUSR1);
    /* Before any other thread exists, so that every thread inherits it. */
    pthread_sigmask(SIG_BLOCK, &handled_signals, NULL);
    e = pthread_create(&t, NULL, signal_thread, NULL);
    if (e) {
        hostrun_say("FAIL: cannot start the signal thread: %s", strerror(e));
        exit(HOSTRUN_EXIT_FAIL);
    }
    pthread_detach(t);
}

/* ------------------------------------------------------------ kernel log */

static void log_hook(const char *line, void *context)
{
    (void)context;
    if (!opt.have_until)
        return;
    pthread_mutex_lock(&lock);
    if (!until_matched && regexec(&opt.until, line, 0, NULL, 0) == 0) {
        until_matched = 1;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
        hostrun_say("--until matched after %.2f s", now_s() - t_load);
        return;
    }
    pthread_mutex_unlock(&lock);
}

/* ------------------------------------------------------------- registry */

static void set_registry(void)
{
    char key[sizeof(SERVICES_KEY) + MAX_SERVICE_NAME + 16];
    int i, r;

    snprintf(key, sizeof(key), SERVICES_KEY "%s", opt.service);
    r = kshim_registry_create_key(key);
    if (r != 0) {
        fail("cannot create the registry key %s (%d)", key, r);
        exit(HOSTRUN_EXIT_FAIL);
    }
    /* As wskctl does: the Parameters key exists when there are parameters. */
    snprintf(key, sizeof(key), SERVICES_KEY "%s\\Parameters", opt.service);
    for (i = 0; i < opt.nparams; i++) {
        const struct param *p = &opt.params[i];
        r = kshim_registry_set(key, p->name, REG_SZ, p->value, (ULONG)strlen(p->value));
        if (r != 0) {
            fail("%s: cannot set parameter %s (%d)", opt.service, p->name, r);
            exit(HOSTRUN_EXIT_FAIL);
        }
        if (opt.verbose)
            hostrun_say("param %s=%s", p->name, p->value);
    }
}

/* The registry path DriverEntry gets. The I/O manager frees it after
 * DriverEntry returns (drivers must copy what they keep), so it lives in
 * its own heap block, freed then: AddressSanitizer reports a driver that
 * keeps the pointer. */
static void make_registry_path(void)
{
    char path[sizeof(SERVICES_KEY) + MAX_SERVICE_NAME];
    size_t i, n;
    WCHAR *w;

    n = (size_t)snprintf(path, sizeof(path), SERVICES_KEY "%s", opt.service);
    w = malloc((n + 1) * sizeof(WCHAR));
    if (!w) {
        fail("out of memory");
        exit(HOSTRUN_EXIT_FAIL);
    }
    for (i = 0; i <= n; i++)
        w[i] = (WCHAR)(unsigned char)path[i]; /* the name is ASCII */
    registry_path.Buffer = w;
    registry_path.Length = (USHORT)(n * sizeof(WCHAR));
    registry_path.MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
}

static WCHAR driver_name_buffer[8 + MAX_SERVICE_NAME + 1];

static void make_driver_object(void)
{
    static const char prefix[] = "\\Driver\\";
    size_t i, n = 0;

    for (i = 0; prefix[i]; i++)
        driver_name_buffer[n++] = (WCHAR)prefix[i];
    for (i = 0; opt.service[i]; i++)
        driver_name_buffer[n++] = (WCHAR)(unsigned char)opt.service[i];
    driver_name_buffer[n] = 0;
    memset(&driver_object, 0, sizeof(driver_object));
    driver_object.Type = 4; /* IO_TYPE_DRIVER */
    driver_object.Size = (SHORT)sizeof(driver_object);
    driver_object.DriverName.Buffer = driver_name_buffer;
    driver_object.DriverName.Length = (USHORT)(n * sizeof(WCHAR));
    driver_object.DriverName.MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
    driver_object.DriverInit = DriverEntry;
}

/* ---------------------------------------------------------- driver calls */

enum call_kind { CALL_ENTRY, CALL_UNLOAD };

static NTSTATUS entry_status;

static void *driver_call_thread(void *arg)
{
    enum call_kind kind = (enum call_kind)(intptr_t)arg;
    KIRQL irql;

    /* A new thread starts at PASSIVE_LEVEL in the shim, as a system
     * worker thread of the I/O manager does. */
    if (kind == CALL_ENTRY)
        entry_status = DriverEntry(&driver_object, &registry_path);
    else
        driver_object.DriverUnload(&driver_object);
    /* The I/O manager checks this (Driver Verifier: a bug check). */
    irql = KeGetCurrentIrql();
    if (irql != PASSIVE_LEVEL)
        kshim_violation("%s returned at IRQL %d (must be PASSIVE_LEVEL)",
                        kind == CALL_ENTRY ? "DriverEntry" : "DriverUnload", (int)irql);
    pthread_mutex_lock(&lock);
    call_done = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static struct timespec abs_deadline(double monotonic_s)
{
    struct timespec ts;

    ts.tv_sec = (time_t)monotonic_s;
    ts.tv_nsec = (long)((monotonic_s - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static pthread_condattr_t monotonic_attr;

/* Runs DriverEntry or DriverUnload on a thread of its own; returns 1 when it
 * returned before deadline (monotonic seconds), 0 otherwise. */
static int driver_call(enum call_kind kind, double deadline)
{
    pthread_t t;
    int done, e;

    pthread_mutex_lock(&lock);
    call_done = 0;
    pthread_mutex_unlock(&lock);
    e = pthread_create(&t, NULL, driver_call_thread, (void *)(intptr_t)kind);
    if (e) {
        fail("cannot start a thread: %s", strerror(e));
        exit(HOSTRUN_EXIT_FAIL);
    }
    pthread_mutex_lock(&lock);
    while (!call_done) {
        struct timespec ts = abs_deadline(deadline);
        if (pthread_cond_timedwait(&changed, &lock, &ts) == ETIMEDOUT && !call_done)
            break;
    }
    done = call_done;
    pthread_mutex_unlock(&lock);
    if (done)
        pthread_join(t, NULL);
    return done;
}

/* ------------------------------------------------------------------ main */

enum wake { WAKE_UNTIL, WAKE_TIMEOUT, WAKE_REQUEST, WAKE_SIGNAL };

static enum wake wait_phase(void)
{
    double deadline = t_load + opt.timeout;
    enum wake why;

    pthread_mutex_lock(&lock);
    for (;;) {
        struct timespec ts;
        if (stop_signal) {
            why = WAKE_SIGNAL;
            break;
        }
        if (unload_requested) {
            why = WAKE_REQUEST;
            break;
        }
        if (until_matched) {
            why = WAKE_UNTIL;
            break;
        }
        if (now_s() >= deadline) {
            why = WAKE_TIMEOUT;
            break;
        }
        ts = abs_deadline(deadline);
        pthread_cond_timedwait(&changed, &lock, &ts);
    }
    pthread_mutex_unlock(&lock);
    return why;
}

static int current_stop_signal(void)
{
    int s;

    pthread_mutex_lock(&lock);
    s = stop_signal;
    pthread_mutex_unlock(&lock);
    return s;
}

/* The status to exit with once the driver is gone. */
static int final_status(void)
{
    int s = current_stop_signal();

    if (s)
        return 128 + s;
    return failures ? HOSTRUN_EXIT_FAIL : HOSTRUN_EXIT_OK;
}

static void after_unload(void)
{
    const char *name = opt.service;

    /* What Windows would do with a thread still running in an unloaded
     * image is a crash; here it is a failure, and its resources cannot be
     * counted yet. */
    if (!kshim_wait_threads(THREAD_EXIT_WAIT_MS)) {
        struct kshim_stats st;
        kshim_get_stats(&st);
        fail("%s: %ld system thread(s) still running %d ms after DriverUnload returned", name,
             (long)st.threads, THREAD_EXIT_WAIT_MS);
        kshim_check_leaks("after unload");
        exit_now(current_stop_signal() ? 128 + current_stop_signal() : HOSTRUN_EXIT_FAIL);
    }
    if (hostrun_provider_registered()) {
        fail("%s: the WSK provider still has a client registration after the unload "
             "(WskDeregister missing)",
             name);
    }
    /* With --no-leak-check the report is still printed (a test may assert
     * on a known leak), it only does not fail the run. */
    int kinds = kshim_check_leaks("after unload");
    if (kinds && opt.leak_check)
        fail("%s: %d kind(s) of objects left after the unload (kshim: LEAK lines above)", name,
             kinds);
    else if (kinds)
        hostrun_say("%s: %d kind(s) of objects left after the unload (--no-leak-check)", name,
                    kinds);
    else if (opt.verbose)
        hostrun_say("no leaks after the unload");
}

int main(int argc, char **argv)
{
    const char *name;
    double t0;
    enum wake why;

    parse_args(argc, argv);
    name = opt.service;
    setup_signals();
    pthread_condattr_init(&monotonic_attr);
    pthread_condattr_setclock(&monotonic_attr, CLOCK_MONOTONIC);
    pthread_cond_destroy(&changed);
    pthread_cond_init(&changed, &monotonic_attr);

    kshim_init();
    hostrun_print_config(opt.verbose);
    set_registry();
    make_registry_path();
    make_driver_object();
    kshim_set_log_hook(log_hook, NULL);

    /* ---- load ---- */
    t_load = now_s();
    if (!driver_call(CALL_ENTRY, t_load + opt.timeout)) {
        fail("%s: DriverEntry did not return within the --timeout of %g s", name, opt.timeout);
        exit_now(HOSTRUN_EXIT_FAIL);
    }
    free(registry_path.Buffer);
    registry_path.Buffer = NULL;
    if (!NT_SUCCESS(entry_status)) {
        fail("%s failed to load: DriverEntry returned 0x%08lX", name,
             (unsigned long)(ULONG)entry_status);
        /* A failed DriverEntry must undo what it did: Windows unloads the
         * image without calling DriverUnload. */
        if (!kshim_wait_threads(THREAD_EXIT_WAIT_MS)) {
            fail("%s: system threads still running after the failed DriverEntry", name);
            exit_now(HOSTRUN_EXIT_FAIL);
        }
        if (kshim_check_leaks("after the failed DriverEntry") && opt.leak_check)
            fail("%s: objects left after the failed DriverEntry (kshim: LEAK lines above)", name);
        kshim_set_log_hook(NULL, NULL);
        kshim_registry_clear();
        return final_status();
    }
    hostrun_say("loaded %s", name);
    if (opt.verbose)
        hostrun_say("%s: DriverEntry returned 0x%08lX after %.3f s", name,
                    (unsigned long)(ULONG)entry_status, now_s() - t_load);

    /* ---- run ---- */
    why = wait_phase();
    switch (why) {
    case WAKE_SIGNAL:
        hostrun_say("signal %d: unloading %s", current_stop_signal(), name);
        break;
    case WAKE_REQUEST:
        hostrun_say("unload requested (SIGUSR1)");
        break;
    case WAKE_TIMEOUT:
        if (opt.have_until)
            fail("--until '%s' never matched (timeout %g s)", opt.until_text, opt.timeout);
        else
            hostrun_say("timeout of %g s reached", opt.timeout);
        break;
    case WAKE_UNTIL:
        break;
    }

    /* ---- unload ---- */
    if (!driver_object.DriverUnload) {
        /* Windows refuses to stop such a driver (ERROR_INVALID_SERVICE_CONTROL). */
        fail("%s could not be unloaded: DriverEntry set no DriverUnload", name);
        exit_now(final_status());
    }
    t0 = now_s();
    if (!driver_call(CALL_UNLOAD, t0 + opt.unload_timeout)) {
        fail("%s did not unload within %g s (DriverUnload hangs?)", name, opt.unload_timeout);
        exit_now(current_stop_signal() ? 128 + current_stop_signal() : HOSTRUN_EXIT_FAIL);
    }
    hostrun_say("unloaded %s in %.2f s", name, now_s() - t0);
    after_unload();

    kshim_set_log_hook(NULL, NULL);
    kshim_registry_clear();
    if (opt.have_until)
        regfree(&opt.until);
    free(opt.params);
    return final_status();
}
