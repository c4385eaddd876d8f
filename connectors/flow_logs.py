"""AWS VPC Flow Logs (default v2 text format, plain or .gz) → driver_value `data_transfer_gb` per source per month.

Format: space-separated records `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets
bytes start end action log-status`, with that header line when delivered to S3 (a custom format's header names its
own fields, e.g. `flow-direction`, `az-id`, `region`, and is honoured). CloudWatch Logs exports have no header and
are read as the default format. `NODATA`/`SKIPDATA` records and `REJECT`ed traffic move no billable bytes and are
counted in a warning, not quarantined.

What is counted: bytes *sent*, attributed to the sender, because data-transfer charges follow the sender. A flow
between two logged interfaces appears in both interfaces' logs with the same 5-tuple and window; it is counted once.
A record is a send when `flow-direction` says egress, or (default format) when its source address is private
(RFC 1918 / CGNAT) — inbound internet traffic, which AWS does not charge, is left out.

IP → resource mapping: an optional `flow-log-map.csv` next to the log file (same folder) with columns
`match,target_kind,target_id[,az]`, where `match` is an ENI id (`eni-…`), an IP address or a CIDR. The sender is the
first match of its source IP (exact, then the narrowest CIDR), else of the record's interface id. Unmapped senders
load as target_kind 'application' with the ENI id as target (a warning lists them) so no byte is dropped.
With `az` in the map (or `az-id` in the log), sends are also split into `data_transfer_gb:intra_az`, `:inter_az`
and `:internet` drivers, matching how AWS prices them. GB here is 2^30 bytes, as AWS bills data transfer.
"""

from __future__ import annotations

import csv
import gzip
import ipaddress
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from connectors.base import FileRefused, ParseResult, Sniff
from connectors.source_rows import DRIVER_SCHEMA, Collector, FramePlan, clean, epoch_period, text_encoding

DEFAULT_FIELDS = ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
                  "packets", "bytes", "start", "end", "action", "log-status")
MAP_FILE = "flow-log-map.csv"
GIB = float(2**30)
_PRIVATE = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                                              "fc00::/7")]
IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network


def _open(path: Path) -> IO[str]:
    with open(path, "rb") as f:
        magic = f.read(2)
    codec = text_encoding(path)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding=codec, errors="strict")
    return open(path, encoding=codec, errors="strict")


def _head_text(sniff: Sniff) -> str:
    head = sniff.head
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(sniff.path, "rb") as g:
                head = g.read(4096)
        except (OSError, EOFError):
            return ""
    return head.decode("utf-8-sig", errors="replace")


def _private(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in n for n in _PRIVATE)


@dataclass
class EndpointMap:
    """ENI ids and IPs/CIDRs → (target_kind, target_id, az)."""

    enis: dict[str, tuple[str, str, str | None]]
    ips: dict[str, tuple[str, str, str | None]]
    nets: list[tuple[IpNet, tuple[str, str, str | None]]]

    @classmethod
    def load(cls, path: Path | None) -> EndpointMap:
        m = cls({}, {}, [])
        if path is None or not path.exists():
            return m
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                match, kind = clean(row.get("match")), clean(row.get("target_kind"))
                target = clean(row.get("target_id"))
                if not (match and kind and target):
                    continue
                value = (kind, target, clean(row.get("az")))
                if match.startswith("eni-"):
                    m.enis[match] = value
                elif "/" in match:
                    try:
                        m.nets.append((ipaddress.ip_network(match, strict=False), value))
                    except ValueError:
                        continue
                else:
                    m.ips[match] = value
        m.nets.sort(key=lambda nv: -nv[0].prefixlen)
        return m

    def ip(self, ip: str) -> tuple[str, str, str | None] | None:
        hit = self.ips.get(ip)
        if hit or not self.nets:
            return hit
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        return next((v for n, v in self.nets if addr in n), None)


