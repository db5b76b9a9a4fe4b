"""assessments from the instrument registry: PCL-5, results without a band, threshold_met

Revision ID: bdb58171c62c
Revises: f8f0db02a7b9
Create Date: 2026-11-22 12:00:00.000000

The instruments are data now (api/reference/instruments.json) and PCL-5 joins PHQ-9 and GAD-7:
the instrument CHECK admits `pcl5`; `severity` may be null (PCL-5 has no severity bands); and
`threshold_met` records whether a total reaches the instrument's threshold (PCL-5: 33 or more),
null for one without a threshold, as every result stored before this revision is.

The CHECK lists the registry's ids, so an instrument added to the data file also needs a
revision like this one to widen it (tests/test_assessments.py stores a result of each instrument
and fails until it is).
"""

from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "bdb58171c62c"
down_revision = "f8f0db02a7b9"
branch_labels = None
depends_on = None

INSTRUMENTS = ("phq9", "gad7")
NEW_INSTRUMENTS = ("pcl5",)


@contextmanager
def _rebuilt_assessments():
    """The table, to change; SQLite rebuilds it (batch mode: copy, drop, rename).

    Dropping it there with foreign keys enforced would delete every safety event and its
    acknowledgements (ON DELETE CASCADE), so they are off while it is rebuilt: a PRAGMA that only
    takes effect outside a transaction. The rows keep their ids, so every reference holds after.
    """
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("assessments", recreate="auto") as batch_op:
        yield batch_op
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys=ON")


def _instrument_check(batch_op, instruments):
    batch_op.drop_constraint(op.f("ck_assessments_instrument"), type_="check")
    batch_op.create_check_constraint(
        op.f("ck_assessments_instrument"),
        f"instrument IN ({', '.join(repr(value) for value in instruments)})",
    )


def upgrade():
    with _rebuilt_assessments() as batch_op:
        _instrument_check(batch_op, INSTRUMENTS + NEW_INSTRUMENTS)
        batch_op.alter_column("severity", existing_type=sa.String(length=32), nullable=True)
        batch_op.add_column(sa.Column("threshold_met", sa.Boolean(), nullable=True))


def downgrade():
    # The older schema has no place for them: results of the new instruments go.
    op.execute(
        sa.text("DELETE FROM assessments WHERE instrument IN :instruments").bindparams(
            sa.bindparam("instruments", NEW_INSTRUMENTS, expanding=True)
        )
    )
    with _rebuilt_assessments() as batch_op:
        batch_op.drop_column("threshold_met")
        batch_op.alter_column("severity", existing_type=sa.String(length=32), nullable=False)
        _instrument_check(batch_op, INSTRUMENTS)
