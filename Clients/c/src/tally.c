/*
 * libtally: connections, framing, call-id matching, errors and batches.
 * The wire protocol is docs/protocol.md; the public contract is include/tally.h.
 *
 * Everything a connection needs lives in its tally_conn: no global or static mutable state.
 * The socket is non-blocking; every wait is a poll() bounded by the call's local deadline, and
 * while writing, answers that arrive are read and routed so that a large batch never
 * deadlocks against tallyd's back-pressure (protocol §10).
 */
#define _POSIX_C_SOURCE 200809L

#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0 /* SO_NOSIGPIPE is set on the socket instead */
#endif

#define DEFAULT_GRACE_MS 1000u
#define READ_CHUNK 65536u

struct tally_batch {
    tally_conn *conn;
    slot *slots;
    size_t n, cap;
    buf out;          /* every queued frame, back to back */
    size_t *arrived;  /* indices in the order their outcomes arrived */
    size_t n_arrived, n_returned;
    int sent;
    int64_t deadline; /* CLOCK_MONOTONIC ns, -1: none */
};

/* ---------------------------------------------------------------------------------------- */
/* Time                                                                                     */

int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int expired(int64_t deadline) { return deadline >= 0 && now_ns() >= deadline; }

/* poll()'s timeout for a deadline, rounded up so that it never spins: -1 for none. */
static int poll_ms(int64_t deadline) {
    if (deadline < 0) return -1;
    int64_t left = deadline - now_ns();
    if (left <= 0) return 0;
    int64_t ms = (left + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int64_t local_deadline(const tally_conn *c, uint32_t timeout_ms) {
    if (timeout_ms == 0) return -1;
    return now_ns() + ((int64_t)timeout_ms + c->grace_ms) * 1000000;
}

/* ---------------------------------------------------------------------------------------- */
/* Errors                                                                                   */

static const char *const code_names[] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED"};

const char *tally_code_name(int code) {
    return code >= 0 && code <= 16 ? code_names[code] : "UNKNOWN_CODE";
}

void tally_error_clear(tally_error *e) {
    if (!e) return;
    if (!(e->flags_ & FLAG_STATIC_STRINGS)) {
        free(e->reason);
        free(e->message);
    }
    for (size_t i = 0; i < e->n_details; i++) {
        free(e->details[i].key);
        free(e->details[i].value);
    }
    free(e->details);
    memset(e, 0, sizeof *e);
}

static void err_oom(tally_error *e, int code) {
    tally_error_clear(e);
    e->code = code;
    e->reason = (char *)TALLY_R_OUT_OF_MEMORY;
    e->message = (char *)"out of memory";
    e->local = 1;
    e->flags_ = FLAG_STATIC_STRINGS;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Fills `e` (if not NULL) with a local failure; returns `code`. */
int err_set(tally_error *e, int code, const char *reason, const char *fmt, ...) {
    if (!e) return code;
    tally_error_clear(e);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->reason = dup_str(reason);
    e->message = dup_str(msg);
    if (!e->reason || !e->message) {
        err_oom(e, code);
        return code;
    }
    e->code = code;
    e->local = 1;
    return code;
}

static void err_detail(tally_error *e, const char *key, const char *value) {
    if (!e || !e->code) return;
    tally_detail *d = realloc(e->details, (e->n_details + 1) * sizeof *d);
    if (!d) return;
    e->details = d;
    d[e->n_details].key = dup_str(key);
    d[e->n_details].value = dup_str(value);
    if (!d[e->n_details].key || !d[e->n_details].value) {
        free(d[e->n_details].key);
        free(d[e->n_details].value);
        return;
    }
    e->n_details++;
}

static void err_detail_int(tally_error *e, const char *key, long long v) {
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    err_detail(e, key, s);
}

static void err_errno(tally_error *e, int errnum) {
    if (!e) return;
    e->sys_errno = errnum;
    err_detail_int(e, "errno", errnum);
}

void err_copy(tally_error *dst, const tally_error *src) {
    tally_error_clear(dst);
    if (src->flags_ & FLAG_STATIC_STRINGS) {
        *dst = *src;
        dst->details = NULL;
        dst->n_details = 0;
        return;
    }
    *dst = *src;
    dst->reason = dup_str(src->reason ? src->reason : "");
    dst->message = dup_str(src->message ? src->message : "");
    dst->details = NULL;
    dst->n_details = 0;
    if (!dst->reason || !dst->message) {
        err_oom(dst, src->code);
        return;
    }
    for (size_t i = 0; i < src->n_details; i++) err_detail(dst, src->details[i].key, src->details[i].value);
}

static void err_move(tally_error *dst, tally_error *src) {
    tally_error_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
}

void err_from_response(tally_error *e, const Tally__V1__Response *r) {
    tally_error_clear(e);
    e->reason = dup_str(r->reason ? r->reason : "");
    e->message = dup_str(r->message ? r->message : "");
    if (!e->reason || !e->message) {
        err_oom(e, r->code ? (int)r->code : TALLY_UNKNOWN);
        return;
    }
    e->code = r->code ? (int)r->code : TALLY_UNKNOWN;
    for (size_t i = 0; i < r->n_details; i++)
        err_detail(e, r->details[i]->key ? r->details[i]->key : "", r->details[i]->value ? r->details[i]->value : "");
    e->call_id = r->call_id;
    /* protocol §13: a mutation answered JOURNAL_FAILED may still be in the journal. */
    if (strcmp(e->reason, "JOURNAL_FAILED") == 0) e->outcome_unknown = 1;
}

const char *tally_error_detail(const tally_error *e, const char *key) {
    if (!e || !key) return NULL;
    for (size_t i = 0; i < e->n_details; i++)
        if (strcmp(e->details[i].key, key) == 0) return e->details[i].value;
    return NULL;
}

char *tally_error_format(const tally_error *e, char *out, size_t size) {
    if (!out || size == 0) return out;
    out[0] = '\0';
    if (!e) return out;
    size_t used = 0;
#define APPEND(...)                                                                     \
    do {                                                                                \
        if (used < size) {                                                              \
            int n_ = snprintf(out + used, size - used, __VA_ARGS__);                    \
            if (n_ > 0) used = (size_t)n_ >= size - used ? size - 1 : used + (size_t)n_; \
        }                                                                               \
    } while (0)
    APPEND("%s %s: %s", tally_code_name(e->code), e->reason ? e->reason : "", e->message ? e->message : "");
    for (size_t i = 0; i < e->n_details; i++)
        APPEND("%s%s=%s", i == 0 ? " {" : ", ", e->details[i].key, e->details[i].value);
    if (e->n_details) APPEND("}");
#undef APPEND
    return out;
}

/* ---------------------------------------------------------------------------------------- */
/* Buffers                                                                                  */

static int buf_reserve(buf *b, size_t need) {
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* ---------------------------------------------------------------------------------------- */
/* Pending calls by id                                                                      */

static size_t map_slot_of(uint64_t k, size_t mask) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

int map_reserve(tally_conn *c, size_t more) {
    if ((c->mcount + more) * 2 <= c->mcap) return 0;
    size_t cap = c->mcap ? c->mcap : 64;
    while ((c->mcount + more) * 2 > cap) cap *= 2;
    uint64_t *keys = calloc(cap, sizeof *keys);
    slot **vals = calloc(cap, sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < c->mcap; i++) {
        if (!c->keys[i]) continue;
        size_t j = map_slot_of(c->keys[i], cap - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = c->keys[i];
        vals[j] = c->vals[i];
    }
    free(c->keys);
    free(c->vals);
    c->keys = keys;
    c->vals = vals;
    c->mcap = cap;
    return 0;
}

/* Call map_reserve first. */
void map_put(tally_conn *c, uint64_t id, slot *s) {
    size_t mask = c->mcap - 1, i = map_slot_of(id, mask);
    while (c->keys[i]) i = (i + 1) & mask;
    c->keys[i] = id;
    c->vals[i] = s;
    c->mcount++;
}

slot *map_get(const tally_conn *c, uint64_t id) {
    if (!c->mcount || !id) return NULL;
    size_t mask = c->mcap - 1, i = map_slot_of(id, mask);
    while (c->keys[i] != id) {
        if (!c->keys[i]) return NULL;
        i = (i + 1) & mask;
    }
    return c->vals[i];
}

slot *map_remove(tally_conn *c, uint64_t id) {
    if (!c->mcount || !id) return NULL;
    size_t mask = c->mcap - 1, i = map_slot_of(id, mask);
    while (c->keys[i] != id) {
        if (!c->keys[i]) return NULL;
        i = (i + 1) & mask;
    }
    slot *found = c->vals[i];
    /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!c->keys[j]) break;
        size_t home = map_slot_of(c->keys[j], mask);
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        c->keys[i] = c->keys[j];
        c->vals[i] = c->vals[j];
        i = j;
    }
    c->keys[i] = 0;
    c->vals[i] = NULL;
    c->mcount--;
    return found;
}

/* ---------------------------------------------------------------------------------------- */
/* Outcomes                                                                                 */

static void slot_finish(slot *s) {
    s->state = SLOT_DONE;
    if (s->batch) s->batch->arrived[s->batch->n_arrived++] = s->index;
}

static void slot_fail(slot *s, const tally_error *why, int was_sent) {
    err_copy(&s->err, why);
    s->err.connection_lost = why->connection_lost;
    s->err.outcome_unknown = was_sent;
    slot_finish(s);
}

static void slot_fail_local(slot *s, int code, const char *reason, int was_sent, const char *message) {
    err_set(&s->err, code, reason, "%s", message);
    s->err.call_id = s->id;
    s->err.outcome_unknown = was_sent;
    slot_finish(s);
}

static void slot_answer(slot *s, const Tally__V1__Response *r) {
    if (r->code == TALLY__V1__CODE__CODE_OK) {
        static const uint8_t empty[1] = {0};
        s->msg = protobuf_c_message_unpack(s->type, NULL, r->payload.len, r->payload.len ? r->payload.data : empty);
        if (!s->msg) {
            err_set(&s->err, TALLY_INTERNAL, TALLY_R_PAYLOAD_MALFORMED,
                    "tallyd answered call %llu OK, but its %zu-byte payload does not decode as %s",
                    (unsigned long long)s->id, r->payload.len, s->type->name);
            s->err.call_id = s->id;
        }
    } else {
        err_from_response(&s->err, r);
    }
    slot_finish(s);
}

/* Ends the connection: every pending call fails with `why` (moved in). Later calls get a copy. */
static void conn_fatal(tally_conn *c, tally_error *why) {
    if (c->dead) {
        tally_error_clear(why);
        return;
    }
    c->dead = 1;
    err_move(&c->fatal, why);
    c->fatal.connection_lost = 1;
    c->fatal.outcome_unknown = 0;
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    for (size_t i = 0; i < c->mcap; i++) {
        if (!c->keys[i]) continue;
        slot *s = c->vals[i];
        c->keys[i] = 0;
        c->vals[i] = NULL;
        slot_fail(s, &c->fatal, 1);
    }
    c->mcount = 0;
}

static void conn_fatal_local(tally_conn *c, int code, const char *reason, int errnum, const char *fmt, ...) {
    tally_error e = TALLY_ERROR_INIT;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (errnum) {
        char sys[160], full[600];
        if (strerror_r(errnum, sys, sizeof sys) != 0) snprintf(sys, sizeof sys, "errno %d", errnum);
        snprintf(full, sizeof full, "%s: %s", msg, sys);
        err_set(&e, code, reason, "%s", full);
        err_errno(&e, errnum);
    } else {
        err_set(&e, code, reason, "%s", msg);
    }
    conn_fatal(c, &e);
}

/* A new call on a connection that already ended: tallyd never saw it. */
int err_dead(const tally_conn *c, tally_error *err) {
    if (err) {
        err_copy(err, &c->fatal);
        err->connection_lost = 1;
        err->outcome_unknown = 0;
    }
    return c->fatal.code;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading                                                                                  */

static void route(tally_conn *c, Tally__V1__Response *r) {
    if (r->call_id == 0) {
        /* A connection-level error: tallyd's last frame on this connection (protocol §5). */
        tally_error e = TALLY_ERROR_INIT;
        err_from_response(&e, r);
        e.connection_lost = 1;
        tally__v1__response__free_unpacked(r, NULL);
        conn_fatal(c, &e);
        return;
    }
    if (r->position > c->position) c->position = r->position;
    slot *s = map_get(c, r->call_id);
    if (s && s->stream) {
        stream_frame(c, s, r);
    } else if (s && !r->more) {
        map_remove(c, r->call_id);
        slot_answer(s, r);
    } /* else: an answer to a call given up on (LOCAL_TIMEOUT), or a freed stream's: dropped */
    tally__v1__response__free_unpacked(r, NULL);
}

static void parse_frames(tally_conn *c) {
    while (!c->dead && c->rend - c->rstart >= 4) {
        uint32_t len = get_be32(c->rbuf + c->rstart);
        if (len > TALLY_MAX_FRAME_BYTES) {
            conn_fatal_local(c, TALLY_INTERNAL, TALLY_R_RESPONSE_MALFORMED, 0,
                             "tallyd sent a frame of %u bytes, over the %u-byte limit", len, TALLY_MAX_FRAME_BYTES);
            return;
        }
        if (c->rend - c->rstart - 4 < len) return;
        Tally__V1__Response *r = tally__v1__response__unpack(NULL, len, c->rbuf + c->rstart + 4);
        c->rstart += 4 + (size_t)len;
        if (!r) {
            conn_fatal_local(c, TALLY_INTERNAL, TALLY_R_RESPONSE_MALFORMED, 0,
                             "a %u-byte frame from tallyd does not decode as tally.v1.Response", len);
            return;
        }
        route(c, r);
    }
}

/* Room for the rest of the frame being received, or at least one chunk. */
static int make_room(tally_conn *c) {
    size_t have = c->rend - c->rstart;
    size_t need = READ_CHUNK;
    if (have >= 4) {
        size_t frame = 4 + (size_t)get_be32(c->rbuf + c->rstart);
        if (frame > have && frame - have > need) need = frame - have;
    }
    if (c->rcap - c->rend >= need) return 0;
    if (c->rstart > 0) {
        memmove(c->rbuf, c->rbuf + c->rstart, have);
        c->rstart = 0;
        c->rend = have;
        if (c->rcap - c->rend >= need) return 0;
    }
    size_t cap = c->rcap ? c->rcap : READ_CHUNK;
    while (cap - c->rend < need) cap *= 2;
    unsigned char *p = realloc(c->rbuf, cap);
    if (!p) return -1;
    c->rbuf = p;
    c->rcap = cap;
    return 0;
}

/* Reads everything available now and routes complete frames. -1 once the connection died. */
int conn_read(tally_conn *c) {
    for (;;) {
        if (c->dead) return -1;
        if (c->rstart == c->rend) {
            c->rstart = c->rend = 0;
            if (c->rcap > 4 * READ_CHUNK) { /* grown for a large answer: give it back */
                free(c->rbuf);
                c->rbuf = NULL;
                c->rcap = 0;
            }
        }
        if (make_room(c) < 0) {
            conn_fatal_local(c, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, 0, "out of memory for an answer");
            return -1;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rend, c->rcap - c->rend, 0);
        if (n > 0) {
            c->rend += (size_t)n;
            parse_frames(c);
            continue;
        }
        if (n == 0) {
            if (c->rend > c->rstart)
                conn_fatal_local(c, TALLY_UNAVAILABLE, TALLY_R_CONNECTION_CLOSED, 0,
                                 "tallyd closed the connection in the middle of a frame");
            else
                conn_fatal_local(c, TALLY_UNAVAILABLE, TALLY_R_CONNECTION_CLOSED, 0,
                                 "tallyd closed the connection (it may be shutting down or restarting)");
            return -1;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno == ECONNRESET) /* tallyd closed while our last request was still unread */
            conn_fatal_local(c, TALLY_UNAVAILABLE, TALLY_R_CONNECTION_CLOSED, errno, "tallyd closed the connection");
        else
            conn_fatal_local(c, TALLY_UNAVAILABLE, TALLY_R_IO_ERROR, errno, "reading from tallyd failed");
        return -1;
    }
}

/* Reads answers until done(arg) or the deadline: 0 done (or the connection died), 1 timed out. */
int conn_wait(tally_conn *c, int (*done)(const void *), const void *arg, int64_t deadline) {
    for (;;) {
        if (done(arg) || c->dead) return 0;
        if (expired(deadline)) return 1;
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int r = poll(&pfd, 1, poll_ms(deadline));
        if (r < 0) {
            if (errno == EINTR) continue;
            conn_fatal_local(c, TALLY_UNAVAILABLE, TALLY_R_IO_ERROR, errno, "poll failed");
            return 0;
        }
        if (r > 0) conn_read(c);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Writing                                                                                  */

/* Writes len bytes, reading answers while the socket is full. 0: all written; 1: the deadline
 * passed before the first byte (nothing sent, connection intact); -1: the connection died. */
int conn_write(tally_conn *c, const unsigned char *p, size_t len, int64_t deadline) {
    size_t off = 0;
    while (off < len) {
        if (c->dead) return -1;
        ssize_t n = send(c->fd, p + off, len - off, SEND_FLAGS);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (expired(deadline)) {
                if (off == 0) return 1;
                /* Half a frame is on the wire: the stream cannot be resumed. */
                conn_fatal_local(c, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT, 0,
                                 "tallyd did not take the request within the deadline (%zu of %zu bytes written)",
                                 off, len);
                return -1;
            }
            struct pollfd pfd = {c->fd, POLLIN | POLLOUT, 0};
            int r = poll(&pfd, 1, poll_ms(deadline));
            if (r < 0 && errno != EINTR) {
                conn_fatal_local(c, TALLY_UNAVAILABLE, TALLY_R_IO_ERROR, errno, "poll failed");
                return -1;
            }
            if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) && conn_read(c) < 0) return -1;
            continue;
        }
        int e = n < 0 ? errno : EIO;
        /* EPIPE / ECONNRESET: tallyd closed. Its final frame, if any, says why. */
        conn_read(c);
        if (!c->dead)
            conn_fatal_local(c, TALLY_UNAVAILABLE,
                             e == EPIPE || e == ECONNRESET ? TALLY_R_CONNECTION_CLOSED : TALLY_R_IO_ERROR, e,
                             "writing to tallyd failed");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding                                                                                 */

static int utf8_valid(const unsigned char *s) {
    while (*s) {
        unsigned char b = *s;
        int n = b < 0x80 ? 0 : (b >> 5) == 6 ? 1 : (b >> 4) == 14 ? 2 : (b >> 3) == 30 ? 3 : -1;
        if (n < 0 || (n == 1 && b < 0xc2) || (n == 3 && b > 0xf4)) return 0;
        uint32_t cp = n == 0 ? b : n == 1 ? (b & 0x1fu) : n == 2 ? (b & 0x0fu) : (b & 0x07u);
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i] & 0x3fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        s += n + 1;
    }
    return 1;
}

uint64_t take_id(tally_conn *c) {
    uint64_t id = c->next_id++;
    if (c->next_id == 0) c->next_id = 1; /* 0 is reserved (protocol §5) */
    return id;
}

/* Appends one frame: be32 length, then the Request envelope around the serialized request. */
int encode_frame(tally_conn *c, buf *out, uint64_t id, const char *method, const ProtobufCMessage *request,
                        uint32_t timeout_ms, tally_error *err) {
    if (!utf8_valid((const unsigned char *)method))
        return err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "the method name is not valid UTF-8");
    size_t plen = request ? protobuf_c_message_get_packed_size(request) : 0;
    if (plen > TALLY_MAX_FRAME_BYTES) {
        err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_REQUEST_TOO_LARGE,
                "the %s request is %zu bytes, over the %u-byte frame limit; nothing was sent", method, plen,
                TALLY_MAX_FRAME_BYTES);
        err_detail_int(err, "length", (long long)plen);
        err_detail_int(err, "limit", TALLY_MAX_FRAME_BYTES);
        return TALLY_RESOURCE_EXHAUSTED;
    }
    if (buf_reserve(&c->payload, plen ? plen : 1) < 0)
        return err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, "out of memory");
    if (plen) protobuf_c_message_pack(request, c->payload.p);
    Tally__V1__Request env = TALLY__V1__REQUEST__INIT;
    env.call_id = id;
    env.protocol_version = TALLY__V1__PROTOCOL_VERSION__PROTOCOL_VERSION_1;
    env.method = (char *)method;
    env.timeout_ms = timeout_ms;
    env.min_position = c->min_position;
    env.payload.data = c->payload.p;
    env.payload.len = plen;
    size_t elen = tally__v1__request__get_packed_size(&env);
    if (elen > TALLY_MAX_FRAME_BYTES) {
        err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_REQUEST_TOO_LARGE,
                "the %s frame is %zu bytes, over the %u-byte limit; nothing was sent", method, elen,
                TALLY_MAX_FRAME_BYTES);
        err_detail_int(err, "length", (long long)elen);
        err_detail_int(err, "limit", TALLY_MAX_FRAME_BYTES);
        return TALLY_RESOURCE_EXHAUSTED;
    }
    if (buf_reserve(out, out->len + 4 + elen) < 0)
        return err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, "out of memory");
    put_be32(out->p + out->len, (uint32_t)elen);
    tally__v1__request__pack(&env, out->p + out->len + 4);
    out->len += 4 + elen;
    if (c->payload.cap > 1u << 20) { /* do not keep a huge scratch buffer around */
        free(c->payload.p);
        memset(&c->payload, 0, sizeof c->payload);
    }
    return TALLY_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Connections                                                                              */

