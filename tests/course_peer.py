"""One end of the course's test program in a process of its own (so it busy-polls).

Usage: course_peer.py server LOSS SEED     prints the port, then what it read, then spins
       course_peer.py client PORT LOSS SEED
Each prints a last line ``spin_hits N``: datagrams taken while busy-polling.
"""

from __future__ import annotations

import sys

from test_socket_tcp import FAST, course_client, course_server

from fsm_tcp import SocketTCP


def main(argv: list[str]) -> None:
    role = argv[0]
    if role == "server":
        loss, seed = float(argv[1]), int(argv[2])
        server = SocketTCP(loss_rate=loss, seed=seed, **FAST)
        server.bind(("127.0.0.1", 0))
        print(server.getsockname()[1], flush=True)
        accepted: list[SocketTCP] = []
        accept = server.accept

        def keep_accepted() -> tuple[SocketTCP, tuple[str, int]]:
            child, address = accept()
            accepted.append(child)
            return child, address

        server.accept = keep_accepted  # type: ignore[method-assign]
        read = course_server(server)
        print(" ".join(part.hex() for part in read))
        spin_hits = accepted[0].udp.spin_hits
        server.close()
    else:
        port, loss, seed = int(argv[1]), float(argv[2]), int(argv[3])
        client = SocketTCP(loss_rate=loss, seed=seed, **FAST)
        course_client(client, ("127.0.0.1", port))
        spin_hits = client.udp.spin_hits
    print(f"spin_hits {spin_hits}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
