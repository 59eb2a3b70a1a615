"""Why a comment got a moderation flag: the words of the original text that push the flag's linear head up.

Every head is linear on the feature row x of a comment (training/runtime/linear_heads.py), so its log-odds are
b + Σ_j w_j·x_j and each feature's share w_j·x_j is exact. Most features are made from words of the
normalised text, whose characters remember where they came from (`normalize_with_offsets`):

- lemma n-grams (the words block): a unigram belongs to its token, a bigram is split between its two tokens;
- char_wb n-grams: to the token(s) under their characters;
- the rude-word block (text/insults.py) and the мат lexicon block: the whole block's share goes to the words
  that fire it (without them the block is all zeros);
- mean word vectors: w·x = Σ_k weight·(w·v_k) / (n·‖mean‖) over the n known words, an exact split for the
  comment's own norm.

A token's weight is the sum of its shares (positive and negative), in log-odds units of the flag's head; only
tokens with a positive sum are evidence. Neighbouring positive tokens joined by a positive feature (a bigram,
an n-gram across them) merge into one phrase; phrases are ranked by weight and at most EVIDENCE_MAX_SPANS are
kept (evidence_spans.py): the strongest one, and those weighing at least EVIDENCE_MIN_WEIGHT and
EVIDENCE_MIN_SHARE of it (an insult repeated 300 times shares its weight between its copies: each weighs
little, the first is still shown).

Every block of the shipped pipeline maps to words, so the tokens' shares add up to x·w exactly (a test checks
it); a block of another kind would be left out. On the flagged comments of data/comments.csv the phrases kept
sum to a median 92% (disrespect) and 98% (insult) of x·w, and masking the top phrase lowers the flag's score
for 99% of them: the shares are first order (without the phrase, TF-IDF rows are renormalised and the mean
vector changes), so a comment whose other words carry it may keep its score.

Only the comments that carry a flag pay for this, and the flagged comments of a batch are explained together
(one offset-keeping normalisation each, then numpy passes over all of them): the rest of a batch costs nothing
more than before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from training.runtime.evidence_spans import top_phrases
from training.runtime.text import char_ngrams, word_vectors
from training.runtime.text.char_ngrams import FastCharNgramTfidf
from training.runtime.text.insults import RUDE_WORDS, RudeWordFeatures
from training.runtime.text.lemmatize import TOKEN_RE, Lemmatizer
from training.runtime.text.profanity import ProfanityFeatures, ProfanityLexicon

# Attributions, over the tokens of all the comments explained together (token ranges are [first, end)):
Occurrences = tuple[np.ndarray, np.ndarray, np.ndarray]  # feature columns, first token, end token
Shares = tuple[np.ndarray, np.ndarray, np.ndarray]  # first token, end token, share per flag (rows × flags)
Row = tuple[np.ndarray, np.ndarray]  # one comment's feature row: column indices, values
Item = tuple[str, str, list[int], Row, Sequence[str]]  # text, normalised text, offsets, row, flags to explain


@dataclass(frozen=True)
class _Block:
    kind: str  # "words" | "chars" | "rude" | "lexicon" | "vectors" | "other"
    start: int  # first column of the block in the feature row
    width: int
    step: Any


def _head_direction(head: Any) -> float | None:
    """+1/-x: how the head's decision column moves its own log-odds; None for heads that are not one column."""
    if head.width != 1:
        return None
    if head.kind == "logistic":
        return 1.0
    if head.kind == "sigmoid_calibrated":
        return float(-head.cal_a[0])  # p = expit(-(a·d + b)): log-odds = -a·d - b
    return None


def _block_kind(step: Any) -> str:
    if isinstance(step, Pipeline):
        kinds = [type(s) for _, s in step.steps]
        last = step.steps[-1][1]
        if kinds[:-1] == [Lemmatizer] and isinstance(last, TfidfVectorizer) and last.analyzer == "word":
            return "words"
        return "other"
    if isinstance(step, TfidfVectorizer) and step.analyzer == "char_wb":
        return "chars"
    if isinstance(step, RudeWordFeatures):
        return "rude"
    if isinstance(step, ProfanityFeatures):
        return "lexicon"
    if isinstance(step, word_vectors.NavecMeanVectors):
        return "vectors"
    return "other"


