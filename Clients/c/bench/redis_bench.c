/*
 * redis-bench: Redis driven the way Tally is, through hiredis over a Unix socket, with the shape
 * of tally-bench (peer_harness.h): N connections as threads, a round of `depth` pipelined
 * commands (redisAppendCommand, then redisGetReply for each), latency from the round's send to
 * each answer. Every operation is 1 token for a user picked uniformly from bench-0 ..
 * bench-(U-1).
 *
 *   --mode consume   a chat gateway's daily-limit check-and-consume: EVALSHA of CONSUME_LUA
 *                    (key per user per UTC day; GET used, compare to the limit, INCRBY, EXPIREAT
 *                    the day's end; answers {1, used, remaining} or the refusal {0, used, remaining})
 *   --mode spend     a balance spend: EVALSHA of SPEND_LUA (GET the balance, refuse if short,
 *                    DECRBY, XADD a history entry to the user's stream; answers {1, balance} or {0, balance})
 *   --mode get       GET of a user's balance key (a GetBalance without the history)
 *   --mode ping      PING
 *
 * Before a run: the scripts are loaded (SCRIPT LOAD); for spend and get every user's balance is
 * set to 10^9. The daily limit sent with every consume is --limit (10^15: never refused, as in
 * tally-bench). A refused call counts as an error.
 *
 *   redis-bench --socket PATH --mode consume [--connections 32] [--depth 1] [--duration 10] [--users 10000]
 */
#define _POSIX_C_SOURCE 200809L

#include "peer_harness.h"

#include <hiredis.h>

static const char usage_text[] =
    "usage: redis-bench --socket PATH --mode consume|spend|get|ping [--connections N] [--depth D]\n"
    "                   [--duration S] [--users U] [--limit L]\n";

static const char CONSUME_LUA[] =
    "local used = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local tokens = tonumber(ARGV[1])\n"
    "local limit = tonumber(ARGV[2])\n"
    "if used + tokens > limit then return {0, used, limit - used} end\n"
    "used = redis.call('INCRBY', KEYS[1], tokens)\n"
    "if used == tokens then redis.call('EXPIREAT', KEYS[1], ARGV[3]) end\n"
    "return {1, used, limit - used}\n";

static const char SPEND_LUA[] =
    "local balance = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local amount = tonumber(ARGV[1])\n"
    "if balance < amount then return {0, balance} end\n"
    "balance = redis.call('DECRBY', KEYS[1], amount)\n"
    "redis.call('XADD', KEYS[2], '*', 'kind', 'spend', 'amount', amount, 'balance', balance)\n"
    "return {1, balance}\n";

enum { M_CONSUME, M_SPEND, M_GET, M_PING };
static int mode;
static const char *socket_path;
static long long limit = 1000000000000000LL;
static char consume_sha[41], spend_sha[41];

static int extra_arg(const char *name, const char *value) {
    if (strcmp(name, "socket") == 0) socket_path = value;
    else if (strcmp(name, "limit") == 0) limit = atoll(value);
    else return -1;
    return 0;
}

