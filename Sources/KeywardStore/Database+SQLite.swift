internal import CSQLite
import KeywardCore

/// A failure of the database itself. Never carries bound values (hashes, secrets), only SQLite's
/// code and message, which name no data.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// SQLite's (extended) result code, or 1 for failures Keyward reports itself.
    public let code: Int32
    /// SQLite's message (or Keyward's); never a bound value.
    public let message: String
    /// True for UNIQUE / FOREIGN KEY / CHECK violations, which callers turn into refusals.
    public var isConstraint: Bool { code & 0xFF == SQLITE_CONSTRAINT }
    /// SQLITE_CONSTRAINT_UNIQUE: a UNIQUE index refused the row (not the primary key, not a CHECK).
    public static let uniqueViolation: Int32 = 2067
    /// Code and message only; safe to log.
    public var description: String { "database error \(code): \(message)" }
}

/// One SQLite connection. Not Sendable: each worker thread opens its own (STYLE.md, GRDB model).
@safe public final class Connection {
    fileprivate let handle: OpaquePointer
    private var statements: [String: Statement] = [:]
    /// Called after each commit of a change (an explicit transaction or a lone write statement);
    /// its error is the caller's error, though the change itself stays committed.
    public var onCommit: (() throws -> Void)?

    /// Opens (creating if asked) the database at `path` with WAL, a busy timeout and foreign keys.
    public init(path: String, create: Bool = false, readOnly: Bool = false) throws {
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create { flags |= SQLITE_OPEN_CREATE }
        let rc = unsafe sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db = unsafe db else {
            let message = unsafe db.map { unsafe String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            unsafe sqlite3_close_v2(db)
            throw StoreError(code: rc, message: "\(message) (\(path))")
        }
        unsafe handle = unsafe db
        unsafe sqlite3_extended_result_codes(db, 1)
        unsafe sqlite3_busy_timeout(db, 5_000)
        try execute("PRAGMA foreign_keys = ON")
        if !readOnly {
            try execute("PRAGMA journal_mode = WAL")
            try execute("PRAGMA synchronous = NORMAL")
        }
    }

    deinit {
        statements.removeAll()
        unsafe sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that bind nothing and return nothing.
    public func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = unsafe sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = unsafe errorMessage.map { unsafe String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            unsafe sqlite3_free(errorMessage)
            throw StoreError(code: rc, message: message)
        }
    }

    /// A prepared statement, cached per connection by its SQL text.
    public func statement(_ sql: String) throws -> Statement {
        if let cached = statements[sql] { return cached }
        let statement = try Statement(connection: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` in an IMMEDIATE transaction; commits on return, rolls back and rethrows the first error.
    /// Inside an open transaction it simply joins it. `onCommit` runs only when rows changed, so a
    /// transaction that only read (a reveal page for an unknown link, say) does not stamp a change.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        if unsafe sqlite3_get_autocommit(handle) == 0 { return try body() }
        try execute("BEGIN IMMEDIATE")
        let before = unsafe sqlite3_total_changes64(handle)
        do {
            let result = try body()
            try execute("COMMIT")
            if unsafe sqlite3_total_changes64(handle) != before { try onCommit?() }
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// True outside an explicit transaction.
    var isAutocommit: Bool { unsafe sqlite3_get_autocommit(handle) != 0 }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int { unsafe Int(sqlite3_changes(handle)) }
    /// The rowid of the last row this connection inserted.
    public var lastInsertRowId: Int64 { unsafe sqlite3_last_insert_rowid(handle) }

    /// Changes when another connection (any process) has committed since the last call
    /// (`PRAGMA data_version`); a cheap read of the WAL index.
    public func dataVersion() throws -> Int64 {
        try statement("PRAGMA data_version").first { $0.int64(0) } ?? 0
    }

    fileprivate func error(_ rc: Int32) -> StoreError {
        unsafe StoreError(code: rc, message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// A value to bind to a statement parameter.
public enum SQLValue: Sendable {
    case null, integer(Int64), text(String), blob([UInt8])
}

/// A prepared statement. Owns its handle and finalizes it in `deinit`; not Sendable.
@safe public final class Statement {
    private let handle: OpaquePointer
    private unowned let connection: Connection

    fileprivate init(connection: Connection, sql: String) throws {
        var stmt: OpaquePointer?
        let rc = unsafe sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt = unsafe stmt else { throw connection.error(rc) }
        unsafe self.handle = unsafe stmt
        self.connection = connection
    }

    deinit { unsafe sqlite3_finalize(handle) }

    private func reset() {
        unsafe sqlite3_reset(handle)
        unsafe sqlite3_clear_bindings(handle)
    }

    /// Binds `values` to parameters 1...n, after resetting the statement.
    private func bind(_ values: [SQLValue]) throws {
        reset()
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = unsafe sqlite3_bind_null(handle, index)
            case .integer(let v): rc = unsafe sqlite3_bind_int64(handle, index, v)
            case .text(let v):
                // SQLITE_TRANSIENT: SQLite copies the bytes before the buffer goes away.
                rc = unsafe v.utf8CString.withUnsafeBufferPointer {
                    unsafe keyward_sqlite3_bind_text_transient(handle, index, $0.baseAddress, Int32($0.count - 1))
                }
            case .blob(let v):
                rc = unsafe v.withUnsafeBufferPointer {
                    unsafe keyward_sqlite3_bind_blob_transient(handle, index, $0.baseAddress ?? UnsafePointer(bitPattern: 1), Int32($0.count))
                }
            }
            if rc != SQLITE_OK { throw connection.error(rc) }
        }
    }

    /// Advances to the next row; false when done.
    private func step() throws -> Bool {
        let rc = unsafe sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = connection.error(rc)
            unsafe sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs to completion, ignoring rows.
    public func run(_ values: [SQLValue] = []) throws {
        try bind(values)
        defer { unsafe sqlite3_reset(handle) }
        while try step() {}
        if unsafe sqlite3_stmt_readonly(handle) == 0 && connection.isAutocommit { try connection.onCommit?() }
    }

    /// Calls `each` for every row. The statement is reset afterwards, which ends its read
    /// transaction: a statement left mid-rows would pin an old WAL snapshot.
    public func forEach(_ values: [SQLValue] = [], _ each: (Statement) throws -> Void) throws {
        try bind(values)
        defer { unsafe sqlite3_reset(handle) }
        while try step() { try each(self) }
    }

    /// Maps every row.
    public func map<T>(_ values: [SQLValue] = [], _ transform: (Statement) throws -> T) throws -> [T] {
        var out: [T] = []
        try forEach(values) { out.append(try transform($0)) }
        return out
    }

    /// The first row mapped, or nil when there is none; the statement is reset either way.
    public func first<T>(_ values: [SQLValue] = [], _ transform: (Statement) throws -> T) throws -> T? {
        try bind(values)
        defer { unsafe sqlite3_reset(handle) }
        return try step() ? try transform(self) : nil
    }

    /// True when `column` (0-based) of the current row is SQL NULL.
    ///
    /// Like every column reader here, valid only inside a `forEach` / `map` / `first` row closure.
    public func isNull(_ column: Int32) -> Bool { unsafe sqlite3_column_type(handle, column) == SQLITE_NULL }
    /// The column as a 64-bit integer; 0 for NULL.
    public func int64(_ column: Int32) -> Int64 { unsafe sqlite3_column_int64(handle, column) }
    /// The column as a 64-bit integer, or nil for NULL.
    public func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    /// The column as UTF-8 text (invalid bytes replaced); "" for NULL.
    public func text(_ column: Int32) -> String {
        guard let p = unsafe sqlite3_column_text(handle, column) else { return "" }
        let n = unsafe Int(sqlite3_column_bytes(handle, column))
        // The column's n bytes stay valid until the next step or reset; they are copied at once.
        return unsafe String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// The column as text, or nil for NULL.
    public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// A copy of the column's bytes; empty for NULL or a zero-length blob.
    public func blob(_ column: Int32) -> [UInt8] {
        let n = unsafe Int(sqlite3_column_bytes(handle, column))
        guard n > 0, let p = unsafe sqlite3_column_blob(handle, column) else { return [] }
        // As in text(_:): n valid bytes, copied before the statement moves on.
        return unsafe Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}
