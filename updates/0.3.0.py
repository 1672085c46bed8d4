"""0.3.0 moved the database's code into <package>/database/ (README: The database). The team's
own modules that import it are rewritten to the new places, keeping the names their code uses:

  <package>.db      -> <package>.database.engines (engines, get_session; UNAVAILABLE is now
                       TRY_LATER_ERRORS), and <package>.models (Base, UTCDateTime,
                       NAMING_CONVENTION)
  <package>.schema  -> <package>.database.migrations (UNREACHABLE is now DATABASE_ERRORS)
  app.state.engine() -> app.state.get_engine()
"""

from pathlib import Path

from rename_modules import python_files, rename_modules, tidy

changed = rename_modules(
    {"db": "database.engines", "schema": "database.migrations"},
    moved={
        "db": {
            "Base": "models",
            "UTCDateTime": "models",
            "NAMING_CONVENTION": "models",
            "UNAVAILABLE": "database.engines:TRY_LATER_ERRORS",
        },
        "schema": {"UNREACHABLE": "database.migrations:DATABASE_ERRORS"},
    },
)
for path in python_files(Path()):
    text = path.read_text()
    if ".state.engine()" in text:
        path.write_text(text.replace(".state.engine()", ".state.get_engine()"))
        print(f"{path}: app.state.engine() is app.state.get_engine()")
        changed.append(path)
tidy(changed)
