"""0.3.0 moved the database's code into <package>/database/ (README: The database). The team's
own modules that import it are rewritten to the new places, keeping the names their code uses:

  <package>.db      -> <package>.database.engines (engines, get_session; UNAVAILABLE is now
                       TRY_LATER_ERRORS), and <package>.models (Base, UTCDateTime,
                       NAMING_CONVENTION)
  <package>.schema  -> <package>.database.migrations (UNREACHABLE is now DATABASE_ERRORS)
  app.state.engine() -> app.state.get_engine()
"""

from rename_modules import rename_modules, replace_in_files, tidy

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
changed += replace_in_files(
    ".state.engine()", ".state.get_engine()", "app.state.engine() is app.state.get_engine()"
)
tidy(changed)
