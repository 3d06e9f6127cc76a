"""Backup and restore: a consistent, checksummed archive of every table (uploads and deployed
process versions live in the database, so they are in it too), portable between SQLite and
PostgreSQL.

Archive (tar.gz): manifest.json (format, schema revision, created_at, per table: rows and the
sha256 of its data file) and data/<table>.jsonl (one JSON array per row, columns in manifest
order; bytes as base64, dates and times ISO). The snapshot is one read transaction
(REPEATABLE READ on PostgreSQL; SQLite's WAL read snapshot), so the app may keep serving.
"""
import base64
import hashlib
import io
import json
import tarfile
from datetime import date, datetime

from sqlalchemy import Date, DateTime, LargeBinary, insert, select, text

from .. import clock
from ..extensions import db

FORMAT = "bianzhi-backup/1"


class BackupError(Exception):
    pass


def _encode(value):
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _decode(column, value):
    if value is None:
        return None
    if isinstance(column.type, LargeBinary):
        return base64.b64decode(value["$b64"])
    if isinstance(column.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


def _revision(conn):
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def write(out):
    """Write the archive to the binary file `out`; return the manifest."""
    tables = db.metadata.sorted_tables
    manifest = {"format": FORMAT, "created_at": clock.now().isoformat(), "tables": []}
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        manifest["revision"] = _revision(conn)
        with tarfile.open(fileobj=out, mode="w:gz") as tar:
            for table in tables:
                columns = [c.name for c in table.columns]
                buffer = io.BytesIO()
                rows = 0
                result = conn.execution_options(yield_per=1000).execute(
                    select(table).order_by(*table.primary_key.columns))
                for row in result:
                    buffer.write(json.dumps([_encode(v) for v in row], ensure_ascii=False).encode() + b"\n")
                    rows += 1
                data = buffer.getvalue()
                info = tarfile.TarInfo(f"data/{table.name}.jsonl")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                manifest["tables"].append({"name": table.name, "columns": columns, "rows": rows,
                                           "sha256": hashlib.sha256(data).hexdigest()})
            body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        conn.rollback()
    return manifest


def read_manifest(tar):
    try:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    except (KeyError, ValueError):
        raise BackupError("不是本平台的备份文件（缺少 manifest.json）") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"备份格式 {manifest.get('format')} 不受支持")
    return manifest


def restore(path):
    """Load an archive into an empty database with the same schema revision. All or nothing."""
    try:
        tar = tarfile.open(path, mode="r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"无法读取备份文件：{exc}") from None
    with tar:
        manifest = read_manifest(tar)
        known = {t.name: t for t in db.metadata.sorted_tables}
        with db.engine.begin() as conn:
            if _revision(conn) != manifest["revision"]:
                raise BackupError(f"数据库结构版本 {_revision(conn)} 与备份的 {manifest['revision']} 不同")
            for entry in manifest["tables"]:
                if entry["name"] not in known:
                    raise BackupError(f"备份中的表 {entry['name']} 在当前版本中不存在")
                if conn.execute(select(known[entry["name"]]).limit(1)).first() is not None:
                    raise BackupError(f"目标数据库不是空的（{entry['name']} 已有数据），请恢复到新建的空数据库")
            for entry in manifest["tables"]:
                table = known[entry["name"]]
                data = tar.extractfile(f"data/{entry['name']}.jsonl").read()
                if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                    raise BackupError(f"{entry['name']} 的校验和不符：备份文件已损坏")
                columns = [table.columns[name] for name in entry["columns"]]
                batch = []
                for line in data.splitlines():
                    values = json.loads(line)
                    batch.append({c.name: _decode(c, v) for c, v in zip(columns, values)})
                    if len(batch) == 1000:
                        conn.execute(insert(table), batch)
                        batch = []
                if batch:
                    conn.execute(insert(table), batch)
            if conn.dialect.name == "postgresql":
                for table in known.values():
                    pk = list(table.primary_key.columns)
                    if len(pk) == 1 and pk[0].autoincrement is not False and str(pk[0].type) == "INTEGER":
                        conn.execute(text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                            f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"))
    return manifest
