/*
 * tally-bench: load on tallyd through libtally. N connections, one thread each; every thread
 * queues `depth` calls in a batch, sends them in one write, collects the answers (matched by
 * call id), and repeats until the time is up. Latency of a call: from its batch's send to its
 * answer. Prints one line:
 *
 *   tally-bench consume: 32 conn x depth 1, 10.0 s: N ops, X ops/s, 0 errors; latency us p50 .. p99 .. p99.9 .. max ..
 *
 * Before the run: for spends, every user is credited 10^9 tokens (so no spend is refused); for
 * consumes, the default tier's daily limit is raised to 10^15 and set back afterwards (SetLimits:
 * the bench must be an admin, as tallyd's owner is).
 */
#define _POSIX_C_SOURCE 200809L

#include "tally.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_BALANCE, OP_SPEND, OP_CREDIT, OP_CONSUME, OP_CHECK, OP_COMMIT, OP_RESOLVE, OP_HEALTH, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"balance", "spend", "credit", "consume", "check", "commit", "resolve", "health"};

/* Predictions for commit and resolve: each thread commits to its own current prediction and a
 * resolve settles it and moves the thread on to the next one, so no call hits a settled one. */
static _Thread_local unsigned prediction_round;
static _Thread_local unsigned commits_in_round;
static long bench_started;

static void prediction_name(char *out, size_t size) {
    snprintf(out, size, "bench-%ld-%lx-%u", bench_started, (unsigned long)(uintptr_t)&prediction_round, prediction_round);
}

typedef struct options {
    const char *socket;
    int connections, depth, users;
    double duration, zipf_s;
    int zipf;
    const char *mix;
    unsigned weight[OP_COUNT];
    unsigned weight_total;
    uint32_t timeout_ms;
    int64_t slow_us; /* 0: off */
} options;

typedef struct shared {
    const options *opt;
    const double *zipf_cdf; /* users entries, NULL for uniform */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int ready, go;
    int64_t start_ns, end_ns;
} shared;

typedef struct worker {
    shared *sh;
    int index;
    pthread_t thread;
    uint64_t rng;
    uint32_t *lat; /* tenths of a microsecond */
    size_t n_lat, cap_lat;
    uint64_t ops, errors;
    char first_error[300];
    int fatal;
} worker;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t next_rand(uint64_t *s) { /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double rand01(uint64_t *s) { return (double)(next_rand(s) >> 11) / 9007199254740992.0; }

static void usage(FILE *f) {
    fprintf(f,
            "usage: tally-bench [options]\n"
            "  --socket PATH          tallyd's socket (default $TALLY_SOCKET, else ./tally.sock)\n"
            "  --connections N        connections, one thread each (default 32)\n"
            "  --depth D              calls in flight per connection: one batch of D (default 1)\n"
            "  --duration S           seconds (default 10)\n"
            "  --users U              distinct users bench-0 .. bench-(U-1) (default 10000)\n"
            "  --distribution D       uniform or zipf (default uniform)\n"
            "  --zipf-s S             zipf exponent (default 1.0)\n"
            "  --mix M                balance, spend, credit, consume, check, commit, resolve (a resolve\n"
            "                         settles the thread's current prediction), health (Admin/Health,\n"
            "                         an admin's probe: run it beside a load to time the probe),\n"
            "                         mixed (= balance,spend,\n"
            "                         credit,consume), or weights: balance:8,spend:1,consume:1\n"
            "  --timeout-ms T         deadline sent with every call (default 0: none)\n"
            "  --slow-us U            print every call slower than U us to stderr, with when it was\n"
            "                         sent (seconds since the run began): stalls show as many calls\n"
            "                         sent at one moment (default 0: off)\n");
}

static int parse_mix(options *o) {
    memset(o->weight, 0, sizeof o->weight);
    char *spec = strcmp(o->mix, "mixed") == 0 ? strdup("balance,spend,credit,consume") : strdup(o->mix);
    if (!spec) return -1;
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        unsigned w = 1;
        char *sep = strpbrk(tok, ":=");
        if (sep) {
            *sep = '\0';
            char *end;
            long v = strtol(sep + 1, &end, 10);
            if (*end || v < 0 || v > 1000000) rc = -1;
            w = (unsigned)v;
        }
        int found = 0;
        for (int k = 0; k < OP_COUNT; k++)
            if (strcmp(tok, op_names[k]) == 0) {
                o->weight[k] += w;
                found = 1;
            }
        if (!found) {
            fprintf(stderr, "tally-bench: unknown operation '%s' in --mix\n", tok);
            rc = -1;
        }
    }
    free(spec);
    o->weight_total = 0;
    for (int k = 0; k < OP_COUNT; k++) o->weight_total += o->weight[k];
    if (o->weight_total == 0) rc = -1;
    return rc;
}