static int open_socket(void) {
    int fd = -1;
#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 && errno != EINVAL) return -1;
#endif
    if (fd < 0) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) return -1;
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
#ifdef SO_NOSIGPIPE
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
    return fd;
}

static void sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void connect_failed(tally_error *err, const char *path, int errnum) {
    char sys[160];
    if (strerror_r(errnum, sys, sizeof sys) != 0) snprintf(sys, sizeof sys, "errno %d", errnum);
    err_set(err, TALLY_UNAVAILABLE, TALLY_R_CONNECT_FAILED, "cannot connect to %s: %s", path, sys);
    err_errno(err, errnum);
    err_detail(err, "path", path);
}

tally_conn *tally_connect(const char *socket_path, int timeout_ms, tally_error *err) {
    tally_error_clear(err);
    if (!socket_path || !*socket_path) {
        err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_connect: no socket path");
        return NULL;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t plen = strlen(socket_path);
    if (plen >= sizeof addr.sun_path) {
        err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_SOCKET_PATH_TOO_LONG,
                "the socket path is %zu bytes; at most %zu fit", plen, sizeof addr.sun_path - 1);
        err_detail_int(err, "length", (long long)plen);
        err_detail_int(err, "limit", (long long)(sizeof addr.sun_path - 1));
        return NULL;
    }
    memcpy(addr.sun_path, socket_path, plen);
    int64_t deadline = timeout_ms > 0 ? now_ns() + (int64_t)timeout_ms * 1000000 : -1;
    int64_t backoff = 1;
    int fd;
    for (;;) {
        fd = open_socket();
        if (fd < 0) {
            connect_failed(err, socket_path, errno);
            return NULL;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) break;
        int e = errno;
        if (e == EINPROGRESS || e == EINTR) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int r;
            do r = poll(&pfd, 1, poll_ms(deadline));
            while (r < 0 && errno == EINTR);
            if (r == 0) {
                close(fd);
                err_set(err, TALLY_DEADLINE_EXCEEDED, TALLY_R_CONNECT_TIMEOUT,
                        "connecting to %s took over %d ms", socket_path, timeout_ms);
                return NULL;
            }
            socklen_t sl = sizeof e;
            if (r < 0) e = errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0) e = errno;
            if (e == 0) break;
        }
        close(fd);
        if (e == EAGAIN || e == EWOULDBLOCK) {
            /* tallyd's accept backlog is full (protocol §1): retry with backoff. */
            if (expired(deadline)) {
                err_set(err, TALLY_DEADLINE_EXCEEDED, TALLY_R_CONNECT_TIMEOUT,
                        "tallyd's accept backlog at %s stayed full for %d ms", socket_path, timeout_ms);
                return NULL;
            }
            int64_t wait = backoff;
            if (deadline >= 0 && (deadline - now_ns()) / 1000000 + 1 < wait) wait = (deadline - now_ns()) / 1000000 + 1;
            sleep_ms(wait);
            if (backoff < 100) backoff *= 2;
            continue;
        }
        connect_failed(err, socket_path, e);
        return NULL;
    }
    tally_conn *c = calloc(1, sizeof *c);
    if (!c || buf_reserve(&c->out, 256) < 0) {
        free(c);
        close(fd);
        err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    c->fd = fd;
    c->next_id = 1;
    c->grace_ms = DEFAULT_GRACE_MS;
    return c;
}

