/*
 * One typed wrapper per method, each a thin shell over tally_call. Adding a method: declare it
 * with TALLY_DECLARE_CALL in include/tally.h and define it with one line here.
 */
#include "tally.h"

#define TALLY_DEFINE_CALL(name, method, Req, Resp, response_descriptor)                              \
    int tally_##name(tally_conn *conn, const Req *request, Resp **response, tally_error *err) {       \
        ProtobufCMessage *m = NULL;                                                                 \
        int rc = tally_call(conn, method, (const ProtobufCMessage *)request, &response_descriptor, \
                            response ? &m : NULL, err);                                             \
        if (response) *response = (Resp *)m;                                                        \
        return rc;                                                                                  \
    }

/* Ledger */
TALLY_DEFINE_CALL(get_balance, TALLY_METHOD_GET_BALANCE, Tally__V1__GetBalanceRequest,
                  Tally__V1__GetBalanceResponse, tally__v1__get_balance_response__descriptor)
TALLY_DEFINE_CALL(credit, TALLY_METHOD_CREDIT, Tally__V1__CreditRequest, Tally__V1__CreditResponse,
                  tally__v1__credit_response__descriptor)
TALLY_DEFINE_CALL(spend, TALLY_METHOD_SPEND, Tally__V1__SpendRequest, Tally__V1__SpendResponse,
                  tally__v1__spend_response__descriptor)
/* Admin */
TALLY_DEFINE_CALL(snapshot, TALLY_METHOD_SNAPSHOT, Tally__V1__SnapshotRequest, Tally__V1__SnapshotResponse,
                  tally__v1__snapshot_response__descriptor)
TALLY_DEFINE_CALL(backup, TALLY_METHOD_BACKUP, Tally__V1__BackupRequest, Tally__V1__BackupResponse,
                  tally__v1__backup_response__descriptor)
TALLY_DEFINE_CALL(health, TALLY_METHOD_HEALTH, Tally__V1__HealthRequest, Tally__V1__HealthResponse,
                  tally__v1__health_response__descriptor)
/* Usage */
TALLY_DEFINE_CALL(usage_check, TALLY_METHOD_USAGE_CHECK, Tally__V1__CheckUsageRequest,
                  Tally__V1__CheckUsageResponse, tally__v1__check_usage_response__descriptor)
TALLY_DEFINE_CALL(usage_consume, TALLY_METHOD_USAGE_CONSUME, Tally__V1__ConsumeRequest,
                  Tally__V1__ConsumeResponse, tally__v1__consume_response__descriptor)
TALLY_DEFINE_CALL(usage_reserve, TALLY_METHOD_USAGE_RESERVE, Tally__V1__ReserveRequest,
                  Tally__V1__ReserveResponse, tally__v1__reserve_response__descriptor)
TALLY_DEFINE_CALL(usage_settle, TALLY_METHOD_USAGE_SETTLE, Tally__V1__SettleRequest,
                  Tally__V1__SettleResponse, tally__v1__settle_response__descriptor)
TALLY_DEFINE_CALL(usage_release, TALLY_METHOD_USAGE_RELEASE, Tally__V1__ReleaseRequest,
                  Tally__V1__ReleaseResponse, tally__v1__release_response__descriptor)
TALLY_DEFINE_CALL(usage_get_limits, TALLY_METHOD_USAGE_GET_LIMITS, Tally__V1__GetLimitsRequest,
                  Tally__V1__GetLimitsResponse, tally__v1__get_limits_response__descriptor)
TALLY_DEFINE_CALL(usage_set_limits, TALLY_METHOD_USAGE_SET_LIMITS, Tally__V1__SetLimitsRequest,
                  Tally__V1__SetLimitsResponse, tally__v1__set_limits_response__descriptor)
TALLY_DEFINE_CALL(usage_history, TALLY_METHOD_USAGE_HISTORY, Tally__V1__UsageHistoryRequest,
                  Tally__V1__UsageHistoryResponse, tally__v1__usage_history_response__descriptor)
TALLY_DEFINE_CALL(usage_top_users, TALLY_METHOD_USAGE_TOP_USERS, Tally__V1__TopUsersRequest,
                  Tally__V1__TopUsersResponse, tally__v1__top_users_response__descriptor)
TALLY_DEFINE_CALL(usage_month_by_tier, TALLY_METHOD_USAGE_MONTH_BY_TIER, Tally__V1__MonthByTierRequest,
                  Tally__V1__MonthByTierResponse, tally__v1__month_by_tier_response__descriptor)
/* Purchases */
TALLY_DEFINE_CALL(save_package, TALLY_METHOD_SAVE_PACKAGE, Tally__V1__SavePackageRequest, Tally__V1__SavePackageResponse,
                  tally__v1__save_package_response__descriptor)
TALLY_DEFINE_CALL(deactivate_package, TALLY_METHOD_DEACTIVATE_PACKAGE, Tally__V1__DeactivatePackageRequest,
                  Tally__V1__DeactivatePackageResponse, tally__v1__deactivate_package_response__descriptor)
TALLY_DEFINE_CALL(list_packages, TALLY_METHOD_LIST_PACKAGES, Tally__V1__ListPackagesRequest, Tally__V1__ListPackagesResponse,
                  tally__v1__list_packages_response__descriptor)
