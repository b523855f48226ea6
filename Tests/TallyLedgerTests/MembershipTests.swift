import Testing
import TallyLedger

/// Memberships and priced actions: a tier until an expiry, then the default tier;
/// an action's price for the user's tier now, the default tier's when the tier has none.
@Suite struct MembershipTests {
    func member(_ user: String, _ tier: String?, until expiresAt: Timestamp? = nil) -> Command {
        .setMembership(SetMembership(userID: user, tier: tier, expiresAt: expiresAt))
    }

    func price(_ action: String, _ tier: String, _ cost: Int64?) -> Command {
        .setActionPrice(SetActionPrice(action: action, tier: tier, cost: cost))
    }

    func act(_ user: String, _ action: String, key: String = "") -> Command {
        .spendAction(SpendAction(userID: user, action: action, idempotencyKey: key))
    }

    /// Prices: generate-post 5 on trial (the default tier), 2 on subscribed; translate only on subscribed.
    func priced() -> Ledger {
        var ledger = Ledger()
        for command in [price("generate-post", "trial", 5), price("generate-post", "subscribed", 2), price("translate", "subscribed", 7)] {
            _ = ledger.apply(command, at: t0)
        }
        _ = ledger.apply(credit("ann", 100), at: t0)
        return ledger
    }

    @Test func aMembershipGivesItsTierUntilItExpires() throws {
        var ledger = priced()
        let day: Timestamp = 86_400 * second
        guard case .membership(let status) = ledger.apply(member("ann", "subscribed", until: t0 + day), at: t0 + 1).outcome else {
            Issue.record("not a membership answer")
            return
        }
        #expect(status.tier == "subscribed" && status.active && status.membership?.expiresAt == t0 + day)
        #expect(ledger.tier(of: "ann", at: t0 + day - 1) == "subscribed")
        #expect(ledger.tier(of: "ann", at: t0 + day) == "trial", "the expiry is exclusive")
        let expired = ledger.membership(of: "ann", at: t0 + day)
        #expect(!expired.active && expired.membership?.tier == "subscribed" && expired.defaultTier == "trial")

        // The daily limit follows the tier.
        let jan = UsageDay.utc(containing: t0 + 2)
        #expect(ledger.usageStatus(of: "ann", on: jan, at: t0 + 2).limit == 100_000)
        #expect(ledger.usageStatus(of: "ann", on: UsageDay.utc(containing: t0 + day), at: t0 + day).limit == 10_000)
        let consumed = ledger.apply(.consume(Consume(userID: "ann", tokens: 50_000)), at: t0 + 3)
        guard case .usage(let receipt) = consumed.outcome else { Issue.record("refused: \(consumed.outcome)"); return }
        #expect(receipt.status.tier == "subscribed" && receipt.status.remaining == 50_000)

        // Ended: back on the default tier at once.
        _ = ledger.apply(member("ann", nil), at: t0 + 4)
        #expect(ledger.memberships["ann"] == nil && ledger.tier(of: "ann", at: t0 + 4) == "trial")
        expectInvariants(ledger)
    }

    @Test func membershipRefusalsChangeNothing() {
        var ledger = priced()
        let before = ledger
        #expect(ledger.apply(member("ann", "platinum"), at: t0 + 1).refusal?.reason == "TIER_NOT_FOUND")
        #expect(ledger.apply(member("ann", "subscribed", until: t0 + 1), at: t0 + 1).refusal?.reason == "EXPIRY_IN_PAST")
        #expect(ledger.apply(member("", "subscribed"), at: t0 + 1).refusal?.reason == "USER_ID_EMPTY")
        #expect(ledger.apply(member("ann", ""), at: t0 + 1).refusal?.reason == "TIER_EMPTY")
        #expect(ledger.apply(price("x", "platinum", 3), at: t0 + 1).refusal?.reason == "TIER_NOT_FOUND")
        #expect(ledger.apply(price("x", "trial", 0), at: t0 + 1).refusal?.reason == "PRICE_NOT_POSITIVE")
        #expect(ledger.apply(price("", "trial", 3), at: t0 + 1).refusal?.reason == "ACTION_EMPTY")
        #expect(ledger == before)
    }

    @Test func spendingByActionChargesTheTiersPrice() throws {
        var ledger = priced()
        let trial = try #require(ledger.apply(act("ann", "generate-post"), at: t0 + 1).receipt)
        #expect(trial.transaction.amount == 5 && trial.transaction.type == .spend)
        #expect(trial.transaction.action == "generate-post" && trial.transaction.tier == "trial" && trial.balance.account.available == 95)

        _ = ledger.apply(member("ann", "subscribed"), at: t0 + 2)
        let subscribed = try #require(ledger.apply(act("ann", "generate-post"), at: t0 + 3).receipt)
        #expect(subscribed.transaction.amount == 2 && subscribed.transaction.tier == "subscribed")
        #expect(ledger.apply(act("ann", "translate"), at: t0 + 4).receipt?.transaction.amount == 7)

        // A tier without a price pays the default tier's; without that either, NOT_FOUND.
        _ = ledger.apply(.changeUsage(.tierLimit(tier: "gold", tokens: 1)), at: t0 + 5)
        _ = ledger.apply(member("ann", "gold"), at: t0 + 5)
        #expect(ledger.apply(act("ann", "generate-post"), at: t0 + 6).receipt?.transaction.tier == "trial")
        let noPrice = try #require(ledger.apply(act("ann", "translate"), at: t0 + 7).refusal)
        #expect(noPrice.code == .notFound && noPrice.reason == "PRICE_NOT_FOUND" && noPrice.details["tier"] == "gold")
        let unknown = try #require(ledger.apply(act("ann", "dance"), at: t0 + 8).refusal)
        #expect(unknown.code == .notFound && unknown.reason == "ACTION_NOT_FOUND" && unknown.details["action"] == "dance")

        // Too poor: the refusal says what is missing, at the price of the tier.
        _ = ledger.apply(price("epic", "trial", 1_000), at: t0 + 9)
        let poor = try #require(ledger.apply(act("ann", "epic"), at: t0 + 10).refusal)
        #expect(poor.reason == "INSUFFICIENT_TOKENS" && poor.details["requested"] == "1000")
        expectInvariants(ledger)
    }

    @Test func aKeyedActionSpendIsChargedOnceEvenIfThePriceChanges() throws {
        var ledger = priced()
        let first = ledger.apply(act("ann", "generate-post", key: "post-1"), at: t0 + 1)
        _ = ledger.apply(price("generate-post", "trial", 9), at: t0 + 2)
        let retry = ledger.apply(act("ann", "generate-post", key: "post-1"), at: t0 + 3)
        #expect(retry.replayed && retry.outcome == first.outcome && ledger.balance(of: "ann").account.available == 95)
        let conflict = ledger.apply(act("ann", "translate", key: "post-1"), at: t0 + 4)
        #expect(conflict.refusal?.reason == "IDEMPOTENCY_KEY_CONFLICT")
    }

    @Test func removingTheLastPriceRemovesTheAction() throws {
        var ledger = priced()
        guard case .actionPrice(let left) = ledger.apply(price("generate-post", "trial", nil), at: t0 + 1).outcome else {
            Issue.record("not a price answer")
            return
        }
        #expect(left.costs == ["subscribed": 2])
        _ = ledger.apply(price("generate-post", "subscribed", nil), at: t0 + 2)
        #expect(ledger.actionPriceList().map(\.action) == ["translate"])
        #expect(ledger.apply(act("ann", "generate-post"), at: t0 + 3).refusal?.reason == "ACTION_NOT_FOUND")
        expectInvariants(ledger)
    }
}
