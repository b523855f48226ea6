/*
 * libtally's tests, against a real tallyd (TALLY_SOCKET; tests/run-tests.sh starts one) and,
 * for what tallyd cannot be made to do on demand (stay silent, answer out of order), against a
 * fake server on a socket of the test's own. Prints one line per test and, last,
 * "N passed, N failed"; exits 1 on any failure.
 *
 * The tests run as tallyd's owner (admin). User ids and keys carry a per-run prefix, so the
 * tests can also run against a tallyd that already holds data (its daily-limit settings are
 * only touched per user).
 */
#define _POSIX_C_SOURCE 200809L

#include "tally.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int g_passed, g_failed, g_test_failed;
static const char *g_socket;
static const char *g_dir;
static char g_run[24];

#define FAILF(...)                                          \
    do {                                                    \
        printf("  FAIL %s:%d: ", __FILE__, __LINE__);       \
        printf(__VA_ARGS__);                                \
        printf("\n");                                       \
        g_test_failed = 1;                                  \
    } while (0)

#define CHECK(cond)                             \
    do {                                        \
        if (!(cond)) FAILF("%s", #cond);        \
    } while (0)

/* The call returned OK; prints the error otherwise. Evaluates to the truth of it. */
#define CHECK_OK(rc, err) check_ok((rc), &(err), #rc, __FILE__, __LINE__)
/* The call failed with this code and reason. */
#define CHECK_FAIL(rc, err, code, reason) check_fail((rc), &(err), (code), (reason), #rc, __FILE__, __LINE__)
#define CHECK_DETAIL(err, key, value) check_detail(&(err), (key), (value), __FILE__, __LINE__)

static int check_ok(int rc, const tally_error *err, const char *what, const char *file, int line) {
    if (rc == TALLY_OK && err->code == TALLY_OK) return 1;
    char buf[600];
    printf("  FAIL %s:%d: %s: %s\n", file, line, what, tally_error_format(err, buf, sizeof buf));
    g_test_failed = 1;
    return 0;
}

static int check_fail(int rc, const tally_error *err, int code, const char *reason, const char *what,
                      const char *file, int line) {
    if (rc == code && err->code == code && err->reason && strcmp(err->reason, reason) == 0 && err->message) return 1;
    char buf[600];
    printf("  FAIL %s:%d: %s: wanted %s %s, got rc %d, %s\n", file, line, what, tally_code_name(code), reason, rc,
           err->code ? tally_error_format(err, buf, sizeof buf) : "OK");
    g_test_failed = 1;
    return 0;
}

static void check_detail(const tally_error *err, const char *key, const char *value, const char *file, int line) {
    const char *got = tally_error_detail(err, key);
    if (got && (!value || strcmp(got, value) == 0)) return;
    printf("  FAIL %s:%d: detail %s: wanted %s, got %s\n", file, line, key, value ? value : "(present)",
           got ? got : "(missing)");
    g_test_failed = 1;
}

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* "<run>-<name>": unique per run. */
static char *uid(char *buf, size_t size, const char *name) {
    if (snprintf(buf, size, "%s-%s", g_run, name) >= (int)size) FAILF("user id %s too long", name);
    return buf;
}

static void set_sun_path(struct sockaddr_un *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof a->sun_path) {
        FAILF("socket path too long: %s", path);
        n = sizeof a->sun_path - 1;
    }
    memcpy(a->sun_path, path, n);
}

static tally_conn *open_conn_at(const char *socket_path) {
    tally_error err = TALLY_ERROR_INIT;
    tally_conn *c = tally_connect(socket_path, 5000, &err);
    if (!c) {
        char buf[600];
        FAILF("connect %s: %s", socket_path, tally_error_format(&err, buf, sizeof buf));
    }
    tally_error_clear(&err);
    return c;
}

static tally_conn *open_conn(void) { return open_conn_at(g_socket); }

/* A tallyd whose connections have their own threads (run-tests.sh's second one), else the one. */
static const char *g_socket_queued;

static int credit(tally_conn *c, const char *user, int64_t amount, const char *key, Tally__V1__CreditResponse **resp,
                  tally_error *err) {
    Tally__V1__CreditRequest req = TALLY__V1__CREDIT_REQUEST__INIT;
    req.user_id = (char *)user;
    req.amount = amount;
    req.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_PURCHASE;
    if (key) req.idempotency_key = (char *)key;
    return tally_credit(c, &req, resp, err);
}

static int spend(tally_conn *c, const char *user, int64_t amount, const char *key, Tally__V1__SpendResponse **resp,
                 tally_error *err) {
    Tally__V1__SpendRequest req = TALLY__V1__SPEND_REQUEST__INIT;
    req.user_id = (char *)user;
    req.amount = amount;
    if (key) req.idempotency_key = (char *)key;
    return tally_spend(c, &req, resp, err);
}

static int64_t available(tally_conn *c, const char *user) {
    tally_error err = TALLY_ERROR_INIT;
    Tally__V1__GetBalanceRequest req = TALLY__V1__GET_BALANCE_REQUEST__INIT;
    req.user_id = (char *)user;
    Tally__V1__GetBalanceResponse *resp = NULL;
    int64_t v = -1;
    if (CHECK_OK(tally_get_balance(c, &req, &resp, &err), err) && resp->balance) v = resp->balance->available;
    tally_free(resp);
    tally_error_clear(&err);
    return v;
}

/* ---------------------------------------------------------------------------------------- */
/* A fake server: a socket of our own that answers only what a test tells it to.           */

