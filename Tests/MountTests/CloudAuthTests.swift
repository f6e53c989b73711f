import Foundation
import Glibc
import Testing

/// Tests/InfisicalTestServer/fake_cloud.py on a free loopback port: IMDSv2,
/// the GCE metadata server, Google's OAuth token endpoint, IAM Credentials
/// signJwt and Azure IMDS, as `config` describes them.
final class FakeCloud {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../InfisicalTestServer/fake_cloud.py").standardizedFileURL.path

    private let server: LoopbackServerProcess

    init(config: [String: Any], scratch: Scratch) throws {
        let configPath = scratch.path + "/cloud-\(UUID().uuidString.prefix(8)).json"
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        server = try LoopbackServerProcess(script: Self.script, arguments: ["--config", configPath])
    }

    var port: Int { server.port }
    var baseURL: String { "http://127.0.0.1:\(port)" }
}

/// An RSA key pair made by the openssl command: PEM private key path and public key text.
struct KeyPair {
    let privateKeyPath: String
    let privateKeyPEM: String
    let publicKeyPEM: String

    init(_ name: String, in scratch: Scratch) throws {
        privateKeyPath = scratch.path + "/\(name).pem"
        let publicPath = scratch.path + "/\(name).pub.pem"
        let made = try run(
            "/usr/bin/openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privateKeyPath])
        let exported = try run("/usr/bin/openssl", ["pkey", "-in", privateKeyPath, "-pubout", "-out", publicPath])
        guard made.status == 0, exported.status == 0 else { throw MountFailure("openssl failed: \(made.stderr)") }
        privateKeyPEM = try String(contentsOfFile: privateKeyPath, encoding: .utf8)
        publicKeyPEM = try String(contentsOfFile: publicPath, encoding: .utf8)
    }
}

/// Every cloud identity mounts against the Infisical test server, with the
/// fake cloud endpoints on loopback; a tampered signature or token is
/// refused before mounting with exit code 8 and one line saying why.
@Suite("Cloud identities on a mount", .enabled(if: mountTestsEnabled), .serialized)
struct CloudAuthTests {
    let scratch: Scratch
    let server: InfisicalTestServer
    let identityID: String

    init() throws {
        scratch = try Scratch()
        server = try InfisicalTestServer()
        let identity = try server.control("POST", "/__test__/identities", ["accessTokenTTL": 3600, "accessTokenMaxTTL": 7200])
        identityID = (identity as? [String: Any])?["identityId"] as? String ?? ""
        try server.control("POST", "/__test__/projects", ["slug": "p", "members": [identityID]])
        try server.control("POST", "/__test__/secrets", ["projectSlug": "p", "secretKey": "A", "secretValue": "v"])
    }

    /// The environment of a mount: no inherited Infisical or AWS variables, then `extra`.
    func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for name in env.keys where name.hasPrefix("INFISICAL") || name.hasPrefix("AWS_") || name == "GCE_METADATA_HOST" {
            env[name] = nil
        }
        env["NO_PROXY"] = "127.0.0.1"
        env["no_proxy"] = "127.0.0.1"
        return env.merging(extra) { _, new in new }
    }

    /// Mounts with `extra` (inherited AWS variables blanked) and checks the secret reads through.
    func mountsAndReads(_ extra: [String: String]) throws -> Mount {
        var env = ["NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "GCE_METADATA_HOST": ""]
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"] {
            env[name] = ""
        }
        let mount = try Mount(
            scratch: scratch, name: "mnt-\(UUID().uuidString.prefix(6))",
            arguments: ["--backend", "infisical", "--site-url", server.siteURL],
            environment: env.merging(extra) { _, new in new })
        #expect(try sh("cat \"$MNT/p/dev/A\"", in: mount).stdout == "v")
        return mount
    }

    /// A mount that must fail before mounting: exit 8, one line, `reason` in it, no secret.
    func refused(_ extra: [String: String], because reason: String, secret: String? = nil) throws {
        let mountpoint = try scratch.folder("refused-\(UUID().uuidString.prefix(6))")
        let started = Date()
        let result = try run(
            infisicalfsBinary, ["mount", mountpoint, "--site-url", server.siteURL], environment: environment(extra))
        #expect(result.status == 8, "\(result.stderr)")
        #expect(result.stderr.contains(reason), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        if let secret { #expect(!result.stderr.contains(secret)) }
        #expect(Date().timeIntervalSince(started) < 15)
        #expect(!isMounted(mountpoint))
    }

