"""Training protocols, scoring and one run of any model (train, test, write metrics.json)."""