void tally_close(tally_conn *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    tally_error_clear(&c->fatal);
    free(c->rbuf);
    free(c->out.p);
    free(c->payload.p);
    free(c->keys);
    free(c->vals);
    free(c);
}

int tally_connected(const tally_conn *c) { return c && !c->dead; }

void tally_set_timeout(tally_conn *c, uint32_t timeout_ms) {
    if (c) c->timeout_ms = timeout_ms;
}

void tally_set_min_position(tally_conn *c, uint64_t position) {
    if (c) c->min_position = position;
}

uint64_t tally_position(const tally_conn *c) {
    return c ? c->position : 0;
}

void tally_set_local_grace(tally_conn *c, uint32_t grace_ms) {
    if (c) c->grace_ms = grace_ms;
}

void tally_free(void *message) {
    if (message) protobuf_c_message_free_unpacked((ProtobufCMessage *)message, NULL);
}

int tally_send_raw(tally_conn *c, const void *bytes, size_t length, tally_error *err) {
    tally_error_clear(err);
    if (!c || (!bytes && length)) return err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_send_raw: bad arguments");
    if (c->dead) return err_dead(c, err);
    int w = conn_write(c, bytes, length, local_deadline(c, c->timeout_ms));
    if (w == 1) return err_set(err, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT, "tallyd did not take the bytes in time");
    if (w < 0) return err_dead(c, err);
    return TALLY_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Blocking calls                                                                           */

static int slot_done(const void *s) { return ((const slot *)s)->state == SLOT_DONE; }

int tally_call(tally_conn *c, const char *method, const ProtobufCMessage *request,
               const ProtobufCMessageDescriptor *response_type, ProtobufCMessage **response, tally_error *err) {
    if (response) *response = NULL;
    tally_error_clear(err);
    if (!c || !method || !response_type)
        return err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_call: conn, method and response_type are required");
    if (c->dead) return err_dead(c, err);
    c->out.len = 0;
    uint64_t id = take_id(c);
    int rc = encode_frame(c, &c->out, id, method, request, c->timeout_ms, err);
    if (rc) return rc;
    if (map_reserve(c, 1) < 0) return err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, "out of memory");
    slot s;
    memset(&s, 0, sizeof s);
    s.id = id;
    s.type = response_type;
    s.state = SLOT_PENDING;
    map_put(c, id, &s);
    int64_t deadline = local_deadline(c, c->timeout_ms);
    int w = conn_write(c, c->out.p, c->out.len, deadline);
    if (c->out.cap > 1u << 20) {
        free(c->out.p);
        memset(&c->out, 0, sizeof c->out);
    }
    if (w == 1) {
        map_remove(c, id);
        rc = err_set(err, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT,
                     "%s (call %llu) could not be sent within %u ms: tallyd is not reading; nothing was sent",
                     method, (unsigned long long)id, c->timeout_ms + c->grace_ms);
        if (err) err->call_id = id;
        return rc;
    }
    if (w == 0 && conn_wait(c, slot_done, &s, deadline) == 1) {
        map_remove(c, id); /* a late answer will be dropped */
        rc = err_set(err, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT,
                     "no answer to %s (call %llu) within %u ms (timeout %u + grace %u); tallyd may still run it",
                     method, (unsigned long long)id, c->timeout_ms + c->grace_ms, c->timeout_ms, c->grace_ms);
        if (err) {
            err->call_id = id;
            err->outcome_unknown = 1;
        }
        return rc;
    }
    if (s.state != SLOT_DONE) { /* cannot happen: a dead connection fails its pending calls */
        map_remove(c, id);
        return err_dead(c, err);
    }
    if (s.msg) {
        if (response) *response = s.msg;
        else protobuf_c_message_free_unpacked(s.msg, NULL);
        return TALLY_OK;
    }
    rc = s.err.code;
    if (err) err_move(err, &s.err);
    else tally_error_clear(&s.err);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Batches                                                                                  */

tally_batch *tally_batch_new(tally_conn *c) {
    if (!c) return NULL;
    tally_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->conn = c;
    b->deadline = -1;
    return b;
}

void tally_batch_reset(tally_batch *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        slot *s = &b->slots[i];
        if (s->state == SLOT_PENDING) map_remove(b->conn, s->id);
        if (s->msg) protobuf_c_message_free_unpacked(s->msg, NULL);
        tally_error_clear(&s->err);
    }
    b->n = 0;
    b->out.len = 0;
    b->n_arrived = b->n_returned = 0;
    b->sent = 0;
    b->deadline = -1;
    if (b->out.cap > 4u << 20) {
        free(b->out.p);
        memset(&b->out, 0, sizeof b->out);
    }
}

