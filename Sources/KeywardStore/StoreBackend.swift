/// The database engines this build can keep Keyward's state in. The composition root (the CLI,
/// `serve`) picks one; the store and admin tests run once per case, so a second backend is
/// proven by the same tests the first one passes.
public enum StoreBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    /// One SQLite file (WAL), shared by the processes of one host.
    case sqlite

    public var description: String { rawValue }

    /// Creates the database at `location` if it does not exist and brings its schema up to date;
    /// returns how many migrations ran.
    @discardableResult
    public func initialize(_ location: String) throws -> Int {
        switch self {
        case .sqlite: try Store.initialize(path: location)
        }
    }

    /// Opens the database at `location` for the admin operations.
    public func open(_ location: String) throws -> any AdminStore {
        switch self {
        case .sqlite: try Store(path: location)
        }
    }
}
