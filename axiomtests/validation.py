"""Validation of diagnostic pairs: every property a generator promises, checked again on the record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axiomtests.records import AXIOMS, NotApplicable, Pair
from axiomtests.text import appended, shares_query_term, term_count
from axiomtests.tokens import Encoding, checked_count, encode, filler_token, pieces
from axiomtests.wordlists import is_inflection, lexically_related
from circuits.errors import DatasetError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


def pair_problems(pair: Pair, tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Everything wrong with ``pair`` (empty when valid): texts, token lengths, the token-level diff
    between baseline and perturbed input, and exact term counts, as the pair's axiom requires."""
    problems: list[str] = []
    f = pair.filler
    if pair.axiom not in AXIOMS:
        return [f"unknown axiom {pair.axiom!r}"]
    try:
        token, token_id = filler_token(tokenizer, f.text)
    except ValueError as exc:
        return [str(exc)]
    if (token, token_id) != (f.token, f.token_id):
        problems.append(f"filler {f.text!r} is token {token!r} ({token_id}) here, recorded {f.token!r} ({f.token_id})")
    padded = pair.perturbed if pair.axiom == "FILLER" else pair.baseline
    unpadded = pair.baseline if pair.axiom == "FILLER" else pair.document
    if padded != unpadded + f.text * f.count or unpadded != pair.document:
        problems.append("the padded text is not the document followed by the recorded fillers")
    doc = encode(tokenizer, pair.query, pair.document)
    b = encode(tokenizer, pair.query, pair.baseline)
    p = encode(tokenizer, pair.query, pair.perturbed)
    if (len(b.ids), len(p.ids)) != (pair.baseline_len, pair.perturbed_len):
        problems.append(f"token lengths are {len(b.ids)}/{len(p.ids)}, "
                        f"recorded {pair.baseline_len}/{pair.perturbed_len}")
    if max(len(b.ids), len(p.ids)) > tokenizer.model_max_length:
        problems.append(f"the input exceeds the tokenizer's {tokenizer.model_max_length} tokens")
    end = len(doc.ids) - 1  # index of the unpadded input's final separator
    fill_ids = (p if pair.axiom == "FILLER" else b).ids[end: end + f.count]
    if f.count and (f.position != end or fill_ids != [f.token_id] * f.count):
        problems.append(f"fillers are not the {f.count} tokens at position {end} (recorded {f.position})")
    if not f.count and f.position != -1:
        problems.append("a pair without fillers must record position -1")
    if pair.axiom == "FILLER":
        if p.ids[:end] != b.ids[:end] or p.ids[end + f.count:] != b.ids[end:]:
            problems.append("the control differs from its document by more than the fillers")
        return problems
    if len(b.ids) != len(p.ids):
        problems.append(f"baseline has {len(b.ids)} tokens, perturbed {len(p.ids)}: not aligned")
        return problems
    diff = [i for i, (x, y) in enumerate(zip(b.ids, p.ids)) if x != y]
    if not diff:
        problems.append("baseline and perturbed inputs are identical")
    elif any(p.segments[i] != 1 for i in diff):
        problems.append("the inputs differ outside the document segment")
    if pair.axiom in ("TFC1", "STMC1", "LNC1"):
        problems += _append_problems(pair, tokenizer, b, p, end, diff)
    else:
        problems += _tfc2_problems(pair, tokenizer, b, p, diff)
    return problems


