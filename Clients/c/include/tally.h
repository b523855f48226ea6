/*
 * libtally: a C client for tallyd (docs/protocol.md), on libprotobuf-c and the protoc-c code
 * generated from Protos/tally/v1 (Clients/c/generated, installed as <tally/v1/...pb-c.h>).
 *
 *   tally_error err = TALLY_ERROR_INIT;
 *   tally_conn *conn = tally_connect("/run/tally/tally.sock", 2000, &err);
 *   if (!conn) { fprintf(stderr, "%s\n", err.message); tally_error_clear(&err); return 1; }
 *   tally_set_timeout(conn, 1000);                     // every call: a 1 s deadline
 *
 *   Tally__V1__SpendRequest req = TALLY__V1__SPEND_REQUEST__INIT;
 *   req.user_id = "alice"; req.amount = 30; req.idempotency_key = "order-81723";
 *   Tally__V1__SpendResponse *resp = NULL;
 *   if (tally_spend(conn, &req, &resp, &err) == TALLY_OK) {
 *       printf("%lld left\n", (long long)resp->balance->available);
 *       tally_free(resp);
 *   } else if (strcmp(err.reason, "INSUFFICIENT_TOKENS") == 0) {
 *       printf("%s tokens missing\n", tally_error_detail(&err, "shortfall"));
 *   }
 *   tally_error_clear(&err);
 *   tally_close(conn);
 *
 * Conventions
 *   - Every call returns TALLY_OK (0) on success, otherwise the failure's gRPC code (1..16),
 *     and fills the caller's tally_error (when not NULL) with code, reason, message and details.
 *     Failures tallyd answers and failures found here (connect, I/O, timeouts, decoding) look
 *     the same; `local` tells them apart. Local reasons are listed below (TALLY_R_...).
 *   - Responses are protoc-c messages the caller owns: free them with tally_free().
 *   - Request messages are only read, never kept: they may be freed once the call returns
 *     (for the batch API: once tally_batch_add returns). A NULL request sends the method's
 *     empty message (all fields default).
 *
 * Thread safety
 *   - The library has no global or static mutable state; distinct connections are
 *     independent and may be used from different threads at once.
 *   - One tally_conn, and every tally_batch made on it, must be used by one thread at a time:
 *     give each thread its own connection (tallyd accepts 256 per uid by default), or guard a
 *     shared one with a mutex held for the whole call (tally_call / tally_batch_run ...).
 *   - tally_error values and responses are plain data owned by the caller.
 *   - The library never raises SIGPIPE (MSG_NOSIGNAL / SO_NOSIGPIPE) and changes no signal
 *     disposition.
 */
#ifndef TALLY_H
#define TALLY_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>
#include <tally/v1/actions.pb-c.h>
#include <tally/v1/admin.pb-c.h>
#include <tally/v1/audit.pb-c.h>
#include <tally/v1/envelope.pb-c.h>
#include <tally/v1/ledger.pb-c.h>
#include <tally/v1/memberships.pb-c.h>
#include <tally/v1/predictions.pb-c.h>
#include <tally/v1/purchases.pb-c.h>
#include <tally/v1/usage.pb-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define TALLY_API __attribute__((visibility("default")))
#else
#define TALLY_API
#endif

#define TALLY_VERSION "0.1.0"
/* Largest frame body tallyd accepts by default, and the largest this library sends or reads. */
#define TALLY_MAX_FRAME_BYTES 4194304u

/* gRPC status codes (tally.v1.Code). */
enum {
    TALLY_OK = 0,
    TALLY_CANCELLED = 1,
    TALLY_UNKNOWN = 2,
    TALLY_INVALID_ARGUMENT = 3,
    TALLY_DEADLINE_EXCEEDED = 4,
    TALLY_NOT_FOUND = 5,
    TALLY_ALREADY_EXISTS = 6,
    TALLY_PERMISSION_DENIED = 7,
    TALLY_RESOURCE_EXHAUSTED = 8,
    TALLY_FAILED_PRECONDITION = 9,
    TALLY_ABORTED = 10,
    TALLY_OUT_OF_RANGE = 11,
    TALLY_UNIMPLEMENTED = 12,
    TALLY_INTERNAL = 13,
    TALLY_UNAVAILABLE = 14,
    TALLY_DATA_LOSS = 15,
    TALLY_UNAUTHENTICATED = 16
};

