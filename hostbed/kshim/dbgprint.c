/*
 * dbgprint.c - DbgPrint, DbgPrintEx and vDbgPrintEx with the Windows
 * kernel's format semantics (LLP64: 'l' is 32 bits; 'll' and 'I64' are 64;
 * 'I', 'z' and 't' are pointer-sized; %ws/%ls/%S are UTF-16 strings, %wZ a
 * PUNICODE_STRING, %Z a PANSI_STRING; %p is 16 upper-case hex digits).
 * Each conversion is parsed here and handed alone to snprintf with the
 * right argument type.
 *
 * Output is assembled per thread and emitted by whole lines on stdout
 * (flushed, no prefix) and to the log hook, so lines of different threads
 * never mix; an unfinished line is kept until its newline arrives (or the
 * thread ends, or the process exits). DbgPrintEx prints every level: the Windows debug filter
 * would hide most of them and a test bed wants them all.
 */
#include "kshim_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct out {
    char *buf;
    size_t len, cap;
};

static pthread_mutex_t emit_lock = PTHREAD_MUTEX_INITIALIZER;
static kshim_log_hook *log_hook;
static void *log_context;

static pthread_key_t line_key;
static pthread_once_t line_once = PTHREAD_ONCE_INIT;

void kshim_set_log_hook(kshim_log_hook *hook, void *context)
{
    pthread_mutex_lock(&emit_lock);
    log_hook = hook;
    log_context = context;
    pthread_mutex_unlock(&emit_lock);
}

