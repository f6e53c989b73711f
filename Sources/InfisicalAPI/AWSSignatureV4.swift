import SecretCrypto

/// AWS Signature Version 4 (HMAC-SHA256) of one HTTP request, as AWS's
/// "Signature Version 4 signing process" describes it. The caller passes the
/// exact headers it will send: every one of them is signed, so a header is
/// signed if and only if it is sent (an `x-amz-security-token` included).
struct AWSSignatureV4: Sendable {
    var accessKeyID: String
    var secretAccessKey: String
    var region: String
    var service: String

    init(accessKeyID: String, secretAccessKey: String, region: String, service: String) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.region = region
        self.service = service
    }

    /// The pieces of a signature; `authorization` is the header's value.
    struct Signature: Sendable {
        let canonicalRequest: String
        let stringToSign: String
        let signedHeaders: String
        let signature: String
        let authorization: String
    }

    /// Signs a request. `amzDate` is `YYYYMMDD'T'HHMMSS'Z'` and must also be
    /// among `headers` as `x-amz-date`; `path` is already URI-encoded;
    /// `query` pairs are unencoded.
    func sign(
        method: String, path: String, query: [(String, String)] = [], headers: [(String, String)],
        body: [UInt8], amzDate: String
    ) -> Signature {
        var canonicalHeaders: [String: String] = [:]
        for (name, value) in headers {
            let trimmed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            let key = name.lowercased()
            canonicalHeaders[key] = canonicalHeaders[key].map { $0 + "," + trimmed } ?? trimmed
        }
        let names = canonicalHeaders.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let encoded: [(String, String)] = query.map { (Self.encode($0.0), Self.encode($0.1)) }
        let sortedQuery = encoded.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        let canonicalQuery = sortedQuery.map { $0.0 + "=" + $0.1 }.joined(separator: "&")
        var headerBlock = ""
        for name in names { headerBlock += name + ":" + (canonicalHeaders[name] ?? "") + "\n" }
        let canonicalPath: String = path.isEmpty ? "/" : path
        let parts: [String] = [
            method.uppercased(), canonicalPath, canonicalQuery, headerBlock, signedHeaders,
            Hex.encode(SHA256.hash(body)),
        ]
        let canonicalRequest = parts.joined(separator: "\n")
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Hex.encode(SHA256.hash(canonicalRequest))]
            .joined(separator: "\n")
        let signature = Hex.encode(HMACSHA256.authenticationCode(for: stringToSign, key: signingKey(day: day)))
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signedHeaders: signedHeaders,
            signature: signature,
            authorization:
                "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        )
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request").
    public func signingKey(day: String) -> [UInt8] {
        var key = HMACSHA256.authenticationCode(for: day, key: Array(("AWS4" + secretAccessKey).utf8))
        key = HMACSHA256.authenticationCode(for: region, key: key)
        key = HMACSHA256.authenticationCode(for: service, key: key)
        return HMACSHA256.authenticationCode(for: "aws4_request", key: key)
    }

    /// RFC 3986 unreserved characters stay; everything else is %XX.
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
