"""Paths that may be local, `/gcs/...` (Cloud Storage FUSE on Vertex AI) or `gs://...`.

`gs://` goes through gcsfs. Its endpoint can be pointed at an emulator with
STORAGE_EMULATOR_HOST (e.g. http://127.0.0.1:9023), which also switches to
anonymous credentials. Otherwise the Application Default Credentials are looked up and refreshed
once, up front, so that missing or revoked credentials fail at once (by default gcsfs would probe
the metadata server, fall back to anonymous access and retry). Storage failures are raised as
`errors.TrainerError`s that name the path and say what to do.
"""

import hashlib
import io
import logging
import os
import pickle
import posixpath
import re
import uuid
import warnings

import fsspec

from trainer import errors

# google.api_core's notice that Python 3.11 support ends in 2027, printed to stderr when gcsfs or
# tensorboardX imports the Google client libraries: on Vertex AI every stderr line is an ERROR entry.
warnings.filterwarnings("ignore", "You are using a Python version", FutureWarning)


def is_remote(path):
    return "://" in path


def filesystem(path):
    """The fsspec filesystem for `path` and the path as that filesystem names it."""
    if path.startswith("gs://"):
        return _gcs(path), path
    return fsspec.filesystem("file"), path


_gcs_filesystem = None
_gcs_identity = None  # who the requests run as, for permission errors


def _gcs(path="gs://"):
    global _gcs_filesystem, _gcs_identity
    if _gcs_filesystem is None:
        # gcsfs hangs against emulators while probing hierarchical-namespace buckets.
        os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
        import gcsfs

        # gcsfs logs (with tracebacks) before raising; the trainer reports the error itself.
        gcsfs_logger = logging.getLogger("gcsfs")
        if not gcsfs_logger.handlers:
            gcsfs_logger.addHandler(logging.NullHandler())

        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if emulator:
            if "://" not in emulator:
                emulator = "http://" + emulator
            _gcs_filesystem = gcsfs.GCSFileSystem(endpoint_url=emulator, token="anon")
            _gcs_identity = "anonymous, emulator at " + emulator
        else:
            # Application Default Credentials only (not gcsfs's default chain, which then tries the
            # metadata server again and falls back to anonymous access), refreshed now: missing,
            # expired or revoked credentials fail here, at once, not as retried 401s later.
            with errors.translating(path):
                filesystem = gcsfs.GCSFileSystem(token="google_default", skip_instance_cache=True)
                filesystem.credentials.maybe_refresh()
            _gcs_filesystem = filesystem
            _gcs_identity = describe_identity(filesystem.credentials.credentials)
    return _gcs_filesystem


def describe_identity(credentials):
    email = getattr(credentials, "service_account_email", None)
    if email and email != "default":
        return f"service account {email}"
    if type(credentials).__module__ == "google.oauth2.credentials":
        account = getattr(credentials, "account", None)
        return f"user {account}" if account else "your user account (application default credentials)"
    return f"{type(credentials).__name__} from {type(credentials).__module__}"


def _translating(path, writing=False):
    """errors.translating with who the gs:// requests run as and whether a bucket exists."""
    return errors.translating(path, writing, identity=lambda: _gcs_identity, bucket_exists=_bucket_exists)


def _bucket_exists(bucket):
    """True or False if Cloud Storage says so, None if it cannot be told (no network, ...).

    GET of the bucket's metadata: 404 means there is no such bucket; 403 that it exists (bucket
    names are global) but the caller may not read its metadata (roles/storage.objectViewer may not).
    """
    if _gcs_filesystem is None:
        return None
    try:
        _gcs_filesystem.call("GET", "b/{}", bucket, json_out=True)
        return True
    except FileNotFoundError:
        return False
    except OSError as error:
        return True if str(error).startswith("Forbidden") else None
    except Exception:
        return None


def report_retries(callback):
    """Call `callback(message)` whenever gcsfs retries a failed request (otherwise silent)."""

    class Forward(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if "retrying after exception" in message:
                callback("Cloud Storage request failed, retrying: " + message.split("exception: ", 1)[-1])

    logger = logging.getLogger("gcsfs")
    for handler in [h for h in logger.handlers if type(h).__name__ == "Forward"]:
        logger.removeHandler(handler)
    logger.addHandler(Forward())
    logger.setLevel(logging.DEBUG)  # gcsfs logs its retries at DEBUG
    logger.propagate = False


def join(base, *parts):
    if is_remote(base):
        return posixpath.join(base, *parts)
    return os.path.join(base, *parts)


def exists(path):
    with _translating(path):
        fs, p = filesystem(path)
        return fs.exists(p)


def check_readable(path):
    """Raise a TrainerError (not found, permission, credentials) unless `path` is a readable file."""
    with _translating(path):
        fs, p = filesystem(path)
        if is_remote(path):
            info = fs.info(p)
            if info.get("type") != "file":
                raise errors.TrainerError(f"{path}: is a directory (a prefix of other objects); expected a file")
        else:
            with open(path, "rb"):  # not-found, permission denied, is a directory
                pass


def makedirs(path):
    if not is_remote(path):  # object stores have no directories
        os.makedirs(path, exist_ok=True)


def listdir(path):
    """Base names of the files directly under `path` ([] if it does not exist)."""
    with _translating(path):
        fs, p = filesystem(path)
        try:
            entries = fs.ls(p, detail=False, refresh=True) if is_remote(path) else fs.ls(p, detail=False)
        except FileNotFoundError:
            return []
    return sorted(posixpath.basename(e.rstrip("/")) for e in entries)


def read_bytes(path):
    with _translating(path):
        fs, p = filesystem(path)
        with fs.open(p, "rb") as f:
            return f.read()


def sha256(path):
    return hashlib.sha256(read_bytes(path)).hexdigest()


def write_bytes_atomic(path, data):
    """Readers see either the old file or the complete new one, never a partial write.

    Local and FUSE paths: write a temporary file beside it, fsync, rename.
    gs://: a single object upload only becomes visible once complete.
    """
    with _translating(path, writing=True):
        if is_remote(path):
            fs, p = filesystem(path)
            with fs.open(p, "wb") as f:
                f.write(data)
            return
        _write_local_atomic(path, data)


def _write_local_atomic(path, data):
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
    with _translating(path, writing=True):
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
    """A torch file holding only tensors and plain Python values (weights_only: nothing is executed).

    A file that needs full unpickling (an older trainer's format, or a tampered file, which could
    run arbitrary code while loading) is refused with an UnsafeFileError.
    """
    import torch

    data = read_bytes(path)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # Only torch's diagnosis (e.g. "unsupported GLOBAL posix.system"), not its advice to unpickle fully. A
        # global the safe loader refuses is code the file would run; anything else is a file torch did not write.
        found = re.search(r"(?:unsupported GLOBAL|Unsupported global: GLOBAL) \S+", str(error))
        if not found:
            raise errors.TrainerError(f"{path}: not a torch file (damaged, or not written by torch.save)") from None
        raise errors.UnsafeFileError(
            f"{path}: refused to load: it is not in the safe format (tensors and plain values only) and would "
            f"need full unpickling, which can run arbitrary code: an older trainer's file, or a tampered one"
            + f" ({found.group(0)})"
        ) from None
    except (RuntimeError, EOFError) as error:
        if isinstance(error, RuntimeError) and "PytorchStreamReader" not in str(error):
            raise
        raise errors.TrainerError(f"{path}: not a complete torch file (empty, damaged or truncated)") from None
