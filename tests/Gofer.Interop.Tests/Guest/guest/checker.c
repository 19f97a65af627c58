/*
 * checker: what a program inside a sandbox does to its file system, one check at a time.
 *
 * Runs inside the QEMU guest on a Linux v9fs mount of the server under test. Each check runs
 * in its own forked child (so a crash or a hang is a FAIL of that check, not of the run) in
 * its own subdirectory of the mount, and prints exactly one machine-readable line:
 *
 *   CHECK <label> <name> PASS [info]
 *   CHECK <label> <name> FAIL <reason>
 *
 * and the run ends with "DONE <label>". The host side (GuestRun.cs) parses these lines.
 *
 * usage: checker --label L --dir DIR [--checks a,b,c | --set all|light]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *g_label = "run";
static char g_reason[512];

/* A check body returns 0 for pass (g_reason may hold info) or -1 with g_reason set. */
static int failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_reason, sizeof g_reason, fmt, ap);
    va_end(ap);
    return -1;
}

static void infof(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_reason, sizeof g_reason, fmt, ap);
    va_end(ap);
}

#define REQUIRE(cond, ...) do { if (!(cond)) return failf(__VA_ARGS__); } while (0)
/* A syscall that must succeed; the reason names the call, the line and errno. */
#define SYS(call) do { if ((call) < 0) return failf("%s failed at line %d: %s", #call, __LINE__, strerror(errno)); } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        if (w == 0) { errno = EIO; return -1; }
        p += w; n -= (size_t)w;
    }
    return 0;
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        if (w == 0) { errno = EIO; return -1; }
        p += w; n -= (size_t)w; off += w;
    }
    return 0;
}

/* Reads until n bytes or EOF; returns bytes read or -1. */
static ssize_t pread_full(int fd, void *buf, size_t n, off_t off)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, off + (off_t)got);
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static ssize_t read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int write_file(const char *path, const char *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    if (write_all(fd, data, n) < 0) { close(fd); return -1; }
    return close(fd);
}

/* Compares a file's whole content with data; sets g_reason on mismatch. */
static int expect_content(const char *path, const char *data, size_t n)
{
    char buf[8192];
    int fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
    ssize_t r = read_full(fd, buf, sizeof buf);
    close(fd);
    REQUIRE(r >= 0, "read %s: %s", path, strerror(errno));
    REQUIRE((size_t)r == n, "%s: read %zd bytes, expected %zu", path, r, n);
    REQUIRE(memcmp(buf, data, n) == 0, "%s: content differs", path);
    return 0;
}

/* xorshift64*: a fixed, portable generator so every run does the same operations. */
static uint64_t g_rng;
static uint64_t rnd(void)
{
    g_rng ^= g_rng >> 12; g_rng ^= g_rng << 25; g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ULL;
}

/* ---------------------------------------------------------------- checks */

static int check_create_rw(void)
{
    const char msg[] = "hello, 9p world\n";
    int fd = open("f", O_RDWR | O_CREAT | O_EXCL, 0644);
    SYS(fd);
    SYS(write_all(fd, msg, sizeof msg - 1));
    char buf[64] = {0};
    ssize_t r = pread(fd, buf, sizeof buf, 0);
    REQUIRE(r == (ssize_t)sizeof msg - 1, "pread on the created fd returned %zd", r);
    REQUIRE(memcmp(buf, msg, sizeof msg - 1) == 0, "pread on the created fd: content differs");
    SYS(close(fd));
    int e = open("f", O_RDWR | O_CREAT | O_EXCL, 0644);
    REQUIRE(e < 0 && errno == EEXIST, "O_CREAT|O_EXCL on an existing file: got fd %d errno %d, want EEXIST", e, errno);
    struct stat st;
    SYS(stat("f", &st));
    REQUIRE(S_ISREG(st.st_mode), "not a regular file: mode %o", st.st_mode);
    REQUIRE(st.st_size == (off_t)sizeof msg - 1, "size %lld, want %zu", (long long)st.st_size, sizeof msg - 1);
    REQUIRE((st.st_mode & 07777) == (0644 & ~022), "mode %o, want 0644 with umask 022", st.st_mode & 07777);
    if (expect_content("f", msg, sizeof msg - 1)) return -1;
    /* Overwrite in the middle, then read through a second descriptor. */
    fd = open("f", O_WRONLY);
    SYS(fd);
    SYS(pwrite_all(fd, "HELLO", 5, 0));
    SYS(close(fd));
    if (expect_content("f", "HELLO, 9p world\n", sizeof msg - 1)) return -1;
    e = open("missing", O_RDONLY);
    REQUIRE(e < 0 && errno == ENOENT, "open of a missing file: fd %d errno %d, want ENOENT", e, errno);
    return 0;
}

static int check_append(void)
{
    int a = open("log", O_WRONLY | O_CREAT | O_APPEND, 0644);
    SYS(a);
    int b = open("log", O_WRONLY | O_APPEND);
    SYS(b);
    /* Interleaved appends from two descriptors must never overwrite each other. */
    for (int i = 0; i < 50; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "%c%04d\n", (i & 1) ? 'b' : 'a', i);
        SYS(write_all((i & 1) ? b : a, line, (size_t)n));
    }
    /* O_APPEND ignores the file position: seek to 0 and append again. */
    SYS(lseek(a, 0, SEEK_SET));
    SYS(write_all(a, "end\n", 4));
    off_t pos = lseek(a, 0, SEEK_CUR);
    close(a); close(b);
    struct stat st;
    SYS(stat("log", &st));
    REQUIRE(st.st_size == 50 * 6 + 4, "size %lld, want %d", (long long)st.st_size, 50 * 6 + 4);
    REQUIRE(pos == st.st_size, "position after append %lld, want %lld", (long long)pos, (long long)st.st_size);
    char want[512], *p = want;
    for (int i = 0; i < 50; i++) p += sprintf(p, "%c%04d\n", (i & 1) ? 'b' : 'a', i);
    p += sprintf(p, "end\n");
    return expect_content("log", want, (size_t)(p - want));
}

