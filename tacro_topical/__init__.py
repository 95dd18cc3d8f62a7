"""tacro-topical: adherence companion for topical calcineurin-inhibitor therapy."""

from tacro_topical.celery import app as celery_app

__all__ = ("celery_app",)
