/*
 * The load-generator skeleton shared by the peer drivers in this folder (pingpong, redis-bench,
 * pg-bench; Scripts/bench-peers.sh runs them beside tally-bench). Same shape as tally-bench: N
 * connections, one thread each; every thread sends a round of `depth` calls, collects their
 * answers, and repeats until the time is up. Latency of a call: from its round's send to its
 * answer. Prints one line in tally-bench's format, so one parser reads them all:
 *
 *   NAME MODE: C conn x depth D, T s, U users: N ops, X ops/s, E errors; latency us p50 .. p99 .. p99.9 .. max ..
 *
 * A driver fills in peer_driver: open (one connection per thread, NULL when it failed), round
 * (send `depth` calls, then peer_record() each answer; -1 when the connection is lost), close.
 * Header-only: each program includes it once.
 */
#ifndef PEER_HARNESS_H
#define PEER_HARNESS_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct peer_options {
    int connections, depth, users;
    double duration;
    const char *mode;
} peer_options;

typedef struct peer_worker {
    const peer_options *opt;
    int index;
    pthread_t thread;
    uint64_t rng;
    uint32_t *lat; /* tenths of a microsecond */
    size_t n_lat, cap_lat;
    uint64_t ops, errors;
    char first_error[300];
    int fatal;
} peer_worker;

typedef struct peer_driver {
    const char *name;
    void *(*open)(peer_worker *w);
    int (*round)(peer_worker *w, void *conn);
    void (*close)(void *conn);
} peer_driver;

typedef struct peer_shared {
    const peer_driver *driver;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready, go;
    int64_t start_ns, end_ns;
} peer_shared;

static peer_shared peer_sh;

static inline int64_t peer_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline uint64_t peer_rand(uint64_t *s) { /* xorshift64*, as tally-bench */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline int peer_user(peer_worker *w) { return (int)(peer_rand(&w->rng) % (uint64_t)w->opt->users); }

/* One answer: its latency from `sent_ns`, and an error message when it failed (NULL if OK). */
static inline void peer_record(peer_worker *w, int64_t sent_ns, const char *error_fmt, ...) {
    int64_t took = peer_now_ns() - sent_ns;
    if (w->n_lat == w->cap_lat) {
        size_t cap = w->cap_lat ? w->cap_lat * 2 : 65536;
        uint32_t *p = realloc(w->lat, cap * sizeof *p);
        if (!p) {
            w->fatal = 1;
            return;
        }
        w->lat = p;
        w->cap_lat = cap;
    }
    w->lat[w->n_lat++] = (uint32_t)(took / 100);
    w->ops++;
    if (error_fmt) {
        w->errors++;
        if (!w->first_error[0]) {
            va_list ap;
            va_start(ap, error_fmt);
            vsnprintf(w->first_error, sizeof w->first_error, error_fmt, ap);
            va_end(ap);
        }
    }
}

static inline void peer_fail(peer_worker *w, const char *fmt, ...) {
    w->fatal = 1;
    if (!w->first_error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->first_error, sizeof w->first_error, fmt, ap);
        va_end(ap);
    }
}

static void *peer_thread(void *arg) {
    peer_worker *w = arg;
    peer_shared *sh = &peer_sh;
    void *conn = sh->driver->open(w);
    if (!conn) w->fatal = 1;
    pthread_mutex_lock(&sh->lock);
    sh->ready++;
    pthread_cond_broadcast(&sh->cond);
    while (!sh->go) pthread_cond_wait(&sh->cond, &sh->lock);
    int64_t end = sh->end_ns;
    pthread_mutex_unlock(&sh->lock);
    while (conn && !w->fatal && peer_now_ns() < end)
        if (sh->driver->round(w, conn) < 0) w->fatal = 1;
    if (conn) sh->driver->close(conn);
    return NULL;
}

static int peer_cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double peer_pct(const uint32_t *v, size_t n, double p) {
    if (!n) return 0;
    size_t i = (size_t)(p * (double)n);
    if (i >= n) i = n - 1;
    return v[i] / 10.0;
}

