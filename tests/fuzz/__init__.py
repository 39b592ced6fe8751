"""Fuzzing the parsers of untrusted files (weights and images): targets, seeds and runners."""
