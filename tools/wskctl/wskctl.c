/*
 * wskctl - user-mode service controller run by tools/wskrun under Wine.
 *
 * wskrun starts this program as the first Wine process of a fresh prefix, so
 * that the kernel log of the drivers it loads (DbgPrint, shown by Wine's
 * "debugstr" channel) arrives on this process's stderr, which wskrun reads.
 *
 * Protocol: one command per line on stdin, one reply line per command on
 * stdout. Fields are separated by single spaces; each argument is UTF-8 text
 * in which any byte may be written as %XX (hex), so that names, values and
 * paths can hold spaces, '%' or line breaks ("%20", "%25", "%0A"). Commands:
 *
 *   hello                       -> "@wskctl ok hello"   (readiness check)
 *   param NAME KEY VALUE        -> sets the REG_SZ value KEY under
 *                                  HKLM\System\CurrentControlSet\Services\NAME\Parameters
 *   load NAME WINPATH           -> CreateServiceW(SERVICE_KERNEL_DRIVER,
 *                                  SERVICE_DEMAND_START, WINPATH) + StartServiceW
 *   status NAME                 -> "@wskctl ok status NAME <state-number> <STATE>"
 *   unload NAME TIMEOUT_MS      -> ControlService(STOP), wait up to TIMEOUT_MS
 *                                  for SERVICE_STOPPED, then DeleteService
 *   quit                        -> replies, then exits
 *
 * Replies start with "@wskctl ok " or "@wskctl err "; an error reply carries
 * the command, the service name, a keyword and the Win32 error code, e.g.
 * "@wskctl err load probe start 1053 ...". Every wait is bounded.
 * End of input is treated as "quit".
 */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 8192

static HANDLE g_out;

/* Writes one reply line (UTF-8) to stdout, unbuffered, without CRLF
 * translation. */
static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
    char buf[LINE_MAX_BYTES];
    int n = snprintf(buf, sizeof buf, "@wskctl ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 2, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    for (int i = 0; i < n; i++) /* keep the reply on one line */
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    buf[n++] = '\n';
    DWORD done = 0, off = 0;
    while (off < (DWORD)n && WriteFile(g_out, buf + off, (DWORD)n - off, &done, NULL) && done)
        off += done;
}

/* UTF-8 -> newly allocated UTF-16 string (NULL on failure). */
static WCHAR *widen(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    WCHAR *w = malloc((size_t)n * sizeof(WCHAR));
    if (w && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) <= 0) {
        free(w);
        w = NULL;
    }
    return w;
}

/* Splits off the next space-separated field of *rest (in place) and decodes
 * its %XX escapes (in place). Returns NULL when there is none. */
