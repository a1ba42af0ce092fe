#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that every page of Documentation/ is well-formed
reStructuredText (docutils): a malformed table, a broken title underline
or an unclosed literal fails. Sphinx's own roles and directives (``:doc:``,
``toctree``) are accepted as such. Prints one line per problem and exits
1 if there is any.
"""

import os
import pathlib
import sys

try:
    import docutils.core
    from docutils.parsers.rst import Directive, directives, roles
except ImportError:
    # Debian's python3-docutils (make deps) when this python3 lacks it.
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    print("rst: docutils is missing (make deps installs python3-docutils)")
    sys.exit(1)


class Sphinx(Directive):
    """A Sphinx directive (toctree): its content is not checked."""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec = {"maxdepth": directives.unchanged, "caption": directives.unchanged}

    def run(self):
        return []


def sphinx_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [], []


def main() -> int:
    directives.register_directive("toctree", Sphinx)
    for role in ("doc", "ref"):
        roles.register_local_role(role, sphinx_role)
    root = pathlib.Path(__file__).resolve().parent.parent
    bad = 0
    pages = sorted((root / "Documentation").glob("*.rst"))
    for page in pages:
        rel = page.relative_to(root)
        messages = []

        class Stream:
            def write(self, text):
                messages.append(text)

        docutils.core.publish_doctree(
            page.read_text(),
            source_path=str(rel),
            settings_overrides={
                "report_level": 2,
                "halt_level": 5,
                "warning_stream": Stream(),
                "file_insertion_enabled": False,
            },
        )
        for m in messages:
            for line in m.strip().splitlines():
                if line.startswith(str(rel)):
                    print(line)
                    bad += 1
    print(f"rst: {len(pages)} pages, {bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
