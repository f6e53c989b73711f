"""A stand-in for the database legacy-client logs in to, on 127.0.0.1.

    python3 fake_db.py PASSWORD_FILE

Prints `PORT <n>` once listening. Answers each connection's
`LOGIN <user> <password>` line with `OK logged in as <user>` when the
password is the content of PASSWORD_FILE (read at every login, so a
rotation takes effect at once), else `DENIED wrong password`. Serves until
killed. Python 3 standard library only.
"""
import socketserver
import sys


class Login(socketserver.StreamRequestHandler):
    def handle(self):
        words = self.rfile.readline().decode().rstrip("\n").split(" ", 2)
        with open(sys.argv[1], encoding="utf-8") as handle:
            expected = handle.read()
        if len(words) == 3 and words[0] == "LOGIN" and words[2] == expected:
            self.wfile.write(f"OK logged in as {words[1]}\n".encode())
        else:
            self.wfile.write(b"DENIED wrong password\n")


server = socketserver.TCPServer(("127.0.0.1", 0), Login)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