/* Reasons of failures found by the library itself (tally_error.local = 1). Every other
 * reason comes from tallyd (docs/protocol.md §8). */
#define TALLY_R_CONNECT_FAILED "CONNECT_FAILED"             /* 14: connect() failed; details errno, path */
#define TALLY_R_CONNECT_TIMEOUT "CONNECT_TIMEOUT"           /* 4: backlog still full at the timeout */
#define TALLY_R_SOCKET_PATH_TOO_LONG "SOCKET_PATH_TOO_LONG" /* 3: over 107 bytes */
#define TALLY_R_CONNECTION_CLOSED "CONNECTION_CLOSED"       /* 14: tallyd closed without a final frame (EOF, EPIPE, ECONNRESET) */
#define TALLY_R_IO_ERROR "IO_ERROR"                         /* 14: read/write failed; details errno */
#define TALLY_R_LOCAL_TIMEOUT "LOCAL_TIMEOUT"               /* 4: no answer within timeout + grace */
#define TALLY_R_RESPONSE_MALFORMED "RESPONSE_MALFORMED"     /* 13: a frame from tallyd is not a Response */
#define TALLY_R_PAYLOAD_MALFORMED "PAYLOAD_MALFORMED"       /* 13: an OK answer's payload does not decode */
#define TALLY_R_REQUEST_TOO_LARGE "REQUEST_TOO_LARGE"       /* 8: the frame would pass 4 MiB; not sent */
#define TALLY_R_OUT_OF_MEMORY "OUT_OF_MEMORY"               /* 8 */
#define TALLY_R_BAD_CALL "BAD_CALL"                         /* 3: NULL argument or API misuse */

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */

typedef struct tally_detail {
    char *key;
    char *value; /* numbers are decimal strings */
} tally_detail;

/*
 * A failure. Owned by the caller: initialise with TALLY_ERROR_INIT (or zero it), pass its
 * address to calls, and release it with tally_error_clear(). A call that is handed an error
 * still holding an earlier failure clears it first, so one tally_error can be reused.
 */
typedef struct tally_error {
    int code;               /* gRPC code; TALLY_OK when there is no failure */
    char *reason;           /* stable UPPER_SNAKE_CASE word; never NULL once code != 0 */
    char *message;          /* for people; never NULL once code != 0; do not parse */
    tally_detail *details;  /* facts for programs (docs/protocol.md §8) */
    size_t n_details;
    uint64_t call_id;       /* the failed call's id; 0 for a connection-level failure */
    int local;              /* 1: found by this library; 0: answered by tallyd */
    int connection_lost;    /* 1: the connection is unusable now; close it, connect again */
    int outcome_unknown;    /* 1: a mutation may or may not have run: retry with the same
                               idempotency key and identical request (protocol §6, §9) */
    int sys_errno;          /* errno behind CONNECT_FAILED, IO_ERROR, CONNECTION_CLOSED; else 0 */
    unsigned flags_;        /* private */
} tally_error;

#define TALLY_ERROR_INIT {0, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0}

/* Frees what the error holds and resets it to TALLY_ERROR_INIT. NULL is fine. */
TALLY_API void tally_error_clear(tally_error *err);
/* The value of a detail, or NULL. */
TALLY_API const char *tally_error_detail(const tally_error *err, const char *key);
/* "FAILED_PRECONDITION INSUFFICIENT_TOKENS: <message> {available=0, requested=5, ...}",
 * truncated to fit; returns buf. */
