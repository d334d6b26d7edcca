"""The paper's own expectations for cross-encoder/ms-marco-MiniLM-L-12-v2: its head indices and numbers.

These run only when that checkpoint is under test (recognised by name, or by ``--axiom-paper-checkpoint``
for a local copy) and skip with the reason otherwise; every other checkpoint is tested by role.
"""

from __future__ import annotations

import numpy as np
import pytest

PAPER_CHECKPOINT = "cross-encoder/ms-marco-MiniLM-L-12-v2"
RSH = [(10, 1), (10, 4), (10, 7), (10, 10)]
QCH = [(8, 10), (9, 11)]
MH = [(0, 8), (1, 7), (2, 1), (3, 1), (4, 9), (5, 7), (5, 9), (6, 3), (6, 5), (7, 9), (8, 0), (8, 1), (8, 8)]


def is_paper_checkpoint(model, axiom_session) -> bool:
    name = model.name.rstrip("/")
    shape_ok = (model.cfg.n_layers, model.cfg.n_heads, model.cfg.d_model) == (12, 12, 384)
    return shape_ok and (name.endswith(PAPER_CHECKPOINT) or name.endswith("ms-marco-MiniLM-L-12-v2")
                         or axiom_session.paper_checkpoint)


@pytest.fixture(scope="session")  # session scope: pytest sets up wider scopes first, so a module-scoped skip
def paper(hooked_model, axiom_session):  # came only after the session's datasets and patching had been built
    if not is_paper_checkpoint(hooked_model, axiom_session):
        pytest.skip(f"paper expectations apply to {PAPER_CHECKPOINT} (12 layers × 12 heads); "
                    f"{hooked_model.name!r} is tested by role in the other claim modules")
    return hooked_model


def test_paper_scoring_heads_are_found(paper, scoring_heads, path_to_logit):
    effect = np.nan_to_num(path_to_logit["TFC1"].effect)
    missing = [h for h in RSH if h not in scoring_heads]
    assert not missing, (f"paper RSH {missing} are not above 30% of the top head's TFC1 effect; "
                         f"found {scoring_heads}; effects {[round(float(effect[h]), 3) for h in RSH]}")


def test_paper_matching_heads_attend_by_similarity(paper, matching_heads):
    r_select, r_held, _ = matching_heads
    r = (r_select + r_held) / 2
    mh = np.mean([r[h] for h in MH])
    others = np.mean([r[l, h] for l in range(r.shape[0]) for h in range(r.shape[1]) if (l, h) not in MH])
    assert mh > others, f"paper matching heads r = {mh:.3f} vs others {others:.3f} (paper 0.500 vs 0.132)"


def test_paper_contextualisation_heads_receive_value_paths(paper, patching_sets):
    from circuits.patching import path_patch

    _, pairs = patching_sets["TFC1"]
    effect = np.nan_to_num(path_patch(paper, pairs, receivers=RSH, receiver_input="v").effect)
    top = {tuple(int(i) for i in np.unravel_index(i, effect.shape)) for i in np.argsort(-effect, axis=None)[:10]}
    assert set(QCH) <= top, f"paper QCH {QCH} are not among the top-10 senders into the RSH values: {sorted(top)}"