static int check_truncate(void)
{
    char data[10000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)('A' + i % 26);
    SYS(write_file("t", data, sizeof data));
    SYS(truncate("t", 3000));
    struct stat st;
    SYS(stat("t", &st));
    REQUIRE(st.st_size == 3000, "after truncate(3000): size %lld", (long long)st.st_size);
    if (expect_content("t", data, 3000)) return -1;
    int fd = open("t", O_RDWR);
    SYS(fd);
    SYS(ftruncate(fd, 8000)); /* extension must read back as zeros */
    SYS(fstat(fd, &st));
    REQUIRE(st.st_size == 8000, "after ftruncate(8000): size %lld", (long long)st.st_size);
    char buf[8000];
    ssize_t r = pread_full(fd, buf, sizeof buf, 0);
    REQUIRE(r == 8000, "read %zd bytes after extension", r);
    REQUIRE(memcmp(buf, data, 3000) == 0, "kept prefix differs after extension");
    for (int i = 3000; i < 8000; i++) REQUIRE(buf[i] == 0, "byte %d after extension is %d, want 0", i, buf[i]);
    SYS(ftruncate(fd, 0));
    SYS(fstat(fd, &st));
    REQUIRE(st.st_size == 0, "after ftruncate(0): size %lld", (long long)st.st_size);
    r = pread(fd, buf, 10, 0);
    REQUIRE(r == 0, "read after truncate to 0 returned %zd", r);
    close(fd);
    /* O_TRUNC on open. */
    SYS(write_file("t", data, 100));
    fd = open("t", O_WRONLY | O_TRUNC);
    SYS(fd);
    close(fd);
    SYS(stat("t", &st));
    REQUIRE(st.st_size == 0, "after O_TRUNC: size %lld", (long long)st.st_size);
    return 0;
}

static int check_sparse(void)
{
    int fd = open("s", O_RDWR | O_CREAT | O_TRUNC, 0644);
    SYS(fd);
    const off_t far = 64LL << 20; /* 64 MiB hole */
    SYS(pwrite_all(fd, "X", 1, 4096));
    SYS(pwrite_all(fd, "tail", 4, far));
    SYS(fsync(fd));
    close(fd);
    struct stat st;
    SYS(stat("s", &st));
    REQUIRE(st.st_size == far + 4, "size %lld, want %lld", (long long)st.st_size, (long long)(far + 4));
    fd = open("s", O_RDONLY);
    SYS(fd);
    static char buf[1 << 16];
    ssize_t r = pread_full(fd, buf, 8192, 0);
    REQUIRE(r == 8192, "read of the head returned %zd", r);
    for (int i = 0; i < 8192; i++)
        REQUIRE(buf[i] == (i == 4096 ? 'X' : 0), "byte %d is %d", i, buf[i]);
    r = pread_full(fd, buf, sizeof buf, far - (off_t)sizeof buf + 4);
    REQUIRE(r == (ssize_t)sizeof buf, "read near the end returned %zd", r);
    for (size_t i = 0; i < sizeof buf - 4; i++) REQUIRE(buf[i] == 0, "hole byte at %lld is %d", (long long)(far - (off_t)sizeof buf + 4 + (off_t)i), buf[i]);
    REQUIRE(memcmp(buf + sizeof buf - 4, "tail", 4) == 0, "tail differs");
    r = pread(fd, buf, 10, far + 4);
    REQUIRE(r == 0, "read at EOF returned %zd", r);
    close(fd);
    infof("blocks=%lld (512B units, %lld MiB apparent)", (long long)st.st_blocks, (long long)(st.st_size >> 20));
    return 0;
}

static int check_big_file(void)
{
    const size_t chunk = 1 << 20;
    const int chunks = 256;
    char *buf = malloc(chunk), *rb = malloc(chunk);
    REQUIRE(buf && rb, "malloc");
    /* Each chunk's content depends on its index, so a misplaced chunk is detected. */
    uint64_t sum_w = 1469598103934665603ULL, sum_r = 1469598103934665603ULL;
    double t0 = now_s();
    int fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SYS(fd);
    for (int c = 0; c < chunks; c++) {
        g_rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(c + 1);
        for (size_t i = 0; i < chunk; i += 8) { uint64_t v = rnd(); memcpy(buf + i, &v, 8); }
        for (size_t i = 0; i < chunk; i += 64) sum_w = (sum_w ^ (unsigned char)buf[i]) * 1099511628211ULL;
        SYS(write_all(fd, buf, chunk));
    }
    SYS(fsync(fd));
    SYS(close(fd));
    double t1 = now_s();
    struct stat st;
    SYS(stat("big", &st));
    REQUIRE(st.st_size == (off_t)chunk * chunks, "size %lld, want %lld", (long long)st.st_size, (long long)chunk * chunks);
    fd = open("big", O_RDONLY);
    SYS(fd);
    for (int c = 0; c < chunks; c++) {
        ssize_t r = read_full(fd, rb, chunk);
        REQUIRE(r == (ssize_t)chunk, "chunk %d: read %zd", c, r);
        g_rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(c + 1);
        for (size_t i = 0; i < chunk; i += 8) { uint64_t v = rnd(); memcpy(buf + i, &v, 8); }
        REQUIRE(memcmp(buf, rb, chunk) == 0, "chunk %d differs", c);
        for (size_t i = 0; i < chunk; i += 64) sum_r = (sum_r ^ (unsigned char)rb[i]) * 1099511628211ULL;
    }
    char extra;
    REQUIRE(read(fd, &extra, 1) == 0, "data past the expected end");
    close(fd);
    double t2 = now_s();
    REQUIRE(sum_w == sum_r, "checksum %016llx != %016llx", (unsigned long long)sum_r, (unsigned long long)sum_w);
    SYS(unlink("big"));
    infof("write=%.1fs (%.1f MiB/s) read=%.1fs (%.1f MiB/s) sum=%016llx", t1 - t0, chunks / (t1 - t0), t2 - t1,
          chunks / (t2 - t1), (unsigned long long)sum_r);
    free(buf); free(rb);
    return 0;
}

static int check_mkdir_rmdir(void)
{
    SYS(mkdir("d", 0755));
    struct stat st;
    SYS(stat("d", &st));
    REQUIRE(S_ISDIR(st.st_mode), "not a directory: mode %o", st.st_mode);
    REQUIRE((st.st_mode & 0777) == 0755, "mode %o, want 0755", st.st_mode & 0777);
    int e = mkdir("d", 0755);
    REQUIRE(e < 0 && errno == EEXIST, "mkdir of an existing dir: %d errno %d, want EEXIST", e, errno);
    SYS(mkdir("d/sub", 0700));
    SYS(stat("d", &st));
    REQUIRE(st.st_nlink == 3, "parent nlink %lu, want 3 (., .., sub)", (unsigned long)st.st_nlink);
    SYS(write_file("d/sub/f", "x", 1));
    e = rmdir("d/sub");
    REQUIRE(e < 0 && (errno == ENOTEMPTY || errno == EEXIST), "rmdir of a non-empty dir: %d errno %d", e, errno);
    e = rmdir("d/sub/f");
    REQUIRE(e < 0 && errno == ENOTDIR, "rmdir of a file: %d errno %d, want ENOTDIR", e, errno);
    e = unlink("d/sub");
    REQUIRE(e < 0 && (errno == EISDIR || errno == EPERM), "unlink of a dir: %d errno %d, want EISDIR", e, errno);
    SYS(unlink("d/sub/f"));
    SYS(rmdir("d/sub"));
    SYS(rmdir("d"));
    e = stat("d", &st);
    REQUIRE(e < 0 && errno == ENOENT, "stat after rmdir: %d errno %d, want ENOENT", e, errno);
    return 0;
}

