"""Failures the user can fix, as one message that names the path and says what to do.

`task.cli` prints a `TrainerError` (or a `columns.DataError`) as one JSON log line with severity
ERROR and exits with code 2; nothing else is printed (no traceback). `translating(path)` turns the
storage exceptions of local files, Cloud Storage FUSE (`/gcs/...`) and gcsfs (`gs://...`) into
such errors; anything it does not recognise propagates unchanged (a bug, with its traceback).
"""

import contextlib

READ_ROLE = "roles/storage.objectViewer"
# What the stack grants the trainer on its bucket: objectUser on jobs/ only (docs: README, "Data bucket").
WRITE_ROLE = "roles/storage.objectUser"
CREDENTIALS_HELP = (
    "run `gcloud auth application-default login` (your user account), or run as a service account "
    "(GOOGLE_APPLICATION_CREDENTIALS=key.json, or the account attached to the VM / Vertex AI job); "
    "for a local emulator set STORAGE_EMULATOR_HOST"
)


class TrainerError(Exception):
    """An error whose message is the whole story: printed as one ERROR line, exit code 2."""


class UnsafeFileError(TrainerError):
    """A torch file that only full unpickling (which can run arbitrary code) could load."""


def bucket_of(path):
    """`gs://BUCKET/...` -> BUCKET; `/gcs/BUCKET/...` -> BUCKET; anything else -> None."""
    for prefix in ("gs://", "/gcs/"):
        if path.startswith(prefix):
            return path[len(prefix) :].split("/", 1)[0] or None
    return None


def _role_advice(path, writing, identity):
    bucket = bucket_of(path)
    who = f"the identity the trainer runs as ({identity})" if identity else "the identity the trainer runs as"
    where = f"on the bucket gs://{bucket}" if bucket else "on the bucket"
    if writing:
        return f"{who} needs {WRITE_ROLE} {where} to write it"
    return f"{who} needs {READ_ROLE} {where} to read it ({WRITE_ROLE} if it also writes there)"


def not_found(path, bucket_exists=None):
    """`bucket_exists`: for gs:// paths, a callable answering True, False or None (unknown)."""
    if path.startswith("gs://"):
        bucket = bucket_of(path)
        exists = bucket_exists(bucket) if bucket_exists else None
        if exists is False:
            what = f"there is no bucket gs://{bucket}"
        elif exists:
            what = f"the bucket gs://{bucket} has no such object"
        else:
            what = f"there is no such object, or no bucket gs://{bucket}"
        return TrainerError(f"{path}: not found: {what}; check the path (for example with `gcloud storage ls`)")
    if path.startswith("/gcs/"):
        return TrainerError(
            f"{path}: not found: /gcs/BUCKET/... is Cloud Storage mounted by Vertex AI (gs://BUCKET/...); "
            "check the bucket and object name"
        )
    return TrainerError(f"{path}: no such file; check the path (relative paths start at the current directory)")


def storage_error(path, error, writing=False, identity=None, bucket_exists=None):
    """A TrainerError for `error` (raised while reading or writing `path`), or None if unknown.

    `identity`: who the requests ran as, for permission errors; `bucket_exists`: see `not_found`.
    """
    if isinstance(error, TrainerError):
        return error
    if isinstance(error, FileNotFoundError):
        return not_found(path, bucket_exists)
    if isinstance(error, IsADirectoryError):
        return TrainerError(f"{path}: is a directory; expected a file")
    if isinstance(error, PermissionError):
        advice = f"; {_role_advice(path, writing, identity)}" if path.startswith("/gcs/") else ""
        return TrainerError(f"{path}: permission denied ({'writing' if writing else 'reading'}){advice}")
    if not path.startswith("gs://"):
        return None
    return _gcs_error(path, error, writing, identity)


def _is_auth_error(error, *names):
    """`error` is one of google.auth.exceptions' `names` (matched by name: google-auth comes with gcsfs)."""
    return any(c.__name__ in names and c.__module__.startswith("google.auth") for c in type(error).__mro__)


def _gcs_error(path, error, writing, identity):
    from gcsfs.retry import RETRIABLE_EXCEPTIONS, HttpError, NonRetryableError

    if isinstance(error, HttpError) and error.__cause__ is not None and _is_auth_error(error.__cause__, "RefreshError"):
        error = error.__cause__  # gcsfs reports a failed refresh as a (retriable) 401
    message = str(error).strip().replace("\n", " ")
    if _is_auth_error(error, "DefaultCredentialsError"):
        return TrainerError(f"{path}: no Google Cloud credentials found ({message}); {CREDENTIALS_HELP}")
    if _is_auth_error(error, "RefreshError") or isinstance(error, NonRetryableError):
        return TrainerError(
            f"{path}: the Google Cloud credentials could not be refreshed (expired or revoked?): {message}; "
            f"{CREDENTIALS_HELP}"
        )
    if _is_auth_error(error, "TransportError"):
        return TrainerError(f"{path}: could not reach Google's authentication service: {message}; check the network")
    if isinstance(error, OSError) and message.startswith("Forbidden"):  # gcsfs: HTTP 403
        return TrainerError(f"{path}: permission denied (HTTP 403); {_role_advice(path, writing, identity)}")
    if isinstance(error, HttpError) and error.code == 401:
        return TrainerError(f"{path}: Cloud Storage refused the credentials (HTTP 401: {message}); {CREDENTIALS_HELP}")
    if isinstance(error, HttpError):
        return TrainerError(f"{path}: Cloud Storage answered HTTP {error.code} ({message}), also after retries")
    if isinstance(error, ValueError) and message.startswith("Bad Request"):  # gcsfs: HTTP 400 "invalid"
        return TrainerError(f"{path}: Cloud Storage rejected the request ({message}); check the path")
    if isinstance(error, (*RETRIABLE_EXCEPTIONS, ConnectionError, TimeoutError)):  # network, after gcsfs' retries
        return TrainerError(
            f"{path}: could not reach Cloud Storage, also after retries ({type(error).__name__}: {message}); "
            "check the network (or STORAGE_EMULATOR_HOST)"
        )
    return None


@contextlib.contextmanager
def translating(path, writing=False, identity=None, bucket_exists=None):
    """Re-raise storage exceptions from the body as TrainerErrors naming `path`.

    `identity` may be a string or a callable returning one (evaluated only on failure).
    """
    try:
        yield
    except TrainerError:
        raise
    except Exception as error:
        who = identity() if callable(identity) else identity
        translated = storage_error(path, error, writing, who, bucket_exists)
        if translated is None:
            raise
        raise translated from None
