"""Train a tiny CNN to tell horizontal bars from vertical ones, on 16x16 images it generates.

    python -m shapes.train --epochs 3 --model-dir runs/shapes

On Vertex AI the model goes to AIP_MODEL_DIR (set by the job); a gs:// path is written through the
Cloud Storage FUSE mount Vertex AI provides at /gcs/.
"""

import argparse
import json
import os
from pathlib import Path

import torch
from torch import nn


def draw(count, generator):
    """`count` noisy 16x16 images, each with one bar; label 1 for vertical, 0 for horizontal."""
    labels = torch.randint(0, 2, (count,), generator=generator)
    positions = torch.randint(2, 14, (count,), generator=generator)
    images = 0.3 * torch.rand(count, 1, 16, 16, generator=generator)
    for i in range(count):
        if labels[i]:
            images[i, 0, :, positions[i]] += 1.0
        else:
            images[i, 0, positions[i], :] += 1.0
    return images, labels.float()


def model():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
        nn.Flatten(), nn.Linear(16, 1),
    )  # fmt: skip


def local_path(path):
    """gs://BUCKET/x -> /gcs/BUCKET/x, Vertex AI's Cloud Storage FUSE mount; other paths as they are."""
    return Path("/gcs/" + path.removeprefix("gs://")) if path.startswith("gs://") else Path(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--model-dir", default=os.environ.get("AIP_MODEL_DIR", "runs/shapes"))
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.samples < 1:
        parser.error("--epochs and --samples must be at least 1")

    generator = torch.Generator().manual_seed(0)
    images, labels = draw(args.samples, generator)
    test_images, test_labels = draw(512, generator)
    net = model()
    optimizer = torch.optim.Adam(net.parameters(), lr=args.learning_rate)
    for epoch in range(args.epochs):
        for batch in torch.randperm(args.samples, generator=generator).split(64):
            loss = nn.functional.binary_cross_entropy_with_logits(net(images[batch]).squeeze(1), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy = ((net(test_images).squeeze(1) > 0).float() == test_labels).float().mean().item()
        print(
            json.dumps({"severity": "INFO", "message": f"epoch {epoch + 1}", "loss": loss.item(), "accuracy": accuracy})
        )

    model_dir = local_path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), model_dir / "model.pt")
    (model_dir / "metrics.json").write_text(json.dumps({"accuracy": accuracy, "epochs": args.epochs}))
    return accuracy


if __name__ == "__main__":
    main()
