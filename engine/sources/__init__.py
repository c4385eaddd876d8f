"""Live sources (docs/sources.md): APIs polled and drop folders watched, into the same ingest pipeline as uploads.

config (the source model, credentials by variable name), http (retries, rate limit, deadline), pollers (one per API
kind, cursor and pagination), folder (complete, unseen files), runner (run one / run due, recorded and audited),
freshness (age vs target, cost vs freshness), scheduler (the in-app thread).
"""
