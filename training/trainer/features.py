"""Tables -> tensors: vocabularies and statistics fitted on the training data (`Preprocessing`),
then every column encoded at once, in parallel where numpy and pyarrow release the GIL.

See `trainer.csv_data` for the missing-value policy this encoding implements.
"""

import collections
import concurrent.futures
import dataclasses
import json
import threading
import typing
import weakref

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from trainer.columns import (
    CATEGORICAL,
    GRID_CELLS,
    GRID_DEGREES,
    LABEL,
    LOG_SCALED,
    MAX_VOCABULARY,
    MISSING_INDEX,
    NUMERIC,
    OOV_INDEX,
    STRING_CATEGORICAL,
)


@dataclasses.dataclass
class Tensors:
    numeric: torch.Tensor  # float32 [N, len(NUMERIC) * 2]: standardised values, then missing flags
    categorical: torch.Tensor  # int64 [N, len(CATEGORICAL)]: per-column vocabulary index
    label: torch.Tensor  # float32 [N]

    def __len__(self):
        return len(self.label)

    def to(self, device):
        return Tensors(self.numeric.to(device), self.categorical.to(device), self.label.to(device))


def _pool():
    """Threads for column work: numpy and pyarrow release the GIL on whole-column operations."""
    global _POOL
    if _POOL is None:
        _POOL = concurrent.futures.ThreadPoolExecutor(_THREADS, "trainer-data")
    return _POOL


def _map(function, items):
    """list(map(function, items)) on the pool (inline where there is one CPU)."""
    if _THREADS == 1:
        return [function(item) for item in items]
    return list(_pool().map(function, items))


_THREADS = max(1, pa.cpu_count())
_POOL = None
# Integer keys spanning at most this many values are counted and looked up with flat arrays
# (bincount, gather); wider ones fall back to pyarrow's hash kernels.
_DENSE_SPAN = 1 << 22


class _Keys(typing.NamedTuple):
    """A categorical column as int64 keys: the value itself (integer and grid-cell columns) or the
    index into `dictionary` (string columns, read dictionary-encoded so that no row's string is
    hashed again after parsing). Missing rows hold `low`, so every key lies in [low, high]."""

    values: np.ndarray
    missing: "np.ndarray | None"  # bool; None: nothing missing
    dictionary: "pa.Array | None"
    low: int
    high: int


class _Columns:
    """Per-column numpy arrays of one table, computed once and shared by `fit` and `encode`.
    numeric(name): float64, NaN where missing (empty field or NaN), log1p'd for LOG_SCALED."""

    def __init__(self, table):
        self.table = table
        self._cache = {}
        self._locks = collections.defaultdict(threading.Lock)
        self._lock = threading.Lock()

    def _once(self, key, compute):
        """compute() once per key, also when several pool threads ask at the same time."""
        with self._lock:
            lock = self._locks[key]
        with lock:
            if key not in self._cache:
                self._cache[key] = compute()
        return self._cache[key]

    def numeric(self, name):
        def compute():
            values = self.table[name].to_numpy()  # float64, NaN where the field was empty
            if name in LOG_SCALED:
                values = np.clip(values, 0.0, None)
                np.log1p(values, out=values)
            return values

        return self._once(("numeric", name), compute)

    def numeric_missing(self, name):
        def compute():
            missing = np.isnan(self.numeric(name))
            return missing if missing.any() else None

        return self._once(("missing", name), compute)

    def keys(self, name):
        def compute():
            if name in GRID_CELLS:
                return self._grid_cell(*GRID_CELLS[name])
            if name in STRING_CATEGORICAL:
                return self._dictionary_keys(name)
            column = self.table[name]
            bounds = pc.min_max(column)  # nulls skipped
            low = bounds["min"].as_py() or 0
            high = bounds["max"].as_py() or 0
            missing = _null_mask(column)
            if missing is not None:
                column = pc.fill_null(column, low)
            return _Keys(_as_numpy(column, np.int64), missing, None, low, high)

        return self._once(("keys", name), compute)

    def _grid_cell(self, latitude, longitude):
        """Cell key floor(lat / GRID_DEGREES) * 100000 + floor(lon / GRID_DEGREES)."""
        cell = np.divide(self.numeric(latitude), GRID_DEGREES)
        np.floor(cell, out=cell)
        cell *= 100_000  # exact in float64 for any coordinate on Earth
        col = np.divide(self.numeric(longitude), GRID_DEGREES)
        np.floor(col, out=col)
        cell += col
        missing = np.isnan(cell)  # either coordinate missing
        with np.errstate(invalid="ignore"):  # non-finite coordinates: nonsense cells, as before
            keys = cell.astype(np.int64)
        if not missing.any():
            missing = None
        elif missing.all():
            keys[:] = 0
        else:
            keys[missing] = keys[np.argmin(missing)]  # the first present key: bounds unchanged
        if len(keys) == 0:
            return _Keys(keys, missing, None, 0, 0)
        low, high = int(keys.min()), int(keys.max())
        if missing is not None:
            keys[missing] = low
        return _Keys(keys, missing, None, low, high)

    def _dictionary_keys(self, name):
        column = self.table[name]
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        column = column.unify_dictionaries()
        if column.num_chunks == 0:
            return _Keys(np.zeros(0, np.int64), None, pa.array([], column.type.value_type), 0, 0)
        dictionary = column.chunk(0).dictionary
        indices = pa.chunked_array([c.indices for c in column.chunks], column.type.index_type)
        missing = _null_mask(indices)
        if missing is not None:
            indices = pc.fill_null(indices, 0)
        keys = _as_numpy(indices, np.int64)
        if dictionary.null_count:  # a null stored in the dictionary itself is missing too
            null_entries = dictionary.is_null().to_numpy(zero_copy_only=False)
            missing = null_entries[keys] | (False if missing is None else missing)
            keys[missing] = 0
        return _Keys(keys, missing, dictionary, 0, max(len(dictionary) - 1, 0))


