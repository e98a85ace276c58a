"""Prediction instances (JSON objects keyed by column name) -> model inputs, without pyarrow.

`RowEncoder` reproduces `features.Preprocessing.encode` exactly (tests/test_rows.py compares them
bit for bit), but a request only costs a few dict lookups per row: `parse` validates one instance
into raw numbers and vocabulary indices, and `encode` does the float arithmetic (log1p,
standardisation, grid cells) once per micro-batch, with the same numpy operations as `encode`.

Values follow the CSV rules: JSON numbers or strings that parse as the column's type; null, an
absent key or "" is an empty field (the missing-value policy in `trainer.csv_data`); keys that
are not columns are ignored. Anything else raises `InstanceError` naming the instance and field.
"""

import math

import numpy as np

from trainer.columns import (
    CATEGORICAL,
    COLUMNS,
    GRID_CELLS,
    GRID_DEGREES,
    INTEGER,
    INTEGER_CATEGORICAL,
    LABEL,
    LOG_SCALED,
    MISSING_INDEX,
    NUMBER,
    NUMERIC,
    OOV_INDEX,
    STRING_CATEGORICAL,
    DataError,
)

FEATURES = [c for c in COLUMNS if c != LABEL]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# A coordinate this many standard deviations from the training mean is nowhere on Earth, and far
# larger ones overflow the float32 network into NaN: RowEncoder rejects them.
MAX_STANDARDISED = 1e6


class InstanceError(DataError):
    def __init__(self, index, field, problem):
        super().__init__(f"instances[{index}].{field}: {problem}" if field else f"instances[{index}]: {problem}")
        self.index, self.field = index, field


