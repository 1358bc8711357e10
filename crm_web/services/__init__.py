"""Use cases: one transaction each, no Flask request or session state."""
