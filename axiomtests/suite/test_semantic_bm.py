"""SemanticBM (paper §5, App. G): a linear model on circuit features against the cross-encoder's scores."""

from __future__ import annotations

import pytest

from axiomtests.claims import CLAIMS, NotComputable
from circuits.measures.semantic_bm import fit_beyond_bm25, generalization_beyond_bm25

FIT = CLAIMS["semantic_bm.fit"].extra  # query_tokens: §5 fits SemanticBM on queries of 5 tokens
# random_r_max (semantic_bm.generalization): random features must not predict (Table 2: r = 0.0005) for the
# comparison to mean anything


def nothing_to_fit() -> NotComputable:
    return NotComputable(f"no query-length group has {FIT['min_group']} pairs from {FIT['min_queries']} queries: "
                         "nothing to fit")


@pytest.mark.claim("semantic_bm.fit")
def test_semantic_bm_beats_bm25(evaluated, axiom_session, check_claim):
    if not evaluated:
        raise nothing_to_fit()
    length = (FIT["query_tokens"] if FIT["query_tokens"] in evaluated
              else max(evaluated, key=lambda k: evaluated[k][0]["pairs"]))
    row, pred = evaluated[length]
    gain, circuits, items = fit_beyond_bm25(row, pred, axiom_session.seed)
    check_claim(CLAIMS["semantic_bm.fit"].result(gain, control=circuits, items=items, query_tokens=length, **row))


@pytest.mark.claim("semantic_bm.generalization")
def test_semantic_bm_generalizes_across_query_lengths(evaluated, axiom_session, check_claim):
    if not evaluated:
        raise nothing_to_fit()
    median, circuits, unmet, table, items = generalization_beyond_bm25(
        [row for row, _ in evaluated.values()], axiom_session.seed, list(evaluated),
        CLAIMS["semantic_bm.generalization"].extra["random_r_max"])
    check_claim(CLAIMS["semantic_bm.generalization"].result(median, control=circuits, unmet=unmet, items=items,
                                                           groups=len(evaluated), table2=table))