def json_type(value):
    names = {dict: "an object", list: "a list", bool: "a boolean", str: "a string", int: "a number", float: "a number",
             type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def parse_number(value):
    """float, or None for an empty field."""
    kind = type(value)
    if kind is float or kind is int:
        number = float(value)
    elif kind is str:
        if value == "":
            return None
        if not NUMBER.match(value):
            raise ValueError(f"{value!r} is not a number")
        number = float(value)
    elif value is None:
        return None
    else:
        raise ValueError(f"expected a number, got {json_type(value)}")
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def parse_integer(value):
    """int (int64 range), or None for an empty field. 3.0 is 3; 3.5 is an error, not truncated."""
    kind = type(value)
    if kind is int:
        number = value
    elif kind is float:
        if not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        number = int(value)
    elif kind is str:
        if value == "":
            return None
        if not INTEGER.match(value):
            raise ValueError(f"{value!r} is not an integer")
        number = int(value)
    elif value is None:
        return None
    else:
        raise ValueError(f"expected an integer, got {json_type(value)}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{value!r} is out of the 64-bit integer range")
    return number


def parse_string(value):
    if type(value) is str:
        return value or None
    if value is None:
        return None
    raise ValueError(f"expected a string, got {json_type(value)}")


PARSERS = {c: parse_number for c in NUMERIC}
PARSERS.update({c: parse_integer for c in INTEGER_CATEGORICAL})
PARSERS.update({c: parse_string for c in STRING_CATEGORICAL})


def parse_instance(index, instance):
    """{column: typed value or None} for every feature column; raises InstanceError."""
    if type(instance) is not dict:
        raise InstanceError(index, None, f"expected an object keyed by column name, got {json_type(instance)}")
    parsed = {}
    for name in FEATURES:
        try:
            parsed[name] = PARSERS[name](instance.get(name))
        except ValueError as error:
            raise InstanceError(index, name, str(error)) from None
    return parsed


_LOOKED_UP = INTEGER_CATEGORICAL + STRING_CATEGORICAL  # CATEGORICAL minus the grid cells, same order
assert CATEGORICAL == _LOOKED_UP + list(GRID_CELLS)
_COORDINATES = {name: (NUMERIC.index(lat), NUMERIC.index(lon)) for name, (lat, lon) in GRID_CELLS.items()}
_LOG_SCALED = [i for i, name in enumerate(NUMERIC) if name in LOG_SCALED]
_HASHABLE = (int, float, str)


class RowEncoder:
    """Instances -> (numeric float32 [N, 2 * len(NUMERIC)], categorical int64 [N, len(CATEGORICAL)]),
    equal to `Preprocessing.encode` on a table of the same rows."""

    def __init__(self, preprocessing):
        def lookup(name):
            return {value: position + 2 for position, value in enumerate(preprocessing.vocabularies[name])}

        def bounds(name):  # log1p'd columns stay within a few hundred standard deviations anyway
            if name in LOG_SCALED:
                return -math.inf, math.inf
            spread = MAX_STANDARDISED * preprocessing.stds[name]
            return preprocessing.means[name] - spread, preprocessing.means[name] + spread

        self._lookups = [(name, PARSERS[name], lookup(name)) for name in _LOOKED_UP]
        self._numeric = [(name, PARSERS[name], *bounds(name)) for name in NUMERIC]
        self._cell_lookups = [lookup(name) for name in GRID_CELLS]
        self._means = np.array([preprocessing.means[c] for c in NUMERIC], dtype=np.float64)[:, None]
        self._stds = np.array([preprocessing.stds[c] for c in NUMERIC], dtype=np.float64)[:, None]

    def parse(self, index, instance):
        """One instance -> (raw numeric values, NaN where empty; vocabulary indices of the
        non-grid categorical columns). Raises InstanceError for a value of the wrong type or out of range."""
        if type(instance) is not dict:
            raise InstanceError(index, None, f"expected an object keyed by column name, got {json_type(instance)}")
        get = instance.get
        name = None
        # Fast paths first: a float in range, a value found in the vocabulary as it is (3.0 finds 3,
        # like int(3.0) would). Everything else goes through the column's parser.
        try:
            numeric = []
            for name, parse, low, high in self._numeric:
                value = get(name)
                if type(value) is not float or not low <= value <= high:
                    value = parse(value)
                    if value is None:
                        value = math.nan
                    elif not low <= value <= high:
                        raise ValueError(f"{value!r} is out of range")
                numeric.append(value)
            indices = []
            for name, parse, lookup in self._lookups:
                value = get(name)
                found = lookup.get(value) if type(value) in _HASHABLE else None  # not bool, list, dict
                if found is None:
                    value = parse(value)
                    found = MISSING_INDEX if value is None else lookup.get(value, OOV_INDEX)
                indices.append(found)
        except ValueError as error:
            raise InstanceError(index, name, str(error)) from None
        return numeric, indices

    def encode(self, parsed):
        """A batch of `parse` results -> (numeric, categorical) numpy arrays."""
        n = len(parsed)
        # Column-major like Preprocessing.encode, so every numpy operation sees the same contiguous rows.
        raw = np.array([numeric for numeric, _ in parsed], dtype=np.float64).reshape(n, len(NUMERIC)).T.copy()
        categorical = np.empty((n, len(CATEGORICAL)), dtype=np.int64)
        categorical[:, : len(_LOOKED_UP)] = np.array([indices for _, indices in parsed], dtype=np.int64).reshape(
            n, len(_LOOKED_UP)
        )
        for column, (lookup, (lat, lon)) in enumerate(zip(self._cell_lookups, _COORDINATES.values())):
            categorical[:, len(_LOOKED_UP) + column] = self._grid_cells(raw[lat], raw[lon], lookup)
        for i in _LOG_SCALED:
            np.clip(raw[i], 0.0, None, out=raw[i])
            np.log1p(raw[i], out=raw[i])
        missing = np.isnan(raw)
        standardised = raw - self._means
        standardised /= self._stds
        standardised[missing] = 0.0
        numeric = np.empty((n, 2 * len(NUMERIC)), dtype=np.float32)
        numeric[:, : len(NUMERIC)] = standardised.T
        numeric[:, len(NUMERIC) :] = missing.T
        return numeric, categorical

    @staticmethod
    def _grid_cells(latitude, longitude, lookup):
        """The same float64 steps as `features._Columns._grid_cell`, then the vocabulary index."""
        cell = np.divide(latitude, GRID_DEGREES)
        np.floor(cell, out=cell)
        cell *= 100_000
        col = np.divide(longitude, GRID_DEGREES)
        np.floor(col, out=col)
        cell += col
        missing = np.isnan(cell).tolist()
        with np.errstate(invalid="ignore"):
            keys = cell.astype(np.int64).tolist()
        return [MISSING_INDEX if gone else lookup.get(key, OOV_INDEX) for key, gone in zip(keys, missing)]