static int check_rename_file(void)
{
    SYS(write_file("a", "aaaa", 4));
    SYS(rename("a", "b"));
    struct stat st;
    REQUIRE(stat("a", &st) < 0 && errno == ENOENT, "old name still there after rename");
    if (expect_content("b", "aaaa", 4)) return -1;
    /* Over an existing target: the target is replaced atomically, and an open fd of the old
     * target keeps its data. */
    SYS(write_file("c", "cc", 2));
    int fd = open("c", O_RDONLY);
    SYS(fd);
    SYS(rename("b", "c"));
    REQUIRE(stat("b", &st) < 0 && errno == ENOENT, "source still there after rename over target");
    if (expect_content("c", "aaaa", 4)) return -1;
    char buf[8];
    ssize_t r = pread(fd, buf, sizeof buf, 0);
    REQUIRE(r == 2 && memcmp(buf, "cc", 2) == 0, "replaced target's open fd reads %zd bytes", r);
    close(fd);
    /* Into another directory, and an open fd follows the file. */
    SYS(mkdir("dir", 0755));
    fd = open("c", O_RDWR);
    SYS(fd);
    SYS(rename("c", "dir/moved"));
    SYS(pwrite_all(fd, "ZZ", 2, 4));
    close(fd);
    if (expect_content("dir/moved", "aaaaZZ", 6)) return -1;
    /* Rename onto itself is a no-op. */
    SYS(rename("dir/moved", "dir/moved"));
    if (expect_content("dir/moved", "aaaaZZ", 6)) return -1;
    return 0;
}

static int check_rename_dir(void)
{
    SYS(mkdir("src", 0755));
    SYS(mkdir("src/inner", 0755));
    SYS(write_file("src/inner/f", "data", 4));
    SYS(rename("src", "dst"));
    struct stat st;
    REQUIRE(stat("src", &st) < 0 && errno == ENOENT, "old dir name still there");
    if (expect_content("dst/inner/f", "data", 4)) return -1;
    /* Over an existing empty directory: allowed. */
    SYS(mkdir("empty", 0755));
    SYS(rename("dst", "empty"));
    if (expect_content("empty/inner/f", "data", 4)) return -1;
    REQUIRE(stat("dst", &st) < 0 && errno == ENOENT, "source dir still there after rename over empty dir");
    /* Over a non-empty directory: refused. */
    SYS(mkdir("full", 0755));
    SYS(write_file("full/x", "x", 1));
    int e = rename("empty", "full");
    REQUIRE(e < 0 && (errno == ENOTEMPTY || errno == EEXIST), "rename over a non-empty dir: %d errno %d", e, errno);
    /* A directory over a file and a file over a directory: refused. */
    SYS(write_file("file", "f", 1));
    e = rename("empty", "file");
    REQUIRE(e < 0 && errno == ENOTDIR, "rename dir over file: %d errno %d, want ENOTDIR", e, errno);
    e = rename("file", "full");
    REQUIRE(e < 0 && errno == EISDIR, "rename file over dir: %d errno %d, want EISDIR", e, errno);
    /* Into its own subdirectory: refused. */
    e = rename("empty", "empty/inner/loop");
    REQUIRE(e < 0 && errno == EINVAL, "rename dir into itself: %d errno %d, want EINVAL", e, errno);
    /* Renamed directory still lists its entry. */
    DIR *d = opendir("empty/inner");
    REQUIRE(d, "opendir renamed dir: %s", strerror(errno));
    int found = 0;
    for (struct dirent *de; (de = readdir(d));) found += strcmp(de->d_name, "f") == 0;
    closedir(d);
    REQUIRE(found == 1, "entry in renamed dir found %d times", found);
    return 0;
}

static int check_hardlink(void)
{
    SYS(write_file("orig", "linkdata", 8));
    SYS(link("orig", "alias"));
    struct stat a, b;
    SYS(stat("orig", &a));
    SYS(stat("alias", &b));
    REQUIRE(a.st_nlink == 2 && b.st_nlink == 2, "nlink %lu/%lu, want 2", (unsigned long)a.st_nlink, (unsigned long)b.st_nlink);
    REQUIRE(a.st_ino == b.st_ino, "inode numbers differ: %llu vs %llu", (unsigned long long)a.st_ino, (unsigned long long)b.st_ino);
    /* A write through one name is seen through the other. */
    int fd = open("alias", O_WRONLY);
    SYS(fd);
    SYS(pwrite_all(fd, "LINK", 4, 0));
    close(fd);
    if (expect_content("orig", "LINKdata", 8)) return -1;
    SYS(mkdir("sub", 0755));
    SYS(link("orig", "sub/third"));
    SYS(stat("orig", &a));
    REQUIRE(a.st_nlink == 3, "nlink %lu after third link, want 3", (unsigned long)a.st_nlink);
    SYS(unlink("orig"));
    SYS(stat("alias", &b));
    REQUIRE(b.st_nlink == 2, "nlink %lu after unlink, want 2", (unsigned long)b.st_nlink);
    if (expect_content("sub/third", "LINKdata", 8)) return -1;
    int e = link("alias", "sub/third");
    REQUIRE(e < 0 && errno == EEXIST, "link onto an existing name: %d errno %d, want EEXIST", e, errno);
    e = link("sub", "dirlink");
    REQUIRE(e < 0 && errno == EPERM, "link of a directory: %d errno %d, want EPERM", e, errno);
    return 0;
}

