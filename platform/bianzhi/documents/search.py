"""Searching the documents library: full text (see text.py), unit, kind; scoped to the user."""
from dataclasses import dataclass

from sqlalchemy import Integer, column, exists, func, literal_column, or_, select, text

from ..extensions import db
from .models import Document, DocumentLink
from .operations import visible
from .text import Query, highlight_spans

PER_PAGE = 20
# PostgreSQL only: the stored to_tsvector('simple', search_text) the migration adds beside the model
SEARCH_VECTOR = literal_column("documents.search_vector")


@dataclass
class Hit:
    document: Document
    title: list  # (piece, is_match) spans
    snippet: list


@dataclass
class Results:
    hits: list
    total: int
    page: int
    pages: int
    query: Query


def _full_text(stmt, query):
    dialect = db.session.get_bind().dialect.name
    if query.indexed and dialect == "sqlite":
        ids = text("SELECT rowid FROM documents_fts WHERE documents_fts MATCH :fts").bindparams(fts=query.fts5())
        stmt = stmt.where(Document.id.in_(ids.columns(column("rowid", Integer))))
    elif query.indexed and dialect == "postgresql":
        stmt = stmt.where(SEARCH_VECTOR.bool_op("@@")(func.to_tsquery("simple", query.tsquery())))
    elif query.indexed:  # any other database: the same bigram phrases by substring
        for phrase in query.phrases:
            stmt = stmt.where(Document.search_text.contains(" ".join(phrase), autoescape=True))
        for word in query.prefixes:
            stmt = stmt.where(Document.search_text.contains(word, autoescape=True))
    for char in query.singles:  # one Chinese character is no word: look in numbers and titles only
        stmt = stmt.where(or_(Document.number.contains(char, autoescape=True),
                              Document.title.contains(char, autoescape=True)))
    return stmt


def search(user, q="", unit_id=None, kind=None, page=1, per_page=PER_PAGE):
    query = Query(q)
    stmt = visible(user, select(Document.id))
    if unit_id:
        stmt = stmt.where(exists().where(DocumentLink.document_id == Document.id, DocumentLink.unit_id == unit_id))
    if kind:
        stmt = stmt.where(Document.kind == kind)
    if not query.empty:
        stmt = _full_text(stmt, query)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    ids = db.session.scalars(stmt.order_by(Document.issued_on.desc(), Document.id.desc())
                             .limit(per_page).offset((page - 1) * per_page)).all()
    documents = {d.id: d for d in db.session.scalars(select(Document).where(Document.id.in_(ids)))} if ids else {}
    terms = query.terms
    hits = [Hit(documents[i], highlight_spans(documents[i].title, terms),
                highlight_spans(documents[i].body_text, terms, limit=120) if terms else [])
            for i in ids]
    return Results(hits, total, page, pages, query)
