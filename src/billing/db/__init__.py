"""Database access: engine, models, embedded server, migrations."""
