/*
 * fdlaunch: starts a 9P server and QEMU joined by one connected socket pair, the shape the
 * Gofer runtime uses (a gofer with an inherited socket FD, the sandbox kernel on the other end).
 *
 * usage: fdlaunch PIDFILE SERVER_FD QEMU_FD -- server argv... -- qemu argv...
 *
 * socketpair(AF_UNIX, SOCK_STREAM); the server child gets one end as SERVER_FD, QEMU gets the
 * other end as QEMU_FD (both without close-on-exec, everything else closed). The server's PID
 * is written to PIDFILE so the test can kill it by PID; this process then becomes QEMU
 * (exec), so the caller's process id is QEMU's. Arguments equal to "{fd}" are replaced by the
 * descriptor number given to that child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void place_fd(int have, int want)
{
    if (have != want) {
        if (dup2(have, want) < 0) { perror("fdlaunch: dup2"); _exit(127); }
        close(have);
    }
    int fl = fcntl(want, F_GETFD);
    fcntl(want, F_SETFD, fl & ~FD_CLOEXEC);
}

static void subst(char **argv, int fd)
{
    static char num[16];
    snprintf(num, sizeof num, "%d", fd);
    for (; *argv; argv++) {
        char *p = strstr(*argv, "{fd}");
        if (!p) continue;
        size_t n = strlen(*argv) + 16;
        char *s = malloc(n);
        snprintf(s, n, "%.*s%s%s", (int)(p - *argv), *argv, num, p + 4);
        *argv = s;
    }
}

int main(int argc, char **argv)
{
    if (argc < 7 || strcmp(argv[4], "--")) {
        fprintf(stderr, "usage: fdlaunch PIDFILE SERVER_FD QEMU_FD -- server... -- qemu...\n");
        return 2;
    }
    const char *pidfile = argv[1];
    int sfd = atoi(argv[2]), qfd = atoi(argv[3]);
    char **server = argv + 5, **qemu = NULL;
    for (int i = 5; i < argc; i++)
        if (!strcmp(argv[i], "--")) { argv[i] = NULL; qemu = argv + i + 1; break; }
    if (!qemu || !*qemu || !*server || sfd < 3 || qfd < 3) { fprintf(stderr, "fdlaunch: bad arguments\n"); return 2; }

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) { perror("fdlaunch: socketpair"); return 1; }
    /* Keep both ends clear of the numbers the children want. */
    int a = fcntl(sv[0], F_DUPFD_CLOEXEC, 100), b = fcntl(sv[1], F_DUPFD_CLOEXEC, 100);
    close(sv[0]); close(sv[1]);

    pid_t pid = fork();
    if (pid < 0) { perror("fdlaunch: fork"); return 1; }
    if (pid == 0) {
        close(b);
        place_fd(a, sfd);
        subst(server, sfd);
        execvp(server[0], server);
        fprintf(stderr, "fdlaunch: exec %s: %s\n", server[0], strerror(errno));
        _exit(127);
    }
    FILE *f = fopen(pidfile, "w");
    if (f) { fprintf(f, "%d\n", (int)pid); fclose(f); }
    close(a);
    place_fd(b, qfd);
    subst(qemu, qfd);
    execvp(qemu[0], qemu);
    fprintf(stderr, "fdlaunch: exec %s: %s\n", qemu[0], strerror(errno));
    return 127;
}
