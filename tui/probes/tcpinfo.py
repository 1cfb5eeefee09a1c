"""Per-socket TCP counters of every process, from the kernel's sock_diag netlink interface.

Plain HTTP downloads write their partial file in 10 MiB steps, so the file alone cannot tell a slow
download from a dead one for minutes. The kernel keeps `tcp_info` for every socket (what `ss -tin`
prints): bytes received so far and milliseconds since data last arrived. sock_diag hands it to any
user for every socket, with the socket's inode, which `/proc/<pid>/fd` links to a process. psutil has
no such counter (it knows connections, not their bytes), hence this small reader.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_INET_DIAG_INFO = 2
_TCP_ESTABLISHED = 1
_HEADER = struct.Struct("=IHHII")
_REQUEST = struct.Struct("=BBBBI48s")
_MSG_INODE_OFFSET = 68
_MSG_SIZE = 72
_TCP_INFO_LAST_DATA_RECV = 52
_TCP_INFO_BYTES_RECEIVED = 128


@dataclass(frozen=True)
class SocketCounters:
    """One established TCP socket."""

    inode: int
    remote: str
    """`host:port` of the other end."""
    bytes_received: int
    idle_ms: int
    """Milliseconds since data last arrived on it."""


def established_sockets() -> dict[int, SocketCounters] | None:
    """inode → counters for every established TCP socket on the machine (IPv4 and IPv6).

    None when the kernel refuses the request (no sock_diag, a sandbox); callers then go without.
    """
    found: dict[int, SocketCounters] = {}
    answered = False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            found.update(_dump(family))
            answered = True
        except OSError:
            continue
    return found if answered else None


def _dump(family: int) -> dict[int, SocketCounters]:
    request = _REQUEST.pack(family, socket.IPPROTO_TCP, 1 << (_INET_DIAG_INFO - 1), 0, 1 << _TCP_ESTABLISHED, b"")
    header = _HEADER.pack(_HEADER.size + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0)
    found: dict[int, SocketCounters] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as sock:
        sock.settimeout(1.0)
        sock.send(header + request)
        while True:
            data = sock.recv(1 << 16)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
                if length < _HEADER.size:
                    return found
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR:
                    raise OSError("sock_diag refused the request")
                counters = _parse(data[offset + _HEADER.size : offset + length], family)
                if counters is not None:
                    found[counters.inode] = counters
                offset += (length + 3) & ~3
            if not data:
                return found


def _parse(msg: bytes, family: int) -> SocketCounters | None:
    if len(msg) < _MSG_SIZE:
        return None
    dport = struct.unpack_from(">H", msg, 6)[0]
    if family == socket.AF_INET:
        host = socket.inet_ntop(family, msg[24:28])
    else:
        host = socket.inet_ntop(family, msg[24:40])
        host = host[7:] if host.startswith("::ffff:") else f"[{host}]"
    inode = struct.unpack_from("=I", msg, _MSG_INODE_OFFSET)[0]
    offset = _MSG_SIZE
    while offset + 4 <= len(msg):
        length, kind = struct.unpack_from("=HH", msg, offset)
        if length < 4:
            break
        if kind == _INET_DIAG_INFO and length - 4 >= _TCP_INFO_BYTES_RECEIVED + 8:
            info = offset + 4
            idle = struct.unpack_from("=I", msg, info + _TCP_INFO_LAST_DATA_RECV)[0]
            received = struct.unpack_from("=Q", msg, info + _TCP_INFO_BYTES_RECEIVED)[0]
            return SocketCounters(inode, f"{host}:{dport}", received, idle)
        offset += (length + 3) & ~3
    return None
