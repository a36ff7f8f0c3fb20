"""Free TCP ports on 127.0.0.1, for tests that start or expect servers."""

import socket


def free_ports(n=1):
    """Return ``n`` distinct ports that nothing listened on a moment ago."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
