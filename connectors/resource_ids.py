"""One comparable key per cloud resource, whichever way a source spells it.

AWS Config names an instance by ARN (`arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc`), the CUR and FOCUS
exports by its id (`i-0abc`), S3 lines by bucket name; Azure ids differ only in case. Reconciliation and the
flow-log map compare these keys, never the raw strings.
"""

from __future__ import annotations

import re

# EC2-family ARNs whose bill line carries the bare id (instance/i-…, volume/vol-…, natgateway/nat-…, …).
_ID_RESOURCE_SERVICES = {"ec2"}
_BARE_ID = re.compile(r"^(i|vol|eni|nat|eipalloc|snap|ami|igw|vpc|subnet|sg|vpce|tgw|lt|fs|fsvol)-[0-9a-f]{8,17}$")


def resource_key(value: str | None) -> str | None:
    """Canonical key: bare id for EC2-family ARNs, bucket for S3, partition-neutral ARN otherwise, lower-case Azure
    resource id; plain ids pass through trimmed."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.lower().startswith("/subscriptions/"):
        return text.lower().rstrip("/")
    if text.startswith("arn:"):
        parts = text.split(":", 5)
        if len(parts) < 6:
            return text
        _, _partition, service, region, account, resource = parts
        if service == "s3" and not region and not account:
            return resource.split("/", 1)[0]
        if service in _ID_RESOURCE_SERVICES:
            tail = resource.rsplit("/", 1)[-1]
            if _BARE_ID.match(tail):
                return tail
        return f"arn:aws:{service}:{region}:{account}:{resource}"
    return text


def arn_region(value: str | None) -> str | None:
    if value and value.startswith("arn:"):
        parts = value.split(":")
        return parts[3] or None if len(parts) > 3 else None
    return None


def arn_account(value: str | None) -> str | None:
    if value and value.startswith("arn:"):
        parts = value.split(":")
        return parts[4] or None if len(parts) > 4 else None
    return None
