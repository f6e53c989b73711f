/// The store's tables. `PRAGMA user_version` records which version of this
/// schema a file holds, so a later release can migrate it.
enum Schema {
    static let version: Int64 = 1

    /// Version 1. Values are AES-GCM blobs; names, paths and slugs are plain
    /// text so they can be indexed and listed. The root folder "/" of an
    /// environment has no row: it exists whenever the environment does.
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
            PRIMARY KEY (project_id, environment, path, name, type),
            FOREIGN KEY (project_id, environment) REFERENCES environments(project_id, slug) ON DELETE CASCADE
        );
        """
}