    // MARK: AWS IAM

    @Test func awsWithKeysFromTheEnvironment() throws {
        try server.control(
            "POST", "/__test__/aws-auth",
            ["identityId": identityID, "accessKeyId": "AKIAMOUNTTEST", "secretAccessKey": "mount/secret+key"])
        let env = [
            "INFISICAL_AWS_IAM_AUTH_IDENTITY_ID": identityID, "AWS_ACCESS_KEY_ID": "AKIAMOUNTTEST",
            "AWS_SECRET_ACCESS_KEY": "mount/secret+key", "AWS_REGION": "eu-west-3",
        ]
        let mount = try mountsAndReads(env)
        mount.stop()
        #expect(mount.log.contains("authenticated with AWS IAM"))
        #expect(!mount.log.contains("mount/secret+key"))
        // A signature made with another secret key is refused.
        try refused(
            env.merging(["AWS_SECRET_ACCESS_KEY": "tampered-secret"]) { _, new in new }, because: "SignatureDoesNotMatch",
            secret: "tampered-secret")
    }

    @Test func awsFromIMDSv2WithARoleAndTheIdentityDocumentsRegion() throws {
        let cloud = try FakeCloud(
            config: [
                "aws": [
                    "accessKeyId": "ASIAROLE", "secretAccessKey": "role-secret", "token": "role-session-token",
                    "region": "ap-southeast-2",
                ]
            ], scratch: scratch)
        try server.control(
            "POST", "/__test__/aws-auth",
            [
                "identityId": identityID, "accessKeyId": "ASIAROLE", "secretAccessKey": "role-secret",
                "sessionToken": "role-session-token", "allowedPrincipalArns": ["arn:aws:iam::123456789012:user/*"],
            ])
        let env = ["INFISICAL_AWS_IAM_AUTH_IDENTITY_ID": identityID, "AWS_EC2_METADATA_SERVICE_ENDPOINT": cloud.baseURL]
        let mount = try mountsAndReads(env)
        mount.stop()
        // No metadata server: a reason, fast.
        try refused(
            ["INFISICAL_AWS_IAM_AUTH_IDENTITY_ID": identityID, "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"],
            because: "AWS IAM: instance metadata token at http://127.0.0.1:9/latest/api/token")
    }

    // MARK: GCP

    @Test func gcpIDTokenFromTheMetadataServer() throws {
        let google = try KeyPair("google", in: scratch)
        let stranger = try KeyPair("stranger", in: scratch)
        let cloud = try FakeCloud(
            config: ["gcp": ["email": "vm@p.iam.gserviceaccount.com", "googlePrivateKey": google.privateKeyPath]],
            scratch: scratch)
        try server.control(
            "POST", "/__test__/gcp-auth", ["identityId": identityID, "type": "gce", "publicKeyPem": google.publicKeyPEM])
        let env = ["INFISICAL_GCP_AUTH_IDENTITY_ID": identityID, "GCE_METADATA_HOST": "127.0.0.1:\(cloud.port)"]
        try mountsAndReads(env).stop()
        // Tokens signed by a key the server does not trust are refused.
        try server.control(
            "POST", "/__test__/gcp-auth", ["identityId": identityID, "type": "gce", "publicKeyPem": stranger.publicKeyPEM])
        try refused(env, because: "invalid signature")
    }