@dataclass(frozen=True)
class FlowLogsConnector(FramePlan):
    name: str = "flow_logs"
    target_table: str = "driver_value"
    priority: int = 40

    def detect(self, sniff: Sniff) -> bool:
        text = _head_text(sniff)
        first = text.splitlines()[0] if text else ""
        fields = first.split()
        if {"interface-id", "srcaddr", "dstaddr", "bytes"} <= set(fields):
            return True
        return len(fields) == 14 and fields[0] == "2" and fields[2].startswith("eni-") and fields[12] in (
            "ACCEPT", "REJECT", "-")

    def parse(self, path: Path) -> ParseResult:
        endpoints = EndpointMap.load(path.parent / MAP_FILE)
        out = Collector(path.name, DRIVER_SCHEMA)
        totals: dict[tuple[str, str, str, str], float] = defaultdict(float)
        first_row: dict[tuple[str, str, str, str], int] = {}
        seen: set[tuple[str, ...]] = set()
        skipped = {"nodata": 0, "reject": 0, "inbound": 0, "duplicate": 0}
        unmapped: set[str] = set()
        fields: tuple[str, ...] = DEFAULT_FIELDS
        try:
            with _open(path) as f:
                for n, line in enumerate(f, start=1):
                    parts = line.split()
                    if not parts:
                        continue
                    if n == 1 and "srcaddr" in parts:
                        fields = tuple(parts)
                        if not {"interface-id", "srcaddr", "dstaddr", "bytes", "start", "action"} <= set(fields):
                            raise FileRefused(path.name, "a flow-log header with interface-id, srcaddr, dstaddr, "
                                              "bytes, start and action", row=1)
                        continue
                    out.rows_read += 1
                    if len(parts) != len(fields):
                        out.refuse(n, None, f"expected {len(fields)} space-separated fields, got {len(parts)}",
                                   line.strip()[:500])
                        continue
                    rec = dict(zip(fields, parts, strict=True))
                    self._add(rec, n, line, out, endpoints, totals, first_row, seen, skipped, unmapped)
        except UnicodeDecodeError as exc:
            raise FileRefused(path.name, f"UTF-8 text ({exc.reason})", row=out.rows_read + 1) from None
        except (OSError, EOFError) as exc:
            raise FileRefused(path.name, f"a readable flow-log file ({exc})", row=out.rows_read + 1) from None
        for key, q in sorted(totals.items()):
            period, drv, kind, target = key
            out.accept(first_row[key], {"period": period, "driver": drv, "target_kind": kind, "target_id": target,
                                        "quantity": q}, None)
        if any(skipped.values()):
            out.warnings.append("not counted: " + ", ".join(f"{v} {k}" for k, v in skipped.items() if v)
                                + " records (no data, rejected, inbound or seen at both ends)")
        if unmapped:
            out.warnings.append(f"{len(unmapped)} senders not in {MAP_FILE}, loaded by ENI id: "
                                + ", ".join(sorted(unmapped)[:20]))
        return out.result(self.name, self.target_table)

    @staticmethod
    def _add(rec: dict[str, str], n: int, line: str, out: Collector, endpoints: EndpointMap,
             totals: dict[tuple[str, str, str, str], float], first_row: dict[tuple[str, str, str, str], int],
             seen: set[tuple[str, ...]], skipped: dict[str, int], unmapped: set[str]) -> None:
        if rec.get("log-status", "OK") != "OK" or rec.get("bytes") == "-":
            skipped["nodata"] += 1
            return
        if rec.get("action") != "ACCEPT":
            skipped["reject"] += 1
            return
        try:
            nbytes, start = int(rec["bytes"]), int(rec["start"])
        except ValueError:
            out.refuse(n, "bytes", f"expected whole numbers in bytes/start, got '{rec.get('bytes')}'/"
                                   f"'{rec.get('start')}'", line.strip()[:500])
            return
        if nbytes < 0 or start <= 0:
            out.refuse(n, "bytes", f"negative bytes or start ({nbytes}, {start})", line.strip()[:500])
            return
        src, dst, eni = rec["srcaddr"], rec["dstaddr"], rec["interface-id"]
        direction = rec.get("flow-direction")
        if direction == "ingress" or (direction is None and not _private(src)):
            skipped["inbound"] += 1
            return
        flow = (src, dst, rec.get("srcport", ""), rec.get("dstport", ""), rec.get("protocol", ""), rec["start"],
                rec.get("end", ""))
        if flow in seen:
            skipped["duplicate"] += 1
            return
        seen.add(flow)
        sender = endpoints.ip(src) or endpoints.enis.get(eni)
        if sender is None:
            unmapped.add(eni)
            sender = ("application", eni, None)
        kind, target, src_az = sender
        src_az = rec.get("az-id") if rec.get("az-id") not in (None, "-") else src_az
        period = epoch_period(start)
        gb = nbytes / GIB
        drivers = ["data_transfer_gb"]
        receiver = endpoints.ip(dst)
        if not _private(dst) and receiver is None:
            drivers.append("data_transfer_gb:internet")
        elif src_az and receiver and receiver[2]:
            drivers.append("data_transfer_gb:intra_az" if receiver[2] == src_az else "data_transfer_gb:inter_az")
        for d in drivers:
            key = (period, d, kind, target)
            totals[key] += gb
            first_row.setdefault(key, n)


CONNECTOR = FlowLogsConnector()
