"""Documents (机构编制文件库) and what each one grounds (units, cases, chronicle entries)."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import clock
from ..extensions import db

KINDS = ("批复", "三定规定", "通知", "会议纪要", "其他")


class Document(db.Model):
    """One registered document, unique by its number (文号). `search_text` is what the full-text
    index covers (number, title, issuer, body, linked unit names), written by
    `operations.refresh_search_text` as CJK bigrams; see the hand-written migration."""
    __tablename__ = "documents"
    __table_args__ = (CheckConstraint("kind in ('批复', '三定规定', '通知', '会议纪要', '其他')", name="kind_known"),
                      CheckConstraint("(pdf_sha256 IS NULL) = (pdf_size IS NULL)", name="pdf_sha_with_size"))
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)  # 文号, e.g. 柯编〔2024〕12号
    title: Mapped[str] = mapped_column(String(200))
    issued_on: Mapped[date] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(8), default="批复")
    issuer: Mapped[str | None] = mapped_column(String(128))  # 发文机关
    body_text: Mapped[str] = mapped_column(Text, default="")
    search_text: Mapped[str] = mapped_column(Text, default="", deferred=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_size: Mapped[int | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    created_by = relationship("User")
    links = relationship("DocumentLink", back_populates="document", order_by="DocumentLink.id",
                         cascade="all, delete-orphan")


class DocumentLink(db.Model):
    """What a document grounds: a unit, a case, a chronicle entry (one or more per row). A link to a
    case or chronicle entry also carries that unit, so unit scope is one column."""
    __tablename__ = "document_links"
    __table_args__ = (Index("ix_document_links_unit_document", "unit_id", "document_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    chronicle_id: Mapped[int | None] = mapped_column(ForeignKey("chronicle.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    document = relationship("Document", back_populates="links")
    unit = relationship("Unit")
    chronicle_entry = relationship("ChronicleEntry")
    case = relationship("Case")


def include_object(obj, name, type_, reflected, compare_to):
    """Alembic's autogenerate filter: leave out what the hand-written full-text revision owns and
    the models do not describe (the FTS5 table and its shadow tables on SQLite, the generated
    tsvector column and its index on PostgreSQL), so `flask db migrate` never proposes to drop them."""
    if type_ == "table" and name.startswith("documents_fts"):
        return False
    if reflected and compare_to is None and name in ("search_vector", "ix_documents_search_vector"):
        return False
    return True