TALLY_API char *tally_error_format(const tally_error *err, char *buf, size_t size);
/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN_CODE" for numbers outside 0..16. */
TALLY_API const char *tally_code_name(int code);

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                */

typedef struct tally_conn tally_conn;

/*
 * Connects to tallyd's Unix socket. While tallyd's accept backlog is full (EAGAIN) it retries
 * with backoff for up to timeout_ms (0: no limit). Other failures (ENOENT, ECONNREFUSED,
 * EACCES) are reported at once as CONNECT_FAILED. Returns NULL on failure, err filled.
 * A connection tallyd refuses right after accepting it (NO_ROLE, TOO_MANY_CONNECTIONS) is
 * reported by the first call, with tallyd's code and reason.
 */
TALLY_API tally_conn *tally_connect(const char *socket_path, int timeout_ms, tally_error *err);
/* Closes the socket and frees the connection. Free its batches and streams first. NULL is fine. */
TALLY_API void tally_close(tally_conn *conn);
/* 1 while usable; 0 once a connection-level failure ended it (connect again). */
TALLY_API int tally_connected(const tally_conn *conn);

/*
 * The deadline (protocol §6) sent with every following call on this connection, in ms;
 * 0 (the default) means none. The library also waits locally at most timeout_ms + grace_ms
 * (default grace 1000 ms) for an answer, then fails the call with LOCAL_TIMEOUT: tallyd may
 * still run it (outcome_unknown = 1), its late answer is dropped, the connection stays usable.
 */
TALLY_API void tally_set_timeout(tally_conn *conn, uint32_t timeout_ms);
TALLY_API void tally_set_local_grace(tally_conn *conn, uint32_t grace_ms);

/*
 * Several hosts (tallyd --journal postgresql://..., docs/operations.md): tally_position is the
 * highest command-log position this connection's answers carried (0 against a tallyd with its
 * own journal). Pass it to tally_set_min_position on a connection to another node: every
 * following call there waits until that node has applied the log through it (read your writes
 * across hosts). 0, the default, waits for nothing; a tallyd with its own journal answers a
 * position past its last record OUT_OF_RANGE POSITION_AHEAD.
 */
TALLY_API void tally_set_min_position(tally_conn *conn, uint64_t position);
TALLY_API uint64_t tally_position(const tally_conn *conn);

/* Frees a response message (any protoc-c message unpacked by this library). NULL is fine. */
TALLY_API void tally_free(void *message);

/* ------------------------------------------------------------------------------------------ */
/* Blocking calls                                                                             */

/*
 * The generic call: sends `request` (NULL: empty) as `method` ("/tally.v1.Ledger/Spend"),
 * waits for its answer and, on OK, decodes the payload as `response_type` into *response
 * (caller frees with tally_free; response may be NULL if the answer is not wanted).
 * Works for methods this header does not know yet. Returns TALLY_OK or the failure's code.
 */
TALLY_API int tally_call(tally_conn *conn, const char *method, const ProtobufCMessage *request,
                         const ProtobufCMessageDescriptor *response_type,
                         ProtobufCMessage **response, tally_error *err);

