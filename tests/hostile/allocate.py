"""Allocates memory without bound (the address-space limit must stop it)."""

import socket
import sys

# a server under test binds its port first, then misbehaves
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(("127.0.0.1", int(sys.argv[1])))

hoard = []
while True:
    hoard.append(bytearray(16 << 20))