static int fake_listen(char *path, size_t size, const char *name) {
    snprintf(path, size, "%s/%s-%s.sock", g_dir, name, g_run);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    set_sun_path(&a, path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0) {
        FAILF("fake server at %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int read_full(int fd, unsigned char *p, size_t n) {
    size_t got = 0;
    while (got < n) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 5000) <= 0) return -1;
        ssize_t r = read(fd, p + got, n - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Reads one frame and decodes its Request (NULL on failure). */
static Tally__V1__Request *fake_read_request(int fd) {
    unsigned char hdr[4];
    if (read_full(fd, hdr, 4) < 0) return NULL;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    unsigned char *body = malloc(len ? len : 1);
    Tally__V1__Request *r = NULL;
    if (body && read_full(fd, body, len) == 0) r = tally__v1__request__unpack(NULL, len, body);
    free(body);
    return r;
}

static void fake_write_response(int fd, const Tally__V1__Response *resp) {
    size_t n = tally__v1__response__get_packed_size(resp);
    unsigned char *frame = malloc(4 + n);
    frame[0] = (unsigned char)(n >> 24);
    frame[1] = (unsigned char)(n >> 16);
    frame[2] = (unsigned char)(n >> 8);
    frame[3] = (unsigned char)n;
    tally__v1__response__pack(resp, frame + 4);
    size_t off = 0;
    while (off < 4 + n) {
        ssize_t w = write(fd, frame + off, 4 + n - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    free(frame);
}

typedef struct fake_writer {
    int fd;
    const Tally__V1__Response *resp;
} fake_writer;

static void *fake_write_thread(void *arg) {
    const fake_writer *w = arg;
    fake_write_response(w->fd, w->resp);
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Tests                                                                                    */

static void test_connect_failures(void) {
    tally_error err = TALLY_ERROR_INIT;
    tally_conn *c = tally_connect("/nonexistent-libtally-dir/tally.sock", 1000, &err);
    CHECK(c == NULL);
    CHECK_FAIL(err.code, err, TALLY_UNAVAILABLE, TALLY_R_CONNECT_FAILED);
    CHECK(err.local == 1 && err.sys_errno == ENOENT);
    CHECK_DETAIL(err, "errno", "2");
    CHECK_DETAIL(err, "path", "/nonexistent-libtally-dir/tally.sock");

    /* A socket file nobody listens on: ECONNREFUSED, at once. */
    char path[200];
    snprintf(path, sizeof path, "%s/dead-%s.sock", g_dir, g_run);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    set_sun_path(&a, path);
    unlink(path);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    close(fd);
    c = tally_connect(path, 1000, &err);
    CHECK(c == NULL);
    CHECK_FAIL(err.code, err, TALLY_UNAVAILABLE, TALLY_R_CONNECT_FAILED);
    CHECK(err.sys_errno == ECONNREFUSED);
    unlink(path);

    /* A listener whose accept backlog is full: connect() says EAGAIN, the library retries with
     * backoff until its timeout. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(path);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 0) == 0);
    tally_conn *held[8] = {NULL};
    int n_held = 0;
    double t0 = now_s(), took = 0;
    for (; n_held < 8; n_held++) {
        t0 = now_s();
        held[n_held] = tally_connect(path, 150, &err);
        took = now_s() - t0;
        if (!held[n_held]) break;
    }
    if (CHECK_FAIL(err.code, err, TALLY_DEADLINE_EXCEEDED, TALLY_R_CONNECT_TIMEOUT))
        CHECK(n_held >= 1 && took >= 0.14 && took < 2.0);
    for (int i = 0; i < n_held; i++) tally_close(held[i]);
    close(fd);
    unlink(path);

    char longpath[300];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    c = tally_connect(longpath, 1000, &err);
    CHECK(c == NULL);
    CHECK_FAIL(err.code, err, TALLY_INVALID_ARGUMENT, TALLY_R_SOCKET_PATH_TOO_LONG);
    CHECK_DETAIL(err, "limit", "107");
    tally_error_clear(&err);
    CHECK(err.code == 0 && err.reason == NULL);
}

static void test_credit_spend_balance(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128], key[128];
    uid(user, sizeof user, "alice");

    Tally__V1__CreditResponse *cr = NULL;
    if (CHECK_OK(credit(c, user, 100, uid(key, sizeof key, "pay-1"), &cr, &err), err)) {
        CHECK(cr->transaction && cr->transaction->id > 0);
        CHECK(cr->transaction->type == TALLY__V1__TRANSACTION_TYPE__TRANSACTION_TYPE_PURCHASE);
        CHECK(cr->transaction->amount == 100 && cr->transaction->balance_before == 0 &&
              cr->transaction->balance_after == 100);
        CHECK(streq(cr->transaction->idempotency_key, key));
        CHECK(cr->balance && cr->balance->available == 100 && cr->balance->version == 1);
        CHECK(!cr->replayed);
    }
    tally_free(cr);

    Tally__V1__SpendResponse *sr = NULL;
    if (CHECK_OK(spend(c, user, 30, NULL, &sr, &err), err)) {
        CHECK(sr->transaction->type == TALLY__V1__TRANSACTION_TYPE__TRANSACTION_TYPE_SPEND);
        CHECK(sr->balance->available == 70 && sr->balance->total_spent == 30 && sr->balance->version == 2);
    }
    tally_free(sr);
    /* The response is optional. */
    CHECK_OK(spend(c, user, 1, NULL, NULL, &err), err);

    Tally__V1__GetBalanceRequest breq = TALLY__V1__GET_BALANCE_REQUEST__INIT;
    breq.user_id = user;
    Tally__V1__GetBalanceResponse *br = NULL;
    if (CHECK_OK(tally_get_balance(c, &breq, &br, &err), err)) {
        CHECK(streq(br->balance->user_id, user));
        CHECK(br->balance->available == 69 && br->balance->total_earned == 100 && br->balance->total_spent == 31);
        CHECK(br->balance->version == 3 && br->balance->committed == 0);
        CHECK(br->balance->created_at_us > 0 && br->balance->updated_at_us >= br->balance->created_at_us);
    }
    tally_free(br);

    /* A user never credited: zeros, not an error. */
    breq.user_id = uid(user, sizeof user, "nobody");
    if (CHECK_OK(tally_get_balance(c, &breq, &br, &err), err))
        CHECK(streq(br->balance->user_id, user) && br->balance->available == 0 && br->balance->version == 0);
    tally_free(br);
    tally_error_clear(&err);
    tally_close(c);
}

/* Against a tallyd with its own journal: no answer carries a position, and a min_position past
 * its last record is refused; one it holds waits for nothing. (Several hosts: Tests/SeveralHosts.) */
static void test_min_position(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128];
    uid(user, sizeof user, "positioned");
    CHECK_OK(credit(c, user, 5, NULL, NULL, &err), err);
    CHECK(tally_position(c) == 0);
    Tally__V1__GetBalanceRequest breq = TALLY__V1__GET_BALANCE_REQUEST__INIT;
    breq.user_id = user;
    Tally__V1__GetBalanceResponse *br = NULL;
    tally_set_min_position(c, (uint64_t)1 << 60);
    int rc = tally_get_balance(c, &breq, &br, &err);
    CHECK(rc == TALLY_OUT_OF_RANGE && streq(err.reason, "POSITION_AHEAD"));
    tally_free(br);
    br = NULL;
    tally_error_clear(&err);
    tally_set_min_position(c, 1);
    if (CHECK_OK(tally_get_balance(c, &breq, &br, &err), err)) CHECK(br->balance->available == 5);
    tally_free(br);
    tally_set_min_position(c, 0);
    tally_error_clear(&err);
    tally_close(c);
}

static void test_insufficient_tokens(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128];
    uid(user, sizeof user, "bob");
    CHECK_OK(credit(c, user, 70, NULL, NULL, &err), err);
    Tally__V1__SpendResponse *sr = NULL;
    int rc = spend(c, user, 500, NULL, &sr, &err);
    if (CHECK_FAIL(rc, err, TALLY_FAILED_PRECONDITION, "INSUFFICIENT_TOKENS")) {
        CHECK(sr == NULL);
        CHECK(err.local == 0 && err.connection_lost == 0 && err.outcome_unknown == 0 && err.call_id > 0);
        CHECK(err.n_details == 3);
        CHECK_DETAIL(err, "available", "70");
        CHECK_DETAIL(err, "requested", "500");
        CHECK_DETAIL(err, "shortfall", "430");
        CHECK(tally_error_detail(&err, "replayed") == NULL);
        CHECK(err.message && strstr(err.message, "430") != NULL);
        char buf[400];
        tally_error_format(&err, buf, sizeof buf);
        CHECK(strncmp(buf, "FAILED_PRECONDITION INSUFFICIENT_TOKENS: ", 41) == 0 && strstr(buf, "shortfall=430"));
        char tiny[16];
        tally_error_format(&err, tiny, sizeof tiny);
        CHECK(strlen(tiny) == 15);
    }
    /* The refusal left the balance alone and the connection open. */
    CHECK(available(c, user) == 70);
    CHECK(tally_connected(c));
    /* A never-credited user: INSUFFICIENT_TOKENS with available 0. The same tally_error is
     * reused: the call clears the earlier failure (valgrind would see a leak otherwise). */
    rc = spend(c, uid(user, sizeof user, "ghost"), 5, NULL, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_FAILED_PRECONDITION, "INSUFFICIENT_TOKENS")) CHECK_DETAIL(err, "available", "0");
    tally_error_clear(&err);
    tally_close(c);
}

static void test_idempotent_retry(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128], key[128], key2[128];
    uid(user, sizeof user, "carol");
    uid(key, sizeof key, "payment-7781");
    Tally__V1__CreditResponse *first = NULL, *again = NULL;
    CHECK_OK(credit(c, user, 250, key, &first, &err), err);
    /* A retry with the same key and request, on another connection (as after a lost answer). */
    tally_conn *c2 = open_conn();
    if (c2 && CHECK_OK(credit(c2, user, 250, key, &again, &err), err) && first) {
        CHECK(again->replayed == 1 && first->replayed == 0);
        CHECK(again->transaction->id == first->transaction->id);
        CHECK(again->balance->available == 250);
    }
    tally_free(first);
    tally_free(again);
    CHECK(available(c, user) == 250);
    /* The same key for a different request. */
    int rc = credit(c, user, 251, key, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_ALREADY_EXISTS, "IDEMPOTENCY_KEY_CONFLICT")) CHECK_DETAIL(err, "idempotency_key", key);
    /* A refusal is remembered too; its replay says so. */
    uid(key2, sizeof key2, "order-99");
    rc = spend(c, user, 1000, key2, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_FAILED_PRECONDITION, "INSUFFICIENT_TOKENS"))
        CHECK(tally_error_detail(&err, "replayed") == NULL);
    CHECK_OK(credit(c, user, 5000, NULL, NULL, &err), err);
    rc = spend(c, user, 1000, key2, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_FAILED_PRECONDITION, "INSUFFICIENT_TOKENS")) {
        CHECK_DETAIL(err, "replayed", "true");
        CHECK_DETAIL(err, "available", "250");
    }
    tally_error_clear(&err);
    tally_close(c2);
    tally_close(c);
}

static void test_invalid_argument(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128];
    uid(user, sizeof user, "dave");

    int rc = credit(c, user, 0, NULL, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "AMOUNT_NOT_POSITIVE")) {
        CHECK_DETAIL(err, "field", "amount");
        CHECK_DETAIL(err, "amount", "0");
    }
    Tally__V1__CreditRequest creq = TALLY__V1__CREDIT_REQUEST__INIT;
    creq.user_id = user;
    creq.amount = 5; /* kind left UNSPECIFIED */
    rc = tally_credit(c, &creq, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "CREDIT_KIND_MISSING")) CHECK_DETAIL(err, "field", "kind");

    Tally__V1__GetBalanceRequest breq = TALLY__V1__GET_BALANCE_REQUEST__INIT; /* user_id "" */
    rc = tally_get_balance(c, &breq, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "USER_ID_EMPTY")) CHECK_DETAIL(err, "field", "user_id");
    rc = tally_get_balance(c, NULL, NULL, &err); /* a NULL request is the empty message */
    CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "USER_ID_EMPTY");

    char longid[130];
    memset(longid, 'x', 129);
    longid[129] = '\0';
    rc = spend(c, longid, 1, NULL, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "FIELD_TOO_LONG")) {
        CHECK_DETAIL(err, "field", "user_id");
        CHECK_DETAIL(err, "limit", "128");
        CHECK_DETAIL(err, "length", "129");
    }
    rc = spend(c, "tab\there", 1, NULL, NULL, &err);
    CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "USER_ID_INVALID");

    Tally__V1__ConsumeRequest consume = TALLY__V1__CONSUME_REQUEST__INIT;
    consume.user_id = user;
    consume.tokens = -3;
    rc = tally_usage_consume(c, &consume, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "AMOUNT_NOT_POSITIVE")) CHECK_DETAIL(err, "field", "tokens");

    /* Invalid UTF-8 inside the payload: MALFORMED_PAYLOAD, and the connection stays open. */
    breq.user_id = "\xff\xfe";
    rc = tally_get_balance(c, &breq, NULL, &err);
    CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "MALFORMED_PAYLOAD");
    CHECK(tally_connected(c) && available(c, user) == 0);
    tally_error_clear(&err);
    tally_close(c);
}

