"""The wire capture as a classic libpcap file (Wireshark, tcpdump, tshark read it).

LINKTYPE_RAW: each record is an IPv4 packet, whose header and UDP header are built here by
hand (checksums included), so no capture library is needed. The reader exists for the tests
(and anyone who wants the datagrams back).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MAGIC = 0xA1B2C3D4  # microsecond timestamps
LINKTYPE_RAW = 101
SNAPLEN = 65535
_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


@dataclass(frozen=True)
class Packet:
    t: float  # seconds since the epoch
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(src: tuple[str, int], dst: tuple[str, int], payload: bytes, ident: int = 0) -> bytes:
    """An IPv4 packet holding one UDP datagram, both checksums correct."""
    saddr, daddr = socket.inet_aton(src[0]), socket.inet_aton(dst[0])
    udp_len = 8 + len(payload)
    pseudo = saddr + daddr + struct.pack("!BBH", 0, socket.IPPROTO_UDP, udp_len)
    udp = struct.pack("!HHHH", src[1], dst[1], udp_len, 0) + payload
    udp_sum = _checksum(pseudo + udp) or 0xFFFF  # 0 means "no checksum" in UDP
    udp = udp[:6] + struct.pack("!H", udp_sum) + udp[8:]
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ident & 0xFFFF, 0x4000, 64, 17, 0, saddr, daddr
    )
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + udp


def write(path: Path, packets: Iterable[Packet]) -> None:
    with path.open("wb") as f:
        f.write(_GLOBAL.pack(MAGIC, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW))
        for i, p in enumerate(packets):
            frame = ipv4_udp(p.src, p.dst, p.payload, i)
            sec = int(p.t)
            usec = min(round((p.t - sec) * 1e6), 999_999)
            f.write(_RECORD.pack(sec, usec, len(frame), len(frame)))
            f.write(frame)


def read(path: Path) -> list[Packet]:
    """Parse a file written by write(); ValueError if it is not one (bad checksums too)."""
    data = path.read_bytes()
    magic, major, _minor, _tz, _sig, _snap, link = _GLOBAL.unpack_from(data, 0)
    if magic != MAGIC or major != 2 or link != LINKTYPE_RAW:
        raise ValueError("not a classic pcap file of raw IPv4 packets")
    packets, offset = [], _GLOBAL.size
    while offset < len(data):
        sec, usec, incl, _orig = _RECORD.unpack_from(data, offset)
        offset += _RECORD.size
        frame = data[offset : offset + incl]
        offset += incl
        packets.append(_parse_frame(sec + usec / 1e6, frame))
    return packets


def _parse_frame(t: float, frame: bytes) -> Packet:
    if frame[0] != 0x45 or frame[9] != socket.IPPROTO_UDP or _checksum(frame[:20]) != 0:
        raise ValueError("not an IPv4/UDP packet with a valid header checksum")
    saddr, daddr = socket.inet_ntoa(frame[12:16]), socket.inet_ntoa(frame[16:20])
    sport, dport, length, _sum = struct.unpack("!HHHH", frame[20:28])
    pseudo = frame[12:20] + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    if _checksum(pseudo + frame[20 : 20 + length]) != 0:
        raise ValueError("bad UDP checksum")
    return Packet(t, (saddr, sport), (daddr, dport), frame[28 : 20 + length])
