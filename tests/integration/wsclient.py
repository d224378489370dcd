"""A minimal RFC 6455 client over a raw socket, for the black-box tests.

/usr/bin/python3 may not have `websockets`; this is the few lines the tests
need: the opening handshake (with Sec-WebSocket-Accept checked), masked
client frames, reassembly of fragmented server messages, and the close
handshake with its status code.  Every read has a socket timeout.
"""
import base64
import hashlib
import os
import socket
import ssl
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class WSClosed(Exception):
    """The server sent a close frame: .code (None if it had no payload) and .reason."""

    def __init__(self, code, reason):
        super().__init__(f"closed by server: code={code} reason={reason!r}")
        self.code = code
        self.reason = reason


class WSClient:
    def __init__(self, host, port, path, timeout=10.0, headers=None, tls=False, rcvbuf=None):
        if rcvbuf:  # a small receive window, set before connecting so the handshake uses it
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls:  # wss:// to a self-signed test certificate
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname=host)
        self.sock.settimeout(timeout)
        self._buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status_line, *hdr_lines = head.split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {}
        for h in hdr_lines:
            if ":" in h:
                k, v = h.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        if self.status != 101:
            raise AssertionError(f"handshake refused: {status_line} {self.headers}")
        want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if self.headers.get("sec-websocket-accept") != want:
            raise AssertionError(f"bad Sec-WebSocket-Accept: {self.headers}")

    # -- raw I/O -----------------------------------------------------------
    def _read_exact(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by peer")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _read_until(self, marker, limit=65536):
        while marker not in self._buf:
            if len(self._buf) > limit:
                raise AssertionError("response head too long")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed during handshake")
            self._buf += chunk
        i = self._buf.index(marker) + len(marker)
        out, self._buf = self._buf[:i], self._buf[i:]
        return out

    def send_frame(self, opcode, payload, fin=True):
        self.sock.sendall(self.encode_frame(opcode, payload, fin))

    @staticmethod
    def encode_frame(opcode, payload, fin=True):
        """One masked client frame as bytes (to send several in one write)."""
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _xor(payload, mask)
        return head + mask + masked

    def recv_frame(self):
        b0, b1 = self._read_exact(2)
        fin, opcode = bool(b0 & 0x80), b0 & 0x0F
        if b1 & 0x80:
            raise AssertionError("server frames must not be masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        return fin, opcode, self._read_exact(n)

    # -- messages ------------------------------------------------------------
    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode("utf-8"))

    def recv_message(self):
        """(opcode, bytes) of the next data message; answers pings; raises
        WSClosed on a close frame (after echoing it, as the RFC asks)."""
        parts, first_op = [], None
        while True:
            fin, op, payload = self.recv_frame()
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                reason = payload[2:].decode("utf-8", "replace")
                try:
                    self.send_frame(OP_CLOSE, payload[:2])
                except OSError:
                    pass
                raise WSClosed(code, reason)
            if first_op is None:
                first_op = op
            parts.append(payload)
            if fin:
                return first_op, b"".join(parts)

    def recv_text(self):
        op, data = self.recv_message()
        assert op == OP_TEXT, f"expected a text frame, got opcode {op}"
        return data.decode("utf-8")

    def close(self, code=1000):
        try:
            self.send_frame(OP_CLOSE, struct.pack("!H", code))
        except OSError:
            pass
        self.sock.close()


def _xor(data, mask):
    # Fast masking for large payloads: XOR as big integers.
    n = len(data)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