static void test_unknown_method(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    Tally__V1__GetBalanceRequest req = TALLY__V1__GET_BALANCE_REQUEST__INIT;
    req.user_id = "x";
    ProtobufCMessage *resp = NULL;
    int rc = tally_call(c, "/tally.v1.Ledger/Teleport", &req.base, &tally__v1__get_balance_response__descriptor, &resp,
                        &err);
    if (CHECK_FAIL(rc, err, TALLY_UNIMPLEMENTED, "UNKNOWN_METHOD")) {
        CHECK(resp == NULL && err.local == 0);
        CHECK_DETAIL(err, "method", "/tally.v1.Ledger/Teleport");
    }
    /* The generic call works for known methods too. */
    char user[128];
    req.user_id = (char *)uid(user, sizeof user, "generic");
    rc = tally_call(c, TALLY_METHOD_GET_BALANCE, &req.base, &tally__v1__get_balance_response__descriptor, &resp, &err);
    if (CHECK_OK(rc, err)) CHECK(streq(((Tally__V1__GetBalanceResponse *)resp)->balance->user_id, user));
    tally_free(resp);
    /* Misuse is reported, not crashed on. */
    rc = tally_call(NULL, TALLY_METHOD_GET_BALANCE, NULL, &tally__v1__get_balance_response__descriptor, NULL, &err);
    CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL);
    rc = tally_call(c, "/tally.v1.Ledger/\xc3\x28", NULL, &tally__v1__get_balance_response__descriptor, NULL, &err);
    CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL); /* would have made tallyd close the connection */
    CHECK(tally_connected(c));
    tally_error_clear(&err);
    tally_close(c);
}

/* The local deadline, against a fake server that reads but never answers; and the envelope as
 * it reaches the server. */
static void test_local_deadline(void) {
    char path[256];
    int lfd = fake_listen(path, sizeof path, "silent");
    if (lfd < 0) return;
    tally_error err = TALLY_ERROR_INIT;
    tally_conn *c = tally_connect(path, 1000, &err);
    if (!c) {
        FAILF("connect to the fake server: %s", err.message);
        close(lfd);
        tally_error_clear(&err);
        return;
    }
    int sfd = accept(lfd, NULL, NULL);
    tally_set_timeout(c, 150);
    tally_set_local_grace(c, 100);
    Tally__V1__SpendRequest req = TALLY__V1__SPEND_REQUEST__INIT;
    req.user_id = "alice";
    req.amount = 5;
    req.idempotency_key = "k-1";
    double t0 = now_s();
    int rc = tally_spend(c, &req, NULL, &err);
    double took = now_s() - t0;
    if (CHECK_FAIL(rc, err, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT)) {
        CHECK(err.local == 1 && err.outcome_unknown == 1 && err.connection_lost == 0 && err.call_id == 1);
        CHECK(took >= 0.24 && took < 2.0);
    }
    CHECK(tally_connected(c));

    /* What the server got: call id 1, version 1, the method, the deadline, the payload. */
    Tally__V1__Request *got = fake_read_request(sfd);
    if (got) {
        CHECK(got->call_id == 1 && got->protocol_version == 1 && got->timeout_ms == 150);
        CHECK(streq(got->method, TALLY_METHOD_SPEND));
        Tally__V1__SpendRequest *p = tally__v1__spend_request__unpack(NULL, got->payload.len, got->payload.data);
        CHECK(p && streq(p->user_id, "alice") && p->amount == 5 && streq(p->idempotency_key, "k-1"));
        if (p) tally__v1__spend_request__free_unpacked(p, NULL);
        tally__v1__request__free_unpacked(got, NULL);
    } else {
        FAILF("the fake server read no request");
    }
    /* The late answer to call 1 is dropped; call 2 gets its own. Then the server closes. */
    tally_set_timeout(c, 0);
    Tally__V1__Response late = TALLY__V1__RESPONSE__INIT;
    late.call_id = 1;
    late.code = TALLY__V1__CODE__CODE_FAILED_PRECONDITION;
    late.reason = "LATE";
    fake_write_response(sfd, &late);
    Tally__V1__GetBalanceRequest breq = TALLY__V1__GET_BALANCE_REQUEST__INIT;
    breq.user_id = "alice";
    Tally__V1__Response ok = TALLY__V1__RESPONSE__INIT;
    ok.call_id = 2;
    fake_write_response(sfd, &ok); /* OK with an empty payload: an all-default GetBalanceResponse */
    Tally__V1__GetBalanceResponse *br = NULL;
    if (CHECK_OK(tally_get_balance(c, &breq, &br, &err), err)) CHECK(br->balance == NULL);
    tally_free(br);
    close(sfd);
    rc = tally_get_balance(c, &breq, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_UNAVAILABLE, TALLY_R_CONNECTION_CLOSED))
        CHECK(err.local == 1 && err.connection_lost == 1);
    CHECK(!tally_connected(c));
    tally_close(c);
    close(lfd);
    unlink(path);
    tally_error_clear(&err);
}

/* tallyd's own deadline (protocol §6): credits with a 1 ms budget queued behind thousands of
 * calls on other connections reach the Writer too late and are not applied. Calls queue at the
 * Writer when connections have their own threads (--io-threads N, run-tests.sh's second tallyd);
 * on the Writer's own loop (the default) a call is applied as soon as it is read. */
static void test_server_deadline(void) {
    enum { LOADERS = 8, VICTIMS = 20 };
    char user[128], victim[128];
    uid(victim, sizeof victim, "deadline-victim");
    tally_error err = TALLY_ERROR_INIT;
    const char *where = g_socket_queued && *g_socket_queued ? g_socket_queued : g_socket;
    tally_conn *vc = open_conn_at(where);
    if (!vc) return;
    long exceeded = 0, applied = 0;
    for (int attempt = 0; attempt < 4 && exceeded == 0; attempt++) {
        int per = 1000; /* the most in flight per connection (tallyd pauses reading past 1024) */
        tally_conn *lc[LOADERS];
        tally_batch *lb[LOADERS];
        for (int i = 0; i < LOADERS; i++) {
            lc[i] = open_conn_at(where);
            lb[i] = lc[i] ? tally_batch_new(lc[i]) : NULL;
            for (int k = 0; lb[i] && k < per; k++) {
                Tally__V1__CreditRequest req = TALLY__V1__CREDIT_REQUEST__INIT;
                char name[64];
                snprintf(name, sizeof name, "deadline-load-%d-%d", i, k % 97);
                req.user_id = (char *)uid(user, sizeof user, name);
                req.amount = 1;
                req.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_GRANT;
                tally_batch_add(lb[i], TALLY_METHOD_CREDIT, &req.base, &tally__v1__credit_response__descriptor, NULL);
            }
        }
        tally_batch *vb = tally_batch_new(vc);
        tally_set_timeout(vc, 1);
        for (int k = 0; k < VICTIMS; k++) {
            Tally__V1__CreditRequest req = TALLY__V1__CREDIT_REQUEST__INIT;
            req.user_id = victim;
            req.amount = 1;
            req.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_GRANT;
            tally_batch_add(vb, TALLY_METHOD_CREDIT, &req.base, &tally__v1__credit_response__descriptor, NULL);
        }
        tally_set_timeout(vc, 0);
        for (int i = 0; i < LOADERS; i++)
            if (lb[i]) tally_batch_send(lb[i], NULL);
        tally_batch_run(vb);
        for (int k = 0; k < VICTIMS; k++) {
            const tally_error *e = NULL;
            int rc = tally_batch_result(vb, (size_t)k, NULL, &e);
            if (rc == TALLY_OK) applied++;
            else if (rc == TALLY_DEADLINE_EXCEEDED && streq(e->reason, "DEADLINE_EXCEEDED") && !e->local &&
                     e->n_details == 0)
                exceeded++;
            else FAILF("victim %d: %s %s", k, tally_code_name(rc), e ? e->reason : "?");
        }
        tally_batch_free(vb);
        for (int i = 0; i < LOADERS; i++) {
            if (lb[i] && tally_batch_run(lb[i]) != 0) FAILF("loader %d: calls failed", i);
            tally_batch_free(lb[i]);
            tally_close(lc[i]);
        }
    }
    printf("  (%ld of the 1 ms credits got DEADLINE_EXCEEDED)\n", exceeded);
    CHECK(exceeded > 0);
    /* Exactly the credits answered OK were applied. */
    CHECK(available(vc, victim) == applied);
    tally_error_clear(&err);
    tally_close(vc);
}