static int parse_args(int argc, char **argv, options *o) {
    const char *env = getenv("TALLY_SOCKET");
    o->socket = env && *env ? env : "./tally.sock";
    o->connections = 32;
    o->depth = 1;
    o->users = 10000;
    o->duration = 10;
    o->zipf_s = 1.0;
    o->zipf = 0;
    o->mix = "balance";
    o->timeout_ms = 0;
    o->slow_us = 0;
    for (int i = 1; i < argc; i++) {
        char *name = argv[i], *value = NULL, *eq;
        if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
            usage(stdout);
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
        if (strcmp(name, "socket") == 0) o->socket = value;
        else if (strcmp(name, "connections") == 0) o->connections = atoi(value);
        else if (strcmp(name, "depth") == 0) o->depth = atoi(value);
        else if (strcmp(name, "duration") == 0) o->duration = atof(value);
        else if (strcmp(name, "users") == 0) o->users = atoi(value);
        else if (strcmp(name, "zipf-s") == 0) o->zipf_s = atof(value);
        else if (strcmp(name, "mix") == 0) o->mix = value;
        else if (strcmp(name, "timeout-ms") == 0) o->timeout_ms = (uint32_t)strtoul(value, NULL, 10);
        else if (strcmp(name, "slow-us") == 0) o->slow_us = strtoll(value, NULL, 10);
        else if (strcmp(name, "distribution") == 0) {
            if (strcmp(value, "uniform") == 0) o->zipf = 0;
            else if (strcmp(value, "zipf") == 0) o->zipf = 1;
            else goto bad;
        } else goto bad;
        continue;
    bad:
        fprintf(stderr, "tally-bench: bad argument '%s'\n", argv[i]);
        usage(stderr);
        return -1;
    }
    if (o->connections < 1 || o->depth < 1 || o->users < 1 || o->duration <= 0 || o->zipf_s <= 0) {
        fprintf(stderr, "tally-bench: connections, depth, users, duration and zipf-s must be positive\n");
        return -1;
    }
    return parse_mix(o);
}

static int pick_op(const options *o, uint64_t *rng) {
    unsigned r = (unsigned)(next_rand(rng) % o->weight_total);
    for (int k = 0; k < OP_COUNT; k++) {
        if (r < o->weight[k]) return k;
        r -= o->weight[k];
    }
    return OP_BALANCE;
}

