"""Writes gigabytes to stdout (the file-size limit on its redirected output must stop it)."""

import socket
import sys

# a server under test binds its port first, then misbehaves
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(("127.0.0.1", int(sys.argv[1])))


block = b"x" * (1 << 20)
for _ in range(4096):
    sys.stdout.buffer.write(block)
