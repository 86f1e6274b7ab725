"""The optional aioquic anchor: one QUIC stream (TLS 1.3) moving the same message as
fsm_tcp's selective repeat, receiver in a process of its own (`pip install aioquic`, or the
'bench' extra)."""

from __future__ import annotations

import time
from typing import Any

from .peers import digest, exact
from .transfer import BIG_MSS

#: aioquic's datagrams may be as large as fsm_tcp's 1400-byte segments with their header
#: (its default, 1200, would handicap it by a sixth).
QUIC_DATAGRAM = BIG_MSS + 32


def version() -> str | None:
    from importlib import metadata

    try:
        import aioquic  # noqa: F401
    except ImportError:
        return None
    return metadata.version("aioquic")


def self_signed() -> tuple[Any, Any, bytes]:
    """(private key, certificate, certificate PEM) for "localhost", made now: the benchmark
    needs TLS but no secret, so no key is ever written to disk or committed."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert, cert.public_bytes(serialization.Encoding.PEM)


def receiver(conn: Any) -> None:
    """Child process: a QUIC server taking one stream, answering its SHA-256 on it."""
    import asyncio

    asyncio.run(serve(conn))


async def serve(conn: Any) -> None:
    import asyncio
    import functools

    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.asyncio.server import QuicServer
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamDataReceived

    class Sink(QuicConnectionProtocol):
        """Keeps the stream; at its end answers how many bytes came, on the stream. Hashed
        only after the client closed, as fsm_tcp's receiver hashes after the transfer, so
        that neither timing includes hashing."""

        def __init__(self, *args: Any, done: asyncio.Future[str], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._chunks: list[bytes] = []
            self._size = 0
            self._done = done

        def quic_event_received(self, event: QuicEvent) -> None:
            if isinstance(event, StreamDataReceived):
                self._chunks.append(event.data)
                self._size += len(event.data)
                if event.end_stream:
                    answer = b"%d" % self._size
                    self._quic.send_stream_data(event.stream_id, answer, end_stream=True)
                    self.transmit()
            elif isinstance(event, ConnectionTerminated) and not self._done.done():
                self._done.set_result(digest(b"".join(self._chunks)))

    key, cert, pem = self_signed()
    config = QuicConfiguration(is_client=False, max_datagram_size=QUIC_DATAGRAM)
    config.private_key, config.certificate = key, cert
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()
    transport, server = await loop.create_datagram_endpoint(
        lambda: QuicServer(
            configuration=config, create_protocol=functools.partial(Sink, done=done)
        ),
        local_addr=("127.0.0.1", 0),
    )
    conn.send((transport.get_extra_info("sockname"), pem))
    try:
        received = await asyncio.wait_for(done, 120.0)  # the client closes once answered
    finally:
        server.close()
    conn.send(received)


def transfer(message: bytes) -> float:
    """Seconds for an aioquic client here to move ``message`` over one stream to an aioquic
    server in another process: from the first write, with the handshake done, until the
    server's answer (how many bytes it received) is in. Raises RuntimeError unless the
    server's SHA-256 of the stream, reported afterwards, is the message's."""
    import asyncio

    def send(started: tuple[tuple[str, int], bytes]) -> float:
        address, pem = started
        return asyncio.run(asyncio.wait_for(client(address, pem, message), 120.0))

    return exact(receiver, (), send, message, patience=120.0)


async def client(address: tuple[str, int], pem: bytes, message: bytes) -> float:
    import asyncio

    from aioquic.asyncio.protocol import QuicConnectionProtocol
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection

    config = QuicConfiguration(
        is_client=True, max_datagram_size=QUIC_DATAGRAM, server_name="localhost"
    )
    config.load_verify_locations(cadata=pem)  # the server's own certificate, made at run time
    loop = asyncio.get_running_loop()
    # aioquic's connect() binds "::"; bound here as every other part binds, to 127.0.0.1
    transport, client = await loop.create_datagram_endpoint(
        lambda: QuicConnectionProtocol(QuicConnection(configuration=config)),
        local_addr=("127.0.0.1", 0),
    )
    try:
        client.connect(address)
        await client.wait_connected()
        reader, writer = await client.create_stream()
        start = time.perf_counter()
        writer.write(message)
        writer.write_eof()
        answer = await reader.read()
        elapsed = time.perf_counter() - start
    finally:
        client.close()
        await client.wait_closed()
        transport.close()
    if answer != b"%d" % len(message):
        raise RuntimeError(f"aioquic server received {answer!r} bytes of {len(message)}")
    return elapsed
