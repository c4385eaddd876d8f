"""Allocation rules as data: the pydantic model, filter compilation and the versioned rule_set table."""
