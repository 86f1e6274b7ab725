"""Drives a student's SocketTCP class in a process of its own (``fsm-tcp check --module``).

Run as a script with ``python -I`` (isolated: no environment variables, no user site, this
folder not importable by accident), in the scratch copy of the student's folder: it imports
nothing from fsm_tcp, puts the module's own folder first on sys.path (students split helpers
into files of their own) and uses only the course's API::

    driver.py server MODULE CLASS PORT OUT LENGTH META
    driver.py client MODULE CLASS PORT FILE META

The server accepts one connection, reads LENGTH bytes with recv(16), calls recv_close() and
writes what it read to OUT. The client connects, sends FILE's bytes and closes. META gets a
JSON object: {"api": "bytes" | "str"}. A class that takes or returns str is itself a finding:
it cannot carry arbitrary bytes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

EXIT_NO_CLASS = 3
EXIT_CANNOT_SEND_BYTES = 4


def load(module_path: str, class_name: str) -> Any:
    path = Path(module_path).resolve()
    sys.path.insert(0, str(path.parent))
    os.chdir(path.parent)  # some students open files next to their module
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        sys.exit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    cls = getattr(module, class_name, None)
    if cls is None:
        print(f"{path.name} has no class {class_name}", file=sys.stderr)
        sys.exit(EXIT_NO_CLASS)
    return cls


def serve(cls: Any, port: int, out: str, length: int, meta: dict[str, str]) -> None:
    server = cls()
    server.bind(("127.0.0.1", port))
    conn, _address = server.accept()
    got = 0
    with open(out, "wb") as sink:  # written as it comes: a hang still shows what arrived
        while got < length:
            part = conn.recv(16)
            if isinstance(part, str):
                meta["api"] = "str"
                part = part.encode("utf-8")
            if not part:
                break
            sink.write(part)
            sink.flush()
            got += len(part)
    conn.recv_close()


def send(cls: Any, port: int, message: bytes, meta: dict[str, str]) -> None:
    client = cls()
    client.connect(("127.0.0.1", port))
    try:
        client.send(message)
    except (TypeError, AttributeError) as exc:
        # bytes refused before anything was sent (message.encode(), str + bytes): a str API
        meta["api"] = "str"
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            print(f"the class takes str, so it cannot send these bytes ({exc})", file=sys.stderr)
            sys.exit(EXIT_CANNOT_SEND_BYTES)
        client.send(text)
    client.close()


def main(argv: list[str]) -> None:
    role, module_path, class_name, port = argv[0], argv[1], argv[2], int(argv[3])
    meta = {"api": "bytes"}
    meta_path = argv[-1]
    try:
        cls = load(module_path, class_name)
        if role == "server":
            serve(cls, port, argv[4], int(argv[5]), meta)
        else:
            send(cls, port, Path(argv[4]).read_bytes(), meta)
    finally:
        Path(meta_path).write_text(json.dumps(meta))


if __name__ == "__main__":
    main(sys.argv[1:])