static int check_symlink(void)
{
    SYS(write_file("target", "T", 1));
    SYS(symlink("target", "ln"));
    char buf[256];
    ssize_t n = readlink("ln", buf, sizeof buf);
    REQUIRE(n == 6 && memcmp(buf, "target", 6) == 0, "readlink returned %zd '%.*s'", n, (int)(n > 0 ? n : 0), buf);
    struct stat l, s;
    SYS(lstat("ln", &l));
    REQUIRE(S_ISLNK(l.st_mode), "lstat mode %o is not a symlink", l.st_mode);
    REQUIRE(l.st_size == 6, "symlink size %lld, want 6", (long long)l.st_size);
    SYS(stat("ln", &s));
    REQUIRE(S_ISREG(s.st_mode) && s.st_size == 1, "stat through the symlink: mode %o size %lld", s.st_mode, (long long)s.st_size);
    if (expect_content("ln", "T", 1)) return -1;
    /* Dangling and long targets are stored verbatim. */
    SYS(symlink("/no/such/place/../x", "dangling"));
    n = readlink("dangling", buf, sizeof buf);
    REQUIRE(n == 19 && memcmp(buf, "/no/such/place/../x", 19) == 0, "dangling readlink returned %zd", n);
    int e = open("dangling", O_RDONLY);
    REQUIRE(e < 0 && errno == ENOENT, "open of a dangling symlink: %d errno %d, want ENOENT", e, errno);
    char longt[200];
    memset(longt, 'L', sizeof longt - 1);
    longt[sizeof longt - 1] = 0;
    SYS(symlink(longt, "long"));
    n = readlink("long", buf, sizeof buf);
    REQUIRE(n == (ssize_t)strlen(longt) && memcmp(buf, longt, (size_t)n) == 0, "long readlink returned %zd", n);
    /* A relative symlink to a directory resolves for lookups below it. */
    SYS(mkdir("realdir", 0755));
    SYS(write_file("realdir/inside", "in", 2));
    SYS(symlink("realdir", "dirln"));
    if (expect_content("dirln/inside", "in", 2)) return -1;
    e = symlink("x", "ln");
    REQUIRE(e < 0 && errno == EEXIST, "symlink onto existing name: %d errno %d", e, errno);
    return 0;
}

static int check_chmod(void)
{
    SYS(write_file("m", "m", 1));
    SYS(chmod("m", 0640));
    struct stat st;
    SYS(stat("m", &st));
    REQUIRE((st.st_mode & 07777) == 0640, "mode %o after chmod 0640", st.st_mode & 07777);
    int fd = open("m", O_RDONLY);
    SYS(fd);
    SYS(fchmod(fd, 0600));
    SYS(fstat(fd, &st));
    close(fd);
    REQUIRE((st.st_mode & 07777) == 0600, "mode %o after fchmod 0600", st.st_mode & 07777);
    SYS(chmod("m", 04755)); /* setuid bit survives for root */
    SYS(stat("m", &st));
    REQUIRE((st.st_mode & 07777) == 04755, "mode %o after chmod 04755", st.st_mode & 07777);
    SYS(mkdir("dm", 0700));
    SYS(chmod("dm", 01777));
    SYS(stat("dm", &st));
    REQUIRE((st.st_mode & 07777) == 01777 && S_ISDIR(st.st_mode), "dir mode %o after chmod 01777", st.st_mode);
    return 0;
}

static int check_chown(void)
{
    SYS(write_file("o", "o", 1));
    SYS(chown("o", 1234, 5678));
    struct stat st;
    SYS(stat("o", &st));
    REQUIRE(st.st_uid == 1234 && st.st_gid == 5678, "owner %u:%u after chown 1234:5678", st.st_uid, st.st_gid);
    SYS(chown("o", (uid_t)-1, 4321));
    SYS(stat("o", &st));
    REQUIRE(st.st_uid == 1234 && st.st_gid == 4321, "owner %u:%u after chown -1:4321", st.st_uid, st.st_gid);
    SYS(symlink("o", "olink"));
    SYS(lchown("olink", 2222, 3333));
    struct stat l;
    SYS(lstat("olink", &l));
    SYS(stat("o", &st));
    REQUIRE(l.st_uid == 2222 && l.st_gid == 3333, "symlink owner %u:%u after lchown", l.st_uid, l.st_gid);
    REQUIRE(st.st_uid == 1234 && st.st_gid == 4321, "lchown changed the target: %u:%u", st.st_uid, st.st_gid);
    SYS(chown("o", 0, 0));
    SYS(stat("o", &st));
    REQUIRE(st.st_uid == 0 && st.st_gid == 0, "owner %u:%u after chown 0:0", st.st_uid, st.st_gid);
    return 0;
}

static int check_utime(void)
{
    SYS(write_file("u", "u", 1));
    struct timespec ts[2] = { { 1000000000, 123456789 }, { 1200000000, 987654321 } };
    SYS(utimensat(AT_FDCWD, "u", ts, 0));
    struct stat st;
    SYS(stat("u", &st));
    /* Seconds must be exact. Nanoseconds must be exact or zero: Linux 6.1's v9fs leaves the
     * super block's time granularity at the VFS default of one second, so the kernel itself
     * truncates before Tsetattr (diod and gofer both read back .000000000). */
    int ns_kept = st.st_atim.tv_nsec == ts[0].tv_nsec && st.st_mtim.tv_nsec == ts[1].tv_nsec;
    int ns_dropped = st.st_atim.tv_nsec == 0 && st.st_mtim.tv_nsec == 0;
    REQUIRE(st.st_atim.tv_sec == ts[0].tv_sec && st.st_mtim.tv_sec == ts[1].tv_sec && (ns_kept || ns_dropped),
            "atime %lld.%09ld mtime %lld.%09ld, want %lld.%09ld and %lld.%09ld",
            (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
            (long long)ts[0].tv_sec, ts[0].tv_nsec, (long long)ts[1].tv_sec, ts[1].tv_nsec);
    /* UTIME_OMIT leaves one field alone; UTIME_NOW sets it near the current time. */
    struct timespec ts2[2] = { { 0, UTIME_OMIT }, { 1300000000, 5 } };
    SYS(utimensat(AT_FDCWD, "u", ts2, 0));
    SYS(stat("u", &st));
    REQUIRE(st.st_atim.tv_sec == ts[0].tv_sec && st.st_atim.tv_nsec == (ns_kept ? ts[0].tv_nsec : 0), "UTIME_OMIT changed atime");
    REQUIRE(st.st_mtim.tv_sec == 1300000000 && (st.st_mtim.tv_nsec == 5 || (ns_dropped && st.st_mtim.tv_nsec == 0)),
            "mtime %lld.%09ld after second set", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    struct timespec ts3[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
    time_t before = time(NULL);
    SYS(utimensat(AT_FDCWD, "u", ts3, 0));
    SYS(stat("u", &st));
    REQUIRE(st.st_mtim.tv_sec >= before - 120 && st.st_mtim.tv_sec <= time(NULL) + 120,
            "UTIME_NOW mtime %lld far from guest clock %lld", (long long)st.st_mtim.tv_sec, (long long)before);
    /* A write moves mtime forward from an old value. */
    SYS(utimensat(AT_FDCWD, "u", ts, 0));
    int fd = open("u", O_WRONLY);
    SYS(fd);
    SYS(write_all(fd, "w", 1));
    close(fd);
    SYS(stat("u", &st));
    REQUIRE(st.st_mtim.tv_sec > ts[1].tv_sec, "mtime not updated by write: %lld", (long long)st.st_mtim.tv_sec);
    infof("%s", ns_kept ? "nanoseconds kept" : "nanoseconds dropped (client granularity 1s)");
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int check_bigdir(void)
{
    const int n = 10000;
    double t0 = now_s();
    SYS(mkdir("many", 0755));
    char path[300];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "many/entry-%05d-%s", i, (i % 7) ? "x" : "a-longer-name-to-vary-record-sizes");
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        SYS(fd);
        close(fd);
    }
    double t1 = now_s();
    char **names = calloc((size_t)n + 16, sizeof *names);
    REQUIRE(names, "calloc");
    int count = 0, dots = 0;
    DIR *d = opendir("many");
    REQUIRE(d, "opendir: %s", strerror(errno));
    errno = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) { dots++; continue; }
        REQUIRE(count < n + 16, "more than %d entries listed", n + 16);
        REQUIRE(de->d_type == DT_REG || de->d_type == DT_UNKNOWN, "d_type %d for %s", de->d_type, de->d_name);
        names[count++] = strdup(de->d_name);
    }
    REQUIRE(errno == 0, "readdir: %s", strerror(errno));
    closedir(d);
    double t2 = now_s();
    REQUIRE(count == n, "listed %d entries, want %d", count, n);
    REQUIRE(dots == 2, "listed %d of . and .., want 2", dots);
    qsort(names, (size_t)count, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "entry-%05d-%s", i, (i % 7) ? "x" : "a-longer-name-to-vary-record-sizes");
        REQUIRE(strcmp(names[i], path) == 0, "sorted entry %d is '%s', want '%s' (duplicate or missing)", i, names[i], path);
    }
    /* Remove while listing (what rm -r does): every entry must still be visited exactly once. */
    d = opendir("many");
    REQUIRE(d, "opendir: %s", strerror(errno));
    int removed = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "many/%s", de->d_name);
        SYS(unlink(path));
        removed++;
    }
    closedir(d);
    double t3 = now_s();
    REQUIRE(removed == n, "removed %d entries while listing, want %d", removed, n);
    SYS(rmdir("many"));
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
    infof("create=%.1fs list=%.2fs remove=%.1fs", t1 - t0, t2 - t1, t3 - t2);
    return 0;
}

