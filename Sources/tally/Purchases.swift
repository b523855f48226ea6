import ArgumentParser
import Foundation
import TallyClient
import TallyWire

/// `tally packages`, `tally package save|deactivate`, `tally purchase start|complete|fail|show`,
/// `tally purchases USER`.
func describe(_ p: Tally_V1_TokenPackage) -> String {
    let price = String(format: "%d.%02d %@", p.priceCents / 100, p.priceCents % 100, p.currency)
    return "\(p.id): \(p.name), \(p.tokens) tokens" + (p.bonusTokens > 0 ? " + \(p.bonusTokens) bonus" : "") + " for \(price)"
        + (p.externalPriceID.isEmpty ? "" : " (\(p.externalPriceID))") + (p.active ? "" : " [inactive]")
}

func describe(_ p: Tally_V1_Purchase) -> String {
    let status = switch p.status {
    case .pending: "pending"
    case .completed: "completed"
    case .failed: "failed (\(p.failureReason))"
    default: "status \(p.status.rawValue)"
    }
    var line = "purchase \(p.id) of \(p.packageID) by \(p.userID), payment \(p.paymentID): \(status), \(p.tokens + p.bonusTokens) tokens"
    if p.hasTransaction { line += ", credited in transaction \(p.transaction.id): \(p.balance.available) available" }
    return line
}

struct PackagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "packages", abstract: "List the token packages for sale, in display order.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Include inactive packages.") var all = false

    func run() async throws {
        try await global.run({ client in
            let packages = try await client.listPackages(includeInactive: all, timeoutMs: global.timeoutMs)
            return Tally_V1_ListPackagesResponse.with { $0.packages = packages }
        }, human: { $0.packages.isEmpty ? "no packages" : $0.packages.map(describe).joined(separator: "\n") })
    }
}

struct PackageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package", abstract: "Create, update or deactivate a token package (admin).",
        subcommands: [SavePackageCommand.self, DeactivatePackageCommand.self])
}

struct SavePackageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Create a package, or update the one with this id.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Package id.") var id: String
    @Option(help: "Display name.") var name: String
    @Option(help: "Tokens in the package.") var tokens: Int64
    @Option(help: "Bonus tokens on top.") var bonus: Int64 = 0
    @Option(help: "Price in cents (the currency's minor unit).") var priceCents: Int64
    @Option(help: "ISO 4217 currency.") var currency = "USD"
    @Option(help: "The payment provider's price id.") var priceID = ""
    @Option(help: "Display order (lower first).") var sort: Int32 = 0
    @Flag(help: "Save it inactive (not for sale).") var inactive = false

    func run() async throws {
        let package = Tally_V1_TokenPackage.with {
            $0.id = id
            $0.name = name
            $0.tokens = tokens
            $0.bonusTokens = bonus
            $0.priceCents = priceCents
            $0.currency = currency
            $0.externalPriceID = priceID
            $0.sortOrder = sort
            $0.active = !inactive
        }
        try await global.run({ client in
            let saved = try await client.savePackage(package, timeoutMs: global.timeoutMs)
            return Tally_V1_SavePackageResponse.with { $0.package = saved }
        }, human: { "saved " + describe($0.package) })
    }
}

struct DeactivatePackageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deactivate", abstract: "Take a package off sale.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Package id.") var id: String

    func run() async throws {
        try await global.run({ client in
            let package = try await client.deactivatePackage(id: id, timeoutMs: global.timeoutMs)
            return Tally_V1_DeactivatePackageResponse.with { $0.package = package }
        }, human: { "deactivated " + describe($0.package) })
    }
}

struct PurchaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purchase", abstract: "Start, complete, fail or show a purchase.",
        subcommands: [StartPurchaseCommand.self, CompletePurchaseCommand.self, FailPurchaseCommand.self, ShowPurchaseCommand.self])
}

func purchaseLine(_ r: Tally_V1_PurchaseResponse) -> String {
    describe(r.purchase) + (r.alreadyDone ? " (already done: nothing changed)" : "")
}

struct StartPurchaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Open a pending purchase of a package.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Package id.") var package: String
    @Argument(help: "The payment provider's id for this payment.") var payment: String

    func run() async throws {
        try await global.run({
            try await $0.startPurchase(userID: user, packageID: package, paymentID: payment, timeoutMs: global.timeoutMs)
        }, human: purchaseLine)
    }
}

struct CompletePurchaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complete", abstract: "Complete a purchase from its payment id: credits its tokens exactly once.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Payment id.") var payment: String

    func run() async throws {
        try await global.run({ try await $0.completePurchase(paymentID: payment, timeoutMs: global.timeoutMs) }, human: purchaseLine)
    }
}

struct FailPurchaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fail", abstract: "Fail a pending purchase.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Payment id.") var payment: String
    @Argument(help: "Why it failed.") var reason: String

    func run() async throws {
        try await global.run({ try await $0.failPurchase(paymentID: payment, reason: reason, timeoutMs: global.timeoutMs) }, human: purchaseLine)
    }
}

struct ShowPurchaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the purchase paid by a payment id.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "Payment id.") var payment: String

    func run() async throws {
        try await global.run({ client in
            let purchase = try await client.getPurchase(paymentID: payment, timeoutMs: global.timeoutMs)
            return Tally_V1_PurchaseResponse.with { $0.purchase = purchase }
        }, human: purchaseLine)
    }
}

struct PurchasesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "purchases", abstract: "A user's purchases, newest first.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Option(help: "At most this many (0: 50, at most 1000).") var limit: UInt32 = 0

    func run() async throws {
        try await global.run({ client in
            let purchases = try await client.listPurchases(userID: user, limit: limit, timeoutMs: global.timeoutMs)
            return Tally_V1_ListPurchasesResponse.with { $0.purchases = purchases }
        }, human: { $0.purchases.isEmpty ? "no purchases" : $0.purchases.map(describe).joined(separator: "\n") })
    }
}
