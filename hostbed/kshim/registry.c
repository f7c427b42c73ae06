/*
 * registry.c - an in-memory registry: keys named by absolute paths
 * (case-insensitive for ASCII letters, as the registry is), filled by tests
 * and the host runner through kshim_registry_set / kshim_registry_create_key,
 * read by ZwOpenKey and ZwQueryValueKey (KeyValuePartialInformation only).
 * Names are kept as UTF-8; REG_SZ data as UTF-16LE with its terminator.
 * A key handle names a small object holding the key's path, so clearing the
 * registry never leaves a handle dangling (queries then find no value).
 */
#include "kshim_internal.h"

#include <stdlib.h>
#include <strings.h>

struct value {
    struct value *next;
    char *name;
    ULONG type;
    ULONG length;
    UCHAR *data;
};

struct key {
    struct key *next;
    char *path;
    struct value *values;
};

struct key_object {
    struct kshim_object ob;
    char *path;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct key *keys;

/* Path comparison: ASCII case-insensitive; a trailing backslash ignored. */
static size_t path_length(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '\\')
        n--;
    return n;
}

static int same_path(const char *a, const char *b)
{
    size_t n = path_length(a);
    return n == path_length(b) && strncasecmp(a, b, n) == 0;
}

static struct key *find_key(const char *path)
{
    for (struct key *k = keys; k != NULL; k = k->next)
        if (same_path(k->path, path))
            return k;
    return NULL;
}

static struct key *get_key(const char *path)
{
    struct key *k = find_key(path);
    if (k != NULL)
        return k;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->path = strdup(path);
    if (k->path == NULL) {
        free(k);
        return NULL;
    }
    k->next = keys;
    keys = k;
    return k;
}

static void free_value(struct value *v)
{
    free(v->name);
    free(v->data);
    free(v);
}

int kshim_registry_create_key(const char *key_path)
{
    struct key *k;
    if (key_path == NULL || key_path[0] != '\\')
        return -1;
    pthread_mutex_lock(&reg_lock);
    k = get_key(key_path);
    pthread_mutex_unlock(&reg_lock);
    return k != NULL ? 0 : -1;
}

