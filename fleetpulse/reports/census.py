"""The newest census of every device in range: its hardware, OS and work-from-anywhere facts.

``Fleet.Census.Device`` is sent at agent start, daily and on change, so the newest row in the
range (``argMax(tuple(…), event_time).1``: the tuple keeps a ``NULL``, which a plain ``argMax`` would
skip for an older value) is the device's state; a field the newest census does not report is
``NULL`` (not reported). Model = ``make/model`` as in every report.
"""

from __future__ import annotations

from collections.abc import Sequence

from fleetpulse.reports.params import Filters, render_sql, where
from fleetpulse.reports.startup import Row, model_label
from processors.insights.wfa import CensusFacts
from sinks.reader import Reader

_LATEST = (
    "oem_manufacturer_name", "oem_model_number", "os_build", "os_edition", "join_type", "management_type",
    "autopilot_profile", "is_cloud_pc", "tpm_version_major", "secure_boot_enabled", "firmware_type",
    "total_physical_ram_mb", "primary_disk_total_capacity_mb", "processor_model",
    "processor_logical_cores", "primary_disk_media_type", "has_battery",
)  # fmt: skip

CENSUS_SQL = f"""
SELECT device_id, {", ".join(f"argMax(tuple({c}), event_time).1 AS {c}" for c in _LATEST)}
FROM {{db}}.census
WHERE {where()}
GROUP BY device_id ORDER BY device_id"""


def fetch_census(reader: Reader, flt: Filters) -> list[Row]:
    return reader.query_json(render_sql(CENSUS_SQL, flt.database), flt.params())


def facts(row: Row) -> CensusFacts:
    return CensusFacts(
        device_id=row["device_id"],
        model=model_label(row["oem_manufacturer_name"], row["oem_model_number"]),
        os_build=row["os_build"],
        os_edition=row["os_edition"],
        join_type=row["join_type"],
        management_type=row["management_type"],
        autopilot_profile=row["autopilot_profile"],
        is_cloud_pc=row["is_cloud_pc"],
        tpm_version=row["tpm_version_major"],
        secure_boot=row["secure_boot_enabled"],
        firmware_type=row["firmware_type"],
        ram_mb=row["total_physical_ram_mb"],
        disk_mb=row["primary_disk_total_capacity_mb"],
        processor=row["processor_model"],
        disk_type=row["primary_disk_media_type"],
    )


def census_facts(rows: Sequence[Row]) -> dict[str, CensusFacts]:
    return {r["device_id"]: facts(r) for r in rows}
