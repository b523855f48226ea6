/*
 * The conformance scenario through libtally (Clients/conformance/README.md): runs every step of
 * SCENARIO, in order, on one connection, and writes the transcript to OUT (default stdout).
 *
 *   build/tests/conformance SCENARIO SOCKET [OUT]        (make conformance builds it)
 *
 * A step whose payload protobuf-c can parse as the method's request goes through tally_call with
 * that typed message (which must pack to the very same bytes); any other payload (not a message,
 * or a method the descriptors do not know) is sent as it is, carried as an unknown field of an
 * empty message. Answers are decoded with the method's response type, time stamps and dates
 * normalized through the descriptors (README), and packed again. Exits 1 if the client itself
 * fails (a local error), 2 on bad usage or input.
 */
#define _POSIX_C_SOURCE 200809L

#include "tally.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ProtobufCServiceDescriptor *const services[] = {
    &tally__v1__ledger__descriptor,
    &tally__v1__admin__descriptor,
    &tally__v1__usage__descriptor,
    &tally__v1__purchases__descriptor,
};

/* The method descriptor for a wire path "/tally.v1.Ledger/Credit", or NULL. */
static const ProtobufCMethodDescriptor *find_method(const char *path) {
    for (size_t s = 0; s < sizeof services / sizeof services[0]; s++) {
        const ProtobufCServiceDescriptor *d = services[s];
        size_t n = strlen(d->name);
        if (path[0] != '/' || strncmp(path + 1, d->name, n) != 0 || path[1 + n] != '/') continue;
        for (unsigned m = 0; m < d->n_methods; m++)
            if (strcmp(path + 2 + n, d->methods[m].name) == 0) return &d->methods[m];
    }
    return NULL;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void put_hex(FILE *out, const uint8_t *data, size_t len) {
    if (len == 0) fputc('-', out);
    for (size_t i = 0; i < len; i++) fprintf(out, "%02x", data[i]);
}

/* Printable ASCII except space, '%', ',' and '=' as is; every other byte as %XX. */
static void put_escaped(FILE *out, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x21 && *p <= 0x7e && *p != '%' && *p != ',' && *p != '=')
            fputc(*p, out);
        else
            fprintf(out, "%%%02X", *p);
    }
}

static int is_date(const char *s) {
    static const char shape[] = "dddd-dd-dd";
    for (int i = 0; i < 10; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != '-') return 0;
    }
    return s[10] == '\0';
}

static int is_decimal(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!(*s >= '0' && *s <= '9')) return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/*
 * Times and dates differ between runs: a non-zero int64 field whose name ends in _at_us becomes
 * 1, a string field named date holding YYYY-MM-DD becomes "YYYY-MM-DD" (in place: same length).
 * Walks the descriptors, into sub-messages and repeated sub-messages.
 */
static void normalize(ProtobufCMessage *m) {
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *member = (char *)m + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                size_t n = *(size_t *)((char *)m + f->quantifier_offset);
                ProtobufCMessage **items = *(ProtobufCMessage ***)member;
                for (size_t j = 0; j < n; j++) normalize(items[j]);
            }
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(uint32_t *)((char *)m + f->quantifier_offset) != f->id) continue; /* another case is set */
        } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
                   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
            if (!*(protobuf_c_boolean *)((char *)m + f->quantifier_offset)) continue;
        }
        switch (f->type) {
        case PROTOBUF_C_TYPE_MESSAGE: {
            ProtobufCMessage *sub = *(ProtobufCMessage **)member;
            if (sub) normalize(sub);
            break;
        }
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            if (ends_with(f->name, "_at_us") && *(int64_t *)member != 0) *(int64_t *)member = 1;
            break;
        case PROTOBUF_C_TYPE_STRING: {
            char *s = *(char **)member;
            if (strcmp(f->name, "date") == 0 && s && is_date(s)) memcpy(s, "YYYY-MM-DD", 10);
            break;
        }
        default:
            break;
        }
    }
}