static int check_unlink_open(void)
{
    int fd = open("victim", O_RDWR | O_CREAT | O_TRUNC, 0644);
    SYS(fd);
    SYS(write_all(fd, "before-unlink", 13));
    SYS(unlink("victim"));
    struct stat st;
    REQUIRE(stat("victim", &st) < 0 && errno == ENOENT, "name still there after unlink");
    SYS(fstat(fd, &st));
    REQUIRE(st.st_nlink == 0, "fstat nlink %lu after unlink, want 0", (unsigned long)st.st_nlink);
    char buf[64];
    ssize_t r = pread(fd, buf, sizeof buf, 0);
    REQUIRE(r == 13 && memcmp(buf, "before-unlink", 13) == 0, "read after unlink returned %zd", r);
    SYS(pwrite_all(fd, "+after", 6, 13));
    r = pread(fd, buf, sizeof buf, 0);
    REQUIRE(r == 19 && memcmp(buf, "before-unlink+after", 19) == 0, "read of write-after-unlink returned %zd", r);
    SYS(ftruncate(fd, 6));
    SYS(fstat(fd, &st));
    REQUIRE(st.st_size == 6, "size %lld after ftruncate on unlinked file", (long long)st.st_size);
    SYS(fchmod(fd, 0600));
    SYS(fstat(fd, &st));
    REQUIRE((st.st_mode & 0777) == 0600, "mode %o after fchmod on unlinked file", st.st_mode & 0777);
    /* A new file with the same name is a different file. */
    SYS(write_file("victim", "new", 3));
    r = pread(fd, buf, sizeof buf, 0);
    REQUIRE(r == 6 && memcmp(buf, "before", 6) == 0, "unlinked file's fd sees %zd bytes after name reuse", r);
    close(fd);
    if (expect_content("victim", "new", 3)) return -1;
    return 0;
}

static int check_xattr(void)
{
    SYS(write_file("x", "x", 1));
    char val[100];
    for (int i = 0; i < 100; i++) val[i] = (char)(i * 7); /* binary, including NUL bytes */
    SYS(setxattr("x", "user.test", val, sizeof val, 0));
    ssize_t n = getxattr("x", "user.test", NULL, 0);
    REQUIRE(n == 100, "size query returned %zd, want 100", n);
    char buf[4096];
    n = getxattr("x", "user.test", buf, sizeof buf);
    REQUIRE(n == 100 && memcmp(buf, val, 100) == 0, "getxattr returned %zd bytes or wrong content", n);
    n = getxattr("x", "user.test", buf, 10);
    REQUIRE(n < 0 && errno == ERANGE, "getxattr with a short buffer: %zd errno %d, want ERANGE", n, errno);
    int e = setxattr("x", "user.test", "y", 1, XATTR_CREATE);
    REQUIRE(e < 0 && errno == EEXIST, "XATTR_CREATE on existing: %d errno %d, want EEXIST", e, errno);
    e = setxattr("x", "user.none", "y", 1, XATTR_REPLACE);
    REQUIRE(e < 0 && errno == ENODATA, "XATTR_REPLACE on missing: %d errno %d, want ENODATA", e, errno);
    /* No empty value: 9P2000.L's Txattrcreate with size 0 means "remove", so an empty value
     * cannot be stored over 9p by any server (the kernel sends exactly that). */
    SYS(setxattr("x", "user.one", "1", 1, 0));
    n = getxattr("x", "user.one", buf, sizeof buf);
    REQUIRE(n == 1 && buf[0] == '1', "one-byte value returned %zd", n);
    char large[3000];
    memset(large, 'V', sizeof large);
    SYS(setxattr("x", "user.large", large, sizeof large, 0));
    n = getxattr("x", "user.large", buf, sizeof buf);
    REQUIRE(n == 3000 && memcmp(buf, large, 3000) == 0, "large value returned %zd", n);
    SYS(setxattr("x", "user.test", "short", 5, XATTR_REPLACE));
    n = getxattr("x", "user.test", buf, sizeof buf);
    REQUIRE(n == 5 && memcmp(buf, "short", 5) == 0, "replaced value returned %zd", n);
    n = listxattr("x", NULL, 0);
    const size_t want_list = sizeof "user.test" + sizeof "user.one" + sizeof "user.large";
    REQUIRE(n >= (ssize_t)want_list, "listxattr size query %zd, want >= %zu", n, want_list);
    ssize_t full = n;
    n = listxattr("x", buf, sizeof buf);
    REQUIRE(n == full, "listxattr returned %zd, size query said %zd", n, full);
    int seen = 0;
    for (char *p = buf; p < buf + n; p += strlen(p) + 1) {
        if (!strcmp(p, "user.test") || !strcmp(p, "user.one") || !strcmp(p, "user.large")) seen++;
        else if (strncmp(p, "security.", 9) && strncmp(p, "system.", 7)) return failf("unexpected name '%s' in list", p);
    }
    REQUIRE(seen == 3, "listed %d of the 3 user.* names", seen);
    if (full > 1) {
        n = listxattr("x", buf, 1);
        REQUIRE(n < 0 && errno == ERANGE, "listxattr with a short buffer: %zd errno %d, want ERANGE", n, errno);
    }
    SYS(removexattr("x", "user.test"));
    n = getxattr("x", "user.test", buf, sizeof buf);
    REQUIRE(n < 0 && errno == ENODATA, "getxattr after remove: %zd errno %d, want ENODATA", n, errno);
    e = removexattr("x", "user.test");
    REQUIRE(e < 0 && errno == ENODATA, "second removexattr: %d errno %d, want ENODATA", e, errno);
    /* On a directory and through an open fd. */
    SYS(mkdir("xd", 0755));
    SYS(setxattr("xd", "user.dir", "dv", 2, 0));
    int fd = open("x", O_RDONLY);
    SYS(fd);
    SYS(fsetxattr(fd, "user.fd", "fv", 2, 0));
    n = fgetxattr(fd, "user.fd", buf, sizeof buf);
    close(fd);
    REQUIRE(n == 2 && memcmp(buf, "fv", 2) == 0, "fgetxattr returned %zd", n);
    n = getxattr("xd", "user.dir", buf, sizeof buf);
    REQUIRE(n == 2 && memcmp(buf, "dv", 2) == 0, "directory getxattr returned %zd", n);
    return 0;
}