static void test_batch_1000(void) {
    enum { N = 1000 };
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    tally_batch *b = tally_batch_new(c);
    char user[128], name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "batch-%d", i);
        uid(user, sizeof user, name);
        long idx;
        if (i % 100 == 99) { /* refused while decoding: answered before earlier calls (§5) */
            Tally__V1__GetBalanceRequest req = TALLY__V1__GET_BALANCE_REQUEST__INIT;
            req.user_id = user;
            idx = tally_batch_add(b, "/tally.v1.Ledger/Nope", &req.base, &tally__v1__get_balance_response__descriptor, &err);
        } else if (i % 3 == 0) {
            Tally__V1__CreditRequest req = TALLY__V1__CREDIT_REQUEST__INIT;
            req.user_id = user;
            req.amount = i + 1;
            req.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_GRANT;
            idx = tally_batch_add(b, TALLY_METHOD_CREDIT, &req.base, &tally__v1__credit_response__descriptor, &err);
        } else {
            Tally__V1__GetBalanceRequest req = TALLY__V1__GET_BALANCE_REQUEST__INIT;
            req.user_id = user; /* the request may go out of scope: it was encoded */
            idx = tally_batch_add(b, TALLY_METHOD_GET_BALANCE, &req.base, &tally__v1__get_balance_response__descriptor, &err);
        }
        CHECK(idx == i);
    }
    CHECK(tally_batch_size(b) == N);
    /* next sends on first use. Then the batch is dropped with calls in flight: they still run (so the
     * credits below land twice), and their late answers are ignored. */
    CHECK(tally_batch_next(b, NULL) == 1);
    tally_batch_reset(b);

    /* Again, this time counting outcomes as they arrive. */
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "batch-%d", i);
        uid(user, sizeof user, name);
        if (i % 100 == 99) {
            Tally__V1__GetBalanceRequest req = TALLY__V1__GET_BALANCE_REQUEST__INIT;
            req.user_id = user;
            tally_batch_add(b, "/tally.v1.Ledger/Nope", &req.base, &tally__v1__get_balance_response__descriptor, &err);
        } else if (i % 3 == 0) {
            Tally__V1__CreditRequest req = TALLY__V1__CREDIT_REQUEST__INIT;
            req.user_id = user;
            req.amount = i + 1;
            req.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_GRANT;
            tally_batch_add(b, TALLY_METHOD_CREDIT, &req.base, &tally__v1__credit_response__descriptor, &err);
        } else {
            Tally__V1__GetBalanceRequest req = TALLY__V1__GET_BALANCE_REQUEST__INIT;
            req.user_id = user;
            tally_batch_add(b, TALLY_METHOD_GET_BALANCE, &req.base, &tally__v1__get_balance_response__descriptor, &err);
        }
    }
    /* Call ids: non-zero, distinct, found again. */
    for (size_t i = 0; i < N; i++) {
        uint64_t id = tally_batch_call_id(b, i);
        CHECK(id != 0 && tally_batch_find(b, id) == (long)i);
        if (i) CHECK(id != tally_batch_call_id(b, i - 1));
    }
    CHECK(tally_batch_send(b, &err) == TALLY_OK);
    /* A blocking call while the batch is outstanding: its answer and the batch's are routed apart. */
    CHECK(available(c, uid(user, sizeof user, "batch-999")) == 0);
    static unsigned char seen[N];
    memset(seen, 0, sizeof seen);
    size_t idx, count = 0, out_of_order = 0, prev = 0;
    while (tally_batch_next(b, &idx) == 1) {
        CHECK(idx < N && !seen[idx]);
        if (idx < N) seen[idx] = 1;
        if (count && idx < prev) out_of_order++;
        prev = idx;
        count++;
    }
    CHECK(count == N);
    CHECK(tally_batch_next(b, &idx) == 0);
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "batch-%d", i);
        uid(user, sizeof user, name);
        const ProtobufCMessage *m = NULL;
        const tally_error *e = NULL;
        int rc = tally_batch_result(b, (size_t)i, &m, &e);
        if (i % 100 == 99) {
            if (!(rc == TALLY_UNIMPLEMENTED && streq(e->reason, "UNKNOWN_METHOD") && e->call_id == tally_batch_call_id(b, (size_t)i)))
                wrong++;
        } else if (i % 3 == 0) {
            const Tally__V1__CreditResponse *r = (const Tally__V1__CreditResponse *)m;
            /* the second pass credited again: balance 2 x (i + 1) */
            if (!(rc == TALLY_OK && streq(r->balance->user_id, user) && r->transaction->amount == i + 1 &&
                  r->balance->available == 2 * (i + 1)))
                wrong++;
        } else {
            const Tally__V1__GetBalanceResponse *r = (const Tally__V1__GetBalanceResponse *)m;
            if (!(rc == TALLY_OK && streq(r->balance->user_id, user))) wrong++;
        }
    }
    CHECK(wrong == 0);
    printf("  (%zu of %d outcomes arrived after a later call's)\n", out_of_order, N);
    CHECK(tally_batch_result(b, N, NULL, NULL) == -1);
    tally_batch_free(b);
    tally_error_clear(&err);
    tally_close(c);
}

/* Answers in any order, matched by call id: a fake server answers three calls in reverse order,
 * with an answer to a call never made in between. */
static void test_batch_out_of_order(void) {
    char path[256];
    int lfd = fake_listen(path, sizeof path, "reverse");
    if (lfd < 0) return;
    tally_error err = TALLY_ERROR_INIT;
    tally_conn *c = tally_connect(path, 1000, &err);
    int sfd = c ? accept(lfd, NULL, NULL) : -1;
    if (!c || sfd < 0) {
        FAILF("fake server");
        tally_close(c);
        close(lfd);
        tally_error_clear(&err);
        return;
    }
    tally_set_timeout(c, 3000);
    tally_batch *b = tally_batch_new(c);
    const char *users[3] = {"u0", "u1", "u2"};
    for (int i = 0; i < 3; i++) {
        Tally__V1__GetBalanceRequest req = TALLY__V1__GET_BALANCE_REQUEST__INIT;
        req.user_id = (char *)users[i];
        tally_batch_add(b, TALLY_METHOD_GET_BALANCE, &req.base, &tally__v1__get_balance_response__descriptor, &err);
    }
    CHECK(tally_batch_send(b, &err) == TALLY_OK);
    uint64_t ids[3];
    char *names[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        Tally__V1__Request *r = fake_read_request(sfd);
        ids[i] = r ? r->call_id : 0;
        if (r) {
            Tally__V1__GetBalanceRequest *p = tally__v1__get_balance_request__unpack(NULL, r->payload.len, r->payload.data);
            names[i] = p ? strdup(p->user_id) : NULL;
            if (p) tally__v1__get_balance_request__free_unpacked(p, NULL);
            tally__v1__request__free_unpacked(r, NULL);
        }
    }
    for (int i = 2; i >= 0; i--) {
        Tally__V1__Balance bal = TALLY__V1__BALANCE__INIT;
        bal.user_id = names[i] ? names[i] : "";
        bal.available = 100 + i;
        Tally__V1__GetBalanceResponse gb = TALLY__V1__GET_BALANCE_RESPONSE__INIT;
        gb.balance = &bal;
        unsigned char payload[128];
        Tally__V1__Response resp = TALLY__V1__RESPONSE__INIT;
        resp.call_id = ids[i];
        resp.payload.len = tally__v1__get_balance_response__pack(&gb, payload);
        resp.payload.data = payload;
        fake_write_response(sfd, &resp);
        if (i == 1) {
            Tally__V1__Response stray = TALLY__V1__RESPONSE__INIT;
            stray.call_id = 424242;
            fake_write_response(sfd, &stray);
        }
    }
    size_t order[3], k = 0, idx;
    while (k < 3 && tally_batch_next(b, &idx) == 1) order[k++] = idx;
    CHECK(k == 3 && order[0] == 2 && order[1] == 1 && order[2] == 0);
    for (size_t i = 0; i < 3; i++) {
        const ProtobufCMessage *m = NULL;
        if (tally_batch_result(b, i, &m, NULL) != TALLY_OK) {
            FAILF("call %zu failed", i);
            continue;
        }
        const Tally__V1__GetBalanceResponse *r = (const Tally__V1__GetBalanceResponse *)m;
        CHECK(streq(r->balance->user_id, users[i]) && r->balance->available == 100 + (int64_t)i);
    }
    CHECK(tally_connected(c));

    /* A local timeout in a batch: the server answers one call of two. */
    tally_batch_reset(b);
    tally_set_timeout(c, 100);
    tally_set_local_grace(c, 50);
    for (int i = 0; i < 2; i++)
        tally_batch_add(b, TALLY_METHOD_HEALTH, NULL, &tally__v1__health_response__descriptor, &err);
    CHECK(tally_batch_send(b, &err) == TALLY_OK);
    for (int i = 0; i < 2; i++) {
        Tally__V1__Request *r = fake_read_request(sfd);
        if (r && i == 1) {
            Tally__V1__Response resp = TALLY__V1__RESPONSE__INIT;
            resp.call_id = r->call_id;
            fake_write_response(sfd, &resp);
        }
        if (r) tally__v1__request__free_unpacked(r, NULL);
    }
    CHECK(tally_batch_run(b) == 1);
    const tally_error *e = NULL;
    CHECK(tally_batch_result(b, 1, NULL, NULL) == TALLY_OK);
    if (tally_batch_result(b, 0, NULL, &e) == TALLY_DEADLINE_EXCEEDED)
        CHECK(streq(e->reason, TALLY_R_LOCAL_TIMEOUT) && e->outcome_unknown && !e->connection_lost);
    else FAILF("call 0 should have timed out locally");
    CHECK(tally_connected(c));

    /* The server's final frame fails everything in flight with its code and reason. */
    tally_batch_reset(b);
    tally_set_timeout(c, 0);
    for (int i = 0; i < 5; i++)
        tally_batch_add(b, TALLY_METHOD_HEALTH, NULL, &tally__v1__health_response__descriptor, &err);
    CHECK(tally_batch_send(b, &err) == TALLY_OK);
    Tally__V1__Response final = TALLY__V1__RESPONSE__INIT;
    final.code = TALLY__V1__CODE__CODE_RESOURCE_EXHAUSTED;
    final.reason = "TOO_MANY_CONNECTIONS";
    final.message = "no more";
    Tally__V1__Response__DetailsEntry limit = TALLY__V1__RESPONSE__DETAILS_ENTRY__INIT;
    limit.key = "limit";
    limit.value = "1024";
    Tally__V1__Response__DetailsEntry *details[1] = {&limit};
    final.n_details = 1;
    final.details = details;
    fake_write_response(sfd, &final);
    close(sfd);
    CHECK(tally_batch_run(b) == 5);
    for (size_t i = 0; i < 5; i++) {
        int rc = tally_batch_result(b, i, NULL, &e);
        CHECK(rc == TALLY_RESOURCE_EXHAUSTED && e && streq(e->reason, "TOO_MANY_CONNECTIONS") && e->call_id == 0 &&
              e->connection_lost && e->outcome_unknown && !e->local && streq(tally_error_detail(e, "limit"), "1024"));
    }
    CHECK(!tally_connected(c));
    tally_batch_free(b);
    for (int i = 0; i < 3; i++) free(names[i]);
    tally_close(c);
    close(lfd);
    unlink(path);
    tally_error_clear(&err);
}

