/*
 * What an app server does with tallyd, ready to copy: a payment webhook credits the tokens a user
 * bought, keyed by the payment id so a webhook delivered twice credits once; a purchase spends
 * tokens, keyed by the order id; the balance is shown. Every call has a deadline, and a call
 * whose outcome is unknown (lost connection, timeout) or that tallyd shed (OVERLOADED,
 * SHUTTING_DOWN, RATE_LIMITED) is retried with the same key and request, so it applies once.
 *
 *   app_server [SOCKET] [USER] [PAYMENT_ID]     (SOCKET defaults to $TALLY_SOCKET, ./tally.sock)
 *
 * Threads: give each worker thread its own `app` (its own connection).
 */
#define _POSIX_C_SOURCE 200809L

#include <tally.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALL_TIMEOUT_MS 2000
#define MAX_ATTEMPTS 5

typedef struct app {
    const char *socket;
    tally_conn *conn; /* one per thread; reconnected when lost */
} app;

/* The connection, (re)opened if needed. */
static tally_conn *app_conn(app *a, tally_error *err) {
    if (a->conn && tally_connected(a->conn)) return a->conn;
    tally_close(a->conn);
    a->conn = tally_connect(a->socket, CALL_TIMEOUT_MS, err);
    if (a->conn) tally_set_timeout(a->conn, CALL_TIMEOUT_MS);
    return a->conn;
}

/* Worth retrying with the same key and request (docs/protocol.md §8)? Sets the pause in ms. */
static int retryable(const tally_error *e, int attempt, long *pause_ms) {
    *pause_ms = 50L << attempt; /* 50, 100, 200, 400 ms */
    const char *after = tally_error_detail(e, "retry_after_ms");
    if (after) *pause_ms = atol(after);
    if (e->outcome_unknown || e->connection_lost) return 1; /* lost answer, timeout, JOURNAL_FAILED */
    if (e->code == TALLY_UNAVAILABLE) return 1;             /* OVERLOADED, SHUTTING_DOWN, CONNECT_FAILED */
    return strcmp(e->reason, "RATE_LIMITED") == 0;
}

static void pause_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Credits `amount` tokens bought with payment `payment_id`: applied once however often called. */
static int credit_payment(app *a, const char *user, int64_t amount, const char *payment_id,
                          Tally__V1__CreditResponse **out, tally_error *err) {
    Tally__V1__CreditRequest req = TALLY__V1__CREDIT_REQUEST__INIT;
    req.user_id = (char *)user;
    req.amount = amount;
    req.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_PURCHASE;
    req.reference = (char *)payment_id;
    req.idempotency_key = (char *)payment_id;
    int rc = TALLY_UNAVAILABLE;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        long wait;
        tally_conn *c = app_conn(a, err);
        rc = c ? tally_credit(c, &req, out, err) : err->code;
        if (rc == TALLY_OK || !retryable(err, attempt, &wait)) return rc;
        pause_ms(wait);
    }
    return rc;
}

/* Spends `amount` for order `order_id`, same retry rule. */
static int spend_order(app *a, const char *user, int64_t amount, const char *order_id,
                       Tally__V1__SpendResponse **out, tally_error *err) {
    Tally__V1__SpendRequest req = TALLY__V1__SPEND_REQUEST__INIT;
    req.user_id = (char *)user;
    req.amount = amount;
    req.reference = (char *)order_id;
    req.idempotency_key = (char *)order_id;
    int rc = TALLY_UNAVAILABLE;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        long wait;
        tally_conn *c = app_conn(a, err);
        rc = c ? tally_spend(c, &req, out, err) : err->code;
        if (rc == TALLY_OK || !retryable(err, attempt, &wait)) return rc;
        pause_ms(wait);
    }
    return rc;
}

static void report(const char *what, const tally_error *err) {
    char buf[512];
    fprintf(stderr, "%s failed: %s\n", what, tally_error_format(err, buf, sizeof buf));
}

int main(int argc, char **argv) {
    const char *env = getenv("TALLY_SOCKET");
    app a = {argc > 1 ? argv[1] : env && *env ? env : "./tally.sock", NULL};
    const char *user = argc > 2 ? argv[2] : "alice";
    const char *payment = argc > 3 ? argv[3] : "pay_demo_0001";
    char order[160];
    snprintf(order, sizeof order, "order-for-%s", payment);
    tally_error err = TALLY_ERROR_INIT;
    int status = 0;

    /* 1. The payment webhook, delivered twice: the second delivery is a replay. */
    for (int delivery = 1; delivery <= 2; delivery++) {
        Tally__V1__CreditResponse *cr = NULL;
        if (credit_payment(&a, user, 500, payment, &cr, &err) == TALLY_OK) {
            printf("webhook %d: credited %lld to %s for %s: %lld available%s\n", delivery,
                   (long long)cr->transaction->amount, user, payment, (long long)cr->balance->available,
                   cr->replayed ? " (replayed: already credited, nothing changed)" : "");
            tally_free(cr);
        } else {
            report("credit", &err);
            status = 1;
        }
    }

    /* 2. A purchase of 120 tokens. */
    Tally__V1__SpendResponse *sr = NULL;
    if (spend_order(&a, user, 120, order, &sr, &err) == TALLY_OK) {
        printf("spent 120 for %s: %lld available%s\n", order, (long long)sr->balance->available,
               sr->replayed ? " (replayed)" : "");
        tally_free(sr);
    } else {
        report("spend", &err);
        status = 1;
    }

    /* 3. A purchase the user cannot afford: a refusal, not an error of the app. */
    char big_order[200];
    snprintf(big_order, sizeof big_order, "%s-big", order);
    if (spend_order(&a, user, 1000000, big_order, NULL, &err) == TALLY_OK) {
        printf("spent 1000000?\n");
    } else if (strcmp(err.reason, "INSUFFICIENT_TOKENS") == 0) {
        printf("refused %s: %s tokens available, %s more needed\n", big_order, tally_error_detail(&err, "available"),
               tally_error_detail(&err, "shortfall"));
    } else {
        report("spend", &err);
        status = 1;
    }

    /* 4. The balance. */
    Tally__V1__GetBalanceRequest breq = TALLY__V1__GET_BALANCE_REQUEST__INIT;
    breq.user_id = (char *)user;
    Tally__V1__GetBalanceResponse *br = NULL;
    tally_conn *c = app_conn(&a, &err);
    if (c && tally_get_balance(c, &breq, &br, &err) == TALLY_OK) {
        printf("%s: %lld available, %lld earned, %lld spent (version %llu)\n", user,
               (long long)br->balance->available, (long long)br->balance->total_earned,
               (long long)br->balance->total_spent, (unsigned long long)br->balance->version);
        tally_free(br);
    } else {
        report("balance", &err);
        status = 1;
    }

    tally_error_clear(&err);
    tally_close(a.conn);
    return status;
}
