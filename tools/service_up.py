"""Exit 0 when a TCP service answers at host:port (the Makefile runs the PostgreSQL pass only then)."""

import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
try:
    with socket.create_connection((host, port), timeout=2):
        sys.exit(0)
except OSError:
    sys.exit(1)
