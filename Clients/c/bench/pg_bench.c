/*
 * pg-bench: PostgreSQL driven the way Tally is, through libpq over a Unix socket, with the shape
 * of tally-bench (peer_harness.h): N connections as threads, one call at a time per connection
 * (depth 1: a spend is a transaction, and the next waits for its commit), latency from send to
 * answer. Every spend is 1 token from a user picked uniformly from bench-0 .. bench-(U-1).
 *
 *   --mode spend      one transaction per spend, prepared statements, four round trips:
 *                       BEGIN;
 *                       UPDATE balances SET available = available - $2, version = version + 1
 *                         WHERE user_id = $1 AND available >= $2 RETURNING available;
 *                       INSERT INTO history (user_id, amount, balance_after) VALUES ($1, $2, $3);
 *                       COMMIT        (ROLLBACK and a refusal when the UPDATE found no row)
 *   --mode spend-cte  the same transaction as one prepared statement, one round trip:
 *                       WITH s AS (UPDATE ... RETURNING ...) INSERT INTO history ... SELECT ... FROM s
 *   --mode get        SELECT available, ... FROM balances WHERE user_id = $1 (prepared)
 *
 * --setup creates the tables (dropping old ones) and credits every user 10^9 first.
 * Durability is the server's: run it with synchronous_commit = on and fsync = on.
 *
 *   pg-bench --conninfo "host=/dir dbname=postgres user=postgres" --mode spend --setup [--connections 32] ...
 */
#define _POSIX_C_SOURCE 200809L

#include "peer_harness.h"

#include <libpq-fe.h>

static const char usage_text[] =
    "usage: pg-bench --conninfo STRING --mode spend|spend-cte|get [--setup] [--connections N]\n"
    "                [--duration S] [--users U]   (depth is always 1)\n";

static const char *conninfo;
static int do_setup;
enum { M_SPEND, M_SPEND_CTE, M_GET };
static int mode;
static const char *o_mode_name = "";

static int extra_arg(const char *name, const char *value) {
    if (strcmp(name, "conninfo") == 0) conninfo = value;
    else if (strcmp(name, "setup") == 0) do_setup = strcmp(value, "0") != 0;
    else return -1;
    return 0;
}

static const char SETUP_SQL[] =
    "SET client_min_messages TO warning; DROP TABLE IF EXISTS history; DROP TABLE IF EXISTS balances;"
    "CREATE TABLE balances (user_id text PRIMARY KEY, available bigint NOT NULL CHECK (available >= 0),"
    "  version bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE history (id bigserial PRIMARY KEY, user_id text NOT NULL, amount bigint NOT NULL,"
    "  balance_after bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX history_user ON history (user_id, id);";

