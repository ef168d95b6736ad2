"""The Persian and French catalogs are complete, keep every placeholder, and are compiled.

Fails when ``makemessages`` brought new strings that nobody translated yet, when a translation is
still marked fuzzy, when a translation drops or renames a placeholder or an HTML tag, or when the
committed ``.mo`` file was not recompiled after the ``.po`` file changed.
"""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
LANGUAGES = ("fa", "fr")
PLURAL_FORMS = {"fa": "nplurals=2; plural=(n > 1);", "fr": "nplurals=2; plural=(n > 1);"}

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{[^{}]*\}")
HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
# Persian is written with the Persian yeh and keheh, not the Arabic ones.
ARABIC_LETTERS = re.compile("[\u064a\u0643]")
ZWNJ = "\u200c"  # zero-width non-joiner (U+200C), which Persian writes inside words


@dataclass
class Entry:
    line: int
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        context = f"[{self.msgctxt}] " if self.msgctxt is not None else ""
        return f"line {self.line}: {context}{self.msgid!r}"


def _unquote(text: str, where: str) -> str:
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        raise AssertionError(f"{where}: not a quoted string: {text}")
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def parse_po(path: Path) -> list[Entry]:
    """Every entry of a .po file, the header (msgid "") first; obsolete ``#~`` entries are left
    out, as msgfmt leaves them out."""
    entries: list[Entry] = []
    entry: Entry | None = None
    flags: set[str] = set()
    target: tuple[str, int | None] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        where = f"{path}:{number}"
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            if entry is None or target is None:
                raise AssertionError(f"{where}: a string outside an entry")
            text = _unquote(line, where)
            name, index = target
            if name == "msgstr":
                entry.msgstr[index or 0] += text
            else:
                setattr(entry, name, (getattr(entry, name) or "") + text)
            continue
        match = KEYWORD.match(line)
        if match is None:
            raise AssertionError(f"{where}: cannot read {raw!r}")
        keyword, index, text = match.group(1), match.group(2), _unquote(match.group(3), where)
        # An entry starts with msgctxt, or with msgid when no msgctxt just opened it.
        opened_by_context = entry is not None and keyword == "msgid" and target == ("msgctxt", None)
        if keyword == "msgctxt" or (keyword == "msgid" and not opened_by_context):
            entry = Entry(line=number, flags=flags)
            entries.append(entry)
            flags = set()
        if entry is None:
            raise AssertionError(f"{where}: {keyword} before any msgid")
        if keyword.startswith("msgstr"):
            position = int(index) if index is not None else 0
            entry.msgstr[position] = text
            target = ("msgstr", position)
        else:
            setattr(entry, keyword, text)
            target = (keyword, None)
    return entries