    @Test func gcpIAMFromAServiceAccountKeyFile() throws {
        let serviceAccount = try KeyPair("sa", in: scratch)
        let google = try KeyPair("google", in: scratch)
        let saPublic = scratch.path + "/sa.pub.pem"
        try serviceAccount.publicKeyPEM.write(toFile: saPublic, atomically: true, encoding: .utf8)
        let cloud = try FakeCloud(
            config: [
                "gcp": [
                    "email": "sa@p.iam.gserviceaccount.com", "googlePrivateKey": google.privateKeyPath,
                    "serviceAccountPublicKey": saPublic,
                ]
            ], scratch: scratch)
        try server.control(
            "POST", "/__test__/gcp-auth", ["identityId": identityID, "type": "iam", "publicKeyPem": google.publicKeyPEM])
        let keyFile = scratch.path + "/key.json"
        let key: [String: String] = [
            "type": "service_account", "project_id": "p", "private_key_id": "kid", "private_key": serviceAccount.privateKeyPEM,
            "client_email": "sa@p.iam.gserviceaccount.com", "token_uri": cloud.baseURL + "/token",
        ]
        _ = FileManager.default.createFile(
            atPath: keyFile, contents: try JSONSerialization.data(withJSONObject: key), attributes: [.posixPermissions: 0o600])
        // The docs' variable name for the identity; the SDK's name is covered by the unit tests.
        let env = [
            "INFISICAL_GCP_IAM_AUTH_IDENTITY_ID": identityID, "INFISICAL_GCP_IAM_SERVICE_ACCOUNT_KEY_FILE_PATH": keyFile,
            "INFISICALFS_GCP_IAM_CREDENTIALS_URL": cloud.baseURL,
        ]
        try mountsAndReads(env).stop()
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyFile)
        try refused(env, because: "is mode 644; it must be 0600")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyFile)
        try server.control(
            "POST", "/__test__/gcp-auth",
            ["identityId": identityID, "type": "iam", "publicKeyPem": serviceAccount.publicKeyPEM])
        try refused(env, because: "invalid signature")
    }

    // MARK: Azure and Kubernetes

    @Test func azureManagedIdentity() throws {
        let cloud = try FakeCloud(config: ["azure": ["token": "azure-token-from-imds"]], scratch: scratch)
        try server.control("POST", "/__test__/azure-auth", ["identityId": identityID, "token": "azure-token-from-imds"])
        let env = [
            "INFISICAL_AZURE_AUTH_IDENTITY_ID": identityID,
            // The endpoint alone: the api-version and resource parameters are added.
            "INFISICALFS_AZURE_IMDS_URL": cloud.baseURL + "/metadata/identity/oauth2/token",
        ]
        try mountsAndReads(env).stop()
        try server.control("POST", "/__test__/azure-auth", ["identityId": identityID, "token": "another-token"])
        try refused(env, because: "azure-auth/login → 401", secret: "azure-token-from-imds")
    }

    @Test func kubernetesTokenFileAndLoginAgainRereadsIt() throws {
        let identity = try server.control(
            "POST", "/__test__/identities", ["accessTokenTTL": 2, "accessTokenMaxTTL": 3])
        let shortLived = (identity as? [String: Any])?["identityId"] as? String ?? ""
        try server.control("POST", "/__test__/projects", ["slug": "k", "members": [shortLived]])
        try server.control("POST", "/__test__/secrets", ["projectSlug": "k", "secretKey": "B", "secretValue": "w"])
        let tokenFile = scratch.path + "/token"
        try "k8s-token-one\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try server.control("POST", "/__test__/kubernetes-auth", ["identityId": shortLived, "token": "k8s-token-one"])
        let mount = try Mount(
            scratch: scratch, name: "mnt-k8s", arguments: ["--backend", "infisical", "--site-url", server.siteURL, "--cache-ttl", "0"],
            environment: [
                "INFISICAL_KUBERNETES_IDENTITY_ID": shortLived, "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH": tokenFile,
            ])
        defer { mount.stop() }
        #expect(try sh("cat \"$MNT/k/dev/B\"", in: mount).stdout == "w")
        // The cluster rotates the token; past the max TTL the mount must log in again with the new one.
        try "k8s-token-two\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try server.control("POST", "/__test__/kubernetes-auth", ["identityId": shortLived, "token": "k8s-token-two"])
        usleep(3_500_000)
        #expect(try sh("cat \"$MNT/k/dev/B\"", in: mount).stdout == "w")
        let counts = try server.control("GET", "/__test__/requests") as? [String: Any]
        #expect((counts?["POST /api/v1/auth/kubernetes-auth/login"] as? Int ?? 0) >= 2)
    }

    @Test func kubernetesRefusals() throws {
        let tokenFile = scratch.path + "/token"
        try "issued-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try server.control("POST", "/__test__/kubernetes-auth", ["identityId": identityID, "token": "issued-token"])
        let env = ["INFISICAL_KUBERNETES_IDENTITY_ID": identityID, "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH": tokenFile]
        try mountsAndReads(env).stop()
        try "tampered-token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try refused(env, because: "token review failed", secret: "tampered-token")
        try refused(
            ["INFISICAL_KUBERNETES_IDENTITY_ID": identityID, "INFISICAL_KUBERNETES_SERVICE_ACCOUNT_TOKEN_PATH": scratch.path + "/none"],
            because: "service account token file \(scratch.path)/none does not exist")
    }
}
