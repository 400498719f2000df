"""The system actor: command-line operations (``anyuan demo``, ``anyuan import`` without
``--as``) act as the platform itself — all rows, audited under the name "system"."""


class SystemActor:
    is_authenticated = True
    is_active = True
    is_superuser = True
    is_anonymous = False
    pk = id = None
    role = ""
    station_id = enterprise_id = person_id = None

    def get_username(self) -> str:
        return "system"

    def __str__(self) -> str:
        return "system"


SYSTEM = SystemActor()
