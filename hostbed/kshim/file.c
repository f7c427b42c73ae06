/*
 * file.c - reading files: ZwCreateFile (existing regular files, read-only,
 * synchronous), ZwReadFile and ZwQueryInformationFile over the Linux file
 * system, the NT names mapped to paths as under Wine ("\??\Z:\tmp\x" is
 * /tmp/x; drive C: is the directory KSHIM_DRIVE_C names). ntddk.h has the
 * rules. A file handle names a small object holding the descriptor, the
 * access granted and the current position (behind a lock: Windows
 * serialises the I/O of a synchronous file object); ZwClose drops it and
 * with it the descriptor. Handles count as open handles (thread.c).
 */
#include "kshim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_object {
    struct kshim_object ob;
    pthread_mutex_t lock; /* position, and one read at a time */
    int fd;
    ACCESS_MASK access; /* granted: generic rights mapped */
    LONGLONG position;
};

/* What the shim grants: read rights. Anything that could change the file
 * or its security is denied. */
#define WRITE_RIGHTS                                                                               \
    (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES |                  \
     FILE_DELETE_CHILD | DELETE | WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY |               \
     GENERIC_WRITE | GENERIC_ALL)
#define SUPPORTED_OPTIONS                                                                          \
    (FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE |          \
     FILE_SEQUENTIAL_ONLY | FILE_RANDOM_ACCESS | FILE_WRITE_THROUGH | FILE_COMPLETE_IF_OPLOCKED |  \
     FILE_NO_EA_KNOWLEDGE | FILE_OPEN_FOR_BACKUP_INTENT)

static void destroy_file_object(struct kshim_object *o)
{
    struct file_object *fo = CONTAINING_RECORD(o, struct file_object, ob);
    if (fo->fd >= 0)
        close(fo->fd);
    pthread_mutex_destroy(&fo->lock);
    free(fo);
}

/* The generic rights as a file's specific ones (the I/O manager's mapping). */
static ACCESS_MASK map_access(ACCESS_MASK a)
{
    ACCESS_MASK m = a & ~(GENERIC_READ | GENERIC_EXECUTE | MAXIMUM_ALLOWED);
    if (a & (GENERIC_READ | MAXIMUM_ALLOWED))
        m |= FILE_GENERIC_READ;
    if (a & GENERIC_EXECUTE)
        m |= FILE_GENERIC_EXECUTE;
    return m;
}

/* ASCII case-insensitive prefix: the length of prefix if s starts with it. */
static size_t has_prefix(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncasecmp(s, prefix, n) == 0 ? n : 0;
}

