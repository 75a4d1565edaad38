"""Serving infrastructure: what answers requests around and before the Flask views."""