def _null_mask(column):
    if column.null_count == 0:
        return None
    return column.is_null().to_numpy(zero_copy_only=False)


def _as_numpy(column, dtype):
    values = column.to_numpy()
    return values if values.dtype == dtype else values.astype(dtype)


def _dense_base(low, high):
    """Offset for a flat table indexed by key - offset (0 when keys can index it directly)."""
    return 0 if 0 <= low and high < _DENSE_SPAN else low


def _count(keys):
    """(distinct values, their counts) of the non-missing keys, as numpy arrays."""
    if keys.missing is not None and keys.missing.all() or len(keys.values) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if keys.high - keys.low < _DENSE_SPAN:
        base = _dense_base(keys.low, keys.high)
        counts = np.bincount(keys.values - base if base else keys.values)
        if keys.missing is not None:  # missing rows were counted as `low`
            counts[keys.low - base] -= np.count_nonzero(keys.missing)
        values = np.flatnonzero(counts)
        return values + base, counts[values]
    present = keys.values if keys.missing is None else keys.values[~keys.missing]
    counted = pc.value_counts(pa.array(present))
    return counted.field("values").to_numpy(), counted.field("counts").to_numpy()


def _vocabulary(keys, max_vocabulary):
    values, counts = _count(keys)
    if keys.dictionary is not None:
        names = keys.dictionary.take(pa.array(values)).to_pylist()
        # Most frequent first; ties by value so the vocabulary does not depend on row order.
        ranked = sorted(zip(counts.tolist(), names), key=lambda fv: (-fv[0], fv[1]))
        return [v for _, v in ranked[:max_vocabulary]]
    order = np.lexsort((values, -counts))[:max_vocabulary]  # same order: count desc, value asc
    return values[order].tolist()


def _encode_keys(keys, vocabulary, out):
    """Vocabulary index per row into `out` (int64): value position + 2, OOV 0, missing 1."""
    values = keys.values
    if keys.dictionary is not None:  # look up the (small) dictionary once, then gather by index
        lookup = pc.index_in(keys.dictionary, value_set=pa.array(vocabulary, keys.dictionary.type))
        table = pc.fill_null(lookup, OOV_INDEX - 2).to_numpy().astype(np.int64) + 2
        if len(table):
            np.take(table, values, out=out, mode="clip")
        else:  # no dictionary entries: every row is missing
            out.fill(MISSING_INDEX)
    elif not vocabulary:
        out.fill(OOV_INDEX)
    elif max(keys.high, max(vocabulary)) - min(keys.low, min(vocabulary)) < _DENSE_SPAN:
        # One flat table covering both the keys and the vocabulary: a single gather.
        base = _dense_base(min(keys.low, min(vocabulary)), max(keys.high, max(vocabulary)))
        table = np.full(max(keys.high, max(vocabulary)) - base + 1, OOV_INDEX, dtype=np.int64)
        table[np.asarray(vocabulary, dtype=np.int64) - base] = np.arange(2, len(vocabulary) + 2)
        np.take(table, values - base if base else values, out=out, mode="clip")
    elif max(vocabulary) - min(vocabulary) < _DENSE_SPAN:
        low, high = min(vocabulary), max(vocabulary)
        # Flat table over [low - 1, high + 1]; keys outside clip to the ends, which are OOV.
        table = np.full(high - low + 3, OOV_INDEX, dtype=np.int64)
        table[np.asarray(vocabulary, dtype=np.int64) - (low - 1)] = np.arange(2, len(vocabulary) + 2)
        info = np.iinfo(np.int64)
        position = np.clip(values, max(low - 1, info.min), min(high + 1, info.max))
        position -= low - 1
        np.take(table, position, out=out, mode="clip")
    else:
        index = pc.index_in(pa.array(values), value_set=pa.array(vocabulary, pa.int64()))
        out[:] = pc.fill_null(index, OOV_INDEX - 2).to_numpy() + 2
    if keys.missing is not None:
        out[keys.missing] = MISSING_INDEX


