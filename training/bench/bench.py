"""Side-by-side benchmark: the trainer's loop vs a bare loop (ceiling) vs a naive per-row
pandas Dataset + DataLoader, CSV loading vs pandas.read_csv, and model quality vs the
true-probability ceiling of the synthetic data.

    cd training && python bench/bench.py [--rows 200000] [--csv-rows 1000000]

Not a test: figures depend on the machine. Needs pandas (requirements-test.txt).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer import csv_data, distributed, features, synthetic, task
from trainer.model import TipClassifier


def fresh_model(preprocessing, seed=0):
    torch.manual_seed(seed)
    model = TipClassifier(preprocessing.num_numeric, preprocessing.vocabulary_sizes)
    return model, task.make_optimizer(model, 0.001, 0.0)


def trainer_loop(preprocessing, train, batch_size, epochs):
    """(a) the trainer's own epoch function, shuffling included."""
    model, optimizer = fresh_model(preprocessing)
    started = time.perf_counter()
    for epoch in range(epochs):
        permutation = task.epoch_permutation(len(train), 0, epoch, distributed.Replica())
        task.train_one_epoch(model, optimizer, train, permutation, batch_size, task.contextlib.nullcontext, None)
    return epochs * len(train) / (time.perf_counter() - started)


def bare_loop(preprocessing, train, batch_size, epochs):
    """(b) the ceiling: the same model and optimizer over pre-built tensors, no shuffling, no bookkeeping."""
    model, optimizer = fresh_model(preprocessing)
    numeric, categorical, label = train.numeric, train.categorical, train.label
    started = time.perf_counter()
    for _ in range(epochs):
        for i in range(0, len(label), batch_size):
            batch = slice(i, i + batch_size)
            loss = F.binary_cross_entropy_with_logits(model(numeric[batch], categorical[batch]), label[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epochs * len(label) / (time.perf_counter() - started)


def naive_loop(preprocessing, train, batch_size, rows):
    """(c) the common tutorial pattern: a pandas frame, a Dataset returning one row, a DataLoader."""
    import pandas as pd

    frame = pd.concat([pd.DataFrame(train.numeric[:rows].numpy()).add_prefix("x"),
                       pd.DataFrame(train.categorical[:rows].numpy()).add_prefix("c"),
                       pd.DataFrame({"label": train.label[:rows].numpy()})], axis=1)  # fmt: skip
    numeric_columns = [c for c in frame.columns if c.startswith("x")]
    categorical_columns = [c for c in frame.columns if c.startswith("c")]

    class RowDataset(torch.utils.data.Dataset):
        def __len__(self):
            return len(frame)

        def __getitem__(self, index):
            row = frame.iloc[index]
            return (torch.tensor(row[numeric_columns].to_numpy(dtype="float32")),
                    torch.tensor(row[categorical_columns].to_numpy(dtype="int64")),
                    torch.tensor(row["label"], dtype=torch.float32))  # fmt: skip

    model, optimizer = fresh_model(preprocessing)
    loader = torch.utils.data.DataLoader(RowDataset(), batch_size=batch_size, shuffle=True)
    started = time.perf_counter()
    for numeric, categorical, label in loader:
        loss = F.binary_cross_entropy_with_logits(model(numeric, categorical), label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return rows / (time.perf_counter() - started)


def time_loading(path, rounds):
    """Best of `rounds` for each, alternating so that load from other processes hits both alike:
    pandas.read_csv(path) with its defaults (parse only) vs the trainer's CSV bytes -> training
    tensors (parse, validate, fit vocabularies and statistics, encode), with the trainer's parse
    alone (csv_data.read_csv_files) also timed, as the floor of the latter."""
    import pandas as pd

    best = {"pandas": float("inf"), "trainer": float("inf"), "parse": float("inf")}
    split = None
    for _ in range(rounds):
        started = time.perf_counter()
        pd.read_csv(path)
        best["pandas"] = min(best["pandas"], time.perf_counter() - started)
        started = time.perf_counter()
        table = csv_data.read_csv_files([path]).table
        parsed = time.perf_counter()
        preprocessing = features.Preprocessing.fit(table)
        fitted = time.perf_counter()
        preprocessing.encode(table)
        total = time.perf_counter() - started
        if total < best["trainer"]:
            best["trainer"] = total
            split = (parsed - started, fitted - parsed, started + total - fitted)
        del table, preprocessing
        started = time.perf_counter()
        csv_data.read_csv_files([path])
        best["parse"] = min(best["parse"], time.perf_counter() - started)
    return best, split


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--eval-rows", type=int, default=20_000)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=20_000, help="the naive loop is timed on a subset")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs of (a) and (b), alternating")
    parser.add_argument("--load-rounds", type=int, default=7, help="timed CSV loads of each, alternating")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the trainer does by default
    workdir = Path(tempfile.mkdtemp(prefix="trainer-bench-"))

    train_csv, eval_csv = str(workdir / "train.csv"), str(workdir / "eval.csv")
    train_table, _ = synthetic.generate(args.rows, seed=1)
    eval_table, eval_probability = synthetic.generate(args.eval_rows, seed=2)
    csv_data.write_csv(train_table, train_csv)
    csv_data.write_csv(eval_table, eval_csv)
    table = csv_data.read_csv_files([train_csv]).table
    preprocessing = features.Preprocessing.fit(table)
    train = preprocessing.encode(table)

    trainer_loop(preprocessing, train, args.batch_size, 1)  # warm-up
    # Alternate the two and keep each one's best epoch, so that load from other processes on the
    # machine does not favour whichever ran in a quiet moment.
    trainer_rate = ceiling_rate = 0.0
    for _ in range(args.rounds):
        trainer_rate = max(trainer_rate, trainer_loop(preprocessing, train, args.batch_size, 1))
        ceiling_rate = max(ceiling_rate, bare_loop(preprocessing, train, args.batch_size, 1))
    naive_rate = naive_loop(preprocessing, train, args.batch_size, args.naive_rows)
    print(f"training throughput at batch size {args.batch_size} on {args.rows} rows (samples/s):")
    print(f"  (a) trainer loop     {trainer_rate:12.0f}")
    ceiling_ratio, naive_ratio = trainer_rate / ceiling_rate, trainer_rate / naive_rate
    print(f"  (b) bare loop        {ceiling_rate:12.0f}   trainer / ceiling = {ceiling_ratio:.2f}  (goal >= 0.80)")
    print(f"  (c) naive DataLoader {naive_rate:12.0f}   trainer / naive   = {naive_ratio:.1f}x (goal >= 20x)")

    big_csv = str(workdir / "big.csv")
    csv_data.write_csv(synthetic.generate(args.csv_rows, seed=5)[0], big_csv)
    best, split = time_loading(big_csv, args.load_rounds)
    size_mb = Path(big_csv).stat().st_size / 1e6
    print(f"loading {args.csv_rows} CSV rows ({size_mb:.0f} MB), best of {args.load_rounds} alternating rounds:")
    print(f"  pandas.read_csv (defaults)         {best['pandas']:.3f}s")
    print(
        f"  trainer CSV -> tensors             {best['trainer']:.3f}s   ratio {best['trainer'] / best['pandas']:.2f} "
        f"(goal < 0.33); that round: parse+validate {split[0]:.3f}s, fit {split[1]:.3f}s, encode {split[2]:.3f}s"
    )
    print(
        f"  trainer parse+validate alone       {best['parse']:.3f}s   ratio {best['parse'] / best['pandas']:.2f} "
        f"(pyarrow.csv on {pa.cpu_count()} cores: the floor of the line above)"
    )

    history = task.main(["--train-files", train_csv, "--eval-files", eval_csv, "--num-epochs", "3",
                         "--batch-size", "100", "--learning-rate", "0.001",
                         "--job-dir", str(workdir / "job")])  # fmt: skip
    best = synthetic.ceiling(eval_probability, eval_table["tip"].to_numpy())
    final = history[-1]
    print(f"quality after 3 epochs (course settings) on {args.eval_rows} eval rows:")
    print(
        f"  accuracy {final['eval_accuracy']:.4f} vs ceiling {best['accuracy']:.4f}: "
        f"gap {100 * (best['accuracy'] - final['eval_accuracy']):.2f} points (goal <= 1)"
    )
    print(
        f"  log-loss {final['eval_loss']:.4f} vs ceiling {best['log_loss']:.4f}: "
        f"gap {final['eval_loss'] - best['log_loss']:.4f} (goal <= 0.015)"
    )


if __name__ == "__main__":
    main()
