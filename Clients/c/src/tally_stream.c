/*
 * libtally: streaming calls (docs/protocol.md §5.1; the contract is in include/tally.h).
 *
 * A stream is a pending call whose slot stays in the connection's map while tallyd sends
 * `more` frames; its last frame (or a local ending) takes it out. Frames may arrive while any
 * call on the connection reads, so messages wait in the stream, decoded, and callbacks run
 * only in tally_stream_poll: a callback never runs inside another call's read loop.
 */
#define _POSIX_C_SOURCE 200809L

#include "conn.h"

#include <stdlib.h>
#include <string.h>

struct tally_stream {
    tally_conn *conn;
    slot s; /* in the connection's pending map until the stream ends */
    tally_on_message on_message;
    void *ctx;
    ProtobufCMessage **queue; /* arrived, not yet handed over: a ring */
    size_t head, len, cap;
    int cancelled;  /* a cancel was asked for: nothing more is handed over */
    int cancel_due; /* ended here (bad message, no memory, local timeout): tell tallyd at the next poll */
    int64_t deadline;
};

static void drop_queue(tally_stream *st) {
    for (; st->len; st->len--) {
        protobuf_c_message_free_unpacked(st->queue[st->head], NULL);
        st->head = (st->head + 1) % st->cap;
    }
    st->head = 0;
}

static int push(tally_stream *st, ProtobufCMessage *m) {
    if (st->len == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        ProtobufCMessage **q = malloc(cap * sizeof *q);
        if (!q) return -1;
        for (size_t i = 0; i < st->len; i++) q[i] = st->queue[(st->head + i) % st->cap];
        free(st->queue);
        st->queue = q;
        st->cap = cap;
        st->head = 0;
    }
    st->queue[(st->head + st->len) % st->cap] = m;
    st->len++;
    return 0;
}

/* The stream ends here, not by tallyd's last frame; tallyd is told at the next poll. */
static void end_locally(tally_stream *st, int code, const char *reason, const char *message) {
    if (st->s.state == SLOT_DONE) return;
    map_remove(st->conn, st->s.id);
    err_set(&st->s.err, code, reason, "%s", message);
    st->s.err.call_id = st->s.id;
    st->s.state = SLOT_DONE;
    st->cancel_due = !st->cancelled && !st->conn->dead;
    drop_queue(st);
}

void stream_frame(tally_conn *c, slot *s, const Tally__V1__Response *r) {
    tally_stream *st = s->stream;
    if (!r->more) {
        map_remove(c, s->id);
        if (r->code != TALLY__V1__CODE__CODE_OK) err_from_response(&s->err, r);
        s->state = SLOT_DONE;
        return;
    }
    if (st->cancelled) return;
    static const uint8_t empty[1] = {0};
    ProtobufCMessage *m = protobuf_c_message_unpack(s->type, NULL, r->payload.len, r->payload.len ? r->payload.data : empty);
    if (!m) {
        end_locally(st, TALLY_INTERNAL, TALLY_R_PAYLOAD_MALFORMED, "a message of the stream does not decode as its type");
        return;
    }
    if (push(st, m) < 0) {
        protobuf_c_message_free_unpacked(m, NULL);
        end_locally(st, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, "out of memory for a stream's message");
    }
}

/* The cancel frame: only call_id and cancel are read (protocol §5.1). 0 sent, 1 not sent in
 * time (nothing written), -1 the connection died. */
static int send_cancel(tally_stream *st) {
    tally_conn *c = st->conn;
    if (c->dead) return -1;
    Tally__V1__Request env = TALLY__V1__REQUEST__INIT;
    env.call_id = st->s.id;
    env.protocol_version = TALLY__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    env.cancel = 1;
    unsigned char frame[64];
    size_t len = tally__v1__request__get_packed_size(&env);
    tally__v1__request__pack(&env, frame + 4);
    frame[0] = frame[1] = 0;
    frame[2] = (unsigned char)(len >> 8);
    frame[3] = (unsigned char)len;
    return conn_write(c, frame, 4 + len, local_deadline(c, c->timeout_ms));
}

