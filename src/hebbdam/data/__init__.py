"""Data: synthetic patterns, downloaded and offline image sets, corruptions and sequences."""
