#!/usr/bin/env bash
# Vulnerability audit of the packages installed in .venv (the project itself excluded).
# See docs/SECURITY.md for the policy and the latest result.
#
#   bash scripts/audit.sh           exit 0: no known vulnerability   1: findings
#                                   2: the audit could not be done (tool or network failure)
#   bash scripts/audit.sh --strict  also exit 3 when some packages could not be checked
#   AUDIT_VENV=/path/to/venv bash scripts/audit.sh   audit another virtualenv
#
# Step 1 is pip-audit, which asks PyPI for each installed release (/pypi/NAME/VERSION/json).
# Where that endpoint is not served (this workplace's PyPI access answers 404 to it), pip-audit
# skips every package as "not found on PyPI" and still prints "No known vulnerabilities found".
# Step 2 therefore re-checks each skipped package against /pypi/NAME/json, whose
# `vulnerabilities` list is that of the latest release: exact for a package installed at its
# latest release. An older one cannot be checked that way; it is listed as unverified, and the
# advisories found for such packages by hand are in KNOWN below.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reviewed advisories that do not apply to this project or cannot be fixed, with the reason.
# Only these are ignored; any other advisory fails the audit.
IGNORED=(
    # none (2026-11-24)
)

# Advisories found by hand (2026-11-24) for packages below their latest release, which PyPI
# cannot be asked about here: "package<fixed_version ID ALIAS: description".
KNOWN=(
    "setuptools<65.5.1 PYSEC-2022-43012 CVE-2022-40897: ReDoS in package_index"
    "setuptools<70.0.0 GHSA-cx63-2mw6-8hw5 CVE-2024-6345: code injection via package_index download URLs"
    "setuptools<78.1.1 GHSA-5rjg-fvgr-3xxf CVE-2025-47273: path traversal in PackageIndex"
    "setuptools<83.0.0 GHSA-h35f-9h28-mq5c CVE-2026-59890: sdist MANIFEST.in exclusion bypass (macOS)"
)

STRICT=0
[[ "${1:-}" == "--strict" ]] && STRICT=1
VENV=${AUDIT_VENV:-.venv}
PYTHON=$VENV/bin/python
"$PYTHON" -c "import pip_audit" 2>/dev/null || { echo "audit: pip-audit missing in $VENV (bash scripts/setup.sh)" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ignore_args=()
for id in "${IGNORED[@]}"; do ignore_args+=(--ignore-vuln "$id"); done

# pip-audit exits 1 both for findings and for errors: its JSON report tells them apart.
"$PYTHON" -m pip_audit --skip-editable --progress-spinner off --desc off --aliases on -f json \
    -o "$WORK/pip-audit.json" "${ignore_args[@]}" 2>"$WORK/pip-audit.err" || true
if [[ ! -s "$WORK/pip-audit.json" ]]; then
    echo "audit: pip-audit produced no report:" >&2
    cat "$WORK/pip-audit.err" >&2
    exit 2
fi

VENV=$VENV IGNORED_IDS="${IGNORED[*]}" KNOWN_LIST="$(printf '%s\n' "${KNOWN[@]}")" STRICT=$STRICT \
    "$PYTHON" - "$WORK/pip-audit.json" <<'PY'
import json, os, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import distributions

from packaging.utils import canonicalize_name
from packaging.version import Version

report = json.load(open(sys.argv[1]))
ignored = set(os.environ["IGNORED_IDS"].split())
installed = {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()}


def relevant(vuln_ids):
    return not (set(vuln_ids) & ignored)


findings = []  # (package, version, id, aliases, fixed in, source)
audited, skipped, editable = [], [], []
for dep in report["dependencies"]:
    name = canonicalize_name(dep["name"])
    reason = dep.get("skip_reason", "")
    if "editable" in reason:
        editable.append(name)
    elif reason:
        skipped.append(name)
    else:
        audited.append(name)
        for v in dep.get("vulns", []):
            if relevant([v["id"], *v.get("aliases", [])]):
                findings.append((name, dep["version"], v["id"], v.get("aliases", []), v.get("fix_versions", []), "pip-audit"))


def latest_release(name):
    for attempt in range(3):
        try:
            with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as response:
                return json.load(response)
        except Exception as error:  # noqa: BLE001 - retried, then reported
            last = error
            time.sleep(2 ** attempt)
    raise RuntimeError(f"{name}: {last}")


unverified, fallback_audited = [], []
if skipped:
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = dict(zip(skipped, pool.map(latest_release, skipped)))
    except RuntimeError as error:
        print(f"audit: PyPI project data unavailable ({error})", file=sys.stderr)
        sys.exit(2)
    for name in skipped:
        version, data = installed[name], answers[name]
        latest = data["info"]["version"]
        if Version(version) != Version(latest):
            unverified.append((name, version, latest))
            continue
        fallback_audited.append(name)
        for v in data.get("vulnerabilities") or []:
            if relevant([v["id"], *v.get("aliases", [])]) and not v.get("withdrawn"):
                findings.append((name, version, v["id"], v.get("aliases", []), v.get("fixed_in", []), "PyPI latest-release data"))

for line in os.environ["KNOWN_LIST"].splitlines():  # advisories reviewed by hand
    if not line.strip():
        continue
    bound, vuln_id, alias, description = line.split(" ", 3)  # "pkg<fixed ID ALIAS: description"
    package, fixed = bound.split("<")
    alias = alias.rstrip(":")
    version = installed.get(canonicalize_name(package))
    if version and Version(version) < Version(fixed) and relevant([vuln_id, alias]):
        findings.append((package, version, vuln_id, [alias], [fixed], f"reviewed by hand: {description}"))

total = len(audited) + len(skipped)
checked = len(audited) + len(fallback_audited)
print(f"packages in {os.environ['VENV']}: {total} (+{len(editable)} editable, the project itself, not audited)")
print(f"  checked by pip-audit (per-release data):   {len(audited)}")
print(f"  checked via PyPI latest-release data:      {len(fallback_audited)}")
print(f"  not checkable here (below latest release): {len(unverified)}")
for name, version, latest in unverified:
    print(f"    {name} {version} (latest {latest})")
if findings:
    print(f"FINDINGS: {len(findings)} advisories in {len({f[0] for f in findings})} package(s)")
    for name, version, vuln_id, aliases, fixed, source in findings:
        print(f"  {name} {version}: {vuln_id} {' '.join(aliases)} fixed in {', '.join(fixed) or '?'} [{source}]")
    sys.exit(1)
if checked == 0:
    print("audit: no package could be checked", file=sys.stderr)
    sys.exit(2)
print("no known vulnerability in the checked packages")
if unverified and os.environ["STRICT"] == "1":
    sys.exit(3)
PY
