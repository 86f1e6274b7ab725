"""``python -m fsm_tcp`` is the ``fsm-tcp`` command."""

from .cli import main

raise SystemExit(main())
