"""Ignores SIGTERM (and SIGINT, SIGHUP) and sleeps forever (only SIGKILL ends it)."""

import signal
import socket
import sys
import time

# a server under test binds its port first, then misbehaves
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(("127.0.0.1", int(sys.argv[1])))

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
while True:
    time.sleep(60)
