"""backprop.two_neuron difficulty ranges: honoured by sample, validated with messages naming
the values, and the defaults draw exactly what the type drew before it had ranges."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from examforge.bank.backprop import BackpropTwoNeuron, TwoNeuronRanges
from examforge.seeding import variant_rngs
from examforge.variant import draw

QT = BackpropTwoNeuron()


@pytest.mark.parametrize("kw", [
    {"max_weight": 1.0, "max_input": 1.0},
    {"min_weight": 2.0, "min_input": 1.5},
    {"min_lr": 0.1, "max_lr": 0.1},
])
def test_value_ranges_are_honoured(kw):
    r = TwoNeuronRanges(**kw)
    for seed in range(60):
        p = QT.sample(variant_rngs(seed)[0], r)
        assert all(r.min_weight <= abs(w) <= r.max_weight for w in (p.w1, p.w2, p.w3))
        assert r.min_input <= abs(p.x) <= r.max_input
        assert r.min_lr <= p.lr <= r.max_lr


def test_dead_unit_ranges():
    always = [QT.solve(QT.sample(variant_rngs(s)[0], TwoNeuronRanges(min_dead=1))) for s in range(60)]
    assert all(len(a.dead) == 1 for a in always)
    never = [QT.solve(QT.sample(variant_rngs(s)[0], TwoNeuronRanges(max_dead=0))) for s in range(60)]
    assert all(a.dead == () for a in never)


def test_default_ranges_mix_dead_and_alive():
    dead = [len(draw(QT, s).answer.dead) for s in range(100)]
    assert 0 in dead and 1 in dead


def test_ranges_are_validated():
    with pytest.raises(ValidationError, match="min_weight 2.5 is larger than max_weight 1.0"):
        TwoNeuronRanges(min_weight=2.5, max_weight=1.0)
    with pytest.raises(ValidationError, match="no weight between min_weight 2.2 and max_weight 2.4"):
        TwoNeuronRanges(min_weight=2.2, max_weight=2.4)
    with pytest.raises(ValidationError, match="min_dead 1 is larger than max_dead 0"):
        TwoNeuronRanges(min_dead=1, max_dead=0)