/* The Linux path of an NT name (UTF-8), malloc'd, or NULL with *status. */
static char *linux_path(const char *name, NTSTATUS *status)
{
    const char *rest, *root;
    size_t skip, root_len, at;
    char *path;

    *status = STATUS_OBJECT_PATH_NOT_FOUND;
    skip = has_prefix(name, "\\??\\");
    if (skip == 0)
        skip = has_prefix(name, "\\DosDevices\\");
    if (skip == 0)
        return NULL;
    rest = name + skip;
    /* A drive letter, a colon and an absolute path on it. */
    if (!((rest[0] >= 'A' && rest[0] <= 'Z') || (rest[0] >= 'a' && rest[0] <= 'z')) ||
        rest[1] != ':' || rest[2] != '\\')
        return NULL;
    if (rest[0] == 'Z' || rest[0] == 'z') {
        root = "";
    } else if (rest[0] == 'C' || rest[0] == 'c') {
        root = getenv("KSHIM_DRIVE_C");
        if (root == NULL || root[0] == '\0')
            return NULL;
    } else {
        return NULL;
    }
    rest += 2; /* at the backslash */

    /* Components: not empty (but for the root itself), not "." or "..",
     * no character Windows file systems refuse in names. */
    *status = STATUS_OBJECT_NAME_INVALID;
    if (rest[1] != '\0') {
        for (const char *c = rest; *c != '\0';) {
            const char *end = strchr(c + 1, '\\');
            size_t n = end != NULL ? (size_t)(end - c - 1) : strlen(c + 1);
            if (n == 0 || (n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
                return NULL;
            for (size_t i = 1; i <= n; i++)
                if ((unsigned char)c[i] < 0x20 || strchr("/:*?\"<>|", c[i]) != NULL)
                    return NULL;
            c += n + 1;
        }
    }

    root_len = strlen(root);
    while (root_len > 0 && root[root_len - 1] == '/')
        root_len--;
    path = malloc(root_len + strlen(rest) + 1);
    if (path == NULL) {
        *status = STATUS_INSUFFICIENT_RESOURCES;
        return NULL;
    }
    memcpy(path, root, root_len);
    at = root_len;
    for (const char *c = rest; *c != '\0'; c++)
        path[at++] = (char)(*c == '\\' ? '/' : *c);
    path[at] = '\0';
    *status = STATUS_SUCCESS;
    return path;
}

/* ENOENT: the file itself is missing (its directory exists) or a directory
 * on the way is. */
static NTSTATUS missing_status(const char *path)
{
    const char *slash = strrchr(path, '/');
    struct stat st;
    char *dir;
    NTSTATUS status = STATUS_OBJECT_PATH_NOT_FOUND;

    if (slash == NULL)
        return status;
    dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
    if (dir == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        status = STATUS_OBJECT_NAME_NOT_FOUND;
    free(dir);
    return status;
}

static NTSTATUS open_status(int error, const char *path)
{
    switch (error) {
    case ENOENT:
        return missing_status(path);
    case ENOTDIR:
    case ELOOP:
        return STATUS_OBJECT_PATH_NOT_FOUND;
    case EACCES:
    case EPERM:
        return STATUS_ACCESS_DENIED;
    case ENAMETOOLONG:
        return STATUS_OBJECT_NAME_INVALID;
    case EMFILE:
    case ENFILE:
        return STATUS_TOO_MANY_OPENED_FILES;
    case ENOMEM:
        return STATUS_INSUFFICIENT_RESOURCES;
    default:
        return STATUS_UNEXPECTED_IO_ERROR;
    }
}

/* ZwCreateFile (wdm.h): PASSIVE_LEVEL. The checks of the I/O manager's
 * parameters come first (STATUS_INVALID_PARAMETER), then what the shim
 * supports, then the name. */
NTSTATUS ZwCreateFile(PHANDLE file_handle, ACCESS_MASK desired_access,
                      POBJECT_ATTRIBUTES object_attributes, PIO_STATUS_BLOCK io_status_block,
                      PLARGE_INTEGER allocation_size, ULONG file_attributes, ULONG share_access,
                      ULONG create_disposition, ULONG create_options, PVOID ea_buffer,
                      ULONG ea_length)
{
    const ULONG sync = FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT;
    const UNICODE_STRING *u;
    struct file_object *fo;
    struct stat st;
    NTSTATUS status;
    char *name, *path;
    HANDLE h;
    int fd;
    (void)allocation_size; /* for files created or overwritten only */
    (void)file_attributes; /* likewise */

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("ZwCreateFile at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    if (file_handle == NULL || object_attributes == NULL || io_status_block == NULL)
        kshim_violation("ZwCreateFile without a handle pointer, object attributes or an I/O "
                        "status block");
    if (object_attributes->RootDirectory != NULL)
        kshim_violation("ZwCreateFile: the shim supports absolute names only "
                        "(RootDirectory must be NULL)");

    /* The documented parameter rules. */
    if ((create_options & ~(ULONG)FILE_VALID_OPTION_FLAGS) != 0 ||
        (create_options & sync) == sync ||
        ((create_options & sync) != 0 && !(desired_access & SYNCHRONIZE)) ||
        (create_options & (FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE)) ==
            (FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE) ||
        create_disposition > FILE_MAXIMUM_DISPOSITION ||
        (share_access & ~(ULONG)FILE_SHARE_VALID_FLAGS) != 0 ||
        (ea_buffer == NULL && ea_length != 0))
        return STATUS_INVALID_PARAMETER;
    /* What the shim's read-only, synchronous files are. */
    if (create_disposition != FILE_OPEN || (desired_access & WRITE_RIGHTS) != 0)
        return STATUS_ACCESS_DENIED;
    if ((create_options & sync) == 0 || (create_options & ~(ULONG)SUPPORTED_OPTIONS) != 0 ||
        ea_buffer != NULL)
        return STATUS_NOT_SUPPORTED;

    if (kshim_fault("file.open"))
        return STATUS_INSUFFICIENT_RESOURCES;
    u = object_attributes->ObjectName;
    if (u == NULL || u->Length == 0 || u->Buffer == NULL || u->Length % sizeof(WCHAR) != 0)
        return STATUS_OBJECT_NAME_INVALID;
    for (size_t i = 0; i < u->Length / sizeof(WCHAR); i++)
        if (u->Buffer[i] == 0)
            return STATUS_OBJECT_NAME_INVALID; /* a NUL in the name */
    name = kshim_utf16_to_utf8(u->Buffer, u->Length / sizeof(WCHAR));
    if (name == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    path = linux_path(name, &status);
    free(name);
    if (path == NULL)
        return status;

    /* O_NONBLOCK: a FIFO must not block the open (it is refused below). */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        status = open_status(errno, path);
        free(path);
        return status;
    }
    free(path);
    if (fstat(fd, &st) != 0) {
        status = open_status(errno, "");
        close(fd);
        return status;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode) && (create_options & FILE_NON_DIRECTORY_FILE))
            return STATUS_FILE_IS_A_DIRECTORY;
        return STATUS_NOT_SUPPORTED; /* no directory handles; no devices, FIFOs, sockets */
    }

    fo = calloc(1, sizeof(*fo));
    if (fo == NULL) {
        close(fd);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    pthread_mutex_init(&fo->lock, NULL);
    fo->ob.magic = KSHIM_MAGIC_OBJECT; /* Header.Magic stays 0: not waitable */
    fo->ob.kind = KSHIM_KIND_FILE;
    fo->ob.destroy = destroy_file_object;
    fo->fd = fd;
    fo->access = map_access(desired_access);
    h = kshim_handle_create(&fo->ob);
    if (h == NULL) {
        destroy_file_object(&fo->ob);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    io_status_block->Status = STATUS_SUCCESS;
    io_status_block->Information = FILE_OPENED;
    *file_handle = h;
    return STATUS_SUCCESS;
}

/* The file object a handle names, referenced (ObDereferenceObject when
 * done), or NULL with *status. */
static struct file_object *reference_file(HANDLE handle, NTSTATUS *status)
{
    PVOID o = NULL;
    *status = ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &o, NULL);
    if (!NT_SUCCESS(*status))
        return NULL;
    if (((struct kshim_object *)o)->kind != KSHIM_KIND_FILE) {
        ObDereferenceObject(o);
        *status = STATUS_OBJECT_TYPE_MISMATCH;
        return NULL;
    }
    return CONTAINING_RECORD(o, struct file_object, ob);
}

/* ZwReadFile (wdm.h): PASSIVE_LEVEL; synchronous handles only (the shim's). */
NTSTATUS ZwReadFile(HANDLE file_handle, HANDLE event, PIO_APC_ROUTINE apc_routine,
                    PVOID apc_context, PIO_STATUS_BLOCK io_status_block, PVOID buffer, ULONG length,
                    PLARGE_INTEGER byte_offset, PULONG key)
{
    struct file_object *fo;
    NTSTATUS status;
    LONGLONG offset;
    ULONG done = 0;
    (void)key;

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("ZwReadFile at IRQL %u (PASSIVE_LEVEL only)", KeGetCurrentIrql());
    if (io_status_block == NULL)
        kshim_violation("ZwReadFile without an I/O status block");
    if (apc_routine != NULL || apc_context != NULL)
        kshim_violation("ZwReadFile with an APC routine or context (reserved: drivers pass NULL)");
    if (event != NULL)
        kshim_violation("ZwReadFile with an event: the shim's reads are synchronous "
                        "(drivers pass NULL)");
    if (buffer == NULL && length > 0)
        kshim_violation("ZwReadFile of %u bytes into a NULL buffer", length);
    fo = reference_file(file_handle, &status);
    if (fo == NULL)
        return status;
    if (!(fo->access & FILE_READ_DATA)) {
        status = STATUS_ACCESS_DENIED;
        goto out;
    }
    if (byte_offset != NULL &&
        !(byte_offset->HighPart == -1 && byte_offset->LowPart == FILE_USE_FILE_POINTER_POSITION) &&
        byte_offset->QuadPart < 0) {
        status = STATUS_INVALID_PARAMETER;
        goto out;
    }
    if (length == 0) {
        io_status_block->Status = STATUS_SUCCESS;
        io_status_block->Information = 0;
        status = STATUS_SUCCESS;
        goto out;
    }
    if (kshim_fault("file.read")) {
        status = STATUS_UNEXPECTED_IO_ERROR;
        goto out;
    }

    pthread_mutex_lock(&fo->lock);
    offset = fo->position;
    if (byte_offset != NULL &&
        !(byte_offset->HighPart == -1 && byte_offset->LowPart == FILE_USE_FILE_POINTER_POSITION))
        offset = byte_offset->QuadPart;
    status = STATUS_SUCCESS;
    if (offset > MAXLONGLONG - (LONGLONG)length)
        length = 0; /* beyond any file's end (and pread's range) */
    while (done < length) {
        ssize_t n = pread(fo->fd, (UCHAR *)buffer + done, length - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            status = STATUS_UNEXPECTED_IO_ERROR;
            break;
        }
        if (n == 0)
            break;
        done += (ULONG)n;
    }
    if (status == STATUS_SUCCESS && done == 0)
        status = STATUS_END_OF_FILE;
    if (status == STATUS_SUCCESS)
        fo->position = offset + done;
    pthread_mutex_unlock(&fo->lock);
    if (status == STATUS_SUCCESS || status == STATUS_END_OF_FILE) {
        io_status_block->Status = status;
        io_status_block->Information = done;
    }
out:
    ObDereferenceObject(&fo->ob);
    return status;
}

/* ZwQueryInformationFile (wdm.h): PASSIVE_LEVEL. */
NTSTATUS ZwQueryInformationFile(HANDLE file_handle, PIO_STATUS_BLOCK io_status_block,
                                PVOID file_information, ULONG length,
                                FILE_INFORMATION_CLASS file_information_class)
{
    struct file_object *fo;
    NTSTATUS status;
    ULONG size;
    struct stat st;

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        kshim_violation("ZwQueryInformationFile at IRQL %u (PASSIVE_LEVEL only)",
                        KeGetCurrentIrql());
    if (io_status_block == NULL || (file_information == NULL && length > 0))
        kshim_violation("ZwQueryInformationFile without an I/O status block or a buffer");
    fo = reference_file(file_handle, &status);
    if (fo == NULL)
        return status;
    switch (file_information_class) {
    case FileStandardInformation:
        size = sizeof(FILE_STANDARD_INFORMATION);
        break;
    case FilePositionInformation:
        size = sizeof(FILE_POSITION_INFORMATION);
        break;
    default:
        status = STATUS_INVALID_INFO_CLASS;
        goto out;
    }
    if (length < size) {
        status = STATUS_INFO_LENGTH_MISMATCH;
        goto out;
    }
    if (file_information_class == FileStandardInformation) {
        FILE_STANDARD_INFORMATION info;
        if (fstat(fo->fd, &st) != 0) {
            status = STATUS_UNEXPECTED_IO_ERROR;
            goto out;
        }
        memset(&info, 0, sizeof(info));
        info.AllocationSize.QuadPart = (LONGLONG)st.st_blocks * 512;
        info.EndOfFile.QuadPart = (LONGLONG)st.st_size;
        info.NumberOfLinks = (ULONG)st.st_nlink;
        info.DeletePending = FALSE;
        info.Directory = FALSE;
        memcpy(file_information, &info, sizeof(info));
    } else {
        FILE_POSITION_INFORMATION info;
        pthread_mutex_lock(&fo->lock);
        info.CurrentByteOffset.QuadPart = fo->position;
        pthread_mutex_unlock(&fo->lock);
        memcpy(file_information, &info, sizeof(info));
    }
    io_status_block->Status = STATUS_SUCCESS;
    io_status_block->Information = size;
    status = STATUS_SUCCESS;
out:
    ObDereferenceObject(&fo->ob);
    return status;
}
