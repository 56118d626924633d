"""Warehouse maintenance as a scheduled Dagster job: small files compacted, files no snapshot
still needs vacuumed (after `OWNLENS_VACUUM_RETENTION`), checkpoints written. Safe while writers
and readers work: compaction commits like any writer, readers keep their snapshot's files."""

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dagster as dg
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from ownlens_pipelines.resources import WarehouseResource
from ownlens_pipelines.settings import ETLConfig
from ownlens_pipelines.warehouse import Warehouse, table_stats

DEFAULT_CRON = "*/5 * * * *"  # a follower adds about 15 files a minute per table


@dataclass(frozen=True, slots=True)
class Maintained:
    """What maintaining one table did."""

    table: str
    compacted_files: int
    written_files: int
    vacuumed_files: int
    metadata: dict[str, Any]


def maintain(table: DeltaTable, name: str, retention: timedelta) -> Maintained:
    """Compact, vacuum and checkpoint one table. A compaction that loses a race to another
    commit is left to the next run."""
    removed = added = 0
    try:
        done = table.optimize.compact()
        removed, added = int(done.get("numFilesRemoved", 0)), int(done.get("numFilesAdded", 0))
    except CommitFailedError:
        table.update_incremental()
    vacuumed = table.vacuum(
        retention_hours=math.ceil(retention.total_seconds() / 3600),
        dry_run=False,
        enforce_retention_duration=False,
    )
    table.create_checkpoint()
    table.cleanup_metadata()
    return Maintained(name, removed, added, len(vacuumed), table_stats(table).metadata())


def asset_key_of(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split(".", 1))


@dg.op
def maintain_tables(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> dict[str, Any]:
    """Compact, vacuum and checkpoint every warehouse table; each table's version, files,
    bytes and rows are observed on its asset."""
    store: Warehouse = warehouse.warehouse()
    retention = ETLConfig().vacuum_retention
    totals = {"tables": 0, "compacted_files": 0, "vacuumed_files": 0}
    for name in store.tables():
        table = store.table(name)
        if table is None:
            continue
        done = maintain(table, name, retention)
        totals["tables"] += 1
        totals["compacted_files"] += done.compacted_files
        totals["vacuumed_files"] += done.vacuumed_files
        context.log_event(
            dg.AssetObservation(
                asset_key=asset_key_of(name),
                metadata={
                    **done.metadata,
                    "compacted_files": done.compacted_files,
                    "written_files": done.written_files,
                    "vacuumed_files": done.vacuumed_files,
                },
            )
        )
    context.add_output_metadata(totals)
    return totals


@dg.job(
    executor_def=dg.in_process_executor,
    description="Compact small files, vacuum unreferenced ones, write checkpoints: every table.",
    tags={"ownlens/trigger": "maintenance"},
)
def maintain_warehouse() -> None:
    maintain_tables()


def maintenance_schedule(cron: str = DEFAULT_CRON) -> dg.ScheduleDefinition:
    """`maintain_warehouse` on `cron` (every 5 minutes by default), running from the start."""
    return dg.ScheduleDefinition(
        name="maintain_warehouse_schedule",
        job=maintain_warehouse,
        cron_schedule=cron,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Warehouse maintenance: compaction, vacuum, checkpoints.",
    )