static void put(struct out *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        char *b;
        while (cap < o->len + n + 1)
            cap *= 2;
        b = realloc(o->buf, cap);
        if (b == NULL)
            return; /* out of memory: the text is lost, as DbgPrint may lose it */
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/* Appends one conversion, spec being a complete C format ("%-8s", ...). */
__attribute__((format(printf, 2, 3))) static void putf(struct out *o, const char *spec, ...)
{
    char small[128];
    va_list ap;
    int n;

    va_start(ap, spec);
    n = vsnprintf(small, sizeof(small), spec, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        put(o, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return;
    va_start(ap, spec);
    vsnprintf(big, (size_t)n + 1, spec, ap);
    va_end(ap);
    put(o, big, (size_t)n);
    free(big);
}

/* A string argument after conversion to UTF-8, with the conversion's flags,
 * width and precision (precision counts source characters, as Windows). */
static void put_string(struct out *o, const char *flags, int width, int precision, const char *s)
{
    char spec[32];
    snprintf(spec, sizeof(spec), "%%%s*.*s", flags);
    /* The spec is built at run time from parsed flags only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    putf(o, spec, width < 0 ? 0 : width, precision < 0 ? (int)strlen(s) : precision, s);
#pragma GCC diagnostic pop
}

static void put_wide(struct out *o, const char *flags, int width, int precision, const WCHAR *w,
                     size_t n)
{
    char *s;
    if (precision >= 0 && (size_t)precision < n)
        n = (size_t)precision;
    s = kshim_utf16_to_utf8(w, n);
    if (s != NULL) {
        put_string(o, flags, width, -1, s);
        free(s);
    }
}

static size_t wide_length(const WCHAR *w, int precision)
{
    size_t n = 0;
    while ((precision < 0 || n < (size_t)precision) && w[n] != 0)
        n++;
    return n;
}

enum size { SZ_DEFAULT, SZ_CHAR, SZ_SHORT, SZ_LONG, SZ_64, SZ_PTR, SZ_WIDE };

static void format(struct out *o, const char *fmt, va_list ap)
{
    while (*fmt != '\0') {
        const char *start = fmt;
        char flags[8], spec[64];
        size_t nflags = 0;
        int width = -1, precision = -1;
        enum size size = SZ_DEFAULT;
        char conv;

        if (*fmt != '%') {
            while (*fmt != '\0' && *fmt != '%')
                fmt++;
            put(o, start, (size_t)(fmt - start));
            continue;
        }
        fmt++;
        while (*fmt != '\0' && strchr("-+ #0", *fmt) != NULL) {
            if (nflags < sizeof(flags) - 1)
                flags[nflags++] = *fmt;
            fmt++;
        }
        flags[nflags] = '\0';
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) { /* a negative width means '-' */
                width = -width;
                if (nflags < sizeof(flags) - 1) {
                    flags[nflags++] = '-';
                    flags[nflags] = '\0';
                }
            }
            fmt++;
        } else if (*fmt >= '0' && *fmt <= '9') {
            width = 0;
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            precision = 0;
            if (*fmt == '*') {
                precision = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    precision = precision * 10 + (*fmt++ - '0');
            }
        }
        /* Length modifiers, Microsoft's included. */
        if (fmt[0] == 'I' && fmt[1] == '6' && fmt[2] == '4') {
            size = SZ_64;
            fmt += 3;
        } else if (fmt[0] == 'I' && fmt[1] == '3' && fmt[2] == '2') {
            size = SZ_LONG;
            fmt += 3;
        } else if (fmt[0] == 'I' || fmt[0] == 'z' || fmt[0] == 't') {
            size = SZ_PTR;
            fmt++;
        } else if (fmt[0] == 'j') {
            size = SZ_64;
            fmt++;
        } else if (fmt[0] == 'l' && fmt[1] == 'l') {
            size = SZ_64;
            fmt += 2;
        } else if (fmt[0] == 'l') {
            size = SZ_LONG;
            fmt++;
        } else if (fmt[0] == 'h' && fmt[1] == 'h') {
            size = SZ_CHAR;
            fmt += 2;
        } else if (fmt[0] == 'h') {
            size = SZ_SHORT;
            fmt++;
        } else if (fmt[0] == 'w') {
            size = SZ_WIDE;
            fmt++;
        }
        conv = *fmt;
        if (conv == '\0') {
            put(o, start, strlen(start)); /* a lone '%' at the end: literal */
            break;
        }
        fmt++;

        /* The conversion for snprintf: flags, width and precision resolved. */
        {
            int n = snprintf(spec, sizeof(spec), "%%%s", flags);
            if (width >= 0)
                n += snprintf(spec + n, sizeof(spec) - (size_t)n, "%d", width);
            if (precision >= 0)
                n += snprintf(spec + n, sizeof(spec) - (size_t)n, ".%d", precision);
            spec[n] = '\0';
        }
        /* Appends length letters and the conversion to spec. */
#define SPEC(suffix) strcat(spec, suffix)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        switch (conv) {
        case 'd':
        case 'i':
            switch (size) {
            case SZ_64:
            case SZ_PTR:
                SPEC("lld");
                putf(o, spec, (long long)va_arg(ap, long long));
                break;
            case SZ_SHORT:
                SPEC("hd");
                putf(o, spec, (short)va_arg(ap, int));
                break;
            case SZ_CHAR:
                SPEC("hhd");
                putf(o, spec, (signed char)va_arg(ap, int));
                break;
            default: /* int, and 'l': LONG is 32 bits */
                SPEC("d");
                putf(o, spec, va_arg(ap, int));
                break;
            }
            break;
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            char c[4] = {'l', 'l', conv, '\0'};
            switch (size) {
            case SZ_64:
            case SZ_PTR:
                SPEC(c);
                putf(o, spec, (unsigned long long)va_arg(ap, unsigned long long));
                break;
            case SZ_SHORT:
                c[1] = 'h';
                SPEC(c + 1);
                putf(o, spec, (unsigned short)va_arg(ap, unsigned int));
                break;
            case SZ_CHAR:
                c[0] = c[1] = 'h';
                SPEC(c);
                putf(o, spec, (unsigned char)va_arg(ap, unsigned int));
                break;
            default:
                SPEC(c + 2);
                putf(o, spec, va_arg(ap, unsigned int));
                break;
            }
            break;
        }
        case 'p': {
            /* Windows prints a pointer as 16 upper-case hex digits. */
            char digits[20];
            snprintf(digits, sizeof(digits), "%016llX",
                     (unsigned long long)(uintptr_t)va_arg(ap, void *));
            put_string(o, flags, width, -1, digits);
            break;
        }
        case 'c':
        case 'C':
            if (size == SZ_WIDE || size == SZ_LONG || (conv == 'C' && size != SZ_SHORT)) {
                WCHAR w = (WCHAR)va_arg(ap, int);
                put_wide(o, flags, width, -1, &w, 1);
            } else {
                SPEC("c");
                putf(o, spec, (char)va_arg(ap, int));
            }
            break;
        case 's':
        case 'S':
            if (size == SZ_WIDE || size == SZ_LONG || (conv == 'S' && size != SZ_SHORT)) {
                const WCHAR *w = va_arg(ap, const WCHAR *);
                if (w == NULL)
                    put_string(o, flags, width, precision, "(null)");
                else
                    put_wide(o, flags, width, precision, w, wide_length(w, precision));
            } else {
                const char *s = va_arg(ap, const char *);
                put_string(o, flags, width, precision, s != NULL ? s : "(null)");
            }
            break;
        case 'Z':
            if (size == SZ_WIDE) {
                const UNICODE_STRING *u = va_arg(ap, const UNICODE_STRING *);
                if (u == NULL || u->Buffer == NULL)
                    put_string(o, flags, width, precision, "(null)");
                else
                    put_wide(o, flags, width, precision, u->Buffer, u->Length / sizeof(WCHAR));
            } else {
                const ANSI_STRING *a = va_arg(ap, const ANSI_STRING *);
                if (a == NULL || a->Buffer == NULL) {
                    put_string(o, flags, width, precision, "(null)");
                } else {
                    int n = a->Length;
                    if (precision >= 0 && precision < n)
                        n = precision;
                    snprintf(spec, sizeof(spec), "%%%s*.*s", flags);
                    putf(o, spec, width < 0 ? 0 : width, n, a->Buffer);
                }
            }
            break;
        case '%':
            put(o, "%", 1);
            break;
        default: /* unsupported (%n, floating point): printed as written */
            put(o, start, (size_t)(fmt - start));
            break;
        }