/* Method names (docs/protocol.md §4). */
#define TALLY_METHOD_GET_BALANCE "/tally.v1.Ledger/GetBalance"
#define TALLY_METHOD_CREDIT "/tally.v1.Ledger/Credit"
#define TALLY_METHOD_SPEND "/tally.v1.Ledger/Spend"
#define TALLY_METHOD_GET_TRANSACTION "/tally.v1.Ledger/GetTransaction"
#define TALLY_METHOD_STATS "/tally.v1.Admin/Stats"
#define TALLY_METHOD_LIST_TRANSACTIONS "/tally.v1.Ledger/ListTransactions"
#define TALLY_METHOD_SNAPSHOT "/tally.v1.Admin/Snapshot"
#define TALLY_METHOD_BACKUP "/tally.v1.Admin/Backup"
#define TALLY_METHOD_HEALTH "/tally.v1.Admin/Health"
#define TALLY_METHOD_USAGE_CHECK "/tally.v1.Usage/Check"
#define TALLY_METHOD_USAGE_CONSUME "/tally.v1.Usage/Consume"
#define TALLY_METHOD_USAGE_RESERVE "/tally.v1.Usage/Reserve"
#define TALLY_METHOD_USAGE_SETTLE "/tally.v1.Usage/Settle"
#define TALLY_METHOD_USAGE_RELEASE "/tally.v1.Usage/Release"
#define TALLY_METHOD_USAGE_GET_LIMITS "/tally.v1.Usage/GetLimits"
#define TALLY_METHOD_USAGE_SET_LIMITS "/tally.v1.Usage/SetLimits"
#define TALLY_METHOD_USAGE_HISTORY "/tally.v1.Usage/History"
#define TALLY_METHOD_USAGE_TOP_USERS "/tally.v1.Usage/TopUsers"
#define TALLY_METHOD_USAGE_MONTH_BY_TIER "/tally.v1.Usage/MonthByTier"
#define TALLY_METHOD_SAVE_PACKAGE "/tally.v1.Purchases/SavePackage"
#define TALLY_METHOD_DEACTIVATE_PACKAGE "/tally.v1.Purchases/DeactivatePackage"
#define TALLY_METHOD_LIST_PACKAGES "/tally.v1.Purchases/ListPackages"
#define TALLY_METHOD_START_PURCHASE "/tally.v1.Purchases/StartPurchase"
#define TALLY_METHOD_COMPLETE_PURCHASE "/tally.v1.Purchases/CompletePurchase"
#define TALLY_METHOD_FAIL_PURCHASE "/tally.v1.Purchases/FailPurchase"
#define TALLY_METHOD_GET_PURCHASE "/tally.v1.Purchases/GetPurchase"
#define TALLY_METHOD_LIST_PURCHASES "/tally.v1.Purchases/ListPurchases"
#define TALLY_METHOD_COMMIT "/tally.v1.Predictions/Commit"
#define TALLY_METHOD_CANCEL_COMMITMENT "/tally.v1.Predictions/CancelCommitment"
#define TALLY_METHOD_RESOLVE "/tally.v1.Predictions/ResolvePrediction"
#define TALLY_METHOD_VOID "/tally.v1.Predictions/VoidPrediction"
#define TALLY_METHOD_CLOSE_PREDICTION "/tally.v1.Predictions/ClosePrediction"
#define TALLY_METHOD_LIST_COMMITMENTS "/tally.v1.Predictions/ListCommitments"
#define TALLY_METHOD_SET_MEMBERSHIP "/tally.v1.Memberships/SetMembership"
#define TALLY_METHOD_GET_MEMBERSHIP "/tally.v1.Memberships/GetMembership"
#define TALLY_METHOD_SET_PRICE "/tally.v1.Actions/SetPrice"
#define TALLY_METHOD_LIST_PRICES "/tally.v1.Actions/ListPrices"
#define TALLY_METHOD_SPEND_ACTION "/tally.v1.Actions/Spend"
#define TALLY_METHOD_LIST_AUDIT "/tally.v1.Audit/List"
#define TALLY_METHOD_RECONCILE "/tally.v1.Admin/Reconcile"
#define TALLY_METHOD_METRICS "/tally.v1.Admin/Metrics"

/*
 * One typed wrapper per method: tally_<name>(conn, request, &response, &err), the same
 * contract as tally_call. Adding a method: one line here and one TALLY_DEFINE_CALL line in
 * src/tally_methods.c.
 */
#define TALLY_DECLARE_CALL(name, Req, Resp) \
    TALLY_API int tally_##name(tally_conn *conn, const Req *request, Resp **response, tally_error *err);