void tally_batch_free(tally_batch *b) {
    if (!b) return;
    tally_batch_reset(b);
    free(b->slots);
    free(b->arrived);
    free(b->out.p);
    free(b);
}

long tally_batch_add(tally_batch *b, const char *method, const ProtobufCMessage *request,
                     const ProtobufCMessageDescriptor *response_type, tally_error *err) {
    tally_error_clear(err);
    if (!b || !method || !response_type) {
        err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_batch_add: batch, method and response_type are required");
        return -1;
    }
    if (b->sent) {
        err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_batch_add after tally_batch_send: reset the batch first");
        return -1;
    }
    tally_conn *c = b->conn;
    if (c->dead) {
        err_dead(c, err);
        return -1;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        slot *slots = realloc(b->slots, cap * sizeof *slots);
        if (slots) b->slots = slots;
        size_t *arrived = slots ? realloc(b->arrived, cap * sizeof *arrived) : NULL;
        if (arrived) b->arrived = arrived;
        if (!slots || !arrived) {
            err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, "out of memory");
            return -1;
        }
        b->cap = cap;
    }
    uint64_t id = take_id(c);
    if (encode_frame(c, &b->out, id, method, request, c->timeout_ms, err) != TALLY_OK) return -1;
    slot *s = &b->slots[b->n];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->type = response_type;
    s->timeout_ms = c->timeout_ms;
    s->batch = b;
    s->index = b->n;
    return (long)b->n++;
}

