"""Incidents: many complaints about one problem as one item with an answer deadline (issue 12).

`group_incidents(rows)` takes plain classified rows (id, text, timestamp, topic, urgent, action) from any source;
the rule is in grouping.py, the address key in address.py, the text similarity in similarity.py. Importing this
package is light (the dataclasses and the address parser); scikit-learn is loaded on the first grouping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from training.runtime.incidents.address import Address, address_key, find_address
from training.runtime.incidents.report import DEFAULT_PARAMS, Incident, IncidentError, IncidentParams, IncidentReport
from training.runtime.taxonomy import Taxonomy


def group_incidents(
    rows: Sequence[Mapping[str, Any]],
    taxonomy: Taxonomy | None = None,
    params: IncidentParams = DEFAULT_PARAMS,
    now: datetime | None = None,
) -> IncidentReport:
    """Incidents of classified rows: see training/runtime/incidents/grouping.py for the rule."""
    from training.runtime.incidents import grouping

    return grouping.group_incidents(rows, taxonomy, params, now)


__all__ = [
    "DEFAULT_PARAMS",
    "Address",
    "Incident",
    "IncidentError",
    "IncidentParams",
    "IncidentReport",
    "address_key",
    "find_address",
    "group_incidents",
]
