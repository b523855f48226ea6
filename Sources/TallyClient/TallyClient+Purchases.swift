import TallyWire

// tally.v1.Purchases: token packages and purchases.
extension TallyClient {
    public func savePackage(_ package: Tally_V1_TokenPackage, timeoutMs: UInt32 = 0) async throws -> Tally_V1_TokenPackage {
        let response: Tally_V1_SavePackageResponse = try await unary(
            .savePackage, Tally_V1_SavePackageRequest.with { $0.package = package }, timeoutMs: timeoutMs)
        return response.package
    }

    public func deactivatePackage(id: String, timeoutMs: UInt32 = 0) async throws -> Tally_V1_TokenPackage {
        let response: Tally_V1_DeactivatePackageResponse = try await unary(
            .deactivatePackage, Tally_V1_DeactivatePackageRequest.with { $0.packageID = id }, timeoutMs: timeoutMs)
        return response.package
    }

    public func listPackages(includeInactive: Bool = false, timeoutMs: UInt32 = 0) async throws -> [Tally_V1_TokenPackage] {
        let response: Tally_V1_ListPackagesResponse = try await unary(
            .listPackages, Tally_V1_ListPackagesRequest.with { $0.includeInactive = includeInactive }, timeoutMs: timeoutMs)
        return response.packages
    }

    public func startPurchase(userID: String, packageID: String, paymentID: String, timeoutMs: UInt32 = 0) async throws
        -> Tally_V1_PurchaseResponse
    {
        try await unary(
            .startPurchase,
            Tally_V1_StartPurchaseRequest.with {
                $0.userID = userID
                $0.packageID = packageID
                $0.paymentID = paymentID
            }, timeoutMs: timeoutMs)
    }

    /// Credits the purchase's tokens exactly once; a retry answers the same purchase with
    /// `alreadyDone`.
    public func completePurchase(paymentID: String, timeoutMs: UInt32 = 0) async throws -> Tally_V1_PurchaseResponse {
        try await unary(.completePurchase, Tally_V1_CompletePurchaseRequest.with { $0.paymentID = paymentID }, timeoutMs: timeoutMs)
    }

    public func failPurchase(paymentID: String, reason: String, timeoutMs: UInt32 = 0) async throws -> Tally_V1_PurchaseResponse {
        try await unary(
            .failPurchase,
            Tally_V1_FailPurchaseRequest.with {
                $0.paymentID = paymentID
                $0.reason = reason
            }, timeoutMs: timeoutMs)
    }

    public func getPurchase(paymentID: String, timeoutMs: UInt32 = 0) async throws -> Tally_V1_Purchase {
        let response: Tally_V1_PurchaseResponse = try await unary(
            .getPurchase, Tally_V1_GetPurchaseRequest.with { $0.paymentID = paymentID }, timeoutMs: timeoutMs)
        return response.purchase
    }

    public func listPurchases(userID: String, limit: UInt32 = 0, timeoutMs: UInt32 = 0) async throws -> [Tally_V1_Purchase] {
        let response: Tally_V1_ListPurchasesResponse = try await unary(
            .listPurchases,
            Tally_V1_ListPurchasesRequest.with {
                $0.userID = userID
                $0.limit = limit
            }, timeoutMs: timeoutMs)
        return response.purchases
    }
}
