"""``python -m fsm_tcp.bench``."""

from fsm_tcp.bench.cli import main

raise SystemExit(main())
