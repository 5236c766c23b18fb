"""`checker` is a pure library: importing all of it pulls in no web framework."""

import subprocess
import sys

from tests.conftest import ROOT


def test_checker_does_not_import_flask():
    code = (
        "import sys, pkgutil, importlib, checker\n"
        "for m in pkgutil.iter_modules(checker.__path__):\n"
        "    importlib.import_module('checker.' + m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('flask', 'werkzeug', 'jinja2'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