/* Ledger */
TALLY_DECLARE_CALL(get_balance, Tally__V1__GetBalanceRequest, Tally__V1__GetBalanceResponse)
TALLY_DECLARE_CALL(credit, Tally__V1__CreditRequest, Tally__V1__CreditResponse)
TALLY_DECLARE_CALL(spend, Tally__V1__SpendRequest, Tally__V1__SpendResponse)
/* Admin */
TALLY_DECLARE_CALL(snapshot, Tally__V1__SnapshotRequest, Tally__V1__SnapshotResponse)
TALLY_DECLARE_CALL(backup, Tally__V1__BackupRequest, Tally__V1__BackupResponse)
TALLY_DECLARE_CALL(health, Tally__V1__HealthRequest, Tally__V1__HealthResponse)
/* Usage */
TALLY_DECLARE_CALL(usage_check, Tally__V1__CheckUsageRequest, Tally__V1__CheckUsageResponse)
TALLY_DECLARE_CALL(usage_consume, Tally__V1__ConsumeRequest, Tally__V1__ConsumeResponse)
TALLY_DECLARE_CALL(usage_reserve, Tally__V1__ReserveRequest, Tally__V1__ReserveResponse)
TALLY_DECLARE_CALL(usage_settle, Tally__V1__SettleRequest, Tally__V1__SettleResponse)
TALLY_DECLARE_CALL(usage_release, Tally__V1__ReleaseRequest, Tally__V1__ReleaseResponse)
TALLY_DECLARE_CALL(usage_get_limits, Tally__V1__GetLimitsRequest, Tally__V1__GetLimitsResponse)
TALLY_DECLARE_CALL(usage_set_limits, Tally__V1__SetLimitsRequest, Tally__V1__SetLimitsResponse)
TALLY_DECLARE_CALL(usage_history, Tally__V1__UsageHistoryRequest, Tally__V1__UsageHistoryResponse)
TALLY_DECLARE_CALL(usage_top_users, Tally__V1__TopUsersRequest, Tally__V1__TopUsersResponse)
TALLY_DECLARE_CALL(usage_month_by_tier, Tally__V1__MonthByTierRequest, Tally__V1__MonthByTierResponse)
/* Purchases: CompletePurchase credits exactly once; a retry answers already_done. */
TALLY_DECLARE_CALL(save_package, Tally__V1__SavePackageRequest, Tally__V1__SavePackageResponse)
TALLY_DECLARE_CALL(deactivate_package, Tally__V1__DeactivatePackageRequest, Tally__V1__DeactivatePackageResponse)
TALLY_DECLARE_CALL(list_packages, Tally__V1__ListPackagesRequest, Tally__V1__ListPackagesResponse)
TALLY_DECLARE_CALL(start_purchase, Tally__V1__StartPurchaseRequest, Tally__V1__PurchaseResponse)
TALLY_DECLARE_CALL(complete_purchase, Tally__V1__CompletePurchaseRequest, Tally__V1__PurchaseResponse)
TALLY_DECLARE_CALL(fail_purchase, Tally__V1__FailPurchaseRequest, Tally__V1__PurchaseResponse)
TALLY_DECLARE_CALL(get_purchase, Tally__V1__GetPurchaseRequest, Tally__V1__PurchaseResponse)
TALLY_DECLARE_CALL(list_purchases, Tally__V1__ListPurchasesRequest, Tally__V1__ListPurchasesResponse)
/* History: newest first, paged with before_id = the previous page's next_before_id. */
TALLY_DECLARE_CALL(get_transaction, Tally__V1__GetTransactionRequest, Tally__V1__GetTransactionResponse)
TALLY_DECLARE_CALL(stats, Tally__V1__StatsRequest, Tally__V1__StatsResponse)
TALLY_DECLARE_CALL(list_transactions, Tally__V1__ListTransactionsRequest, Tally__V1__ListTransactionsResponse)
/* Predictions: odds in millionths (2.5 = 2500000); Resolve and Void settle once (already_done after). */
TALLY_DECLARE_CALL(commit, Tally__V1__CommitRequest, Tally__V1__CommitResponse)
TALLY_DECLARE_CALL(cancel_commitment, Tally__V1__CancelCommitmentRequest, Tally__V1__CommitResponse)
TALLY_DECLARE_CALL(resolve, Tally__V1__ResolvePredictionRequest, Tally__V1__SettlePredictionResponse)
TALLY_DECLARE_CALL(void_prediction, Tally__V1__VoidPredictionRequest, Tally__V1__SettlePredictionResponse)
TALLY_DECLARE_CALL(close_prediction, Tally__V1__ClosePredictionRequest, Tally__V1__ClosePredictionResponse)
TALLY_DECLARE_CALL(list_commitments, Tally__V1__ListCommitmentsRequest, Tally__V1__ListCommitmentsResponse)
/* Memberships and priced actions */
TALLY_DECLARE_CALL(set_membership, Tally__V1__SetMembershipRequest, Tally__V1__MembershipResponse)
TALLY_DECLARE_CALL(get_membership, Tally__V1__GetMembershipRequest, Tally__V1__MembershipResponse)
TALLY_DECLARE_CALL(set_price, Tally__V1__SetPriceRequest, Tally__V1__SetPriceResponse)
TALLY_DECLARE_CALL(list_prices, Tally__V1__ListPricesRequest, Tally__V1__ListPricesResponse)
TALLY_DECLARE_CALL(spend_action, Tally__V1__SpendActionRequest, Tally__V1__SpendResponse)
TALLY_DECLARE_CALL(list_audit, Tally__V1__ListAuditRequest, Tally__V1__ListAuditResponse)
TALLY_DECLARE_CALL(reconcile, Tally__V1__ReconcileRequest, Tally__V1__ReconcileResponse)
/* The figures GET /metrics serves, one sample per line of its text (any role). */
TALLY_DECLARE_CALL(metrics, Tally__V1__MetricsRequest, Tally__V1__MetricsResponse)

