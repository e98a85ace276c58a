import numpy as np
import pyarrow as pa
import pytest
import torch
from conftest import SAMPLE_TRAIN

from trainer import columns, csv_data, features, synthetic


def replace_field(line, column, value):
    fields = line.split(",")
    fields[columns.COLUMNS.index(column)] = value
    return ",".join(fields)


def test_reads_sample_with_schema_types():
    table = csv_data.read_csv(str(SAMPLE_TRAIN))
    assert table.column_names == columns.COLUMNS
    assert table.num_rows == 4000
    assert table.schema.field("pickup_census_tract").type == pa.int64()
    # Strings come back dictionary-encoded (the parser builds the dictionary; see columns.READ_TYPES).
    assert table.schema.field("company").type == pa.dictionary(pa.int32(), pa.string())


def test_empty_file_is_an_error(csv_file):
    path = csv_file("")
    with pytest.raises(columns.DataError, match=r"data\.csv: file is empty"):
        csv_data.read_csv(path)


def test_header_only_is_an_error(csv_file, sample_header):
    path = csv_file(sample_header + "\n")
    with pytest.raises(columns.DataError, match="no data rows"):
        csv_data.read_csv(path)


def test_missing_column_is_named(csv_file, sample_lines):
    keep = [i for i, c in enumerate(columns.COLUMNS) if c != "fare"]
    text = "\n".join(",".join(line.split(",")[i] for i in keep) for line in sample_lines[:5])
    path = csv_file(text)
    with pytest.raises(columns.DataError, match=r"data\.csv: header is missing column\(s\) 'fare'"):
        csv_data.read_csv(path)


def test_file_without_header_row_is_rejected(csv_file, sample_lines):
    path = csv_file("\n".join(sample_lines[1:6]))
    with pytest.raises(columns.DataError, match=r"data\.csv: header is missing column\(s\) 'tip', 'trip_miles'"):
        csv_data.read_csv(path)


def test_non_numeric_value_names_file_line_and_column(csv_file, sample_lines):
    lines = list(sample_lines[:10])
    lines[6] = replace_field(lines[6], "fare", "twelve")
    path = csv_file("\n".join(lines))
    with pytest.raises(columns.DataError, match=r"data\.csv, line 7, column 'fare': 'twelve' is not a number"):
        csv_data.read_csv(path)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "NaN"])
def test_a_non_finite_number_names_file_line_and_column(csv_file, sample_lines, value):
    """One inf would make every loss NaN, and a model the server can never load."""
    lines = list(sample_lines[:10])
    lines[4] = replace_field(lines[4], "fare", value)
    path = csv_file("\n".join(lines))
    with pytest.raises(columns.DataError, match=r"data\.csv, line 5, column 'fare': .* is not a finite number"):
        csv_data.read_csv(path)


def test_non_integer_category_names_line_and_column(csv_file, sample_lines):
    lines = list(sample_lines[:10])
    lines[3] = replace_field(lines[3], "trip_start_hour", "7pm")
    path = csv_file("\n".join(lines))
    with pytest.raises(columns.DataError, match=r"line 4, column 'trip_start_hour': '7pm' is not an integer"):
        csv_data.read_csv(path)


def test_label_must_be_zero_or_one(csv_file, sample_lines):
    lines = list(sample_lines[:10])
    lines[5] = replace_field(lines[5], "tip", "2")
    path = csv_file("\n".join(lines))
    with pytest.raises(columns.DataError, match=r"line 6, column 'tip': 2.0 is not 0 or 1"):
        csv_data.read_csv(path)


def test_rows_without_label_are_skipped_and_counted(csv_file, sample_lines):
    lines = list(sample_lines[:11])
    lines[2] = replace_field(lines[2], "tip", "")
    lines[9] = replace_field(lines[9], "tip", "")
    loaded = csv_data.read_csv_files([csv_file("\n".join(lines))])
    assert loaded.skipped_rows == 2
    assert loaded.table.num_rows == 8


