"""Paths that may be local, `/gcs/...` (Cloud Storage FUSE on Vertex AI) or `gs://...`.

`gs://` goes through gcsfs. Its endpoint can be pointed at an emulator with
STORAGE_EMULATOR_HOST (e.g. http://127.0.0.1:9023), which also switches to
anonymous credentials.
"""

import io
import os
import posixpath
import uuid

import fsspec


def is_remote(path):
    return "://" in path


def filesystem(path):
    """The fsspec filesystem for `path` and the path as that filesystem names it."""
    if path.startswith("gs://"):
        return _gcs(), path
    return fsspec.filesystem("file"), path


_gcs_filesystem = None


def _gcs():
    global _gcs_filesystem
    if _gcs_filesystem is None:
        # gcsfs hangs against emulators while probing hierarchical-namespace buckets.
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        import gcsfs

        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            if "://" not in emulator:
                emulator = "http://" + emulator
            _gcs_filesystem = gcsfs.GCSFileSystem(endpoint_url=emulator, token="anon")
        else:
            _gcs_filesystem = gcsfs.GCSFileSystem()
    return _gcs_filesystem


def join(base, *parts):
    if is_remote(base):
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def exists(path):
    fs, p = filesystem(path)
    return fs.exists(p)


def makedirs(path):
    if not is_remote(path):  # object stores have no directories
        os.makedirs(path, exist_ok=True)


def listdir(path):
    """Base names of the files directly under `path` ([] if it does not exist)."""
    fs, p = filesystem(path)
    try:
        entries = fs.ls(p, detail=False, refresh=True) if is_remote(path) else fs.ls(p, detail=False)
    except FileNotFoundError:
        return []
    return sorted(posixpath.basename(e.rstrip("/")) for e in entries)


def open_read(path):
    fs, p = filesystem(path)
    return fs.open(p, "rb")


def read_bytes(path):
    with open_read(path) as f:
        return f.read()


def write_bytes_atomic(path, data):
    """Readers see either the old file or the complete new one, never a partial write.

    Local and FUSE paths: write a temporary file beside it, fsync, rename.
    gs://: a single object upload only becomes visible once complete.
    """
    if is_remote(path):
        fs, p = filesystem(path)
        with fs.open(p, "wb") as f:
            f.write(data)
        return
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text_atomic(path, text):
    write_bytes_atomic(path, text.encode("utf-8"))


def remove(path):
    fs, p = filesystem(path)
    try:
        fs.rm(p)
    except FileNotFoundError:
        pass


def torch_save_bytes(obj):
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def torch_load(path):
    import torch

    return torch.load(io.BytesIO(read_bytes(path)), map_location="cpu", weights_only=False)
