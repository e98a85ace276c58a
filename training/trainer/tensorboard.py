"""A minimal TensorBoard event-file writer for scalars (no tensorflow/tensorboard dependency).

Object stores cannot append, so the whole file is rewritten (atomically) on every flush; a run
logs a few scalars per epoch, so the file stays small. Vertex AI TensorBoard reads this format
from AIP_TENSORBOARD_LOG_DIR.
"""

import socket
import struct
import time

from trainer import io


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value):
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _length_delimited(field, payload):
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def event(wall_time, step, file_version=None, scalars=None):
    """A serialized tensorflow.Event protobuf."""
    message = _varint(1 << 3 | 1) + struct.pack("<d", wall_time) + _varint(2 << 3 | 0) + _varint(step)
    if file_version is not None:
        message += _length_delimited(3, file_version.encode())
    if scalars:
        values = b"".join(
            _length_delimited(1, _length_delimited(1, tag.encode()) + _varint(2 << 3 | 5)
                              + struct.pack("<f", value))  # fmt: skip
            for tag, value in scalars.items()
        )
        message += _length_delimited(5, values)
    return message


def record(data):
    """TFRecord framing: length, masked CRC of the length, data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


class ScalarWriter:
    def __init__(self, directory):
        now = time.time()
        self.path = io.join(directory, f"events.out.tfevents.{int(now)}.{socket.gethostname()}")
        self.records = [record(event(now, 0, file_version="brain.Event:2"))]

    def add_scalars(self, step, scalars):
        self.records.append(record(event(time.time(), step, scalars=scalars)))
        io.write_bytes_atomic(self.path, b"".join(self.records))