def test_empty_numeric_is_imputed_and_flagged_never_nan(csv_file, sample_lines):
    lines = list(sample_lines[:50])
    lines[1] = replace_field(lines[1], "trip_miles", "")
    table = csv_data.read_csv_files([csv_file("\n".join(lines))]).table
    preprocessing = features.Preprocessing.fit(table)
    tensors = preprocessing.encode(table)
    assert not torch.isnan(tensors.numeric).any()
    miles = columns.NUMERIC.index("trip_miles")
    assert tensors.numeric[0, miles] == 0.0
    assert tensors.numeric[0, len(columns.NUMERIC) + miles] == 1.0  # missing flag
    assert tensors.numeric[1:, len(columns.NUMERIC) + miles].sum() == 0.0


def _table(**given):
    n = len(next(iter(given.values())))
    full = {c: pa.nulls(n, columns.COLUMN_TYPES[c]) for c in columns.COLUMNS}
    for name, values in given.items():
        full[name] = pa.array(values, type=columns.COLUMN_TYPES[name])
    return pa.table(full)


def test_vocabulary_by_frequency_with_oov_and_missing_buckets():
    train = _table(tip=[1.0] * 6, company=["b", "a", "a", "c", "b", "a"])
    preprocessing = features.Preprocessing.fit(train)
    assert preprocessing.vocabularies["company"] == ["a", "b", "c"]
    evaluation = _table(tip=[0.0] * 4, company=["a", "zzz", None, "c"])
    column = columns.CATEGORICAL.index("company")
    encoded = preprocessing.encode(evaluation).categorical[:, column].tolist()
    assert encoded == [2, columns.OOV_INDEX, columns.MISSING_INDEX, 4]


def test_vocabulary_is_capped_and_rare_values_go_to_oov():
    train = _table(tip=[1.0] * 6, company=["a", "a", "a", "b", "b", "c"])
    preprocessing = features.Preprocessing.fit(train, max_vocabulary=2)
    assert preprocessing.vocabularies["company"] == ["a", "b"]
    column = columns.CATEGORICAL.index("company")
    assert preprocessing.encode(train).categorical[:, column].tolist() == [2, 2, 2, 3, 3, 0]


def test_census_tracts_are_categories_not_quantities():
    assert "pickup_census_tract" in columns.CATEGORICAL and "pickup_census_tract" not in columns.NUMERIC
    train = _table(tip=[1.0] * 3, pickup_census_tract=[17031081500, 17031081500, 17031320100])
    preprocessing = features.Preprocessing.fit(train)
    column = columns.CATEGORICAL.index("pickup_census_tract")
    near = _table(tip=[1.0] * 2, pickup_census_tract=[17031081500, 17031081501])  # adjacent ids
    assert preprocessing.encode(near).categorical[:, column].tolist() == [2, columns.OOV_INDEX]


def test_coordinates_become_grid_cells():
    train = _table(tip=[1.0] * 3, pickup_latitude=[41.881, 41.882, 41.95],
                   pickup_longitude=[-87.631, -87.632, -87.65])  # fmt: skip
    preprocessing = features.Preprocessing.fit(train)
    column = columns.CATEGORICAL.index("pickup_cell")
    cells = preprocessing.encode(train).categorical[:, column].tolist()
    assert cells[0] == cells[1] != cells[2]


def test_standardisation_uses_training_statistics():
    train = _table(tip=[1.0] * 4, pickup_latitude=[41.0, 42.0, 43.0, 44.0])
    preprocessing = features.Preprocessing.fit(train)
    column = columns.NUMERIC.index("pickup_latitude")
    encoded = preprocessing.encode(train).numeric[:, column]
    assert encoded.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert encoded.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-6)
    evaluation = _table(tip=[1.0, 1.0], pickup_latitude=[42.5, 45.0])  # other statistics
    expected = (np.array([42.5, 45.0]) - 42.5) / np.std([41.0, 42.0, 43.0, 44.0])
    assert preprocessing.encode(evaluation).numeric[:, column].numpy() == pytest.approx(expected, abs=1e-6)


def test_long_tailed_columns_are_log_scaled():
    train = _table(tip=[1.0] * 3, fare=[0.0, np.e - 1, np.e**2 - 1])  # log1p: 0, 1, 2
    preprocessing = features.Preprocessing.fit(train)
    assert preprocessing.means["fare"] == pytest.approx(1.0)


