"""Chicago taxi CSV -> in-memory tensors, once.

Missing-value policy (empty fields):
  * label `tip` empty          -> the row is skipped; the count is reported (log line + metrics.json).
  * numeric feature empty      -> imputed with the training mean (0 after standardisation) and flagged
                                  by a per-column missing-indicator input.
  * categorical feature empty  -> its own "missing" category.
Unparseable values (text in a numeric column, a label other than 0/1) stop the run with an error
naming the file, the line and the column. A file without the expected header, or empty, is an error.
"""

import csv
import dataclasses
import io as _io
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import torch

from trainer import io

LABEL = "tip"
COLUMNS = [
    "tip", "trip_miles", "trip_seconds", "fare", "trip_start_month", "trip_start_hour",
    "trip_start_day", "pickup_community_area", "dropoff_community_area", "pickup_census_tract",
    "dropoff_census_tract", "pickup_latitude", "pickup_longitude", "dropoff_latitude",
    "dropoff_longitude", "payment_type", "company",
]  # fmt: skip
NUMERIC = [
    "trip_miles", "trip_seconds", "fare",
    "pickup_latitude", "pickup_longitude", "dropoff_latitude", "dropoff_longitude",
]  # fmt: skip
LOG_SCALED = {"trip_miles", "trip_seconds", "fare"}  # long-tailed: log1p before standardising
INTEGER_CATEGORICAL = [
    "trip_start_month", "trip_start_hour", "trip_start_day",
    "pickup_community_area", "dropoff_community_area",
    # 11-digit census tract ids are labels, not quantities: vocabulary + embedding.
    "pickup_census_tract", "dropoff_census_tract",
]  # fmt: skip
STRING_CATEGORICAL = ["payment_type", "company"]
# Coordinates also go in as a coarse grid cell (~2 km), so the model can learn places, not just a
# linear trend in latitude/longitude.
GRID_CELLS = {"pickup_cell": ("pickup_latitude", "pickup_longitude"),
              "dropoff_cell": ("dropoff_latitude", "dropoff_longitude")}  # fmt: skip
GRID_DEGREES = 0.02
CATEGORICAL = INTEGER_CATEGORICAL + STRING_CATEGORICAL + list(GRID_CELLS)

OOV_INDEX = 0  # values not seen in training (or cut from the vocabulary)
MISSING_INDEX = 1  # empty field
MAX_VOCABULARY = 1000

_COLUMN_TYPES = {LABEL: pa.float64()}
_COLUMN_TYPES.update({c: pa.float64() for c in NUMERIC})
_COLUMN_TYPES.update({c: pa.int64() for c in INTEGER_CATEGORICAL})
_COLUMN_TYPES.update({c: pa.string() for c in STRING_CATEGORICAL})
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_INTEGER = re.compile(r"^\s*[-+]?\d+\s*$")


class DataError(ValueError):
    """Bad input data; the message names the file and the line or column."""


@dataclasses.dataclass
class Tensors:
    numeric: torch.Tensor  # float32 [N, len(NUMERIC) * 2]: standardised values, then missing flags
    categorical: torch.Tensor  # int64 [N, len(CATEGORICAL)]: per-column vocabulary index
    label: torch.Tensor  # float32 [N]

    def __len__(self):
        return len(self.label)

    def to(self, device):
        return Tensors(self.numeric.to(device), self.categorical.to(device), self.label.to(device))


@dataclasses.dataclass
class Table:
    table: pa.Table
    skipped_rows: int  # rows without a label


def read_csv(path, require_label=True):
    """One CSV file as a pyarrow Table with the schema's column types."""
    # Local files are memory-mapped (no copy); remote ones are fetched whole, once.
    source = pa.BufferReader(io.read_bytes(path)) if io.is_remote(path) else pa.memory_map(path)
    header = _check_header(path, source.read(1 << 16), require_label)
    source.seek(0)
    columns = [c for c in COLUMNS if c in header]
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(use_threads=True, block_size=16 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types={c: _COLUMN_TYPES[c] for c in columns},
                include_columns=columns,
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as error:
        source.seek(0)
        raise _diagnose(path, source.read(), columns, error) from None
    if table.num_rows == 0:
        raise DataError(f"{path}: no data rows after the header")
    if LABEL in table.column_names:
        label = table[LABEL]
        bad = pc.and_(pc.is_valid(label), pc.invert(pc.is_in(label, pa.array([0.0, 1.0]))))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise DataError(
                f"{path}, line {row + 2}, column '{LABEL}': {label[row].as_py()!r} is not 0 or 1"
            )
    return table


def read_csv_files(paths, require_label=True):
    """Several CSV files concatenated; rows without a label skipped and counted."""
    tables = [read_csv(p, require_label) for p in paths]
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    skipped = 0
    if require_label:
        has_label = pc.is_valid(table[LABEL])
        skipped = table.num_rows - pc.sum(has_label.cast(pa.int64())).as_py()
        if skipped:
            table = table.filter(has_label)
    return Table(table, skipped)


def _check_header(path, raw, require_label):
    if not raw.strip():
        raise DataError(f"{path}: file is empty; expected a header row: {','.join(COLUMNS)}")
    first_line = raw[: raw.find(b"\n")] if b"\n" in raw else raw
    header = [h.strip() for h in next(csv.reader([first_line.decode("utf-8", "replace")]))]
    required = COLUMNS if require_label else [c for c in COLUMNS if c != LABEL]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"{path}: header is missing column(s) {', '.join(repr(c) for c in missing)} "
            f"(line 1 reads: {first_line[:200].decode('utf-8', 'replace')!r})"
        )
    return header


