"""The Chicago taxi CSV schema: columns, their types and roles, and the error bad data raises."""

import re

import pyarrow as pa

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

COLUMN_TYPES = {LABEL: pa.float64()}
COLUMN_TYPES.update({c: pa.float64() for c in NUMERIC})
COLUMN_TYPES.update({c: pa.int64() for c in INTEGER_CATEGORICAL})
COLUMN_TYPES.update({c: pa.string() for c in STRING_CATEGORICAL})
# As parsed: strings dictionary-encoded by the CSV reader itself (in its threads), so vocabularies
# are counted and looked up by dictionary index, never by hashing every row's string again.
READ_TYPES = dict(COLUMN_TYPES)
READ_TYPES.update({c: pa.dictionary(pa.int32(), pa.string()) for c in STRING_CATEGORICAL})
# ASCII digits only, as the CSV reader (pyarrow) takes them; at most 19 digits for an int64.
NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$", re.ASCII)
INTEGER = re.compile(r"^\s*[-+]?\d{1,19}\s*$", re.ASCII)


class DataError(ValueError):
    """Bad input data; the message names the file and the line or column."""
