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

import duckdb
import polars as pl

from connectors._kit.source_rows import (
    DRIVER_SCHEMA,
    Collector,
    FramePlan,
    text_encoding,
)
from engine.ingest.contract.connector import Connector, FileRefused, InventoryRole, ParseResult, Sniff
from engine.ingest.contract.keys import clean
from engine.ingest.contract.rules import lit

DEFAULT_FIELDS = ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
                  "packets", "bytes", "start", "end", "action", "log-status")
MAP_FILE = "flow-log-map.csv"
GIB = float(2**30)
MAX_LINE = 1024 * 1024          # a flow-log line is ~100 bytes; anything near this is not a flow log
MEMORY_MB = 1024                # inside the ingest child's address-space limit; DuckDB spills beyond it
MAX_DETAIL = 10_000             # quarantine rows kept with their text; beyond this only counted
PRIVATE_RE = (r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.|"
              r"[fF][cCdD])")
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
    loads_directly: bool = False
    inventory_role: InventoryRole | None = None

    def detect(self, sniff: Sniff) -> bool:
        text = _head_text(sniff)
        first = text.splitlines()[0] if text else ""
        fields = first.split()
        if {"interface-id", "srcaddr", "dstaddr", "bytes"} <= set(fields):
            return True
        return len(fields) == 14 and fields[0] == "2" and fields[2].startswith("eni-") and fields[12] in (
            "ACCEPT", "REJECT", "-")

    def parse(self, path: Path) -> ParseResult:
        """Columnar in an in-memory DuckDB: a month of logs is millions of lines, and a Python loop (plus a set of
        every flow for de-duplication) would cost minutes and gigabytes; only the distinct endpoints reach Python."""
        endpoints = EndpointMap.load(path.parent / MAP_FILE)
        fields, header = self._fields(path)
        con = duckdb.connect(":memory:")
        try:
            return self._parse(con, path, fields, header, endpoints)
        except duckdb.Error as exc:
            raise FileRefused(path.name, f"flow-log text ({str(exc).splitlines()[0][:200]})") from None
        finally:
            con.close()

    @staticmethod
    def _fields(path: Path) -> tuple[tuple[str, ...], bool]:
        try:
            with _open(path) as f:
                first = f.readline()
        except UnicodeDecodeError as exc:
            raise FileRefused(path.name, f"UTF-8 text ({exc.reason}); choose its encoding", row=1) from None
        except (OSError, EOFError) as exc:
            raise FileRefused(path.name, f"a readable flow-log file ({exc})", row=1) from None
        parts = tuple(first.split())
        if "srcaddr" not in parts:
            return DEFAULT_FIELDS, False
        if not {"interface-id", "srcaddr", "dstaddr", "bytes", "start", "action"} <= set(parts):
            raise FileRefused(path.name, "a flow-log header with interface-id, srcaddr, dstaddr, bytes, start and "
                              "action", row=1)
        return parts, True

    def _parse(self, con: duckdb.DuckDBPyConnection, path: Path, fields: tuple[str, ...], header: bool,
               endpoints: EndpointMap) -> ParseResult:
        out = Collector(path.name, DRIVER_SCHEMA)
        codec = {"utf-8-sig": "utf-8"}.get(text_encoding(path), text_encoding(path))
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET threads = 1")   # row_number() OVER () is the file's line number only when read in order
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET memory_limit = '{MEMORY_MB}MB'")
        skip_header = "n > 1" if header else "true"
        nf = len(fields)

        def col(name: str, default: str = "NULL") -> str:
            return f"f[{fields.index(name) + 1}]" if name in fields else default

        # One pass over the file; the line text is kept only for rows that will be quarantined. Compression by the
        # bytes, never by the name: the pipeline may hand over an already expanded `.gz` under its own name.
        with open(path, "rb") as f:
            compression = "gzip" if f.read(2) == b"\x1f\x8b" else "none"
        con.execute(f"""CREATE TABLE classed AS
            WITH raw AS (SELECT row_number() OVER () AS n, line FROM read_csv({lit(str(path))},
                    columns={{'line': 'VARCHAR'}}, delim='\x1f', header=false, quote='', escape='',
                    auto_detect=false, compression={lit(compression)}, encoding={lit(codec)},
                    max_line_size={MAX_LINE})),
                 split AS (SELECT n, line, string_split(trim(line), ' ') AS f
                    FROM raw WHERE {skip_header} AND trim(line) <> ''),
                 typed AS (SELECT n, line, len(f) AS nfields, {col('interface-id')} AS eni, {col('srcaddr')} AS src,
                    {col('dstaddr')} AS dst, {col('srcport', "''")} AS sp, {col('dstport', "''")} AS dp,
                    {col('protocol', "''")} AS proto, {col('bytes')} AS b, {col('start')} AS st,
                    {col('end', "''")} AS en, {col('action')} AS act, coalesce({col('log-status')}, 'OK') AS status,
                    {col('flow-direction')} AS dir, nullif({col('az-id')}, '-') AS az,
                    TRY_CAST({col('bytes')} AS BIGINT) AS nbytes, TRY_CAST({col('start')} AS BIGINT) AS nstart
                    FROM split),
                 kinds AS (SELECT *, CASE
                    WHEN nfields <> {nf} THEN 'malformed'
                    WHEN status <> 'OK' OR b = '-' THEN 'nodata'
                    WHEN act <> 'ACCEPT' THEN 'reject'
                    WHEN nbytes IS NULL OR nstart IS NULL THEN 'bad'
                    WHEN nbytes < 0 OR nstart <= 0 THEN 'negative'
                    WHEN dir = 'ingress' OR (dir IS NULL AND NOT regexp_matches(src, {lit(PRIVATE_RE)})) THEN 'inbound'
                    ELSE 'send' END AS kind FROM typed)
            SELECT n, kind, nfields,
                   CASE WHEN kind IN ('malformed', 'bad', 'negative') THEN left(line, 500) END AS line,
                   b, st, eni, src, dst, sp, dp, proto, en, az, nbytes, nstart
            FROM kinds""")
        counts = {str(k): int(v) for k, v in con.sql("SELECT kind, count(*) FROM classed GROUP BY kind").fetchall()}
        out.rows_read = sum(counts.values())
        for n, line, got, b, st, kind in con.sql(
                "SELECT n, line, nfields, b, st, kind FROM classed WHERE kind IN ('malformed', 'bad', 'negative') "
                f"ORDER BY n LIMIT {MAX_DETAIL}").fetchall():
            if kind == "malformed":
                out.refuse(int(n), None, f"expected {nf} space-separated fields, got {got}", line)
            elif kind == "bad":
                out.refuse(int(n), "bytes", f"expected whole numbers in bytes/start, got '{b}'/'{st}'", line)
            else:
                out.refuse(int(n), "bytes", f"negative bytes or start ({b}, {st})", line)
        malformed = counts.get("malformed", 0)
        con.execute("""CREATE TABLE sends AS SELECT min(n) AS n, any_value(eni) AS eni, src, dst, any_value(az) AS az,
              any_value(nbytes) AS nbytes, any_value(nstart) AS nstart, count(*) AS copies
              FROM classed WHERE kind = 'send' GROUP BY src, dst, sp, dp, proto, st, en""")
        dupes = int(con.sql("SELECT coalesce(sum(copies - 1), 0) FROM sends").fetchall()[0][0])
        unmapped: set[str] = set()
        senders = []
        for src, eni in con.sql("SELECT DISTINCT src, eni FROM sends").fetchall():
            hit = endpoints.ip(src) or endpoints.enis.get(eni)
            if hit is None:
                unmapped.add(eni)
                hit = ("application", eni, None)
            senders.append((src, eni, *hit))
        receivers = [(dst, *(endpoints.ip(dst) or (None, None, None)), _private(dst))
                     for (dst,) in con.sql("SELECT DISTINCT dst FROM sends").fetchall()]
        con.register("sender", pl.DataFrame(senders, orient="row", schema={
            "src": pl.String(), "eni": pl.String(), "kind": pl.String(), "target": pl.String(), "az": pl.String()}))
        con.register("receiver", pl.DataFrame(receivers, orient="row", schema={
            "dst": pl.String(), "kind": pl.String(), "target": pl.String(), "az": pl.String(),
            "private": pl.Boolean()}))
        groups = con.sql("""SELECT strftime(to_timestamp(s.nstart), '%Y-%m') AS period, x.kind, x.target,
              coalesce(s.az, x.az) AS src_az, r.az AS dst_az, r.target IS NOT NULL AS mapped, r.private,
              sum(s.nbytes)::DOUBLE AS bytes, min(s.n) AS n
              FROM sends s JOIN sender x USING (src, eni) JOIN receiver r USING (dst)
              GROUP BY ALL""").fetchall()
        totals: dict[tuple[str, str, str, str], float] = defaultdict(float)
        first_row: dict[tuple[str, str, str, str], int] = {}
        for period, kind, target, src_az, dst_az, mapped, private, nbytes, n in groups:
            drivers = ["data_transfer_gb"]
            if not private and not mapped:
                drivers.append("data_transfer_gb:internet")
            elif src_az and mapped and dst_az:
                drivers.append("data_transfer_gb:intra_az" if dst_az == src_az else "data_transfer_gb:inter_az")
            for d in drivers:
                key = (period, d, kind, target)
                totals[key] += nbytes / GIB
                first_row[key] = min(first_row.get(key, n), n)
        for key, q in sorted(totals.items()):
            period, drv, kind, target = key
            out.accept(first_row[key], {"period": period, "driver": drv, "target_kind": kind, "target_id": target,
                                        "quantity": q}, None)
        skipped = {"nodata": counts.get("nodata", 0), "reject": counts.get("reject", 0),
                   "inbound": counts.get("inbound", 0), "duplicate": dupes}
        if any(skipped.values()):
            out.warnings.append("not counted: " + ", ".join(f"{v} {k}" for k, v in skipped.items() if v)
                                + " records (no data, rejected, inbound or seen at both ends)")
        refused = malformed + counts.get("bad", 0) + counts.get("negative", 0)
        if refused > MAX_DETAIL:
            out.warnings.append(f"{refused} lines refused; the first {MAX_DETAIL} of each kind are listed")
        if unmapped:
            out.warnings.append(f"{len(unmapped)} senders not in {MAP_FILE}, loaded by ENI id: "
                                + ", ".join(sorted(unmapped)[:20]))
        return out.result(self.name, self.target_table)



CONNECTOR: Connector = FlowLogsConnector()