size_t tally_batch_size(const tally_batch *b) { return b ? b->n : 0; }

uint64_t tally_batch_call_id(const tally_batch *b, size_t i) { return b && i < b->n ? b->slots[i].id : 0; }

long tally_batch_find(const tally_batch *b, uint64_t id) {
    if (!b || !b->n || !id) return -1;
    uint64_t k = id - b->slots[0].id; /* ids of a batch are usually consecutive */
    if (k < b->n && b->slots[k].id == id) return (long)k;
    for (size_t i = 0; i < b->n; i++)
        if (b->slots[i].id == id) return (long)i;
    return -1;
}

int tally_batch_send(tally_batch *b, tally_error *err) {
    tally_error_clear(err);
    if (!b) return err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "tally_batch_send: no batch");
    if (b->sent) return err_set(err, TALLY_INVALID_ARGUMENT, TALLY_R_BAD_CALL, "the batch was already sent");
    tally_conn *c = b->conn;
    b->sent = 1;
    if (b->n == 0) return TALLY_OK;
    if (c->dead) {
        for (size_t i = 0; i < b->n; i++) slot_fail(&b->slots[i], &c->fatal, 0);
        return err_dead(c, err);
    }
    if (map_reserve(c, b->n) < 0) {
        for (size_t i = 0; i < b->n; i++)
            slot_fail_local(&b->slots[i], TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, 0, "out of memory");
        return err_set(err, TALLY_RESOURCE_EXHAUSTED, TALLY_R_OUT_OF_MEMORY, "out of memory");
    }
    uint32_t longest = 0;
    int unbounded = 0;
    for (size_t i = 0; i < b->n; i++) {
        slot *s = &b->slots[i];
        if (s->timeout_ms == 0) unbounded = 1;
        if (s->timeout_ms > longest) longest = s->timeout_ms;
        s->state = SLOT_PENDING;
        map_put(c, s->id, s);
    }
    b->deadline = unbounded ? -1 : local_deadline(c, longest);
    int w = conn_write(c, b->out.p, b->out.len, b->deadline);
    if (w == 1) {
        for (size_t i = 0; i < b->n; i++) {
            map_remove(c, b->slots[i].id);
            slot_fail_local(&b->slots[i], TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT, 0,
                            "the batch could not be sent in time: tallyd is not reading; nothing was sent");
        }
        return err_set(err, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT,
                       "the batch could not be sent in time: tallyd is not reading; nothing was sent");
    }
    if (w < 0) return err_dead(c, err);
    return TALLY_OK;
}

