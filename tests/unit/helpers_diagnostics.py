"""Shared test data for the diagnostic-dataset tests: a tiny hand-written corpus and the real tokenizer."""

from __future__ import annotations

from functools import lru_cache

from axiomtests.corpus import Corpus
from axiomtests.perturb import BasePair, ReferenceEmbedding, base_set

QUERIES = {
    "q1": "what is vicarious trauma and how do helpers cope",
    "q2": "how do solar panels generate electricity",
    "q3": "why do cats purr",
}
DOCS = {
    "d1a": ("Trauma can follow any distressing event. People who treat survivors often absorb some of that "
            "trauma themselves. This secondhand trauma is called vicarious trauma by psychologists. Counsellors "
            "learn to cope by sharing the load with colleagues. Without rest, the trauma builds up over months. "
            "Supervision and peer support reduce the risk of lasting trauma for helpers."),
    "d1b": ("Helping professions such as nursing and social work are demanding. Long shifts leave little time "
            "for rest or reflection. Many workers report fatigue, poor sleep and a sense of detachment from their "
            "own families. Employers can offer regular breaks, supervision and access to counselling services "
            "for their staff."),
    "d1c": ("The trauma's effects can last for years after the event itself. Survivors describe intrusive "
            "memories, poor sleep and a constant feeling of danger. Treatment combines talking therapy with "
            "practical support at home and at work. Recovery is slow, but most people improve with time and care."),
    "d2a": ("Solar panels turn sunlight into electricity using photovoltaic cells. Each cell contains layers of "
            "silicon that release electrons when light strikes them. The moving electrons form a direct current. "
            "An inverter converts this current into the alternating current used by household appliances. "
            "Panels work best when they face the sun directly."),
    "d2b": ("The city council met on Tuesday to discuss new bicycle lanes. Residents asked for safer crossings "
            "near the school. Engineers presented three designs with different costs. The council will vote on "
            "the plan next month after a public hearing. Construction could begin in the spring if funding is "
            "approved by the state."),
    "d3a": ("Cats purr for many reasons. A purr often signals contentment, but cats also purr when they are "
            "hurt or frightened. The sound comes from rapid twitching of the muscles in the larynx. Some "
            "researchers think the vibrations help bones and tissues heal. Kittens begin to purr when they are "
            "only a few days old."),
    "d3b": ("Domestic animals have lived alongside people for thousands of years. Dogs were probably the first "
            "to be tamed, followed by sheep, goats and cattle. Each species offered something useful, such as "
            "protection, wool, milk or meat. Over time, careful breeding changed their size, colour and "
            "temperament in striking ways."),
}
RETRIEVED = {"q1": ["d1a", "d1b", "d1c"], "q2": ["d2a", "d2b"], "q3": ["d3a", "d3b"]}
QRELS = {"q1": {"d1a": 1}, "q2": {"d2a": 1}, "q3": {"d3a": 1}}


def tiny_corpus(retrieved: bool = True) -> Corpus:
    """Three queries, seven passages (one with "trauma" six times, one with "trauma's")."""
    return Corpus("tiny", dict(DOCS), dict(QUERIES), {q: dict(v) for q, v in QRELS.items()},
                  {q: list(v) for q, v in RETRIEVED.items()} if retrieved else {}, {"source": "hand-written test data"})


def tiny_base() -> list[BasePair]:
    """:func:`base_set` of :func:`tiny_corpus` (every passage cuts at 40 words or more)."""
    return base_set(tiny_corpus())


def base_of(doc_id: str) -> BasePair:
    """The tiny base pair of ``doc_id``."""
    return next(b for b in tiny_base() if b.doc_id == doc_id)


@lru_cache(maxsize=1)
def tokenizer():
    """The base all-MiniLM-L6-v2 tokenizer (bert-base-uncased vocabulary), loaded once."""
    from axiomtests.tokens import base_tokenizer

    return base_tokenizer()


@lru_cache(maxsize=1)
def reference() -> ReferenceEmbedding:
    """The reference embedding (base all-MiniLM-L6-v2 word embeddings), loaded once."""
    return ReferenceEmbedding.load()
