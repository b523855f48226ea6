/*
 * What the library's files share, and nothing else sees: a connection's state, its pending
 * calls by id, and the framing and waiting functions of tally.c that tally_stream.c uses.
 * Everything here has hidden visibility (the Makefile's -fvisibility=hidden).
 */
#ifndef TALLY_CONN_H
#define TALLY_CONN_H

#include "tally.h"

#define FLAG_STATIC_STRINGS 1u

enum { SLOT_IDLE = 0, SLOT_PENDING = 1, SLOT_DONE = 2 };

/* One call waiting for (or holding) its outcome. Single calls keep theirs on the stack,
 * batches in an array; the connection's pending map points at it by call id. */
typedef struct slot {
    uint64_t id;
    const ProtobufCMessageDescriptor *type;
    ProtobufCMessage *msg; /* the decoded answer on OK */
    tally_error err;       /* the failure otherwise */
    int state;
    uint32_t timeout_ms;
    struct tally_batch *batch;
    struct tally_stream *stream; /* set for a stream: its frames go there (tally_stream.c) */
    size_t index;
} slot;

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

struct tally_conn {
    int fd;
    int dead;          /* a connection-level failure ended it; `fatal` says which */
    tally_error fatal;
    uint64_t next_id;
    uint32_t timeout_ms, grace_ms;
    uint64_t min_position; /* sent with every call (several hosts) */
    uint64_t position;     /* the highest Response.position seen */
    unsigned char *rbuf; /* received bytes: [rstart, rend) not yet parsed */
    size_t rstart, rend, rcap;
    buf out;     /* the frame of a single call */
    buf payload; /* scratch: a request's serialized payload */
    uint64_t *keys; /* pending calls: open addressing, linear probing, 0 = empty */
    slot **vals;
    size_t mcap, mcount;
};

/* Time: CLOCK_MONOTONIC ns; a deadline of -1 means none. */
int64_t now_ns(void);
int expired(int64_t deadline);
int64_t local_deadline(const tally_conn *c, uint32_t timeout_ms);

/* Errors */
int err_set(tally_error *e, int code, const char *reason, const char *fmt, ...);
void err_copy(tally_error *dst, const tally_error *src);
void err_from_response(tally_error *e, const Tally__V1__Response *r);
int err_dead(const tally_conn *c, tally_error *err);

/* Pending calls by id */
int map_reserve(tally_conn *c, size_t more);
void map_put(tally_conn *c, uint64_t id, slot *s);
slot *map_get(const tally_conn *c, uint64_t id);
slot *map_remove(tally_conn *c, uint64_t id);

/* Wire */
uint64_t take_id(tally_conn *c);
int encode_frame(tally_conn *c, buf *out, uint64_t id, const char *method, const ProtobufCMessage *request,
                 uint32_t timeout_ms, tally_error *err);
int conn_write(tally_conn *c, const unsigned char *p, size_t len, int64_t deadline);
/* Reads what the socket holds now and routes whole frames; -1 once the connection ended. */
int conn_read(tally_conn *c);
int conn_wait(tally_conn *c, int (*done)(const void *), const void *arg, int64_t deadline);

/* tally_stream.c: a frame tallyd sent for an open stream (the slot stays in the map while
 * `more` frames come; the last one removes it). Takes nothing from r: the caller frees it. */
void stream_frame(tally_conn *c, slot *s, const Tally__V1__Response *r);

#endif /* TALLY_CONN_H */
