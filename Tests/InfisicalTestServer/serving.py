"""Serving loop shared by the test servers: print the port, serve until
SIGTERM or SIGINT, then close and run the caller's cleanup."""
import signal
import threading


def serve_until_signalled(server, cleanup=None):
    def stop(signum, frame):
        # shutdown() waits for serve_forever to return: never call it on that thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if cleanup is not None:
            cleanup()