def _diagnose(path, raw, columns, error):
    """Find the first value pyarrow could not convert and name its line and column."""
    try:
        as_text = pacsv.read_csv(
            pa.BufferReader(raw),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns}, include_columns=columns
            ),
        )
    except pa.ArrowInvalid as structural:  # e.g. a row with the wrong number of fields
        return DataError(f"{path}: malformed CSV: {structural}")
    for column in columns:
        kind = _COLUMN_TYPES[column]
        if kind == pa.string():
            continue
        pattern = _INTEGER if kind == pa.int64() else _NUMBER
        values = as_text[column].to_pylist()
        for row, value in enumerate(values):
            if value != "" and not pattern.match(value):
                what = "an integer" if kind == pa.int64() else "a number"
                return DataError(
                    f"{path}, line {row + 2}, column '{column}': {value!r} is not {what}"
                )
    return DataError(f"{path}: {error}")


def _grid_cell(table, latitude, longitude):
    lat = table[latitude].to_numpy()
    lon = table[longitude].to_numpy()
    missing = np.isnan(lat) | np.isnan(lon)
    row = np.floor(np.nan_to_num(lat) / GRID_DEGREES).astype(np.int64)
    col = np.floor(np.nan_to_num(lon) / GRID_DEGREES).astype(np.int64)
    return pa.array(row * 100_000 + col, mask=missing)


def _categorical_column(table, name):
    if name in GRID_CELLS:
        return _grid_cell(table, *GRID_CELLS[name])
    return table[name].combine_chunks()


@dataclasses.dataclass
class Preprocessing:
    """Everything fitted on the training data that prediction needs to encode a row the same way."""

    vocabularies: dict  # column -> list of values; index = position + 2 (0: OOV, 1: missing)
    means: dict  # numeric column -> mean of the (log1p) value over non-missing training rows
    stds: dict

    @classmethod
    def fit(cls, table, max_vocabulary=MAX_VOCABULARY):
        vocabularies = {}
        for name in CATEGORICAL:
            counts = pc.value_counts(pc.drop_null(_categorical_column(table, name)))
            values = counts.field("values").to_pylist()
            frequency = counts.field("counts").to_pylist()
            # Most frequent first; ties by value so the vocabulary does not depend on row order.
            ranked = sorted(zip(frequency, values), key=lambda fv: (-fv[0], fv[1]))
            vocabularies[name] = [v for _, v in ranked[:max_vocabulary]]
        means, stds = {}, {}
        for name in NUMERIC:
            values = _numeric_values(table, name)
            present = values[~np.isnan(values)]
            means[name] = float(present.mean()) if len(present) else 0.0
            std = float(present.std()) if len(present) else 1.0
            stds[name] = std if std > 1e-12 else 1.0
        return cls(vocabularies, means, stds)

    @property
    def vocabulary_sizes(self):
        return [len(self.vocabularies[c]) + 2 for c in CATEGORICAL]

    @property
    def num_numeric(self):
        return 2 * len(NUMERIC)

    def encode(self, table):
        """Features (and the label if present) as tensors."""
        n = table.num_rows
        numeric = np.empty((n, self.num_numeric), dtype=np.float32)
        for i, name in enumerate(NUMERIC):
            values = _numeric_values(table, name)
            missing = np.isnan(values)
            standardised = (values - self.means[name]) / self.stds[name]
            numeric[:, i] = np.where(missing, 0.0, standardised)
            numeric[:, len(NUMERIC) + i] = missing
        categorical = np.empty((n, len(CATEGORICAL)), dtype=np.int64)
        for i, name in enumerate(CATEGORICAL):
            column = _categorical_column(table, name)
            vocabulary = pa.array(self.vocabularies[name], type=column.type)
            index = pc.fill_null(pc.index_in(column, value_set=vocabulary), OOV_INDEX - 2)
            encoded = index.to_numpy().astype(np.int64) + 2
            encoded[column.is_null().to_numpy(zero_copy_only=False)] = MISSING_INDEX
            categorical[:, i] = encoded
        if LABEL in table.column_names:
            label = table[LABEL].to_numpy().astype(np.float32)
        else:
            label = np.full(n, np.nan, dtype=np.float32)  # unlabelled prediction input
        return Tensors(torch.from_numpy(numeric), torch.from_numpy(categorical),
                       torch.from_numpy(label))  # fmt: skip

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


def _numeric_values(table, name):
    values = table[name].to_numpy()  # float64, NaN where the field was empty
    if name in LOG_SCALED:
        values = np.log1p(np.clip(values, 0.0, None))
    return values


def table_from_rows(rows):
    """Prediction instances (dicts keyed by column name) as a Table with the CSV schema."""
    names = [c for c in COLUMNS if c != LABEL]
    schema = pa.schema([(c, _COLUMN_TYPES[c]) for c in names])
    return pa.Table.from_pylist([{c: row.get(c) for c in names} for row in rows], schema=schema)


def write_csv(table, path):
    buffer = _io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(quoting_style="needed"))
    io.write_bytes_atomic(path, buffer.getvalue())
