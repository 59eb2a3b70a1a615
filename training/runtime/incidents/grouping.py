"""Group actionable comments about one problem into incidents, each with an answer deadline.

The rule (issue 12): two comments may share an incident when they have the same topic, are close in time
(``window_hours``, 72 by default) and have similar text or the same address. How it is applied:

* **Which comments.** Rows with a topic whose action is the taxonomy's answer or escalate action (a comment
  moderated for мат or insults, or one with no question, is never an incident). Rows without a timestamp are
  left out and counted (``n_without_time``): the window and the deadline both need a time, and every source
  we have (the CSV report, /analytics, VK) gives one.
* **Time.** Comments are taken in time order (ties by id, then text: a total order, so shuffling the input
  changes nothing). An incident opens with its first comment and stays open for ``window_hours``: a comment
  later than that starts a new incident, so the same problem reported again days later gets a deadline of its
  own instead of inheriting one long past. When every timestamp has a UTC offset, times are compared as
  instants; otherwise as written (wall clock), like the day tables of the analytics.
* **Joining.** A comment joins an open incident of its topic by address (its normalised address,
  see address.py, equals the incident's) or by text: at least one member is its neighbour (cosine similarity ≥
  ``min_similarity``, found by NearestNeighbors, see similarity.py) AND it is close to the incident's centroid
  (cosine with the sum of the members' vectors ≥ ``min_centroid_similarity``). Two different known addresses,
  or streets (a street named alone, "на проспекте Мира"), never join however similar the words ("снег во
  дворе Ленина 5" and "снег во дворе Мира 7" are two yards).
  Among several incidents it could join, a comment takes the one with its address, else the one whose
  centroid is the closest (ties: the earliest), and it never merges two incidents: the chaining of connected
  components (A like B, B like C, A unlike C) is what the centroid test and this rule stop.
* **Each incident**: id (stable: topic, first comment's id and time), topic, route, the comment ids in time
  order, first and last time, the most typical comment (the medoid: highest mean similarity to the other
  members; ties the earliest), the address when one member named it, urgent (any member urgent), the deadline
  = first time + the taxonomy's hours (urgent 1 h, else the topic's `answer_hours`, else 24 h) and overdue =
  the reference time (``now`` when given, else the stream's last timestamp) is past the deadline.
* **Limits.** A comment without an address joins by its words only: a bare "у нас во дворе снег не убран" joins
  whichever open incident of its topic it is closest to, which may be another yard's when both are near.
  Defaults (0.2 and 0.25) were set on the 40-comment test stream, where comments of the yard without an
  address scored 0.36-0.39 against the incident when they joined and unrelated ones at most 0.05, and checked
  by reading the incidents they form on the real VK comments of ../shared/datasets/vk_gov_pages.
* **Singletons.** A comment that joins nothing is an incident of one: it has a deadline too. The result keeps
  every incident; listings (/analytics, the report) show those with at least ``min_comments`` (2) comments and
  count the rest (``n_single``, ``n_single_overdue``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from scipy import sparse

from training.runtime.incidents.address import find_address
from training.runtime.incidents.clustering import Place, cluster_topic, medoid
from training.runtime.incidents.report import DEFAULT_PARAMS, Incident, IncidentError, IncidentParams, IncidentReport
from training.runtime.incidents.similarity import content_lemmas, doc_vectors
from training.runtime.taxonomy import ACTIONABLE, Taxonomy, default_taxonomy


def _parse_time(value: Any, row: int) -> datetime | None:
    """A datetime, an ISO 8601 string, or Unix seconds (what VK sends); None or "" is no time."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, tz=UTC)
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise IncidentError(f"row {row}: not an ISO 8601 timestamp: {str(value)[:40]!r}") from None


def _timeline(times: Sequence[datetime | None]) -> list[datetime | None]:
    """Comparable naive datetimes: UTC instants when every time has an offset, else the wall clock."""
    known = [t for t in times if t is not None]
    aware = bool(known) and all(t.utcoffset() is not None for t in known)

    def key(t: datetime | None) -> datetime | None:
        if t is None:
            return None
        return t.astimezone(UTC).replace(tzinfo=None) if aware else t.replace(tzinfo=None)

    return [key(t) for t in times]


def _incident_id(topic: str, first_id: Any, first: datetime) -> str:
    digest = hashlib.sha1(f"{topic}\x1f{first_id}\x1f{first.isoformat()}".encode()).hexdigest()
    return f"inc-{digest[:12]}"


def _place(text: str) -> Place:
    address = find_address(text)
    if address is None:
        return Place()
    return Place(street=address.street, key=address.key, written=text[address.start : address.end].strip(" ,.;"))