def catalog(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def headers(entries: list[Entry]) -> dict[str, str]:
    assert entries and entries[0].msgid == "", "the catalog must start with its header"
    pairs = (line.split(":", 1) for line in entries[0].msgstr[0].splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def messages(language: str) -> list[Entry]:
    return parse_po(catalog(language))[1:]


def tokens(pattern: re.Pattern[str], text: str) -> set[str]:
    return set(pattern.findall(text))


def test_the_parser_reads_contexts_plurals_and_continued_strings(tmp_path: Path) -> None:
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: fr\\n"\n\n'
        '#, python-format\nmsgctxt "kind"\nmsgid "A "\n"%(b)s"\nmsgstr "Un "\n"%(b)s"\n\n'
        'msgid "%(n)s day"\nmsgid_plural "%(n)s days"\nmsgstr[0] "%(n)s jour"\n'
        'msgstr[1] "%(n)s jours"\n\n'
        '#, fuzzy\nmsgid "Say \\"hi\\""\nmsgstr ""\n\n#~ msgid "Old"\n#~ msgstr "Vieux"\n',
        encoding="utf-8",
    )
    header, context, plural, fuzzy = parse_po(po)
    assert headers([header]) == {"Language": "fr"}
    assert (context.msgctxt, context.msgid, context.msgstr) == ("kind", "A %(b)s", {0: "Un %(b)s"})
    assert context.flags == {"python-format"}
    assert plural.msgid_plural == "%(n)s days"
    assert plural.msgstr == {0: "%(n)s jour", 1: "%(n)s jours"}
    assert (fuzzy.msgid, fuzzy.msgstr, fuzzy.flags) == ('Say "hi"', {0: ""}, {"fuzzy"})


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_header(language: str) -> None:
    found = headers(parse_po(catalog(language)))
    assert found.get("Language") == language
    assert found.get("Plural-Forms") == PLURAL_FORMS[language]
    assert "charset=UTF-8" in found.get("Content-Type", "")


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete(language: str) -> None:
    entries = messages(language)
    assert len(entries) > 100, "the catalog looks truncated"
    nplurals = int(re.search(r"nplurals=(\d+)", PLURAL_FORMS[language]).group(1))  # type: ignore[union-attr]
    problems = []
    for entry in entries:
        if "fuzzy" in entry.flags:
            problems.append(f"{entry.label} is fuzzy")
        if entry.msgid_plural is not None and sorted(entry.msgstr) != list(range(nplurals)):
            problems.append(f"{entry.label} has plural forms {sorted(entry.msgstr)}")
        if any(not text.strip() for text in entry.msgstr.values()) or not entry.msgstr:
            problems.append(f"{entry.label} is not translated")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_placeholders_and_tags(language: str) -> None:
    problems = []
    for entry in messages(language):
        for index, text in entry.msgstr.items():
            source = entry.msgid if index == 0 or entry.msgid_plural is None else entry.msgid_plural
            for kind, pattern in (("placeholders", PLACEHOLDER), ("HTML tags", HTML_TAG)):
                if tokens(pattern, text) != tokens(pattern, source):
                    problems.append(
                        f"{entry.label} msgstr[{index}]: {kind} "
                        f"{sorted(tokens(pattern, text))} != {sorted(tokens(pattern, source))}"
                    )
    assert not problems, "\n".join(problems)


def test_both_catalogs_hold_the_same_messages() -> None:
    def keys(language: str) -> set[tuple[str | None, str, str | None]]:
        return {(e.msgctxt, e.msgid, e.msgid_plural) for e in messages(language)}

    assert keys("fa") == keys("fr")


def test_persian_uses_persian_letters() -> None:
    wrong = [
        entry.label
        for entry in messages("fa")
        if any(ARABIC_LETTERS.search(text) for text in entry.msgstr.values())
    ]
    assert not wrong, "Arabic ي or ك instead of Persian ی or ک:\n" + "\n".join(wrong)


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalog_matches_the_po_file(language: str) -> None:
    mo = catalog(language).with_suffix(".mo")
    assert mo.is_file(), f"{mo} is missing: run compilemessages"
    with mo.open("rb") as file:
        compiled = gettext.GNUTranslations(file)
    stale = []
    for entry in messages(language):
        if entry.msgid_plural is None:
            found = {
                0: compiled.gettext(entry.msgid)
                if entry.msgctxt is None
                else compiled.pgettext(entry.msgctxt, entry.msgid)
            }
        else:
            # fa and fr: form 0 for one, form 1 for two and more.
            found = {
                index: compiled.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, count)
                if entry.msgctxt is not None
                else compiled.ngettext(entry.msgid, entry.msgid_plural, count)
                for index, count in ((0, 1), (1, 2))
            }
        if found != entry.msgstr:
            stale.append(entry.label)
    assert not stale, f"{mo} is out of date, run compilemessages:\n" + "\n".join(stale)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "direction", "nav", "heading", "empty"),
    [
        (
            "fa",
            "rtl",
            ["خانه", "بایگانی"],
            "دوره" + ZWNJ + "های گذشته",
            "هنوز دورهٔ گذشته" + ZWNJ + "ای وجود ندارد.",
        ),
        (
            "fr",
            "ltr",
            ["Accueil", "Archives"],
            "Éditions précédentes",
            "Il n\u2019y a pas encore d\u2019édition passée.",
        ),
    ],
)
def test_archive_page_is_translated(
    client, language: str, direction: str, nav: list[str], heading: str, empty: str
) -> None:
    response = client.get(f"/{language}/archive/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<html lang="{language}" dir="{direction}">' in page
    site_nav = page.split('class="site-nav"', 1)[1].split("</nav>", 1)[0]
    links = re.findall(r"<a [^>]*>([^<]*)</a>", site_nav)
    assert links == nav
    assert re.search(r"<h1>([^<]*)</h1>", page).group(1) == heading  # type: ignore[union-attr]
    assert empty in page
    for english in ("Past editions", "There is no past edition yet.", "Skip to content"):
        assert english not in page


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