/* Runs fn in a child process and returns its exit status (0 = the child's expectation held). */
static int in_child(int (*fn)(void *), void *arg)
{
    pid_t p = fork();
    if (p < 0) return -1;
    if (p == 0) _exit(fn(arg) == 0 ? 0 : 1);
    int st;
    if (waitpid(p, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct lockq { int type; off_t start, len; int expect_ok; };

static int child_setlk(void *arg)
{
    struct lockq *q = arg;
    int fd = open("lk", O_RDWR);
    if (fd < 0) return -1;
    struct flock fl = { .l_type = (short)q->type, .l_whence = SEEK_SET, .l_start = q->start, .l_len = q->len };
    int r = fcntl(fd, F_SETLK, &fl);
    if (q->expect_ok) return r == 0 ? 0 : -1;
    return (r < 0 && (errno == EAGAIN || errno == EACCES)) ? 0 : -1;
}

static int child_getlk_conflict(void *arg)
{
    (void)arg;
    int fd = open("lk", O_RDWR);
    if (fd < 0) return -1;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
    if (fcntl(fd, F_GETLK, &fl) < 0) return -1;
    return fl.l_type == F_WRLCK ? 0 : -1;
}

static int check_fcntl_lock(void)
{
    SYS(write_file("lk", "0123456789", 10));
    int fd = open("lk", O_RDWR);
    SYS(fd);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
    SYS(fcntl(fd, F_SETLK, &fl));
    struct lockq conflict = { F_WRLCK, 10, 10, 0 }, rdconflict = { F_RDLCK, 50, 1, 0 }, disjoint = { F_WRLCK, 200, 10, 1 };
    REQUIRE(in_child(child_setlk, &conflict) == 0, "a second process got an overlapping write lock");
    REQUIRE(in_child(child_setlk, &rdconflict) == 0, "a second process got a read lock inside a write lock");
    REQUIRE(in_child(child_setlk, &disjoint) == 0, "a second process could not lock a disjoint range");
    REQUIRE(in_child(child_getlk_conflict, NULL) == 0, "F_GETLK in a second process did not report the write lock");
    /* Downgrade to a read lock: other readers may share it, writers may not. */
    fl.l_type = F_RDLCK;
    SYS(fcntl(fd, F_SETLK, &fl));
    struct lockq reader = { F_RDLCK, 0, 100, 1 };
    REQUIRE(in_child(child_setlk, &reader) == 0, "a second reader was refused a shared read lock");
    REQUIRE(in_child(child_setlk, &conflict) == 0, "a writer got a lock over a read lock");
    fl.l_type = F_UNLCK;
    SYS(fcntl(fd, F_SETLK, &fl));
    struct lockq after = { F_WRLCK, 0, 100, 1 };
    REQUIRE(in_child(child_setlk, &after) == 0, "lock still held after F_UNLCK");
    /* Blocking F_SETLKW waits until the holder lets go. */
    fl.l_type = F_WRLCK;
    SYS(fcntl(fd, F_SETLK, &fl));
    int pfd[2];
    SYS(pipe(pfd));
    pid_t p = fork();
    SYS(p);
    if (p == 0) {
        close(pfd[0]);
        int cfd = open("lk", O_RDWR);
        struct flock cl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
        int r = cfd >= 0 ? fcntl(cfd, F_SETLKW, &cl) : -1;
        char c = r == 0 ? 'Y' : 'N';
        if (write(pfd[1], &c, 1) != 1) _exit(2);
        _exit(0);
    }
    close(pfd[1]);
    usleep(300000); /* give the child time to block; not a timed assertion, only ordering */
    fl.l_type = F_UNLCK;
    SYS(fcntl(fd, F_SETLK, &fl));
    char c = 0;
    ssize_t r = read(pfd[0], &c, 1);
    int st;
    waitpid(p, &st, 0);
    close(pfd[0]);
    close(fd);
    REQUIRE(r == 1 && c == 'Y', "F_SETLKW waiter did not get the lock after release (got %c)", c ? c : '?');
    return 0;
}

static int child_flock_nb(void *arg)
{
    int expect_ok = *(int *)arg;
    int fd = open("fl", O_RDONLY);
    if (fd < 0) return -1;
    int r = flock(fd, LOCK_EX | LOCK_NB);
    if (expect_ok) return r == 0 ? 0 : -1;
    return (r < 0 && errno == EWOULDBLOCK) ? 0 : -1;
}

static int check_flock(void)
{
    SYS(write_file("fl", "f", 1));
    int a = open("fl", O_RDONLY);
    SYS(a);
    SYS(flock(a, LOCK_EX));
    int no = 0, yes = 1;
    REQUIRE(in_child(child_flock_nb, &no) == 0, "a second process got LOCK_EX while another holds it");
    /* A second open file description in the same process contends as well. */
    int b = open("fl", O_RDONLY);
    SYS(b);
    int r = flock(b, LOCK_EX | LOCK_NB);
    REQUIRE(r < 0 && errno == EWOULDBLOCK, "a second fd in the same process got LOCK_EX: %d errno %d", r, errno);
    SYS(flock(a, LOCK_UN));
    REQUIRE(in_child(child_flock_nb, &yes) == 0, "LOCK_EX refused after LOCK_UN");
    SYS(flock(a, LOCK_SH));
    SYS(flock(b, LOCK_SH | LOCK_NB));
    REQUIRE(in_child(child_flock_nb, &no) == 0, "LOCK_EX granted over shared locks");
    close(a);
    close(b);
    REQUIRE(in_child(child_flock_nb, &yes) == 0, "LOCK_EX refused after close released the locks");
    return 0;
}

static int check_mkfifo(void)
{
    SYS(mkfifo("fifo", 0644));
    struct stat st;
    SYS(stat("fifo", &st));
    REQUIRE(S_ISFIFO(st.st_mode), "mode %o is not a FIFO", st.st_mode);
    pid_t p = fork();
    SYS(p);
    if (p == 0) {
        int w = open("fifo", O_WRONLY);
        if (w < 0) _exit(2);
        if (write(w, "through-the-pipe", 16) != 16) _exit(3);
        _exit(0);
    }
    int r = open("fifo", O_RDONLY);
    SYS(r);
    char buf[32];
    ssize_t n = read_full(r, buf, sizeof buf);
    close(r);
    int ws;
    waitpid(p, &ws, 0);
    REQUIRE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "writer exited with status %d", ws);
    REQUIRE(n == 16 && memcmp(buf, "through-the-pipe", 16) == 0, "read %zd bytes through the FIFO", n);
    SYS(mknod("node", S_IFIFO | 0600, 0));
    SYS(stat("node", &st));
    REQUIRE(S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0600, "mknod FIFO mode %o", st.st_mode);
    SYS(unlink("fifo"));
    SYS(unlink("node"));
    return 0;
}

static int check_statfs(void)
{
    struct statfs sf;
    SYS(statfs(".", &sf));
    REQUIRE(sf.f_bsize > 0, "f_bsize %ld", (long)sf.f_bsize);
    REQUIRE(sf.f_blocks > 0, "f_blocks %llu", (unsigned long long)sf.f_blocks);
    REQUIRE(sf.f_bfree <= sf.f_blocks && sf.f_bavail <= sf.f_blocks, "free %llu / avail %llu > blocks %llu",
            (unsigned long long)sf.f_bfree, (unsigned long long)sf.f_bavail, (unsigned long long)sf.f_blocks);
    REQUIRE(sf.f_namelen >= 255, "f_namelen %ld", (long)sf.f_namelen);
    /* f_type is whatever the server sends in Rstatfs: diod sends V9FS_MAGIC (0x01021997)
     * unless -p, QEMU and gofer pass the host's through. Both are legitimate; reported only. */
    int fd = open(".", O_RDONLY | O_DIRECTORY);
    SYS(fd);
    struct statfs sf2;
    SYS(fstatfs(fd, &sf2));
    close(fd);
    REQUIRE(sf2.f_blocks == sf.f_blocks && sf2.f_bsize == sf.f_bsize, "fstatfs disagrees with statfs");
    infof("f_type=%lx bsize=%ld blocks=%llu bavail=%llu files=%llu", (long)sf.f_type, (long)sf.f_bsize, (unsigned long long)sf.f_blocks,
          (unsigned long long)sf.f_bavail, (unsigned long long)sf.f_files);
    return 0;
}

static int g_rm_count;
/* rm -rf the way coreutils does it: descend with openat, remove with unlinkat, depth first. */
static int rm_at(int parent, const char *name)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return failf("fstatat %s: %s", name, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (dfd < 0) return failf("openat %s: %s", name, strerror(errno));
        DIR *d = fdopendir(dfd);
        if (!d) return failf("fdopendir %s: %s", name, strerror(errno));
        for (struct dirent *de; (de = readdir(d));) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            if (rm_at(dirfd(d), de->d_name) < 0) { closedir(d); return -1; }
        }
        closedir(d);
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0) return failf("rmdir %s: %s", name, strerror(errno));
    } else if (unlinkat(parent, name, 0) < 0) {
        return failf("unlink %s: %s", name, strerror(errno));
    }
    g_rm_count++;
    return 0;
}

