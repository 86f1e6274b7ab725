"""Forks in a loop; every child sleeps (the process-count watch must stop it)."""

import os
import socket
import sys
import time

# a server under test binds its port first, then misbehaves
listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.bind(("127.0.0.1", int(sys.argv[1])))

while True:
    try:
        if os.fork() == 0:
            time.sleep(3600)
            sys.exit(0)
    except OSError:
        time.sleep(0.001)  # a process limit said no: keep trying
    time.sleep(0.001)