/* Answers bigger than a read: a 3 MiB answer arrives whole; a frame over 4 MiB ends the
 * connection as RESPONSE_MALFORMED. */
static void test_large_answers(void) {
    char path[256];
    int lfd = fake_listen(path, sizeof path, "large");
    if (lfd < 0) return;
    tally_error err = TALLY_ERROR_INIT;
    tally_conn *c = tally_connect(path, 1000, &err);
    int sfd = c ? accept(lfd, NULL, NULL) : -1;
    if (!c || sfd < 0) {
        FAILF("fake server");
        tally_close(c);
        close(lfd);
        tally_error_clear(&err);
        return;
    }
    tally_set_timeout(c, 5000);
    size_t n = 3u << 20;
    char *big = malloc(n + 1);
    memset(big, 'u', n);
    big[n] = '\0';
    Tally__V1__Balance bal = TALLY__V1__BALANCE__INIT;
    bal.user_id = big;
    bal.available = 42;
    Tally__V1__GetBalanceResponse gb = TALLY__V1__GET_BALANCE_RESPONSE__INIT;
    gb.balance = &bal;
    size_t plen = tally__v1__get_balance_response__get_packed_size(&gb);
    unsigned char *payload = malloc(plen);
    tally__v1__get_balance_response__pack(&gb, payload);
    Tally__V1__Response resp = TALLY__V1__RESPONSE__INIT;
    resp.call_id = 1;
    resp.payload.data = payload;
    resp.payload.len = plen;
        tally_batch *b = tally_batch_new(c);
    tally_batch_add(b, TALLY_METHOD_GET_BALANCE, NULL, &tally__v1__get_balance_response__descriptor, &err);
    CHECK(tally_batch_send(b, &err) == TALLY_OK);
    Tally__V1__Request *req = fake_read_request(sfd);
    if (req) tally__v1__request__free_unpacked(req, NULL);
    /* 3 MiB do not fit in the socket buffer: a thread writes while the client reads. */
    fake_writer w = {sfd, &resp};
    pthread_t writer;
    int started = pthread_create(&writer, NULL, fake_write_thread, &w) == 0;
    CHECK(started);
    const ProtobufCMessage *m = NULL;
    CHECK(tally_batch_run(b) == 0);
    if (started) pthread_join(writer, NULL);
    if (tally_batch_result(b, 0, &m, NULL) == TALLY_OK) {
        const Tally__V1__GetBalanceResponse *r = (const Tally__V1__GetBalanceResponse *)m;
        CHECK(r->balance && strlen(r->balance->user_id) == n && r->balance->available == 42);
    } else {
        FAILF("the large answer failed");
    }
    tally_batch_free(b);
    free(payload);
    free(big);

    /* A length prefix over 4 MiB from the server. */
    unsigned char hdr[4] = {0x00, 0x40, 0x00, 0x01};
    CHECK(write(sfd, hdr, 4) == 4);
    int rc = tally_get_balance(c, NULL, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_INTERNAL, TALLY_R_RESPONSE_MALFORMED)) CHECK(err.local && err.connection_lost);
    CHECK(!tally_connected(c));
    tally_close(c);
    close(sfd);
    close(lfd);
    unlink(path);
    tally_error_clear(&err);
}

static int set_user_limit(tally_conn *c, const char *user, int64_t limit, tally_error *err) {
    Tally__V1__SetLimitsRequest__UserLimitChange ul = TALLY__V1__SET_LIMITS_REQUEST__USER_LIMIT_CHANGE__INIT;
    ul.user_id = (char *)user;
    ul.limit = limit;
    Tally__V1__SetLimitsRequest req = TALLY__V1__SET_LIMITS_REQUEST__INIT;
    req.change_case = TALLY__V1__SET_LIMITS_REQUEST__CHANGE_USER_LIMIT;
    req.user_limit = &ul;
    return tally_usage_set_limits(c, &req, NULL, err);
}