/* ------------------------------------------------------------------------------------------ */
/* Pipelined batches                                                                          */

/*
 * A batch: queue calls (each gets its own call id and is encoded at once), send them all with
 * as few writes as possible, then collect the answers, which tallyd may send in any order
 * (protocol §5); they are matched by call id. The library keeps reading answers while it
 * writes, so batches of any size are safe (tallyd pauses reading at 1,024 calls in flight).
 *
 *   tally_batch *b = tally_batch_new(conn);
 *   for (...) tally_batch_add(b, TALLY_METHOD_GET_BALANCE, &req.base,
 *                             &tally__v1__get_balance_response__descriptor, &err);
 *   tally_batch_run(b);                                  // or tally_batch_send + _next
 *   for (size_t i = 0; i < tally_batch_size(b); i++) {
 *       const ProtobufCMessage *resp; const tally_error *e;
 *       if (tally_batch_result(b, i, &resp, &e) == TALLY_OK) ... else ... e->reason ...
 *   }
 *   tally_batch_free(b);
 *
 * Every call of a batch carries the connection's timeout as it was at tally_batch_add; the
 * batch waits locally until the largest of them + grace after tally_batch_send, then fails the
 * calls still unanswered with LOCAL_TIMEOUT. Single calls (tally_call) may be made on the
 * connection while a batch is outstanding. A batch must be freed before its connection.
 */
typedef struct tally_batch tally_batch;

TALLY_API tally_batch *tally_batch_new(tally_conn *conn); /* NULL only when out of memory */
/* Drops every call and result (late answers are ignored) and keeps the memory for reuse. */
TALLY_API void tally_batch_reset(tally_batch *batch);
TALLY_API void tally_batch_free(tally_batch *batch);

/* Queues a call. Returns its index (0, 1, ...) or -1 with err filled (nothing queued).
 * Calls may only be added before tally_batch_send (or after tally_batch_reset). */
