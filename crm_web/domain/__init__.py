"""Pure rules of Mini CRM: no Flask, no database."""