static void test_usage(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128], key[128];
    uid(user, sizeof user, "gateway-user");
    CHECK_OK(set_user_limit(c, user, 1000, &err), err);

    Tally__V1__CheckUsageRequest check = TALLY__V1__CHECK_USAGE_REQUEST__INIT;
    check.user_id = user;
    Tally__V1__CheckUsageResponse *cr = NULL;
    char today[16] = "";
    if (CHECK_OK(tally_usage_check(c, &check, &cr, &err), err)) {
        CHECK(cr->status->used == 0 && cr->status->limit == 1000 && cr->status->remaining == 1000);
        CHECK(strlen(cr->status->date) == 10 && cr->status->resets_at_us > 0);
        snprintf(today, sizeof today, "%s", cr->status->date);
    }
    tally_free(cr);

    Tally__V1__ConsumeRequest consume = TALLY__V1__CONSUME_REQUEST__INIT;
    consume.user_id = user;
    consume.tokens = 600;
    Tally__V1__ConsumeResponse *co = NULL;
    if (CHECK_OK(tally_usage_consume(c, &consume, &co, &err), err))
        CHECK(co->status->used == 600 && co->status->remaining == 400 && !co->replayed);
    tally_free(co);

    Tally__V1__ReserveRequest reserve = TALLY__V1__RESERVE_REQUEST__INIT;
    reserve.user_id = user;
    reserve.tokens = 300;
    reserve.ttl_ms = 60000;
    Tally__V1__ReserveResponse *rr = NULL;
    uint64_t rid = 0;
    if (CHECK_OK(tally_usage_reserve(c, &reserve, &rr, &err), err)) {
        rid = rr->reservation->id;
        CHECK(rid > 0 && rr->reservation->tokens == 300 && streq(rr->reservation->user_id, user));
        CHECK(rr->reservation->expires_at_us > rr->reservation->created_at_us);
        CHECK(rr->status->used == 600 && rr->status->reserved == 300 && rr->status->remaining == 100);
    }
    tally_free(rr);

    consume.tokens = 200;
    int rc = tally_usage_consume(c, &consume, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_RESOURCE_EXHAUSTED, "DAILY_LIMIT_EXCEEDED")) {
        CHECK_DETAIL(err, "used", "600");
        CHECK_DETAIL(err, "reserved", "300");
        CHECK_DETAIL(err, "limit", "1000");
        CHECK_DETAIL(err, "remaining", "100");
        CHECK_DETAIL(err, "requested", "200");
        CHECK_DETAIL(err, "resets_at_us", NULL);
        CHECK_DETAIL(err, "day", today);
        CHECK(err.outcome_unknown == 0 && err.connection_lost == 0);
    }

    Tally__V1__SettleRequest settle = TALLY__V1__SETTLE_REQUEST__INIT;
    settle.reservation_id = rid;
    settle.tokens = 250;
    Tally__V1__SettleResponse *se = NULL;
    if (CHECK_OK(tally_usage_settle(c, &settle, &se, &err), err)) {
        CHECK(se->reservation->id == rid && se->reservation->tokens == 300);
        CHECK(se->status->used == 850 && se->status->reserved == 0);
    }
    tally_free(se);

    reserve.tokens = 100;
    uint64_t rid2 = 0;
    if (CHECK_OK(tally_usage_reserve(c, &reserve, &rr, &err), err)) rid2 = rr->reservation->id;
    tally_free(rr);
    Tally__V1__ReleaseRequest release = TALLY__V1__RELEASE_REQUEST__INIT;
    release.reservation_id = rid2;
    Tally__V1__ReleaseResponse *rl = NULL;
    if (CHECK_OK(tally_usage_release(c, &release, &rl, &err), err))
        CHECK(rl->reservation->id == rid2 && rl->status->used == 850 && rl->status->reserved == 0);
    tally_free(rl);
    rc = tally_usage_release(c, &release, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_NOT_FOUND, "RESERVATION_NOT_FOUND")) {
        char id[32];
        snprintf(id, sizeof id, "%llu", (unsigned long long)rid2);
        CHECK_DETAIL(err, "reservation_id", id);
    }
    settle.reservation_id = rid;
    rc = tally_usage_settle(c, &settle, NULL, &err);
    CHECK_FAIL(rc, err, TALLY_NOT_FOUND, "RESERVATION_NOT_FOUND");

    /* An idempotent consume. */
    consume.tokens = 10;
    consume.idempotency_key = (char *)uid(key, sizeof key, "consume-1");
    CHECK_OK(tally_usage_consume(c, &consume, NULL, &err), err);
    if (CHECK_OK(tally_usage_consume(c, &consume, &co, &err), err)) CHECK(co->replayed && co->status->used == 860);
    tally_free(co);

    if (CHECK_OK(tally_usage_check(c, &check, &cr, &err), err))
        CHECK(cr->status->used == 860 && cr->status->remaining == 140 && cr->status->reserved == 0);
    tally_free(cr);
    tally_error_clear(&err);
    tally_close(c);
}

static void test_usage_admin(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128];
    uid(user, sizeof user, "history-user");
    Tally__V1__ConsumeRequest consume = TALLY__V1__CONSUME_REQUEST__INIT;
    consume.user_id = user;
    consume.tokens = 77;
    CHECK_OK(tally_usage_consume(c, &consume, NULL, &err), err);

    Tally__V1__GetLimitsResponse *gl = NULL;
    if (CHECK_OK(tally_usage_get_limits(c, NULL, &gl, &err), err)) {
        CHECK(gl->settings && gl->settings->n_tiers >= 1 && gl->settings->default_tier[0] != '\0');
        CHECK(gl->settings->time_zone[0] != '\0' && gl->settings->retention_days > 0);
    }
    tally_free(gl);

    Tally__V1__UsageHistoryRequest hist = TALLY__V1__USAGE_HISTORY_REQUEST__INIT;
    hist.user_id = user;
    Tally__V1__UsageHistoryResponse *hr = NULL;
    /* History scans the durable state off the Writer and may miss the last few ms (§4.1). */
    for (int tries = 0; tries < 50; tries++) {
        tally_free(hr);
        hr = NULL;
        if (tally_usage_history(c, &hist, &hr, &err) != TALLY_OK || (hr->n_days >= 1 && hr->days[0]->tokens == 77)) break;
        sleep_ms(20);
    }
    if (CHECK_OK(err.code, err)) {
        CHECK(hr->today && hr->today->used == 77);
        CHECK(hr->n_days >= 1 && hr->days[0]->tokens == 77);
        CHECK(hr->n_months >= 1 && hr->months[0]->total == 77);
    }
    tally_free(hr);

    Tally__V1__TopUsersRequest top = TALLY__V1__TOP_USERS_REQUEST__INIT;
    top.limit = 1000;
    Tally__V1__TopUsersResponse *tr = NULL;
    if (CHECK_OK(tally_usage_top_users(c, &top, &tr, &err), err)) {
        int found = 0;
        for (size_t i = 0; i < tr->n_users; i++)
            if (streq(tr->users[i]->user_id, user) && tr->users[i]->tokens == 77) found = 1;
        CHECK(found && strlen(tr->date) == 10);
    }
    tally_free(tr);
    top.date = "2024-13-45";
    CHECK_FAIL(tally_usage_top_users(c, &top, NULL, &err), err, TALLY_INVALID_ARGUMENT, "DATE_INVALID");

    Tally__V1__MonthByTierResponse *mt = NULL;
    if (CHECK_OK(tally_usage_month_by_tier(c, NULL, &mt, &err), err)) CHECK(strlen(mt->month) == 7 && mt->n_tiers >= 1);
    tally_free(mt);

    /* SetLimits with no change named. */
    Tally__V1__SetLimitsRequest none = TALLY__V1__SET_LIMITS_REQUEST__INIT;
    CHECK_FAIL(tally_usage_set_limits(c, &none, NULL, &err), err, TALLY_INVALID_ARGUMENT, "CHANGE_MISSING");
    tally_error_clear(&err);
    tally_close(c);
}

/* Priced actions: the price of the caller's tier, the tier recorded on the transaction. */
static void test_priced_actions(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128], action[128];
    uid(user, sizeof user, "actor");
    uid(action, sizeof action, "generate-post");
    CHECK_OK(credit(c, user, 50, NULL, NULL, &err), err);

    Tally__V1__SetPriceRequest preq = TALLY__V1__SET_PRICE_REQUEST__INIT;
    preq.action = action;
    preq.tier = "trial";
    preq.cost = 5;
    CHECK_OK(tally_set_price(c, &preq, NULL, &err), err);
    preq.tier = "subscribed";
    preq.cost = 2;
    Tally__V1__SetPriceResponse *pr = NULL;
    if (CHECK_OK(tally_set_price(c, &preq, &pr, &err), err)) CHECK(pr->price && pr->price->n_costs == 2);
    tally_free(pr);

    Tally__V1__SpendActionRequest sreq = TALLY__V1__SPEND_ACTION_REQUEST__INIT;
    sreq.user_id = user;
    sreq.action = action;
    Tally__V1__SpendResponse *sr = NULL;
    if (CHECK_OK(tally_spend_action(c, &sreq, &sr, &err), err))
        CHECK(sr->transaction->amount == 5 && streq(sr->transaction->tier, "trial") && streq(sr->transaction->action, action));
    tally_free(sr);

    Tally__V1__SetMembershipRequest mreq = TALLY__V1__SET_MEMBERSHIP_REQUEST__INIT;
    mreq.user_id = user;
    mreq.tier = "subscribed";
    Tally__V1__MembershipResponse *mr = NULL;
    if (CHECK_OK(tally_set_membership(c, &mreq, &mr, &err), err)) CHECK(mr->active && streq(mr->tier, "subscribed"));
    tally_free(mr);
    if (CHECK_OK(tally_spend_action(c, &sreq, &sr, &err), err))
        CHECK(sr->transaction->amount == 2 && sr->balance->available == 43);
    tally_free(sr);

    Tally__V1__ListPricesResponse *lr = NULL;
    if (CHECK_OK(tally_list_prices(c, NULL, &lr, &err), err)) {
        int found = 0;
        for (size_t i = 0; i < lr->n_prices; i++) found |= streq(lr->prices[i]->action, action);
        CHECK(found);
    }
    tally_free(lr);
    sreq.action = "no-such-action";
    if (CHECK_FAIL(tally_spend_action(c, &sreq, NULL, &err), err, TALLY_NOT_FOUND, "ACTION_NOT_FOUND"))
        CHECK_DETAIL(err, "action", "no-such-action");
    /* Both spends and the refusal are in the audit log, newest first. */
    Tally__V1__ListAuditRequest areq = TALLY__V1__LIST_AUDIT_REQUEST__INIT;
    areq.user_id = user;
    areq.status = TALLY__V1__AUDIT_STATUS__AUDIT_STATUS_REFUSED;
    Tally__V1__ListAuditResponse *ar = NULL;
    if (CHECK_OK(tally_list_audit(c, &areq, &ar, &err), err)) {
        CHECK(ar->n_entries == 1 && streq(ar->entries[0]->reason, "ACTION_NOT_FOUND"));
        CHECK(streq(ar->entries[0]->method, TALLY_METHOD_SPEND_ACTION) && streq(ar->entries[0]->role, "admin"));
    }
    tally_free(ar);
    /* Every balance agrees with history. */
    Tally__V1__ReconcileResponse *rr = NULL;
    if (CHECK_OK(tally_reconcile(c, NULL, &rr, &err), err)) CHECK(rr->n_mismatches == 0 && rr->accounts_checked > 0);
    tally_free(rr);
    tally_error_clear(&err);
    tally_close(c);
}