def _append_problems(pair: Pair, tokenizer: PreTrainedTokenizerBase, b: Encoding, p: Encoding, end: int,
                     diff: list[int]) -> list[str]:
    problems = []
    if pair.perturbed != appended(pair.document, pair.inserted):
        problems.append("perturbed is not the document with the inserted text appended")
    if p.ids[:end] != b.ids[:end] or any(i < end or i >= end + pair.filler.count for i in diff):
        problems.append("the token diff is not confined to the appended span before the final separator")
    if p.ids[end: end + pair.filler.count] != pieces(tokenizer, pair.inserted):
        problems.append("the appended tokens are not the inserted text's tokens")
    if pair.axiom == "LNC1":
        if shares_query_term(pair.query, pair.inserted):
            problems.append("the appended sentence contains a query term (after light stemming)")
        if pair.level_perturbed != pair.level_baseline + 1:
            problems.append("LNC1 levels must differ by one sentence")
        return problems
    try:
        tfs = (checked_count(tokenizer, pair.query, pair.document, pair.term),
               checked_count(tokenizer, pair.query, pair.perturbed, pair.term))
    except NotApplicable as exc:
        return [*problems, str(exc)]
    if pair.axiom == "TFC1":
        want = (tfs[0], tfs[0] + 1)
        stratum = "0->1" if tfs[0] == 0 else "k->k+1"
        if pair.inserted != pair.term:
            problems.append("TFC1 must append the term itself")
        levels = tfs
    else:
        want = (tfs[0], tfs[0])
        stratum = "tf=0" if tfs[0] == 0 else "tf>=1"
        if is_inflection(pair.inserted, pair.term) or lexically_related(pair.inserted, pair.term):
            problems.append(f"STMC1 synonym {pair.inserted!r} is the term {pair.term!r} or shares its stem")
        levels = (term_count(pair.document, pair.inserted), term_count(pair.perturbed, pair.inserted))
    if tfs != want or tfs != (pair.tf_baseline, pair.tf_perturbed):
        problems.append(f"term counts are {tfs}, recorded {(pair.tf_baseline, pair.tf_perturbed)}, required {want}")
    if pair.stratum != stratum:
        problems.append(f"stratum is {pair.stratum!r}, the counts say {stratum!r}")
    if levels != (pair.level_baseline, pair.level_perturbed) or levels[1] != levels[0] + 1:
        problems.append(f"levels are {levels}, recorded {(pair.level_baseline, pair.level_perturbed)}")
    return problems


def _tfc2_problems(pair: Pair, tokenizer: PreTrainedTokenizerBase, b: Encoding, p: Encoding,
                   diff: list[int]) -> list[str]:
    problems = []
    k = pair.level_baseline
    try:
        tfs = (checked_count(tokenizer, pair.query, pair.baseline, pair.term),
               checked_count(tokenizer, pair.query, pair.perturbed, pair.term))
    except NotApplicable as exc:
        return [str(exc)]
    if not (tfs == (k, k + 1) == (pair.tf_baseline, pair.tf_perturbed) == (pair.level_baseline, pair.level_perturbed)):
        problems.append(f"term counts are {tfs}, recorded {(pair.tf_baseline, pair.tf_perturbed)}, "
                        f"required {(k, k + 1)}")
    if pair.stratum != f"{pair.variant}:{k}->{k + 1}":
        problems.append(f"stratum {pair.stratum!r} does not match variant {pair.variant!r} and k={k}")
    if not diff or diff != list(range(diff[0], diff[-1] + 1)):
        return [*problems, "the token diff is not one contiguous span"]
    start, stop = b.offsets[diff[0]][0], b.offsets[diff[-1]][1]
    # a SentencePiece or byte-level BPE token's offsets include the space before its word
    was = pair.baseline[start:stop].strip().lower()
    now = pair.perturbed[p.offsets[diff[0]][0]: p.offsets[diff[-1]][1]].strip().lower()
    expected = pair.details.get("pronoun") if pair.variant == "pronoun" else pair.filler.text.strip()
    if (was, now) != (expected, pair.term):
        problems.append(f"the token diff turns {was!r} into {now!r}, not {expected!r} into {pair.term!r}")
    return problems


def validate_pair(pair: Pair, tokenizer: PreTrainedTokenizerBase) -> None:
    """Raise :class:`~circuits.errors.DatasetError` listing every problem of ``pair`` (see :func:`pair_problems`)."""
    problems = pair_problems(pair, tokenizer)
    if problems:
        raise DatasetError(f"pair {pair.id} is invalid: " + "; ".join(problems)
                           + ". Rebuild the dataset with axiomtests.diagnostics.build_datasets.")
