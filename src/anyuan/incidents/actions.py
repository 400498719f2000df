"""Every change to a police incident, for the pages and the API alike: the generic audited
create and update (:mod:`anyuan.core.actions`: permission and scope checked before and
after, validated, one audit record, a live event). The CSV/XLSX import
(:mod:`anyuan.incidents.importing`) writes many rows at once, all or nothing, under one
audit record of its own.
"""

from anyuan.core import actions as core_actions
from anyuan.incidents.models import Incident


def create(actor, data: dict, *, remote_addr=None) -> Incident:
    """A new incident; ``station`` defaults to the actor's own station (the police)."""
    data = dict(data)
    given = data.get("station", data.get("station_id"))
    if given in (None, "") and getattr(actor, "station_id", None):
        data.pop("station_id", None)
        data["station"] = actor.station_id
    return core_actions.create(actor, Incident, data, remote_addr=remote_addr)


def update(actor, incident: Incident, data: dict, *, remote_addr=None) -> Incident:
    return core_actions.update(actor, incident, data, remote_addr=remote_addr)