static void test_admin(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    Tally__V1__HealthResponse *h = NULL;
    if (CHECK_OK(tally_health(c, NULL, &h, &err), err)) {
        CHECK(h->accepting_mutations && h->refusal_reason[0] == '\0');
        CHECK(h->connections >= 1 && h->queued_calls_limit > 0 && h->uptime_ms >= 0 && !h->invariants_checked);
    }
    tally_free(h);
    Tally__V1__HealthRequest hreq = TALLY__V1__HEALTH_REQUEST__INIT;
    hreq.check_invariants = 1;
    if (CHECK_OK(tally_health(c, &hreq, &h, &err), err))
        CHECK(h->invariants_checked && h->n_invariant_violations == 0);
    tally_free(h);

    Tally__V1__SnapshotResponse *s = NULL;
    if (CHECK_OK(tally_snapshot(c, NULL, &s, &err), err)) CHECK(s->path[0] == '/' && s->bytes > 0);
    tally_free(s);

    char path[256];
    snprintf(path, sizeof path, "%s/backup-%s.snapshot", g_dir, g_run);
    unlink(path);
    Tally__V1__BackupRequest breq = TALLY__V1__BACKUP_REQUEST__INIT;
    breq.path = path;
    Tally__V1__BackupResponse *br = NULL;
    if (CHECK_OK(tally_backup(c, &breq, &br, &err), err)) CHECK(streq(br->path, path) && br->bytes > 0);
    tally_free(br);
    CHECK(access(path, R_OK) == 0);
    unlink(path);
    breq.path = "relative.snapshot";
    if (CHECK_FAIL(tally_backup(c, &breq, NULL, &err), err, TALLY_INVALID_ARGUMENT, "BACKUP_PATH_INVALID"))
        CHECK_DETAIL(err, "path", "relative.snapshot");
    tally_error_clear(&err);
    tally_close(c);
}

/* Garbage through the raw helper: tallyd answers with a final call-id-0 frame and closes; the
 * library reports that frame's code and reason, to the call in flight and every later call. */
static void server_closes(const void *bytes, size_t n, int code, const char *reason, const char *detail,
                          const char *value) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    CHECK_OK(tally_send_raw(c, bytes, n, &err), err);
    Tally__V1__GetBalanceRequest req = TALLY__V1__GET_BALANCE_REQUEST__INIT;
    req.user_id = "alice";
    int rc = tally_get_balance(c, &req, NULL, &err);
    if (CHECK_FAIL(rc, err, code, reason)) {
        CHECK(err.call_id == 0 && err.local == 0 && err.connection_lost == 1);
        if (detail) CHECK_DETAIL(err, detail, value);
    }
    CHECK(!tally_connected(c));
    rc = tally_get_balance(c, &req, NULL, &err);
    if (CHECK_FAIL(rc, err, code, reason)) CHECK(err.connection_lost == 1 && err.outcome_unknown == 0);
    tally_batch *b = tally_batch_new(c);
    CHECK(tally_batch_add(b, TALLY_METHOD_HEALTH, NULL, &tally__v1__health_response__descriptor, &err) == -1);
    CHECK_FAIL(err.code, err, code, reason);
    tally_batch_free(b);
    tally_error_clear(&err);
    tally_close(c);
}

static void test_server_closes_connection(void) {
    server_closes("\0\0\0\3\xff\xff\xff", 7, TALLY_INVALID_ARGUMENT, "MALFORMED_FRAME", NULL, NULL);
    server_closes("GET / HTTP/1.0\r\n\r\n", 18, TALLY_RESOURCE_EXHAUSTED, "FRAME_TOO_LARGE", "length", "1195725856");
    server_closes("\0\0\0\0", 4, TALLY_INVALID_ARGUMENT, "CALL_ID_MISSING", NULL, NULL);

    /* Writing a big batch to a connection tallyd already closed: EPIPE, never SIGPIPE (this
     * process would die of it), and every call reports the final frame. */
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    CHECK_OK(tally_send_raw(c, "\0\0\0\3\xff\xff\xff", 7, &err), err);
    sleep_ms(300);
    tally_batch *b = tally_batch_new(c);
    char memo[1000];
    memset(memo, 'm', sizeof memo - 1);
    memo[sizeof memo - 1] = '\0';
    for (int i = 0; i < 500; i++) {
        Tally__V1__CreditRequest req = TALLY__V1__CREDIT_REQUEST__INIT;
        req.user_id = "x";
        req.amount = 1;
        req.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_GRANT;
        req.memo = memo;
        tally_batch_add(b, TALLY_METHOD_CREDIT, &req.base, &tally__v1__credit_response__descriptor, NULL);
    }
    int rc = tally_batch_send(b, &err);
    CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "MALFORMED_FRAME");
    CHECK(tally_batch_run(b) == 500);
    const tally_error *e = NULL;
    CHECK(tally_batch_result(b, 499, NULL, &e) == TALLY_INVALID_ARGUMENT && streq(e->reason, "MALFORMED_FRAME"));
    tally_batch_free(b);
    tally_error_clear(&err);
    tally_close(c);
}

