"""assessments from the instrument registry: PCL-5, results without a band, threshold_met

Revision ID: bdb58171c62c
Revises: a1b3ae579fea
Create Date: 2026-11-22 12:00:00.000000

The instruments are data now (api/reference/instruments.json) and PCL-5 joins PHQ-9 and GAD-7:
the instrument's CHECK goes, since the registry, not the schema, says which instruments there are
(an instrument added to the data file needs no revision; the API refuses any other id);
`severity` may be null (PCL-5 has no severity bands); and `threshold_met` records whether a
total reaches the instrument's threshold (PCL-5: 33 or more), null for one without a threshold,
as every result stored before this revision is.
"""

from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "bdb58171c62c"
down_revision = "a1b3ae579fea"
branch_labels = None
depends_on = None

INSTRUMENTS = ("phq9", "gad7")  # all there were before


@contextmanager
def _rebuilt_assessments():
    """The table, to change; SQLite rebuilds it (batch mode: copy, drop, rename), with foreign
    keys off for the run (migrations/env.py), so the drop deletes no safety event and no
    acknowledgement (ON DELETE CASCADE). The rows keep their ids: every reference holds after."""
    with op.batch_alter_table("assessments", recreate="auto") as batch_op:
        yield batch_op


def upgrade():
    with _rebuilt_assessments() as batch_op:
        batch_op.drop_constraint(op.f("ck_assessments_instrument"), type_="check")
        batch_op.alter_column("severity", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("threshold_met", sa.Boolean(), nullable=True))


def downgrade():
    # The older schema has no place for them: results of the new instruments go.
    op.execute(
        sa.text("DELETE FROM assessments WHERE instrument NOT IN :instruments").bindparams(
            sa.bindparam("instruments", INSTRUMENTS, expanding=True)
        )
    )
    with _rebuilt_assessments() as batch_op:
        batch_op.drop_column("threshold_met")
        batch_op.alter_column("severity", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_check_constraint(
            op.f("ck_assessments_instrument"),
            f"instrument IN ({', '.join(repr(value) for value in INSTRUMENTS)})",
        )
