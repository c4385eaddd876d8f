"""The keys reconciliation compares, whichever way a source spells them: one per cloud resource, serial and asset tag.

Connectors compute them at parse time and the engine matches on them, so both sides import them from here (the
ingest contract), never from each other.

Cloud resources:

AWS Config names an instance by ARN (`arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc`), the CUR and FOCUS
exports by its id (`i-0abc`), S3 lines by bucket name; Azure ids differ only in case. Reconciliation and the
flow-log map compare these keys, never the raw strings.
"""

from __future__ import annotations

import re
from typing import Any

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


# Values exporters write when a field is empty; treated as missing everywhere.
_NULLISH = {"", "null", "none", "n/a", "na", "-", "(null)", "nan", "undefined"}

# What BIOSes and hypervisor templates put in the serial field when nobody set one: never a real key.
_JUNK_SERIALS = {
    "TO BE FILLED BY O.E.M.", "TO BE FILLED BY OEM", "SYSTEM SERIAL NUMBER", "DEFAULT STRING", "NONE", "0",
    "00000000", "000000000000", "123456789", "CHASSIS SERIAL NUMBER", "INVALID", "NOT SPECIFIED", "N/A",
    "NOT APPLICABLE", "SERIAL NUMBER", "UNKNOWN", "0123456789",
}

_JUNK_SERIAL_KEYS = {re.sub(r"\s+", "", s) for s in _JUNK_SERIALS}


def clean(value: Any) -> str | None:
    """Stripped text, or None for the many spellings of 'empty'."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value).strip()
    return None if text.lower() in _NULLISH else text


def serial_key(value: Any) -> str | None:
    """Serials compare upper-case without blanks; BIOS placeholders are no serial at all."""
    text = clean(value)
    if text is None:
        return None
    key = re.sub(r"\s+", "", text).upper()
    return None if key in _JUNK_SERIAL_KEYS or set(key) <= {"0"} else key


_JUNK_TAGS = {"NOASSETTAG", "NOASSETINFORMATION", "ASSETTAG", "DEFAULTSTRING", "TOBEFILLEDBYO.E.M.", "NONE", "0",
              "ASSET-1234567890", "NOTSPECIFIED", "UNKNOWN"}


def tag_key(value: Any) -> str | None:
    """Asset tags compare upper-case without blanks; SMBIOS placeholders ('No Asset Tag') are no tag."""
    text = clean(value)
    if text is None:
        return None
    key = re.sub(r"\s+", "", text).upper()
    return None if key in _JUNK_TAGS else key