TALLY_API long tally_batch_add(tally_batch *batch, const char *method, const ProtobufCMessage *request,
                               const ProtobufCMessageDescriptor *response_type, tally_error *err);
TALLY_API size_t tally_batch_size(const tally_batch *batch);
/* The call id of call `index` (unique on its connection, never 0), or 0 for a bad index. */
TALLY_API uint64_t tally_batch_call_id(const tally_batch *batch, size_t index);
/* The index of the call with this id, or -1. */
TALLY_API long tally_batch_find(const tally_batch *batch, uint64_t call_id);

/* Writes every queued call. Returns TALLY_OK, or the code of a connection-level failure
 * (every call then fails with it; tally_batch_next still reports each one). */
TALLY_API int tally_batch_send(tally_batch *batch, tally_error *err);
/* Blocks until one more call has its outcome (an answer, or a local/connection failure) and
 * stores its index: returns 1, or 0 once every call has been reported. Sends first if
 * tally_batch_send was not called. Outcomes are reported in the order they arrive. */
TALLY_API int tally_batch_next(tally_batch *batch, size_t *index);
/* Sends (if not yet) and waits for every outcome. Returns how many calls did not end OK. */
TALLY_API size_t tally_batch_run(tally_batch *batch);
/* Call `index`'s outcome: TALLY_OK with *response set (owned by the batch, valid until
 * reset/free), or the failure's code with *error set (also owned by the batch), or -1 when the
 * call has no outcome yet or the index is bad. response and error may be NULL. */
TALLY_API int tally_batch_result(const tally_batch *batch, size_t index, const ProtobufCMessage **response,
                                 const tally_error **error);

/* ------------------------------------------------------------------------------------------ */
/* Streams (docs/protocol.md §5.1)                                                            */

/*
 * A streaming call: tallyd answers with any number of messages, then one last status. Each
 * message is handed to `on_message` (decoded as `message_type`; valid only during the call:
 * the library frees it after). Return 0 to go on; anything else cancels the stream: a cancel
 * is sent, no more messages are handed over, and the stream ends when tallyd's last frame
 * (CANCELLED, with resume_after for a balance watch) arrives.
 *
 *   static int on_change(void *ctx, const ProtobufCMessage *m) {
 *       const Tally__V1__BalanceChange *c = (const Tally__V1__BalanceChange *)m;
 *       if (c->live) puts("live");
 *       else printf("%llu: %lld\n", (unsigned long long)c->position, (long long)c->transaction->balance_after);
 *       return 0;
 *   }
 *   char *users[] = {"alice"};
 *   Tally__V1__WatchBalanceRequest req = TALLY__V1__WATCH_BALANCE_REQUEST__INIT;
 *   req.n_user_ids = 1; req.user_ids = users;
 *   tally_stream *s = tally_watch_balance(conn, &req, on_change, NULL, &err);
 *   if (s && tally_stream_run(s, &err) != TALLY_OK)
 *       printf("ended: %s, resume after %s\n", err.reason, tally_error_detail(&err, "resume_after"));
 *   tally_stream_free(s);
 *
 * Messages arrive whenever the connection is read: during tally_stream_poll/run and during
 * other calls on the same connection, which go on working meanwhile (up to 100 streams per
 * connection). Messages read outside tally_stream_poll/run wait in the stream, decoded, until
 * it is polled: poll it often, or tallyd ends it WATCH_TOO_SLOW. Callbacks run only inside
 * tally_stream_poll/run, one at a time; they may make calls on the connection and cancel the
 * stream, but must not free it. The connection's timeout (tally_set_timeout) bounds the whole
 * stream, as for calls; 0 means none.
 */
typedef struct tally_stream tally_stream;
typedef int (*tally_on_message)(void *ctx, const ProtobufCMessage *message);

