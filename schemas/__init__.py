"""Pandera models of every warehouse table, one module per layer (mirrors ``assets/``).

The model class name is the table name in CamelCase, field names are the column names
exactly and in DDL order; ``schemas.types`` says how ClickHouse types map to dtypes.
"""
