"""What the template's tests and scripts share: baking the template and running what it makes.

- `commands`: running a command (sharing the machine between test workers), finding a tool.
- `options`: the template's options, their combinations, and the ones run fully.
- `baking`: baking a project; the dependency import names the pre-gen hook refuses.
- `pythons`: where a project's own commands run for its Python (here, or in a container).
- `postgres`: throwaway PostgreSQL servers on 127.0.0.1.
- `docker`: building the generated projects' images and running their containers.

Nothing here imports pytest: a failed command raises CommandFailed, a missing tool or
interpreter MissingRequirement, each with a message that names the cause and the fix.
"""
