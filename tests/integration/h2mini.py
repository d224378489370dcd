"""A minimal HTTP/2 cleartext (prior knowledge) client for the black-box tests.

curl 7.88 cannot reuse an h2c prior-knowledge connection for a second request
(it fails with "Error in the HTTP2 framing layer" against nginx too), and the
`h2` module may be missing, so multiplexing over h2c is checked with this:
several streams opened on one connection before any answer is read.

Requests are encoded with HPACK literals (no Huffman, no indexing).  Of the
answers it decodes only `:status` when sent as an indexed static-table entry
(what every encoder does for 200/204/206/304/400/404/500) and otherwise
reports status None; bodies are collected per stream.  Every read has a
socket timeout.
"""
import socket
import struct

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
STATIC_STATUS = {8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500}


def _hpack_len(n, prefix_bits=7, first=0):
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes([first | n])
    out = [first | limit]
    n -= limit
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def _literal(name, value):
    name, value = name.encode(), value.encode()
    return b"\x00" + _hpack_len(len(name)) + name + _hpack_len(len(value)) + value


class H2Conn:
    def __init__(self, host, port, timeout=10.0):
        self.host, self.port = host, port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self._buf = b""
        self.next_stream = 1
        self.sock.sendall(PREFACE + self._frame(SETTINGS, 0, 0, b""))

    @staticmethod
    def _frame(ftype, flags, stream, payload):
        return struct.pack("!I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack("!I", stream) + payload

    def _read_exact(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by server")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def read_frame(self):
        head = self._read_exact(9)
        length = int.from_bytes(head[:3], "big")
        ftype, flags = head[3], head[4]
        stream = struct.unpack("!I", head[5:9])[0] & 0x7FFFFFFF
        return ftype, flags, stream, self._read_exact(length)

    def send_request(self, method, path, body=None, headers=None):
        """Opens a stream; the body (bytes), if any, is sent by send_body()
        so several streams can be opened before any body is sent."""
        sid = self.next_stream
        self.next_stream += 2
        block = (_literal(":method", method) + _literal(":scheme", "http") + _literal(":path", path) +
                 _literal(":authority", f"{self.host}:{self.port}"))
        for k, v in (headers or {}).items():
            block += _literal(k.lower(), v)
        if body is not None:
            block += _literal("content-length", str(len(body)))
        flags = END_HEADERS | (0 if body is not None else END_STREAM)
        self.sock.sendall(self._frame(HEADERS, flags, sid, block))
        return sid

    def send_body(self, sid, body):
        self.sock.sendall(self._frame(DATA, END_STREAM, sid, body))

    def collect(self, streams):
        """Reads until every stream in `streams` has ended; {sid: (status, body)}."""
        status, bodies, open_ = {}, {s: b"" for s in streams}, set(streams)
        while open_:
            ftype, flags, sid, payload = self.read_frame()
            if ftype == SETTINGS and not flags & ACK:
                self.sock.sendall(self._frame(SETTINGS, ACK, 0, b""))
            elif ftype == PING and not flags & ACK:
                self.sock.sendall(self._frame(PING, ACK, 0, payload))
            elif ftype == GOAWAY:
                raise ConnectionError(f"GOAWAY: {payload[4:8].hex()} {payload[8:]!r}")
            elif ftype == RST_STREAM:
                raise ConnectionError(f"RST_STREAM on stream {sid}: {payload.hex()}")
            elif ftype == HEADERS and sid in bodies:
                block = payload
                if flags & PADDED:
                    pad = block[0]
                    block = block[1:len(block) - pad]
                if flags & PRIORITY_FLAG:
                    block = block[5:]
                if sid not in status:
                    status[sid] = STATIC_STATUS.get(block[0] & 0x7F) if block and block[0] & 0x80 else None
                if flags & END_STREAM:
                    open_.discard(sid)
            elif ftype == DATA and sid in bodies:
                bodies[sid] += payload
                if payload:  # give the flow-control window back
                    inc = struct.pack("!I", len(payload))
                    self.sock.sendall(self._frame(WINDOW_UPDATE, 0, 0, inc) + self._frame(WINDOW_UPDATE, 0, sid, inc))
                if flags & END_STREAM:
                    open_.discard(sid)
        return {s: (status.get(s), bodies[s]) for s in streams}

    def close(self):
        try:
            self.sock.sendall(self._frame(GOAWAY, 0, 0, struct.pack("!II", 0, 0)))
        except OSError:
            pass
        self.sock.close()
