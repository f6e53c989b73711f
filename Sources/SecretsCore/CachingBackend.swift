public import Foundation
public import Logging
import Synchronization

/// A read-through cache in front of any backend. One list call fills every
/// secret of a folder; entries live `ttl`, and a refetch restarts the timer.
/// Writes go through to the backend and then update the cache with what the
/// backend stored. When the backend cannot be reached (or its login is
/// refused and backing off), expired entries are served instead of an error
/// (for at most `maxStale` seconds after they expired), with one log line.
public final class CachingBackend: SecretBackend {
    private struct Entry<Value: Sendable>: Sendable {
        let value: Value
        let fetchedAt: Date
    }

    private struct State: Sendable {
        var projects: Entry<[Project]>?
        var projectsByReference: [String: Entry<Project>] = [:]
        /// Project names the backend said do not exist, and when: a shell
        /// probing the root for names does not ask again within the TTL.
        var missingProjects: [String: Date] = [:]
        /// After a failure to reach the backend, reads that have a cached
        /// entry serve it without asking again until this time.
        var unreachableUntil: Date?
        /// The last fetch failed because the backend could not be reached, and
        /// no call has reached it since: expired entries are standing in.
        var unreachable = false
        var listings: [SecretLocation: Entry<FolderListing>] = [:]
        var secrets: [SecretKey: Entry<Secret>] = [:]
        var figures = Figures()
        /// When each folder last changed through this mount: a listing whose
        /// fetch started before that is not kept as fresh (it may predate the change).
        var changed: [SecretLocation: Date] = [:]
    }

    /// What `/.status` shows of the cache.
    private struct Figures: Sendable {
        /// Reads answered from a fresh entry.
        var hits = 0
        /// Reads that found no fresh entry (and asked, or waited for a fetch).
        var misses = 0
        /// Expired entries served because the backend could not be reached.
        var staleServed = 0
        var lastRefresh: Date?
        var lastFailure: Date?
    }

    private struct SecretKey: Hashable, Sendable {
        let location: SecretLocation
        let name: ExactName

        init(location: SecretLocation, name: String) {
            self.location = location
            self.name = ExactName(name)
        }
    }

