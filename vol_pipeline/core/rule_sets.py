"""Named rule sets for `vol-pipeline whatif`: a signal rule set plus the dispatch gate it runs with.

Built in: `1.0-phase12` (the defaults, what the minute assets store) and
`1.0-phase12+multiplier-off` (every volume multiplier 1.0). Any known name followed by
`+multiplier-off` is that rule set with the multiplier switched off. Other rule sets come
from a small TOML or JSON file (by extension), one entry per rule set:

    [[rule_set]]
    name = "strict-gate"          # letters, digits and . _ - + ; not a built-in name
    min_confidence = 0.75         # the dispatch confidence gate (default 0.70)
    surge_multiplier = 1.3        # ratios at or above the last tier bound (default 1.3)
    null_volume_multiplier = 0.5  # a null volume_ratio (default 0.5)
    [rule_set.tiers]              # volume_ratio upper bound (strict <) -> multiplier
    "0.5" = 0.0                   # (default: the Phase 12 table)
    "1.2" = 0.3
    "2.0" = 1.0

JSON holds the same: {"rule_set": [{"name": ..., "tiers": {"0.5": 0.0, ...}, ...}]}.
Every other setting is the default rule set's. A problem in the file raises BadInputError
with one line naming the file, the rule set and the field.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from vol_pipeline.core.config import SignalRuleSet, VolumeTier
from vol_pipeline.core.dispatch import DispatchConfig
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.core.volume import KILL_ASSESSMENT
from vol_pipeline.core.what_if import multiplier_off

DEFAULT_RULES = SignalRuleSet()
DEFAULT_NAME = DEFAULT_RULES.version  # "1.0-phase12"
OFF_SUFFIX = "+multiplier-off"
DEFAULT_COMPARISON: tuple[str, ...] = (DEFAULT_NAME, DEFAULT_NAME + OFF_SUFFIX)
FILE_TYPES = (".toml", ".json")
ENTRY_KEYS = ("name", "tiers", "surge_multiplier", "null_volume_multiplier", "min_confidence")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


@dataclass(frozen=True)
class NamedRuleSet:
    """What one comparison row replays: signal rules (version = name) and the dispatch config."""

    name: str
    rules: SignalRuleSet
    dispatch: DispatchConfig = DispatchConfig()


def builtin_rule_sets() -> dict[str, NamedRuleSet]:
    return {DEFAULT_NAME: NamedRuleSet(DEFAULT_NAME, DEFAULT_RULES)}


def split_names(text: str) -> list[str]:
    """'a, b' -> ['a', 'b']; an empty list, an empty or a repeated name is bad input."""
    names = [name.strip() for name in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise BadInputError(f"--rules {text!r}: give comma-separated rule set names, e.g. {','.join(DEFAULT_COMPARISON)}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BadInputError(f"--rules: {repeated[0]!r} is given more than once")
    return names


def resolve(names: Iterable[str], extra: Mapping[str, NamedRuleSet] | None = None) -> list[NamedRuleSet]:
    """The rule sets named, from the built-in ones and `extra` (a rules file's)."""
    known = {**builtin_rule_sets(), **(extra or {})}
    resolved = []
    for name in names:
        base_name = name.removesuffix(OFF_SUFFIX)
        base = known.get(base_name)
        if base is None:
            hint = "" if extra else "; define it in a --rules-file"
            raise BadInputError(f"unknown rule set {name!r} (known: {', '.join(sorted(known))}, "
                                f"each also as NAME{OFF_SUFFIX}){hint}")
        if name == base_name:
            resolved.append(base)
        else:  # multiplier_off names it <base version>+multiplier-off, i.e. `name`
            resolved.append(NamedRuleSet(name, multiplier_off(base.rules), base.dispatch))
    return resolved


# --- the rules file ------------------------------------------------------------------------------
def load_rule_sets(path: str | Path) -> dict[str, NamedRuleSet]:
    """Rule sets of a .toml or .json file, by name (see the module docstring)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise BadInputError(f"{path}: unsupported rules file type {suffix or '(none)'!r}; use .toml or .json")
    if not path.is_file():
        raise BadInputError(f"{path}: rules file not found")
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        kind = "TOML" if suffix == ".toml" else "JSON"
        raise BadInputError(f"{path}: not valid {kind} ({_first_line(error)})") from None
    except OSError as error:
        raise BadInputError(f"{path}: cannot read the rules file ({_first_line(error)})") from None
    return parse_rule_sets(document, str(path))


def parse_rule_sets(document: object, source: str = "rules file") -> dict[str, NamedRuleSet]:
    """Rule sets of a parsed document: {"rule_set": [entry, ...]}."""
    if not isinstance(document, dict) or set(document) != {"rule_set"}:
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise BadInputError(f"{source}: expected only a 'rule_set' list of entries ([[rule_set]] in TOML), found {found}")
    entries = document["rule_set"]
    if not isinstance(entries, list) or not entries:
        raise BadInputError(f"{source}: 'rule_set' must be a non-empty list of entries")
    parsed: dict[str, NamedRuleSet] = {}
    for position, entry in enumerate(entries, start=1):
        named = _entry(entry, source, position)
        if named.name in parsed:
            raise BadInputError(f"{source}: rule set {named.name!r} is defined more than once")
        parsed[named.name] = named
    return parsed


def _entry(entry: object, source: str, position: int) -> NamedRuleSet:
    where = f"{source}: rule_set #{position}"
    if not isinstance(entry, dict):
        raise BadInputError(f"{where}: expected a table of settings, found {type(entry).__name__}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise BadInputError(f"{where}: 'name' must be a non-empty name of letters, digits and . _ - + (got {name!r})")
    where = f"{source}: rule set {name!r}"
    if name in builtin_rule_sets() or name.endswith(OFF_SUFFIX):
        raise BadInputError(f"{where}: the name is built in (or ends in {OFF_SUFFIX!r}, which switches any rule set's "
                            "multiplier off); choose another")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise BadInputError(f"{where}: unknown setting {unknown[0]!r} (allowed: {', '.join(ENTRY_KEYS)})")
    rules = replace(DEFAULT_RULES, version=name)
    if "tiers" in entry:
        rules = replace(rules, volume_tiers=_tiers(entry["tiers"], where))
    for key in ("surge_multiplier", "null_volume_multiplier"):
        if key in entry:
            rules = replace(rules, **{key: _number(entry[key], f"{where}: {key!r}", low=0.0)})
    gate = DispatchConfig()
    if "min_confidence" in entry:
        gate = replace(gate, min_confidence=_number(entry["min_confidence"], f"{where}: 'min_confidence'", 0.0, 1.0))
    return NamedRuleSet(name, rules, gate)


def _tiers(table: object, where: str) -> tuple[VolumeTier, ...]:
    if not isinstance(table, dict) or not table:
        raise BadInputError(f"{where}: 'tiers' must be a non-empty table of volume_ratio upper bound -> multiplier, "
                            'e.g. {"0.5" = 0.0, "1.2" = 0.3}')
    tiers: dict[float, float] = {}
    for key, value in table.items():
        try:
            below = float(key)
        except ValueError:
            raise BadInputError(f"{where}: tier bound {key!r} is not a number") from None
        if not math.isfinite(below) or below <= 0:
            raise BadInputError(f"{where}: tier bound {key!r} must be a finite number > 0")
        if below in tiers:
            raise BadInputError(f"{where}: tier bound {key!r} is given more than once")
        tiers[below] = _number(value, f"{where}: multiplier of tier {key!r}", low=0.0)
    return tuple(
        VolumeTier(below, multiplier, KILL_ASSESSMENT if multiplier == 0 else f"RATIO_BELOW_{below:g}")
        for below, multiplier in sorted(tiers.items())
    )


def _number(value: object, what: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadInputError(f"{what} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise BadInputError(f"{what} must be {bounds}, got {value!r}")
    return float(value)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def rule_set_entry(rule_set: NamedRuleSet, complete: bool = False) -> dict:
    """A rules-file entry that defines `rule_set`: parse_rule_sets reads it back as the same
    rule set. How a file's rule sets travel in Dagster run config (only what differs from the
    default rule set) and, `complete`, what a recorded comparison says each name meant."""
    rules = rule_set.rules
    entry = {
        "name": rule_set.name,
        "tiers": {repr(tier.below): tier.multiplier for tier in rules.volume_tiers},
        "surge_multiplier": rules.surge_multiplier,
        "null_volume_multiplier": rules.null_volume_multiplier,
        "min_confidence": rule_set.dispatch.min_confidence,
    }
    if complete:
        return entry
    defaults = {"tiers": DEFAULT_RULES.volume_tiers == rules.volume_tiers,
                "surge_multiplier": DEFAULT_RULES.surge_multiplier == rules.surge_multiplier,
                "null_volume_multiplier": DEFAULT_RULES.null_volume_multiplier == rules.null_volume_multiplier,
                "min_confidence": DispatchConfig().min_confidence == rule_set.dispatch.min_confidence}
    return {key: value for key, value in entry.items() if not defaults.get(key, False)}
