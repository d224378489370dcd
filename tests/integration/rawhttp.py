"""Raw HTTP/1.1 over a socket, for tests that need control a client library
hides: pipelining, half-sent bodies, held-open connections.  Every read has
a socket timeout."""
import socket


class RawConn:
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self._buf = b""

    def sendall(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed by server (buffered: {self._buf[:200]!r})")
        self._buf += chunk

    def read_response(self, timeout=None):
        """One response with a Content-Length body: (status, headers, body).
        Bytes past it stay buffered for the next call (pipelining)."""
        self.sock.settimeout(timeout or self.timeout)
        while b"\r\n\r\n" not in self._buf:
            self._fill()
        head, _, rest = self._buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        n = int(headers.get("content-length", "0"))
        self._buf = rest
        while len(self._buf) < n:
            self._fill()
        body, self._buf = self._buf[:n], self._buf[n:]
        return status, headers, body

    def wait_closed(self, timeout=10.0):
        """True once the server closes the connection (EOF or reset) within
        `timeout` s; data it sends meanwhile is discarded."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                if self.sock.recv(65536) == b"":
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
            except socket.timeout:
                return False
        return False

    def close(self):
        self.sock.close()
