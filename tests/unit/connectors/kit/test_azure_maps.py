"""The Azure lookups: the loader serves the committed data file (sizes and known entries), the generator's rules on
a tiny hand-made toolkit, and the generator run on the real toolkit copies reproduces the data file byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors._kit import make_azure_maps
from connectors._kit.azure_maps import REGIONS, SERVICES_BY_CONSUMED, SERVICES_BY_TYPE, parse
from engine.errors import ConfigError

SAMPLES = (Path(__file__).resolve().parents[4] / ".." / "shared" / "samples").resolve()
DATA = Path(make_azure_maps.__file__).with_name("azure_maps.tsv")
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"toolkit samples not found at {SAMPLES}")


def test_loader_sizes_and_known_entries() -> None:
    assert (len(REGIONS), len(SERVICES_BY_TYPE), len(SERVICES_BY_CONSUMED)) == (500, 330, 197)
    assert REGIONS["westeurope"] == ("westeurope", "West Europe")
    assert REGIONS["am2"] == ("westeurope", "West Europe")
    assert REGIONS["bl"] == ("eastus", "East US")
    assert SERVICES_BY_TYPE["microsoft.compute/virtualmachines"] == ("Virtual Machines", "Compute")
    # mixed case in the toolkit (Microsoft.BillingBenefits/savingsPlanOrders), lower case here
    assert SERVICES_BY_TYPE["microsoft.billingbenefits/savingsplanorders"] == ("Azure Savings Plan for Compute",
                                                                               "Compute")
    assert SERVICES_BY_CONSUMED["microsoft.sql"] == ("Azure SQL Database", "Databases")
    assert SERVICES_BY_CONSUMED["microsoft.compute"] == (None, "Compute")  # several services, one category
    assert "microsoft.eventgrid" not in SERVICES_BY_CONSUMED  # several categories
    assert all(k == k.lower() for m in (REGIONS, SERVICES_BY_TYPE, SERVICES_BY_CONSUMED) for k in m)


def test_parse_refuses_a_damaged_file() -> None:
    head = "# comment\n" + "map\tkey\tvalue1\tvalue2\n"
    assert parse(head + "SERVICES_BY_CONSUMED\tx\t\tCompute\n").services_by_consumed == {"x": (None, "Compute")}
    for body in ("REGIONS\tx\ty\n", "OTHER\tx\ty\tz\n", "REGIONS\tx\t\tz\n", "REGIONS\tx\ty\tz\nREGIONS\tx\ty\tz\n"):
        with pytest.raises(ConfigError):
            parse(head + body)
    with pytest.raises(ConfigError):
        parse("# no column line\n")


def _toolkit(folder: Path, regions: str, services: str) -> Path:
    (folder / make_azure_maps.REGIONS_CSV).write_text("OriginalValue,RegionId,RegionName\n" + regions)
    (folder / make_azure_maps.SERVICES_CSV).write_text(
        "ConsumedService,ResourceType,ServiceName,ServiceCategory,ServiceSubcategory\n" + services)
    return folder


def test_generator_rules(tmp_path: Path) -> None:
    samples = _toolkit(tmp_path, "West Europe ,westeurope,West Europe\n",
                       ",a/orphan,Orphan,Networking,x\n"
                       "appservices,a/shared,App Service,Web,x\n"
                       "functions,a/shared,Functions,Compute,x\n"
                       "multi,A/One,One,Compute,x\n"
                       "multi,a/two,Two,Compute,x\n"
                       "mixed,a/three,Three,Compute,x\n"
                       "mixed,a/four,Four,Storage,x\n")
    maps = parse(make_azure_maps.render(samples))
    assert maps.regions == {"west europe": ("westeurope", "West Europe")}
    assert maps.services_by_type["a/shared"] == ("App Service", "Web")  # first row wins
    assert maps.services_by_type["a/one"] == ("One", "Compute")
    assert maps.services_by_consumed == {"appservices": ("App Service", "Web"), "functions": ("Functions", "Compute"),
                                         "multi": (None, "Compute")}


def test_generator_refuses_conflicting_regions_and_missing_files(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    samples = _toolkit(tmp_path, "we,westeurope,West Europe\nWE,northeurope,North Europe\n", "")
    assert make_azure_maps.main(["--samples", str(samples), "--check"]) == 2
    assert "location 'we'" in capsys.readouterr().err
    assert make_azure_maps.main(["--samples", str(tmp_path / "absent"), "--check"]) == 2


@needs_samples
def test_generator_reproduces_the_committed_file() -> None:
    text = make_azure_maps.render(SAMPLES)
    assert text.encode("utf-8") == DATA.read_bytes()
    maps = parse(text)
    assert (maps.regions, maps.services_by_type, maps.services_by_consumed) == \
        (REGIONS, SERVICES_BY_TYPE, SERVICES_BY_CONSUMED)
    assert make_azure_maps.main(["--samples", str(SAMPLES), "--check"]) == 0


@needs_samples
def test_check_reports_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "azure_maps.tsv"
    stale.write_bytes(DATA.read_bytes().replace(b"\tWest Europe\n", b"\tWest Europa\n", 1))
    monkeypatch.setattr(make_azure_maps, "OUTPUT", stale)
    assert make_azure_maps.main(["--samples", str(SAMPLES), "--check"]) == 1
    assert make_azure_maps.main(["--samples", str(SAMPLES)]) == 0
    assert stale.read_bytes() == DATA.read_bytes()