#pragma GCC diagnostic pop
#undef SPEC
    }
}

/* ---- per-thread lines ---- */

static void emit(const char *line, size_t n)
{
    kshim_log_hook *hook;
    void *context;
    pthread_mutex_lock(&emit_lock);
    fwrite(line, 1, n, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    hook = log_hook;
    context = log_context;
    pthread_mutex_unlock(&emit_lock);
    if (hook != NULL) {
        char *copy = strndup(line, n);
        if (copy != NULL) {
            hook(copy, context);
            free(copy);
        }
    }
}

static void line_destroy(void *p)
{
    struct out *o = p;
    if (o->len > 0)
        emit(o->buf, o->len);
    free(o->buf);
    free(o);
}

/* The thread that calls exit() (usually main) ends without running key
 * destructors: its unfinished line is emitted here. */
static void flush_at_exit(void)
{
    kshim_dbgprint_flush_thread();
}

static void line_key_init(void)
{
    pthread_key_create(&line_key, line_destroy);
    atexit(flush_at_exit);
}

static struct out *thread_line(BOOLEAN create)
{
    struct out *o;
    pthread_once(&line_once, line_key_init);
    o = pthread_getspecific(line_key);
    if (o == NULL && create) {
        o = calloc(1, sizeof(*o));
        if (o != NULL)
            pthread_setspecific(line_key, o);
    }
    return o;
}

void kshim_dbgprint_flush_thread(void)
{
    struct out *o = thread_line(FALSE);
    if (o != NULL && o->len > 0) {
        emit(o->buf, o->len);
        o->len = 0;
    }
}

ULONG vDbgPrintEx(ULONG component_id, ULONG level, PCSTR fmt, va_list ap)
{
    struct out *o = thread_line(TRUE);
    size_t done = 0;
    char *nl;
    (void)component_id;
    (void)level;
    if (o == NULL || fmt == NULL)
        return STATUS_SUCCESS;
    format(o, fmt, ap);
    /* Emit every complete line; keep the rest for the next call. */
    while (o->buf != NULL && (nl = memchr(o->buf + done, '\n', o->len - done)) != NULL) {
        emit(o->buf + done, (size_t)(nl - (o->buf + done)));
        done = (size_t)(nl - o->buf) + 1;
    }
    if (done > 0) {
        memmove(o->buf, o->buf + done, o->len - done);
        o->len -= done;
        o->buf[o->len] = '\0';
    }
    return STATUS_SUCCESS;
}

ULONG DbgPrint(PCSTR fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vDbgPrintEx(0, DPFLTR_INFO_LEVEL, fmt, ap);
    va_end(ap);
    return STATUS_SUCCESS;
}

ULONG DbgPrintEx(ULONG component_id, ULONG level, PCSTR fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vDbgPrintEx(component_id, level, fmt, ap);
    va_end(ap);
    return STATUS_SUCCESS;
}