static void test_large_frames(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128];
    uid(user, sizeof user, "large");
    /* Over 4 MiB: refused here, nothing sent, the connection unharmed. */
    size_t n = 4u << 20;
    char *memo = malloc(n + 1);
    memset(memo, 'm', n);
    memo[n] = '\0';
    Tally__V1__CreditRequest req = TALLY__V1__CREDIT_REQUEST__INIT;
    req.user_id = user;
    req.amount = 1;
    req.kind = TALLY__V1__CREDIT_KIND__CREDIT_KIND_GRANT;
    req.memo = memo;
    int rc = tally_credit(c, &req, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_REQUEST_TOO_LARGE)) {
        CHECK(err.local == 1 && err.outcome_unknown == 0 && err.connection_lost == 0);
        CHECK_DETAIL(err, "limit", "4194304");
    }
    CHECK(tally_connected(c));
    /* 3 MiB: a frame tallyd takes whole (written in many parts), then refuses by field. */
    memo[3u << 20] = '\0';
    rc = tally_credit(c, &req, NULL, &err);
    if (CHECK_FAIL(rc, err, TALLY_INVALID_ARGUMENT, "FIELD_TOO_LONG")) CHECK_DETAIL(err, "field", "memo");
    free(memo);
    CHECK(available(c, user) == 0);
    tally_error_clear(&err);
    tally_close(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Streams                                                                                  */

/* What a watch's callback saw. stop_after: cancel from the callback at that many messages. */
typedef struct seen {
    int n, live_at, stop_after;
    uint64_t position[64];
    int64_t balance[64];
    int cause[64];
    int64_t used[64];
} seen;

static int on_balance(void *ctx, const ProtobufCMessage *m) {
    seen *s = ctx;
    const Tally__V1__BalanceChange *ch = (const Tally__V1__BalanceChange *)m;
    if (s->n < 64) {
        s->position[s->n] = ch->position;
        s->balance[s->n] = ch->transaction ? ch->transaction->balance_after : -1;
        if (ch->live) s->live_at = s->n;
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static int on_usage(void *ctx, const ProtobufCMessage *m) {
    seen *s = ctx;
    const Tally__V1__UsageChange *ch = (const Tally__V1__UsageChange *)m;
    if (s->n < 64) {
        s->cause[s->n] = ch->cause;
        s->used[s->n] = ch->status ? ch->status->used : -1;
        if (ch->live) s->live_at = s->n;
    }
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

/* Polls until the callback has seen `want` messages or the stream ended (at most 10 s). */
static void poll_until(tally_stream *s, const seen *got, int want) {
    double until = now_s() + 10;
    while (got->n < want && now_s() < until && tally_stream_poll(s, 100)) {
    }
}

static void test_watch_balance(void) {
    tally_conn *c = open_conn(), *other = open_conn();
    if (!c || !other) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128], users2[128];
    uid(user, sizeof user, "watched");
    uid(users2, sizeof users2, "watched-2");
    Tally__V1__CreditResponse *cr = NULL;
    uint64_t first = 0;
    if (CHECK_OK(credit(c, user, 100, NULL, &cr, &err), err)) first = cr->transaction->id;
    tally_free(cr);
    CHECK_OK(credit(c, user, 50, NULL, NULL, &err), err);

    /* Resume from just before the first credit: both credits, then `live`. */
    seen got = {0};
    got.live_at = -1;
    char *ids[] = {user, users2};
    Tally__V1__WatchBalanceRequest req = TALLY__V1__WATCH_BALANCE_REQUEST__INIT;
    req.n_user_ids = 2;
    req.user_ids = ids;
    req.resume = 1;
    req.after_position = first - 1;
    tally_stream *s = tally_watch_balance(c, &req, on_balance, &got, &err);
    CHECK(s != NULL && tally_stream_call_id(s) > 0);
    if (!s) goto out;
    poll_until(s, &got, 3);
    CHECK(got.n == 3 && got.live_at == 2);
    CHECK(got.position[0] == first && got.balance[0] == 100 && got.position[1] == first + 1 && got.balance[1] == 150);
    CHECK(got.position[2] == first + 1);
    CHECK(tally_stream_status(s, NULL) == -1);

    /* A change made on another connection arrives; one made while this connection waits for a
     * call of its own is kept for the next poll, and the call is answered meanwhile. */
    CHECK_OK(spend(other, user, 30, NULL, NULL, &err), err);
    poll_until(s, &got, 4);
    CHECK(got.n == 4 && got.balance[3] == 120 && got.position[3] > first + 1);
    CHECK_OK(credit(c, users2, 7, NULL, NULL, &err), err); /* the change comes during this call */
    CHECK(available(c, user) == 120);
    CHECK(got.n == 4); /* not handed over outside a poll */
    poll_until(s, &got, 5);
    CHECK(got.n == 5 && got.balance[4] == 7);

    /* An event loop's way: poll the socket, then take what came with a zero wait. */
    CHECK_OK(spend(other, user, 20, NULL, NULL, &err), err);
    double until = now_s() + 10;
    while (got.n < 6 && now_s() < until) {
        struct pollfd pfd = {tally_fd(c), POLLIN, 0};
        if (poll(&pfd, 1, 100) > 0) CHECK(tally_stream_poll(s, 0) == 1);
    }
    CHECK(got.n == 6 && got.balance[5] == 100);

    /* Cancel: tallyd's last frame says where to resume. */
    CHECK_OK(tally_stream_cancel(s, &err), err);
    int rc = tally_stream_run(s, &err);
    if (CHECK_FAIL(rc, err, TALLY_CANCELLED, "CANCELLED")) {
        char want[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)got.position[5]);
        CHECK_DETAIL(err, "resume_after", want);
        CHECK(err.local == 0 && err.call_id == tally_stream_call_id(s));
    }
    const tally_error *end = NULL;
    CHECK(tally_stream_status(s, &end) == TALLY_CANCELLED && end && streq(end->reason, "CANCELLED"));
    tally_stream_free(s);
    CHECK(tally_connected(c) && available(c, user) == 100);
out:
    tally_error_clear(&err);
    tally_close(other);
    tally_close(c);
}

static void test_watch_ends(void) {
    tally_conn *c = open_conn();
    if (!c) return;
    tally_error err = TALLY_ERROR_INIT;
    char user[128];
    uid(user, sizeof user, "watch-ends");
    char *ids[] = {user};

    /* A refusal is the stream's only frame. */
    Tally__V1__WatchBalanceRequest none = TALLY__V1__WATCH_BALANCE_REQUEST__INIT;
    seen got = {0};
    tally_stream *s = tally_watch_balance(c, &none, on_balance, &got, &err);
    CHECK(s != NULL);
    if (s) {
        CHECK_FAIL(tally_stream_run(s, &err), err, TALLY_INVALID_ARGUMENT, "WATCH_USERS_MISSING");
        CHECK(got.n == 0);
        tally_stream_free(s);
    }

    /* The connection's timeout bounds the stream: tallyd ends it DEADLINE_EXCEEDED. */
    tally_set_timeout(c, 300);
    Tally__V1__WatchBalanceRequest req = TALLY__V1__WATCH_BALANCE_REQUEST__INIT;
    req.n_user_ids = 1;
    req.user_ids = ids;
    memset(&got, 0, sizeof got);
    double t0 = now_s();
    s = tally_watch_balance(c, &req, on_balance, &got, &err);
    if (s) {
        int rc = tally_stream_run(s, &err);
        if (CHECK_FAIL(rc, err, TALLY_DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED")) {
            CHECK(err.local == 0);
            CHECK_DETAIL(err, "resume_after", NULL);
        }
        CHECK(got.n == 1 && now_s() - t0 >= 0.25);
        tally_stream_free(s);
    }
    tally_set_timeout(c, 0);

    /* Freed while open: cancelled; the connection goes on, late frames are dropped. */
    memset(&got, 0, sizeof got);
    s = tally_watch_balance(c, &req, on_balance, &got, &err);
    if (s) {
        poll_until(s, &got, 1);
        tally_stream_free(s);
    }
    CHECK_OK(credit(c, user, 5, NULL, NULL, &err), err);
    CHECK(available(c, user) == 5 && tally_connected(c));

    /* Usage: the standing now, live, then each durable change; the callback cancels. */
    CHECK_OK(set_user_limit(c, user, 1000, &err), err);
    Tally__V1__WatchUsageRequest ureq = TALLY__V1__WATCH_USAGE_REQUEST__INIT;
    ureq.n_user_ids = 1;
    ureq.user_ids = ids;
    memset(&got, 0, sizeof got);
    got.stop_after = 3;
    s = tally_watch_usage(c, &ureq, on_usage, &got, &err);
    if (s) {
        poll_until(s, &got, 2);
        CHECK(got.n == 2 && got.cause[0] == TALLY__V1__USAGE_CHANGE_CAUSE__USAGE_CHANGE_CAUSE_CURRENT && got.live_at == 1);
        Tally__V1__ConsumeRequest consume = TALLY__V1__CONSUME_REQUEST__INIT;
        consume.user_id = user;
        consume.tokens = 40;
        CHECK_OK(tally_usage_consume(c, &consume, NULL, &err), err);
        CHECK_OK(tally_usage_consume(c, &consume, NULL, &err), err);
        /* The callback asks to stop at the third message: the fourth is not handed over. */
        CHECK_FAIL(tally_stream_run(s, &err), err, TALLY_CANCELLED, "CANCELLED");
        CHECK(got.n == 3 && got.cause[2] == TALLY__V1__USAGE_CHANGE_CAUSE__USAGE_CHANGE_CAUSE_CONSUME && got.used[2] == 40);
        tally_stream_free(s);
    }

    /* The change feed: this tallyd runs with --fsync never, so it has no journal to feed. */
    Tally__V1__ChangesRequest creq = TALLY__V1__CHANGES_REQUEST__INIT;
    memset(&got, 0, sizeof got);
    s = tally_changes(c, &creq, on_balance, &got, &err);
    if (s) {
        CHECK_FAIL(tally_stream_run(s, &err), err, TALLY_FAILED_PRECONDITION, "NO_JOURNAL");
        CHECK(got.n == 0);
        tally_stream_free(s);
    }
    CHECK(tally_connected(c));
    tally_error_clear(&err);
    tally_close(c);
}

/* ---------------------------------------------------------------------------------------- */

typedef struct test {
    const char *name;
    void (*fn)(void);
} test;

int main(int argc, char **argv) {
    g_socket = argc > 1 ? argv[1] : getenv("TALLY_SOCKET");
    if (!g_socket || !*g_socket) {
        fprintf(stderr, "usage: %s SOCKET (or TALLY_SOCKET=...); tests/run-tests.sh starts a tallyd\n", argv[0]);
        return 2;
    }
    g_socket_queued = getenv("TALLY_SOCKET_QUEUED");
    g_dir = getenv("TALLY_TEST_DIR");
    if (!g_dir || !*g_dir) g_dir = "/tmp";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(g_run, sizeof g_run, "c%ld-%ld", (long)getpid(), (long)(ts.tv_sec % 100000000));
    setvbuf(stdout, NULL, _IOLBF, 0);

    static const test tests[] = {
        {"connect_failures", test_connect_failures},
        {"credit_spend_balance", test_credit_spend_balance},
        {"insufficient_tokens", test_insufficient_tokens},
        {"idempotent_retry", test_idempotent_retry},
        {"invalid_argument", test_invalid_argument},
        {"unknown_method", test_unknown_method},
        {"local_deadline", test_local_deadline},
        {"server_deadline", test_server_deadline},
        {"min_position", test_min_position},
        {"batch_1000", test_batch_1000},
        {"batch_out_of_order", test_batch_out_of_order},
        {"large_answers", test_large_answers},
        {"usage", test_usage},
        {"usage_admin", test_usage_admin},
        {"priced_actions", test_priced_actions},
        {"admin", test_admin},
        {"server_closes_connection", test_server_closes_connection},
        {"large_frames", test_large_frames},
        {"watch_balance", test_watch_balance},
        {"watch_ends", test_watch_ends},
    };
    const char *only = getenv("TALLY_TEST_ONLY");
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (only && *only && !strstr(only, tests[i].name)) continue;
        g_test_failed = 0;
        double t0 = now_s();
        tests[i].fn();
        double took = now_s() - t0;
        if (g_test_failed) g_failed++;
        else g_passed++;
        printf("%s %s (%.2f s)\n", g_test_failed ? "FAIL" : "ok  ", tests[i].name, took);
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
