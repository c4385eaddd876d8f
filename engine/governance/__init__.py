"""Governance before spend: quotas on resource classes, and provisioning requests checked against quota and budget."""
