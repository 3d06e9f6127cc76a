"""Full-text search for Chinese on SQLite and PostgreSQL alike.

Chinese has no spaces between words, and the words people search for are mostly two characters
(编制, 批复, 三定). Neither database tokenises Chinese by itself, and the obvious fixes both miss
exactly those: FTS5's trigram tokenizer cannot use its index for fewer than 3 characters, and
pg_trgm extracts no trigrams from a 2-character pattern (and none from CJK at all under the C
locale). So we index *bigrams*: every run of Chinese characters is written as its overlapping
character pairs ("机构编制" → "机构 构编 编制"), Latin letters and digits as whole lowercase words.
Then a plain word index finds any Chinese string of 2 or more characters as a phrase of bigrams —
FTS5 with the unicode61 tokenizer on SQLite, a GIN index on a stored to_tsvector('simple', …) on
PostgreSQL — and both databases give the same answers. One Chinese character alone is no word: it
is looked for in numbers and titles only (a substring scan of those short columns)."""
import re
import unicodedata

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{CJK}]+|[0-9a-z]+")
_CJK_RUN = re.compile(rf"[{CJK}]+")


def _runs(text):
    return _RUNS.findall(unicodedata.normalize("NFKC", text or "").lower())


def _bigrams(run):
    return [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]


def index_text(text):
    """The text as the index stores it: CJK runs as overlapping bigrams, other words whole."""
    tokens = []
    for run in _runs(text):
        tokens.extend(_bigrams(run) if _CJK_RUN.fullmatch(run) else [run])
    return " ".join(tokens)


class Query:
    """A search string parsed once: `phrases` are lists of index tokens that must appear in order
    (every one must match: AND); `prefixes` are Latin/digit words matched as prefixes; `singles`
    are lone Chinese characters, matched by substring; `terms` are what the highlighter marks."""

    def __init__(self, q):
        self.terms = [t for t in re.split(r"\s+", unicodedata.normalize("NFKC", q or "").strip()) if t][:10]
        self.phrases, self.prefixes, self.singles = [], [], []
        for run in _runs(" ".join(self.terms)):
            if not _CJK_RUN.fullmatch(run):
                self.prefixes.append(run)
            elif len(run) == 1:
                self.singles.append(run)
            else:
                self.phrases.append(_bigrams(run))

    @property
    def empty(self):
        return not (self.phrases or self.prefixes or self.singles)

    @property
    def indexed(self):
        return bool(self.phrases or self.prefixes)

    def fts5(self):
        """FTS5 MATCH syntax: "机构 构编 编制" AND "2024"* …"""
        parts = ['"' + " ".join(p) + '"' for p in self.phrases] + [f'"{w}"*' for w in self.prefixes]
        return " AND ".join(parts)

    def tsquery(self):
        """PostgreSQL to_tsquery('simple', …) syntax: '机构' <-> '构编' <-> '编制' & '2024':* …"""
        parts = ["(" + " <-> ".join(f"'{t}'" for t in p) + ")" for p in self.phrases]
        parts += [f"'{w}':*" for w in self.prefixes]
        return " & ".join(parts)


def highlight_spans(text, terms, limit=None):
    """Split `text` into (piece, is_match) pairs marking every term (case-insensitive), for the
    template to escape and wrap in <mark>; with `limit`, a window of the text around the first match."""
    text = text or ""
    needles = sorted({t for t in terms if t}, key=len, reverse=True)
    if limit is not None and len(text) > limit:
        lowered = text.lower()
        hits = [lowered.find(n.lower()) for n in needles]
        first = min([h for h in hits if h >= 0], default=0)
        start = max(0, first - limit // 3)
        text = ("…" if start else "") + text[start:start + limit] + ("…" if start + limit < len(text) else "")
    if not needles:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    spans, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            spans.append((text[pos:m.start()], False))
        spans.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        spans.append((text[pos:], False))
    return spans
