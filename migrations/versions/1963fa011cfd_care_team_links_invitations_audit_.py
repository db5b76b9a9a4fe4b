"""care team links, invitations, audit events, entry acknowledgements

Revision ID: 1963fa011cfd
Revises: 169b589e9da1
Create Date: 2026-11-21 06:27:14.016372

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "1963fa011cfd"
down_revision = "169b589e9da1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "list",
                "read",
                "acknowledge",
                name="audit_action",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "resource_type",
            sa.Enum(
                "patient_summary",
                "entry",
                "mood",
                "assessment",
                "practice",
                "session",
                name="audit_resource_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "allowed",
                "denied",
                name="audit_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_patient_time", ["patient_id", "occurred_at", "id"], unique=False
        )

    op.create_table(
        "care_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("scopes", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["users.id"], name=op.f("fk_care_links_patient_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["therapist_id"], ["users.id"], name=op.f("fk_care_links_therapist_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_care_links")),
    )
    with op.batch_alter_table("care_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_care_links_active_pair",
            ["patient_id", "therapist_id"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.create_index(
            "ix_care_links_patient_created",
            ["patient_id", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.create_index(
            "ix_care_links_therapist_created",
            ["therapist_id", "created_at", "id"],
            unique=False,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )

    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("therapist_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"], ["users.id"], name=op.f("fk_invitations_therapist_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invitations_code_hash")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invitations_therapist_created", ["therapist_id", "created_at", "id"], unique=False
        )

    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_by_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_entries_owner_shared_time",
            ["owner_id", "occurred_at", "id"],
            unique=False,
            sqlite_where=sa.text("visibility = 'care_team' AND deleted_at IS NULL"),
            postgresql_where=sa.text("visibility = 'care_team' AND deleted_at IS NULL"),
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_entries_acknowledged_by_id_users"),
            "users",
            ["acknowledged_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_entries_acknowledged_by_id_users"), type_="foreignkey")
        batch_op.drop_index(
            "ix_entries_owner_shared_time",
            sqlite_where=sa.text("visibility = 'care_team' AND deleted_at IS NULL"),
            postgresql_where=sa.text("visibility = 'care_team' AND deleted_at IS NULL"),
        )
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("acknowledged_by_id")

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_invitations_therapist_created")

    op.drop_table("invitations")
    with op.batch_alter_table("care_links", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_care_links_therapist_created",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_care_links_patient_created",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(
            "ix_care_links_active_pair",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )

    op.drop_table("care_links")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_patient_time")

    op.drop_table("audit_events")
