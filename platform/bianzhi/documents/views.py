"""Pages and JSON of the documents library (机构编制文件库)."""
from flask import Blueprint

from . import models  # noqa: F401  the tables, for Alembic and the app

bp = Blueprint("documents", __name__)
