"""TensorBoard scalars through tensorboardX, on local paths, `/gcs/…` and `gs://…`.

Object stores cannot append, so a `gs://` event file is kept in memory and rewritten (atomically,
through `trainer.fs`, which also honours STORAGE_EMULATOR_HOST) on every flush; a run logs a few
scalars per epoch, so the file stays small. Vertex AI sets AIP_TENSORBOARD_LOG_DIR to a gs:// path.
"""

import io
import time

from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.record_writer import register_writer_factory
from tensorboardX.summary import scalar

from trainer import fs


class _ObjectRecordWriter:
    """tensorboardX's record-writer interface over one object, rewritten whole on flush."""

    def __init__(self, path):
        self.path = path
        self.buffer = io.BytesIO()

    def write(self, data):
        self.buffer.write(data)

    def flush(self):
        fs.write_bytes_atomic(self.path, self.buffer.getvalue())

    def close(self):
        self.flush()


class _ObjectRecordWriterFactory:
    def open(self, path):
        return _ObjectRecordWriter(path)

    def directory_check(self, path):
        pass  # object stores have no directories


# Replaces tensorboardX's own gs:// writer, which needs google-cloud-storage and knows no emulator.
register_writer_factory("gs", _ObjectRecordWriterFactory())


class ScalarWriter:
    """One event file per run; `add_scalars` writes one step and makes it visible at once.

    tensorboardX's `EventsWriter` is used directly: `SummaryWriter` queues events for a background
    thread, and its `flush()` does not wait for that queue, so an epoch could be missing for minutes.
    """

    def __init__(self, directory):
        fs.makedirs(directory)
        self._events = EventsWriter(fs.join(directory, "events"))

    def add_scalars(self, step, scalars):
        now = time.time()
        for tag, value in scalars.items():
            self._events.write_event(Event(wall_time=now, step=step, summary=scalar(tag, value)))
        self._events.flush()

    def close(self):
        self._events.close()
