"""organisation: offices in a tree, sections owning units (归口), partner departments, routing

One flat office with role pools could not route a step to the section that owns a unit, to a
partner department or to the office above. This adds offices (a tree), their sections and who
sits in them, partner departments; the office and section of every unit, the office of every
bureau user and case, and on every open task where it is routed (pool, office, section, partner
department, unheld).

A database upgraded from the flat office keeps working as before: one office owns every unit,
one section owns every unit with every reviewer in it, every leader in charge of it; each open
task is routed as it would open now (a reviewer step to that section, a leader step to its
leaders, 主任办公会 to the office), so every user's inbox is what it was.

Revision ID: 7c3a9e1f2b64
Revises: 5b1e7c2d9a40
Create Date: 2026-12-08 00:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = '7c3a9e1f2b64'
down_revision = '5b1e7c2d9a40'
branch_labels = None
depends_on = None

# (table, column, referenced table) of the columns added to tables that exist already. Plain
# ALTER TABLE on both databases: a batch operation would copy and drop tables the foreign keys of
# a populated SQLite database refuse. SQLite cannot drop a column that is part of a foreign key,
# so there the reference lives in the models only (SQLite's ALTER TABLE ADD COLUMN would carry it
# but a downgrade could not remove it); PostgreSQL gets the constraint.
REFERENCES = [
    ('users', 'office_id', 'offices'),
    ('users', 'partner_department_id', 'partner_departments'),
    ('units', 'office_id', 'offices'),
    ('units', 'section_id', 'sections'),
    ('cases', 'office_id', 'offices'),
    ('open_tasks', 'office_id', 'offices'),
    ('open_tasks', 'section_id', 'sections'),
    ('open_tasks', 'partner_department_id', 'partner_departments'),
]
INDEXES = [
    ('ix_users_office_id', 'users', ['office_id']),
    ('ix_users_partner_department_id', 'users', ['partner_department_id']),
    ('ix_units_office_id', 'units', ['office_id']),
    ('ix_units_section_id', 'units', ['section_id']),
    ('ix_cases_office_id', 'cases', ['office_id']),
    ('ix_open_tasks_section_urgency', 'open_tasks', ['section_id', 'sort_due', 'created_at', 'id']),
    ('ix_open_tasks_office_urgency', 'open_tasks', ['office_id', 'sort_due', 'created_at', 'id']),
    ('ix_open_tasks_partner_department_id', 'open_tasks', ['partner_department_id']),
]
OFFICE_LANES = ('主任办公会',)


def _office_name():
    try:
        from flask import current_app
        return current_app.config.get('OFFICE_NAME') or '本级编办'
    except Exception:  # noqa: BLE001 - alembic run without the app
        return '本级编办'


def upgrade():
    op.create_table(
        'offices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('level', sa.String(length=12), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('path', sa.String(length=255), nullable=False),
        sa.CheckConstraint("level in ('province','city','county')", name=op.f('ck_offices_level_known')),
        sa.ForeignKeyConstraint(['parent_id'], ['offices.id'], name=op.f('fk_offices_parent_id_offices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_offices')),
        sa.UniqueConstraint('code', name=op.f('uq_offices_code')),
    )
    op.create_index(op.f('ix_offices_parent_id'), 'offices', ['parent_id'])
    op.create_index(op.f('ix_offices_path'), 'offices', ['path'])
    op.create_table(
        'sections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_sections_office_id_offices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sections')),
        sa.UniqueConstraint('office_id', 'code', name=op.f('uq_sections_office_id')),
    )
    op.create_index(op.f('ix_sections_office_id'), 'sections', ['office_id'])
    op.create_table(
        'section_members',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('section_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('duty', sa.String(length=12), nullable=False),
        sa.CheckConstraint("duty in ('reviewer','leader')", name=op.f('ck_section_members_duty_known')),
        sa.ForeignKeyConstraint(['section_id'], ['sections.id'], name=op.f('fk_section_members_section_id_sections'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_section_members_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_section_members')),
        sa.UniqueConstraint('section_id', 'user_id', 'duty', name=op.f('uq_section_members_section_id')),
    )
    op.create_index(op.f('ix_section_members_section_id'), 'section_members', ['section_id'])
    op.create_index(op.f('ix_section_members_user_id'), 'section_members', ['user_id'])
    op.create_table(
        'partner_departments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['office_id'], ['offices.id'],
                                name=op.f('fk_partner_departments_office_id_offices')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_departments')),
        sa.UniqueConstraint('office_id', 'code', name=op.f('uq_partner_departments_office_id')),
    )
    op.create_index(op.f('ix_partner_departments_office_id'), 'partner_departments', ['office_id'])

    postgres = op.get_bind().dialect.name == 'postgresql'
    for table, column, target in REFERENCES:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        if postgres:
            op.create_foreign_key(f'fk_{table}_{column}_{target}', table, target, [column], ['id'])
    op.add_column('open_tasks', sa.Column('pool', sa.String(length=16), server_default='office', nullable=False))
    op.add_column('open_tasks', sa.Column('unheld', sa.Boolean(), server_default=sa.false(), nullable=False))
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)

    # the flat office becomes one office with one section owning everything (an empty database,
    # a new installation or a restore's target, stays empty: its offices come with its data)
    conn = op.get_bind()
    if not conn.execute(sa.text("SELECT 1 FROM users UNION ALL SELECT 1 FROM units LIMIT 1")).first():
        return
    conn.execute(sa.text("INSERT INTO offices (code, name, level, parent_id, path) "
                         "VALUES ('000000', :name, 'county', NULL, '')"), {"name": _office_name()})
    office = conn.execute(sa.text("SELECT id FROM offices WHERE code = '000000'")).scalar()
    conn.execute(sa.text("UPDATE offices SET path = :path WHERE id = :id"), {"path": f"/{office}/", "id": office})
    conn.execute(sa.text("INSERT INTO sections (office_id, code, name) VALUES (:office, 'main', '业务科室')"),
                 {"office": office})
    section = conn.execute(sa.text("SELECT id FROM sections WHERE office_id = :office"), {"office": office}).scalar()
    conn.execute(sa.text("UPDATE units SET office_id = :office, section_id = :section"),
                 {"office": office, "section": section})
    conn.execute(sa.text("UPDATE users SET office_id = :office WHERE id IN (SELECT user_id FROM user_roles "
                         "WHERE role <> 'unit_clerk')"), {"office": office})
    for duty, role in (('reviewer', 'reviewer'), ('leader', 'leader')):
        conn.execute(sa.text("INSERT INTO section_members (section_id, user_id, duty) "
                             "SELECT DISTINCT :section, user_id, :duty FROM user_roles WHERE role = :role"),
                     {"section": section, "duty": duty, "role": role})
    conn.execute(sa.text("UPDATE cases SET office_id = :office"), {"office": office})
    conn.execute(sa.text("UPDATE open_tasks SET office_id = :office"), {"office": office})
    conn.execute(sa.text("UPDATE open_tasks SET pool = 'unit' WHERE role = 'unit_clerk'"))
    conn.execute(sa.text("UPDATE open_tasks SET pool = 'section', section_id = :section WHERE role = 'reviewer'"),
                 {"section": section})
    lanes = ", ".join(f"'{name}'" for name in OFFICE_LANES)
    conn.execute(sa.text("UPDATE open_tasks SET pool = 'section_leader', section_id = :section "
                         f"WHERE role = 'leader' AND (lane IS NULL OR lane NOT IN ({lanes}))"),
                 {"section": section})


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_column('open_tasks', 'unheld')
    op.drop_column('open_tasks', 'pool')
    for table, column, _target in reversed(REFERENCES):
        op.drop_column(table, column)
    op.drop_table('partner_departments')
    op.drop_table('section_members')
    op.drop_table('sections')
    op.drop_table('offices')