tally_stream *tally_stream_open(tally_conn *c, const char *method, const ProtobufCMessage *request,
                                const ProtobufCMessageDescriptor *message_type, tally_on_message on_message, void *ctx,
                                tally_error *err) {
    tally_error_clear(err);
    if (!c || !method || !message_type) {
        err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_stream_open: conn, method and message_type are required");
        return NULL;
    }
    if (c->dead) {
        err_dead(c, err);
        return NULL;
    }
    tally_stream *st = calloc(1, sizeof *st);
    if (!st || map_reserve(c, 1) < 0) {
        free(st);
        err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    c->out.len = 0;
    uint64_t id = take_id(c);
    if (encode_frame(c, &c->out, id, method, request, c->timeout_ms, err) != TALLY_OK) {
        free(st);
        return NULL;
    }
    st->conn = c;
    st->on_message = on_message;
    st->ctx = ctx;
    st->s.id = id;
    st->s.type = message_type;
    st->s.state = SLOT_PENDING;
    st->s.stream = st;
    st->deadline = local_deadline(c, c->timeout_ms);
    map_put(c, id, &st->s);
    int w = conn_write(c, c->out.p, c->out.len, st->deadline);
    if (w == 1) {
        map_remove(c, id);
        free(st);
        err_set(err, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT,
                "%s (call %llu) could not be sent in time: tallyd is not reading; nothing was sent", method,
                (unsigned long long)id);
        return NULL;
    }
    if (w < 0) { /* the connection's end already took the slot out of the map */
        err_dead(c, err);
        free(st);
        return NULL;
    }
    return st;
}

static int stream_has_news(const void *p) {
    const tally_stream *st = p;
    return st->len > 0 || st->s.state == SLOT_DONE;
}

int tally_stream_poll(tally_stream *st, int wait_ms) {
    if (!st) return 0;
    tally_conn *c = st->conn;
    int64_t until = wait_ms < 0 ? -1 : now_ns() + (int64_t)wait_ms * 1000000;
    int read_now = 0;
    for (;;) {
        if (st->cancel_due) {
            st->cancel_due = 0;
            send_cancel(st);
        }
        while (st->len && !st->cancelled) {
            ProtobufCMessage *m = st->queue[st->head];
            st->head = (st->head + 1) % st->cap;
            st->len--;
            int stop = st->on_message ? st->on_message(st->ctx, m) : 0;
            protobuf_c_message_free_unpacked(m, NULL);
            if (stop) tally_stream_cancel(st, NULL);
        }
        if (st->s.state == SLOT_DONE) return 0;
        if (expired(st->deadline)) {
            end_locally(st, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT,
                        "the stream did not end within its timeout + grace");
            continue;
        }
        if (expired(until)) {
            if (read_now || c->dead) return 1;
            read_now = 1; /* a zero wait still takes what the socket holds now */
            conn_read(c);
            continue;
        }
        int64_t wait_until = until;
        if (st->deadline >= 0 && (wait_until < 0 || st->deadline < wait_until)) wait_until = st->deadline;
        conn_wait(c, stream_has_news, st, wait_until);
        read_now = 1;
    }
}

int tally_stream_status(const tally_stream *st, const tally_error **err) {
    if (err) *err = NULL;
    if (!st || st->s.state != SLOT_DONE || st->len) return -1;
    if (st->s.err.code == TALLY_OK) return TALLY_OK;
    if (err) *err = &st->s.err;
    return st->s.err.code;
}

int tally_stream_run(tally_stream *st, tally_error *err) {
    tally_error_clear(err);
    if (!st) return err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_stream_run: no stream");
    while (tally_stream_poll(st, -1)) {
    }
    const tally_error *e = NULL;
    int rc = tally_stream_status(st, &e);
    if (e && err) err_copy(err, e);
    return rc;
}

int tally_stream_cancel(tally_stream *st, tally_error *err) {
    tally_error_clear(err);
    if (!st) return err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_stream_cancel: no stream");
    if (st->s.state == SLOT_DONE || st->cancelled) return TALLY_OK;
    st->cancelled = 1;
    drop_queue(st);
    int w = send_cancel(st);
    if (w == 1) {
        end_locally(st, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT,
                    "the cancel could not be sent in time: tallyd is not reading");
        return err_set(err, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT,
                       "the cancel could not be sent in time: tallyd is not reading");
    }
    if (w < 0) return err_dead(st->conn, err);
    return TALLY_OK;
}

uint64_t tally_stream_call_id(const tally_stream *st) { return st ? st->s.id : 0; }

void tally_stream_free(tally_stream *st) {
    if (!st) return;
    if (st->s.state != SLOT_DONE) {
        if (!st->cancelled) send_cancel(st);
        map_remove(st->conn, st->s.id); /* what still comes for it is dropped */
    } else if (st->cancel_due) {
        send_cancel(st);
    }
    drop_queue(st);
    free(st->queue);
    tally_error_clear(&st->s.err);
    free(st);
}

int tally_fd(const tally_conn *c) { return c && !c->dead ? c->fd : -1; }

tally_stream *tally_watch_balance(tally_conn *conn, const Tally__V1__WatchBalanceRequest *request,
                                  tally_on_message on_message, void *ctx, tally_error *err) {
    return tally_stream_open(conn, TALLY_METHOD_WATCH_BALANCE, (const ProtobufCMessage *)request,
                             &tally__v1__balance_change__descriptor, on_message, ctx, err);
}

tally_stream *tally_changes(tally_conn *conn, const Tally__V1__ChangesRequest *request, tally_on_message on_message,
                            void *ctx, tally_error *err) {
    return tally_stream_open(conn, TALLY_METHOD_CHANGES, (const ProtobufCMessage *)request,
                             &tally__v1__journal_change__descriptor, on_message, ctx, err);
}

tally_stream *tally_watch_usage(tally_conn *conn, const Tally__V1__WatchUsageRequest *request,
                                tally_on_message on_message, void *ctx, tally_error *err) {
    return tally_stream_open(conn, TALLY_METHOD_WATCH_USAGE, (const ProtobufCMessage *)request,
                             &tally__v1__usage_change__descriptor, on_message, ctx, err);
}
