"""Issue #6 item 2: fault injection against our own Redis (6390) and PostgreSQL cluster (5440)."""
