#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Check reStructuredText files with plain docutils, warnings included.

    tools/docs/rst-check.py FILE...

Prints every docutils message of level WARNING or above and exits 1 if
there was one. The project's documents are read without Sphinx (on a
forge, in an editor, by rst2html), but two of them are produced by the
kernel's generators, which write Sphinx markup: kernel-doc emits C domain
directives (".. c:struct::") and ynl-gen-rst.py emits :ref: roles. Plain
docutils reports those as errors, which would hide real mistakes behind
expected ones, so this script registers small stand-ins for them first:
each directive renders its signature as a literal line and parses its
body as ordinary reStructuredText, and each role renders its text as a
literal. Everything else, including the bodies of those directives, is
checked as strictly as rst2html would.
"""

import io
import sys

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles

# Sphinx's C domain, as kernel-doc uses it (both its Sphinx < 3 and >= 3
# spellings), and the few generic Sphinx roles the generators emit.
SPHINX_DIRECTIVES = (
    "c:type", "c:struct", "c:union", "c:enum", "c:enumerator",
    "c:macro", "c:function", "c:member", "c:var", "c:namespace",
    "c:namespace-push", "c:namespace-pop",
)
SPHINX_ROLES = (
    "ref", "doc", "c:type", "c:func", "c:macro", "c:struct", "c:union",
    "c:enum", "c:enumerator", "c:member", "c:data", "c:var", "c:expr",
    "c:texpr",
)


class SphinxStandIn(Directive):
    """A C domain directive: its signature, then its body."""

    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {"noindex": directives.flag,
                   "noindexentry": directives.flag}

    def run(self):
        result = []
        if self.arguments:
            sig = nodes.paragraph()
            sig += nodes.literal(text=self.arguments[0])
            result.append(sig)
        if self.content:
            body = nodes.container()
            self.state.nested_parse(self.content, self.content_offset, body)
            result.append(body)
        return result


def sphinx_role(name, rawtext, text, lineno, inliner, options=None,
                content=None):
    """:ref:`label`, :c:type:`struct foo <foo>`: the text, literally."""
    shown = text.split("<", 1)[0].strip() if text.endswith(">") else text
    return [nodes.literal(rawtext, shown or text)], []


def check(path):
    """Return the docutils messages of level WARNING and above for path."""
    stream = io.StringIO()
    with open(path, encoding="utf-8") as f:
        source = f.read()
    publish_doctree(source, source_path=path, settings_overrides={
        "report_level": 2,	# WARNING and above
        "halt_level": 5,	# never stop: report everything
        "warning_stream": stream,
        "file_insertion_enabled": False,
        "raw_enabled": False,
    })
    return stream.getvalue()


def main():
    if len(sys.argv) < 2:
        print("usage: rst-check.py FILE...", file=sys.stderr)
        return 2
    for name in SPHINX_DIRECTIVES:
        directives.register_directive(name, SphinxStandIn)
    for name in SPHINX_ROLES:
        roles.register_local_role(name, sphinx_role)
    status = 0
    for path in sys.argv[1:]:
        out = check(path)
        if out:
            sys.stderr.write(out)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
