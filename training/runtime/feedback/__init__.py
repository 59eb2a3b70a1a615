"""The feedback domain: the tables (table.py), the label rules (rules.py) and the one store (store.py)."""
