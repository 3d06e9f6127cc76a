from datetime import date
from sqlalchemy import text, select
from bianzhi.extensions import db
from bianzhi.accounts.models import User
from bianzhi.ledger.models import Unit
from bianzhi.documents import operations as docs

def test_smoke(ctx):
    admin = db.session.scalar(select(User).where(User.username == "reviewer1"))
    unit = db.session.scalars(select(Unit)).first()
    d = docs.register(admin, "柯编[2024]12号", "关于同意机构编制事项的批复", date(2024, 3, 1), unit_ids=[unit.id], body_text="核定事业编制20名")
    d2 = docs.register(admin, "柯编〔2024〕12号", "x", "2024-01-01", unit_ids=[unit.id])
    assert d2 is d and d.number == "柯编〔2024〕12号"
    db.session.commit()
    print(d.search_text)
    if db.engine.dialect.name == "sqlite":
        print(db.session.execute(text("select rowid from documents_fts where documents_fts match :q"), {"q": '"编制"'}).all())
    else:
        print(db.session.execute(text("select id from documents where to_tsvector('simple', search_text) @@ to_tsquery('simple', :q)"), {"q": "'编制'"}).all())
    assert len(d.links) == 1
