"""Owns the database: engine and sessions (`engine`), table definitions (`models`), and Alembic
migrations (`migrations`, applied by `migrate`). Other packages keep their SQL in their own `store.py`."""