static int batch_has_news(const void *p) {
    const tally_batch *b = p;
    return b->n_arrived > b->n_returned;
}

int tally_batch_next(tally_batch *b, size_t *index) {
    if (!b) return 0;
    if (!b->sent) tally_batch_send(b, NULL);
    for (;;) {
        if (b->n_returned < b->n_arrived) {
            if (index) *index = b->arrived[b->n_returned];
            b->n_returned++;
            return 1;
        }
        if (b->n_returned >= b->n) return 0;
        tally_conn *c = b->conn;
        int timed_out = conn_wait(c, batch_has_news, b, b->deadline) == 1;
        if (timed_out || (c->dead && !batch_has_news(b))) {
            for (size_t i = 0; i < b->n; i++) {
                slot *s = &b->slots[i];
                if (s->state != SLOT_PENDING) continue;
                map_remove(c, s->id);
                if (c->dead) slot_fail(s, &c->fatal, 1);
                else
                    slot_fail_local(s, TALLY_DEADLINE_EXCEEDED, TALLY_R_LOCAL_TIMEOUT, 1,
                                    "no answer within the batch's timeout + grace; tallyd may still run it");
            }
        }
    }
}

size_t tally_batch_run(tally_batch *b) {
    if (!b) return 0;
    while (tally_batch_next(b, NULL) == 1) {
    }
    size_t failed = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!b->slots[i].msg) failed++;
    return failed;
}

int tally_batch_result(const tally_batch *b, size_t i, const ProtobufCMessage **response, const tally_error **error) {
    if (response) *response = NULL;
    if (error) *error = NULL;
    if (!b || i >= b->n || b->slots[i].state != SLOT_DONE) return -1;
    const slot *s = &b->slots[i];
    if (s->msg) {
        if (response) *response = s->msg;
        return TALLY_OK;
    }
    if (error) *error = &s->err;
    return s->err.code;
}
