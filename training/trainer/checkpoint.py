"""Checkpoints named by the number of completed epochs; the newest one is resumed."""

import random
import re

import numpy as np
import torch

from trainer import fs

_NAME = re.compile(r"^checkpoint-epoch-(\d{4,})\.pt$")
KEEP = 2


def path_for(directory, epoch):
    return fs.join(directory, f"checkpoint-epoch-{epoch:04d}.pt")


def latest(directory):
    """Path of the newest complete checkpoint in `directory`, or None."""
    epochs = [int(m.group(1)) for m in map(_NAME.match, fs.listdir(directory)) if m]
    return path_for(directory, max(epochs)) if epochs else None


def rng_state():
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
             "python": random.getstate()}  # fmt: skip
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(directory, state):
    """Atomically write the checkpoint for state['epoch'], then drop all but the newest KEEP."""
    fs.write_bytes_atomic(path_for(directory, state["epoch"]), fs.torch_save_bytes(state))
    epochs = sorted(int(m.group(1)) for m in map(_NAME.match, fs.listdir(directory)) if m)
    for epoch in epochs[:-KEEP]:
        fs.remove(path_for(directory, epoch))


def load(path):
    return fs.torch_load(path)
