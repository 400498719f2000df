"""The registry's kinds and their editable fields, shared by the pages, the API and the admin."""

from anyuan.registry import models as m

FIELDS = {
    m.Station: ["name", "code", "address", "hotline"],
    m.Park: ["station", "name", "address"],
    m.PoliceGrid: ["station", "name", "position", "boundary", "description"],
    m.Officer: ["station", "name", "badge_number", "kind", "duty", "phone", "grids", "active"],
    m.ContactGroup: ["station", "name", "leader", "members"],
    m.Enterprise: [
        "station", "park", "name", "credit_code", "address", "grid", "contact_group", "industry",
        "headcount", "hazardous_chemicals", "risk_level", "security_contact", "duty_phone",
    ],
    m.LabourAgency: ["station", "name", "credit_code", "licence_number", "address", "contact_name", "contact_phone"],
    m.QualificationType: ["code", "name", "validity_months", "description"],
    m.Zone: ["park", "parent", "name", "code", "ring", "kind", "enterprise", "capacity", "is_transit", "required_qualifications"],
    m.Device: ["zone", "name", "kind", "direction", "protocol", "serial", "vendor", "heartbeat_seconds", "upstream", "active"],
    m.Person: [
        "station", "kind", "enterprise", "labour_agency", "name", "id_number", "phone", "employee_number",
        "card_number", "face_id", "shift", "home_zone", "hire_date", "leave_date", "note",
    ],
    m.Qualification: ["person", "type", "number", "issued_on", "valid_until"],
    m.Vehicle: ["station", "plate", "kind", "registered", "owner", "enterprise", "colour", "brand", "valid_until"],
    m.AccessGroup: ["station", "enterprise", "name", "members", "description"],
    m.Authorisation: ["zone", "person", "group", "weekdays", "time_from", "time_until", "valid_from", "valid_until", "note"],
    m.WatchlistEntry: ["station", "enterprise", "kind", "person", "name", "id_number", "face_id", "plate", "reason", "level", "active", "valid_until"],
    m.Informant: ["person", "workshop", "team", "since", "active"],
}  # fmt: skip

# list columns per kind (the first is the link to the detail page)
COLUMNS = {
    m.Station: ["name", "code", "hotline"],
    m.Park: ["name", "station", "address"],
    m.PoliceGrid: ["name", "position", "station"],
    m.Officer: ["name", "badge_number", "kind", "duty", "phone", "active"],
    m.ContactGroup: ["name", "leader", "station"],
    m.Enterprise: ["name", "credit_code", "grid", "industry", "headcount", "hazardous_chemicals", "risk_level"],
    m.LabourAgency: ["name", "credit_code", "contact_name"],
    m.QualificationType: ["name", "code", "validity_months"],
    m.Zone: ["name", "ring", "kind", "parent", "enterprise", "capacity"],
    m.Device: ["name", "kind", "zone", "direction", "protocol", "serial", "active"],
    m.Person: ["name", "kind", "enterprise", "id_number", "phone", "employee_number", "card_number"],
    m.Qualification: ["person", "type", "number", "valid_until"],
    m.Vehicle: ["plate", "kind", "registered", "owner", "enterprise"],
    m.AccessGroup: ["name", "enterprise"],
    m.Authorisation: ["zone", "person", "group", "weekdays", "time_from", "time_until", "valid_until"],
    m.WatchlistEntry: ["__str__", "kind", "level", "reason", "active", "valid_until"],
    m.Informant: ["person", "workshop", "team", "active"],
}  # fmt: skip

SEARCH = {
    m.Enterprise: ["name", "credit_code"],
    m.Device: ["name", "serial"],
    m.Vehicle: ["plate"],
    m.Person: ["name", "employee_number", "card_number"],
    m.Qualification: ["person__name", "number"],
    m.Authorisation: ["zone__name", "person__name", "group__name"],
    m.Informant: ["person__name", "team"],
    m.WatchlistEntry: ["name", "plate", "reason"],
    m.Officer: ["name", "badge_number"],
}
DIGEST_SEARCH = {
    m.Person: [("id_number", "id_number"), ("phone", "phone")],
    m.Officer: [("phone", "phone")],
    m.WatchlistEntry: [("id_number", "id_number")],
}
LIST_FILTERS = {
    m.Enterprise: ["grid", "contact_group", "park", "risk_level", "hazardous_chemicals"],
    m.Zone: ["park", "parent", "ring", "kind", "enterprise"],
    m.Device: ["zone", "kind", "zone__enterprise"],
    m.Person: ["kind", "enterprise", "labour_agency"],
    m.Vehicle: ["kind", "enterprise", "registered", "owner"],
    m.Qualification: ["person", "type"],
    m.Authorisation: ["zone", "person", "group"],
}
