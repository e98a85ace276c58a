"""Chicago taxi CSV files -> pyarrow Tables with the schema's types, and rows -> Tables.

Missing-value policy (empty fields):
  * label `tip` empty          -> the row is skipped; the count is reported (log line + metrics.json).
  * numeric feature empty      -> imputed with the training mean (0 after standardisation) and flagged
                                  by a per-column missing-indicator input.
  * categorical feature empty  -> its own "missing" category.
Unparseable values (text in a numeric column, inf or nan, a label other than 0/1) stop the run with an
error naming the file, the line and the column. A file without the expected header, or empty, is an error.
"""

import csv
import dataclasses
import io
import os

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from trainer import fs
from trainer.columns import COLUMN_TYPES, COLUMNS, INTEGER, LABEL, NUMBER, READ_TYPES, DataError
from trainer.errors import TrainerError, translating


@dataclasses.dataclass
class Table:
    table: pa.Table
    skipped_rows: int  # rows without a label


def read_csv(path, require_label=True):
    """One CSV file as a pyarrow Table with the schema's column types."""
    # Local files are memory-mapped (no copy); remote ones are fetched whole, once.
    if fs.is_remote(path):
        source = pa.BufferReader(fs.read_bytes(path))
    else:
        if os.path.isdir(path):
            raise TrainerError(f"{path}: is a directory; expected a CSV file")
        with translating(path):
            source = pa.memory_map(path)
    header = _check_header(path, source.read(1 << 16), require_label)
    source.seek(0)
    columns = [c for c in COLUMNS if c in header]
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(use_threads=True, block_size=16 << 20),
            convert_options=pacsv.ConvertOptions(
                column_types={c: READ_TYPES[c] for c in columns},
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
    for column in columns:
        values = table[column]
        if pa.types.is_floating(values.type):
            # pyarrow reads "inf" and "nan" as numbers; one would turn the whole model into NaN.
            bad = pc.and_(pc.is_valid(values), pc.invert(pc.is_finite(values)))
            if pc.any(bad).as_py():
                row = pc.index(bad, True).as_py()
                value = values[row].as_py()
                raise DataError(f"{path}, line {row + 2}, column '{column}': {value!r} is not a finite number")
    if LABEL in table.column_names:
        label = table[LABEL]
        bad = pc.and_(pc.is_valid(label), pc.invert(pc.is_in(label, pa.array([0.0, 1.0]))))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise DataError(f"{path}, line {row + 2}, column '{LABEL}': {label[row].as_py()!r} is not 0 or 1")
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
        kind = COLUMN_TYPES[column]
        if kind == pa.string():
            continue
        pattern = INTEGER if kind == pa.int64() else NUMBER
        values = as_text[column].to_pylist()
        for row, value in enumerate(values):
            if value != "" and not pattern.match(value):
                what = "an integer" if kind == pa.int64() else "a number"
                return DataError(f"{path}, line {row + 2}, column '{column}': {value!r} is not {what}")
    return DataError(f"{path}: {error}")


def table_from_rows(rows):
    """Prediction instances (dicts keyed by column name) as a Table with the CSV schema."""
    names = [c for c in COLUMNS if c != LABEL]
    schema = pa.schema([(c, COLUMN_TYPES[c]) for c in names])
    return pa.Table.from_pylist([{c: row.get(c) for c in names} for row in rows], schema=schema)


def write_csv(table, path):
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(quoting_style="needed"))
    fs.write_bytes_atomic(path, buffer.getvalue())
