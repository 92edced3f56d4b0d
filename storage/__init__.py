"""Storage: the SQLAlchemy schema, engines and sessions, Alembic migrations, and the repository of writes."""
