import Foundation

/// The store's tables. `PRAGMA user_version` records which version of this
/// schema a file holds; an older file is migrated when it is opened.
enum Schema {
    static let version: Int64 = 3

    /// Version 3. Values and comments are AES-GCM blobs; names, paths and
    /// slugs are plain text so they can be indexed and listed. The root folder
    /// "/" of an environment has no row: it exists whenever the environment
    /// does. A comment is NULL when there is none. `settings` holds the key
    /// check (`keyCheckName`).
    static let create = """
        CREATE TABLE projects (
            id TEXT PRIMARY KEY NOT NULL,
            slug TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE environments (
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            slug TEXT NOT NULL,
            name TEXT NOT NULL,
            position INTEGER NOT NULL,
            PRIMARY KEY (project_id, slug)
        );
        CREATE TABLE folders (
            project_id TEXT NOT NULL,
            environment TEXT NOT NULL,
            path TEXT NOT NULL,
            PRIMARY KEY (project_id, environment, path),
            FOREIGN KEY (project_id, environment) REFERENCES environments(project_id, slug) ON DELETE CASCADE
        );
        CREATE TABLE secrets (
            project_id TEXT NOT NULL,
            environment TEXT NOT NULL,
            path TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL CHECK (type IN ('shared', 'personal')),
            value BLOB NOT NULL,
            version INTEGER NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            secret_id TEXT NOT NULL,
            comment BLOB,
            PRIMARY KEY (project_id, environment, path, name, type),
            FOREIGN KEY (project_id, environment) REFERENCES environments(project_id, slug) ON DELETE CASCADE
        );
        \(createSettings)
        """

    static let createSettings = "CREATE TABLE settings (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);"

    /// The `settings` row that proves the key: `keyCheckPlaintext` sealed
    /// with the store's key, bound to `keyCheckAssociatedData`. Written when
    /// the store is made, or at the first opening of an older one.
    static let keyCheckName = "key_check"
    static let keyCheckPlaintext = Array("infisicalfs local store".utf8)
    static let keyCheckAssociatedData = Array("infisicalfs key check 1".utf8)

    /// Brings a file of an older `version` up to `Schema.version`, step by
    /// step, inside the transaction that opened it; every value is kept.
    static func migrate(_ db: Database, from version: Int64) throws {
        if version < 2 {
            // 1 → 2: each secret gets a stable ID and room for a sealed comment
            // (none yet: NULL). ADD COLUMN needs a default for NOT NULL; every
            // row gets its own ID right away.
            try db.execute(
                """
                ALTER TABLE secrets ADD COLUMN secret_id TEXT NOT NULL DEFAULT '';
                ALTER TABLE secrets ADD COLUMN comment BLOB;
                """)
            let rows = try db.query("SELECT rowid FROM secrets") { $0.integer(0) }
            for row in rows {
                try db.run("UPDATE secrets SET secret_id = ? WHERE rowid = ?", .text(newSecretID()), .integer(row))
            }
        }
        if version < 3 {
            // 2 → 3: room for the key check, which the opening writes next
            // (it needs the key; the migration does not).
            try db.execute(createSettings)
        }
    }

    /// A new secret's ID: a lowercase UUID, like Infisical's.
    static func newSecretID() -> String { UUID().uuidString.lowercased() }
}
