"""A tiny HTTP server on 127.0.0.1 for URL-input tests: images, redirects, slow and huge bodies."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.helpers import image_bytes

IMAGE = image_bytes((1000, 600))


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes: dict[str, Callable[[], None]] = {
            "/image.jpg": lambda: self._send(200, IMAGE, "image/jpeg"),
            "/big": lambda: self._send(200, b"\xff" * 3_000_000, "image/jpeg"),
            "/missing": lambda: self._send(404, b"not here", "text/plain"),
            "/slow": self._slow,
            "/slower": lambda: self._slow(5.5),  # past httpx's default 5 s read timeout
            "/to-image": lambda: self._redirect("/image.jpg"),
            # 127.0.0.2 is loopback too, but only 127.0.0.1 is allow-listed in the tests.
            "/to-other-loopback": lambda: self._redirect(
                f"http://127.0.0.2:{self.connection.getsockname()[1]}/image.jpg"
            ),
            "/loop": lambda: self._redirect("/loop"),
        }
        routes.get(self.path, lambda: self._send(404, b"", "text/plain"))()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _slow(self, seconds: float = 2) -> None:
        time.sleep(seconds)
        self._send(200, IMAGE, "image/jpeg")

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Fovea hangs up on purpose (size cap, time limit): a broken pipe here is expected.
        pass


@contextmanager
def serve() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
