"""Upstream sources: pull stories from content APIs and feeds."""