@dataclass(frozen=True)
class _Row:
    """An eligible row: its time as written and on the comparable timeline, and what the grouping reads."""

    id: Any
    text: str
    topic: str
    urgent: bool
    time: datetime
    key: datetime


def _incident(members: list[_Row], typical: _Row, place: Place, taxonomy: Taxonomy) -> Incident:
    """One incident from its rows in time order."""
    first, topic = members[0], members[0].topic
    urgent = any(r.urgent for r in members)
    hours = taxonomy.answer_hours(topic, urgent)
    return Incident(
        id=_incident_id(topic, first.id, first.time),
        topic=topic,
        route=taxonomy.route_for(topic),
        comment_ids=tuple(r.id for r in members),
        first=first.time,
        last=members[-1].time,
        typical_id=typical.id,
        typical_text=typical.text,
        address=place.key,
        address_text=place.written,
        urgent=urgent,
        answer_hours=hours,
        deadline=first.time + timedelta(hours=hours),
        overdue=False,  # set against the reference time by group_incidents()
    )


def group_incidents(
    rows: Sequence[Mapping[str, Any]],
    taxonomy: Taxonomy | None = None,
    params: IncidentParams = DEFAULT_PARAMS,
    now: datetime | None = None,
) -> IncidentReport:
    """Incidents of classified comments: each row has id, text, timestamp, topic, urgent and action (see the
    module docstring for the rule, the deadline and what happens to rows without a time). A time so close to
    the calendar's ends (years 1 and 9999) that its UTC instant or its deadline does not exist is refused."""
    try:
        return _group(rows, taxonomy, params, now)
    except OverflowError as exc:
        raise IncidentError("a timestamp or deadline falls outside the years 1-9999 (UTC)") from exc


def _group(
    rows: Sequence[Mapping[str, Any]],
    taxonomy: Taxonomy | None,
    params: IncidentParams,
    now: datetime | None,
) -> IncidentReport:
    taxonomy = taxonomy or default_taxonomy()
    answering = {taxonomy.category_actions[ACTIONABLE], taxonomy.urgent_action}
    parsed = [_parse_time(r.get("timestamp"), i) for i, r in enumerate(rows)]
    keys = _timeline([*parsed, now])
    reference_time, reference = now, keys[-1]
    if now is None:  # the stream's last timestamp
        timed = [(k, t) for k, t in zip(keys, parsed, strict=False) if k is not None and t is not None]
        reference, reference_time = max(timed, key=lambda kt: kt[0], default=(None, None))
    eligible: list[_Row] = []
    n_without_time = 0
    for i, r in enumerate(rows):
        topic, action = r.get("topic"), r.get("action")
        if topic is None or (action is not None and action not in answering):
            continue
        if topic not in taxonomy.topic_ids:
            raise IncidentError(f"row {i}: unknown topic {str(topic)[:40]!r}")
        time, key = parsed[i], keys[i]
        if time is None or key is None:
            n_without_time += 1
            continue
        eligible.append(_Row(r.get("id"), str(r.get("text") or ""), topic, bool(r.get("urgent")), time, key))
    eligible.sort(key=lambda r: (r.key, str(r.id), r.text, r.urgent))  # a total order: input order is irrelevant
    distinct = {t: (content_lemmas(t), _place(t)) for t in dict.fromkeys(r.text for r in eligible)}  # read once
    docs = [distinct[r.text][0] for r in eligible]
    places = [distinct[r.text][1] for r in eligible]
    vectors = doc_vectors(docs) if eligible else sparse.csr_matrix((0, 1))
    found: list[tuple[Incident, datetime]] = []  # with the deadline on the comparable timeline
    for topic in taxonomy.topic_ids:
        local = [k for k, r in enumerate(eligible) if r.topic == topic]
        if not local:
            continue
        groups = cluster_topic(
            vectors[local],
            [eligible[k].key for k in local],
            [places[k] for k in local],
            [docs[k] for k in local],
            timedelta(hours=params.window_hours),
            params.min_similarity,
            params.min_centroid_similarity,
        )
        for members in groups:
            ks = [local[m] for m in members]
            place = next((places[k] for k in ks if places[k].key), Place())  # the first member's that named it
            incident = _incident([eligible[k] for k in ks], eligible[medoid(vectors, ks)], place, taxonomy)
            due = eligible[ks[0]].key + timedelta(hours=incident.answer_hours)
            found.append((replace(incident, overdue=reference is not None and reference > due), due))
    found.sort(key=lambda f: (-f[0].n_comments, f[1], f[0].id))
    return IncidentReport(tuple(f[0] for f in found), params, reference_time, n_without_time)