TALLY_DEFINE_CALL(start_purchase, TALLY_METHOD_START_PURCHASE, Tally__V1__StartPurchaseRequest, Tally__V1__PurchaseResponse,
                  tally__v1__purchase_response__descriptor)
TALLY_DEFINE_CALL(complete_purchase, TALLY_METHOD_COMPLETE_PURCHASE, Tally__V1__CompletePurchaseRequest,
                  Tally__V1__PurchaseResponse, tally__v1__purchase_response__descriptor)
TALLY_DEFINE_CALL(fail_purchase, TALLY_METHOD_FAIL_PURCHASE, Tally__V1__FailPurchaseRequest, Tally__V1__PurchaseResponse,
                  tally__v1__purchase_response__descriptor)
TALLY_DEFINE_CALL(get_purchase, TALLY_METHOD_GET_PURCHASE, Tally__V1__GetPurchaseRequest, Tally__V1__PurchaseResponse,
                  tally__v1__purchase_response__descriptor)
TALLY_DEFINE_CALL(list_purchases, TALLY_METHOD_LIST_PURCHASES, Tally__V1__ListPurchasesRequest,
                  Tally__V1__ListPurchasesResponse, tally__v1__list_purchases_response__descriptor)
/* Predictions */
TALLY_DEFINE_CALL(commit, TALLY_METHOD_COMMIT, Tally__V1__CommitRequest, Tally__V1__CommitResponse,
                  tally__v1__commit_response__descriptor)
TALLY_DEFINE_CALL(cancel_commitment, TALLY_METHOD_CANCEL_COMMITMENT, Tally__V1__CancelCommitmentRequest,
                  Tally__V1__CommitResponse, tally__v1__commit_response__descriptor)
TALLY_DEFINE_CALL(resolve, TALLY_METHOD_RESOLVE, Tally__V1__ResolvePredictionRequest, Tally__V1__SettlePredictionResponse,
                  tally__v1__settle_prediction_response__descriptor)
TALLY_DEFINE_CALL(void_prediction, TALLY_METHOD_VOID, Tally__V1__VoidPredictionRequest, Tally__V1__SettlePredictionResponse,
                  tally__v1__settle_prediction_response__descriptor)
TALLY_DEFINE_CALL(close_prediction, TALLY_METHOD_CLOSE_PREDICTION, Tally__V1__ClosePredictionRequest,
                  Tally__V1__ClosePredictionResponse, tally__v1__close_prediction_response__descriptor)
TALLY_DEFINE_CALL(list_commitments, TALLY_METHOD_LIST_COMMITMENTS, Tally__V1__ListCommitmentsRequest,
                  Tally__V1__ListCommitmentsResponse, tally__v1__list_commitments_response__descriptor)
/* Memberships and priced actions */
TALLY_DEFINE_CALL(set_membership, TALLY_METHOD_SET_MEMBERSHIP, Tally__V1__SetMembershipRequest, Tally__V1__MembershipResponse,
                  tally__v1__membership_response__descriptor)
TALLY_DEFINE_CALL(get_membership, TALLY_METHOD_GET_MEMBERSHIP, Tally__V1__GetMembershipRequest, Tally__V1__MembershipResponse,
                  tally__v1__membership_response__descriptor)
TALLY_DEFINE_CALL(set_price, TALLY_METHOD_SET_PRICE, Tally__V1__SetPriceRequest, Tally__V1__SetPriceResponse,
                  tally__v1__set_price_response__descriptor)
TALLY_DEFINE_CALL(list_prices, TALLY_METHOD_LIST_PRICES, Tally__V1__ListPricesRequest, Tally__V1__ListPricesResponse,
                  tally__v1__list_prices_response__descriptor)
TALLY_DEFINE_CALL(spend_action, TALLY_METHOD_SPEND_ACTION, Tally__V1__SpendActionRequest, Tally__V1__SpendResponse,
                  tally__v1__spend_response__descriptor)
TALLY_DEFINE_CALL(list_audit, TALLY_METHOD_LIST_AUDIT, Tally__V1__ListAuditRequest, Tally__V1__ListAuditResponse,
                  tally__v1__list_audit_response__descriptor)
TALLY_DEFINE_CALL(reconcile, TALLY_METHOD_RECONCILE, Tally__V1__ReconcileRequest, Tally__V1__ReconcileResponse,
                  tally__v1__reconcile_response__descriptor)
TALLY_DEFINE_CALL(metrics, TALLY_METHOD_METRICS, Tally__V1__MetricsRequest, Tally__V1__MetricsResponse,
                  tally__v1__metrics_response__descriptor)
/* History */
TALLY_DEFINE_CALL(get_transaction, TALLY_METHOD_GET_TRANSACTION, Tally__V1__GetTransactionRequest,
                  Tally__V1__GetTransactionResponse, tally__v1__get_transaction_response__descriptor)
TALLY_DEFINE_CALL(list_transactions, TALLY_METHOD_LIST_TRANSACTIONS, Tally__V1__ListTransactionsRequest,
                  Tally__V1__ListTransactionsResponse, tally__v1__list_transactions_response__descriptor)
TALLY_DEFINE_CALL(stats, TALLY_METHOD_STATS, Tally__V1__StatsRequest, Tally__V1__StatsResponse,
                  tally__v1__stats_response__descriptor)
