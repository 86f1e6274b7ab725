"""``python -m fsm_tcp.bench``."""

from fsm_tcp.bench.cli import main

if __name__ == "__main__":  # not again in the peers' processes, which import the main module
    raise SystemExit(main())