/* Runs the threads, prints the line; 0 when every call succeeded and no connection was lost. */
static int peer_run(const peer_driver *d, const peer_options *o) {
    peer_shared *sh = &peer_sh;
    memset(sh, 0, sizeof *sh);
    sh->driver = d;
    pthread_mutex_init(&sh->lock, NULL);
    pthread_cond_init(&sh->cond, NULL);
    peer_worker *ws = calloc((size_t)o->connections, sizeof *ws);
    if (!ws) return 1;
    uint64_t seed = (uint64_t)peer_now_ns() | 1;
    for (int i = 0; i < o->connections; i++) {
        ws[i].opt = o;
        ws[i].index = i;
        ws[i].rng = peer_rand(&seed) | 1;
    }
    for (int i = 0; i < o->connections; i++)
        if (pthread_create(&ws[i].thread, NULL, peer_thread, &ws[i]) != 0) {
            fprintf(stderr, "%s: pthread_create: %s\n", d->name, strerror(errno));
            return 1;
        }
    /* Every connection is open before the clock starts. */
    pthread_mutex_lock(&sh->lock);
    while (sh->ready < o->connections) pthread_cond_wait(&sh->cond, &sh->lock);
    sh->start_ns = peer_now_ns();
    sh->end_ns = sh->start_ns + (int64_t)(o->duration * 1e9);
    sh->go = 1;
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->lock);
    for (int i = 0; i < o->connections; i++) pthread_join(ws[i].thread, NULL);
    double seconds = (double)(peer_now_ns() - sh->start_ns) / 1e9;

    size_t total = 0;
    uint64_t ops = 0, errors = 0;
    int lost = 0;
    const char *first_error = NULL;
    for (int i = 0; i < o->connections; i++) {
        total += ws[i].n_lat;
        ops += ws[i].ops;
        errors += ws[i].errors;
        lost += ws[i].fatal;
        if (!first_error && ws[i].first_error[0]) first_error = ws[i].first_error;
    }
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    if (!all) return 1;
    size_t at = 0;
    for (int i = 0; i < o->connections; i++) {
        if (ws[i].n_lat) memcpy(all + at, ws[i].lat, ws[i].n_lat * sizeof *all);
        at += ws[i].n_lat;
        free(ws[i].lat);
    }
    qsort(all, total, sizeof *all, peer_cmp_u32);
    printf("%s %s: %d conn x depth %d, %.1f s, %d users: %llu ops, %.0f ops/s, %llu errors; "
           "latency us p50 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
           d->name, o->mode, o->connections, o->depth, seconds, o->users, (unsigned long long)ops,
           (double)ops / seconds, (unsigned long long)errors, peer_pct(all, total, 0.5), peer_pct(all, total, 0.99),
           peer_pct(all, total, 0.999), total ? all[total - 1] / 10.0 : 0.0);
    fflush(stdout);
    if (first_error) fprintf(stderr, "%s: first error: %s\n", d->name, first_error);
    if (lost) fprintf(stderr, "%s: %d connection(s) ended early\n", d->name, lost);
    free(all);
    free(ws);
    pthread_mutex_destroy(&sh->lock);
    pthread_cond_destroy(&sh->cond);
    return errors || lost ? 1 : 0;
}

/* Parses the common options (--connections --depth --duration --users --mode); calls `extra`
   for any other --name value pair (it returns 0 when it took it). -1 on a bad argument. */
static int peer_parse(int argc, char **argv, peer_options *o, const char *usage_text,
                      int (*extra)(const char *name, const char *value)) {
    for (int i = 1; i < argc; i++) {
        char *name = argv[i], *value = NULL, *eq;
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        }
        if (strncmp(name, "--", 2) != 0) goto bad;
        if ((eq = strchr(name, '=')) != NULL) {
            *eq = '\0';
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            goto bad;
        }
        name += 2;
        if (strcmp(name, "connections") == 0) o->connections = atoi(value);
        else if (strcmp(name, "depth") == 0) o->depth = atoi(value);
        else if (strcmp(name, "duration") == 0) o->duration = atof(value);
        else if (strcmp(name, "users") == 0) o->users = atoi(value);
        else if (strcmp(name, "mode") == 0) o->mode = value;
        else if (!extra || extra(name, value) != 0) goto bad;
        continue;
    bad:
        fprintf(stderr, "bad argument '%s'\n%s", argv[i], usage_text);
        return -1;
    }
    if (o->connections < 1 || o->depth < 1 || o->users < 1 || o->duration <= 0) {
        fprintf(stderr, "connections, depth, users and duration must be positive\n");
        return -1;
    }
    return 0;
}

#endif