static int pick_user(const shared *sh, uint64_t *rng) {
    int n = sh->opt->users;
    if (!sh->zipf_cdf) return (int)(next_rand(rng) % (uint64_t)n);
    double u = rand01(rng);
    int lo = 0, hi = n - 1; /* first rank whose cdf >= u */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (sh->zipf_cdf[mid] >= u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Queues one call of kind `op` for `user`. */
static void add_op(tally_batch *b, int op, const char *user, tally_error *err) {
    switch (op) {
    case OP_SPEND: {
        Tally__V1__SpendRequest r = TALLY__V1__SPEND_REQUEST__INIT;
        r.user_id = (char *)user;
        r.amount = 1;
        tally_batch_add(b, TALLY_METHOD_SPEND, &r.base, &tally__v1__spend_response__descriptor, err);
        break;
    }
    case OP_CREDIT: {
        Tally__V1__CreditRequest r = TALLY__V1__CREDIT_REQUEST__INIT;
        r.user_id = (char *)user;
        r.amount = 1;
        r.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_GRANT;
        tally_batch_add(b, TALLY_METHOD_CREDIT, &r.base, &tally__v1__credit_response__descriptor, err);
        break;
    }
    case OP_CONSUME: {
        Tally__V1__ConsumeRequest r = TALLY__V1__CONSUME_REQUEST__INIT;
        r.user_id = (char *)user;
        r.tokens = 1;
        tally_batch_add(b, TALLY_METHOD_USAGE_CONSUME, &r.base, &tally__v1__consume_response__descriptor, err);
        break;
    }
    case OP_RESOLVE:
        if (commits_in_round > 0) {
            char prediction[80];
            prediction_name(prediction, sizeof prediction);
            Tally__V1__ResolvePredictionRequest r = TALLY__V1__RESOLVE_PREDICTION_REQUEST__INIT;
            r.prediction_id = prediction;
            r.winning = TALLY__V1__POSITION__POSITION_YES;
            tally_batch_add(b, TALLY_METHOD_RESOLVE, &r.base, &tally__v1__settle_prediction_response__descriptor, err);
            prediction_round++;
            commits_in_round = 0;
            break;
        }
        /* Nothing to resolve yet: commit instead. */
        /* fall through */
    case OP_COMMIT: {
        char prediction[80];
        prediction_name(prediction, sizeof prediction);
        Tally__V1__CommitRequest r = TALLY__V1__COMMIT_REQUEST__INIT;
        r.user_id = (char *)user;
        r.prediction_id = prediction;
        r.position = (user[strlen(user) - 1] & 1) ? TALLY__V1__POSITION__POSITION_YES : TALLY__V1__POSITION__POSITION_NO;
        r.stake = 1;
        r.odds_micros = 2000000;
        tally_batch_add(b, TALLY_METHOD_COMMIT, &r.base, &tally__v1__commit_response__descriptor, err);
        commits_in_round++;
        break;
    }
    case OP_HEALTH: {
        Tally__V1__HealthRequest r = TALLY__V1__HEALTH_REQUEST__INIT;
        tally_batch_add(b, TALLY_METHOD_HEALTH, &r.base, &tally__v1__health_response__descriptor, err);
        (void)user;
        break;
    }
    case OP_CHECK: {
        Tally__V1__CheckUsageRequest r = TALLY__V1__CHECK_USAGE_REQUEST__INIT;
        r.user_id = (char *)user;
        tally_batch_add(b, TALLY_METHOD_USAGE_CHECK, &r.base, &tally__v1__check_usage_response__descriptor, err);
        break;
    }
    default: {
        Tally__V1__GetBalanceRequest r = TALLY__V1__GET_BALANCE_REQUEST__INIT;
        r.user_id = (char *)user;
        tally_batch_add(b, TALLY_METHOD_GET_BALANCE, &r.base, &tally__v1__get_balance_response__descriptor, err);
        break;
    }
    }
}

static void note_error(worker *w, const tally_error *e) {
    w->errors++;
    if (!w->first_error[0]) tally_error_format(e, w->first_error, sizeof w->first_error);
}

static void *run_worker(void *arg) {
    worker *w = arg;
    shared *sh = w->sh;
    const options *o = sh->opt;
    tally_error err = TALLY_ERROR_INIT;
    tally_conn *c = tally_connect(o->socket, 10000, &err);
    tally_batch *b = c ? tally_batch_new(c) : NULL;
    if (c) tally_set_timeout(c, o->timeout_ms);
    else {
        note_error(w, &err);
        w->fatal = 1;
    }
    pthread_mutex_lock(&sh->lock);
    sh->ready++;
    pthread_cond_broadcast(&sh->cond);
    while (!sh->go) pthread_cond_wait(&sh->cond, &sh->lock);
    int64_t end = sh->end_ns;
    pthread_mutex_unlock(&sh->lock);

    char user[32];
    while (b && now_ns() < end) {
        tally_batch_reset(b);
        for (int d = 0; d < o->depth; d++) {
            snprintf(user, sizeof user, "bench-%d", pick_user(sh, &w->rng));
            add_op(b, pick_op(o, &w->rng), user, &err);
        }
        int64_t sent = now_ns();
        tally_batch_send(b, NULL);
        size_t i;
        while (tally_batch_next(b, &i) == 1) {
            int64_t took = now_ns() - sent;
            if (w->n_lat == w->cap_lat) {
                size_t cap = w->cap_lat ? w->cap_lat * 2 : 65536;
                uint32_t *p = realloc(w->lat, cap * sizeof *p);
                if (!p) {
                    w->fatal = 1;
                    break;
                }
                w->lat = p;
                w->cap_lat = cap;
            }
            w->lat[w->n_lat++] = (uint32_t)(took / 100);
            if (o->slow_us > 0 && took / 1000 > o->slow_us)
                fprintf(stderr, "slow call: connection %d, sent %.3f s into the run, answered after %.1f ms\n", w->index,
                        (double)(sent - sh->start_ns) / 1e9, (double)took / 1e6);
            w->ops++;
            const tally_error *e = NULL;
            if (tally_batch_result(b, i, NULL, &e) != TALLY_OK) note_error(w, e);
        }
        if (!tally_connected(c) || w->fatal) {
            w->fatal = 1;
            break;
        }
    }
    tally_batch_free(b);
    tally_close(c);
    tally_error_clear(&err);
    return NULL;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Setup: credit every user (spends), raise the default tier's daily limit (consumes). */
static int credit_users(tally_conn *c, int users) {
    tally_batch *b = tally_batch_new(c);
    char user[32];
    int failed = 0;
    for (int start = 0; start < users && !failed; start += 1000) {
        tally_batch_reset(b);
        for (int u = start; u < users && u < start + 1000; u++) {
            snprintf(user, sizeof user, "bench-%d", u);
            Tally__V1__CreditRequest r = TALLY__V1__CREDIT_REQUEST__INIT;
            r.user_id = user;
            r.amount = 1000000000;
            r.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_GRANT;
            tally_batch_add(b, TALLY_METHOD_CREDIT, &r.base, &tally__v1__credit_response__descriptor, NULL);
        }
        if (tally_batch_run(b) != 0) {
            const tally_error *e = NULL;
            char buf[300];
            for (size_t i = 0; i < tally_batch_size(b); i++)
                if (tally_batch_result(b, i, NULL, &e) != TALLY_OK) break;
            fprintf(stderr, "tally-bench: crediting users failed: %s\n", e ? tally_error_format(e, buf, sizeof buf) : "?");
            failed = 1;
        }
    }
    tally_batch_free(b);
    return failed ? -1 : 0;
}

static int set_tier_limit(tally_conn *c, const char *tier, int64_t limit, tally_error *err) {
    Tally__V1__SetLimitsRequest__TierLimitChange change = TALLY__V1__SET_LIMITS_REQUEST__TIER_LIMIT_CHANGE__INIT;
    change.tier = (char *)tier;
    change.limit = limit;
    Tally__V1__SetLimitsRequest req = TALLY__V1__SET_LIMITS_REQUEST__INIT;
    req.change_case = TALLY__V1__SET_LIMITS_REQUEST__CHANGE_TIER_LIMIT;
    req.tier_limit = &change;
    return tally_usage_set_limits(c, &req, NULL, err);
}

/* The default tier and its limit, then the limit raised to 10^15. */
static int raise_limit(tally_conn *c, char *tier, size_t size, int64_t *old_limit, tally_error *err) {
    Tally__V1__GetLimitsResponse *gl = NULL;
    if (tally_usage_get_limits(c, NULL, &gl, err) != TALLY_OK) return -1;
    snprintf(tier, size, "%s", gl->settings->default_tier);
    *old_limit = -1;
    for (size_t i = 0; i < gl->settings->n_tiers; i++)
        if (strcmp(gl->settings->tiers[i]->tier, tier) == 0) *old_limit = gl->settings->tiers[i]->limit;
    tally_free(gl);
    return set_tier_limit(c, tier, 1000000000000000LL, err) == TALLY_OK ? 0 : -1;
}

static double pct(const uint32_t *v, size_t n, double p) {
    if (!n) return 0;
    size_t i = (size_t)(p * (double)n);
    if (i >= n) i = n - 1;
    return v[i] / 10.0;
}

int main(int argc, char **argv) {
    options o;
    if (parse_args(argc, argv, &o) < 0) return 2;

    tally_error err = TALLY_ERROR_INIT;
    char buf[400];
    tally_conn *setup = tally_connect(o.socket, 10000, &err);
    if (!setup) {
        fprintf(stderr, "tally-bench: %s\n", tally_error_format(&err, buf, sizeof buf));
        return 1;
    }
    bench_started = (long)time(NULL);
    if ((o.weight[OP_SPEND] || o.weight[OP_COMMIT] || o.weight[OP_RESOLVE]) && credit_users(setup, o.users) < 0) return 1;
    char tier[80] = "";
    int64_t old_limit = -1;
    if (o.weight[OP_CONSUME]) {
        if (raise_limit(setup, tier, sizeof tier, &old_limit, &err) < 0) {
            fprintf(stderr, "tally-bench: raising the daily limit failed (admin needed): %s\n",
                    tally_error_format(&err, buf, sizeof buf));
            return 1;
        }
    }

    double *cdf = NULL;
    if (o.zipf) {
        cdf = malloc((size_t)o.users * sizeof *cdf);
        if (!cdf) return 1;
        double sum = 0;
        for (int k = 0; k < o.users; k++) cdf[k] = sum += 1.0 / pow(k + 1.0, o.zipf_s);
        for (int k = 0; k < o.users; k++) cdf[k] /= sum;
    }
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.opt = &o;
    sh.zipf_cdf = cdf;
    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.cond, NULL);
    worker *ws = calloc((size_t)o.connections, sizeof *ws);
    if (!ws) return 1;
    uint64_t seed = (uint64_t)now_ns() | 1;
    for (int i = 0; i < o.connections; i++) {
        ws[i].sh = &sh;
        ws[i].index = i;
        ws[i].rng = next_rand(&seed) | 1;
        if (pthread_create(&ws[i].thread, NULL, run_worker, &ws[i]) != 0) {
            fprintf(stderr, "tally-bench: pthread_create: %s\n", strerror(errno));
            return 1;
        }
    }
    /* Every connection is open before the clock starts. */
    pthread_mutex_lock(&sh.lock);
    while (sh.ready < o.connections) pthread_cond_wait(&sh.cond, &sh.lock);
    sh.start_ns = now_ns();
    sh.end_ns = sh.start_ns + (int64_t)(o.duration * 1e9);
    sh.go = 1;
    pthread_cond_broadcast(&sh.cond);
    pthread_mutex_unlock(&sh.lock);
    for (int i = 0; i < o.connections; i++) pthread_join(ws[i].thread, NULL);
    double seconds = (double)(now_ns() - sh.start_ns) / 1e9;

    if (o.weight[OP_CONSUME] && old_limit >= 0 && set_tier_limit(setup, tier, old_limit, &err) != TALLY_OK)
        fprintf(stderr, "tally-bench: setting the %s limit back to %lld failed: %s\n", tier, (long long)old_limit,
                tally_error_format(&err, buf, sizeof buf));

    size_t total = 0;
    uint64_t ops = 0, errors = 0;
    int lost = 0;
    const char *first_error = NULL;
    for (int i = 0; i < o.connections; i++) {
        total += ws[i].n_lat;
        ops += ws[i].ops;
        errors += ws[i].errors;
        lost += ws[i].fatal;
        if (!first_error && ws[i].first_error[0]) first_error = ws[i].first_error;
    }
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    if (!all) return 1;
    size_t at = 0;
    for (int i = 0; i < o.connections; i++) {
        if (ws[i].n_lat) memcpy(all + at, ws[i].lat, ws[i].n_lat * sizeof *all);
        at += ws[i].n_lat;
        free(ws[i].lat);
    }
    qsort(all, total, sizeof *all, cmp_u32);
    char dist[64] = "";
    if (o.zipf) snprintf(dist, sizeof dist, ", zipf s=%.2f", o.zipf_s);
    printf("tally-bench %s: %d conn x depth %d, %.1f s, %d users%s: %llu ops, %.0f ops/s, %llu errors; "
           "latency us p50 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
           o.mix, o.connections, o.depth, seconds, o.users, dist, (unsigned long long)ops, (double)ops / seconds,
           (unsigned long long)errors, pct(all, total, 0.5), pct(all, total, 0.99), pct(all, total, 0.999),
           total ? all[total - 1] / 10.0 : 0.0);
    if (first_error) fprintf(stderr, "tally-bench: first error: %s\n", first_error);
    if (lost) fprintf(stderr, "tally-bench: %d connection(s) ended early\n", lost);
    free(all);
    free(ws);
    free(cdf);
    pthread_mutex_destroy(&sh.lock);
    pthread_cond_destroy(&sh.cond);
    tally_error_clear(&err);
    tally_close(setup);
    return errors || lost ? 1 : 0;
}
