"""The helper the kiosk unit runs first (pitwall-kiosk-prepare): a blank cursor theme the
real libXcursor lookup finds under the names cage and Chromium ask for, console blanking
off, and waiting for the board's web server."""


from __future__ import annotations

import contextlib
import ctypes.util
import http.server
import json
import os
import pty
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from pitwall.dev.broker import free_port

from .support import (
    prepare,
)

XCURSOR_PROBE = r"""
import ctypes, json, sys
lib = ctypes.CDLL(sys.argv[1])
class Image(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("size", ctypes.c_uint32),
                ("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("xhot", ctypes.c_uint32), ("yhot", ctypes.c_uint32),
                ("delay", ctypes.c_uint32), ("pixels", ctypes.POINTER(ctypes.c_uint32))]
lib.XcursorLibraryLoadImage.restype = ctypes.POINTER(Image)
lib.XcursorLibraryLoadImage.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
out = {}
for theme in sys.argv[2].split(","):
    for name in sys.argv[3].split(","):
        image = lib.XcursorLibraryLoadImage(name.encode(), theme.encode(), 24)
        if not image:
            out[f"{theme}/{name}"] = None
            continue
        i = image.contents
        alpha = max(i.pixels[k] >> 24 for k in range(i.width * i.height))
        out[f"{theme}/{name}"] = [i.width, i.height, alpha]
print(json.dumps(out))
"""


def xcursor_lookup(themes: list[str], names: list[str], **env) -> dict:
    """What libXcursor's theme lookup (the one wlroots and libwayland-cursor copy) finds."""
    library = ctypes.util.find_library("Xcursor")
    if not library:
        pytest.skip("libXcursor is not installed (it comes with Chromium)")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("XCURSOR")}
    result = subprocess.run([sys.executable, "-c", XCURSOR_PROBE, library, ",".join(themes),
                             ",".join(names)], env={**environ, **env}, capture_output=True,
                            text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_prepare_writes_a_blank_cursor_theme_that_hides_the_pointer(tmp_path):
    icons = tmp_path / "icons"
    for _ in range(2):  # every start runs it again
        result = prepare("--cursors", str(icons))
        assert result.returncode == 0, result.stderr
    names = ["left_ptr", "default", "pointer", "hand2", "text", "xterm", "watch", "progress",
             "grabbing", "not-allowed", "nwse-resize"]
    found = xcursor_lookup(["default", "Adwaita"], names, XCURSOR_PATH=str(icons))
    assert found == {f"{theme}/{name}": [1, 1, 0]
                     for theme in ("default", "Adwaita") for name in names}
    # Without the theme the same lookup finds a visible arrow (when a theme is installed).
    visible = xcursor_lookup(["default"], ["left_ptr"])["default/left_ptr"]
    if visible is not None:
        assert visible[0] > 1 and visible[2] == 255


@contextlib.contextmanager
def http_server(port: int, status: int = 200, delay: float = 0) -> Iterator[threading.Thread]:
    """An HTTP server on ``port`` answering ``status``, starting after ``delay`` seconds."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    servers = []

    def serve():
        time.sleep(delay)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        servers.append(server)
        server.serve_forever(poll_interval=0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        deadline = time.monotonic() + delay + 5
        while not servers and time.monotonic() < deadline:
            time.sleep(0.05)
        for server in servers:
            server.shutdown()
            server.server_close()


def test_prepare_waits_until_the_web_server_answers():
    # Nobody listening: gives up after the timeout, so systemd restarts the unit.
    port = free_port()
    start = time.monotonic()
    result = prepare("--wait", f"http://127.0.0.1:{port}/api/health", "--timeout", "1.5")
    assert result.returncode == 1 and 1.4 < time.monotonic() - start < 10
    assert "gave no answer" in result.stderr
    # A server that comes up a second later: waits for it.
    port = free_port()
    with http_server(port, delay=1.0):
        start = time.monotonic()
        result = prepare("--wait", f"http://127.0.0.1:{port}/api/health", "--timeout", "20")
        assert result.returncode == 0, result.stderr
        assert 0.9 < time.monotonic() - start < 10
    # Any HTTP answer means the server is up (the board shows its own state from there).
    port = free_port()
    with http_server(port, status=503):
        assert prepare("--wait", f"http://127.0.0.1:{port}/", "--timeout", "10").returncode == 0


def test_prepare_turns_console_blanking_off_and_says_what_it_waits_for():
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/health"
    master, slave = pty.openpty()
    try:
        with http_server(port):
            result = prepare("--wait", url, "--timeout", "10", stdin=slave)
        assert result.returncode == 0, result.stderr
        os.set_blocking(master, False)
        written = os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert b"\x1b[9;0]" in written and b"\x1b[14;0]" in written  # no blank, no power-down
    assert url.encode() in written