static int detail_order(const void *a, const void *b) {
    return strcmp(((const tally_detail *)a)->key, ((const tally_detail *)b)->key);
}

static void put_details(FILE *out, tally_error *err) {
    if (err->n_details == 0) {
        fputc('-', out);
        return;
    }
    qsort(err->details, err->n_details, sizeof err->details[0], detail_order); /* strcmp: byte order */
    for (size_t i = 0; i < err->n_details; i++) {
        const char *k = err->details[i].key, *v = err->details[i].value;
        if (i) fputc(',', out);
        put_escaped(out, k);
        fputc('=', out);
        if (ends_with(k, "_at_us") && is_decimal(v))
            fputs("<time>", out);
        else if ((strcmp(k, "day") == 0 || strcmp(k, "date") == 0) && is_date(v))
            fputs("<date>", out);
        else
            put_escaped(out, v);
    }
}

/*
 * Carries raw payload bytes through tally_call: an empty message (GetLimitsRequest has no
 * fields) with one unknown field whose tag is the payload's first varint and whose data is the
 * rest, which protobuf-c packs back byte for byte. Returns 0 if the bytes do not start with a
 * tag that re-encodes the same way.
 */
static int opaque(Tally__V1__GetLimitsRequest *msg, ProtobufCMessageUnknownField *field, uint8_t *data, size_t len) {
    uint64_t key = 0;
    size_t used = 0;
    for (int shift = 0; used < len && shift < 35; shift += 7) {
        key |= (uint64_t)(data[used] & 0x7f) << shift;
        if (!(data[used++] & 0x80)) break;
    }
    if (used == 0 || (data[used - 1] & 0x80) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) return 0;
    *msg = (Tally__V1__GetLimitsRequest)TALLY__V1__GET_LIMITS_REQUEST__INIT;
    field->tag = (uint32_t)(key >> 3);
    field->wire_type = (ProtobufCWireType)(key & 7);
    field->len = len - used;
    field->data = data + used;
    msg->base.n_unknown_fields = 1;
    msg->base.unknown_fields = field;
    return 1;
}

/* Streaming methods: protobuf-c's method descriptors do not say which methods stream. */
static int is_stream(const char *method) {
    return strcmp(method, TALLY_METHOD_WATCH_BALANCE) == 0 || strcmp(method, TALLY_METHOD_WATCH_USAGE) == 0;
}

typedef struct stream_step {
    FILE *out;
    int n, k;
} stream_step;

static void put_message(FILE *out, ProtobufCMessage *m) {
    normalize(m);
    size_t size = protobuf_c_message_get_packed_size(m);
    uint8_t *bytes = malloc(size + 1);
    if (!bytes) exit(2);
    protobuf_c_message_pack(m, bytes);
    put_hex(out, bytes, size);
    free(bytes);
}

/* A line per message; the one with `live` set ends the step's reading: cancel. */
static int on_stream_message(void *ctx, const ProtobufCMessage *message) {
    stream_step *st = ctx;
    ProtobufCMessage *m = (ProtobufCMessage *)message; /* normalized in place: it is ours until we return */
    fprintf(st->out, "%d.%d OK - - ", st->n, ++st->k);
    put_message(st->out, m);
    fputc('\n', st->out);
    const ProtobufCFieldDescriptor *live = protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "live");
    return live && *(const protobuf_c_boolean *)((const char *)m + live->offset);
}