    private let backend: any SecretBackend
    private let ttl: TimeInterval
    private let maxStale: TimeInterval
    /// The last good copies kept across restarts (`-o offline_cache=`).
    private let offline: (any OfflineCopies)?
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())
    /// Fetches under way, by what they fetch: concurrent misses of one entry make one request.
    private let flights = Mutex<[ExactName: Flight]>([:])

    /// Seconds during which, after the backend could not be reached, reads
    /// with a cached entry serve it without asking again: one slow failure,
    /// not one per file.
    public static let unreachableBackoff: TimeInterval = 5

    /// - Parameters:
    ///   - ttl: seconds an entry stays fresh; 0 disables the cache.
    ///   - maxStale: seconds after it expired that an entry may still be
    ///     served while the backend cannot be reached; 0 never serves one.
    ///   - now: the clock, replaceable in tests.
    public init(
        _ backend: any SecretBackend, ttl: TimeInterval, maxStale: TimeInterval = .infinity,
        offline: (any OfflineCopies)? = nil, logger: Logger = .disabled,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.offline = offline
        self.backend = backend
        self.ttl = ttl
        self.maxStale = maxStale
        self.logger = logger
        self.now = now
    }

    public var capabilities: BackendCapabilities { backend.capabilities }

    // MARK: Reads

    public func listProjects() throws -> [Project] {
        let keeping = offline.map { offline in
            Keeping<[Project]>(
                save: { offline.saveProjects($0, savedAt: $1) }, load: { offline.projects().map { ($0.projects, $0.savedAt) } })
        }
        return try cached(\.projects, fetch: backend.listProjects, what: "project list", keeping: keeping)
    }

    public func project(_ reference: String) throws -> Project {
        if let projects = fresh(state.withLock { $0.projects }),
            let project = projects.first(where: { $0.isNamed(reference) })
        {
            count(\.hits)
            return project
        }
        // One listing of the projects answers every name, by ID or slug, in
        // one call; a project missing from it is then asked for by name.
        if ttl > 0, let project = try? listProjects().first(where: { $0.isNamed(reference) }) {
            return project
        }
        if let missingSince = state.withLock({ $0.missingProjects[reference] }), now().timeIntervalSince(missingSince) < ttl {
            count(\.hits)
            throw BackendError.notFound("no project '\(reference)'")
        }
        let project: Project
        do {
            project = try cached(
                \.projectsByReference[reference], fetch: { try backend.project(reference) }, what: "project \(reference)")
        } catch {
            if ttl > 0, (error as? BackendError)?.kind == .notFound {
                let stamp = now()
                state.withLock { $0.missingProjects[reference] = stamp }
            }
            throw error
        }
        // Known by its ID and its slug from now on.
        if ttl > 0, let entry = state.withLock({ $0.projectsByReference[reference] }) {
            state.withLock {
                $0.projectsByReference[project.id] = entry
                $0.projectsByReference[project.slug] = entry
            }
        }
        return project
    }

    public func listFolder(_ location: SecretLocation) throws -> FolderListing {
        let keeping = offline.map { offline in
            Keeping<FolderListing>(
                save: { offline.saveListing($0, of: location, savedAt: $1) },
                load: { offline.listing(of: location).map { ($0.listing, $0.savedAt) } })
        }
        return try cached(
            \.listings[location], fetch: { try backend.listFolder(location) }, what: "folder \(location)",
            keeping: keeping, changedSince: { start in self.state.withLock { ($0.changed[location] ?? .distantPast) >= start } })
    }

    public func getSecret(_ name: String, in location: SecretLocation) throws -> Secret {
        let key = SecretKey(location: location, name: name)
        let (listing, freshListing, _) = read(\.listings[location], countingMisses: false)
        if let listing = freshListing {
            guard let secret = listing.secret(named: name) else {
                throw BackendError.notFound("no secret '\(name)' in \(location)")
            }
            return secret
        }
        // An expired listing that holds the secret can stand in for it, like
        // its own expired entry, while the backend cannot be reached.
        return try cached(
            \.secrets[key], standIn: listing.flatMap { Self.entry(of: name, in: $0) },
            fetch: { try backend.getSecret(name, in: location) }, what: "secret \(location)/\(name)")
    }

    // MARK: Writes

    public func createSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        let secret = try uncertain(location) { try backend.createSecret(name, value: value, in: location) }
        remember(secret, in: location)
        return secret
    }

    public func updateSecret(_ name: String, value: String, in location: SecretLocation) throws -> Secret {
        let secret = try uncertain(location) { try backend.updateSecret(name, value: value, in: location) }
        remember(secret, in: location)
        return secret
    }

    public func setComment(_ comment: String, of name: String, in location: SecretLocation) throws -> Secret {
        let secret = try uncertain(location) { try backend.setComment(comment, of: name, in: location) }
        remember(secret, in: location)
        return secret
    }

    public func deleteSecret(_ name: String, in location: SecretLocation) throws {
        do {
            try uncertain(location) { try backend.deleteSecret(name, in: location) }
        } catch let error as BackendError where error.kind == .notFound {
            forget(name, in: location)
            throw error
        }
        forget(name, in: location)
    }

    public func moveSecret(_ name: String, from source: SecretLocation, to newName: String, in target: SecretLocation)
        throws -> Secret
    {
        defer { forget(name, in: source) }
        let moved = try uncertain(source, target) { try backend.moveSecret(name, from: source, to: newName, in: target) }
        forget(name, in: source)
        remember(moved, in: target)
        return moved
    }

    /// Runs a write whose failure may leave its outcome unknown: when the
    /// request may have reached the backend but no answer came back (a
    /// deadline, a broken connection, a 5xx), the cached listings of
    /// `locations` are marked expired, so the next read asks what was stored
    /// (while they can still stand in during an outage).
    private func uncertain<T>(_ locations: SecretLocation..., write: () throws -> T) throws -> T {
        do {
            return try write()
        } catch let error as BackendError where [.unavailable, .timedOut, .internalError].contains(error.kind) {
            let expired = now().addingTimeInterval(-ttl)
            state.withLock { state in
                for location in locations {
                    guard let entry = state.listings[location], entry.fetchedAt > expired else { continue }
                    state.listings[location] = Entry(value: entry.value, fetchedAt: expired)
                }
                state.secrets = state.secrets.filter { !locations.contains($0.key.location) }
            }
            throw error
        }
    }

    public func createFolder(_ name: String, in parent: SecretLocation) throws {
        defer { invalidateTree(parent) }
        try backend.createFolder(name, in: parent)
    }

    public func deleteFolder(_ name: String, in parent: SecretLocation) throws {
        defer { invalidateTree(parent) }
        try backend.deleteFolder(name, in: parent)
    }

    public func renameFolder(_ name: String, in parent: SecretLocation, to newName: String) throws {
        defer { invalidateTree(parent) }
        try backend.renameFolder(name, in: parent, to: newName)
    }

    public func createProject(slug: String) throws -> Project {
        defer {
            state.withLock {
                $0.projects = nil
                $0.missingProjects = [:]
            }
        }
        return try backend.createProject(slug: slug)
    }

    public func deleteProject(id: String) throws {
        defer { invalidateProject(id) }
        try backend.deleteProject(id: id)
    }

    public func createEnvironment(slug: String, in projectID: String) throws -> Project {
        defer { invalidateProject(projectID) }
        return try backend.createEnvironment(slug: slug, in: projectID)
    }

    public func deleteEnvironment(slug: String, in projectID: String) throws {
        defer { invalidateProject(projectID) }
        try backend.deleteEnvironment(slug: slug, in: projectID)
    }

    /// Seconds the cached listing of `location` stays fresh (0 when there is
    /// none, or caching is off): how long the kernel may keep what it shows.
    public func freshness(of location: SecretLocation) -> TimeInterval {
        guard ttl > 0, let entry = state.withLock({ $0.listings[location] }) else { return 0 }
        return max(0, ttl - now().timeIntervalSince(entry.fetchedAt))
    }

    /// When the cached listing of `location` was fetched, while it is fresh:
    /// the same stamp means the same listing, changed only by this mount's writes.
    public func listingStamp(of location: SecretLocation) -> Date? {
        guard let entry = state.withLock({ $0.listings[location] }), fresh(entry) != nil else { return nil }
        return entry.fetchedAt
    }

    /// How old the cached copy of a secret is, and whether it stands in for
    /// the backend: what `user.infisical.age` and `.stale` show. It is the
    /// entry `getSecret(name, in: location)` answers from (the newer of the
    /// folder's listing and the secret's own entry); nil when there is none,
    /// or caching is off. Ask right after the read that served the value, so the
    /// answer describes that value.
    public func cacheAge(of name: String, in location: SecretLocation) -> CacheAge? {
        state.withLock { state -> CacheAge? in
            let own = state.secrets[SecretKey(location: location, name: name)]
            let listing = state.listings[location]
            // A fresh listing answers alone: a name missing from it is missing.
            if let listing, isFresh(listing), listing.value.secret(named: name) == nil { return nil }
            // Otherwise the newer of the two (after a write through the cache,
            // both hold the stored secret and its own entry is the newer).
            return Self.newer(own, listing.flatMap { Self.entry(of: name, in: $0) }).map { age(of: $0, in: state) }
        }
    }

    /// The same for the cached listing of a folder (nil when there is none).
    public func cacheAge(of location: SecretLocation) -> CacheAge? {
        state.withLock { state in state.listings[location].map { age(of: $0, in: state) } }
    }

    /// Stores a project list fetched elsewhere (the login check at mount time).
    public func prime(projects: [Project]) {
        let stamp = now()
        offline?.saveProjects(projects, savedAt: stamp)
        guard ttl > 0 else { return }
        state.withLock { $0.projects = Entry(value: projects, fetchedAt: stamp) }
    }

    /// The backend's status with the cache's figures added.
    public var status: StatusValue {
        let (figures, counts, unreachableUntil) = state.withLock { state in
            (
                state.figures,
                (projects: state.projectsByReference.count + (state.projects?.value.count ?? 0),
                 folders: state.listings.count, secrets: state.secrets.count + state.listings.values.reduce(0) { $0 + $1.value.secrets.count }),
                state.unreachableUntil
            )
        }
        let cache = StatusValue.object([
            ("ttl_seconds", Self.wholeSeconds(ttl)),
            ("max_stale_seconds", Self.wholeSeconds(maxStale)),
            ("entries", .object([
                ("projects", .integer(counts.projects)), ("folders", .integer(counts.folders)),
                ("secrets", .integer(counts.secrets)),
            ])),
            ("hits", .integer(figures.hits)),
            ("misses", .integer(figures.misses)),
            ("stale_served", .integer(figures.staleServed)),
            ("last_refresh", .time(figures.lastRefresh)),
            ("last_unreachable", .time(figures.lastFailure)),
            ("serving_cached_until", .time(unreachableUntil.flatMap { $0 > now() ? $0 : nil })),
        ])
        let kept: [(String, StatusValue)] = offline.map { [("offline_cache", $0.status)] } ?? []
        return .object(backend.status.fields + [("cache", cache)] + kept)
    }

    /// Seconds for `/.status`: saturating (a TTL of 1e19 s must not trap
    /// the daemon), null when not finite (no bound).
    private static func wholeSeconds(_ seconds: TimeInterval) -> StatusValue {
        seconds.isFinite ? .integer(Int(saturatingSeconds: seconds)) : .null
    }

    /// Drops every entry, so the next read asks the backend.
    public func invalidateAll() {
        state.withLock { $0 = State() }
    }

    // MARK: Mechanics

    /// Failures for which expired entries stand in: the backend cannot be
    /// reached, or cannot be logged in to (a refused or locked-out login
    /// backs off; meanwhile the last values are served, as in an outage).
    private static func standsInFor(_ error: BackendError) -> Bool {
        [.unavailable, .timedOut, .unauthenticated].contains(error.kind)
    }

    private func fresh<Value>(_ entry: Entry<Value>?) -> Value? {
        guard let entry, isFresh(entry) else { return nil }
        return entry.value
    }

    /// Of two entries for one thing, the one fetched last.
    private static func newer<Value>(_ one: Entry<Value>?, _ other: Entry<Value>?) -> Entry<Value>? {
        guard let one, let other else { return one ?? other }
        return other.fetchedAt > one.fetchedAt ? other : one
    }

    /// A secret of a cached listing as an entry of its own, fetched with the listing.
    private static func entry(of name: String, in listing: Entry<FolderListing>) -> Entry<Secret>? {
        listing.value.secret(named: name).map { Entry(value: $0, fetchedAt: listing.fetchedAt) }
    }

    private func isFresh<Value>(_ entry: Entry<Value>) -> Bool {
        ttl > 0 && now().timeIntervalSince(entry.fetchedAt) < ttl
    }

    /// An entry's age; stale when it has expired and is served because the
    /// backend could not be reached (`servableWhenStale`, while unreachable).
    private func age<Value>(of entry: Entry<Value>, in state: State) -> CacheAge {
        let standsIn = !isFresh(entry) && state.unreachable && servableWhenStale(entry) != nil
        return CacheAge(fetchedAt: entry.fetchedAt, servedStale: standsIn)
    }

    /// An expired entry that may still stand in while the backend is unreachable.
    private func servableWhenStale<Value>(_ entry: Entry<Value>?) -> Entry<Value>? {
        guard let entry, now().timeIntervalSince(entry.fetchedAt) < ttl + maxStale else { return nil }
        return entry
    }

    /// Serves a fresh entry, else fetches and stores (one fetch for all
    /// concurrent callers; `what` names the entry, uniquely); when the fetch fails because the backend is
    /// unreachable, serves the expired entry instead.
    /// How one kind of entry is kept across restarts by `offline`.
    private struct Keeping<Value> {
        let save: (Value, Date) -> Void
        let load: () -> (Value, Date)?
    }

    private func cached<Value: Sendable>(
        _ slot: WritableKeyPath<State, Entry<Value>?>, standIn: Entry<Value>? = nil, fetch: () throws -> Value,
        what: String, keeping: Keeping<Value>? = nil, changedSince: ((Date) -> Bool)? = nil
    ) throws -> Value {
        let (own, freshValue, unreachableUntil) = read(slot, countingMisses: true)
        if let freshValue { return freshValue }
        let entry = Self.newer(own, standIn)
        if let entry = servableWhenStale(entry), let unreachableUntil, now() < unreachableUntil {
            count(\.staleServed)
            return entry.value
        }
        // Keyed by bytes: two secrets whose names differ only in normalization are two fetches.
        let key = ExactName(what)
        let (flight, leads) = flights.withLock { flights -> (Flight, Bool) in
            if let flight = flights[key] { return (flight, false) }
            let flight = Flight()
            flights[key] = flight
            return (flight, true)
        }
        guard leads else { return try flight.wait().get() as! Value }
        let outcome = Result {
            try refresh(slot, stale: entry, fetch: fetch, what: what, keeping: keeping, changedSince: changedSince)
        }
        flights.withLock { $0[key] = nil }
        flight.finish(outcome.map { $0 as any Sendable })
        return try outcome.get()
    }

    private func refresh<Value: Sendable>(
        _ slot: WritableKeyPath<State, Entry<Value>?>, stale entry: Entry<Value>?, fetch: () throws -> Value,
        what: String, keeping: Keeping<Value>?, changedSince: ((Date) -> Bool)?
    ) throws -> Value {
        do {
            let start = now()
            let value = try fetch()
            let stamp = now()
            // Changed through this mount while the fetch was under way: the
            // answer may predate the change, so it is kept as already expired
            // (the next read asks again) and this caller gets it as is.
            if changedSince?(start) == true {
                let expired = stamp.addingTimeInterval(-ttl)
                state.withLock { state in
                    if ttl > 0, (state[keyPath: slot]?.fetchedAt ?? .distantPast) < expired {
                        state[keyPath: slot] = Entry(value: value, fetchedAt: expired)
                    }
                }
                return value
            }
            state.withLock { state in
                if ttl > 0 { state[keyPath: slot] = Entry(value: value, fetchedAt: stamp) }
                state.figures.lastRefresh = stamp
                state.unreachable = false
            }
            keeping?.save(value, stamp)
            return value
        } catch let error as BackendError where Self.standsInFor(error) {
            let stamp = now()
            state.withLock { state in
                state.unreachableUntil = stamp.addingTimeInterval(Self.unreachableBackoff)
                state.unreachable = true
                state.figures.lastFailure = stamp
            }
            // The offline copy, when it is newer than memory's (or memory has none).
            let kept = keeping?.load().map { Entry(value: $0.0, fetchedAt: $0.1) }
            guard let served = servableWhenStale(Self.newer(entry, kept)) else { throw error }
            let fromDisk = kept != nil && served.fetchedAt > (entry?.fetchedAt ?? .distantPast)
            if fromDisk, ttl > 0 { state.withLock { $0[keyPath: slot] = served } }
            count(\.staleServed)
            logger.log(
                error.alreadyLogged ? .debug : .warning,
                "serving \(fromDisk ? "the offline copy of" : "cached") \(what) fetched at \(served.fetchedAt): \(error.reason)")
            return served.value
        }
    }

    /// An entry, its value when fresh, and the unreachable backoff, read in
    /// one lock that also counts the hit (or the miss): the hot path of
    /// every lookup takes the lock once.
    private func read<Value>(_ slot: KeyPath<State, Entry<Value>?>, countingMisses: Bool)
        -> (entry: Entry<Value>?, fresh: Value?, unreachableUntil: Date?)
    {
        state.withLock { state in
            let entry = state[keyPath: slot]
            let value = fresh(entry)
            if value != nil {
                state.figures.hits += 1
            } else if countingMisses {
                state.figures.misses += 1
            }
            return (entry, value, state.unreachableUntil)
        }
    }

    private func count(_ figure: WritableKeyPath<Figures, Int>) {
        state.withLock { $0.figures[keyPath: figure] += 1 }
    }

    private func remember(_ secret: Secret, in location: SecretLocation) {
        guard ttl > 0 else { return }
        let stamp = now()
        state.withLock { state in
            state.unreachable = false  // a write just reached the backend
            state.changed[location] = stamp
            state.secrets[SecretKey(location: location, name: secret.name)] = Entry(value: secret, fetchedAt: stamp)
            guard let entry = state.listings[location] else { return }
            var listing = entry.value
            listing.store(secret)
            state.listings[location] = Entry(value: listing, fetchedAt: entry.fetchedAt)
        }
        keepListing(of: location, changedAt: stamp)
    }

    /// A write through this mount changed a cached listing: the offline copy
    /// follows, as saved now.
    private func keepListing(of location: SecretLocation, changedAt stamp: Date) {
        guard let offline, let listing = state.withLock({ $0.listings[location]?.value }) else { return }
        offline.saveListing(listing, of: location, savedAt: stamp)
    }

    private func forget(_ name: String, in location: SecretLocation) {
        let stamp = now()
        state.withLock { state in
            state.changed[location] = stamp
            state.secrets[SecretKey(location: location, name: name)] = nil
            guard let entry = state.listings[location] else { return }
            var listing = entry.value
            listing.removeSecret(named: name)
            state.listings[location] = Entry(value: listing, fetchedAt: entry.fetchedAt)
        }
        keepListing(of: location, changedAt: now())
    }

    private func invalidateTree(_ location: SecretLocation) {
        state.withLock { state in
            let stale: (SecretLocation) -> Bool = {
                $0.sharesEnvironment(with: location) && $0.path.isWithin(location.path)
            }
            state.listings = state.listings.filter { !stale($0.key) }
            state.secrets = state.secrets.filter { !stale($0.key.location) }
        }
    }

    private func invalidateProject(_ projectID: String) {
        state.withLock { state in
            state.projects = nil
            state.projectsByReference = [:]
            state.missingProjects = [:]
            state.listings = state.listings.filter { $0.key.projectID != projectID }
            state.secrets = state.secrets.filter { $0.key.location.projectID != projectID }
        }
    }
}

/// How old a cached entry is (`CachingBackend.cacheAge`).
public struct CacheAge: Sendable, Equatable {
    /// When the backend gave the entry: fetched, or stored by a write through the cache.
    public let fetchedAt: Date
    /// The entry is past its TTL and is being served because the backend
    /// could not be reached (within `maxStale`).
    public let servedStale: Bool

    public init(fetchedAt: Date, servedStale: Bool) {
        self.fetchedAt = fetchedAt
        self.servedStale = servedStale
    }
}

/// One fetch under way; the callers that missed the same entry meanwhile
/// wait for its outcome instead of asking the backend again.
private final class Flight: @unchecked Sendable {
    // NSCondition guards `outcome`; @unchecked because of that manual locking.
    private let condition = NSCondition()
    private var outcome: Result<any Sendable, any Error>?

    func finish(_ result: Result<any Sendable, any Error>) {
        condition.lock()
        outcome = result
        condition.broadcast()
        condition.unlock()
    }

    func wait() -> Result<any Sendable, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while outcome == nil { condition.wait() }
        return outcome!
    }
}
