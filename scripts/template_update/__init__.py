"""The template updater behind scripts/template-update, `make template-update` and scripts/fleet.

template.py  the template's clone: releases, refs, version names, CHANGELOG, migration steps
render.py    the answers and questions, and rendering one commit of the template (cookiecutter)
merge.py     the three-way merge of two renders into the service's files
service.py   the service: its record (.cruft.json), its git state, its make targets
summary.py   the one summary (typed: how it ended, what it did): text, JSON, the pull
             request's title and body
cli.py       the command line and the order of the steps
"""
