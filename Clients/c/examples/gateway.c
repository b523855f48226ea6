/*
 * A chat gateway's loop on tallyd's daily limits (docs/protocol.md §4.1): for every model call,
 * check the user's day, reserve an estimate, call the model, then settle with the real count
 * (or release the hold if the model call failed). A refusal (DAILY_LIMIT_EXCEEDED) tells the
 * user how much is left and when the day resets.
 *
 *   gateway [SOCKET] [USER] [REQUESTS] [ESTIMATE]
 *
 * The model is simulated: it uses 60-130% of the estimate and fails one call in seven.
 * Reservation, settle and release carry idempotency keys, so a retry after a lost answer
 * (see app_server.c for the retry loop) never counts twice.
 */
#define _POSIX_C_SOURCE 200809L

#include <tally.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void report(const char *what, const tally_error *err) {
    char buf[512];
    fprintf(stderr, "%s failed: %s\n", what, tally_error_format(err, buf, sizeof buf));
}

/* The simulated model: tokens actually used, or -1 if the call failed. */
static int64_t call_model(int64_t estimate, unsigned *seed) {
    *seed = *seed * 1103515245u + 12345u;
    unsigned r = (*seed >> 16) & 0x7fff;
    if (r % 7 == 3) return -1;
    return estimate * (60 + (int64_t)(r % 71)) / 100;
}

int main(int argc, char **argv) {
    const char *env = getenv("TALLY_SOCKET");
    const char *socket = argc > 1 ? argv[1] : env && *env ? env : "./tally.sock";
    const char *user = argc > 2 ? argv[2] : "gateway-demo";
    int requests = argc > 3 ? atoi(argv[3]) : 10;
    int64_t estimate = argc > 4 ? atoll(argv[4]) : 1500;
    unsigned seed = 7;
    char key[256];

    tally_error err = TALLY_ERROR_INIT;
    tally_conn *c = tally_connect(socket, 2000, &err);
    if (!c) {
        report("connect", &err);
        tally_error_clear(&err);
        return 1;
    }
    tally_set_timeout(c, 1000);
    /* A run id keeps the keys of this run apart from earlier runs' (keys live 24 hours). */
    long run = (long)time(NULL);
    int status = 0, served = 0, refused = 0;

    for (int n = 1; n <= requests; n++) {
        /* 1. Where the user stands (optional: Reserve checks the limit itself). */
        Tally__V1__CheckUsageRequest check = TALLY__V1__CHECK_USAGE_REQUEST__INIT;
        check.user_id = (char *)user;
        Tally__V1__CheckUsageResponse *st = NULL;
        if (tally_usage_check(c, &check, &st, &err) != TALLY_OK) {
            report("check", &err);
            status = 1;
            break;
        }
        printf("request %d: %s has used %lld + %lld reserved of %lld (%s tier)\n", n, user,
               (long long)st->status->used, (long long)st->status->reserved, (long long)st->status->limit,
               st->status->tier);
        tally_free(st);

        /* 2. Hold the estimate for the model call. */
        Tally__V1__ReserveRequest reserve = TALLY__V1__RESERVE_REQUEST__INIT;
        reserve.user_id = (char *)user;
        reserve.tokens = estimate;
        reserve.ttl_ms = 120000; /* longer than a model call can take */
        snprintf(key, sizeof key, "gw-%ld-%s-%d-reserve", run, user, n);
        reserve.idempotency_key = key;
        Tally__V1__ReserveResponse *rr = NULL;
        int rc = tally_usage_reserve(c, &reserve, &rr, &err);
        if (rc == TALLY_RESOURCE_EXHAUSTED && strcmp(err.reason, "DAILY_LIMIT_EXCEEDED") == 0) {
            time_t reset = (time_t)(atoll(tally_error_detail(&err, "resets_at_us")) / 1000000);
            char when[64];
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&reset));
            printf("  refused: %s tokens left today, %s requested; resets at %s\n",
                   tally_error_detail(&err, "remaining"), tally_error_detail(&err, "requested"), when);
            refused++;
            continue;
        }
        if (rc != TALLY_OK) {
            report("reserve", &err);
            status = 1;
            break;
        }
        uint64_t reservation = rr->reservation->id;
        tally_free(rr);

        /* 3. The model call. */
        int64_t used = call_model(estimate, &seed);

        /* 4. Settle with the real count (charged in full, even past the estimate), or release. */
        if (used >= 0) {
            Tally__V1__SettleRequest settle = TALLY__V1__SETTLE_REQUEST__INIT;
            settle.reservation_id = reservation;
            settle.tokens = used;
            snprintf(key, sizeof key, "gw-%ld-%s-%d-settle", run, user, n);
            settle.idempotency_key = key;
            Tally__V1__SettleResponse *sr = NULL;
            if (tally_usage_settle(c, &settle, &sr, &err) != TALLY_OK) {
                report("settle", &err);
                status = 1;
                break;
            }
            printf("  reservation %llu: model used %lld of %lld estimated; %lld remaining today\n",
                   (unsigned long long)reservation, (long long)used, (long long)estimate,
                   (long long)sr->status->remaining);
            tally_free(sr);
            served++;
        } else {
            Tally__V1__ReleaseRequest release = TALLY__V1__RELEASE_REQUEST__INIT;
            release.reservation_id = reservation;
            snprintf(key, sizeof key, "gw-%ld-%s-%d-release", run, user, n);
            release.idempotency_key = key;
            if (tally_usage_release(c, &release, NULL, &err) != TALLY_OK) {
                report("release", &err);
                status = 1;
                break;
            }
            printf("  reservation %llu: the model call failed; released, nothing counted\n",
                   (unsigned long long)reservation);
        }
    }
    printf("%d served, %d refused\n", served, refused);
    tally_error_clear(&err);
    tally_close(c);
    return status;
}
