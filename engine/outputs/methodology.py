"""The allocation methodology, generated from what the engine runs: the rule version in force, its history, the
drivers, the exceptions, the cost models and the policies (pricing and tiering, subsidy and markup, idle penalty,
amortisation of commitments, depreciation, rounding).

The document is a small model (sections of paragraphs, bullet lists and tables of plain strings) rendered to
Markdown and to printable HTML. No text is ever interpreted as markup: names, reasons and notes come from files
and people, so the Markdown renderer backslash-escapes every character that could open a construct and the HTML
renderer escapes everything (`html.escape`). The page shows the same blocks through `ui.formats.plain`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from engine.allocation.pools import load_exceptions
from engine.costmodels.depreciation import CapexPolicy
from engine.costmodels.presets import PRESETS
from engine.costmodels.scenarios import Scenario, load_scenario
from engine.errors import NotFound
from engine.rules import versions
from engine.rules.diff import describe_method, describe_source, describe_treatment
from engine.rules.model import RuleSet
from engine.settings import get_settings

# The policies every methodology names, in the order it explains them (each is one section).
POLICIES: tuple[str, ...] = ("Pricing and tiering", "Subsidy and markup", "Idle penalty",
                             "Amortisation of commitments", "Depreciation", "Rounding")


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


Block = str | Bullets | Table


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    blocks: tuple[Block, ...]
    level: int = 2


@dataclass(frozen=True)
class Methodology:
    title: str
    rule_set: str
    version: int
    body_hash: str
    period: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def to_markdown(self) -> str:
        return to_markdown(self)

    def to_html(self) -> str:
        return to_html(self)


# ---- building -----------------------------------------------------------------------------------------------------

def drivers_of(rs: RuleSet) -> list[str]:
    """Every driver a step of `rs` shares by (driver steps and weighted steps' drivers), sorted."""
    out: set[str] = set()
    for s in rs.steps:
        if s.method.driver:
            out.add(s.method.driver)
        out |= set(s.method.weights or {})
    return sorted(out)


def default_rule_set(con: duckdb.DuckDBPyConnection) -> str:
    """The rule set of the latest posted run, else the first approved rule set by name."""
    row = con.execute("SELECT rule_set FROM allocation_run WHERE status = 'posted' ORDER BY period DESC,"
                      " finished_at DESC LIMIT 1").fetchall()
    if row:
        return str(row[0][0])
    row = con.execute("SELECT min(name) FROM rule_set WHERE status = 'approved'").fetchall()
    if row and row[0][0]:
        return str(row[0][0])
    raise NotFound("no approved rule set: approve one before generating its methodology")


def _period(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT max(billing_period) FROM cost_line").fetchall()
    if row and row[0][0]:
        return str(row[0][0])
    now = datetime.now()
    return f"{now.year:04d}-{now.month:02d}"


def _s(value: object) -> str:
    return "–" if value is None or value == "" else str(value)


def _header(rv: versions.RuleVersion, period: str) -> Section:
    rs = rv.rule_set
    return Section("rule-version", "Rule version in force", (
        f"This methodology describes rule set {rs.name}, version {rv.version}, the approved version in force for "
        f"{period} (effective from {_s(rv.effective_from)}). It is generated from the rules the engine runs, so "
        "it changes only when a new version is approved.",
        Table(("rule set", "version", "body hash (SHA-256)", "author", "approver", "approval comment",
               "effective from", "author's reason"),
              ((rs.name, str(rv.version), rv.body_hash, rv.author, _s(rv.approver), _s(rv.approval_comment),
                _s(rv.effective_from), _s(rv.reason)),)),
        *((rs.description,) if rs.description else ()),
    ))


def _scope(rs: RuleSet) -> Section:
    mode = ("step-down: steps run in the order below and cost flows only forward; a share pointing at an earlier "
            "step is dropped and the other shares are scaled back to 100 %" if rs.mode == "step_down" else
            "direct: every service-to-service flow is ignored and each pool goes straight to its final targets")
    blocks: list[Block] = [
        "Scope: every cost line of the month is claimed by exactly one pool: first by an exception in force, then "
        "by the first step, in order, whose filters it matches. Lines no step claims form the pool 'unmatched' "
        "and are posted to the explicit UNALLOCATED line. Nothing is dropped and nothing is counted twice.",
        f"Cascade mode: {mode}. Steps sharing a reciprocal group are solved together exactly (x = d + Sᵀx).",
    ]
    if rs.service_pools:
        blocks.append("Service pools: an amount a step assigns to one of these targets flows into that step's pool "
                      "instead of being posted.")
        blocks.append(Table(("target", "step"), tuple((t, s) for t, s in sorted(rs.service_pools.items()))))
    return Section("scope", "Scope, pools and cascade", tuple(blocks))


def _steps(rs: RuleSet) -> Section:
    rows = []
    for i, s in enumerate(rs.steps, 1):
        rows.append((str(i), s.name, s.id, describe_source(s),
                     describe_method(s.method), s.target_kind,
                     "UNALLOCATED line" if s.unallocated == "post" else s.unallocated,
                     _s(s.reciprocal_group), _s(s.note)))
    return Section("steps", "Steps", (
        "Each step shares its pool (its own lines plus what earlier steps sent it) among its targets by its method. "
        "Shares stay unrounded through the cascade; amounts are rounded to cents once, at posting.",
        Table(("#", "step", "id", "claims", "method", "targets", "what it cannot share", "reciprocal group",
               "note"), tuple(rows)),
    ))


def _drivers(con: duckdb.DuckDBPyConnection, rs: RuleSet, period: str) -> Section:
    used = drivers_of(rs)
    quantities = {d: (n, t) for d, n, t in con.execute(
        "SELECT driver, count(DISTINCT target_id), sum(quantity) FROM driver_value WHERE period = ? GROUP BY 1",
        [period]).fetchall()} if used else {}
    rows = []
    for d in used:
        steps = [s.name for s in rs.steps if s.method.driver == d or d in (s.method.weights or {})]
        n, total = quantities.get(d, (0, None))
        rows.append((d, ", ".join(steps), str(n), "–" if total is None else f"{float(total):,.2f}"))
    return Section("drivers", "Drivers", (
        "A driver share is the target's quantity for the month over the total quantity (quantities ≤ 0 get no "
        "share). A weighted step combines several drivers' shares by normalised weights; a driver with no data "
        "that month drops out and the other weights are renormalised.",
        Table(("driver", "used by", f"targets with data in {period}", f"total quantity in {period}"),
              tuple(rows)) if rows else "No step of this rule set shares by a driver.",
    ))


def _exceptions(con: duckdb.DuckDBPyConnection, period: str) -> Section:
    in_force = {e.exception_id for e in load_exceptions(con, period)}
    rows = tuple(
        (eid, f"{fld} = {val}", describe_treatment(json.loads(treatment)), reason, _s(by), _s(vf), _s(vt),
         "yes" if eid in in_force else "no")
        for eid, fld, val, treatment, reason, by, vf, vt in con.execute(
            "SELECT exception_id, match_field, match_value, treatment::VARCHAR, reason, approved_by, valid_from,"
            " valid_to FROM exception ORDER BY exception_id").fetchall())
    return Section("exceptions", "Exceptions", (
        "Exceptions (pooled resources such as shared load balancers) claim their lines before any step and share "
        "them by their own treatment; they are approved like rules and apply only in their months. Their results "
        "show as step 0, 'exception <id>'.",
        Table(("exception", "matches", "treatment", "reason", "approved by", "valid from", "valid to",
               f"in force in {period}"), rows) if rows else "No exception is recorded.",
    ))


def _scenarios(con: duckdb.DuckDBPyConnection) -> list[Scenario]:
    saved = []
    for (name,) in con.execute("SELECT DISTINCT name FROM scenario ORDER BY name").fetchall():
        try:
            saved.append(load_scenario(con, name))
        except NotFound:
            continue
    return [*PRESETS, *saved]


def _pricing(con: duckdb.DuckDBPyConnection) -> Section:
    cards = con.execute("SELECT card, version, count(*), min(effective_from), any_value(author) FROM rate_card"
                        " GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    return Section("pricing-and-tiering", "Pricing and tiering", (Bullets((
        "Vendor tiers are priced where the vendor prices them (the billing account's total quantity), never per "
        "business unit; the effective unit rate is invoice ÷ quantity and the invoice is split pro rata to usage "
        "by the largest-remainder method, so the parts add up to the invoice to the cent.",
        "Graduated tiers price each unit in its band; volume (all-units) tiers price every unit at the band the "
        "total reaches. SaaS seats bill max(used, committed minimum) rounded up to the pack size.",
        "Rate cards give a fixed unit price per catalogue item and support tier; the over- or under-recovery "
        "against actual cost is tracked per item.",
    )), Table(("rate card", "version", "items", "effective from", "author"),
              tuple((c, str(v), str(n), e, a) for c, v, n, e, a in cards)) if cards
        else "No rate card is stored: charges follow the allocated cost."))