class _Batch:
    """Comments explained together: their normalised texts joined by single spaces, and their tokens in it."""

    def __init__(self, normalized: Sequence[str]):
        self.normalized = list(normalized)
        self.tokens = [[(m.start(), m.end(), m.group(0)) for m in TOKEN_RE.finditer(n)] for n in self.normalized]
        lengths = np.fromiter((len(n) + 1 for n in self.normalized), dtype=np.int64, count=len(self.normalized))
        self.char_base = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        counts = np.fromiter((len(t) for t in self.tokens), dtype=np.int64, count=len(self.tokens))
        self.token_base = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)  # comment i: [base[i], base[i+1])
        flat = [
            (s + int(cb), e + int(cb)) for toks, cb in zip(self.tokens, self.char_base, strict=True) for s, e, _ in toks
        ]
        self.starts = np.fromiter((s for s, _ in flat), dtype=np.int64, count=len(flat))
        self.ends = np.fromiter((e for _, e in flat), dtype=np.int64, count=len(flat))
        self.comment_of_token = np.repeat(np.arange(len(counts)), counts)

    def units(self, a: Any, b: Any) -> tuple[Any, Any]:
        """The tokens under joined-text characters [a, b) (numbers or arrays), as a range."""
        return np.searchsorted(self.ends, a, side="right"), np.searchsorted(self.starts, b, side="left")

    def fallback(self, u0: Any, u1: Any, wlo: Any, whi: Any, first_token: Any) -> tuple[Any, Any]:
        """An n-gram on punctuation or padding only goes to the nearest token of its word, or (a word without
        tokens, "!!!") to the token before it in its comment, else the comment's first."""
        nearest = np.where(whi > wlo, np.minimum(np.maximum(u0, wlo), whi - 1), np.maximum(wlo - 1, first_token))
        empty = u1 <= u0
        u0 = np.where(empty, nearest, u0)
        return u0, np.where(empty, u0 + 1, u1)