/* Sends the call. Returns the open stream, or NULL with err filled (nothing was opened). */
TALLY_API tally_stream *tally_stream_open(tally_conn *conn, const char *method, const ProtobufCMessage *request,
                                          const ProtobufCMessageDescriptor *message_type,
                                          tally_on_message on_message, void *ctx, tally_error *err);
/*
 * Hands over the messages that have arrived, waiting up to wait_ms for more (-1: until the
 * stream ends; 0: only what is here now). Returns 1 while the stream is open, 0 once it ended
 * (tally_stream_status says how). For an event loop: poll tally_fd(conn) for input, then call
 * this with 0.
 */
TALLY_API int tally_stream_poll(tally_stream *stream, int wait_ms);
/* Runs the stream to its end: tally_stream_poll(stream, -1) until 0. Returns its last status:
 * TALLY_OK when tallyd ended it, otherwise the code, with err (if not NULL) filled. */
TALLY_API int tally_stream_run(tally_stream *stream, tally_error *err);
/* Asks tallyd to end the stream (the same as on_message returning non-zero). Messages not yet
 * handed over are dropped. The stream ends when tallyd's CANCELLED arrives (poll or run it). */
TALLY_API int tally_stream_cancel(tally_stream *stream, tally_error *err);
/* -1 while the stream is open; otherwise its last status (TALLY_OK, or a code with *err set
 * to the failure, owned by the stream; details["resume_after"] says where to resume a
 * balance watch). err may be NULL. */
TALLY_API int tally_stream_status(const tally_stream *stream, const tally_error **err);
/* The stream's call id on its connection. */
TALLY_API uint64_t tally_stream_call_id(const tally_stream *stream);
/* Frees the stream; one still open is cancelled first (without waiting). NULL is fine. */
TALLY_API void tally_stream_free(tally_stream *stream);
/* The connection's socket, for poll()/epoll; -1 once the connection ended. Only wait on it
 * for input, and only read through the library. */
TALLY_API int tally_fd(const tally_conn *conn);

#define TALLY_METHOD_WATCH_BALANCE "/tally.v1.Ledger/WatchBalance"
#define TALLY_METHOD_WATCH_USAGE "/tally.v1.Usage/WatchUsage"
#define TALLY_METHOD_CHANGES "/tally.v1.Admin/Changes"
/* Ledger/WatchBalance: messages are Tally__V1__BalanceChange: every durable change of the
 * users (or all of them, admins only), after `after_position` when `resume` is set; the one
 * with `live` set says the watch is registered. */
TALLY_API tally_stream *tally_watch_balance(tally_conn *conn, const Tally__V1__WatchBalanceRequest *request,
                                            tally_on_message on_message, void *ctx, tally_error *err);
/* Usage/WatchUsage: messages are Tally__V1__UsageChange: the users' standing now, `live`,
 * then their standing after every durable usage change and at each day's start. */
TALLY_API tally_stream *tally_watch_usage(tally_conn *conn, const Tally__V1__WatchUsageRequest *request,
                                          tally_on_message on_message, void *ctx, tally_error *err);
/* Admin/Changes (admins): messages are Tally__V1__JournalChange: every durable journal record
 * after `after_sequence`, each with the answer its call got (`result`), then one with `live`
 * set, then each new record. A tallyd run with --fsync never has none (NO_JOURNAL). */
TALLY_API tally_stream *tally_changes(tally_conn *conn, const Tally__V1__ChangesRequest *request,
                                      tally_on_message on_message, void *ctx, tally_error *err);

/* ------------------------------------------------------------------------------------------ */
/* Testing and protocol experiments                                                           */

/* Writes raw bytes to the socket (partial writes handled). Anything but whole, valid frames
 * makes tallyd close the connection; the next call then reports tallyd's final frame. */
TALLY_API int tally_send_raw(tally_conn *conn, const void *bytes, size_t length, tally_error *err);

#ifdef __cplusplus
}
#endif

#endif /* TALLY_H */
