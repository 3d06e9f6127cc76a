"""What the benchmarks share: a scratch PostgreSQL database of their own, emptied."""
import sys

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def prepare_postgres(url):
    """Create the named database if missing and empty its public schema; refuses the shared
    names (test, postgres) so a benchmark never wipes the CI's or the server's own database."""
    url = make_url(url)
    if url.database in (None, "", "test", "postgres"):
        sys.exit(f"refusing to wipe database {url.database!r}: name a database of its own, e.g. /bench")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}) is None:
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url.render_as_string(hide_password=False)
