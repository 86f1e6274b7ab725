"""Binds its port like a server under test, then answers every datagram with text that is
no segment at all: no conversation is possible with it."""

import socket
import sys

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    _, peer = sock.recvfrom(2048)
    sock.sendto(b"hello?", peer)
