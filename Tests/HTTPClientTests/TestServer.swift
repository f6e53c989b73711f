import Foundation
import Synchronization

/// A Python 3 standard-library server on 127.0.0.1, started for one test.
/// Modes: `echo` (and `tls`, the same over TLS) answers every request with a
/// JSON echo of it; `hang` accepts and never answers; `trickle` sends headers,
/// then one body byte every 0.3 s.
final class TestServer {
    let port: Int
    private let process: Process
    /// Held open for the server's life: when this process dies, the server sees EOF and exits.
    private let lifeline = Pipe()

    init(mode: String, certificate: String? = nil, key: String? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", "-c", Self.script, mode, certificate ?? "", key ?? ""]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        process.standardInput = lifeline
        try process.run()
        self.process = process
        // The server prints its port once it is listening.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw TestServerError.noPort
        }
        self.port = port
    }

    deinit { stop() }

    func stop() {
        // SIGKILL: test threads block SIGTERM, and the child inherits that mask.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func url(_ path: String, scheme: String = "http") -> String { "\(scheme)://127.0.0.1:\(port)\(path)" }

    enum TestServerError: Error { case noPort, commandFailed(String) }

    private static let script = #"""
        import base64, http.server, json, os, socket, ssl, sys, threading, time, urllib.parse

        mode, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]

        def watch_parent():
            sys.stdin.buffer.read()
            os._exit(0)

        threading.Thread(target=watch_parent, daemon=True).start()
        lock = threading.Lock()
        connections = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                global connections
                with lock:
                    connections += 1
                super().setup()
                # Without this, keep-alive requests stall 40 ms (Nagle + delayed ACK).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def send(self, status, body, headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                parts = path.split("/")
                if path.startswith("/status/"):
                    status = int(parts[2])
                    self.send(status, json.dumps({"error": "status %d" % status}).encode(),
                              [("Content-Type", "application/json"), ("X-Custom-Header", "custom")])
                    return
                if path == "/redirect":
                    self.send(302, b"moved", [("Location", "/elsewhere")])
                    return
                if path.startswith("/big/"):
                    self.send(200, b"x" * int(parts[2]))
                    return
                if path.startswith("/bigchunked/"):
                    # No Content-Length, so only the running count can stop it.
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    remaining = int(parts[2])
                    while remaining > 0:
                        n = min(remaining, 1000)
                        self.wfile.write(b"%x\r\n%s\r\n" % (n, b"y" * n))
                        remaining -= n
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if path == "/connections":
                    with lock:
                        count = connections
                    self.send(200, json.dumps({"connections": count}).encode())
                    return
                echo = {
                    "method": self.command,
                    "rawPath": path,
                    "path": urllib.parse.unquote(path),
                    "rawQuery": query,
                    "query": urllib.parse.parse_qsl(query, keep_blank_values=True),
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "body": base64.b64encode(body).decode(),
                }
                self.send(200, json.dumps(echo).encode(), [("Content-Type", "application/json")])

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # clients that give up early (the size cap, timeouts) are expected

        if mode in ("echo", "tls"):
            server = Server(("127.0.0.1", 0), Handler)
            if mode == "tls":
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(cert, key)
                server.socket = context.wrap_socket(server.socket, server_side=True)
            print(server.server_address[1], flush=True)
            server.serve_forever()
        elif mode == "hang":
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            print(listener.getsockname()[1], flush=True)
            held = []
            while True:
                conn, _ = listener.accept()
                held.append(conn)
        elif mode == "trickle":
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            print(listener.getsockname()[1], flush=True)

            def trickle(conn):
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                    while True:
                        time.sleep(0.3)
                        conn.sendall(b"z")
                except OSError:
                    pass

            while True:
                conn, _ = listener.accept()
                threading.Thread(target=trickle, args=(conn,), daemon=True).start()
        elif mode == "freeport":
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1], flush=True)
            s.close()
        """#
}

/// Runs a shell command, failing the test when it does.
func shell(_ command: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    process.standardOutput = FileHandle.nullDevice
    let errors = Pipe()
    process.standardError = errors
    try process.run()
    let message = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestServer.TestServerError.commandFailed(String(decoding: message, as: UTF8.self))
    }
}

/// A private CA and a certificate for 127.0.0.1 signed by it, made with the openssl CLI.
struct TestPKI {
    let directory: String
    var caFile: String { directory + "/ca.pem" }
    var otherCAFile: String { directory + "/other-ca.pem" }
    var serverCertificate: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server.key" }
    var caPEM: String { (try? String(contentsOfFile: caFile, encoding: .utf8)) ?? "" }

    init() throws {
        directory = NSTemporaryDirectory() + "httpclient-pki-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        try shell(
            """
            set -e
            cd '\(directory)'
            openssl req -x509 \(key) -keyout ca.key -out ca.pem -days 2 -subj '/CN=HTTPClient Test CA' \
              -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
            openssl req -x509 \(key) -keyout other-ca.key -out other-ca.pem -days 2 -subj '/CN=Unrelated CA' \
              -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
            openssl req -new \(key) -keyout server.key -out server.csr -subj '/CN=127.0.0.1'
            printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf
            """)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// What the echo server saw.
struct Echo {
    let method: String
    let rawPath: String
    let path: String
    let rawQuery: String
    let query: [(String, String)]
    let headers: [(String, String)]
    let body: [UInt8]

    init(_ response: [UInt8]) throws {
        let object = try JSONSerialization.jsonObject(with: Data(response)) as? [String: Any] ?? [:]
        method = object["method"] as? String ?? ""
        rawPath = object["rawPath"] as? String ?? ""
        path = object["path"] as? String ?? ""
        rawQuery = object["rawQuery"] as? String ?? ""
        query = (object["query"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
        headers = (object["headers"] as? [[String]] ?? []).map { ($0[0], $0[1]) }
        body = Array(Data(base64Encoded: object["body"] as? String ?? "") ?? Data())
    }

    func header(_ name: String) -> String? {
        headers.last { $0.0.lowercased() == name.lowercased() }?.1
    }
}
