"""users.session_version: logout, a password change and deactivation end every session

A Flask session lives in the browser's signed cookie, so a copy made before logout kept working.
The session now carries the user's session_version next to the id; raising it ends them all.

Revision ID: 5b1e7c2d9a40
Revises: d0c5f7a91b21
Create Date: 2026-12-07 21:15:00

"""
from alembic import op
import sqlalchemy as sa

revision = '5b1e7c2d9a40'
down_revision = 'd0c5f7a91b21'
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite >= 3.35 drops a column in place): a batch operation
# would copy and drop `users`, which the foreign keys of a populated database refuse.
def upgrade():
    op.add_column('users', sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    op.drop_column('users', 'session_version')