static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *next_field(char **rest)
{
    char *s = *rest;
    if (!s || !*s)
        return NULL;
    char *sp = strchr(s, ' ');
    if (sp) {
        *sp = '\0';
        *rest = sp + 1;
    } else {
        *rest = s + strlen(s);
    }
    char *o = s;
    for (const char *i = s; *i; i++) {
        int hi, lo;
        if (i[0] == '%' && (hi = hexval(i[1])) >= 0 && (lo = hexval(i[2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = *i;
        }
    }
    *o = '\0';
    return s;
}

static const char *state_name(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED:
        return "STOPPED";
    case SERVICE_START_PENDING:
        return "START_PENDING";
    case SERVICE_STOP_PENDING:
        return "STOP_PENDING";
    case SERVICE_RUNNING:
        return "RUNNING";
    case SERVICE_CONTINUE_PENDING:
        return "CONTINUE_PENDING";
    case SERVICE_PAUSE_PENDING:
        return "PAUSE_PENDING";
    case SERVICE_PAUSED:
        return "PAUSED";
    default:
        return "UNKNOWN";
    }
}

/* The service control manager. In a fresh Wine prefix services.exe may
 * not answer yet (or be restarting): RPC_S_SERVER_UNAVAILABLE (1722) is
 * retried for up to 10 s (seen once in ~300 runs under load). */
static SC_HANDLE open_scm(void)
{
    for (int tries = 0;; tries++) {
        SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
        if (scm || GetLastError() != RPC_S_SERVER_UNAVAILABLE || tries == 100)
            return scm;
        Sleep(100);
    }
}

static int query_state(SC_HANDLE svc, DWORD *state)
{
    SERVICE_STATUS st;
    if (!QueryServiceStatus(svc, &st))
        return 0;
    *state = st.dwCurrentState;
    return 1;
}

static void cmd_param(char *args)
{
    char *name = next_field(&args);
    char *key = next_field(&args);
    char *value = next_field(&args); /* may be missing: empty value */
    if (!name || !key || !*name || !*key) {
        reply("err param usage 0 expected: param NAME KEY VALUE");
        return;
    }
    char path[LINE_MAX_BYTES];
    snprintf(path, sizeof path, "System\\CurrentControlSet\\Services\\%s\\Parameters", name);
    WCHAR *wpath = widen(path), *wkey = widen(key), *wvalue = widen(value ? value : "");
    if (!wpath || !wkey || !wvalue) {
        reply("err param %s utf8 0 invalid UTF-8", name);
        goto out;
    }
    HKEY hk;
    LONG rc =
        RegCreateKeyExW(HKEY_LOCAL_MACHINE, wpath, 0, NULL, 0, KEY_SET_VALUE, NULL, &hk, NULL);
    if (rc != ERROR_SUCCESS) {
        reply("err param %s create %ld RegCreateKeyExW failed", name, rc);
        goto out;
    }
    rc = RegSetValueExW(hk, wkey, 0, REG_SZ, (const BYTE *)wvalue,
                        (DWORD)((wcslen(wvalue) + 1) * sizeof(WCHAR)));
    RegCloseKey(hk);
    if (rc != ERROR_SUCCESS)
        reply("err param %s set %ld RegSetValueExW failed", name, rc);
    else
        reply("ok param %s %s", name, key);
out:
    free(wpath);
    free(wkey);
    free(wvalue);
}

static void cmd_load(char *args)
{
    char *name = next_field(&args);
    char *path = next_field(&args);
    if (!name || !*name || !path || !*path) {
        reply("err load usage 0 expected: load NAME WINPATH");
        return;
    }
    WCHAR *wname = widen(name), *wpath = widen(path);
    SC_HANDLE scm = NULL, svc = NULL;
    if (!wname || !wpath) {
        reply("err load %s utf8 0 invalid UTF-8", name);
        goto out;
    }
    scm = open_scm();
    if (!scm) {
        reply("err load %s scm %lu OpenSCManagerW failed", name, GetLastError());
        goto out;
    }
    svc = CreateServiceW(scm, wname, wname, SERVICE_ALL_ACCESS, SERVICE_KERNEL_DRIVER,
                         SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL, wpath, NULL, NULL, NULL, NULL,
                         NULL);
    if (!svc) {
        reply("err load %s create %lu CreateServiceW failed", name, GetLastError());
        goto out;
    }
    if (!StartServiceW(svc, 0, NULL)) {
        DWORD err = GetLastError();
        DeleteService(svc);
        reply("err load %s start %lu StartServiceW failed", name, err);
        goto out;
    }
    DWORD state = 0;
    if (!query_state(svc, &state))
        state = 0;
    reply("ok load %s %lu %s", name, state, state_name(state));
out:
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    free(wname);
    free(wpath);
}

static void cmd_status(char *args)
{
    char *name = next_field(&args);
    if (!name || !*name) {
        reply("err status usage 0 expected: status NAME");
        return;
    }
    WCHAR *wname = widen(name);
    SC_HANDLE scm = open_scm(), svc = NULL;
    DWORD state;
    if (!wname || !scm) {
        reply("err status %s scm %lu OpenSCManagerW failed", name, GetLastError());
        goto out;
    }
    svc = OpenServiceW(scm, wname, SERVICE_QUERY_STATUS);
    if (!svc) {
        reply("err status %s open %lu OpenServiceW failed", name, GetLastError());
        goto out;
    }
    if (!query_state(svc, &state)) {
        reply("err status %s query %lu QueryServiceStatus failed", name, GetLastError());
        goto out;
    }
    reply("ok status %s %lu %s", name, state, state_name(state));
out:
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    free(wname);
}

/* ControlService(STOP) runs on its own thread so that a DriverUnload that
 * never returns cannot block the controller. */
struct stop_req {
    SC_HANDLE svc;
    BOOL ok;
    DWORD err;
};

static DWORD WINAPI stop_thread(LPVOID arg)
{
    struct stop_req *r = arg;
    SERVICE_STATUS st;
    r->ok = ControlService(r->svc, SERVICE_CONTROL_STOP, &st);
    r->err = r->ok ? 0 : GetLastError();
    return 0;
}

static void cmd_unload(char *args)
{
    char *name = next_field(&args);
    char *ms = next_field(&args);
    if (!name || !*name) {
        reply("err unload usage 0 expected: unload NAME [TIMEOUT_MS]");
        return;
    }
    DWORD timeout = ms && *ms ? (DWORD)strtoul(ms, NULL, 10) : 15000;
    WCHAR *wname = widen(name);
    SC_HANDLE scm = open_scm(), svc = NULL;
    DWORD state = 0;
    ULONGLONG t0 = GetTickCount64();
    if (!wname || !scm) {
        reply("err unload %s scm %lu OpenSCManagerW failed", name, GetLastError());
        goto out;
    }
    svc = OpenServiceW(scm, wname, SERVICE_ALL_ACCESS);
    if (!svc) {
        reply("err unload %s open %lu OpenServiceW failed", name, GetLastError());
        goto out;
    }
    if (query_state(svc, &state) && state == SERVICE_STOPPED) {
        DeleteService(svc);
        reply("err unload %s stopped 0 service was already stopped", name);
        goto out;
    }
    /* The request lives on the heap: if the stop call never returns, the
     * thread keeps using it after this function has replied. */
    struct stop_req *req = calloc(1, sizeof *req);
    if (!req) {
        reply("err unload %s nomem 0 out of memory", name);
        goto out;
    }
    req->svc = svc;
    HANDLE th = CreateThread(NULL, 0, stop_thread, req, 0, NULL);
    if (!th) {
        reply("err unload %s thread %lu CreateThread failed", name, GetLastError());
        free(req);
        goto out;
    }
    DWORD w = WaitForSingleObject(th, timeout);
    CloseHandle(th);
    if (w != WAIT_OBJECT_0) {
        /* Leak req and svc on purpose: the stuck thread still owns them. */
        svc = NULL;
        reply("err unload %s timeout 0 ControlService(STOP) did not return within %lu ms", name,
              timeout);
        goto out;
    }
    BOOL ok = req->ok;
    DWORD err = req->err;
    free(req);
    /* Wine's services.exe stops waiting for the driver's answer after 10 s
     * (1053): keep polling the state until our own bound. A broken pipe means
     * the driver's host process (winedevice.exe) is gone. */
    if (!ok && err != ERROR_SERVICE_NOT_ACTIVE && err != ERROR_SERVICE_REQUEST_TIMEOUT) {
        const char *kw = "stop";
        if (err == ERROR_NO_DATA || err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED)
            kw = "gone";
        reply("err unload %s %s %lu ControlService(STOP) failed", name, kw, err);
        goto out;
    }
    for (;;) {
        if (!query_state(svc, &state)) {
            reply("err unload %s query %lu QueryServiceStatus failed", name, GetLastError());
            goto out;
        }
        if (state == SERVICE_STOPPED)
            break;
        if (GetTickCount64() - t0 >= timeout) {
            reply("err unload %s timeout 0 still %s after %lu ms", name, state_name(state),
                  timeout);
            goto out;
        }
        Sleep(20);
    }
    if (!DeleteService(svc)) {
        reply("err unload %s delete %lu DeleteService failed", name, GetLastError());
        goto out;
    }
    reply("ok unload %s %llu", name, (unsigned long long)(GetTickCount64() - t0));
out:
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    free(wname);
}

/* Returns 0 when the controller should exit. */
static int dispatch(char *line)
{
    char *rest = line;
    char *cmd = next_field(&rest);
    if (!cmd || !*cmd)
        return 1;
    if (!strcmp(cmd, "hello"))
        reply("ok hello");
    else if (!strcmp(cmd, "param"))
        cmd_param(rest);
    else if (!strcmp(cmd, "load"))
        cmd_load(rest);
    else if (!strcmp(cmd, "status"))
        cmd_status(rest);
    else if (!strcmp(cmd, "unload"))
        cmd_unload(rest);
    else if (!strcmp(cmd, "quit")) {
        reply("ok quit");
        return 0;
    } else
        reply("err %s unknown 0 unknown command", cmd);
    return 1;
}

int wmain(int argc, WCHAR **argv);
int wmain(int argc, WCHAR **argv)
{
    (void)argc;
    (void)argv;
    g_out = GetStdHandle(STD_OUTPUT_HANDLE);
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    static char line[LINE_MAX_BYTES];
    size_t len = 0;
    int running = 1, overflow = 0;
    while (running) {
        char buf[512];
        DWORD got = 0;
        if (!ReadFile(in, buf, sizeof buf, &got, NULL) || got == 0)
            break; /* end of input: quit */
        for (DWORD i = 0; i < got && running; i++) {
            char c = buf[i];
            if (c == '\n') {
                if (len && line[len - 1] == '\r')
                    len--;
                line[len] = '\0';
                if (overflow)
                    reply("err line toolong 0 command line too long");
                else
                    running = dispatch(line);
                len = 0;
                overflow = 0;
            } else if (len + 1 < sizeof line) {
                line[len++] = c;
            } else {
                overflow = 1;
            }
        }
    }
    return 0;
}
