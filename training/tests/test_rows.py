"""The server's pyarrow-free row encoder against Preprocessing.encode, and instance validation."""

import numpy as np
import pytest
from conftest import SAMPLE_EVAL, SAMPLE_TRAIN

from trainer import csv_data, features, rows


@pytest.fixture(scope="module")
def preprocessing():
    return features.Preprocessing.fit(csv_data.read_csv(str(SAMPLE_TRAIN)))


@pytest.fixture(scope="module")
def eval_rows():
    return csv_data.read_csv(str(SAMPLE_EVAL)).drop_columns(["tip"]).to_pylist()


def encode_both(preprocessing, instances):
    """(RowEncoder's arrays, Preprocessing.encode's arrays) for the same instances."""
    encoder = rows.RowEncoder(preprocessing)
    ours = encoder.encode([encoder.parse(i, instance) for i, instance in enumerate(instances)])
    table = csv_data.table_from_rows([rows.parse_instance(i, instance) for i, instance in enumerate(instances)])
    reference = preprocessing.encode(table)
    return ours, (reference.numeric.numpy(), reference.categorical.numpy())


def assert_identical(preprocessing, instances):
    (numeric, categorical), (expected_numeric, expected_categorical) = encode_both(preprocessing, instances)
    assert numeric.dtype == np.float32 and categorical.dtype == np.int64
    np.testing.assert_array_equal(numeric, expected_numeric)  # bit for bit, not approximately
    np.testing.assert_array_equal(categorical, expected_categorical)


def test_sample_rows_encode_exactly_as_the_training_path(preprocessing, eval_rows):
    assert_identical(preprocessing, eval_rows)
    (numeric, categorical), _ = encode_both(preprocessing, eval_rows)
    assert (categorical == 0).any() and (categorical == 1).any()  # the sample has OOV and missing values
    assert numeric[:, 7:].any()  # and missing-value flags


def test_edge_values_encode_exactly(preprocessing, eval_rows):
    base = eval_rows[0]
    edits = [
        {},  # every field missing
        {"trip_miles": -3.0, "fare": 0, "trip_seconds": 1e12},  # clipped before log1p; huge
        {"pickup_latitude": None},  # one coordinate missing: the cell is missing, the longitude is not
        {"dropoff_longitude": -87.0000001, "dropoff_latitude": 41.99999999},  # cell boundaries
        {"pickup_latitude": 1000.0, "pickup_longitude": -1e4},  # far away, still accepted
        {"company": "Never Seen Cab Co", "payment_type": ""},  # OOV, and "" is an empty field
        {"trip_start_hour": 99, "pickup_census_tract": 17031999999, "dropoff_community_area": -5},  # OOV ids
        {"trip_start_hour": "7", "fare": " 12.5 ", "trip_miles": "1e1", "trip_start_month": 3.0},  # strings, 3.0
    ]
    instances = [dict(base, **edit) if edit else {} for edit in edits]
    assert_identical(preprocessing, instances)
    assert_identical(preprocessing, eval_rows[:1])  # one row: nothing depends on the batch


def test_strings_and_numbers_mean_the_same(preprocessing, eval_rows):
    encoder = rows.RowEncoder(preprocessing)
    row = next(r for r in eval_rows if all(v is not None for v in r.values()))
    as_strings = {k: str(v) for k, v in row.items()}
    with_extras = dict(row, unknown_key=[1, 2], tip=1)
    assert encoder.parse(0, as_strings) == encoder.parse(0, row) == encoder.parse(0, with_extras)


def test_absent_null_and_empty_string_are_all_missing(preprocessing):
    encoder = rows.RowEncoder(preprocessing)
    assert (
        encoder.parse(0, {})
        == encoder.parse(0, dict.fromkeys(rows.FEATURES))
        == encoder.parse(0, dict.fromkeys(rows.FEATURES, ""))
    )
    numeric, categorical = encoder.encode([encoder.parse(0, {})])
    assert (numeric[0, :7] == 0).all() and (numeric[0, 7:] == 1).all() and (categorical == 1).all()


@pytest.mark.parametrize(
    "instance, message",
    [
        ({"fare": "twelve"}, "instances[3].fare: 'twelve' is not a number"),
        ({"fare": "nan"}, "instances[3].fare: 'nan' is not a number"),
        ({"fare": "1e999"}, "instances[3].fare: '1e999' is not a finite number"),
        ({"pickup_latitude": 1e300}, "instances[3].pickup_latitude: 1e+300 is out of range"),
        ({"trip_miles": [1]}, "instances[3].trip_miles: expected a number, got a list"),
        ({"trip_miles": True}, "instances[3].trip_miles: expected a number, got a boolean"),
        ({"trip_start_hour": 3.5}, "instances[3].trip_start_hour: 3.5 is not an integer"),
        ({"trip_start_hour": "3.0"}, "instances[3].trip_start_hour: '3.0' is not an integer"),
        ({"trip_start_hour": "١٢"}, "instances[3].trip_start_hour: '١٢' is not an integer"),
        ({"trip_start_hour": "9" * 5000}, "instances[3].trip_start_hour: '99999"),
        ({"fare": "١٢"}, "instances[3].fare: '١٢' is not a number"),
        ({"pickup_census_tract": 2**64}, "instances[3].pickup_census_tract: 18446744073709551616 is out of the 64-bit"),
        ({"company": {"name": "x"}}, "instances[3].company: expected a string, got an object"),
        ({"payment_type": 5}, "instances[3].payment_type: expected a string, got a number"),
    ],
)
def test_wrong_values_name_the_instance_and_field(preprocessing, instance, message):
    encoder = rows.RowEncoder(preprocessing)
    # parse_instance (Predictor.predict_rows) checks types only; the server's encoder also ranges.
    parsers = [encoder.parse] if "is out of range" in message else [encoder.parse, rows.parse_instance]
    for parse in parsers:
        with pytest.raises(rows.InstanceError) as raised:
            parse(3, instance)
        assert str(raised.value).startswith(message)


@pytest.mark.parametrize("instance, kind", [([1, 2], "a list"), ("x", "a string"), (None, "null"), (7, "a number")])
def test_an_instance_must_be_an_object(preprocessing, instance, kind):
    expected = rf"^instances\[0\]: expected an object keyed by column name, got {kind}$"
    with pytest.raises(rows.InstanceError, match=expected):
        rows.RowEncoder(preprocessing).parse(0, instance)