static int check_rmtree(void)
{
    /* 40 levels deep, each with files, a symlink and a sibling directory. Built and removed
     * relative to the current directory (chdir per level; removal with openat/unlinkat) as rm -rf does, so
     * the cost is per entry, not per entry times depth. */
    int top = open(".", O_RDONLY | O_DIRECTORY);
    SYS(top);
    SYS(mkdir("tree", 0755));
    SYS(chdir("tree"));
    int made = 1;
    for (int depth = 0; depth < 40; depth++) {
        char f[32];
        for (int i = 0; i < 3; i++) {
            snprintf(f, sizeof f, "file%d", i);
            SYS(write_file(f, "data", 4)); made++;
        }
        SYS(symlink("file0", "link")); made++;
        SYS(mkdir("side", 0700)); made++;
        SYS(write_file("side/leaf", "", 0)); made++;
        snprintf(f, sizeof f, "level%02d", depth);
        SYS(mkdir(f, 0755)); made++;
        SYS(chdir(f));
    }
    SYS(fchdir(top));
    close(top);
    g_rm_count = 0;
    g_reason[0] = 0;
    if (rm_at(AT_FDCWD, "tree") < 0) return -1;
    struct stat st;
    REQUIRE(lstat("tree", &st) < 0 && errno == ENOENT, "tree still exists after removal");
    REQUIRE(g_rm_count == made, "removed %d entries, created %d", g_rm_count, made);
    return 0;
}

/* fsx-style checker: random writes, reads, truncates and reopens against an in-memory model;
 * every read is verified byte for byte. */