static void put_refusal(FILE *out, int n, tally_error *err) {
    fprintf(out, "%d %s ", n, tally_code_name(err->code));
    if (err->reason && *err->reason)
        put_escaped(out, err->reason);
    else
        fputc('-', out);
    fputc(' ', out);
    put_details(out, err);
    fputs(" -\n", out);
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s SCENARIO SOCKET [OUT]\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 2;
    }
    FILE *out = argc == 4 ? fopen(argv[3], "w") : stdout;
    if (!out) {
        perror(argv[3]);
        return 2;
    }
    tally_error err = TALLY_ERROR_INIT;
    tally_conn *conn = tally_connect(argv[2], 5000, &err);
    if (!conn) {
        char buf[600];
        fprintf(stderr, "connect %s: %s\n", argv[2], tally_error_format(&err, buf, sizeof buf));
        return 1;
    }
    tally_set_timeout(conn, 10000);

    int status = 0, n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while (status == 0 && (got = getline(&line, &cap, in)) >= 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
        if (got == 0 || line[0] == '#') continue;
        n++;
        char *tab = strchr(line, '\t');
        const char *hex = tab ? tab + 1 : "";
        if (tab) *tab = '\0';
        const char *method = line;
        size_t hexlen = strlen(hex), len = hexlen / 2;
        uint8_t *payload = malloc(len + 1);
        if (!payload) return 2;
        for (size_t i = 0; i < len; i++) {
            int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                fprintf(stderr, "step %d: bad hex\n", n);
                return 2;
            }
            payload[i] = (uint8_t)(hi << 4 | lo);
        }
        if (hexlen % 2) {
            fprintf(stderr, "step %d: odd hex\n", n);
            return 2;
        }

        const ProtobufCMethodDescriptor *md = find_method(method);
        ProtobufCMessage *request = NULL; /* typed, unpacked by protobuf-c */
        Tally__V1__GetLimitsRequest raw;
        ProtobufCMessageUnknownField raw_field;
        const ProtobufCMessage *send = NULL;
        if (md) request = protobuf_c_message_unpack(md->input, NULL, len, payload);
        if (request) {
            size_t size = protobuf_c_message_get_packed_size(request);
            uint8_t *again = malloc(size + 1);
            if (!again) return 2;
            protobuf_c_message_pack(request, again);
            if (size != len || memcmp(again, payload, len) != 0) {
                fprintf(stderr, "step %d: protobuf-c re-encodes the request differently: ", n);
                put_hex(stderr, again, size);
                fprintf(stderr, " instead of %s\n", hex);
                status = 1;
            }
            free(again);
            send = request;
        } else if (len > 0) {
            if (!opaque(&raw, &raw_field, payload, len)) {
                fprintf(stderr, "step %d: cannot carry payload %s\n", n, hex);
                return 2;
            }
            send = &raw.base;
        }
            /* An answer to a method the descriptors do not know is decoded as an empty message, whose
           unknown fields pack back to the payload as it came. */
        const ProtobufCMessageDescriptor *answer_type = md ? md->output : &tally__v1__get_limits_request__descriptor;
        ProtobufCMessage *answer = NULL;
        int rc;
        if (!status && md && is_stream(method)) {
            /* A stream step: its messages up to `live`, the cancel, then its last frame. */
            stream_step st = {out, n, 0};
            tally_stream *s = tally_stream_open(conn, method, send, md->output, on_stream_message, &st, &err);
            rc = s ? tally_stream_run(s, &err) : err.code;
            tally_stream_free(s);
            if (rc == TALLY_OK) fprintf(out, "%d OK - - -\n", n);
            else if (!err.local) put_refusal(out, n, &err);
            if (rc == TALLY_OK || !err.local) {
                if (request) protobuf_c_message_free_unpacked(request, NULL);
                free(payload);
                continue;
            }
        } else {
            rc = status ? -1 : tally_call(conn, method, send, answer_type, &answer, &err);
        }
        if (rc == TALLY_OK) {
            fprintf(out, "%d OK - - ", n);
            put_message(out, answer);
            fputc('\n', out);
            tally_free(answer);
        } else if (rc > 0 && err.local) {
            char buf[600];
            fprintf(stderr, "step %d (%s): the client failed locally: %s\n", n, method,
                    tally_error_format(&err, buf, sizeof buf));
            status = 1;
        } else if (rc > 0) {
            put_refusal(out, n, &err);
        }
        if (request) protobuf_c_message_free_unpacked(request, NULL);
        free(payload);
    }
    free(line);
    fclose(in);
    tally_error_clear(&err);
    tally_close(conn);
    if (out != stdout && fclose(out) != 0) {
        perror(argv[3]);
        return 1;
    }
    return status;
}
