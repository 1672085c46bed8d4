"""The service's resources: a module per resource, each with its `router`, which app.py
includes. With a database, items.py is the example to copy: bounded input, documented errors,
the database used through an async connection."""
