"""Checkpoints named by the number of completed epochs; the newest one is resumed.

A checkpoint holds only tensors and plain Python values (RNG states included), so it is loaded
with `torch.load(weights_only=True)`: loading never runs code from the file. A checkpoint that
would need full unpickling (an older trainer's format, or a tampered file) is refused.
"""

import random
import re

import numpy as np
import torch

from trainer import errors, fs

_NAME = re.compile(r"^checkpoint-epoch-(\d{4,})\.pt$")
KEEP = 2


def path_for(directory, epoch):
    return fs.join(directory, f"checkpoint-epoch-{epoch:04d}.pt")


def latest(directory):
    """Path of the newest complete checkpoint in `directory`, or None."""
    epochs = [int(m.group(1)) for m in map(_NAME.match, fs.listdir(directory)) if m]
    return path_for(directory, max(epochs)) if epochs else None


def rng_state():
    """Every RNG's state as tensors and plain values (loadable with weights_only=True)."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss),
                  float(cached_gaussian)],
        "python": [version, list(internal), gauss_next],
    }  # fmt: skip
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, cached_gaussian = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(directory, state):
    """Atomically write the checkpoint for state['epoch'], then drop all but the newest KEEP."""
    fs.write_bytes_atomic(path_for(directory, state["epoch"]), fs.torch_save_bytes(state))
    epochs = sorted(int(m.group(1)) for m in map(_NAME.match, fs.listdir(directory)) if m)
    for epoch in epochs[:-KEEP]:
        fs.remove(path_for(directory, epoch))


def load(path):
    try:
        return fs.torch_load(path)
    except errors.UnsafeFileError as error:
        directory = path.rsplit("/", 1)[0] if "/" in path else "."
        raise errors.UnsafeFileError(
            f"{error} -- not resumed. Start a fresh run with a new --job-dir (or --checkpoint-dir), or delete "
            f"the checkpoints in {directory} to train from scratch there"
        ) from None
