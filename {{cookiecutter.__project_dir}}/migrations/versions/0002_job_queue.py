"""The background jobs' queue (procrastinate 3.10's tables, types and functions), and the column
the example resource's job sets.

The queue's schema is the frozen copy beside this file (0002_job_queue.sql), so this revision
creates the same objects whatever procrastinate version is installed later. Upgrading
procrastinate is a new revision running the SQL files of its procrastinate/sql/migrations/ newer
than 3.10.0, in their order (README: Background jobs). SQLite has no queue: there only the
column is added.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 00:00:00
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = Path(__file__).with_suffix(".sql")
DROP_SCHEMA = """
DO $$
DECLARE routine regprocedure;
BEGIN
    FOR routine IN SELECT p.oid::regprocedure FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.proname LIKE 'procrastinate\\_%' AND n.nspname = current_schema()
    LOOP
        EXECUTE 'DROP FUNCTION ' || routine || ' CASCADE';  -- and the triggers calling it
    END LOOP;
END $$;
DROP TABLE procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
    procrastinate_workers;
DROP TYPE procrastinate_job_to_defer_v1, procrastinate_job_event_type, procrastinate_job_status;
"""


def run_script(script: str) -> None:
    """Many statements, `%` in their messages: as they are, on the migration's connection and in
    its transaction (psycopg sends a statement without parameters unchanged)."""
    with op.get_bind().connection.dbapi_connection.cursor() as cursor:
        cursor.execute(script)


def upgrade() -> None:
    with op.batch_alter_table("items") as items:
        items.add_column(sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        run_script(SCHEMA.read_text())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        run_script(DROP_SCHEMA)
    with op.batch_alter_table("items") as items:
        items.drop_column("processed_at")
