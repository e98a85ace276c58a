"""Deterministic taxi-shaped data with a KNOWN tip probability.

Because P(tip | features) is known exactly, the best any model can do on a data set is computable:
accuracy of predicting p > 0.5 and the log-loss of p itself (see `ceiling`).

    python -m trainer.synthetic --rows 200000 --out data/generated/train.csv --seed 1
"""

import argparse

import numpy as np
import pyarrow as pa

from trainer import csv_data

PAYMENT_TYPES = ["Credit Card", "Cash", "Mobile", "Prcard", "Unknown", "No Charge"]
PAYMENT_SHARE = [0.55, 0.37, 0.04, 0.02, 0.01, 0.01]
PAYMENT_EFFECT = {"Credit Card": 1.4, "Cash": -3.5, "Mobile": 1.0, "Prcard": 0.2,
                  "Unknown": -1.5, "No Charge": -4.0}  # fmt: skip
COMPANIES = [f"{100 + i} - {name} Cab Co" for i, name in enumerate(
    "Flash Blue Sun Taxi Star Metro Lake City Chi Windy Loop Ace Top Checker Yellow Royal Prime "
    "North South West East Best Fast Safe Gold Silver".split())]  # fmt: skip
AIRPORT_AREAS = (76, 56)  # O'Hare, Midway

# The "true" world is fixed: its effects do not depend on --seed, only the sampled rows do.
_WORLD = np.random.default_rng(20240521)
COMPANY_EFFECT = _WORLD.normal(0.0, 0.6, len(COMPANIES))
COMPANY_SHARE = _WORLD.dirichlet(np.full(len(COMPANIES), 0.7))
AREA_CENTER = np.stack([41.66 + 0.32 * _WORLD.random(78), -87.84 + 0.27 * _WORLD.random(78)], 1)
AREA_SHARE = _WORLD.dirichlet(np.full(77, 0.5))


def true_logit(columns):
    """log-odds of tip >= 20% given the features, from the values as written to the CSV."""
    payment = np.array([PAYMENT_EFFECT[p] for p in PAYMENT_TYPES])
    payment_index = columns["payment_index"]
    company_index = columns["company_index"]
    hour = columns["trip_start_hour"]
    miles = columns["trip_miles"]
    fare = columns["fare"]
    # Trips that start outside Chicago have no visible area, so no airport effect.
    airport = np.isin(columns["pickup_community_area"], AIRPORT_AREAS) & ~columns["outside"]
    weekend = np.isin(columns["trip_start_day"], (1, 7))
    per_mile = fare / np.maximum(miles, 0.5)
    return (
        payment[payment_index]
        + COMPANY_EFFECT[company_index]
        + 0.6 * np.sin(2 * np.pi * (hour - 3) / 24)
        + 0.7 * airport
        - 0.4 * weekend
        - 0.35 * np.log1p(miles)
        + 0.5 * np.tanh((per_mile - 4.0) / 2.0)
    )


def generate(rows, seed):
    """(pyarrow Table with the CSV schema, true tip probability per row)."""
    rng = np.random.default_rng(seed)
    month = rng.integers(1, 13, rows)
    hour = rng.choice(24, rows, p=_hour_share())
    day = rng.integers(1, 8, rows)
    pickup_area = rng.choice(77, rows, p=AREA_SHARE) + 1
    dropoff_area = rng.choice(77, rows, p=AREA_SHARE) + 1
    miles = np.round(rng.gamma(1.6, 2.4, rows), 2)
    seconds = np.round(60 + miles * rng.uniform(120, 260, rows) + rng.exponential(120, rows))
    fare = np.round(3.25 + 2.25 * miles + 0.2 * seconds / 36 + rng.exponential(1.0, rows), 2)
    payment_index = rng.choice(len(PAYMENT_TYPES), rows, p=PAYMENT_SHARE)
    company_index = rng.choice(len(COMPANIES), rows, p=COMPANY_SHARE)
    outside = rng.random(rows) < 0.03
    columns = {"outside": outside, "payment_index": payment_index, "company_index": company_index,
               "trip_start_hour": hour, "trip_miles": miles, "fare": fare,
               "pickup_community_area": pickup_area, "trip_start_day": day}  # fmt: skip
    probability = 1.0 / (1.0 + np.exp(-true_logit(columns)))
    tip = (rng.random(rows) < probability).astype(np.int64)

    # Empty fields, as in the public data set: trips outside Chicago have no area or coordinates,
    # many have no census tract (privacy), some have no company.
    no_tract = outside | (rng.random(rows) < 0.3)
    pickup_tract = 17031000000 + pickup_area * 100 + rng.integers(0, 12, rows)
    dropoff_tract = 17031000000 + dropoff_area * 100 + rng.integers(0, 12, rows)
    pickup_xy = AREA_CENTER[pickup_area] + rng.normal(0, 0.006, (rows, 2))
    dropoff_xy = AREA_CENTER[dropoff_area] + rng.normal(0, 0.006, (rows, 2))
    company = np.array(COMPANIES, dtype=object)[company_index]
    no_company = rng.random(rows) < 0.02

    table = pa.table({
        "tip": tip,
        "trip_miles": miles,
        "trip_seconds": seconds.astype(np.int64),
        "fare": fare,
        "trip_start_month": month,
        "trip_start_hour": hour,
        "trip_start_day": day,
        "pickup_community_area": pa.array(pickup_area, mask=outside),
        "dropoff_community_area": pa.array(dropoff_area, mask=outside),
        "pickup_census_tract": pa.array(pickup_tract, mask=no_tract),
        "dropoff_census_tract": pa.array(dropoff_tract, mask=no_tract),
        "pickup_latitude": pa.array(np.round(pickup_xy[:, 0], 6), mask=outside),
        "pickup_longitude": pa.array(np.round(pickup_xy[:, 1], 6), mask=outside),
        "dropoff_latitude": pa.array(np.round(dropoff_xy[:, 0], 6), mask=outside),
        "dropoff_longitude": pa.array(np.round(dropoff_xy[:, 1], 6), mask=outside),
        "payment_type": np.array(PAYMENT_TYPES, dtype=object)[payment_index],
        "company": pa.array(company, mask=no_company),
    })  # fmt: skip
    return table, probability


def ceiling(probability, label):
    """Best achievable accuracy and mean log-loss on these labels: the true probability's."""
    p = np.clip(probability, 1e-12, 1 - 1e-12)
    accuracy = float(np.mean((p > 0.5) == (label > 0.5)))
    log_loss = float(-np.mean(label * np.log(p) + (1 - label) * np.log(1 - p)))
    return {"accuracy": accuracy, "log_loss": log_loss}


def _hour_share():
    hours = np.arange(24)
    share = 1.0 + 0.8 * np.exp(-((hours - 9) ** 2) / 8) + 1.2 * np.exp(-((hours - 18) ** 2) / 10)
    share[:5] = 0.3
    return share / share.sum()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True, help="CSV path (local, /gcs/... or gs://...)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table, probability = generate(args.rows, args.seed)
    csv_data.write_csv(table, args.out)
    best = ceiling(probability, table["tip"].to_numpy())
    print(f"wrote {args.rows} rows to {args.out}; true-probability ceiling: "
          f"accuracy {best['accuracy']:.4f}, log-loss {best['log_loss']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