def test_preprocessing_round_trips_through_json():
    table = csv_data.read_csv(str(SAMPLE_TRAIN))
    preprocessing = features.Preprocessing.fit(table)
    restored = features.Preprocessing.from_json(preprocessing.to_json())
    a, b = preprocessing.encode(table), restored.encode(table)
    assert torch.equal(a.numeric, b.numeric) and torch.equal(a.categorical, b.categorical)


def test_synthetic_is_deterministic(tmp_path):
    paths = [tmp_path / name for name in ("a.csv", "b.csv", "c.csv")]
    for path, seed in zip(paths, (5, 5, 6)):
        synthetic.main(["--rows", "300", "--out", str(path), "--seed", str(seed)])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_committed_samples_are_the_generator_output(tmp_path):
    synthetic.main(["--rows", "4000", "--out", str(tmp_path / "train.csv"), "--seed", "1"])
    assert (tmp_path / "train.csv").read_bytes() == SAMPLE_TRAIN.read_bytes()


def test_synthetic_labels_follow_the_known_probability():
    table, probability = synthetic.generate(40000, seed=3)
    tip = table["tip"].to_numpy()
    # Calibration: in each probability decile the tip rate matches the mean probability.
    edges = np.quantile(probability, np.linspace(0, 1, 11))
    bucket = np.clip(np.searchsorted(edges, probability, side="right") - 1, 0, 9)
    for b in range(10):
        assert abs(tip[bucket == b].mean() - probability[bucket == b].mean()) < 0.03
    best = synthetic.ceiling(probability, tip)
    assert 0.75 < best["accuracy"] < 0.95
    # The ceiling beats a constant predictor.
    rate = tip.mean()
    constant_loss = -(rate * np.log(rate) + (1 - rate) * np.log(1 - rate))
    assert best["log_loss"] < constant_loss - 0.1


def test_true_probability_is_computable_from_the_csv(tmp_path):
    table, probability = synthetic.generate(500, seed=4)
    path = tmp_path / "s.csv"
    csv_data.write_csv(table, str(path))
    read = csv_data.read_csv(str(path))
    assert read["fare"].to_pylist() == table["fare"].to_pylist()
    assert read["tip"].to_numpy().tolist() == table["tip"].to_numpy().astype(float).tolist()


def test_wide_integer_keys_and_all_missing_columns():
    # Keys too far apart for a flat lookup table go through pyarrow's hash kernels instead.
    train = _table(tip=[1.0] * 5, pickup_census_tract=[-(2**62), 5, 2**62, 5, None])
    preprocessing = features.Preprocessing.fit(train)
    assert preprocessing.vocabularies["pickup_census_tract"] == [5, -(2**62), 2**62]
    assert preprocessing.vocabularies["company"] == []  # every value missing
    evaluation = _table(tip=[1.0] * 4, pickup_census_tract=[2**62, 7, None, -(2**62)],
                        company=["a", None, "b", "a"])  # fmt: skip
    encoded = preprocessing.encode(evaluation).categorical
    oov, missing = columns.OOV_INDEX, columns.MISSING_INDEX
    assert encoded[:, columns.CATEGORICAL.index("pickup_census_tract")].tolist() == [4, oov, missing, 3]
    assert encoded[:, columns.CATEGORICAL.index("company")].tolist() == [oov, missing, oov, oov]


def test_results_do_not_depend_on_chunking_or_string_encoding():
    table = csv_data.read_csv(str(SAMPLE_TRAIN))  # strings dictionary-encoded, as parsed
    plain = table.cast(pa.schema([(c, columns.COLUMN_TYPES[c]) for c in table.column_names]))
    chunked = pa.Table.from_batches(plain.to_batches(max_chunksize=333))
    reference = features.Preprocessing.fit(table)
    expected = reference.encode(table)
    for other in (plain, chunked):
        preprocessing = features.Preprocessing.fit(other)
        assert preprocessing == reference
        encoded = preprocessing.encode(other)
        assert torch.equal(encoded.numeric, expected.numeric)
        assert torch.equal(encoded.categorical, expected.categorical)
        assert encoded.numeric.is_contiguous() and encoded.categorical.is_contiguous()
