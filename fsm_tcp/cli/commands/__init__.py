"""One module per command of ``fsm-tcp``: each holds HELP, DESCRIPTION, EPILOG,
add_arguments(parser) and run(args) (fsm_tcp.check and fsm_tcp.plot hold the same)."""
