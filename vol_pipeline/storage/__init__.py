"""Warehouse IO: the tables, the interface, and the embedded (DuckDB) implementation."""
