"""Menu sections keep their own titles (an entry's custom title must not replace them)."""

from anyuan.core.navigation import SECTIONS, menu_for
from anyuan.core.system import SYSTEM


def test_section_titles_are_the_sections_titles(db):
    menu = menu_for(SYSTEM)
    assert [str(s["title"]) for s in menu] == [str(title) for title, entries in SECTIONS if entries]
