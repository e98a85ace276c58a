"""Train the taxi tip classifier: python -m trainer.task --train-files ... --eval-files ... --job-dir ...

Predicts whether the tip is >= 20% of the fare. Same command line as Google's sample PyTorch
trainer, plus --seed, --weight-decay and output directory overrides. Resumes from the newest
checkpoint, trains with DistributedDataParallel when several replicas are described, and writes
the model, its preprocessing state and metrics.json from rank 0.
"""

import argparse
import contextlib
import hmac
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from trainer import checkpoint, columns, csv_data, distributed, errors, features, fs, metrics
from trainer.model import TipClassifier

# Test hook: stop (as if preempted) right after the checkpoint of this epoch is written.
STOP_AFTER_EPOCH_ENV = "TRAINER_STOP_AFTER_EPOCH"
STOPPED_EXIT_CODE = 75
ERROR_EXIT_CODE = 2  # bad data, a missing or unreadable file, credentials, a refused checkpoint
# Set by the stack in package mode: the sdist Vertex AI installed and the sha256 the stack uploaded.
PACKAGE_URI_ENV = "TRAINER_PACKAGE_URI"
PACKAGE_SHA256_ENV = "TRAINER_PACKAGE_SHA256"
EVAL_BATCH_SIZE = 65536


def parse_args(argv=None):
    env = os.environ
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-files", nargs="+", required=True, help="CSV files: local, /gcs/ or gs://")
    parser.add_argument("--eval-files", nargs="+", required=True)
    parser.add_argument("--num-epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100, help="per replica")
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--job-dir", default=None, help="base output directory")
    parser.add_argument("--model-dir", default=env.get("AIP_MODEL_DIR"),
                        help="default: $AIP_MODEL_DIR, else JOB_DIR/model")  # fmt: skip
    parser.add_argument("--checkpoint-dir", default=env.get("AIP_CHECKPOINT_DIR"),
                        help="default: $AIP_CHECKPOINT_DIR, else JOB_DIR/checkpoints")  # fmt: skip
    parser.add_argument("--tensorboard-dir", default=env.get("AIP_TENSORBOARD_LOG_DIR"),
                        help="default: $AIP_TENSORBOARD_LOG_DIR; none: no TensorBoard logs")  # fmt: skip
    parser.add_argument("--num-threads", type=int, default=None,
                        help="torch CPU threads (default: 1, fastest for small batches)")  # fmt: skip
    args = parser.parse_args(argv)
    for name, default in (("model_dir", "model"), ("checkpoint_dir", "checkpoints")):
        if not getattr(args, name):
            if not args.job_dir:
                parser.error(f"--{name.replace('_', '-')} or --job-dir is required")
            setattr(args, name, fs.join(args.job_dir, default))
    return args


def log(severity, message, **fields):
    """One JSON object per line: Cloud Logging reads `severity` and `message` from it."""
    print(json.dumps({"severity": severity, "message": message, **fields}), flush=True)


def verify_package(say):
    """Compare the sha256 of the package object with the one the stack recorded (both from the env)."""
    uri, expected = os.environ.get(PACKAGE_URI_ENV), os.environ.get(PACKAGE_SHA256_ENV)
    if not uri and not expected:
        return
    if not (uri and expected):
        say("WARNING", f"package not verified: set both {PACKAGE_URI_ENV} and {PACKAGE_SHA256_ENV}")
        return
    expected = expected.strip().lower().removeprefix("sha256:")
    actual = fs.sha256(uri)
    if not hmac.compare_digest(actual, expected):
        bucket = errors.bucket_of(uri)
        writers = f" and check who can write to gs://{bucket}/packages/" if bucket else ""
        raise errors.TrainerError(
            f"the package at {uri} is not the one the stack uploaded: sha256 {actual}, expected {expected}; "
            f"the object was replaced after the upload: re-upload it with `pulumi up --refresh`{writers}"
        )
    say("INFO", f"package {uri} verified: sha256 {actual}", package_uri=uri, package_sha256=actual)


def epoch_permutation(num_rows, seed, epoch, replica):
    """This replica's shard of the epoch's shuffled row order (every replica gets the same size)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    permutation = torch.randperm(num_rows, generator=generator)
    shard = num_rows // replica.world_size
    return permutation[replica.rank * shard : (replica.rank + 1) * shard]


def train_one_epoch(model, optimizer, train, permutation, batch_size, autocast, scaler):
    """One pass over `train` in `permutation` order; returns the mean training loss (a tensor)."""
    model.train()
    # Gather the epoch once so that each batch is a contiguous slice, not a per-batch gather.
    device = train.label.device
    permutation = permutation.to(device)
    numeric, categorical, label = train.numeric[permutation], train.categorical[permutation], train.label[permutation]
    loss_sum = torch.zeros((), device=device)
    for start in range(0, len(label), batch_size):
        end = start + batch_size
        with autocast():
            logits = model(numeric[start:end], categorical[start:end])
        loss = F.binary_cross_entropy_with_logits(logits.float(), label[start:end])
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        loss_sum += loss.detach() * len(logits)
    return loss_sum / max(len(label), 1)


@torch.no_grad()
def predict_logits(model, tensors, batch_size=EVAL_BATCH_SIZE):
    model.eval()
    return torch.cat([
        model(tensors.numeric[i : i + batch_size], tensors.categorical[i : i + batch_size]).float()
        for i in range(0, len(tensors), batch_size)
    ])  # fmt: skip


def make_optimizer(model, learning_rate, weight_decay):
    options = {"lr": learning_rate, "weight_decay": weight_decay}
    try:  # one fused kernel instead of a loop over parameters: matters at batch size 100
        return torch.optim.AdamW(model.parameters(), fused=True, **options)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(model.parameters(), foreach=True, **options)


def mixed_precision(device):
    """(autocast context factory, GradScaler or None): bfloat16/float16 autocast on GPU only."""
    if device.type != "cuda":
        return contextlib.nullcontext, None
    if torch.cuda.is_bf16_supported():
        return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), None
    return (lambda: torch.autocast("cuda", dtype=torch.float16)), torch.amp.GradScaler("cuda")


def main(argv=None):
    args = parse_args(argv)
    replica = distributed.from_environment()
    device = distributed.setup(replica)
    torch.set_num_threads(args.num_threads or 1)
    say = log if replica.is_main else (lambda *a, **k: None)
    say("INFO", "starting", rank=replica.rank, world_size=replica.world_size, device=str(device),
        args=vars(args))  # fmt: skip
    fs.report_retries(lambda message: say("WARNING", message))
    verify_package(say)

    # Data: CSV -> tensors once. Vocabularies and statistics come from the training files only.
    started = time.perf_counter()
    for path in args.train_files + args.eval_files:  # every file, before the first (maybe long) read
        fs.check_readable(path)
    train_table = csv_data.read_csv_files(args.train_files)
    eval_table = csv_data.read_csv_files(args.eval_files)
    preprocessing = features.Preprocessing.fit(train_table.table)
    train = preprocessing.encode(train_table.table).to(device)
    evaluation = preprocessing.encode(eval_table.table).to(device)
    skipped = {"train": train_table.skipped_rows, "eval": eval_table.skipped_rows}
    say("WARNING" if any(skipped.values()) else "INFO",
        f"loaded {len(train)} training and {len(evaluation)} eval rows; skipped rows without a label: "
        f"{skipped['train']} training, {skipped['eval']} eval",
        seconds=round(time.perf_counter() - started, 3), skipped_rows=skipped)  # fmt: skip

    torch.manual_seed(args.seed)
    model = TipClassifier(preprocessing.num_numeric, preprocessing.vocabulary_sizes).to(device)
    optimizer = make_optimizer(model, args.learning_rate, args.weight_decay)
    autocast, scaler = mixed_precision(device)
    config = {"batch_size": args.batch_size, "learning_rate": args.learning_rate,
              "weight_decay": args.weight_decay, "seed": args.seed, "world_size": replica.world_size}  # fmt: skip

    history, first_epoch = [], 0
    latest = checkpoint.latest(args.checkpoint_dir)
    if latest:
        state = checkpoint.load(latest)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        checkpoint.set_rng_state(state["rng"])
        history, first_epoch = state["history"], state["epoch"]
        if state["config"] != config:
            say("WARNING", "resuming a checkpoint written with other settings",
                checkpoint_config=state["config"], config=config)  # fmt: skip
        say("INFO", f"resumed from {latest} after epoch {first_epoch}")
        if first_epoch >= args.num_epochs:
            where = f"job dir {args.job_dir}" if args.job_dir else f"checkpoint dir {args.checkpoint_dir}"
            say("WARNING",
                f"this run is already complete: the checkpoint {latest} covers {first_epoch} epochs "
                f"(--num-epochs {args.num_epochs}) in {where}, so nothing is trained; writing the outputs "
                f"from it to {args.model_dir}. To train again from scratch, use a new --job-dir or delete the "
                f"checkpoints in {args.checkpoint_dir}",
                checkpoint=latest, job_dir=args.job_dir, checkpoint_dir=args.checkpoint_dir,
                model_dir=args.model_dir)  # fmt: skip

    trained = DistributedDataParallel(model) if replica.world_size > 1 else model
    tensorboard = None
    if args.tensorboard_dir and replica.is_main:
        from trainer.tensorboard import ScalarWriter  # tensorboardX: imported only by runs that write events

        tensorboard = ScalarWriter(args.tensorboard_dir)
    stop_after = int(os.environ.get(STOP_AFTER_EPOCH_ENV, "0"))

    for epoch in range(first_epoch, args.num_epochs):
        started = time.perf_counter()
        permutation = epoch_permutation(len(train), args.seed, epoch, replica)
        train_loss = train_one_epoch(trained, optimizer, train, permutation, args.batch_size, autocast, scaler)
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_seconds = time.perf_counter() - started
        eval_metrics = metrics.binary_metrics(predict_logits(model, evaluation), evaluation.label)
        samples = len(permutation) * replica.world_size
        history.append({
            "epoch": epoch + 1,
            "train_loss": train_loss.item(),
            "eval_loss": eval_metrics["loss"],
            "eval_accuracy": eval_metrics["accuracy"],
            "eval_auc": eval_metrics["auc"],
            "train_samples": samples,
            "train_seconds": train_seconds,
        })  # fmt: skip
        epoch_seconds = time.perf_counter() - started
        say("INFO",
            f"epoch {epoch + 1}/{args.num_epochs} train_loss {train_loss.item():.4f} "
            f"eval_loss {eval_metrics['loss']:.4f} eval_accuracy {eval_metrics['accuracy']:.4f}",
            **history[-1], epochs=args.num_epochs, samples_per_second=round(samples / train_seconds, 1),
            eta_seconds=round(epoch_seconds * (args.num_epochs - epoch - 1), 1))  # fmt: skip
        if replica.is_main:
            checkpoint.save(args.checkpoint_dir, {
                "epoch": epoch + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "rng": checkpoint.rng_state(), "history": history, "config": config,
            })  # fmt: skip
            if tensorboard:
                tensorboard.add_scalars(epoch + 1, {k: v for k, v in history[-1].items()
                                                    if k != "epoch" and v is not None})  # fmt: skip
        distributed.barrier(replica)  # nobody runs ahead of a checkpoint it might resume from
        if epoch + 1 == stop_after:
            say("WARNING", f"stopping after epoch {stop_after} ({STOP_AFTER_EPOCH_ENV})")
            distributed.teardown(replica)
            sys.exit(STOPPED_EXIT_CODE)

    if tensorboard:
        tensorboard.close()
    if replica.is_main:
        write_outputs(args, model, preprocessing, history, skipped, len(train), len(evaluation), replica)
    distributed.teardown(replica)
    return history


def write_outputs(args, model, preprocessing, history, skipped, train_rows, eval_rows, replica):
    final = history[-1] if history else {}
    train_seconds = sum(h["train_seconds"] for h in history)
    train_samples = sum(h["train_samples"] for h in history)
    result = {
        "eval_loss": final.get("eval_loss"),
        "eval_accuracy": final.get("eval_accuracy"),
        "eval_auc": final.get("eval_auc"),
        "train_loss": final.get("train_loss"),
        "epochs": len(history),
        "train_seconds": train_seconds,
        "train_samples_per_second": train_samples / train_seconds if train_seconds else None,
        "train_rows": train_rows,
        "eval_rows": eval_rows,
        "skipped_rows": skipped,
        "world_size": replica.world_size,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "weight_decay": args.weight_decay,
        "seed": args.seed,
        "history": history,
    }
    fs.makedirs(args.model_dir)
    fs.write_bytes_atomic(fs.join(args.model_dir, "model.pt"), fs.torch_save_bytes(model.state_dict()))
    fs.write_text_atomic(fs.join(args.model_dir, "model_config.json"), json.dumps(model.config, indent=1))
    fs.write_text_atomic(fs.join(args.model_dir, "preprocessing.json"), preprocessing.to_json())
    fs.write_text_atomic(fs.join(args.model_dir, "metrics.json"), json.dumps(result, indent=1))  # last
    log("INFO", f"wrote the model and metrics to {args.model_dir}",
        eval_loss=result["eval_loss"], eval_accuracy=result["eval_accuracy"], eval_auc=result["eval_auc"])  # fmt: skip


def cli(argv=None):
    """`python -m trainer.task`: errors the user can fix are one ERROR log line and exit code 2."""
    try:
        return main(argv)
    except (columns.DataError, errors.TrainerError) as error:
        log("ERROR", str(error))
        sys.exit(ERROR_EXIT_CODE)


if __name__ == "__main__":
    cli()
