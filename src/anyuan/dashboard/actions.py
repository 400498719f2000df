"""Changes the dashboard makes: none by people.

The dashboard only reads. Its one table, the hourly passage counts, is derived data kept
by the processor (:func:`anyuan.dashboard.rollups.add_passages`, in each batch's
transaction) and recomputed by an operator (``anyuan rollups rebuild``); like the event
log and the live messages, those writes are not audited — the passages they count are
the record. Nobody may add, change or delete a count (``core/roles.py``: view only).
"""