static redisContext *connect_redis(char *err, size_t size) {
    redisContext *c = redisConnectUnix(socket_path);
    if (!c || c->err) {
        snprintf(err, size, "connect %s: %s", socket_path, c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    return c;
}

static void *rb_open(peer_worker *w) {
    char err[200];
    redisContext *c = connect_redis(err, sizeof err);
    if (!c) peer_fail(w, "%s", err);
    return c;
}

static void rb_close(void *conn) { redisFree(conn); }

static int rb_round(peer_worker *w, void *conn) {
    redisContext *c = conn;
    int depth = w->opt->depth;
    time_t now = time(NULL);
    long long day = (long long)now / 86400, day_end = (day + 1) * 86400;
    char key[64], key2[64], a1[32], a2[32], a3[32];
    for (int d = 0; d < depth; d++) {
        int u = peer_user(w);
        switch (mode) {
        case M_CONSUME: {
            snprintf(key, sizeof key, "used:bench-%d:%lld", u, day);
            snprintf(a1, sizeof a1, "1");
            snprintf(a2, sizeof a2, "%lld", limit);
            snprintf(a3, sizeof a3, "%lld", day_end);
            const char *argv[] = {"EVALSHA", consume_sha, "1", key, a1, a2, a3};
            redisAppendCommandArgv(c, 7, argv, NULL);
            break;
        }
        case M_SPEND: {
            snprintf(key, sizeof key, "balance:bench-%d", u);
            snprintf(key2, sizeof key2, "history:bench-%d", u);
            const char *argv[] = {"EVALSHA", spend_sha, "2", key, key2, "1"};
            redisAppendCommandArgv(c, 6, argv, NULL);
            break;
        }
        case M_GET: {
            snprintf(key, sizeof key, "balance:bench-%d", u);
            const char *argv[] = {"GET", key};
            redisAppendCommandArgv(c, 2, argv, NULL);
            break;
        }
        default: {
            const char *argv[] = {"PING"};
            redisAppendCommandArgv(c, 1, argv, NULL);
            break;
        }
        }
    }
    int64_t sent = peer_now_ns();
    for (int d = 0; d < depth; d++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            peer_fail(w, "redis: %s", c->errstr);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) peer_record(w, sent, "redis: %s", r->str);
        else if ((mode == M_CONSUME || mode == M_SPEND) &&
                 (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->integer != 1))
            peer_record(w, sent, "refused (%s)", mode == M_CONSUME ? "daily limit" : "insufficient tokens");
        else if (mode == M_GET && r->type != REDIS_REPLY_STRING)
            peer_record(w, sent, "GET: no balance");
        else peer_record(w, sent, NULL);
        freeReplyObject(r);
    }
    return 0;
}

static int load_script(redisContext *c, const char *lua, char sha[41]) {
    redisReply *r = redisCommand(c, "SCRIPT LOAD %s", lua);
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
        fprintf(stderr, "redis-bench: SCRIPT LOAD failed: %s\n", r && r->str ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        return -1;
    }
    memcpy(sha, r->str, 41);
    freeReplyObject(r);
    return 0;
}

/* Every user's balance set to 10^9, 1,000 SETs per pipelined round. */
static int credit_users(redisContext *c, int users) {
    for (int start = 0; start < users; start += 1000) {
        int end = start + 1000 < users ? start + 1000 : users;
        for (int u = start; u < end; u++) redisAppendCommand(c, "SET balance:bench-%d 1000000000", u);
        for (int u = start; u < end; u++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "redis-bench: crediting users failed: %s\n", r ? r->str : c->errstr);
                return -1;
            }
            freeReplyObject(r);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    peer_options o = {.connections = 32, .depth = 1, .users = 10000, .duration = 10, .mode = "consume"};
    if (peer_parse(argc, argv, &o, usage_text, extra_arg) < 0) return 2;
    if (!socket_path) {
        fprintf(stderr, "redis-bench: --socket is required\n%s", usage_text);
        return 2;
    }
    if (strcmp(o.mode, "consume") == 0) mode = M_CONSUME;
    else if (strcmp(o.mode, "spend") == 0) mode = M_SPEND;
    else if (strcmp(o.mode, "get") == 0) mode = M_GET;
    else if (strcmp(o.mode, "ping") == 0) mode = M_PING;
    else {
        fprintf(stderr, "redis-bench: unknown mode '%s'\n%s", o.mode, usage_text);
        return 2;
    }
    char err[200];
    redisContext *setup = connect_redis(err, sizeof err);
    if (!setup) {
        fprintf(stderr, "redis-bench: %s\n", err);
        return 1;
    }
    if (load_script(setup, CONSUME_LUA, consume_sha) < 0 || load_script(setup, SPEND_LUA, spend_sha) < 0) return 1;
    if ((mode == M_SPEND || mode == M_GET) && credit_users(setup, o.users) < 0) return 1;
    redisFree(setup);
    peer_driver d = {.name = "redis-bench", .open = rb_open, .round = rb_round, .close = rb_close};
    return peer_run(&d, &o);
}
