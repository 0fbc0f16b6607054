"""`examforge stress`: failures are reported with id and seed; the statistics add up."""

from __future__ import annotations

from examforge import registry
from examforge.question import QuestionType
from examforge.stress import balance_ok, run_stress, stress_type


def test_stress_counts_and_balance():
    qtype = registry.get("conv.output_shape")
    report = stress_type(qtype, "mc", range(300))
    assert report.ok == 300 and not report.failures
    assert sum(report.positions.values()) == 300
    assert balance_ok(report)
    assert report.distinct_answers > 100
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
    assert report.ok + len(report.failures) == 60 == report.ok + report.failure_count
    assert isinstance(broken, QuestionType)


def _figures(reports):
    return [(r.type_id, r.form, r.seeds, r.failure_count, r.distinct_answers, r.duplicate_questions,
             dict(r.positions), r.numeric_range) for r in reports]


def test_chunks_and_processes_give_the_same_figures():
    types = [registry.get("conv.output_shape"), registry.get("info.entropy")]
    whole = run_stress(types, seeds=300, start=6700, render=False, chunk=300)
    done = []
    chunked = run_stress(types, seeds=300, start=6700, render=False, chunk=70,
                         finished=lambda r, i, n: done.append((r.type_id, r.form, i, n)))
    pooled = run_stress(types, seeds=300, start=6700, render=False, chunk=70, jobs=2)
    assert _figures(whole) == _figures(chunked) == _figures(pooled)
    assert [(r.type_id, r.form) for r in whole] == [(t.id, f) for t in types for f in t.forms]
    assert done == [(r.type_id, r.form, i, 6) for i, r in enumerate(whole, start=1)]
    assert all(r.failure_count == 0 and r.seeds == 300 for r in pooled)  # 6751 is the old bad seed
    assert all(r.summary is not None for r in pooled)  # compacted: no per-seed tallies kept
