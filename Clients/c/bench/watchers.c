/*
 * tally-watchers: many balance watches beside a load, for Scripts/bench-watch.sh. Opens N
 * watches, one per user (bench-0 ... bench-(N-1), the users `tally bench` writes), one per
 * connection or K per connection, reads them all with epoll (Linux), and optionally one more
 * connection watching every user (admins) that never reads. Runs until SIGTERM or SIGINT, then
 * prints one line:
 *
 *   tally-watchers: 1000 watches, 123456 changes read, 0 ended early; never-reading watch: RESOURCE_EXHAUSTED WATCH_TOO_SLOW ...
 *
 *   tally-watchers SOCKET N [--per-connection K] [--never-read]
 *
 * --per-connection K: K watches (at most 100) share each connection, as an app server's would.
 */
#define _POSIX_C_SOURCE 200809L

#include "tally.h"

#include <sys/epoll.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static long long changes, never_changes;
static int on_change(void *ctx, const ProtobufCMessage *m) {
    if (!((const Tally__V1__BalanceChange *)m)->live) ++*(long long *)ctx;
    return 0;
}

static tally_stream *watch(tally_conn *c, char **users, size_t n, int all, long long *count) {
    tally_error err = TALLY_ERROR_INIT;
    Tally__V1__WatchBalanceRequest req = TALLY__V1__WATCH_BALANCE_REQUEST__INIT;
    req.n_user_ids = n;
    req.user_ids = users;
    req.all_users = all;
    tally_stream *s = tally_watch_balance(c, &req, on_change, count, &err);
    if (!s) {
        char buf[600];
        fprintf(stderr, "tally-watchers: watch: %s\n", tally_error_format(&err, buf, sizeof buf));
    }
    tally_error_clear(&err);
    return s;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SOCKET N [--per-connection K] [--never-read]\n", argv[0]);
        return 2;
    }
    const char *sock = argv[1];
    int n = atoi(argv[2]), per = 1, never_read = 0;
    for (int a = 3; a < argc; a++) {
        if (strcmp(argv[a], "--never-read") == 0) never_read = 1;
        else if (strcmp(argv[a], "--per-connection") == 0 && a + 1 < argc) per = atoi(argv[++a]);
        else {
            fprintf(stderr, "tally-watchers: unknown argument %s\n", argv[a]);
            return 2;
        }
    }
    if (n < 0 || per < 1 || per > 100) return 2;
    int nconn = (n + per - 1) / per;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nconn + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    /* Watch i (user bench-i) is on connection i / per; the never-reading one on a connection of its own. */
    tally_conn **conns = calloc((size_t)nconn + 1, sizeof *conns);
    tally_stream **streams = calloc((size_t)n + 1, sizeof *streams);
    if (!conns || !streams) return 1;
    tally_error err = TALLY_ERROR_INIT;
    for (int i = 0; i < n; i++) {
        int c = i / per;
        if (!conns[c] && !(conns[c] = tally_connect(sock, 5000, &err))) {
            char buf[600];
            fprintf(stderr, "tally-watchers: connection %d: %s\n", c, tally_error_format(&err, buf, sizeof buf));
            return 1;
        }
        char user[32];
        snprintf(user, sizeof user, "bench-%d", i);
        char *users[] = {user};
        if (!(streams[i] = watch(conns[c], users, 1, 0, &changes))) return 1;
    }
    if (never_read) {
        conns[nconn] = tally_connect(sock, 5000, &err);
        if (!conns[nconn] || !(streams[n] = watch(conns[nconn], NULL, 0, 1, &never_changes))) return 1;
    }
    printf("tally-watchers: %d watches open on %d connections%s\n", n, nconn,
           never_read ? ", and one of every user that never reads" : "");
    fflush(stdout);

    /* epoll, not poll(): a wake costs what is ready, not all the sockets (this process shares
     * the machine with tallyd and the load; its own cost must stay small). */
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return 1;
    for (int c = 0; c < nconn; c++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, tally_fd(conns[c]), &ev) < 0) return 1;
    }
    struct epoll_event ready[256];
    int ended = 0;
    while (!stop && ended < n) {
        int got = epoll_wait(ep, ready, 256, 200);
        for (int k = 0; k < got; k++) {
            int c = (int)ready[k].data.u32;
            /* Polling one stream reads the socket and routes the frames of all of them. */
            for (int i = c * per; i < n && i < (c + 1) * per; i++) {
                if (streams[i] && tally_stream_poll(streams[i], 0) == 0) {
                    ended++;
                    tally_stream_free(streams[i]);
                    streams[i] = NULL;
                }
            }
        }
    }
    close(ep);

    char never[700] = "-";
    if (never_read) {
        /* Only now read what the server sent it: its last frame says how it ended. */
        tally_stream_poll(streams[n], 2000);
        const tally_error *e = NULL;
        int rc = tally_stream_status(streams[n], &e);
        if (rc < 0) snprintf(never, sizeof never, "still open");
        else if (e) tally_error_format(e, never, sizeof never);
        else snprintf(never, sizeof never, "OK");
    }
    printf("tally-watchers: %d watches, %lld changes read, %d ended early; never-reading watch: %s\n", n, changes,
           ended, never);
    for (int i = 0; i <= n; i++) tally_stream_free(streams[i]);
    for (int c = 0; c <= nconn; c++) tally_close(conns[c]);
    free(conns);
    free(streams);
    tally_error_clear(&err);
    return 0;
}
