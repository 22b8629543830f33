"""Utilities every layer may use: one-line errors, atomic files, size limits, devices, tables."""
