/// Versioned schema changes, applied in order inside one transaction each; `PRAGMA user_version`
/// records the last one applied. Append only: never edit a shipped migration.
enum Migrations {
    static let all: [String] = [
        // 1: users, API keys, audit.
        """
        CREATE TABLE users (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
            created_at  INTEGER NOT NULL,
            password    TEXT
        );
        CREATE TABLE api_keys (
            id            TEXT PRIMARY KEY,
            user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name          TEXT NOT NULL,
            secret_hash   BLOB NOT NULL,
            status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
            created_at    INTEGER NOT NULL,
            expires_at    INTEGER,
            scopes        TEXT NOT NULL DEFAULT '',
            allow_ips     TEXT NOT NULL DEFAULT '',
            last_used_at  INTEGER,
            last_used_ip  TEXT,
            use_count     INTEGER NOT NULL DEFAULT 0,
            UNIQUE (user_id, name)
        );
        CREATE INDEX api_keys_user ON api_keys(user_id);
        CREATE TABLE audit (
            id          INTEGER PRIMARY KEY,
            at          INTEGER NOT NULL,
            actor       TEXT NOT NULL,
            action      TEXT NOT NULL,
            target      TEXT,
            credential  TEXT,
            source_ip   TEXT,
            reason      TEXT,
            detail      TEXT,
            hash        BLOB NOT NULL
        );
        CREATE INDEX audit_at ON audit(at);
        """,
        // 2: token service: signing keys, OAuth2 clients, revoked access tokens.
        """
        CREATE TABLE signing_keys (
            kid             TEXT PRIMARY KEY,
            alg             TEXT NOT NULL,
            public_key      BLOB NOT NULL,
            private_sealed  BLOB NOT NULL,
            created_at      INTEGER NOT NULL,
            retired_at      INTEGER,
            published_until INTEGER
        );
        CREATE TABLE oauth_clients (
            id           TEXT PRIMARY KEY,
            user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name         TEXT NOT NULL,
            secret_hash  BLOB NOT NULL,
            status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
            created_at   INTEGER NOT NULL,
            expires_at   INTEGER,
            scopes       TEXT NOT NULL DEFAULT '',
            last_used_at INTEGER,
            use_count    INTEGER NOT NULL DEFAULT 0,
            tokens_valid_after INTEGER,
            UNIQUE (user_id, name)
        );
        ALTER TABLE api_keys ADD COLUMN tokens_valid_after INTEGER;
        CREATE TABLE revoked_tokens (
            jti        TEXT PRIMARY KEY,
            expires_at INTEGER NOT NULL
        );
        """,
        // 3: the access model (groups, roles and their privileges, resources and their audience),
        // consumer access requests, one-time reveal links, admin sessions, user e-mail addresses.
        """
        ALTER TABLE users ADD COLUMN email TEXT;
        ALTER TABLE api_keys ADD COLUMN expiry_notified_at INTEGER;
        CREATE TABLE groups (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            created_at  INTEGER NOT NULL
        );
        CREATE TABLE group_members (
            group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, user_id)
        );
        CREATE TABLE roles (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            created_at  INTEGER NOT NULL
        );
        CREATE TABLE role_privileges (
            role_id    INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
            privilege  TEXT NOT NULL,
            PRIMARY KEY (role_id, privilege)
        );
        CREATE TABLE role_grants (
            role_id   INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
            group_id  INTEGER REFERENCES groups(id) ON DELETE CASCADE,
            user_id   INTEGER REFERENCES users(id) ON DELETE CASCADE,
            CHECK ((group_id IS NULL) != (user_id IS NULL))
        );
        CREATE UNIQUE INDEX role_grants_group ON role_grants(role_id, group_id) WHERE group_id IS NOT NULL;
        CREATE UNIQUE INDEX role_grants_user ON role_grants(role_id, user_id) WHERE user_id IS NOT NULL;
        CREATE TABLE resources (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            path        TEXT NOT NULL UNIQUE,
            methods     TEXT NOT NULL DEFAULT '',
            anonymous   INTEGER NOT NULL DEFAULT 0,
            owner_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
            allow_ips   TEXT NOT NULL DEFAULT '',
            created_at  INTEGER NOT NULL
        );
        CREATE TABLE resource_audience (
            resource_id  INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
            group_id     INTEGER REFERENCES groups(id) ON DELETE CASCADE,
            user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
            CHECK ((group_id IS NULL) != (user_id IS NULL))
        );
        CREATE UNIQUE INDEX resource_audience_group ON resource_audience(resource_id, group_id) WHERE group_id IS NOT NULL;
        CREATE UNIQUE INDEX resource_audience_user ON resource_audience(resource_id, user_id) WHERE user_id IS NOT NULL;
        CREATE TABLE access_requests (
            id           INTEGER PRIMARY KEY,
            user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            resource_id  INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
            note         TEXT,
            status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
            created_at   INTEGER NOT NULL,
            decided_at   INTEGER,
            decided_by   TEXT,
            key_id       TEXT,
            expires_at   INTEGER
        );
        CREATE INDEX access_requests_status ON access_requests(status);
        CREATE TABLE reveal_links (
            token_hash     BLOB PRIMARY KEY,
            key_id         TEXT NOT NULL,
            sealed_secret  BLOB NOT NULL,
            expires_at     INTEGER NOT NULL
        );
        CREATE TABLE sessions (
            id_hash     BLOB PRIMARY KEY,
            user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            csrf_hash   BLOB NOT NULL,
            created_at  INTEGER NOT NULL,
            expires_at  INTEGER NOT NULL
        );
        """,
        // 4: audience entries that end (an approved access request lasts as long as its key).
        """
        ALTER TABLE resource_audience ADD COLUMN expires_at INTEGER;
        """,
        // 5: sessions also end after a while unused (idle expiry): when each was last used.
        """
        ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;
        UPDATE sessions SET last_seen_at = created_at;
        """,
        // 6: services, their credentials (service keys and JWT secrets, rotated by the rules of
        // `RotationSet`), and the secret an API key's roll replaced, valid until its grace ends.
        """
        CREATE TABLE services (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            scopes      TEXT NOT NULL DEFAULT '',
            allow_ips   TEXT NOT NULL DEFAULT '',
            created_at  INTEGER NOT NULL
        );
        CREATE INDEX services_owner ON services(owner_id);
        CREATE TABLE service_credentials (
            id             TEXT PRIMARY KEY,
            service_id     INTEGER NOT NULL REFERENCES services(id) ON DELETE CASCADE,
            type           TEXT NOT NULL CHECK (type IN ('service-key', 'jwt-secret')),
            status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
            sealed_secret  BLOB NOT NULL,
            secret_hash    BLOB,
            created_at     INTEGER NOT NULL,
            last_used_at   INTEGER,
            use_count      INTEGER NOT NULL DEFAULT 0,
            CHECK ((type = 'service-key') = (secret_hash IS NOT NULL))
        );
        CREATE INDEX service_credentials_service ON service_credentials(service_id, type);
        ALTER TABLE api_keys ADD COLUMN previous_secret_hash BLOB;
        ALTER TABLE api_keys ADD COLUMN previous_valid_until INTEGER;
        """,
        // 7: signed-request credentials (kwh_): an algorithm per credential, and its secrets in
        // rows of their own (an HMAC secret sealed under the master key, or an Ed25519 public key
        // as DER SubjectPublicKeyInfo), each with the state the rotation rules give it, so a
        // credential can hold two during a rotation. The check accepts active ones, and retiring
        // ones until retire_at.
        """
        CREATE TABLE request_keys (
            id            TEXT PRIMARY KEY,
            user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            name          TEXT NOT NULL,
            algorithm     TEXT NOT NULL CHECK (algorithm IN ('hmac-sha256', 'ed25519')),
            status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
            created_at    INTEGER NOT NULL,
            expires_at    INTEGER,
            scopes        TEXT NOT NULL DEFAULT '',
            allow_ips     TEXT NOT NULL DEFAULT '',
            last_used_at  INTEGER,
            last_used_ip  TEXT,
            use_count     INTEGER NOT NULL DEFAULT 0,
            UNIQUE (user_id, name)
        );
        CREATE INDEX request_keys_user ON request_keys(user_id);
        CREATE TABLE request_key_secrets (
            credential_id  TEXT NOT NULL REFERENCES request_keys(id) ON DELETE CASCADE,
            serial         INTEGER NOT NULL,
            state          TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'inactive', 'retiring')),
            retire_at      INTEGER,
            material       BLOB NOT NULL,
            created_at     INTEGER NOT NULL,
            PRIMARY KEY (credential_id, serial),
            CHECK ((state = 'retiring') = (retire_at IS NOT NULL))
        );
        """,
    ]

    /// Brings the database up to the latest version; returns how many migrations ran.
    @discardableResult
    static func migrate(_ db: Connection) throws -> Int {
        let current = try version(db)
        guard current <= all.count else {
            throw StoreError(code: 1, message: "database schema \(current) is newer than this keyward (\(all.count))")
        }
        for (index, sql) in all.enumerated() where index + 1 > current {
            try db.transaction {
                try db.execute(sql)
                try db.execute(SQLDialect.sqlite.writeSchemaVersion(index + 1))
            }
        }
        return all.count - current
    }

    static func version(_ db: Connection) throws -> Int {
        Int(try db.statement(SQLDialect.sqlite.readSchemaVersion).first { $0.int64(0) } ?? 0)
    }
}
