public import Foundation

/// Where `CachingBackend` keeps the last good copy of what it read, across
/// restarts (`-o offline_cache=`): served, marked stale, while the backend
/// cannot be reached and memory holds nothing. Best effort: an
/// implementation logs its own failures and never throws.
public protocol OfflineCopies: Sendable {
    /// Keeps `listing` as saved at `savedAt` (its fetch, or the write through
    /// this mount that changed it), unless a copy saved later is already
    /// kept: older data never replaces newer.
    func saveListing(_ listing: FolderListing, of location: SecretLocation, savedAt: Date)
    func listing(of location: SecretLocation) -> (listing: FolderListing, savedAt: Date)?
    /// The same for the project list.
    func saveProjects(_ projects: [Project], savedAt: Date)
    func projects() -> (projects: [Project], savedAt: Date)?
    /// What `/.status` shows of it (path, entries); never a value.
    var status: StatusValue { get }
}