def _subsidy(scenarios: Sequence[Scenario]) -> Section:
    rows = tuple((s.name, _s(s.version) if s.version else "preset", s.model,
                  "; ".join(x.describe() for x in s.subsidies) or "none", f"{s.markup_pct} % ({s.markup_base})",
                  f"{s.idle_penalty_pct} %", _s(s.unused_commitment_policy)) for s in scenarios)
    return Section("subsidy-and-markup", "Subsidy and markup", (
        "A scenario never changes the allocation; it decides what each target is charged for what was allocated "
        "to it: charge = direct + shared − subsidy − commitment carried centrally + markup + penalty + rate "
        "variance. Showback charges nothing but shows the full cost; full recovery charges every allocated cent; "
        "a subsidy carries a percentage of the named pools centrally (a row takes the first subsidy it matches); "
        "markup is a percentage of the gross charge or of the charge net of subsidy. The UNALLOCATED line is "
        "absorbed centrally: no subsidy, markup or penalty applies to it.",
        Table(("scenario", "version", "model", "subsidies", "markup", "idle penalty", "unused commitments"), rows),
    ))


def _idle() -> Section:
    return Section("idle-penalty", "Idle penalty", (Bullets((
        "Per capacity driver and target: idle = max(reserved − used, 0), idle cost = idle × unit rate, penalty = "
        "idle cost × penalty %.",
        "An incentive of − min(used, reserved) × unit rate × incentive % is given when utilisation reaches the "
        "threshold (default 85 %).",
        "Penalty and incentive are separate lines, never folded into the allocated cost, so the cost and the "
        "nudge stay apart. A scenario's idle penalty % applies to each unit's share of the unused-commitment "
        "pools (see Subsidy and markup for the percentages in use).",
    )),))