def _transpose_into(columns_by_row, out):
    """out[r, c] = columns_by_row[c, r], in row slices on the pool (a plain .T copy is 1 thread)."""
    n = out.shape[0]
    step = max(1, -(-n // (4 * _THREADS)))

    def part(start):
        out[start : start + step] = columns_by_row[:, start : start + step].T

    _map(part, range(0, n, step))


@dataclasses.dataclass
class Preprocessing:
    """Everything fitted on the training data that prediction needs to encode a row the same way."""

    vocabularies: dict  # column -> list of values; index = position + 2 (0: OOV, 1: missing)
    means: dict  # numeric column -> mean of the (log1p) value over non-missing training rows
    stds: dict

    @classmethod
    def fit(cls, table, max_vocabulary=MAX_VOCABULARY):
        columns = _Columns(table)

        def vocabulary(name):
            return _vocabulary(columns.keys(name), max_vocabulary)

        def statistics(name):
            values = columns.numeric(name)
            missing = columns.numeric_missing(name)
            present = values if missing is None else values[~missing]
            mean = float(present.mean()) if len(present) else 0.0
            std = float(present.std()) if len(present) else 1.0
            return mean, std if std > 1e-12 else 1.0

        # Grid cells need the coordinates, so those go first and the cells last.
        names = NUMERIC + [c for c in CATEGORICAL if c not in GRID_CELLS] + list(GRID_CELLS)
        results = dict(zip(names, _map(lambda n: (statistics if n in NUMERIC else vocabulary)(n), names)))
        preprocessing = cls(
            vocabularies={c: results[c] for c in CATEGORICAL},
            means={c: results[c][0] for c in NUMERIC},
            stds={c: results[c][1] for c in NUMERIC},
        )
        preprocessing._fitted = (weakref.ref(table), columns)  # encode(table) reuses the arrays
        return preprocessing

    @property
    def vocabulary_sizes(self):
        return [len(self.vocabularies[c]) + 2 for c in CATEGORICAL]

    @property
    def num_numeric(self):
        return 2 * len(NUMERIC)

    def encode(self, table):
        """Features (and the label if present) as tensors."""
        fitted = self.__dict__.pop("_fitted", None)  # one use: do not keep the arrays alive
        columns = fitted[1] if fitted is not None and fitted[0]() is table else _Columns(table)
        n = table.num_rows
        # Built column by column (contiguous rows), then transposed to [N, features] in parallel.
        numeric = np.empty((self.num_numeric, n), dtype=np.float32)
        categorical = np.empty((len(CATEGORICAL), n), dtype=np.int64)

        def encode_numeric(i):
            name = NUMERIC[i]
            standardised = columns.numeric(name) - self.means[name]
            standardised /= self.stds[name]
            missing = columns.numeric_missing(name)
            if missing is None:
                numeric[len(NUMERIC) + i] = 0.0
            else:
                standardised[missing] = 0.0
                numeric[len(NUMERIC) + i] = missing
            numeric[i] = standardised

        def encode_categorical(i):
            name = CATEGORICAL[i]
            _encode_keys(columns.keys(name), self.vocabularies[name], categorical[i])

        _map(lambda job: job[0](job[1]), [(encode_numeric, i) for i in range(len(NUMERIC))]
             + [(encode_categorical, i) for i in range(len(CATEGORICAL))])  # fmt: skip
        numeric_rows = np.empty((n, self.num_numeric), dtype=np.float32)
        categorical_rows = np.empty((n, len(CATEGORICAL)), dtype=np.int64)
        _transpose_into(numeric, numeric_rows)
        _transpose_into(categorical, categorical_rows)
        if LABEL in table.column_names:
            label = table[LABEL].to_numpy().astype(np.float32)
        else:
            label = np.full(n, np.nan, dtype=np.float32)  # unlabelled prediction input
        return Tensors(torch.from_numpy(numeric_rows), torch.from_numpy(categorical_rows),
                       torch.from_numpy(label))  # fmt: skip

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))
