"""Issue #6's API load benchmark: gunicorn on PostgreSQL under locust, against a bare Django floor."""