def _amortisation(con: duckdb.DuckDBPyConnection, period: str) -> Section:
    policies = con.execute("SELECT version, mode, effective_from, central_target, reason, author FROM"
                           " commitment_policy ORDER BY version").fetchall()
    rows = tuple((str(v), m, e, c, _s(r), a) for v, m, e, c, r, a in policies)
    in_force = [p for p in policies if p[2] <= period]
    current = in_force[-1][1] if in_force else "keep_central (the default: no policy version is stored)"
    return Section("amortisation-of-commitments", "Amortisation of commitments", (
        "Reserved instances and savings plans are amortised: effective hourly cost = upfront ÷ term hours + "
        "recurring hourly, so a month carries effective hourly × its hours. Allocation uses the effective "
        "(amortised) basis by default.",
        f"Unused-commitment policy in force for {period}: {current}. keep_central: consumers pay covered usage at "
        "the effective rate and the unused part stays with IT; spread_pro_rata: consumers carry the whole "
        "commitment pro rata to covered usage; on_demand_equivalent: consumers pay the on-demand equivalent and "
        "IT keeps savings and waste centrally. In every policy the lines add up to the period cost to the cent.",
        Table(("version", "mode", "effective from", "central target", "reason", "author"), rows) if rows
        else "No unused-commitment policy version is stored.",
    ))