class LinearEvidence:
    """Maps feature rows back to phrases of the text, for the flags whose head is one linear column.

    Built once per model from the fitted pipeline (each block's width is read by transforming an empty text).
    """

    def __init__(self, pipeline: Pipeline, flags: Sequence[str]):
        compiled = pipeline.steps[-1][1].compiled_
        self.flags: list[str] = []
        columns, directions = [], []
        for flag in flags:
            head = compiled.heads.get(flag)
            direction = _head_direction(head) if head is not None else None
            if direction is not None:
                self.flags.append(flag)
                columns.append(head.start)
                directions.append(direction)
        # Effective log-odds weights, features × flags.
        self.weights = np.ascontiguousarray(compiled.W[:, columns] * np.asarray(directions), dtype=np.float64)
        union = pipeline.named_steps["features"]
        assert isinstance(union, FeatureUnion)
        self.blocks: list[_Block] = []
        start = 0
        for _, step in union.transformer_list:
            width = int(step.transform(np.array([""], dtype=object)).shape[1])  # once per model: the slow path is fine
            self.blocks.append(_Block(_block_kind(step), start, width, step))
            start += width
        self.lexicon = ProfanityLexicon()

    def explain_many(self, items: Sequence[Item]) -> list[list[dict[str, Any]]]:
        """Evidence items for each (text, normalised text, offsets, row, flags): `normalized`/`offsets` are what
        `normalize_with_offsets(text)` returned, `row` the comment's feature row, `flags` ⊆ self.flags."""
        out: list[list[dict[str, Any]]] = [[] for _ in items]
        todo = [i for i, item in enumerate(items) if item[4] and TOKEN_RE.search(item[1])]
        if not todo:
            return out
        batch, contrib, links = self._contributions([items[i][1] for i in todo], [items[i][3] for i in todo])
        shares, joins = contrib.T.tolist(), links.T.tolist()
        for k, i in enumerate(todo):
            text, _, offsets, _, flags = items[i]
            a, b = int(batch.token_base[k]), int(batch.token_base[k + 1])
            for flag in flags:
                f = self.flags.index(flag)
                out[i] += top_phrases(text, batch.tokens[k], offsets, shares[f][a:b], joins[f][a:b], flag)
        return out

    def explain(self, text: str, normalized: str, offsets: list[int], row: Row, flags: Sequence[str]) -> list[dict]:
        """`explain_many` for one comment."""
        return self.explain_many([(text, normalized, offsets, row, flags)])[0]

    def contributions(
        self, normalized: str, row: Row, *, packed: bool = True
    ) -> tuple[list[tuple[int, int, str]], np.ndarray, np.ndarray]:
        """One comment's tokens (start, end, token in the normalised text), each token's share of every flag's
        log-odds (tokens × self.flags) and the links (links[k]: tokens k and k+1 joined by a positive feature).

        Complete for the blocks it maps: summed over the tokens, the shares give x·w of those blocks.
        `packed=False` finds the char n-grams by string lookups (what the packed path must equal)."""
        if not TOKEN_RE.search(normalized):
            empty = np.zeros((0, self.weights.shape[1]))
            return [], empty, empty.astype(bool)
        batch, contrib, links = self._contributions([normalized], [row], packed=packed)
        return batch.tokens[0], contrib, links

    def _contributions(
        self, normalized: Sequence[str], rows: Sequence[Row], *, packed: bool = True
    ) -> tuple[_Batch, np.ndarray, np.ndarray]:
        batch = _Batch(normalized)
        occ: list[Occurrences] = []  # columns whose x·w is shared between their occurrences
        direct: list[Shares] = []  # shares computed here
        for block in self.blocks:
            if block.kind == "words":
                occ.append(self._word_occurrences(block, batch))
            elif block.kind == "chars":
                fast = packed and isinstance(block.step, FastCharNgramTfidf) and block.step._fast()
                occ.append(
                    self._char_occurrences_packed(block, batch) if fast else self._char_occurrences(block, batch)
                )
            elif block.kind in ("rude", "lexicon"):
                direct.extend(self._trigger_shares(block, batch, rows))
            elif block.kind == "vectors":
                direct.extend(self._vector_shares(block, batch))
        contrib, links = self._accumulate(batch, occ, direct, rows)
        return batch, contrib, links

    @staticmethod
    def _word_occurrences(block: _Block, batch: _Batch) -> Occurrences:
        """Lemma n-grams: the lemmatiser's tokens are TOKEN_RE's, each lemma may hold several pieces."""
        lemmatizer, vectorizer = block.step.steps[0][1], block.step.steps[-1][1]
        vocabulary = vectorizer.vocabulary_
        lo, hi = vectorizer.ngram_range
        cols, first, last = [], [], []
        for tokens, base in zip(batch.tokens, batch.token_base.tolist(), strict=False):
            pieces, owner = [], []
            for k, (_, _, token) in enumerate(tokens, start=base):
                for piece in lemmatizer.lemma(token).split():
                    pieces.append(piece)
                    owner.append(k)
            for n in range(lo, hi + 1):
                for i in range(len(pieces) - n + 1):
                    col = vocabulary.get(pieces[i] if n == 1 else " ".join(pieces[i : i + n]))
                    if col is not None:
                        cols.append(block.start + col)
                        first.append(owner[i])
                        last.append(owner[i + n - 1] + 1)
        return np.asarray(cols, dtype=np.int64), np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64)

    @staticmethod
    def _char_occurrences(block: _Block, batch: _Batch) -> Occurrences:
        """scikit-learn's char_wb n-grams (each word padded by a space on each side), by string lookups."""
        vocabulary = block.step.vocabulary_
        lo_n, hi_n = block.step.ngram_range
        cols, first, last = [], [], []
        for k, normalized in enumerate(batch.normalized):
            pos = int(batch.char_base[k])
            for word in normalized.split(" "):
                ws, pos = pos, pos + len(word) + 1
                wlo, whi = batch.units(ws, ws + len(word))
                padded = f" {word} "
                for n in range(lo_n, hi_n + 1):
                    offset = 0
                    while True:
                        col = vocabulary.get(padded[offset : offset + n])
                        if col is not None:
                            u0, u1 = batch.units(ws + max(0, offset - 1), ws + min(len(word), offset - 1 + n))
                            u0, u1 = batch.fallback(u0, u1, wlo, whi, batch.token_base[k])
                            cols.append(block.start + col)
                            first.append(int(u0))
                            last.append(int(u1))
                        if offset + n >= len(padded):
                            break
                        offset += 1
                    if offset == 0:  # the padded word is not longer than n: counted once, as scikit-learn does
                        break
        return np.asarray(cols, dtype=np.int64), np.asarray(first, dtype=np.int64), np.asarray(last, dtype=np.int64)

    @staticmethod
    def _char_occurrences_packed(block: _Block, batch: _Batch) -> Occurrences:
        """`_char_occurrences` with the vectoriser's own packed n-gram keys (text/char_ngrams.py `_counts`):
        the same n-grams, with their positions, in a few numpy passes over every comment at once."""
        step = block.step
        words = " ".join(batch.normalized).replace("\x00", "\uffff").split(" ")
        lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
        word_start = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])  # in the joined text
        piece_start = np.concatenate([[0], np.cumsum(lengths + 3)[:-1]])  # " word " + separator, per word
        codes = np.frombuffer(("\x00".join(f" {w} " for w in words) + "\x00").encode("utf-32-le"), dtype=np.uint32)
        lut = step._lookup_table()
        if codes.max() < len(lut):
            ids = lut[codes]
        else:
            ids = np.full(len(codes), char_ngrams._UNKNOWN, dtype=np.uint64)
            inside = codes < len(lut)
            ids[inside] = lut[codes[inside]]
        ids[codes == 0] = char_ngrams._SEP
        bad = np.concatenate([[0], np.cumsum((ids == char_ngrams._SEP) | (ids == char_ngrams._UNKNOWN))])
        lo_n, hi_n = step.ngram_range
        keys = []  # per n, the key of the n-gram at every position; 0 (no key) where it holds a separator
        rolling = np.zeros(len(ids), dtype=np.uint64)  # the n characters from each position, packed
        for n in range(1, hi_n + 1):
            m = len(ids) - n + 1
            if m <= 0:
                break
            rolling = (rolling[:m] << np.uint64(char_ngrams._BITS)) | ids[n - 1 : n - 1 + m]
            if n >= lo_n:
                keys.append(np.where(bad[n : n + m] == bad[:m], rolling | (np.uint64(n) << np.uint64(60)), 0))
        block_start = np.concatenate([[0], np.cumsum([len(k) for k in keys])])
        key = np.concatenate(keys)
        pos = np.searchsorted(step.keys_, key)
        pos[pos == len(step.keys_)] = 0
        hit = np.flatnonzero(step.keys_[pos] == key)
        cols = step.cols_[pos[hit]] + block.start
        n_index = np.searchsorted(block_start, hit, side="right") - 1
        q, size = hit - block_start[n_index], n_index + lo_n
        w = np.searchsorted(piece_start, q, side="right") - 1
        offset = q - piece_start[w] - 1  # where the n-gram starts in its word (-1: on the padding)
        u0, u1 = batch.units(
            word_start[w] + np.maximum(offset, 0), word_start[w] + np.minimum(offset + size, lengths[w])
        )
        wlo, whi = batch.units(word_start, word_start + lengths)
        comment = np.searchsorted(batch.char_base, word_start, side="right") - 1
        u0, u1 = batch.fallback(u0, u1, wlo[w], whi[w], batch.token_base[comment][w])
        return cols.astype(np.int64), u0.astype(np.int64), u1.astype(np.int64)

    def _trigger_shares(self, block: _Block, batch: _Batch, rows: Sequence[Row]) -> list[Shares]:
        """The rude-word and мат blocks: x·w of the whole block, split between the words that fire it."""
        out = []
        for k, (indices, data) in enumerate(rows):
            in_block = (indices >= block.start) & (indices < block.start + block.width)
            if not in_block.any():
                continue
            normalized = batch.normalized[k]
            if block.kind == "lexicon":
                spans = self.lexicon.find_in_normalized(normalized)
            else:
                spans = [(m.start(), m.end()) for m in RUDE_WORDS.finditer(normalized)]
            if spans:
                u0, u1 = batch.units(*(np.asarray(spans, dtype=np.int64).T + batch.char_base[k]))
                total = data[in_block].astype(np.float64) @ self.weights[indices[in_block]]
                out.append((u0, u1, np.tile(total / len(spans), (len(spans), 1))))
        return out

    def _vector_shares(self, block: _Block, batch: _Batch) -> list[Shares]:
        """w·x of the mean-vector block split exactly between each comment's known words (module docstring)."""
        found = [
            (m.start() + int(cb), m.end() + int(cb), k, v)
            for k, (normalized, cb) in enumerate(zip(batch.normalized, batch.char_base, strict=True))
            for m in word_vectors._TOKEN.finditer(normalized)
            if (v := word_vectors._word_vector(m.group(0))) is not None
        ]
        if not found:
            return []
        vecs = np.asarray([f[3] for f in found], dtype=np.float64)
        comment = np.fromiter((f[2] for f in found), dtype=np.int64, count=len(found))
        counts = np.bincount(comment, minlength=len(batch.normalized))
        sums = np.zeros((len(counts), vecs.shape[1]))
        present = np.flatnonzero(counts)
        sums[present] = np.add.reduceat(vecs, (np.cumsum(counts) - counts)[present])
        norms = np.linalg.norm(sums / np.maximum(counts, 1)[:, None], axis=1)
        scale = np.divide(block.step.weight, counts * norms, out=np.zeros(len(counts)), where=norms > 0)
        shares = vecs @ self.weights[block.start : block.start + block.width] * scale[comment][:, None]
        u0, u1 = batch.units([f[0] for f in found], [f[1] for f in found])
        return [(u0, u1, shares)]

    def _accumulate(
        self, batch: _Batch, occ: list[Occurrences], direct: list[Shares], rows: Sequence[Row]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per token and flag, the sum of its shares; and which neighbours a positive feature joins."""
        width = self.weights.shape[0]
        cols = np.concatenate([o[0] for o in occ]).astype(np.int64) if occ else np.zeros(0, dtype=np.int64)
        first = np.concatenate([o[1] for o in occ]).astype(np.int64) if occ else np.zeros(0, dtype=np.int64)
        # x of an occurrence: its comment's value of its column, looked up by (comment, column).
        key = batch.comment_of_token[first] * width + cols
        row_keys = np.concatenate([k * width + r[0].astype(np.int64) for k, r in enumerate(rows)])
        row_data = np.concatenate([r[1] for r in rows]).astype(np.float64)
        order = np.argsort(row_keys)
        row_keys, row_data = row_keys[order], row_data[order]
        where = np.searchsorted(row_keys, key).clip(max=max(len(row_keys) - 1, 0))
        x = np.where(row_keys[where] == key, row_data[where], 0.0) if len(row_keys) else np.zeros(len(key))
        # An n-gram seen k times in a comment holds w·x once: each occurrence gets 1/k of it.
        _, inverse, seen = np.unique(key, return_inverse=True, return_counts=True)
        share = self.weights[cols] * (x / seen[inverse])[:, None]
        first = np.concatenate([first, *(d[0] for d in direct)]).astype(np.int64)
        last = np.concatenate([*(o[2] for o in occ), *(d[1] for d in direct)]).astype(np.int64)
        share = np.vstack([share, *(d[2] for d in direct)])
        span = last - first
        token, part = first[span == 1], share[span == 1]
        multi = np.flatnonzero(span > 1)
        if len(multi):  # a range of several tokens: split equally between them
            w = span[multi]
            rep = np.repeat(multi, w)
            token = np.concatenate([token, first[rep] + np.arange(len(rep)) - np.repeat(np.cumsum(w) - w, w)])
            part = np.vstack([part, share[rep] / span[rep, None]])
        n_tokens = len(batch.starts)
        contrib = np.column_stack(
            [np.bincount(token, weights=part[:, f], minlength=n_tokens) for f in range(part.shape[1])]
        )
        links = np.zeros(contrib.shape, dtype=bool)
        pair = np.flatnonzero(span == 2)
        for f in range(contrib.shape[1]):
            links[first[pair[share[pair, f] > 0]], f] = True
        return contrib, links