static int fsx_run(int ops, uint64_t seed)
{
    const size_t maxsize = 1 << 20;
    unsigned char *model = calloc(1, maxsize), *buf = malloc(maxsize);
    REQUIRE(model && buf, "malloc");
    size_t size = 0;
    g_rng = seed;
    int fd = open("fsx", O_RDWR | O_CREAT | O_TRUNC, 0644);
    SYS(fd);
    int nread = 0, nwrite = 0, ntrunc = 0, nreopen = 0;
    for (int op = 0; op < ops; op++) {
        uint64_t kind = rnd() % 100;
        if (kind < 40) { /* write */
            size_t off = (size_t)(rnd() % maxsize);
            size_t len = 1 + (size_t)(rnd() % 65536);
            if (off + len > maxsize) len = maxsize - off;
            for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)(rnd() >> 56);
            if (pwrite_all(fd, buf, len, (off_t)off) < 0) return failf("op %d: pwrite(%zu, %zu): %s", op, off, len, strerror(errno));
            memcpy(model + off, buf, len);
            if (off + len > size) size = off + len;
            nwrite++;
        } else if (kind < 80) { /* read and verify */
            size_t off = size ? (size_t)(rnd() % (size + 4096)) : 0;
            size_t len = 1 + (size_t)(rnd() % 65536);
            ssize_t r = pread_full(fd, buf, len, (off_t)off);
            if (r < 0) return failf("op %d: pread(%zu, %zu): %s", op, off, len, strerror(errno));
            size_t want = off >= size ? 0 : (off + len > size ? size - off : len);
            if ((size_t)r != want) return failf("op %d: pread(%zu, %zu) returned %zd, model size %zu wants %zu", op, off, len, r, size, want);
            for (size_t i = 0; i < want; i++)
                if (buf[i] != model[off + i])
                    return failf("op %d: byte at %zu is %02x, model says %02x (read off %zu len %zu, size %zu)", op, off + i, buf[i], model[off + i], off, len, size);
            nread++;
        } else if (kind < 92) { /* truncate up or down */
            size_t ns = (size_t)(rnd() % maxsize);
            if (ftruncate(fd, (off_t)ns) < 0) return failf("op %d: ftruncate(%zu): %s", op, ns, strerror(errno));
            if (ns < size) memset(model + ns, 0, size - ns);
            size = ns;
            ntrunc++;
        } else if (kind < 97) { /* size check */
            struct stat st;
            if (fstat(fd, &st) < 0) return failf("op %d: fstat: %s", op, strerror(errno));
            if ((size_t)st.st_size != size) return failf("op %d: fstat size %lld, model %zu", op, (long long)st.st_size, size);
        } else { /* close and reopen, sometimes with fsync first */
            if (kind == 97 && fsync(fd) < 0) return failf("op %d: fsync: %s", op, strerror(errno));
            close(fd);
            fd = open("fsx", O_RDWR);
            if (fd < 0) return failf("op %d: reopen: %s", op, strerror(errno));
            nreopen++;
        }
    }
    ssize_t r = pread_full(fd, buf, maxsize, 0);
    REQUIRE(r == (ssize_t)size, "final read %zd, model size %zu", r, size);
    REQUIRE(memcmp(buf, model, size) == 0, "final content differs from the model");
    close(fd);
    infof("ops=%d reads=%d writes=%d truncates=%d reopens=%d final=%zu", ops, nread, nwrite, ntrunc, nreopen, size);
    free(model); free(buf);
    return 0;
}

static int check_fsx(void) { return fsx_run(20000, 0x5EED0F5EEDULL); }

/* The same checker, shorter and with another seed: cheap enough for every mount, so the cached
 * modes (where page cache and writeback meet the server) get a data-integrity run too. */
static int check_fsx_short(void) { return fsx_run(2000, 0xC0FFEE5EEDULL); }

/* ---------------------------------------------------------------- driver */

struct check { const char *name; int (*fn)(void); int heavy; int timeout_s; };

static const struct check g_checks[] = {
    { "create_rw", check_create_rw, 0, 120 },
    { "append", check_append, 0, 120 },
    { "truncate", check_truncate, 0, 120 },
    { "sparse", check_sparse, 0, 300 },
    { "big_file_256m", check_big_file, 1, 1500 },
    { "mkdir_rmdir", check_mkdir_rmdir, 0, 120 },
    { "rename_file", check_rename_file, 0, 120 },
    { "rename_dir", check_rename_dir, 0, 120 },
    { "hardlink", check_hardlink, 0, 120 },
    { "symlink", check_symlink, 0, 120 },
    { "chmod", check_chmod, 0, 120 },
    { "chown", check_chown, 0, 120 },
    { "utime", check_utime, 0, 120 },
    { "bigdir_10000", check_bigdir, 1, 1500 },
    { "unlink_open", check_unlink_open, 0, 120 },
    { "xattr", check_xattr, 0, 120 },
    { "fcntl_lock", check_fcntl_lock, 0, 180 },
    { "flock", check_flock, 0, 180 },
    { "mkfifo", check_mkfifo, 0, 120 },
    { "statfs", check_statfs, 0, 120 },
    { "rmtree", check_rmtree, 0, 600 },
    { "fsx_2000", check_fsx_short, 0, 600 },
    { "fsx_20000", check_fsx, 1, 1500 },
};

static void run_one(const char *dir, const struct check *c)
{
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/%s", dir, c->name);
    int pfd[2];
    if (pipe(pfd) < 0) { printf("CHECK %s %s FAIL pipe: %s\n", g_label, c->name, strerror(errno)); return; }
    double t0 = now_s();
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        close(pfd[0]);
        alarm((unsigned)c->timeout_s);
        int rc;
        if (mkdir(sub, 0755) < 0 || chdir(sub) < 0) rc = failf("setup %s: %s", sub, strerror(errno));
        else { g_reason[0] = 0; rc = c->fn(); }
        char line[600];
        int n = snprintf(line, sizeof line, "%c%s", rc == 0 ? 'P' : 'F', g_reason);
        if (write(pfd[1], line, (size_t)n) != n) _exit(3);
        _exit(0);
    }
    close(pfd[1]);
    char res[600] = {0};
    ssize_t n = p > 0 ? read_full(pfd[0], res, sizeof res - 1) : -1;
    close(pfd[0]);
    int st = 0;
    if (p > 0) waitpid(p, &st, 0);
    double secs = now_s() - t0;
    for (char *q = res; *q; q++) if (*q == '\n' || *q == '\r') *q = ' ';
    if (n > 0 && res[0] == 'P')
        printf("CHECK %s %s PASS %.2fs %s\n", g_label, c->name, secs, res + 1);
    else if (n > 0 && res[0] == 'F')
        printf("CHECK %s %s FAIL %s (after %.2fs)\n", g_label, c->name, res + 1, secs);
    else if (p > 0 && WIFSIGNALED(st))
        printf("CHECK %s %s FAIL killed by signal %d%s after %.2fs\n", g_label, c->name, WTERMSIG(st),
               WTERMSIG(st) == SIGALRM ? " (timeout)" : "", secs);
    else
        printf("CHECK %s %s FAIL no result from the check process (status %d)\n", g_label, c->name, st);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *list = NULL, *set = "all";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--label")) g_label = argv[i + 1];
        else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "--checks")) list = argv[i + 1];
        else if (!strcmp(argv[i], "--set")) set = argv[i + 1];
    }
    if (!dir) { fprintf(stderr, "usage: checker --label L --dir DIR [--checks a,b | --set all|light]\n"); return 2; }
    umask(022);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof g_checks / sizeof g_checks[0]; i++) {
        const struct check *c = &g_checks[i];
        if (list) {
            char pat[128];
            snprintf(pat, sizeof pat, ",%s,", c->name);
            char all[1024];
            snprintf(all, sizeof all, ",%s,", list);
            if (!strstr(all, pat)) continue;
        } else if (!strcmp(set, "light") && c->heavy) {
            continue;
        }
        run_one(dir, c);
    }
    printf("DONE %s\n", g_label);
    return 0;
}
