import PostgresNIO

/// The command log's tables (docs/operations.md, "Several hosts"):
///
/// - `tally_log_head`: one row, the last position handed out. Appending updates it in the same
///   statement as the INSERT, so the row lock orders the appenders: the next one reads the
///   position the last one committed, commit order and log order agree, and there are no gaps.
/// - `tally_log`: one row per group commit of one node, its records at first..last, and the
///   chain hash through it: `sha256(previous chain || records)`, the previous chain kept in the
///   head row, so each row names the whole history before it (`LogBatch.chain`).
/// - `tally_nodes`: every node's snapshot position; rows all of them cover are deleted.
enum LogSchema {
    /// Taken while creating the tables, so that nodes starting together do not race.
    static let setupLock: Int64 = 0x7a11_1095

    static let statements: [PostgresQuery] = [
        """
        CREATE TABLE IF NOT EXISTS tally_log_head (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            last_sequence bigint NOT NULL)
        """,
        "INSERT INTO tally_log_head (id, last_sequence) VALUES (true, 0) ON CONFLICT DO NOTHING",
        """
        CREATE TABLE IF NOT EXISTS tally_log (
            first_sequence bigint PRIMARY KEY,
            last_sequence bigint NOT NULL,
            node text NOT NULL,
            boot bigint NOT NULL,
            batch bigint NOT NULL,
            proposals bigint[] NOT NULL,
            records bytea NOT NULL,
            written_at timestamptz NOT NULL DEFAULT now())
        """,
        // The chain hashes came after the first tables: added where they are missing.
        "ALTER TABLE tally_log_head ADD COLUMN IF NOT EXISTS chain bytea NOT NULL DEFAULT ''::bytea",
        "ALTER TABLE tally_log ADD COLUMN IF NOT EXISTS chain bytea NOT NULL DEFAULT ''::bytea",
        """
        CREATE TABLE IF NOT EXISTS tally_nodes (
            node text PRIMARY KEY,
            applied_sequence bigint NOT NULL,
            snapshot_sequence bigint NOT NULL,
            seen_at timestamptz NOT NULL DEFAULT now())
        """,
        """
        CREATE OR REPLACE FUNCTION tally_log_written() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('tally_log', '');
            RETURN NULL;
        END $$
        """,
        """
        CREATE OR REPLACE TRIGGER tally_log_written AFTER INSERT ON tally_log
            FOR EACH STATEMENT EXECUTE FUNCTION tally_log_written()
        """,
    ]

    /// The channel every committed append notifies (the trigger above; sent at commit).
    static let channel = "tally_log"

    /// Returns the row's first position and its chain hash.
    static func append(count: Int64, node: String, boot: Int64, batch: Int64, proposals: [Int64], records: ByteBuffer) -> PostgresQuery {
        """
        WITH input AS (SELECT \(records)::bytea AS records),
        head AS (
            UPDATE tally_log_head SET last_sequence = last_sequence + \(count), chain = sha256(chain || (SELECT records FROM input))
            RETURNING last_sequence, chain)
        INSERT INTO tally_log (first_sequence, last_sequence, node, boot, batch, proposals, records, chain)
        SELECT head.last_sequence - \(count) + 1, head.last_sequence, \(node), \(boot), \(batch), \(proposals), input.records, head.chain
        FROM head, input
        RETURNING first_sequence, chain
        """
    }

    static func rows(after position: Int64, limit: Int64) -> PostgresQuery {
        """
        SELECT first_sequence, node, boot, proposals, records, chain FROM tally_log
        WHERE first_sequence > \(position) ORDER BY first_sequence LIMIT \(limit)
        """
    }

    static let head: PostgresQuery = "SELECT last_sequence FROM tally_log_head"
    static let oldest: PostgresQuery = "SELECT coalesce(min(first_sequence), 0) FROM tally_log"

    static func batchCount(node: String, boot: Int64, batch: Int64) -> PostgresQuery {
        "SELECT count(*) FROM tally_log WHERE node = \(node) AND boot = \(boot) AND batch = \(batch)"
    }

    static func register(node: String, applied: Int64, snapshot: Int64) -> PostgresQuery {
        """
        INSERT INTO tally_nodes (node, applied_sequence, snapshot_sequence) VALUES (\(node), \(applied), \(snapshot))
        ON CONFLICT (node) DO UPDATE SET applied_sequence = excluded.applied_sequence,
            snapshot_sequence = excluded.snapshot_sequence, seen_at = now()
        """
    }

    /// Deletes up to `limit` of the oldest rows every registered node's snapshot covers.
    static func prune(limit: Int64) -> PostgresQuery {
        """
        DELETE FROM tally_log WHERE first_sequence IN (
            SELECT first_sequence FROM tally_log
            WHERE last_sequence <= (SELECT coalesce(min(snapshot_sequence), 0) FROM tally_nodes)
            ORDER BY first_sequence LIMIT \(limit))
        RETURNING first_sequence
        """
    }
}
