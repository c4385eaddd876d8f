"""Master data over time: effective-dated batches of ownership changes and the org as of any month."""
