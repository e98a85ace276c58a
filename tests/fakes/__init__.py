"""Loopback fakes of Google Cloud APIs for offline tests."""
