"""`examforge stress`: failures are reported with id and seed; the statistics add up."""

from __future__ import annotations

from examforge import registry
from examforge.question import QuestionType
from examforge.stress import balance_ok, stress_type


def test_stress_counts_and_balance():
    qtype = registry.get("conv.output_shape")
    report = stress_type(qtype, "mc", range(300))
    assert report.ok == 300 and not report.failures
    assert sum(report.positions.values()) == 300
    assert balance_ok(report)
    assert len(report.answers) > 100
    assert report.duplicate_questions == 0
    data = report.to_json()
    assert data["generator"] == "conv.output_shape" and data["seeds"] == 300


def test_stress_reports_failures_with_seed():
    real = registry.get("conv.output_shape")

    class Broken(type(real)):
        def solve(self, params):
            if params.stride[0] == 3:
                raise ValueError("boom")
            return super().solve(params)

    broken = object.__new__(Broken)
    report = stress_type(broken, "free", range(60))
    assert report.failures, "some seed draws stride 3"
    seed, message = report.failures[0]
    assert "ValueError: boom" in message
    assert isinstance(seed, int) and 0 <= seed < 60
    assert report.ok + len(report.failures) == 60
    assert isinstance(broken, QuestionType)