int kshim_registry_set(const char *key_path, const char *value_name, ULONG type, const void *data,
                       ULONG length)
{
    struct value *v, **link;
    struct key *k;
    UCHAR *copy;
    ULONG size;

    if (key_path == NULL || key_path[0] != '\\' || value_name == NULL ||
        (data == NULL && length > 0))
        return -1;
    BOOLEAN raw = (type & KSHIM_REG_RAW) != 0;
    type &= ~KSHIM_REG_RAW;
    if (!raw && (type == REG_SZ || type == REG_EXPAND_SZ)) {
        size_t units;
        char *text = strndup(data != NULL ? data : "", length);
        WCHAR *w = text != NULL ? kshim_utf8_to_utf16(text, &units) : NULL;
        free(text);
        if (w == NULL)
            return -1;
        copy = (UCHAR *)w;
        size = (ULONG)((units + 1) * sizeof(WCHAR));
    } else {
        if (type == REG_DWORD && length != 4)
            return -1;
        copy = malloc(length ? length : 1);
        if (copy == NULL)
            return -1;
        if (length)
            memcpy(copy, data, length);
        size = length;
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL || (v->name = strdup(value_name)) == NULL) {
        free(v);
        free(copy);
        return -1;
    }
    v->type = type;
    v->data = copy;
    v->length = size;

    pthread_mutex_lock(&reg_lock);
    k = get_key(key_path);
    if (k == NULL) {
        pthread_mutex_unlock(&reg_lock);
        free_value(v);
        return -1;
    }
    for (link = &k->values; *link != NULL; link = &(*link)->next) {
        if (strcasecmp((*link)->name, value_name) == 0) {
            struct value *old = *link;
            v->next = old->next;
            *link = v;
            pthread_mutex_unlock(&reg_lock);
            free_value(old);
            return 0;
        }
    }
    v->next = k->values;
    k->values = v;
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

void kshim_registry_clear(void)
{
    pthread_mutex_lock(&reg_lock);
    while (keys != NULL) {
        struct key *k = keys;
        keys = k->next;
        while (k->values != NULL) {
            struct value *v = k->values;
            k->values = v->next;
            free_value(v);
        }
        free(k->path);
        free(k);
    }
    pthread_mutex_unlock(&reg_lock);
}

static void destroy_key_object(struct kshim_object *o)
{
    struct key_object *ko = CONTAINING_RECORD(o, struct key_object, ob);
    free(ko->path);
    free(ko);
}

static char *unicode_to_utf8(const UNICODE_STRING *u)
{
    if (u == NULL || (u->Buffer == NULL && u->Length > 0))
        return NULL;
    return kshim_utf16_to_utf8(u->Buffer, u->Length / sizeof(WCHAR));
}

/* ZwOpenKey (wdm.h): PASSIVE_LEVEL; STATUS_OBJECT_NAME_NOT_FOUND for a key
 * that does not exist. The shim takes absolute names only. */
NTSTATUS ZwOpenKey(PHANDLE key_handle, ACCESS_MASK desired_access,
                   POBJECT_ATTRIBUTES object_attributes)
{
    struct key_object *ko;
    char *path;
    BOOLEAN found;
    HANDLE h;
    (void)desired_access;

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("ZwOpenKey at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    if (key_handle == NULL || object_attributes == NULL)
        kshim_violation("ZwOpenKey without a handle pointer or object attributes");
    if (object_attributes->RootDirectory != NULL)
        kshim_violation("ZwOpenKey: the shim supports absolute names only "
                        "(RootDirectory must be NULL)");
    if (kshim_fault("registry.open"))
        return STATUS_INSUFFICIENT_RESOURCES;
    path = unicode_to_utf8(object_attributes->ObjectName);
    if (path == NULL)
        return STATUS_INVALID_PARAMETER;
    if (path[0] != '\\') {
        free(path);
        return STATUS_OBJECT_PATH_NOT_FOUND;
    }
    pthread_mutex_lock(&reg_lock);
    found = find_key(path) != NULL;
    pthread_mutex_unlock(&reg_lock);
    if (!found) {
        free(path);
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    ko = calloc(1, sizeof(*ko));
    if (ko == NULL) {
        free(path);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ko->ob.magic = KSHIM_MAGIC_OBJECT; /* Header.Magic stays 0: not waitable */
    ko->ob.kind = KSHIM_KIND_KEY;
    ko->ob.destroy = destroy_key_object;
    ko->path = path;
    h = kshim_handle_create(&ko->ob);
    if (h == NULL) {
        destroy_key_object(&ko->ob);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *key_handle = h;
    return STATUS_SUCCESS;
}

/* ZwQueryValueKey (wdm.h), KeyValuePartialInformation: *ResultLength is the
 * size needed; STATUS_BUFFER_TOO_SMALL when the fixed part does not fit
 * (nothing written), STATUS_BUFFER_OVERFLOW when the data does not (the
 * fixed part and as much data as fits are written). */
NTSTATUS ZwQueryValueKey(HANDLE key_handle, PUNICODE_STRING value_name,
                         KEY_VALUE_INFORMATION_CLASS information_class, PVOID key_value_information,
                         ULONG length, PULONG result_length)
{
    const ULONG fixed = (ULONG)FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data);
    struct kshim_object *o;
    struct key_object *ko;
    KEY_VALUE_PARTIAL_INFORMATION *info = key_value_information;
    struct value *v = NULL;
    struct key *k;
    NTSTATUS status;
    ULONG needed, copy;
    char *name;

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("ZwQueryValueKey at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    o = kshim_handle_lookup(key_handle);
    if (o == NULL)
        return STATUS_INVALID_HANDLE;
    if (o->kind != KSHIM_KIND_KEY)
        return STATUS_OBJECT_TYPE_MISMATCH;
    if (information_class != KeyValuePartialInformation || result_length == NULL)
        return STATUS_INVALID_PARAMETER;
    ko = CONTAINING_RECORD(o, struct key_object, ob);
    name = unicode_to_utf8(value_name);
    if (name == NULL)
        return STATUS_INVALID_PARAMETER;

    pthread_mutex_lock(&reg_lock);
    k = find_key(ko->path);
    for (v = k != NULL ? k->values : NULL; v != NULL; v = v->next)
        if (strcasecmp(v->name, name) == 0)
            break;
    free(name);
    if (v == NULL) {
        pthread_mutex_unlock(&reg_lock);
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    needed = fixed + v->length;
    *result_length = needed;
    if (length < fixed) {
        status = STATUS_BUFFER_TOO_SMALL;
    } else {
        info->TitleIndex = 0;
        info->Type = v->type;
        info->DataLength = v->length;
        copy = v->length;
        status = STATUS_SUCCESS;
        if (length < needed) {
            copy = length - fixed;
            status = STATUS_BUFFER_OVERFLOW;
        }
        memcpy((UCHAR *)info + fixed, v->data, copy);
    }
    pthread_mutex_unlock(&reg_lock);
    return status;
}
