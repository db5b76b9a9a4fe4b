"""treatment sessions, entries, contacts, practices and assessments

Revision ID: 169b589e9da1
Revises: 4b22352f22f4
Create Date: 2026-11-21 06:10:09.737670

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "169b589e9da1"
down_revision = "4b22352f22f4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contacts",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "relationship",
            sa.Enum(
                "partner",
                "family",
                "friend",
                "therapist",
                "psychiatrist",
                "physician",
                "peer_support",
                "sitter",
                "crisis_line",
                "other",
                name="relationship",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("is_emergency_contact", sa.Boolean(), nullable=False),
        sa.Column("is_session_support", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_seq", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_contacts_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_owner_sync", ["owner_id", "sync_seq"], unique=True)
        batch_op.create_index("ix_contacts_owner_time", ["owner_id", "created_at", "id"], unique=False)

    op.create_table(
        "practices",
        sa.Column(
            "practice",
            sa.Enum(
                "meditation",
                "breathwork",
                "exercise",
                "yoga",
                "therapy",
                "journaling",
                "nature",
                "art",
                "music",
                "nutrition",
                "sleep_hygiene",
                "community",
                "other",
                name="practice",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("performed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column(
            "intensity",
            sa.Enum(
                "low",
                "moderate",
                "high",
                name="intensity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("mood_before", sa.SmallInteger(), nullable=True),
        sa.Column("mood_after", sa.SmallInteger(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_seq", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_practices_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practices")),
    )
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.create_index("ix_practices_owner_sync", ["owner_id", "sync_seq"], unique=True)
        batch_op.create_index("ix_practices_owner_time", ["owner_id", "performed_at", "id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "medicine",
            sa.Enum(
                "ketamine",
                "esketamine",
                "psilocybin",
                "mdma",
                "other",
                name="medicine",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "route",
            sa.Enum(
                "iv",
                "im",
                "intranasal",
                "sublingual",
                "oral",
                "other",
                name="route",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("dose_mg", sa.Float(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column(
            "setting",
            sa.Enum(
                "clinic",
                "home",
                "other",
                name="setting",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("intention", sa.Text(), nullable=True),
        sa.Column("side_effects", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("vitals", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_seq", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_sessions_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index("ix_sessions_owner_sync", ["owner_id", "sync_seq"], unique=True)
        batch_op.create_index("ix_sessions_owner_time", ["owner_id", "started_at", "id"], unique=False)

    op.create_table(
        "assessments",
        sa.Column(
            "instrument",
            sa.Enum("phq9", "gad7", name="instrument", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("answers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("safety_flag", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_seq", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_assessments_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_assessments_session_id_sessions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index("ix_assessments_owner_sync", ["owner_id", "sync_seq"], unique=True)
        batch_op.create_index("ix_assessments_owner_time", ["owner_id", "taken_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assessments_session_id"), ["session_id"], unique=False)

    op.create_table(
        "entries",
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "insight",
                "reflection",
                "intention",
                "gratitude",
                "dream",
                "body",
                "general",
                name="entry_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
        sa.Column("emotions", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "visibility",
            sa.Enum(
                "private",
                "care_team",
                name="visibility",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sync_seq", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_entries_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_entries_session_id_sessions"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index("ix_entries_owner_sync", ["owner_id", "sync_seq"], unique=True)
        batch_op.create_index("ix_entries_owner_time", ["owner_id", "occurred_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_entries_session_id"), ["session_id"], unique=False)


def downgrade():
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entries_session_id"))
        batch_op.drop_index("ix_entries_owner_time")
        batch_op.drop_index("ix_entries_owner_sync")

    op.drop_table("entries")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessments_session_id"))
        batch_op.drop_index("ix_assessments_owner_time")
        batch_op.drop_index("ix_assessments_owner_sync")

    op.drop_table("assessments")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_owner_time")
        batch_op.drop_index("ix_sessions_owner_sync")

    op.drop_table("sessions")
    with op.batch_alter_table("practices", schema=None) as batch_op:
        batch_op.drop_index("ix_practices_owner_time")
        batch_op.drop_index("ix_practices_owner_sync")

    op.drop_table("practices")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_owner_time")
        batch_op.drop_index("ix_contacts_owner_sync")

    op.drop_table("contacts")