static int ok(PGresult *r, ExecStatusType want, PGconn *c, char *err, size_t size) {
    if (r && PQresultStatus(r) == want) return 1;
    snprintf(err, size, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    char *nl = strchr(err, '\n');
    if (nl) *nl = '\0';
    return 0;
}

static int prepare(PGconn *c, char *err, size_t size) {
    const char *stmts[][2] = {
        {"upd", "UPDATE balances SET available = available - $2, version = version + 1"
                " WHERE user_id = $1 AND available >= $2 RETURNING available"},
        {"ins", "INSERT INTO history (user_id, amount, balance_after) VALUES ($1, $2, $3)"},
        {"cte", "WITH s AS (UPDATE balances SET available = available - $2, version = version + 1"
                " WHERE user_id = $1 AND available >= $2 RETURNING available)"
                " INSERT INTO history (user_id, amount, balance_after) SELECT $1, $2, available FROM s"
                " RETURNING balance_after"},
        {"get", "SELECT available, version FROM balances WHERE user_id = $1"},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        PGresult *r = PQprepare(c, stmts[i][0], stmts[i][1], 0, NULL);
        int good = ok(r, PGRES_COMMAND_OK, c, err, size);
        PQclear(r);
        if (!good) return -1;
    }
    return 0;
}

static void *pg_open(peer_worker *w) {
    char err[300];
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        peer_fail(w, "connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    if (prepare(c, err, sizeof err) < 0) {
        peer_fail(w, "prepare: %s", err);
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void pg_close(void *conn) { PQfinish(conn); }

/* One simple command that must answer `want`; -1 (fatal) otherwise. */
static int simple(peer_worker *w, PGconn *c, const char *sql) {
    char err[300];
    PGresult *r = PQexec(c, sql);
    int good = ok(r, PGRES_COMMAND_OK, c, err, sizeof err);
    PQclear(r);
    if (!good) peer_fail(w, "%s: %s", sql, err);
    return good ? 0 : -1;
}

static int pg_round(peer_worker *w, void *conn) {
    PGconn *c = conn;
    char user[32], err[300];
    snprintf(user, sizeof user, "bench-%d", peer_user(w));
    int64_t sent = peer_now_ns();
    if (mode == M_GET || mode == M_SPEND_CTE) {
        const char *p[] = {user, "1"};
        PGresult *r = mode == M_GET ? PQexecPrepared(c, "get", 1, p, NULL, NULL, 0)
                                    : PQexecPrepared(c, "cte", 2, p, NULL, NULL, 0);
        int good = ok(r, PGRES_TUPLES_OK, c, err, sizeof err);
        int rows = good ? PQntuples(r) : 0;
        PQclear(r);
        if (!good) {
            peer_fail(w, "%s: %s", o_mode_name, err);
            return -1;
        }
        if (rows == 1) peer_record(w, sent, NULL);
        else if (mode == M_GET) peer_record(w, sent, "no balance for %s", user);
        else peer_record(w, sent, "refused: insufficient tokens for %s", user);
        return 0;
    }
    if (simple(w, c, "BEGIN") < 0) return -1;
    const char *p[] = {user, "1", NULL};
    PGresult *r = PQexecPrepared(c, "upd", 2, p, NULL, NULL, 0);
    if (!ok(r, PGRES_TUPLES_OK, c, err, sizeof err)) {
        PQclear(r);
        peer_fail(w, "update: %s", err);
        return -1;
    }
    if (PQntuples(r) != 1) { /* not enough tokens: nothing to record */
        PQclear(r);
        if (simple(w, c, "ROLLBACK") < 0) return -1;
        peer_record(w, sent, "refused: insufficient tokens for %s", user);
        return 0;
    }
    char balance[32];
    snprintf(balance, sizeof balance, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    p[2] = balance;
    r = PQexecPrepared(c, "ins", 3, p, NULL, NULL, 0);
    int good = ok(r, PGRES_COMMAND_OK, c, err, sizeof err);
    PQclear(r);
    if (!good) {
        peer_fail(w, "insert: %s", err);
        return -1;
    }
    if (simple(w, c, "COMMIT") < 0) return -1;
    peer_record(w, sent, NULL);
    return 0;
}

static int setup_tables(int users) {
    char err[300];
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pg-bench: connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, SETUP_SQL);
    int good = ok(r, PGRES_COMMAND_OK, c, err, sizeof err);
    PQclear(r);
    char sql[300];
    snprintf(sql, sizeof sql,
             "INSERT INTO balances (user_id, available) SELECT 'bench-' || g, 1000000000 FROM generate_series(0, %d) g",
             users - 1);
    /* VACUUM cannot run inside the implicit transaction of a multi-statement string: one at a time. */
    const char *steps[] = {sql, "VACUUM ANALYZE balances", "CHECKPOINT"};
    for (size_t i = 0; good && i < sizeof steps / sizeof steps[0]; i++) {
        r = PQexec(c, steps[i]);
        good = ok(r, PGRES_COMMAND_OK, c, err, sizeof err);
        PQclear(r);
    }
    if (!good) fprintf(stderr, "pg-bench: setup: %s\n", err);
    PQfinish(c);
    return good ? 0 : -1;
}

int main(int argc, char **argv) {
    peer_options o = {.connections = 32, .depth = 1, .users = 10000, .duration = 10, .mode = "spend"};
    /* --setup takes no value: turn it into --setup=1 for the common parser (which writes into it). */
    static char setup_arg[] = "--setup=1";
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--setup") == 0) argv[i] = setup_arg;
    if (peer_parse(argc, argv, &o, usage_text, extra_arg) < 0) return 2;
    if (!conninfo) {
        fprintf(stderr, "pg-bench: --conninfo is required\n%s", usage_text);
        return 2;
    }
    if (o.depth != 1) {
        fprintf(stderr, "pg-bench: depth is always 1 (one transaction per spend)\n");
        return 2;
    }
    if (strcmp(o.mode, "spend") == 0) mode = M_SPEND;
    else if (strcmp(o.mode, "spend-cte") == 0) mode = M_SPEND_CTE;
    else if (strcmp(o.mode, "get") == 0) mode = M_GET;
    else {
        fprintf(stderr, "pg-bench: unknown mode '%s'\n%s", o.mode, usage_text);
        return 2;
    }
    o_mode_name = o.mode;
    if (do_setup && setup_tables(o.users) < 0) return 1;
    peer_driver d = {.name = "pg-bench", .open = pg_open, .round = pg_round, .close = pg_close};
    return peer_run(&d, &o);
}
