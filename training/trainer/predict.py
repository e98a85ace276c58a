"""Load a trained model directory and predict tip probabilities.

from trainer import predict
predictor = predict.load("gs://bucket/job/model")
predictor.predict_rows([{"trip_miles": 2.1, "fare": 9.5, "payment_type": "Credit Card", ...}])
predictor.predict_files(["eval.csv"])
"""

import json

import torch

from trainer import csv_data, features, fs, rows
from trainer.model import TipClassifier


class Predictor:
    def __init__(self, model, preprocessing):
        self.model = model.eval()
        self.preprocessing = preprocessing
        self.row_encoder = rows.RowEncoder(preprocessing)  # the server's pyarrow-free path

    @torch.no_grad()
    def logits(self, table):
        tensors = self.preprocessing.encode(table)
        return self.model(tensors.numeric, tensors.categorical)

    def predict_table(self, table):
        """P(tip >= 20% of fare) per row of a pyarrow Table with the CSV columns."""
        return torch.sigmoid(self.logits(table))

    def predict_files(self, paths):
        return self.predict_table(csv_data.read_csv_files(paths, require_label=False).table)

    def predict_rows(self, instances):
        """Vertex AI style instances: dicts keyed by column name, values as numbers or strings that
        parse as the column's type; absent keys, null and "" count as empty. A value of the wrong
        type raises rows.InstanceError naming the instance and the field."""
        parsed = [rows.parse_instance(i, instance) for i, instance in enumerate(instances)]
        return self.predict_table(csv_data.table_from_rows(parsed)).tolist()

    @torch.inference_mode()
    def predict_encoded(self, numeric, categorical):
        """P(tip) for inputs already encoded (numpy arrays from rows.RowEncoder.encode)."""
        return torch.sigmoid(self.model(torch.from_numpy(numeric), torch.from_numpy(categorical)))


def load(model_dir):
    config = json.loads(fs.read_bytes(fs.join(model_dir, "model_config.json")))
    model = TipClassifier(**config)
    model.load_state_dict(fs.torch_load(fs.join(model_dir, "model.pt")))
    preprocessing = features.Preprocessing.from_json(fs.read_bytes(fs.join(model_dir, "preprocessing.json")))
    return Predictor(model, preprocessing)
