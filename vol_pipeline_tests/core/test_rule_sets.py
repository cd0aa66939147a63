"""Named rule sets for `whatif`: the built-in ones, NAME+multiplier-off, and the rules file (TOML/JSON)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from vol_pipeline.core.config import PHASE12_VOLUME_TIERS, SignalRuleSet, VolumeTier
from vol_pipeline.core.dispatch import DispatchConfig
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.core.rule_sets import (
    DEFAULT_COMPARISON, NamedRuleSet, load_rule_sets, parse_rule_sets, resolve, rule_set_entry,
    split_names,
)
from vol_pipeline.core.volume import volume_multiplier
from vol_pipeline.core.what_if import multiplier_off

TOML = """
# the example of core/rule_sets.py
[[rule_set]]
name = "strict-gate"
min_confidence = 0.75

[[rule_set]]
name = "wide_1.1"
surge_multiplier = 1.5
null_volume_multiplier = 0
[rule_set.tiers]
"2.0" = 1.0
"0.8" = 0.0
"1.25" = 0.5
"""


def multipliers(rules: SignalRuleSet, ratios: list[float | None]) -> list[float]:
    frame = pl.DataFrame({"r": ratios}, schema={"r": pl.Float64})
    return frame.select(volume_multiplier(pl.col("r"), rules).alias("m"))["m"].to_list()


@pytest.fixture
def toml_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(TOML)
    return path


# --- built in ------------------------------------------------------------------------------------
def test_the_default_comparison_is_phase12_on_and_off():
    on, off = resolve(DEFAULT_COMPARISON)
    assert DEFAULT_COMPARISON == ("1.0-phase12", "1.0-phase12+multiplier-off")
    assert on == NamedRuleSet("1.0-phase12", SignalRuleSet(), DispatchConfig())
    assert off.name == "1.0-phase12+multiplier-off"
    assert off.rules == multiplier_off(SignalRuleSet()) and off.rules.version == off.name
    assert off.dispatch == DispatchConfig()


def test_any_rule_set_can_have_its_multiplier_switched_off(toml_file):
    extra = load_rule_sets(toml_file)
    (off,) = resolve(["wide_1.1+multiplier-off"], extra)
    assert off.name == off.rules.version == "wide_1.1+multiplier-off"
    assert multipliers(off.rules, [None, 0.1, 1.0, 5.0]) == [1.0] * 4
    assert off.dispatch == extra["wide_1.1"].dispatch


def test_unknown_name_lists_the_known_ones(toml_file):
    with pytest.raises(BadInputError, match=r"unknown rule set 'nope' \(known: 1.0-phase12, each also as "
                                            r"NAME\+multiplier-off\); define it in a --rules-file"):
        resolve(["1.0-phase12", "nope"])
    with pytest.raises(BadInputError, match=r"unknown rule set 'nope\+multiplier-off' \(known: 1.0-phase12, "
                                            r"strict-gate, wide_1.1, each also"):
        resolve(["nope+multiplier-off"], load_rule_sets(toml_file))


@pytest.mark.parametrize("text, message", [
    ("", "give comma-separated rule set names"),
    ("a,,b", "give comma-separated rule set names"),
    ("a, b ,a", "'a' is given more than once"),
])
def test_bad_rule_name_lists(text, message):
    with pytest.raises(BadInputError, match=message):
        split_names(text)


def test_names_are_split_and_stripped():
    assert split_names(" 1.0-phase12 , x+multiplier-off") == ["1.0-phase12", "x+multiplier-off"]


# --- the rules file ----------------------------------------------------------------------------------
def test_toml_file_defines_rule_sets_with_defaults_for_what_it_omits(toml_file):
    parsed = load_rule_sets(toml_file)
    assert list(parsed) == ["strict-gate", "wide_1.1"]

    strict = parsed["strict-gate"]
    assert strict.dispatch == DispatchConfig(min_confidence=0.75)
    assert strict.rules == SignalRuleSet(version="strict-gate")  # only the name (version) differs

    wide = parsed["wide_1.1"]
    assert wide.dispatch == DispatchConfig()
    assert [(t.below, t.multiplier) for t in wide.rules.volume_tiers] == [(0.8, 0.0), (1.25, 0.5), (2.0, 1.0)]
    assert wide.rules.volume_tiers[0] == VolumeTier(0.8, 0.0, "VOLUME_TOO_LOW")
    assert (wide.rules.surge_multiplier, wide.rules.null_volume_multiplier) == (1.5, 0.0)
    # strict "<" bounds, the surge multiplier at and above the last bound, null -> the null multiplier
    assert multipliers(wide.rules, [None, 0.79, 0.8, 1.2499, 1.25, 1.99, 2.0, 9.0]) == [
        0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.5, 1.5]


def test_json_file_holds_the_same(tmp_path, toml_file):
    document = {"rule_set": [
        {"name": "strict-gate", "min_confidence": 0.75},
        {"name": "wide_1.1", "surge_multiplier": 1.5, "null_volume_multiplier": 0,
         "tiers": {"2.0": 1.0, "0.8": 0.0, "1.25": 0.5}},
    ]}
    path = tmp_path / "rules.JSON"  # the extension in any case
    path.write_text(json.dumps(document))
    assert load_rule_sets(path) == load_rule_sets(toml_file)


def test_phase12_table_written_out_is_the_default_table(tmp_path):
    tiers = "\n".join(f'"{t.below}" = {t.multiplier}' for t in PHASE12_VOLUME_TIERS)
    path = tmp_path / "same.toml"
    path.write_text(f'[[rule_set]]\nname = "copy"\nsurge_multiplier = 1.3\nnull_volume_multiplier = 0.5\n'
                    f'min_confidence = 0.7\n[rule_set.tiers]\n{tiers}\n')
    copy = load_rule_sets(path)["copy"]
    ratios = [None, 0.0, 0.49, 0.5, 1.19, 1.2, 1.5, 1.99, 2.0, 2.99, 3.0, 12.0]
    assert multipliers(copy.rules, ratios) == multipliers(SignalRuleSet(), ratios)
    assert copy.dispatch == DispatchConfig()


BAD_DOCUMENTS = [
    ({}, "expected only a 'rule_set' list"),
    ({"rule_set": [], "extra": 1}, "expected only a 'rule_set' list of entries ([[rule_set]] in TOML), found ['extra', 'rule_set']"),
    ([{"name": "a"}], "expected only a 'rule_set' list of entries ([[rule_set]] in TOML), found list"),
    ({"rule_set": []}, "'rule_set' must be a non-empty list"),
    ({"rule_set": {"name": "a"}}, "'rule_set' must be a non-empty list"),
    ({"rule_set": ["a"]}, "rule_set #1: expected a table of settings, found str"),
    ({"rule_set": [{"min_confidence": 0.5}]}, "rule_set #1: 'name' must be a non-empty name"),
    ({"rule_set": [{"name": "a"}, {"name": "has,comma"}]}, "rule_set #2: 'name' must be a non-empty name"),
    ({"rule_set": [{"name": ""}]}, "'name' must be a non-empty name"),
    ({"rule_set": [{"name": "a"}, {"name": "a"}]}, "rule set 'a' is defined more than once"),
    ({"rule_set": [{"name": "1.0-phase12"}]}, "rule set '1.0-phase12': the name is built in"),
    ({"rule_set": [{"name": "x+multiplier-off"}]}, "rule set 'x+multiplier-off': the name is built in (or ends in"),
    ({"rule_set": [{"name": "a", "min_confidnce": 0.5}]}, "rule set 'a': unknown setting 'min_confidnce' (allowed: name,"),
    ({"rule_set": [{"name": "a", "min_confidence": 1.5}]}, "'min_confidence' must be between 0 and 1, got 1.5"),
    ({"rule_set": [{"name": "a", "min_confidence": "0.5"}]}, "'min_confidence' must be a finite number, got '0.5'"),
    ({"rule_set": [{"name": "a", "min_confidence": True}]}, "'min_confidence' must be a finite number, got True"),
    ({"rule_set": [{"name": "a", "surge_multiplier": -1}]}, "'surge_multiplier' must be >= 0, got -1"),
    ({"rule_set": [{"name": "a", "null_volume_multiplier": float("nan")}]}, "'null_volume_multiplier' must be a finite number"),
    ({"rule_set": [{"name": "a", "tiers": {}}]}, "'tiers' must be a non-empty table of volume_ratio upper bound -> multiplier"),
    ({"rule_set": [{"name": "a", "tiers": [[0.5, 0.0]]}]}, "'tiers' must be a non-empty table"),
    ({"rule_set": [{"name": "a", "tiers": {"low": 0.0}}]}, "tier bound 'low' is not a number"),
    ({"rule_set": [{"name": "a", "tiers": {"-1": 0.0}}]}, "tier bound '-1' must be a finite number > 0"),
    ({"rule_set": [{"name": "a", "tiers": {"inf": 0.0}}]}, "tier bound 'inf' must be a finite number > 0"),
    ({"rule_set": [{"name": "a", "tiers": {"1": 0.0, "1.0": 0.5}}]}, "tier bound '1.0' is given more than once"),
    ({"rule_set": [{"name": "a", "tiers": {"1": -0.5}}]}, "multiplier of tier '1' must be >= 0, got -0.5"),
    ({"rule_set": [{"name": "a", "tiers": {"1": None}}]}, "multiplier of tier '1' must be a finite number, got None"),
]


@pytest.mark.parametrize("document, message", BAD_DOCUMENTS, ids=[m for _, m in BAD_DOCUMENTS])
def test_malformed_documents_name_the_problem(document, message):
    with pytest.raises(BadInputError) as error:
        parse_rule_sets(document, "rules.json")
    text = str(error.value)
    assert text.startswith("rules.json: ") and message in text, text
    assert "\n" not in text


@pytest.mark.parametrize("name, content, message", [
    ("rules.yaml", "rule_set: []", "rules.yaml: unsupported rules file type '.yaml'; use .toml or .json"),
    ("rules", "", "unsupported rules file type '(none)'"),
    ("broken.toml", "[[rule_set]]\nname = \n", "broken.toml: not valid TOML (Invalid value (at line 2, column 8))"),
    ("broken.json", '{"rule_set": [', "broken.json: not valid JSON (Expecting value: line 1 column 15"),
    ("latin1.toml", b"name = '\xe9'", "latin1.toml: not valid TOML"),
    ("empty.toml", "", "empty.toml: expected only a 'rule_set' list of entries ([[rule_set]] in TOML), found []"),
])
def test_unreadable_files_name_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(BadInputError) as error:
        load_rule_sets(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(BadInputError, match=r"nope.toml: rules file not found"):
        load_rule_sets(tmp_path / "nope.toml")


def test_resolve_keeps_the_order_given(toml_file):
    names = split_names("wide_1.1,1.0-phase12+multiplier-off,strict-gate,1.0-phase12")
    chosen = resolve(names, load_rule_sets(toml_file))
    assert [r.name for r in chosen] == ["wide_1.1", "1.0-phase12+multiplier-off", "strict-gate", "1.0-phase12"]


def test_rule_set_entry_reads_back_as_the_same_rule_set(toml_file, tmp_path):
    """How a file's rule sets travel in Dagster run config: entries that parse to equal rule sets."""
    parsed = load_rule_sets(toml_file)
    entries = [rule_set_entry(named) for named in parsed.values()]
    assert entries == [  # what differs from the default rule set
        {"name": "strict-gate", "min_confidence": 0.75},
        {"name": "wide_1.1", "tiers": {"0.8": 0.0, "1.25": 0.5, "2.0": 1.0}, "surge_multiplier": 1.5,
         "null_volume_multiplier": 0.0},
    ]
    assert rule_set_entry(parsed["strict-gate"], complete=True) == {
        "name": "strict-gate", "tiers": {"0.5": 0.0, "1.2": 0.3, "1.5": 0.6, "2.0": 1.0, "3.0": 1.2},
        "surge_multiplier": 1.3, "null_volume_multiplier": 0.5, "min_confidence": 0.75}
    assert parse_rule_sets({"rule_set": entries}) == parsed
    path = tmp_path / "again.json"
    path.write_text(json.dumps({"rule_set": entries}))
    assert load_rule_sets(path) == parsed
    odd = NamedRuleSet("odd", SignalRuleSet(version="odd", volume_tiers=(VolumeTier(0.1 + 0.2, 0.0, "VOLUME_TOO_LOW"),
                                                                         VolumeTier(1e-7 + 5, 0.7, "RATIO_BELOW_5"))))
    assert parse_rule_sets({"rule_set": [rule_set_entry(odd)]})["odd"].rules.volume_tiers == tuple(
        replace(tier, assessment=tier.assessment if tier.multiplier == 0 else f"RATIO_BELOW_{tier.below:g}")
        for tier in odd.rules.volume_tiers)  # bounds exactly as they were


def test_the_cli_default_is_the_default_comparison():
    from vol_pipeline.cli import build_parser

    args = build_parser().parse_args(["whatif", "--from", "2026-11-20", "--to", "2026-11-23", "--out", "x.csv"])
    assert args.rules == ",".join(DEFAULT_COMPARISON)
    assert (args.rules_file, args.no_record) == (None, False)
