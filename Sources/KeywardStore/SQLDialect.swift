/// The SQL that differs between database engines, in one place: the rest of the store's SQL is
/// what SQLite and PostgreSQL read alike (`?` parameters are bound by the connection; `ON
/// CONFLICT ... DO UPDATE`, `CASE`, `coalesce` and `||` are shared). A second backend provides
/// its own dialect value and its own migrations (schema DDL is per engine).
public struct SQLDialect: Sendable {
    /// `INSERT` that leaves an existing row alone (a duplicate is no error): SQLite's
    /// `INSERT OR IGNORE INTO t (...) VALUES (...)`, PostgreSQL's `... ON CONFLICT DO NOTHING`.
    public let insertIgnoring: @Sendable (_ table: String, _ columns: String, _ values: String) -> String
    /// The larger of two values: SQLite's scalar `max(a, b)`, PostgreSQL's `GREATEST(a, b)`.
    public let greatest: @Sendable (_ a: String, _ b: String) -> String
    /// A column that orders rows by insertion, for ties: SQLite's `rowid`.
    public let insertionOrder: String
    /// The statement that reads the schema version, one integer.
    public let readSchemaVersion: String
    /// The statement that records schema version `n` (inside the migration's transaction).
    public let writeSchemaVersion: @Sendable (_ n: Int) -> String

    /// SQLite 3.
    public static let sqlite = SQLDialect(
        insertIgnoring: { table, columns, values in "INSERT OR IGNORE INTO \(table) (\(columns)) VALUES (\(values))" },
        greatest: { a, b in "max(\(a), \(b))" },
        insertionOrder: "rowid",
        readSchemaVersion: "PRAGMA user_version",
        writeSchemaVersion: { n in "PRAGMA user_version = \(n)" })
}
