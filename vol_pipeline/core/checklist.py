"""The seed's "24-Hour Validation Checklist", evaluated on a session report.

Severity says who has to act: ERROR items are defects of the platform (missing volume
features, a reason without its volume block, failed runs); WARN items are about what the
market did that day (no trade passed the gates, confidence outside the hoped-for range,
a multiplier distribution unlike the seed's guess), which are worth a look but are not bugs.
"""

from __future__ import annotations

from dataclasses import dataclass

from vol_pipeline.core.report import EXPECTED_CONFIDENCE_RANGE

ERROR, WARN = "ERROR", "WARN"
BUCKET_TOLERANCE = 0.15  # a bucket's share may differ from the seed's expectation by 15 points


# name -> (severity, what the item asks), in the checklist's order.
CHECKLIST: dict[str, tuple[str, str]] = {
    "volume_features_present": (ERROR, "Volume features populated in lane_features for every ticker that had bars."),
    "reason_has_volume": (ERROR, "Every recommendation's reason JSON carries its volume block (ratio, multiplier, assessment)."),
    "no_run_errors": (ERROR, "No minute_job run for this session ended in failure without a later successful re-run."),
    "execution_rate_positive": (WARN, "Execution rate > 0%: at least one recommendation passed all 5 risk gates."),
    "confidence_varies_in_range": (WARN, "Recommendation confidence varies with volume, its median in the seed's 30-70% range."),
    "multiplier_distribution": (WARN, f"Multiplier buckets of directional signals within {BUCKET_TOLERANCE:.0%} points of "
                                      "the seed's kill 10 / reduced 50 / normal 30 / boosted 10."),
}


@dataclass(frozen=True)
class ChecklistItem:
    name: str
    passed: bool
    detail: str

    @property
    def severity(self) -> str:
        return CHECKLIST[self.name][0]

    @property
    def description(self) -> str:
        return CHECKLIST[self.name][1]


def seed_checklist(report: dict, failed_runs: list[str]) -> list[ChecklistItem]:
    """The checklist items for one session report; `failed_runs`: run ids that failed on it."""
    coverage, recs, dispatch = report["coverage"], report["recommendations"], report["dispatch"]
    missing = coverage["tickers_missing_volume_features"]
    confidence = report["confidence"]["recommendations_after"]
    low, high = EXPECTED_CONFIDENCE_RANGE
    measured = report["multiplier_buckets"][0]["share"] is not None
    off_buckets = [
        f"{row['bucket']} {row['share']:.0%} (expected {row['expected_share']:.0%})"
        for row in report["multiplier_buckets"]
        if measured and abs(row["difference"]) > BUCKET_TOLERANCE + 1e-9  # 0.35 - 0.5 is -0.15000000000000002
    ]
    varies = confidence["count"] > 0 and confidence["distinct"] > 1 and low <= confidence["median"] <= high
    return [
        ChecklistItem("volume_features_present", not missing,
                      f"missing for {', '.join(missing)}" if missing
                      else f"{coverage['tickers_with_volume_features']} of {coverage['tickers_with_bars']} tickers"),
        ChecklistItem("reason_has_volume", recs["without_volume_in_reason"] == 0,
                      f"{recs['without_volume_in_reason']} of {recs['count']} without it"),
        ChecklistItem("no_run_errors", not failed_runs, f"failed runs: {', '.join(failed_runs)}" if failed_runs else "none"),
        ChecklistItem("execution_rate_positive", bool(dispatch["execution_rate"]),
                      f"{dispatch['simulated']} of {recs['count']} recommendations simulated"),
        ChecklistItem("confidence_varies_in_range", varies,
                      f"median {confidence['median']:.2f}, {confidence['distinct']} distinct values"
                      if confidence["count"] else "no recommendations"),
        ChecklistItem("multiplier_distribution", measured and not off_buckets,
                      "; ".join(off_buckets) if off_buckets else ("within tolerance" if measured else "no directional signals")),
    ]
