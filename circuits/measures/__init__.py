"""Each claim's measure as a library function: a model and data in, the value with its bootstrap interval, the
control it must beat, why a precondition is unmet, and the per-item values out; the suite's test modules call
them and judge the result against the registry (``axiomtests.claims``), so the same measures run on any model
outside pytest (the unit tier's planted models among them).

- :mod:`circuits.measures.axioms`: compliance shares (TFC1, STMC1, LNC1), saturation against a straight line (TFC2);
- :mod:`circuits.measures.matching`: matching heads' similarity gap, saturation, ablation and patching ranks;
- :mod:`circuits.measures.scoring`: scoring and contextualisation heads (path patching, attention–IDF);
- :mod:`circuits.measures.idf`: U0 edits, U0 ablation, adversarial demotion;
- :mod:`circuits.measures.semantic_bm`: SemanticBM against BM25 and the control circuits.

Every parameter that can change a verdict comes in as an argument; its value lives in ``claims.toml``.
"""
