"""The database (README: The database). Nothing is imported here: reading the settings
(settings.py) imports only `database.settings`, not the database's code.

- settings.py: DATABASE_URL and the pool's settings;
- engines.py: the engines, and the dependencies routes take (Database, ReadDatabase);
- models.py: the tables;
- migrations.py: `<command> migrate`, under a lock, and the /readyz check of the schema;
- observability.py: the pool's metrics and the queries' spans;
- install.py: all of it installed into the app in one call (app.py makes it).
"""