def _depreciation(con: duckdb.DuckDBPyConnection) -> Section:
    capex = CapexPolicy()
    methods = con.execute(
        "SELECT coalesce(depreciation_method, 'straight_line'), coalesce(depreciation_convention, 'full_month'),"
        " count(*) FROM asset GROUP BY ALL ORDER BY 1, 2").fetchall()
    fy = get_settings().fiscal_year_start_month
    return Section("depreciation", "Depreciation", (Bullets((
        f"Capex or opex: a purchase of at least {capex.threshold:,} with a useful life of at least "
        f"{capex.min_life_months} months is capitalised and depreciated; classes "
        f"{', '.join(sorted(capex.expensed_classes))} are always expensed; everything else is opex in the purchase "
        "month.",
        "Methods: straight line, declining balance (any factor), double declining balance with switch to straight "
        "line, sum-of-years' digits, units of production. Conventions move only the start: full month, mid-month, "
        "half-year, mid-quarter; depreciation before the in-service month is caught up in that month.",
        "Cents: the cumulative depreciation at each month end is rounded and a month's charge is the difference of "
        "two rounded cumulatives, so every schedule sums to cost − residual exactly.",
        f"Fiscal year starts in month {fy}; a fiscal year is named by the calendar year it ends in.",
        "Journal: Dr depreciation expense 6810 / Cr accumulated depreciation 1790, per period and cost centre.",
        "IFRS and US GAAP: IAS 16 requires significant components to be depreciated separately (supported: an asset "
        "may list components); US GAAP permits but rarely requires it. The capitalisation threshold is an entity "
        "policy under both. Amortised commitments are prepaid expenses under both frameworks.",
    )), Table(("method", "convention", "assets"), tuple((m, c, str(n)) for m, c, n in methods)) if methods
        else "No asset is registered: no depreciation is allocated."))


def _rounding() -> Section:
    return Section("rounding", "Rounding", (
        "Posting rounds once per month: every (source pool, target) cell posts its exact amount rounded down or up "
        "to the cent; the cells add up exactly to each pool's, each target's and the month's posted totals; each "
        "source pool posts exactly its source total in cents (checked again after writing: a run that breaks this "
        "posts nothing); and among all such roundings, as few targets as possible are off their nearest cent "
        "(one minimum-cost flow per month, deterministic). The month's posted total is the sum of its pools' cents "
        "and can differ from the bill's rounded total by up to half a cent per pool.",
        f"One currency per period ({get_settings().currency}); amounts of different currencies are never added.",
    ))


def _history(con: duckdb.DuckDBPyConnection, name: str) -> Section:
    rows = tuple((str(v.version), v.status, _s(v.effective_from), v.author, _s(v.approver), _s(v.approval_comment),
                  _s(v.reason), v.body_hash[:12], v.created_at.strftime("%Y-%m-%d %H:%M"))
                 for v in versions.list_versions(con, name))
    return Section("history", "Version history and approvals", (
        "Every change is a new version with a parent, an author, a reason and an effective month; a second person "
        "with the right to approve rule changes, who neither wrote nor edited the body, approves it. Every "
        "transition is recorded in the hash-chained audit trail.",
        Table(("version", "status", "effective from", "author", "approver", "approval comment", "reason",
               "body hash", "created"), rows),
    ))


