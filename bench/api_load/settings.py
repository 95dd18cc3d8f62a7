"""Settings of issue #6's API load benchmark: the project's own (production, from the environment) plus

- ROOT_URLCONF `bench.api_load.urls`: the project's URLs and the floor route (bench/api_load/views.py),
  which exists only here;
- JWT access tokens that outlive a whole benchmark (setup_data.py mints them once for all patients);
- the per-user "write" throttle so high that the bench, which posts a few times a second per patient,
  measures the app and never a 429. The throttle still runs: it counts every write in the cache
  (CACHE_URL, Redis database 13 in the bench), as in production.

Everything else (DEBUG off, HTTPS hardening, persistent connections, middleware) is production's:
common.configure_environment sets DJANGO_ENV=production and the rest through the environment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from tacro_topical.settings import *  # noqa: F403
from tacro_topical.settings import REST_FRAMEWORK as PROJECT_REST_FRAMEWORK
from tacro_topical.settings import SIMPLE_JWT as PROJECT_SIMPLE_JWT

ACCESS_TOKEN_HOURS = 24
WRITE_THROTTLE_RATE = "100000/minute"

ROOT_URLCONF = "bench.api_load.urls"

SIMPLE_JWT = {**PROJECT_SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": timedelta(hours=ACCESS_TOKEN_HOURS)}

_rates: dict[str, Any] = dict(cast("dict[str, Any]", PROJECT_REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})))
_rates["write"] = WRITE_THROTTLE_RATE
REST_FRAMEWORK = {**PROJECT_REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": _rates}
