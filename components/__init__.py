"""Pulumi components of the gcp-mlops stack."""
