"""German first: the catalogue covers every string in the code, English is one click away."""

import re
import shutil
import subprocess
import sys

from django.conf import settings

PO = settings.BASE_DIR / "locale" / "de" / "LC_MESSAGES" / "django.po"
# The comments before an entry carry its flags; "#, fuzzy" may follow "#:" reference lines.
ENTRY = re.compile(r'^((?:#.*\n)*)msgid ((?:".*"\n)+)msgstr ((?:".*"\n)+)', re.MULTILINE)
FUZZY = re.compile(r"^#,.*\bfuzzy\b", re.MULTILINE)


def entries(text):
    out = {}
    for comments, msgid, msgstr in ENTRY.findall(text):
        key = "".join(re.findall(r'"(.*)"', msgid))
        out[key] = ("".join(re.findall(r'"(.*)"', msgstr)), bool(FUZZY.search(comments)))
    return out


def test_every_german_entry_is_translated():
    catalogue = entries(PO.read_text())
    assert len(catalogue) > 100
    untranslated = [k for k, (v, fuzzy) in catalogue.items() if k and (not v or fuzzy)]
    assert untranslated == []


def test_the_catalogue_covers_every_string_in_the_code(tmp_path):
    backup = tmp_path / "django.po"
    shutil.copy(PO, backup)
    before = set(entries(PO.read_text()))
    try:
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "de", "--ignore=.venv", "--ignore=var", "--ignore=pvesim",
             "--ignore=tests", "--ignore=bench", "--no-obsolete"],
            cwd=settings.BASE_DIR, check=True, capture_output=True,
        )
        after = set(entries(PO.read_text()))
    finally:
        shutil.copy(backup, PO)
    missing = sorted(after - before)
    assert missing == [], "run `make messages` and translate these"


TRANSLATORS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}


def test_no_translatable_string_hides_in_an_f_string():
    """makemessages does not look inside f-strings: a msgid there is never in the catalogue and
    shows in English on a German page ("Knoten offline (platform)")."""
    import ast

    hidden = []
    for app in ("portal", "tenants", "provisioning", "services", "billing", "notifications"):
        for path in (settings.BASE_DIR / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.JoinedStr):
                    for call in ast.walk(node):
                        if isinstance(call, ast.Call) and getattr(call.func, "id", None) in TRANSLATORS:
                            hidden.append(f"{path.relative_to(settings.BASE_DIR)}:{call.lineno}")
    assert hidden == []


def test_pages_are_german_by_default_and_english_on_request(client, db, settings):
    settings.LANGUAGE_CODE = "de"
    assert "Passwort vergessen?" in client.get("/accounts/login/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert "Forgot your password?" in client.get("/accounts/login/").content.decode()


INFORMAL = re.compile(r"\b(du|dich|dir|dein|deine|deinem|deinen|deiner|deines|euch|euer|eure|euren|eurem|eurer)\b", re.IGNORECASE)


def test_the_german_catalogue_speaks_to_customers_formally():
    informal = [v for v, _fuzzy in entries(PO.read_text()).values() if INFORMAL.search(v)]
    assert informal == [], "say 'Sie', not 'du'"


def test_allauths_pages_speak_formally_too():
    """allauth's own German mixes "du" and "Sie"; locale_allauth/ overrides every informal entry."""
    from pathlib import Path

    import allauth
    from django.utils import translation

    theirs = entries((Path(allauth.__file__).parent / "locale" / "de" / "LC_MESSAGES" / "django.po").read_text())
    informal = [k for k, (v, _fuzzy) in theirs.items() if k and INFORMAL.search(v)]
    assert informal, "allauth's catalogue changed; check this test still means something"
    with translation.override("de"):
        still = [k for k in informal if INFORMAL.search(translation.gettext(k.replace('\\"', '"').replace("\\n", "\n")))]
    assert still == []
    ours = Path(settings.BASE_DIR) / "locale_allauth" / "de" / "LC_MESSAGES" / "django.po"
    assert [v for v, _fuzzy in entries(ours.read_text()).values() if INFORMAL.search(v)] == []