def build(con: duckdb.DuckDBPyConnection, rule_set: str | None = None, period: str | None = None) -> Methodology:
    """The methodology of `rule_set` (default: `default_rule_set`) as in force for `period` (default: the latest
    month with cost lines)."""
    name = rule_set or default_rule_set(con)
    period = period or _period(con)
    if not versions.PERIOD.match(period):
        raise versions.VersionError(f"period must be YYYY-MM, not {period!r}")
    rv = versions.as_of(con, name, period)
    rs = rv.rule_set
    sections: tuple[Section, ...] = (
        _header(rv, period), _scope(rs), _steps(rs), _drivers(con, rs, period), _exceptions(con, period),
        Section("policies", "Cost models and policies", (
            "The policies below decide prices and charges around the allocation: " + ", ".join(POLICIES) + ".",)),
        _pricing(con), _subsidy(_scenarios(con)), _idle(), _amortisation(con, period), _depreciation(con),
        _rounding(), _history(con, name),
    )
    levels = {"pricing-and-tiering", "subsidy-and-markup", "idle-penalty", "amortisation-of-commitments",
              "depreciation", "rounding"}
    sections = tuple(Section(s.anchor, s.title, s.blocks, 3 if s.anchor in levels else 2) for s in sections)
    return Methodology(f"Allocation methodology: {rs.name} v{rv.version}", rs.name, rv.version, rv.body_hash,
                       period, sections)


# ---- rendering ----------------------------------------------------------------------------------------------------

_MD_ALWAYS = re.compile(r"([\\`*\[\]<>#|~$&{}!_])")
_MD_LINE_START = re.compile(r"^([ \t]*)([-+=>]|\d+[.)])", re.M)


def md_text(text: str, *, block: bool = True) -> str:
    """Text that Markdown shows literally: every character that could open a construct is backslash-escaped
    (CommonMark lets a backslash escape any ASCII punctuation)."""
    out = _MD_ALWAYS.sub(r"\\\1", text)
    out = re.sub(r"(?<=[A-Za-z0-9])\\_(?=[A-Za-z0-9])", "_", out)  # intraword underscores never emphasise
    out = re.sub(r":(?=[A-Za-z/+\[{-])", r"\\:", out)  # directives, shortcodes, scheme colons
    out = re.sub(r"\b(www)\.", r"\1\\.", out, flags=re.I)
    if not block:  # a table cell or list item: no list, quote or heading can start inside it
        return out
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if not m.group(2)[0].isdigit()
                              else m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], out)


def _md_cell(text: str) -> str:
    return md_text(text.replace("\n", " "), block=False)


def to_markdown(doc: Methodology) -> str:
    lines = [f"# {md_text(doc.title)}", "",
             md_text(f"Rule set {doc.rule_set} v{doc.version} · body hash {doc.body_hash} · in force for "
                     f"{doc.period}"), ""]
    for s in doc.sections:
        lines += [f"{'#' * s.level} {md_text(s.title)}", ""]
        for b in s.blocks:
            if isinstance(b, Table):
                lines.append("| " + " | ".join(_md_cell(c) for c in b.columns) + " |")
                lines.append("|" + "---|" * len(b.columns))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            elif isinstance(b, Bullets):
                lines += [f"- {_md_cell(i)}" for i in b.items]
            else:
                lines.append(md_text(b))
            lines.append("")
    return "\n".join(lines)


_CSS = ("body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;line-height:1.45;color:#222}"
        "table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}"
        "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
        "th{background:#f3f3f3}code{font-size:.85rem}@media print{body{margin:0}}")


def to_html(doc: Methodology) -> str:
    """A self-contained printable page; every text is HTML-escaped."""
    e = html.escape
    parts = ["<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">", f"<title>{e(doc.title)}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>{e(doc.title)}</h1>",
             f"<p>Rule set {e(doc.rule_set)} v{doc.version} · body hash <code>{e(doc.body_hash)}</code> · in force "
             f"for {e(doc.period)}</p>", "<nav><ul>"]
    parts += [f"<li><a href=\"#{e(s.anchor)}\">{e(s.title)}</a></li>" for s in doc.sections]
    parts.append("</ul></nav>")
    for s in doc.sections:
        parts.append(f"<section id=\"{e(s.anchor)}\"><h{s.level}>{e(s.title)}</h{s.level}>")
        for b in s.blocks:
            if isinstance(b, Table):
                parts.append("<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in b.columns) + "</tr></thead>"
                             "<tbody>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>"
                                                 for row in b.rows) + "</tbody></table>")
            elif isinstance(b, Bullets):
                parts.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b.items) + "</ul>")
            else:
                parts.append(f"<p>{e(b)}</p>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
