import numpy as np

from examforge.seeding import question_seed, variant_rngs


def test_question_seed_is_stable_across_runs():
    # Pinned values: a change here changes every exam ever built from a manifest.
    assert question_seed(2026, "s001", 0) == question_seed(2026, "s001", 0)
    assert question_seed(1, "a", 0) == 7825334968576730


def test_question_seed_depends_on_each_input():
    base = question_seed(7, "alice", 3)
    assert base != question_seed(8, "alice", 3)
    assert base != question_seed(7, "bob", 3)
    assert base != question_seed(7, "alice", 4)
    assert 0 <= base < 2**53


def test_no_collisions_over_a_class():
    seeds = {question_seed(99, f"s{i:04d}", slot) for i in range(500) for slot in range(12)}
    assert len(seeds) == 500 * 12


def test_variant_streams_are_independent_and_reproducible():
    a_params, a_layout = variant_rngs(123)
    b_params, b_layout = variant_rngs(123)
    assert np.array_equal(a_params.integers(0, 10**9, 8), b_params.integers(0, 10**9, 8))
    assert not np.array_equal(variant_rngs(123)[0].integers(0, 10**9, 8), a_layout.integers(0, 10**9, 8))


def test_no_global_rng_is_touched():
    import torch

    from examforge import registry
    from examforge.variant import draw

    np_state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    for qtype in registry.all_types():
        draw(qtype, 5, form="mc" if "mc" in qtype.forms else qtype.forms[0])
    assert np.array_equal(np_state, np.random.get_state()[1])
    assert torch.equal(torch_state, torch.random.get_rng_state())
