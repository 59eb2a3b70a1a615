"""R6: every distinct string the мат lexicon matches across the real sets, with counts per set.

The output is a TSV of matched words (never whole comments) for a person to read: the frequent ones
that are innocent become test cases in tests/training/test_profanity.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from tqdm.auto import tqdm

from training.datasets import real_sets as rs
from training.runtime.text.profanity import ProfanityLexicon


def audit_counts(texts_by_set: dict[str, list[str]], progress: bool = True) -> dict[str, Counter]:
    """normalised match -> Counter(set name -> hits)."""
    lexicon = ProfanityLexicon()
    found: dict[str, Counter] = defaultdict(Counter)
    for name, texts in texts_by_set.items():
        for text in tqdm(texts, desc=f"lexicon on {name}", disable=not progress, leave=False):
            for span in lexicon.find(text):
                found[span.normalized][name] += 1
    return found


def run_lexicon_audit(datasets_dir: Path | None, out: Path, progress: bool = True) -> str:
    root = Path(datasets_dir) if datasets_dir else rs.DEFAULT_DATASETS_DIR
    texts = rs.all_real_texts(root)
    if not texts:
        raise FileNotFoundError(f"no real set found under {root}")
    found = audit_counts(texts, progress)
    names = list(texts)
    ordered = sorted(found.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        f.write("\t".join(["match", "total", *names]) + "\n")
        for word, c in ordered:
            f.write("\t".join([word, str(sum(c.values())), *(str(c[n]) for n in names)]) + "\n")
    sizes = ", ".join(f"{n} {len(t)}" for n, t in texts.items())
    return f"{len(found)} distinct matches in {sum(map(len, texts.values()))} texts ({sizes}); written to {out}"
