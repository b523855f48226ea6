/*
 * pingpong: the floor for a round trip over a Unix socket. A forked echo server (one blocking
 * thread per connection: read a length-prefixed frame, write a length-prefixed answer) and the
 * usual load-generator threads (peer_harness.h). No parsing, no protobuf, no event loop: what a
 * GetBalance round trip would cost if the server did nothing at all. The frames default to the
 * size of a GetBalance call on the wire: 52 bytes out (4-byte length + the envelope), 60 back.
 *
 *   pingpong [--connections 1] [--depth 1] [--duration 10] [--request-bytes 52] [--response-bytes 60]
 *            [--socket PATH]   (default: a fresh path under /tmp, removed afterwards)
 */
#define _GNU_SOURCE

#include "peer_harness.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: pingpong [--connections N] [--depth D] [--duration S] [--request-bytes B]\n"
    "                [--response-bytes B] [--socket PATH]\n";

static int request_bytes = 52, response_bytes = 60;
static char socket_path[108];

static int extra_arg(const char *name, const char *value) {
    if (strcmp(name, "request-bytes") == 0) request_bytes = atoi(value);
    else if (strcmp(name, "response-bytes") == 0) response_bytes = atoi(value);
    else if (strcmp(name, "socket") == 0) snprintf(socket_path, sizeof socket_path, "%s", value);
    else return -1;
    return 0;
}

static int read_full(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void put_frame(char *buf, int bytes) { /* big-endian u32 length of what follows, then zeros */
    uint32_t len = (uint32_t)(bytes - 4);
    memset(buf, 0, (size_t)bytes);
    buf[0] = (char)(len >> 24), buf[1] = (char)(len >> 16), buf[2] = (char)(len >> 8), buf[3] = (char)len;
}

/* The echo server: one thread per connection. */
static void *serve_conn(void *arg) {
    int fd = (int)(intptr_t)arg;
    char answer[65536], in[65536];
    put_frame(answer, response_bytes);
    for (;;) {
        unsigned char h[4];
        if (read_full(fd, h, 4) < 0) break;
        uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (len > sizeof in || read_full(fd, in, len) < 0) break;
        if (write_full(fd, answer, (size_t)response_bytes) < 0) break;
    }
    close(fd);
    return NULL;
}

static void serve(int listener) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the client */
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) continue;
            _exit(1);
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) != 0) _exit(1);
        pthread_detach(t);
    }
}

typedef struct pp_conn {
    int fd;
    char *out, *in;
} pp_conn;

static void *pp_open(peer_worker *w) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        peer_fail(w, "connect %s: %s", socket_path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    pp_conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->out = malloc((size_t)request_bytes * (size_t)w->opt->depth);
    c->in = malloc((size_t)response_bytes);
    for (int d = 0; d < w->opt->depth; d++) put_frame(c->out + (size_t)d * (size_t)request_bytes, request_bytes);
    return c;
}

static int pp_round(peer_worker *w, void *conn) {
    pp_conn *c = conn;
    int64_t sent = peer_now_ns();
    if (write_full(c->fd, c->out, (size_t)request_bytes * (size_t)w->opt->depth) < 0) {
        peer_fail(w, "write: %s", strerror(errno));
        return -1;
    }
    for (int d = 0; d < w->opt->depth; d++) {
        if (read_full(c->fd, c->in, (size_t)response_bytes) < 0) {
            peer_fail(w, "read: %s", strerror(errno));
            return -1;
        }
        peer_record(w, sent, NULL);
    }
    return 0;
}

static void pp_close(void *conn) {
    pp_conn *c = conn;
    close(c->fd);
    free(c->out);
    free(c->in);
    free(c);
}

int main(int argc, char **argv) {
    peer_options o = {.connections = 1, .depth = 1, .users = 1, .duration = 10, .mode = "echo"};
    if (peer_parse(argc, argv, &o, usage_text, extra_arg) < 0) return 2;
    if (request_bytes < 4 || response_bytes < 4 || request_bytes > 65536 || response_bytes > 65536) {
        fprintf(stderr, "pingpong: frame sizes must be 4 .. 65536 bytes\n");
        return 2;
    }
    char dir[64] = "";
    if (!socket_path[0]) {
        snprintf(dir, sizeof dir, "/tmp/pingpong-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("pingpong: mkdtemp");
            return 1;
        }
        snprintf(socket_path, sizeof socket_path, "%s/echo.sock", dir);
    }
    unlink(socket_path);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1024) < 0) {
        fprintf(stderr, "pingpong: listen on %s: %s\n", socket_path, strerror(errno));
        return 1;
    }
    pid_t server = fork();
    if (server < 0) {
        perror("pingpong: fork");
        return 1;
    }
    if (server == 0) serve(listener);
    close(listener);

    peer_driver d = {.name = "pingpong", .open = pp_open, .round = pp_round, .close = pp_close};
    int rc = peer_run(&d, &o);

    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    /* The echo server's CPU (the only child reaped): Scripts/bench-peers.sh's server CPU per call. */
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
        printf("pingpong server cpu %.0f us\n", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    unlink(socket_path);
    if (dir[0]) rmdir(dir);
    return rc;
}
