"""Backup while serving, restore into an empty instance: every table and file comes back."""
import gzip
import io
import os
import tarfile

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bianzhi import create_app
from bianzhi.demo_cases import load_cases
from bianzhi.extensions import db
from tests.conftest import PASSWORD, Api

# the backup reads through connections of its own (db.engine.connect), the restore runs on another app
pytestmark = pytest.mark.commits


def _empty_target(app, tmp_path):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    name = f"{url.database}_restore"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _dump(app):
    with app.app_context():
        result = {}
        with db.engine.connect() as conn:
            for table in db.metadata.sorted_tables:
                result[table.name] = [tuple(r) for r in conn.execute(
                    select(table).order_by(*table.primary_key.columns))]
        return result


def test_backup_and_restore_round_trip(app, tmp_path):
    with app.app_context():
        load_cases()  # cases of every process, attachments, notices, chronicle, audit
        db.session.commit()
    archive = tmp_path / "backup.tar.gz"
    result = app.test_cli_runner().invoke(args=["backup", "--out", str(archive)])
    assert result.exit_code == 0, result.output
    assert "已备份" in result.output and archive.exists()

    target = create_app({"SQLALCHEMY_DATABASE_URI": _empty_target(app, tmp_path), "TESTING": True,
                         "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    try:
        result = target.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 0, result.output
        source_rows, restored_rows = _dump(app), _dump(target)
        assert source_rows.keys() == restored_rows.keys()
        for name in source_rows:
            assert restored_rows[name] == source_rows[name], name
        assert sum(len(rows) for rows in restored_rows.values()) > 500

        # the restored instance works: a reviewer completes an open task, the audit chain holds
        reviewer = Api(target.test_client(), "reviewer1", PASSWORD)
        task = reviewer.get("/api/v1/tasks").json[0]
        response = reviewer.post(f"/api/v1/tasks/{task['id']}/complete",
                                 json={"data": {"decision": "return", "opinion": "恢复后继续办理"}})
        assert response.status_code == 200, response.json
        assert target.test_cli_runner().invoke(args=["audit-verify"]).exit_code == 0

        again = target.test_cli_runner().invoke(args=["restore", str(archive)])
        assert again.exit_code == 1 and "目标数据库不是空的" in again.output
    finally:
        with target.app_context():
            db.engine.dispose()


def test_a_corrupted_archive_is_refused(app, tmp_path):
    archive = tmp_path / "backup.tar.gz"
    assert app.test_cli_runner().invoke(args=["backup", "--out", str(archive)]).exit_code == 0
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "data/people.jsonl":  # restored after units, users, establishment …
                data = data.replace("大学本科".encode(), "博士研究生".encode())
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    target = create_app({"SQLALCHEMY_DATABASE_URI": _empty_target(app, tmp_path), "TESTING": True})
    try:
        result = target.test_cli_runner().invoke(args=["restore", str(tampered)])
        assert result.exit_code == 1 and "people 的校验和不符" in result.output
        with target.app_context():
            from bianzhi.ledger.models import Unit
            assert db.session.scalar(select(Unit).limit(1)) is None  # the tables before it rolled back
            db.session.remove()
        result = target.test_cli_runner().invoke(args=["restore", str(tmp_path / "nope.tar.gz")])
        assert result.exit_code == 2  # click: the file does not exist
        junk = tmp_path / "junk.tar.gz"
        junk.write_bytes(gzip.compress(b"not a tar"))
        result = target.test_cli_runner().invoke(args=["restore", str(junk)])
        assert result.exit_code == 1 and "无法读取备份文件" in result.output
    finally:
        with target.app_context():
            db.engine.dispose()
    assert os.path.getsize(archive) > 0
