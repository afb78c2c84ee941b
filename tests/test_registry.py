"""The instrument registry: every file loads, is self-consistent, and carries the published facts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from schemas.registry import (
    INSTRUMENTS_DIR,
    RegistryError,
    default_registry,
    load_registry,
    notice,
    parse_instrument,
    registry_with,
)

REQUIRED = ("phq9", "gad7", "proqol5", "ifs_self", "self_energy_8c")


def test_every_file_loads_and_required_instruments_exist() -> None:
    registry = load_registry()
    assert set(REQUIRED) <= set(registry.instruments)
    assert len(registry.version) == 12


@pytest.mark.parametrize("path", sorted(INSTRUMENTS_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_each_file_is_complete(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    inst = parse_instrument(data, path.name)
    assert inst.citation and inst.licence and inst.version
    for scale in inst.scales.values():
        assert scale.label
        if scale.reliability is not None:
            assert scale.reliability_source
    text = path.read_text(encoding="utf-8").lower()
    assert "wording" not in data and "text" not in data.get("items", {}), "item wording is never stored"
    assert "over the last 2 weeks" not in text


def test_published_facts() -> None:
    r = load_registry()
    phq = r["phq9"].scales["total"]
    assert (len(phq.items), phq.min, phq.max, phq.reliability, phq.caseness_cutoff, phq.rc_points) == (
        9,
        0,
        27,
        0.89,
        10,
        6,
    )
    assert not phq.higher_is_better and r["phq9"].risk_items == {"phq9_9"}
    assert [b.min for b in phq.bands] == [0, 5, 10, 15, 20]
    gad = r["gad7"].scales["total"]
    assert (len(gad.items), gad.max, gad.reliability, gad.caseness_cutoff, gad.rc_points) == (7, 21, 0.92, 8, 4)
    assert [b.min for b in gad.bands] == [0, 5, 10, 15]
    pq = r["proqol5"]
    assert len(pq.item_ids) == 30 and pq.item_min == 1 and pq.item_max == 5
    assert pq.reverse_items == {f"proqol5_{i}" for i in (1, 4, 15, 17, 29)}
    assert set(pq.scales["burnout"].items) == {f"proqol5_{i}" for i in (1, 4, 8, 10, 15, 17, 19, 21, 26, 29)}
    assert set(pq.scales["compassion_satisfaction"].items) == {
        f"proqol5_{i}" for i in (3, 6, 12, 16, 18, 20, 22, 24, 27, 30)
    }
    assert set(pq.scales["secondary_traumatic_stress"].items) == {
        f"proqol5_{i}" for i in (2, 5, 7, 9, 11, 13, 14, 23, 25, 28)
    }
    for scale in pq.scales.values():
        assert (scale.min, scale.max) == (10, 50)
        assert [(b.label, b.min, b.max) for b in scale.bands] == [
            ("low", 10, 22),
            ("moderate", 23, 41),
            ("high", 42, 50),
        ]
    ifs = r["ifs_self"]
    s = ifs.scales["total"]
    assert (len(ifs.item_ids), ifs.item_min, ifs.item_max, s.reliability, s.rc_sd, s.functional_mean) == (
        9,
        1,
        5,
        0.93,
        7.34,
        32.91,
    )
    assert s.higher_is_better and s.caseness_cutoff is None and not ifs.reverse_items and not ifs.validated
    c8 = r["self_energy_8c"]
    assert len(c8.item_ids) == 8 and c8.item_max == 10 and not c8.validated
    assert c8.scales["self_energy"].reliability is None  # estimated from the practice's own data
    assert "not a validated scale" in c8.note.lower()


def test_band_lookup() -> None:
    phq = load_registry()["phq9"].scales["total"]
    # a prorated 9.5 has reached mild's lower edge but not moderate's: mild (the rule scores use too)
    assert [phq.band_of(x) for x in (0, 4, 5, 9.5, 10, 27)] == [
        "minimal",
        "minimal",
        "mild",
        "mild",
        "moderate",
        "severe",
    ]
    assert phq.band_of(28) is None


def _good() -> dict:
    return tomllib.loads((INSTRUMENTS_DIR / "gad7.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["items"].update(reverse=["gad7_99"]), "reverse items"),
        (lambda d: d["scales"]["total"].update(items=["gad7_1", "phq9_1"]), "unknown items"),
        (lambda d: d["scales"]["total"].update(max_missing=7), "max_missing"),
        (lambda d: d["scales"]["total"].update(reliability=1.2), "reliability must be"),
        (lambda d: d["scales"]["total"].update(caseness_cutoff=30), "caseness cutoff"),
        (lambda d: d["scales"]["total"].update(method="median"), "method"),
        (lambda d: d.update(domain="mood"), "domain"),
        (lambda d: d["scales"]["total"]["bands"].pop(), "do not cover"),
        (lambda d: d.pop("citation"), "'citation' is missing"),
    ],
)
def test_inconsistent_files_are_refused(change, message: str) -> None:  # type: ignore[no-untyped-def]
    data = _good()
    change(data)
    with pytest.raises(RegistryError, match=message):
        parse_instrument(data, "gad7.toml")


def test_id_must_match_file_name(tmp_path: Path) -> None:
    (tmp_path / "other.toml").write_text((INSTRUMENTS_DIR / "gad7.toml").read_text(), encoding="utf-8")
    with pytest.raises(RegistryError, match="does not match the file name"):
        load_registry(tmp_path)


# --- a practice's own instruments, from folders named in the settings ----------------------------------------

PRACTICE = Path(__file__).parent / "fixtures" / "instruments"


def test_an_extra_folder_adds_its_instruments_and_changes_the_version() -> None:
    builtin = load_registry()
    extended = load_registry(extra_folders=[PRACTICE])
    assert set(extended.instruments) == set(builtin.instruments) | {"wellbeing3"}
    assert extended.files["wellbeing3"] == PRACTICE / "wellbeing3.toml"
    assert extended.version != builtin.version
    assert load_registry(extra_folders=[PRACTICE]).version == extended.version  # the same files, the same version
    assert registry_with(()) is default_registry() and registry_with([PRACTICE]).version == extended.version


def test_an_extra_file_edited_changes_the_version(tmp_path: Path) -> None:
    (tmp_path / "wellbeing3.toml").write_bytes((PRACTICE / "wellbeing3.toml").read_bytes())
    before = load_registry(extra_folders=[tmp_path]).version
    text = (tmp_path / "wellbeing3.toml").read_text(encoding="utf-8").replace('"1.0"', '"1.1"')
    (tmp_path / "wellbeing3.toml").write_text(text, encoding="utf-8")
    assert load_registry(extra_folders=[tmp_path]).version != before


def test_an_extra_file_may_not_take_a_built_in_id(tmp_path: Path) -> None:
    (tmp_path / "gad7.toml").write_bytes((INSTRUMENTS_DIR / "gad7.toml").read_bytes())
    with pytest.raises(RegistryError) as caught:
        load_registry(extra_folders=[tmp_path])
    message = str(caught.value)
    assert str(tmp_path / "gad7.toml") in message and str(INSTRUMENTS_DIR / "gad7.toml") in message
    assert "id of its own" in message


def test_two_extra_folders_may_not_define_the_same_id(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "wellbeing3.toml").write_bytes((PRACTICE / "wellbeing3.toml").read_bytes())
    with pytest.raises(RegistryError, match="already defines"):
        load_registry(extra_folders=[PRACTICE, other])


def test_a_missing_extra_folder_or_a_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"folder .*nowhere.* does not exist"):
        load_registry(extra_folders=[tmp_path / "nowhere"])
    (tmp_path / "broken.toml").write_text("id = 'broken'\n[items\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=f"{tmp_path / 'broken.toml'}: not valid TOML"):
        load_registry(extra_folders=[tmp_path])


def test_the_settings_name_folders_relative_to_the_home(tmp_path: Path) -> None:
    from tests.sql_harness import with_settings

    settings = with_settings(registry={"extra_folders": ("instruments", str(PRACTICE), "~/x")})
    home = tmp_path / "home"
    assert settings.instrument_folders(home) == (home / "instruments", PRACTICE, Path("~/x").expanduser())


def test_notice_lists_the_licence_of_every_built_in_instrument() -> None:
    committed = (INSTRUMENTS_DIR.parent.parent / "NOTICE.md").read_text(encoding="utf-8")
    assert committed == notice(), "the registry changed: run `make docs` and commit NOTICE.md"
    for inst in load_registry().instruments.values():
        assert inst.licence in committed and inst.name in committed


def test_the_cli_reads_the_folders_of_the_settings_and_refuses_a_bad_file(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from pipeline.cli import app

    home = tmp_path / "home"
    home.mkdir()
    (home / "settings.toml").write_text(f'[registry]\nextra_folders = ["{PRACTICE}"]\n', encoding="utf-8")
    listed = CliRunner().invoke(app, ["instruments", "--home", str(home), "--json"])
    assert listed.exit_code == 0, listed.output
    shown = {row["id"]: row for row in json.loads(listed.stdout)["instruments"]}
    assert shown["wellbeing3"]["file"] == str(PRACTICE / "wellbeing3.toml") and not shown["wellbeing3"]["built_in"]
    assert shown["phq9"]["built_in"] and shown["wellbeing3"]["licence"].startswith("The practice's own")

    (home / "mine").mkdir()
    (home / "mine" / "phq9.toml").write_bytes((INSTRUMENTS_DIR / "phq9.toml").read_bytes())
    (home / "settings.toml").write_text('[registry]\nextra_folders = ["mine"]\n', encoding="utf-8")
    refused = CliRunner().invoke(app, ["refresh", "--all", "--home", str(home)])
    assert refused.exit_code == 2
    assert "already defines" in refused.stderr and not (home / "warehouse").exists()
