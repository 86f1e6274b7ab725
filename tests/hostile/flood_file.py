"""Writes gigabytes to a file in its working folder (the file-size limit must stop it)."""

import socket
import sys

# a server under test binds its port first, then misbehaves
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(("127.0.0.1", int(sys.argv[1])))

block = b"y" * (1 << 20)
with open("flood.bin", "wb") as sink:
    for _ in range(4096):
        sink.write(block)
