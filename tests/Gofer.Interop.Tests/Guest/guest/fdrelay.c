/*
 * fdrelay: lets the guest kernel mount 9p with trans=fd over a virtio-serial port.
 *
 * Why it exists: 9pnet_fd moves bytes with kernel_read()/kernel_write(), and since Linux 5.10
 * those refuse files without ->read_iter/->write_iter ("kernel write not supported for file
 * /vport0p1"). virtio_console ports only have ->read/->write, so rfdno/wfdno cannot be the port
 * itself. A socket has the iter operations, so this program makes a socket pair, relays bytes
 * between the port and one end, and runs mount with the other end as rfdno=wfdno.
 *
 * usage: fdrelay DEVICE mount ARGS...   (an argument containing "{fd}" gets the socket number)
 *
 * The relay child keeps running after mount returns (the kernel holds its own reference to the
 * socket); it ends when either side closes (umount, or the host end goes away).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int copy_some(int from, int to, char *buf, size_t cap)
{
    ssize_t n = read(from, buf, cap);
    if (n < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0) return -1;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) { struct pollfd p = { to, POLLOUT, 0 }; poll(&p, 1, 1000); continue; }
            return -1;
        }
        off += w;
    }
    return 0;
}

static void relay(int port, int sock)
{
    static char buf[1 << 17];
    struct pollfd p[2] = { { port, POLLIN, 0 }, { sock, POLLIN, 0 } };
    for (;;) {
        if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) { if (copy_some(port, sock, buf, sizeof buf) < 0) break; }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) { if (copy_some(sock, port, buf, sizeof buf) < 0) break; }
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: fdrelay DEVICE mount ARGS...\n"); return 2; }
    int port = open(argv[1], O_RDWR | O_CLOEXEC);
    if (port < 0) { fprintf(stderr, "fdrelay: open %s: %s\n", argv[1], strerror(errno)); return 1; }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) { perror("fdrelay: socketpair"); return 1; }
    pid_t pid = fork();
    if (pid < 0) { perror("fdrelay: fork"); return 1; }
    if (pid == 0) {
        close(sv[0]);
        /* Detach from the mount's exit: the relay must outlive it. */
        setsid();
        relay(port, sv[1]);
        _exit(0);
    }
    close(sv[1]);
    close(port);
    char num[16];
    snprintf(num, sizeof num, "%d", sv[0]);
    for (int i = 2; i < argc; i++) {
        char *p;
        while ((p = strstr(argv[i], "{fd}"))) {
            size_t n = strlen(argv[i]) + 16;
            char *s = malloc(n);
            snprintf(s, n, "%.*s%s%s", (int)(p - argv[i]), argv[i], num, p + 4);
            argv[i] = s;
        }
    }
    pid_t m = fork();
    if (m < 0) { perror("fdrelay: fork"); return 1; }
    if (m == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "fdrelay: exec %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int st;
    waitpid(m, &st, 0);
    close(sv[0]);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        kill(pid, SIGTERM);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    return 0;
}
